//! The JDKs on this host and the one a build takes: the host's own `java` when it is new
//! enough for the release the build asks for, else the oldest installed JDK that is
//! (`/usr/lib/jvm/*`, read from each JDK's `release` file).

use std::path::{Path, PathBuf};

/// One JDK: its major version and its home.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jdk {
    /// `17`, `25`.
    pub major: u32,
    /// The folder `JAVA_HOME` names.
    pub home: PathBuf,
}

/// The folders JDKs are installed under.
const JVM_DIRS: &[&str] = &["/usr/lib/jvm", "/opt/java", "/usr/local/lib/jvm"];

/// The JDK in `home`, from its `release` file's `JAVA_VERSION="17.0.15"`; `None` unless
/// it has `bin/javac`.
pub fn jdk_at(home: &Path) -> Option<Jdk> {
    if !home.join("bin/javac").is_file() {
        return None;
    }
    let release = std::fs::read_to_string(home.join("release")).ok()?;
    let version = release
        .lines()
        .find_map(|l| l.strip_prefix("JAVA_VERSION="))?
        .trim_matches('"');
    Some(Jdk {
        major: crate::analysis::java_major(version)?,
        home: home.to_path_buf(),
    })
}

/// Every JDK installed under the usual folders, one per home (links followed), oldest
/// first.
pub fn installed() -> Vec<Jdk> {
    let mut found: Vec<Jdk> = Vec::new();
    for dir in JVM_DIRS {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(home) = e.path().canonicalize() else {
                continue;
            };
            if let Some(j) = jdk_at(&home)
                && !found.iter().any(|f| f.home == j.home)
            {
                found.push(j);
            }
        }
    }
    found.sort_by_key(|j| (j.major, j.home.clone()));
    found
}

/// The JDK the host's `java` on PATH belongs to (its `JAVA_HOME` if set).
pub fn host_default() -> Option<Jdk> {
    if let Some(home) = std::env::var_os("JAVA_HOME")
        && let Some(j) = jdk_at(Path::new(&home))
    {
        return Some(j);
    }
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|d| d.join("javac"))
        .find(|p| p.is_file())
        .and_then(|p| p.canonicalize().ok())
        .and_then(|p| jdk_at(p.parent()?.parent()?))
}

/// The JDK for a build that needs release `need` (and, from a fix, at least `asked`):
/// the host's default when it is new enough, else the oldest installed one that is.
///
/// # Errors
/// What is installed, in words, when none is new enough.
pub fn choose(
    default: Option<&Jdk>,
    installed: &[Jdk],
    need: Option<u32>,
    asked: Option<u32>,
) -> Result<Option<Jdk>, String> {
    let need = need.into_iter().chain(asked).max();
    let Some(need) = need else {
        return Ok(default.cloned().or_else(|| installed.last().cloned()));
    };
    if let Some(d) = default.filter(|d| d.major >= need) {
        return Ok(Some(d.clone()));
    }
    installed
        .iter()
        .find(|j| j.major >= need)
        .cloned()
        .map(Some)
        .ok_or_else(|| {
            format!(
                "the build needs Java {need} or newer, and this host has {}: install a JDK {need} (Debian's openjdk-{need}-jdk, or Temurin under /usr/lib/jvm)",
                if installed.is_empty() {
                    "no JDK".to_string()
                } else {
                    installed
                        .iter()
                        .map(|j| format!("Java {} ({})", j.major, j.home.display()))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            )
        })
}

/// The constraint `>=21` as a major version.
pub fn at_least(constraint: &str) -> Option<u32> {
    crate::analysis::java_major(constraint.trim().trim_start_matches(">=").trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jdk(major: u32) -> Jdk {
        Jdk {
            major,
            home: PathBuf::from(format!("/jvm/{major}")),
        }
    }

    #[test]
    fn the_default_jdk_is_kept_when_new_enough_else_the_oldest_that_is() {
        let all = [jdk(11), jdk(17), jdk(21), jdk(25)];
        assert_eq!(
            choose(Some(&jdk(17)), &all, Some(17), None).unwrap(),
            Some(jdk(17))
        );
        assert_eq!(
            choose(Some(&jdk(17)), &all, Some(19), None).unwrap(),
            Some(jdk(21))
        );
        assert_eq!(
            choose(Some(&jdk(17)), &all, Some(8), Some(22)).unwrap(),
            Some(jdk(25))
        );
        let err = choose(Some(&jdk(17)), &all[..2], Some(21), None).unwrap_err();
        assert!(
            err.contains("needs Java 21") && err.contains("Java 17"),
            "{err}"
        );
    }

    #[test]
    fn the_jdks_on_this_host_are_read_from_their_release_files() {
        let dir = std::env::temp_dir().join(format!("rr-jdk-{}", std::process::id()));
        let dir = Dir(dir);
        std::fs::create_dir_all(dir.path().join("bin")).unwrap();
        std::fs::write(dir.path().join("bin/javac"), "").unwrap();
        std::fs::write(
            dir.path().join("release"),
            "IMPLEMENTOR=\"x\"\nJAVA_VERSION=\"21.0.4\"\n",
        )
        .unwrap();
        assert_eq!(jdk_at(dir.path()).map(|j| j.major), Some(21));
        std::fs::remove_file(dir.path().join("bin/javac")).unwrap();
        assert_eq!(jdk_at(dir.path()), None);
        assert_eq!(at_least(">=21"), Some(21));
        assert_eq!(at_least(">=1.8"), Some(8));
    }

    /// A folder removed when the test ends.
    struct Dir(PathBuf);
    impl Dir {
        fn path(&self) -> &Path {
            &self.0
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
