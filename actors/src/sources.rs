//! Reading a project's own source files, for the rules that look at code: its
//! `.gitignore`d and vendored folders are skipped, and a walk stops after a bound.

use std::path::{Path, PathBuf};

/// How many files a walk looks at, at most.
const MOST: usize = 3000;

/// The text of each file under `dir` whose extension is one of `exts`, with its path;
/// files that cannot be read as text are passed over.
pub fn texts<'a>(dir: &Path, exts: &'a [&'a str]) -> impl Iterator<Item = (PathBuf, String)> + 'a {
    reporunner_runtime::index::files::walker(dir, true)
        .build()
        .flatten()
        .take(MOST)
        .filter(move |e| {
            e.path()
                .extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| exts.contains(&x))
        })
        .filter_map(|e| {
            let text = std::fs::read_to_string(e.path()).ok()?;
            Some((e.into_path(), text))
        })
}

/// The first capture group of `re` in the files under `dir` with one of `exts`.
pub fn first_capture(dir: &Path, exts: &[&str], re: &regex::Regex) -> Option<String> {
    texts(dir, exts).find_map(|(_, text)| re.captures(&text).map(|m| m[1].to_string()))
}

/// The scripts of `dir`'s package.json, or an empty map.
pub fn package_scripts(dir: &Path) -> serde_json::Map<String, serde_json::Value> {
    std::fs::read_to_string(dir.join("package.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v.get("scripts").and_then(|s| s.as_object()).cloned())
        .unwrap_or_default()
}
