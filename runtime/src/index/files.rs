//! The files of a repository, as an index takes them: walked with the `ignore` crate
//! (`.gitignore` respected, symlinks not followed), one at a time, skipping binary,
//! vendored, generated and oversized files; then chunked along lines, by language, with
//! overlap.

use super::{Chunk, FileChunks, IndexError};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The largest file indexed.
pub const MAX_FILE_BYTES: u64 = 512 * 1024;

/// Folders that hold installed dependencies, caches or tools' state: never sources.
/// Analysis and the index both skip them.
pub const DEPENDENCY_DIRS: &[&str] = &[
    ".git",
    ".hg",
    ".svn",
    "node_modules",
    "bower_components",
    "target",
    ".venv",
    "venv",
    "env",
    ".env",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".tox",
    ".nox",
    ".next",
    ".nuxt",
    ".svelte-kit",
    ".parcel-cache",
    ".turbo",
    ".gradle",
    ".idea",
    ".vscode-test",
    "site-packages",
    "vendor",
];

/// Build output: the index skips it too (analysis reads it: a built static site is
/// evidence).
pub const OUTPUT_DIRS: &[&str] = &["dist", "build", "coverage"];

/// A walk of `root` as Repo Runner reads repositories: `.gitignore` respected (without a
/// git checkout too), hidden files included, symlinks not followed, [`DEPENDENCY_DIRS`]
/// left out, and [`OUTPUT_DIRS`] as well when `skip_output`.
pub fn walker(root: &Path, skip_output: bool) -> ignore::WalkBuilder {
    let mut builder = ignore::WalkBuilder::new(root);
    builder
        .hidden(false)
        .git_ignore(true)
        .git_exclude(true)
        .git_global(false)
        .parents(false)
        .require_git(false)
        .follow_links(false)
        .filter_entry(move |e| {
            !(e.file_type().is_some_and(|t| t.is_dir())
                && e.file_name().to_str().is_some_and(|n| {
                    DEPENDENCY_DIRS.contains(&n) || (skip_output && OUTPUT_DIRS.contains(&n))
                }))
        });
    builder
}

/// Files that are generated, or locks: never worth a chunk.
const GENERATED_NAMES: &[&str] = &[
    "package-lock.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "Cargo.lock",
    "poetry.lock",
    "Pipfile.lock",
    "uv.lock",
    "composer.lock",
    "Gemfile.lock",
    "go.sum",
];

/// Endings of generated or minified files.
const GENERATED_SUFFIXES: &[&str] = &[".min.js", ".min.css", ".map", ".pb.go", "_pb2.py"];

/// A text file of the repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Relative to the root, with `/` separators.
    pub path: String,
    /// Its language.
    pub language: String,
    /// The SHA-256 of its bytes, hex.
    pub hash: String,
    /// Its text.
    pub text: String,
}

/// What the walk found at one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Walked {
    /// A text file to index.
    File(SourceFile),
    /// A file left out, and why.
    Skipped {
        /// Relative to the root.
        path: String,
        /// Binary, too large, generated, unreadable.
        why: String,
    },
}

/// The walk: an iterator over the repository's files, reading one at a time.
pub struct Walk {
    root: PathBuf,
    inner: ignore::Walk,
}

impl std::fmt::Debug for Walk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Walk {{ root: {:?} }}", self.root)
    }
}

/// Walks the repository at `root`. See the module docs.
///
/// # Errors
/// [`IndexError::NotAFolder`] if `root` is not a folder.
pub fn walk(root: &Path) -> Result<Walk, IndexError> {
    let root = root
        .canonicalize()
        .ok()
        .filter(|p| p.is_dir())
        .ok_or_else(|| IndexError::NotAFolder {
            path: root.display().to_string(),
        })?;
    let inner = walker(&root, true)
        .sort_by_file_name(|a, b| a.cmp(b))
        .build();
    Ok(Walk { root, inner })
}

impl Iterator for Walk {
    type Item = Walked;

    fn next(&mut self) -> Option<Walked> {
        loop {
            let entry = match self.inner.next()? {
                Ok(e) => e,
                Err(_) => continue,
            };
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                continue;
            }
            let Ok(rel) = entry.path().strip_prefix(&self.root) else {
                continue;
            };
            let path = rel.to_string_lossy().replace('\\', "/");
            let skipped = |why: &str| {
                Some(Walked::Skipped {
                    path: path.clone(),
                    why: why.to_string(),
                })
            };
            let name = entry.file_name().to_string_lossy();
            if GENERATED_NAMES.contains(&name.as_ref())
                || GENERATED_SUFFIXES.iter().any(|s| name.ends_with(s))
            {
                return skipped("generated or a lockfile");
            }
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            if size > MAX_FILE_BYTES {
                return skipped("larger than 512 KiB");
            }
            let Ok(bytes) = std::fs::read(entry.path()) else {
                return skipped("unreadable");
            };
            if bytes[..bytes.len().min(8192)].contains(&0) {
                return skipped("binary");
            }
            let Ok(text) = String::from_utf8(bytes) else {
                return skipped("not UTF-8");
            };
            if looks_minified(&text) {
                return skipped("minified");
            }
            let hash = format!("{:x}", Sha256::digest(text.as_bytes()));
            return Some(Walked::File(SourceFile {
                language: language(&path).to_string(),
                path,
                hash,
                text,
            }));
        }
    }
}

/// What a scan found, in the end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanSummary {
    /// Files walked.
    pub files_seen: u64,
    /// Files skipped (binary, generated, too large, unreadable).
    pub files_skipped: u64,
    /// Files new or changed.
    pub files_changed: u64,
    /// Their bytes.
    pub bytes_changed: u64,
    /// Their chunks.
    pub chunks: u64,
    /// Files the index holds that are gone.
    pub gone: Vec<String>,
}

/// A walk that yields only what changed against an index's file hashes, in batches: the
/// paths seen are all it keeps besides the batch.
#[derive(Debug)]
pub struct Scanner<'a> {
    walk: Walk,
    known: &'a BTreeMap<String, String>,
    seen: BTreeSet<String>,
    summary: ScanSummary,
}

impl<'a> Scanner<'a> {
    /// Scans `root` against `known` (path → content hash).
    ///
    /// # Errors
    /// [`IndexError::NotAFolder`].
    pub fn new(root: &Path, known: &'a BTreeMap<String, String>) -> Result<Self, IndexError> {
        Ok(Self {
            walk: walk(root)?,
            known,
            seen: BTreeSet::new(),
            summary: ScanSummary::default(),
        })
    }

    /// The next new or changed files, chunked: at least `chunks` chunks unless the walk
    /// ends first; `None` at the end.
    pub fn next_batch(&mut self, chunks: usize) -> Option<Vec<FileChunks>> {
        let mut batch = Vec::new();
        let mut in_batch = 0;
        for walked in self.walk.by_ref() {
            let file = match walked {
                Walked::File(f) => f,
                Walked::Skipped { .. } => {
                    self.summary.files_skipped += 1;
                    continue;
                }
            };
            self.summary.files_seen += 1;
            self.seen.insert(file.path.clone());
            if self.known.get(&file.path) == Some(&file.hash) {
                continue;
            }
            let pieces = chunk(&file);
            self.summary.files_changed += 1;
            self.summary.bytes_changed += file.text.len() as u64;
            self.summary.chunks += pieces.len() as u64;
            in_batch += pieces.len();
            batch.push(FileChunks {
                path: file.path,
                hash: file.hash,
                chunks: pieces,
            });
            if in_batch >= chunks {
                break;
            }
        }
        (!batch.is_empty()).then_some(batch)
    }

    /// The summary, with the files that are gone; call after the last batch.
    pub fn finish(mut self) -> ScanSummary {
        self.summary.gone = self
            .known
            .keys()
            .filter(|p| !self.seen.contains(*p))
            .cloned()
            .collect();
        self.summary
    }
}

/// A file whose lines average over 400 characters is minified or data.
fn looks_minified(text: &str) -> bool {
    let lines = text.lines().count().max(1);
    text.len() > 4096 && text.len() / lines > 400
}

/// The language of a file, from its name.
pub fn language(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match (name, ext.as_deref()) {
        ("Dockerfile", _) | (_, Some("dockerfile")) => "dockerfile",
        ("Makefile", _) => "make",
        ("Procfile", _) => "procfile",
        (_, Some("py" | "pyi")) => "python",
        (_, Some("js" | "mjs" | "cjs" | "jsx")) => "javascript",
        (_, Some("ts" | "tsx" | "mts")) => "typescript",
        (_, Some("rs")) => "rust",
        (_, Some("go")) => "go",
        (_, Some("rb")) => "ruby",
        (_, Some("java")) => "java",
        (_, Some("kt" | "kts")) => "kotlin",
        (_, Some("php")) => "php",
        (_, Some("c" | "h")) => "c",
        (_, Some("cc" | "cpp" | "hpp" | "cxx")) => "cpp",
        (_, Some("cs")) => "csharp",
        (_, Some("sh" | "bash")) => "shell",
        (_, Some("md" | "markdown" | "rst")) => "markdown",
        (_, Some("toml")) => "toml",
        (_, Some("yaml" | "yml")) => "yaml",
        (_, Some("json")) => "json",
        (_, Some("html" | "htm")) => "html",
        (_, Some("css" | "scss")) => "css",
        (_, Some("sql")) => "sql",
        (_, Some("ini" | "cfg" | "conf" | "env")) => "config",
        _ if name.starts_with(".env") => "config",
        _ => "text",
    }
}

/// Lines per chunk and lines of overlap, by language: prose and config in smaller
/// pieces than code, whose functions run longer.
fn window(language: &str) -> (usize, usize) {
    match language {
        "markdown" | "text" => (30, 5),
        "json" | "yaml" | "toml" | "config" | "procfile" => (40, 5),
        _ => (60, 10),
    }
}

/// The most characters in one chunk; a window with longer lines ends early.
pub const MAX_CHUNK_CHARS: usize = 3000;

/// Cuts a file into chunks of lines with overlap. Blank files give none.
pub fn chunk(file: &SourceFile) -> Vec<Chunk> {
    let lines: Vec<&str> = file.text.lines().collect();
    if lines.iter().all(|l| l.trim().is_empty()) {
        return Vec::new();
    }
    let (size, overlap) = window(&file.language);
    let mut out = Vec::new();
    let mut start = 0;
    while start < lines.len() {
        let mut end = start;
        let mut chars = 0;
        while end < lines.len() && end - start < size {
            chars += lines[end].len() + 1;
            end += 1;
            if chars >= MAX_CHUNK_CHARS {
                break;
            }
        }
        let text = lines[start..end].join("\n");
        if !text.trim().is_empty() {
            out.push(Chunk {
                path: file.path.clone(),
                start_line: start as u32 + 1,
                end_line: end as u32,
                language: file.language.clone(),
                // The path is part of what a chunk is about.
                text,
            });
        }
        if end >= lines.len() {
            break;
        }
        start = (end - overlap.min(end - start - 1)).max(start + 1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, lines: usize) -> SourceFile {
        SourceFile {
            path: path.into(),
            language: language(path).into(),
            hash: String::new(),
            text: (1..=lines)
                .map(|i| format!("line {i}"))
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    #[test]
    fn chunks_overlap_and_cover_every_line() {
        let chunks = chunk(&file("a.py", 130));
        let ranges: Vec<(u32, u32)> = chunks.iter().map(|c| (c.start_line, c.end_line)).collect();
        assert_eq!(ranges, vec![(1, 60), (51, 110), (101, 130)]);
        assert!(chunks.iter().all(|c| c.language == "python"));
        let md = chunk(&file("README.md", 40));
        assert_eq!(md.len(), 2);
        assert_eq!((md[1].start_line, md[1].end_line), (26, 40));
        assert!(chunk(&file("empty.txt", 0)).is_empty());
    }

    #[test]
    fn long_lines_end_a_chunk_early() {
        let f = SourceFile {
            path: "x.py".into(),
            language: "python".into(),
            hash: String::new(),
            text: vec!["x".repeat(1000); 10].join("\n"),
        };
        let chunks = chunk(&f);
        assert!(
            chunks
                .iter()
                .all(|c| c.text.len() <= MAX_CHUNK_CHARS + 1000)
        );
        assert_eq!(chunks.last().unwrap().end_line, 10);
    }

    #[test]
    fn the_walk_skips_ignored_vendored_binary_and_generated_files() {
        let dir = std::env::temp_dir().join(format!("rr-walk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("node_modules/x")).unwrap();
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::write(dir.join(".gitignore"), "secret.txt\n").unwrap();
        std::fs::write(dir.join("secret.txt"), "no").unwrap();
        std::fs::write(dir.join("node_modules/x/i.js"), "no").unwrap();
        std::fs::write(dir.join("src/app.py"), "print('hi')\n").unwrap();
        std::fs::write(dir.join("logo.png"), [0x89, b'P', b'N', b'G', 0, 0, 1]).unwrap();
        std::fs::write(dir.join("package-lock.json"), "{}").unwrap();
        let walked: Vec<Walked> = walk(&dir).unwrap().collect();
        let files: Vec<&str> = walked
            .iter()
            .filter_map(|w| match w {
                Walked::File(f) => Some(f.path.as_str()),
                Walked::Skipped { .. } => None,
            })
            .collect();
        assert_eq!(files, vec![".gitignore", "src/app.py"]);
        let skipped: Vec<(&str, &str)> = walked
            .iter()
            .filter_map(|w| match w {
                Walked::Skipped { path, why } => Some((path.as_str(), why.as_str())),
                Walked::File(_) => None,
            })
            .collect();
        assert_eq!(
            skipped,
            vec![
                ("logo.png", "binary"),
                ("package-lock.json", "generated or a lockfile")
            ]
        );
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(walk(&dir).is_err());
    }
}
