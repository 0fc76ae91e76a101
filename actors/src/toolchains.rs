//! Toolchains on this host, and which one fits a project: the interpreter a run's virtual
//! environment is built from must satisfy the project's constraint, or the run says which
//! version is missing.

pub mod go;
pub mod java;
pub mod node;
pub mod python;

use sha2::{Digest, Sha256};
use std::path::Path;

/// Lockfiles, whose content decides what an install puts in place.
pub const LOCKFILES: &[&str] = &[
    "uv.lock",
    "poetry.lock",
    "pdm.lock",
    "Pipfile.lock",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "pnpm-lock.yaml",
    "yarn.lock",
    "bun.lock",
    "bun.lockb",
    "Cargo.lock",
    "go.sum",
];

/// The key an install is cached under: a SHA-256 over the toolchain that installs, and the
/// path and bytes of every manifest and lockfile of the component. An unchanged project on
/// an unchanged toolchain gets the same key, so its installed dependencies are reused; any
/// byte changed in one of those files, or another toolchain, gives a new key.
///
/// * `root` - the repository (or workspace) root
/// * `dir` - the component's folder, relative to `root`
/// * `manifests` - the component's manifests, relative to `root`
/// * `toolchain` - what installs, such as `python 3.12.1 pip`
pub fn install_key(root: &Path, dir: &str, manifests: &[String], toolchain: &str) -> String {
    let mut files: Vec<String> = manifests.to_vec();
    for lock in LOCKFILES {
        let rel = if dir.is_empty() || dir == "." {
            lock.to_string()
        } else {
            format!("{dir}/{lock}")
        };
        if root.join(&rel).is_file() {
            files.push(rel);
        }
    }
    files.sort();
    files.dedup();
    let mut h = Sha256::new();
    h.update(b"reporunner install key v1\0");
    h.update(toolchain.as_bytes());
    h.update(b"\0");
    for f in &files {
        h.update(f.as_bytes());
        h.update(b"\0");
        match std::fs::read(root.join(f)) {
            Ok(bytes) => {
                h.update((bytes.len() as u64).to_le_bytes());
                h.update(&bytes);
            }
            Err(_) => h.update(b"missing"),
        }
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_install_key_follows_manifests_lockfiles_and_toolchain_only() {
        let root = std::env::temp_dir().join(format!("reporunner-key-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("api")).unwrap();
        std::fs::write(root.join("api/requirements.txt"), "flask==3.0.3\n").unwrap();
        std::fs::write(root.join("api/app.py"), "app = 1\n").unwrap();
        let manifests = vec!["api/requirements.txt".to_string()];
        let key = || install_key(&root, "api", &manifests, "python 3.11.7 pip");
        let first = key();
        assert_eq!(first.len(), 64);
        assert_eq!(key(), first, "the same inputs give the same key");
        // Source code is not an input.
        std::fs::write(root.join("api/app.py"), "app = 2\n").unwrap();
        assert_eq!(key(), first);
        // A changed manifest is.
        std::fs::write(root.join("api/requirements.txt"), "flask==3.0.4\n").unwrap();
        let second = key();
        assert_ne!(second, first);
        // So is a lockfile that appears, and another toolchain.
        std::fs::write(root.join("api/uv.lock"), "version = 1\n").unwrap();
        assert_ne!(key(), second);
        assert_ne!(
            install_key(&root, "api", &manifests, "python 3.12.1 pip"),
            key()
        );
        let _ = std::fs::remove_dir_all(&root);
    }
}
