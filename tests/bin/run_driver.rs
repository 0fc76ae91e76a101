//! A process that drives a run of a three-phase workflow, for the SIGKILL resume test.
//! Each phase appends its name to `LOG` when it starts; `build` then does slow real work
//! (a child process), so the test can kill this process in the middle of it.
//!
//! Usage: run-driver DATA_DIR LOG start | run-driver DATA_DIR LOG resume RUN_ID
//! Prints `run <id>` once the run exists and `done <status>` when it ends.

use reporunner::boot::{Node, NodeConfig};
use reporunner_protocols::ids::RunId;
use reporunner_protocols::run::RunStatus;
use reporunner_runtime::naming::Namespace;
use reporunner_runtime::workflow::{Phase, PhaseContext, PhaseError, PhaseFuture, Workflow};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

struct Step {
    name: &'static str,
    log: PathBuf,
    /// Seconds of real work (a `sleep` child process) after logging the start.
    work_secs: u32,
}

impl Phase for Step {
    fn name(&self) -> &str {
        self.name
    }
    fn run<'a>(&'a self, ctx: &'a PhaseContext) -> PhaseFuture<'a> {
        Box::pin(async move {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.log)
                .map_err(|e| PhaseError::new(e.to_string()))?;
            writeln!(f, "{}", self.name).map_err(|e| PhaseError::new(e.to_string()))?;
            f.sync_all().map_err(|e| PhaseError::new(e.to_string()))?;
            if self.work_secs > 0 {
                let status = tokio::process::Command::new("sleep")
                    .arg(self.work_secs.to_string())
                    .status()
                    .await
                    .map_err(|e| PhaseError::new(e.to_string()))?;
                if !status.success() {
                    return Err(PhaseError::new(format!("sleep exited with {status}")));
                }
            }
            Ok(serde_json::json!({ "phase": self.name, "attempt": ctx.attempt }))
        })
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (dir, log, mode) = (
        PathBuf::from(&args[0]),
        PathBuf::from(&args[1]),
        args[2].as_str(),
    );
    let step = |name, work_secs| {
        Arc::new(Step {
            name,
            log: log.clone(),
            work_secs,
        }) as Arc<dyn Phase>
    };
    let config = NodeConfig {
        namespace: Namespace::new("driver"),
        data_dir: Some(dir),
        ..NodeConfig::default()
    };
    config.workflows.register(Workflow::new(
        "three-steps",
        vec![step("fetch", 0), step("build", 3), step("report", 0)],
    ));
    let node = Node::start(config).await?;
    let runs = node.runs()?;
    let id = match mode {
        "start" => runs.start("three-steps", "{}").await?,
        "resume" => {
            let id = RunId::new(&args[3]);
            runs.resume(&id).await?;
            id
        }
        other => anyhow::bail!("unknown mode {other}"),
    };
    println!("run {id}");
    std::io::stdout().flush()?;
    let status = loop {
        let run = runs.get(&id).await?;
        if run.status != RunStatus::Running {
            break run.status;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    println!("done {status}");
    node.shutdown().await?;
    Ok(())
}
