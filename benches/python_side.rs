//! The other side of a bench that compares with a Python library: runs one of the
//! project's scripts under the interpreter an environment variable names, hands it a JSON
//! job on stdin, and returns what it printed.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The repository's root.
pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `scripts/<script>` with the interpreter in `$env_var` on `job`, or says why not
/// (`install` tells how to get that interpreter).
pub(crate) fn run(
    env_var: &str,
    install: &str,
    script: &str,
    job: &serde_json::Value,
) -> Result<String, String> {
    let python = std::env::var(env_var).map_err(|_| format!("{env_var} is not set ({install})"))?;
    let mut child = Command::new(&python)
        .arg(root().join("scripts").join(script))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{python}: {e}"))?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(job.to_string().as_bytes())
        .map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
