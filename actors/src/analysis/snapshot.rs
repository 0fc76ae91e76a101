//! [`RepoSnapshot`]: the files of a repository, listed once, read on demand.
//!
//! The walk respects `.gitignore` and skips what is vendored or generated (`node_modules`,
//! `target`, virtual environments, caches). It never follows symlinks: one that points
//! outside the repository, or in a loop, becomes a warning. Reads are capped in size and
//! refuse binary files, so a multi-gigabyte file or a stray image costs nothing but a
//! warning.

use reporunner_protocols::profile::Warning;
use std::path::{Path, PathBuf};

/// The largest file analysis reads.
pub const MAX_READ_BYTES: u64 = 1024 * 1024;

/// The most files a walk lists; past it, analysis works on what it has and warns.
pub const MAX_FILES: usize = 200_000;

/// Folders that hold installed dependencies or caches: never sources.
pub use reporunner_runtime::index::files::DEPENDENCY_DIRS as SKIPPED_DIRS;

/// One file of the snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Its path relative to the root, with `/` separators.
    pub rel: String,
    /// Its size in bytes.
    pub size: u64,
}

/// Why a repository cannot be analysed at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The path does not exist or is not a folder.
    #[error("{path} is not a folder")]
    NotADirectory {
        /// The path given.
        path: PathBuf,
    },
}

/// The files of a repository. See the module docs.
#[derive(Debug)]
pub struct RepoSnapshot {
    root: PathBuf,
    /// Sorted by path, so lookups are binary searches.
    files: Vec<FileEntry>,
    /// What the walk could not list.
    warnings: Vec<Warning>,
}

impl RepoSnapshot {
    /// Lists the files under `root`.
    ///
    /// # Errors
    /// [`SnapshotError::NotADirectory`] if `root` is not a folder. Anything inside that
    /// cannot be listed becomes a warning instead.
    pub fn scan(root: &Path) -> Result<Self, SnapshotError> {
        let root = root
            .canonicalize()
            .ok()
            .filter(|p| p.is_dir())
            .ok_or_else(|| SnapshotError::NotADirectory {
                path: root.to_path_buf(),
            })?;
        let mut files = Vec::new();
        let mut warnings = Vec::new();
        let walker = reporunner_runtime::index::files::walker(&root, false).build();
        for entry in walker {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    warnings.push(Warning {
                        file: None,
                        message: format!("cannot list part of the repository: {e}"),
                    });
                    continue;
                }
            };
            let Some(ft) = entry.file_type() else {
                continue;
            };
            let rel = match entry.path().strip_prefix(&root) {
                Ok(r) if !r.as_os_str().is_empty() => r.to_string_lossy().replace('\\', "/"),
                _ => continue,
            };
            if ft.is_symlink() {
                if let Some(w) = symlink_warning(&root, entry.path(), &rel) {
                    warnings.push(w);
                }
                continue;
            }
            if !ft.is_file() {
                continue;
            }
            if files.len() >= MAX_FILES {
                warnings.push(Warning {
                    file: None,
                    message: format!("more than {MAX_FILES} files: the rest were not analysed"),
                });
                break;
            }
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            files.push(FileEntry { rel, size });
        }
        files.sort_by(|a, b| a.rel.cmp(&b.rel));
        Ok(Self {
            root,
            files,
            warnings,
        })
    }

    /// Returns the root, canonicalised.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Returns every file, sorted by path.
    pub fn files(&self) -> &[FileEntry] {
        &self.files
    }

    /// Returns the warnings of the walk.
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// Returns whether the file `rel` exists.
    pub fn exists(&self, rel: &str) -> bool {
        self.files
            .binary_search_by(|f| f.rel.as_str().cmp(rel))
            .is_ok()
    }

    /// Returns the files directly in folder `dir` (`.` or `""` for the root).
    pub fn files_in<'a>(&'a self, dir: &'a str) -> impl Iterator<Item = &'a FileEntry> + 'a {
        let prefix = dir_prefix(dir);
        self.files.iter().filter(move |f| {
            f.rel
                .strip_prefix(prefix.as_str())
                .is_some_and(|rest| !rest.contains('/'))
        })
    }

    /// Returns the files under folder `dir`, at any depth.
    pub fn files_under<'a>(&'a self, dir: &'a str) -> impl Iterator<Item = &'a FileEntry> + 'a {
        let prefix = dir_prefix(dir);
        self.files
            .iter()
            .filter(move |f| f.rel.starts_with(prefix.as_str()))
    }

    /// Reads `rel` as text.
    ///
    /// # Errors
    /// A [`Warning`] if it is missing, too large, binary, not UTF-8 or unreadable.
    pub fn read(&self, rel: &str) -> Result<String, Warning> {
        let warn = |message: String| Warning {
            file: Some(rel.to_string()),
            message,
        };
        let size = self
            .files
            .binary_search_by(|f| f.rel.as_str().cmp(rel))
            .map(|i| self.files[i].size)
            .map_err(|_| warn("not in the repository".into()))?;
        if size > MAX_READ_BYTES {
            return Err(warn(format!(
                "{size} bytes, over the {MAX_READ_BYTES}-byte analysis limit: not read"
            )));
        }
        let bytes =
            std::fs::read(self.root.join(rel)).map_err(|e| warn(format!("unreadable: {e}")))?;
        if bytes.iter().take(8192).any(|b| *b == 0) {
            return Err(warn("binary file: not read".into()));
        }
        String::from_utf8(bytes).map_err(|_| warn("not UTF-8: not read".into()))
    }
}

fn dir_prefix(dir: &str) -> String {
    let d = dir.trim_matches('/');
    if d.is_empty() || d == "." {
        String::new()
    } else {
        format!("{d}/")
    }
}

/// Describes a symlink that analysis will not follow, when it deserves a warning.
fn symlink_warning(root: &Path, path: &Path, rel: &str) -> Option<Warning> {
    let message = match path.canonicalize() {
        Err(e) if e.raw_os_error() == Some(40) => "symlink loop: not followed".to_string(),
        Err(_) => "broken symlink: not followed".to_string(),
        Ok(target) if !target.starts_with(root) => {
            format!(
                "symlink to {} outside the repository: not followed",
                target.display()
            )
        }
        Ok(_) => return None,
    };
    Some(Warning {
        file: Some(rel.to_string()),
        message,
    })
}
