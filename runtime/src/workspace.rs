//! Workspaces: a run works in a copy of the repository, never in the user's checkout.
//!
//! The copy leaves out what a run rebuilds (installed dependencies, build output, caches)
//! and what does not belong to the source (`.git`'s objects are kept: tools read the
//! version from them). Paths from a repository are untrusted: a symlink is copied only if
//! it resolves inside the repository, as a link to the same place in the copy; one that
//! leaves the repository, loops or dangles is dropped and reported.

use std::path::{Path, PathBuf};

/// Folders a copy leaves out: installed dependencies, build output and caches, which a run
/// rebuilds (and which may hold absolute paths of the user's machine).
pub const NOT_COPIED: &[&str] = &[
    "node_modules",
    ".venv",
    "venv",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".tox",
    ".nox",
    "target",
    ".next",
    ".nuxt",
    ".turbo",
    ".parcel-cache",
    ".gradle",
];

/// What a copy did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyReport {
    /// Files copied.
    pub files: u64,
    /// Bytes copied.
    pub bytes: u64,
    /// Symlinks recreated inside the copy.
    pub links: u64,
    /// What was left out, and why, one line each.
    pub skipped: Vec<String>,
}

/// Why a copy failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkspaceError {
    /// The source is not a folder.
    #[error("{path} is not a folder")]
    NotAFolder {
        /// The path given.
        path: PathBuf,
    },
    /// The destination would be inside the source (the copy would copy itself).
    #[error("the workspace {dst} lies inside the repository {src}")]
    Nested {
        /// The repository.
        src: PathBuf,
        /// The workspace.
        dst: PathBuf,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> WorkspaceError + '_ {
    move |source| WorkspaceError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Copies the repository `src` into `dst` (created, or emptied first), leaving out
/// [`NOT_COPIED`] folders and unsafe symlinks.
///
/// # Errors
/// [`WorkspaceError`] if `src` is not a folder, `dst` is inside it, or a file fails to copy.
pub fn copy_repository(src: &Path, dst: &Path) -> Result<CopyReport, WorkspaceError> {
    let src = src
        .canonicalize()
        .ok()
        .filter(|p| p.is_dir())
        .ok_or_else(|| WorkspaceError::NotAFolder {
            path: src.to_path_buf(),
        })?;
    let dst_abs = if dst.is_absolute() {
        dst.to_path_buf()
    } else {
        std::env::current_dir().map_err(io(dst))?.join(dst)
    };
    if dst_abs.starts_with(&src) {
        return Err(WorkspaceError::Nested { src, dst: dst_abs });
    }
    if dst.exists() {
        std::fs::remove_dir_all(dst).map_err(io(dst))?;
    }
    std::fs::create_dir_all(dst).map_err(io(dst))?;
    let dst = dst.canonicalize().map_err(io(dst))?;
    if dst.starts_with(&src) {
        return Err(WorkspaceError::Nested { src, dst });
    }
    let mut report = CopyReport::default();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let from_dir = src.join(&rel);
        let entries = std::fs::read_dir(&from_dir).map_err(io(&from_dir))?;
        for entry in entries {
            let entry = entry.map_err(io(&from_dir))?;
            let name = entry.file_name();
            let rel_path = rel.join(&name);
            let from = src.join(&rel_path);
            let to = dst.join(&rel_path);
            let ft = entry.file_type().map_err(io(&from))?;
            if ft.is_symlink() {
                match from.canonicalize() {
                    Ok(target) if target.starts_with(&src) => {
                        // The same place, inside the copy.
                        let inside = dst.join(target.strip_prefix(&src).unwrap_or(Path::new("")));
                        let link = pathdiff(&inside, to.parent().unwrap_or(&dst));
                        std::os::unix::fs::symlink(&link, &to).map_err(io(&to))?;
                        report.links += 1;
                    }
                    Ok(target) => report.skipped.push(format!(
                        "{}: a symlink to {} outside the repository",
                        rel_path.display(),
                        target.display()
                    )),
                    Err(e) => report.skipped.push(format!(
                        "{}: a symlink that does not resolve ({e})",
                        rel_path.display()
                    )),
                }
            } else if ft.is_dir() {
                if name.to_str().is_some_and(|n| NOT_COPIED.contains(&n)) {
                    report.skipped.push(format!(
                        "{}: rebuilt by the run, not copied",
                        rel_path.display()
                    ));
                    continue;
                }
                std::fs::create_dir_all(&to).map_err(io(&to))?;
                stack.push(rel_path);
            } else if ft.is_file() {
                report.bytes += std::fs::copy(&from, &to).map_err(io(&from))?;
                report.files += 1;
            } else {
                report.skipped.push(format!(
                    "{}: not a regular file (a socket or a device)",
                    rel_path.display()
                ));
            }
        }
    }
    Ok(report)
}

/// The relative path from folder `base` to `target`, both absolute.
fn pathdiff(target: &Path, base: &Path) -> PathBuf {
    let t: Vec<_> = target.components().collect();
    let b: Vec<_> = base.components().collect();
    let common = t.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c);
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("reporunner-ws-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn copies_sources_and_leaves_out_what_a_run_rebuilds_and_unsafe_links() {
        let src = temp("src");
        let dst = temp("dst").join("ws");
        std::fs::create_dir_all(src.join("app/static")).unwrap();
        std::fs::create_dir_all(src.join("node_modules/left-pad")).unwrap();
        std::fs::write(src.join("app/main.py"), "print('hi')\n").unwrap();
        std::fs::write(src.join("app/static/site.css"), "body{}").unwrap();
        std::fs::write(src.join("node_modules/left-pad/index.js"), "x").unwrap();
        std::os::unix::fs::symlink("app/main.py", src.join("entry.py")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", src.join("passwd")).unwrap();
        std::os::unix::fs::symlink("missing", src.join("dangling")).unwrap();
        std::os::unix::fs::symlink("../../..", src.join("app/escape")).unwrap();

        let r = copy_repository(&src, &dst).unwrap();
        assert_eq!(r.files, 2);
        assert_eq!(r.links, 1);
        assert_eq!(
            std::fs::read_to_string(dst.join("app/main.py")).unwrap(),
            "print('hi')\n"
        );
        // The inside link points at the copy's file, not the user's checkout.
        assert_eq!(
            std::fs::read_to_string(dst.join("entry.py")).unwrap(),
            "print('hi')\n"
        );
        assert!(
            std::fs::read_link(dst.join("entry.py"))
                .unwrap()
                .is_relative()
        );
        assert!(!dst.join("node_modules").exists());
        assert!(
            !dst.join("passwd").exists()
                && !dst.join("dangling").exists()
                && !dst.join("app/escape").exists()
        );
        let skipped = r.skipped.join("\n");
        assert!(
            skipped.contains("passwd: a symlink to /etc/passwd outside the repository"),
            "{skipped}"
        );
        assert!(
            skipped.contains("dangling: a symlink that does not resolve"),
            "{skipped}"
        );
        assert!(skipped.contains("escape: a symlink to"), "{skipped}");
        assert!(
            skipped.contains("node_modules: rebuilt by the run"),
            "{skipped}"
        );

        // A second copy replaces the first.
        std::fs::remove_file(src.join("app/static/site.css")).unwrap();
        copy_repository(&src, &dst).unwrap();
        assert!(!dst.join("app/static/site.css").exists());
        let _ = std::fs::remove_dir_all(src);
        let _ = std::fs::remove_dir_all(dst.parent().unwrap());
    }

    #[test]
    fn a_workspace_inside_the_repository_is_refused() {
        let src = temp("nest");
        let err = copy_repository(&src, &src.join("ws")).unwrap_err();
        assert!(matches!(err, WorkspaceError::Nested { .. }), "{err}");
        assert!(
            !src.join("ws").exists(),
            "nothing is created inside the repository"
        );
        let err = copy_repository(Path::new("/no/such/repo"), &src.join("x")).unwrap_err();
        assert!(err.to_string().contains("is not a folder"));
        let _ = std::fs::remove_dir_all(src);
    }
}
