//! Go on this host, and the toolchain a module asks for: a module whose `go` line names a
//! newer Go than the host's is built with that toolchain, which the go command takes from
//! the module proxy (`GOTOOLCHAIN`); a host whose Go is new enough builds with its own.

use std::path::Path;

/// A Go version: major, minor, patch.
pub type GoVersion = (u32, u32, u32);

/// Parses `1.22`, `1.22.4`, `go1.22.4` or `go1.22rc1` (a release candidate counts as its
/// release's `.0`).
pub fn parse_version(text: &str) -> Option<GoVersion> {
    let t = text
        .trim()
        .trim_start_matches(">=")
        .trim()
        .trim_start_matches("go");
    let mut parts = t.split('.');
    let major = parts.next()?.parse().ok()?;
    let digits = |p: &str| -> Option<u32> {
        let end = p.find(|c: char| !c.is_ascii_digit()).unwrap_or(p.len());
        p[..end].parse().ok()
    };
    let minor = digits(parts.next()?)?;
    let patch = parts.next().and_then(digits).unwrap_or(0);
    Some((major, minor, patch))
}

/// The host's Go, from `go env GOVERSION` (`go1.26.8`), or `None` when it has none.
pub async fn host_version() -> Option<GoVersion> {
    let spec = reporunner_runtime::process::CommandSpec::new("go", &["env", "GOVERSION"], ".");
    let out = reporunner_runtime::process::run(&spec).await.ok()?;
    out.head.first().and_then(|l| parse_version(l))
}

/// The `GOTOOLCHAIN` a build of a module needs: `None` when the host's Go satisfies the
/// module's `go` line (and the constraint a fix asked for); otherwise the toolchain to
/// take, the module's `toolchain` line when it is new enough, else the release the
/// requirement names (`go1.27.0` for `1.27`).
///
/// * `host` - the host's Go
/// * `go_line` - the module's `go` line
/// * `toolchain_line` - its `toolchain` line, without `go`
/// * `asked` - a constraint a fix asked for (`>=1.27.1`)
pub fn toolchain_for(
    host: Option<GoVersion>,
    go_line: Option<&str>,
    toolchain_line: Option<&str>,
    asked: Option<&str>,
) -> Option<String> {
    let need = [go_line, asked]
        .into_iter()
        .flatten()
        .filter_map(parse_version)
        .max()?;
    if host.is_some_and(|h| h >= need) {
        return None;
    }
    let pick = toolchain_line
        .and_then(parse_version)
        .filter(|t| *t >= need)
        .unwrap_or(need);
    Some(format!("go{}.{}.{}", pick.0, pick.1, pick.2))
}

/// The `go` and `toolchain` lines of the `go.mod` in `dir`.
pub fn module_lines(dir: &Path) -> (Option<String>, Option<String>) {
    let Ok(text) = std::fs::read_to_string(dir.join("go.mod")) else {
        return (None, None);
    };
    let m = crate::analysis::parse_go_mod(&text);
    (m.go, m.toolchain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_in_each_spelling() {
        assert_eq!(parse_version("1.22"), Some((1, 22, 0)));
        assert_eq!(parse_version("go1.26.8"), Some((1, 26, 8)));
        assert_eq!(parse_version(">=1.27.1"), Some((1, 27, 1)));
        assert_eq!(parse_version("go1.23rc1"), Some((1, 23, 0)));
        assert_eq!(parse_version("devel"), None);
    }

    #[test]
    fn a_newer_go_line_takes_a_toolchain_and_a_satisfied_one_none() {
        let host = Some((1, 26, 8));
        assert_eq!(toolchain_for(host, Some("1.22"), None, None), None);
        assert_eq!(toolchain_for(host, Some("1.26.8"), None, None), None);
        assert_eq!(
            toolchain_for(host, Some("1.27"), None, None).as_deref(),
            Some("go1.27.0")
        );
        // The module's own toolchain line, when it satisfies the go line.
        assert_eq!(
            toolchain_for(host, Some("1.27"), Some("1.27.3"), None).as_deref(),
            Some("go1.27.3")
        );
        // A fix's constraint counts as well.
        assert_eq!(
            toolchain_for(host, Some("1.22"), None, Some(">=1.27.1")).as_deref(),
            Some("go1.27.1")
        );
        assert_eq!(toolchain_for(host, None, None, None), None);
        // No Go on the host at all: the toolchain the module names.
        assert_eq!(
            toolchain_for(None, Some("1.22"), None, None).as_deref(),
            Some("go1.22.0")
        );
    }
}
