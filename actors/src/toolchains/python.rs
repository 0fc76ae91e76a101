//! Python interpreters: found on PATH and under pyenv, and matched against a project's
//! constraint (`requires-python`, Poetry's `^3.11`, a `.python-version` pin).

use std::cmp::Ordering;
use std::path::{Path, PathBuf};

/// A Python interpreter on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpreter {
    /// Its path.
    pub path: PathBuf,
    /// Its version, as (major, minor, patch).
    pub version: (u32, u32, u32),
}

impl Interpreter {
    /// Returns the version as `3.11.7`.
    pub fn version_string(&self) -> String {
        format!("{}.{}.{}", self.version.0, self.version.1, self.version.2)
    }
}

/// Why no interpreter fits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "no Python on this host satisfies {constraint:?}: found {found}; install one that does (for example with pyenv or Debian's python3.X packages)"
)]
pub struct NoInterpreter {
    /// The constraint.
    pub constraint: String,
    /// The versions found, or `none`.
    pub found: String,
}

/// Parses `3`, `3.11` or `3.11.7` (a trailing `.*` or pre-release tag is ignored) into
/// its numbers; missing parts are `None`.
fn parse_version(v: &str) -> Option<(u32, Option<u32>, Option<u32>)> {
    let v = v.trim().trim_end_matches(".*");
    let mut parts = v.split('.').map(|p| {
        let digits: String = p.chars().take_while(|c| c.is_ascii_digit()).collect();
        digits.parse::<u32>().ok()
    });
    let major = parts.next()??;
    let minor = parts.next().flatten();
    let patch = parts.next().flatten();
    Some((major, minor, patch))
}

fn cmp_prefix(have: (u32, u32, u32), want: (u32, Option<u32>, Option<u32>)) -> Ordering {
    have.0
        .cmp(&want.0)
        .then(want.1.map_or(Ordering::Equal, |m| have.1.cmp(&m)))
        .then(want.2.map_or(Ordering::Equal, |p| have.2.cmp(&p)))
}

/// Returns whether `version` satisfies one clause, such as `>=3.10`, `~=3.11`, `^3.11`,
/// `==3.12.*`, `!=3.9`, `<4` or a bare `3.12`.
fn satisfies_clause(version: (u32, u32, u32), clause: &str) -> bool {
    let clause = clause.trim();
    if clause.is_empty() || clause == "*" {
        return true;
    }
    let ops = ["~=", "==", "!=", ">=", "<=", ">", "<", "^", "~", "="];
    let (op, rest) = ops
        .iter()
        .find_map(|op| clause.strip_prefix(op).map(|r| (*op, r)))
        .unwrap_or(("", clause));
    let Some(want) = parse_version(rest) else {
        return false;
    };
    let c = cmp_prefix(version, want);
    match op {
        ">=" => c != Ordering::Less,
        "<=" => c != Ordering::Greater,
        ">" => c == Ordering::Greater,
        "<" => c == Ordering::Less,
        "!=" => c != Ordering::Equal,
        // A bare version, `==` and `=` match as a prefix: `3.12` is any 3.12.x.
        "" | "==" | "=" => c == Ordering::Equal,
        // Poetry's caret: same major, at least the given version.
        "^" => version.0 == want.0 && c != Ordering::Less,
        // Poetry's tilde: same major.minor, at least the given version.
        "~" => version.0 == want.0 && want.1.is_none_or(|m| version.1 == m) && c != Ordering::Less,
        // PEP 440's compatible release: all but the last given part fixed.
        "~=" => {
            let fixed = match want {
                (maj, Some(_), None) => version.0 == maj,
                (maj, Some(min), Some(_)) => version.0 == maj && version.1 == min,
                _ => false,
            };
            fixed && c != Ordering::Less
        }
        _ => false,
    }
}

/// Returns whether `version` satisfies a whole constraint: clauses joined by `,` all hold
/// (PEP 440), and alternatives joined by `||` (Poetry) any holds.
pub fn satisfies(version: (u32, u32, u32), constraint: &str) -> bool {
    constraint.split("||").any(|alt| {
        alt.split(',')
            .all(|clause| satisfies_clause(version, clause))
    })
}

/// Reads an interpreter's version from its path name or, failing that, by running it.
fn probe(path: &Path) -> Option<Interpreter> {
    let out = std::process::Command::new(path)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let v = text.split_whitespace().nth(1)?;
    let (maj, min, patch) = parse_version(v)?;
    Some(Interpreter {
        path: path.to_path_buf(),
        version: (maj, min?, patch.unwrap_or(0)),
    })
}

/// Finds the Python 3 interpreters on `path` (as `python3`, `python3.X`) and under
/// `pyenv_root/versions/*/bin`, one per version, highest first.
pub fn find(path: &[PathBuf], pyenv_root: Option<&Path>) -> Vec<Interpreter> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    for dir in path {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let versioned = name
                .strip_prefix("python3.")
                .is_some_and(|m| !m.is_empty() && m.chars().all(|c| c.is_ascii_digit()));
            if name == "python3" || versioned {
                candidates.push(e.path());
            }
        }
    }
    if let Some(root) = pyenv_root
        && let Ok(entries) = std::fs::read_dir(root.join("versions"))
    {
        for e in entries.flatten() {
            candidates.push(e.path().join("bin/python"));
        }
    }
    let mut found: Vec<Interpreter> = Vec::new();
    for c in candidates {
        // pyenv's shims would resolve through its global setting: skip them.
        if c.to_string_lossy().contains("/shims/") || !c.exists() {
            continue;
        }
        if let Some(i) = probe(&c)
            && i.version.0 == 3
            && !found.iter().any(|f| f.version == i.version)
        {
            found.push(i);
        }
    }
    found.sort_by_key(|i| std::cmp::Reverse(i.version));
    found
}

/// pyenv's root: `PYENV_ROOT`, else `~/.pyenv` when it exists.
pub fn default_pyenv_root() -> Option<PathBuf> {
    std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pyenv")))
        .filter(|p| p.is_dir())
}

/// Chooses the highest interpreter that satisfies `constraint` (any, without one).
///
/// # Errors
/// [`NoInterpreter`] naming the constraint and what was found.
pub fn choose(
    constraint: Option<&str>,
    found: &[Interpreter],
) -> Result<Interpreter, NoInterpreter> {
    let constraint = constraint.map(|c| c.trim().trim_start_matches("python").trim());
    found
        .iter()
        .find(|i| constraint.is_none_or(|c| satisfies(i.version, c)))
        .cloned()
        .ok_or_else(|| NoInterpreter {
            constraint: constraint.unwrap_or("any").to_string(),
            found: if found.is_empty() {
                "none".into()
            } else {
                found
                    .iter()
                    .map(Interpreter::version_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraints_as_projects_write_them() {
        let v = |s: &str| {
            let (a, b, c) = parse_version(s).unwrap();
            (a, b.unwrap_or(0), c.unwrap_or(0))
        };
        let cases = [
            (">=3.10", "3.11.7", true),
            (">=3.10", "3.9.18", false),
            (">=3.8,<3.13", "3.12.1", true),
            (">=3.8,<3.13", "3.13.0", false),
            ("^3.11", "3.13.0", true),
            ("^3.11", "3.10.13", false),
            ("~3.11", "3.11.7", true),
            ("~3.11", "3.12.1", false),
            ("~=3.11", "3.12.1", true),
            ("~=3.11.2", "3.12.1", false),
            ("==3.13.*", "3.13.0", true),
            ("==3.13.*", "3.12.1", false),
            ("3.12", "3.12.1", true),
            ("3.12", "3.11.7", false),
            ("!=3.9", "3.9.18", false),
            (">=3.7 || ^2.7", "3.8.18", true),
            ("<4", "3.13.0", true),
        ];
        for (c, ver, want) in cases {
            assert_eq!(satisfies(v(ver), c), want, "{ver} against {c}");
        }
    }

    #[test]
    fn the_highest_fitting_interpreter_is_chosen_or_the_gap_is_named() {
        let i = |v: (u32, u32, u32)| Interpreter {
            path: PathBuf::from(format!("/py/{}.{}", v.0, v.1)),
            version: v,
        };
        let found = vec![i((3, 13, 0)), i((3, 12, 1)), i((3, 11, 7))];
        assert_eq!(
            choose(Some(">=3.10,<3.13"), &found).unwrap().version,
            (3, 12, 1)
        );
        assert_eq!(choose(None, &found).unwrap().version, (3, 13, 0));
        assert_eq!(
            choose(Some("python ^3.11"), &found).unwrap().version,
            (3, 13, 0)
        );
        let err = choose(Some(">=3.14"), &found).unwrap_err();
        assert!(
            err.to_string().contains(">=3.14")
                && err.to_string().contains("3.13.0, 3.12.1, 3.11.7"),
            "{err}"
        );
    }

    #[test]
    fn interpreters_on_this_host_are_found() {
        let path: Vec<PathBuf> = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect())
            .unwrap_or_default();
        let found = find(&path, default_pyenv_root().as_deref());
        // The interpreter `python3` really runs (through a pyenv shim or not) is found.
        if let Ok(out) = std::process::Command::new("python3")
            .args(["-c", "import platform; print(platform.python_version())"])
            .output()
            && out.status.success()
        {
            let v = String::from_utf8_lossy(&out.stdout).trim().to_string();
            assert!(
                found.iter().any(|i| i.version_string() == v),
                "{v} not in {found:?}"
            );
        }
        assert!(found.windows(2).all(|w| w[0].version > w[1].version));
    }
}
