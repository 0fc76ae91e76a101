//! `reporunner runs [show RUN]` and `reporunner resume RUN`: runs kept in the data
//! directory.

use crate::boot::{Node, NodeConfig};
use anyhow::Context as _;
use clap::{Args, Subcommand};
use reporunner_actors::runs::RunBook;
use reporunner_protocols::ids::RunId;
use reporunner_protocols::run::{RunRecord, RunStatus};
use reporunner_runtime::store::{SledStore, Store as _, default_data_dir};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Where the data directory is, for commands that use the store.
#[derive(Debug, Clone, Args)]
pub(crate) struct DataDirArgs {
    /// The data directory [default: $XDG_DATA_HOME/reporunner or ~/.local/share/reporunner].
    #[arg(long, env = "REPORUNNER_DATA_DIR", value_name = "DIR", global = true)]
    data_dir: Option<PathBuf>,
}

impl DataDirArgs {
    /// Returns whether neither the flag nor the env var named a directory.
    pub(crate) fn is_default(&self) -> bool {
        self.data_dir.is_none()
    }

    /// Returns the directory: the flag, the env var, or the XDG default.
    pub(crate) fn resolve(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| default_data_dir(|k| std::env::var(k).ok()))
    }
}

/// Arguments of `reporunner runs`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  reporunner runs                       every run, newest first: id, status, phase, repository
  reporunner runs show 3f2a9c           one run: its phases, attempts, results and events
  reporunner runs --json --data-dir /var/lib/reporunner
  reporunner runs --client acme         the runs of the business client acme

Exit codes:
  0  listed or shown
  1  no such run, or the data directory cannot be opened (another process holds it)
  2  bad arguments")]
pub struct RunsArgs {
    #[command(subcommand)]
    command: Option<RunsCommand>,
    /// Print JSON.
    #[arg(long, global = true)]
    json: bool,
    /// The runs of this business client (in its own store scope) instead of the node's.
    #[arg(long, global = true, value_name = "CLIENT")]
    client: Option<String>,
    #[command(flatten)]
    data: DataDirArgs,
}

#[derive(Debug, Subcommand)]
enum RunsCommand {
    /// Show one run: its phases, their attempts and results, and its events.
    Show {
        /// The run's id.
        run: String,
    },
}

/// Arguments of `reporunner resume`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  reporunner runs                       find the run that stopped
  reporunner resume 3f2a9c              continue it after its last finished phase

Exit codes:
  0  the run finished and succeeded
  1  it finished and failed, there is no such run, or the data directory is in use
  2  bad arguments")]
pub struct ResumeArgs {
    /// The run to continue after its last finished phase.
    run: String,
    #[command(flatten)]
    data: DataDirArgs,
}

fn book(data: &DataDirArgs) -> anyhow::Result<RunBook> {
    let dir = data.resolve();
    let store = SledStore::open(&dir)?;
    Ok(RunBook::new(Arc::new(store)))
}

pub(crate) fn run(args: RunsArgs) -> anyhow::Result<ExitCode> {
    let book = match &args.client {
        None => book(&args.data)?,
        Some(client) => {
            if !reporunner_protocols::business::valid_client_name(client) {
                anyhow::bail!("{client:?} is not a client name");
            }
            let store = SledStore::open(&args.data.resolve())?;
            RunBook::new(
                store
                    .scope(&reporunner_actors::managers::business_orchestrator::scope_of(client))?,
            )
        }
    };
    match args.command {
        None => {
            let runs = book.list()?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&runs)?);
            } else if runs.is_empty() {
                println!("no runs in {}", args.data.resolve().display());
            } else {
                println!(
                    "{:<29} {:<12} {:<16} {:<8} phases",
                    "RUN", "STATUS", "WORKFLOW", "RESUMES"
                );
                for r in &runs {
                    println!(
                        "{:<29} {:<12} {:<16} {:<8} {}",
                        r.id.as_str(),
                        r.status.to_string(),
                        r.workflow,
                        r.resumes,
                        phase_summary(r)
                    );
                }
            }
        }
        Some(RunsCommand::Show { run }) => {
            let id = RunId::parse(&run).with_context(|| format!("{run:?} is not a run id"))?;
            let record = book
                .load(&id)?
                .with_context(|| format!("no run {id} in {}", args.data.resolve().display()))?;
            let events = book.events(&id)?;
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "run": record,
                        "events": events,
                    }))?
                );
            } else {
                println!("run       {}", record.id);
                println!("workflow  {}", record.workflow);
                println!("status    {}", record.status);
                println!("input     {}", record.input_json);
                if let Some(e) = &record.error {
                    println!("error     {e}");
                }
                println!("resumes   {}", record.resumes);
                println!("\nphases:");
                for p in &record.phases {
                    let took = p
                        .finished_ms
                        .map(|f| format!("{} ms", f.saturating_sub(p.started_ms)))
                        .unwrap_or_else(|| "-".into());
                    println!(
                        "  {:<20} {:<10} attempts={} took={took}{}",
                        p.name,
                        p.status.to_string(),
                        p.attempts,
                        p.error
                            .as_deref()
                            .map(|e| format!(" error={e}"))
                            .unwrap_or_default()
                    );
                }
                println!("\nevents:");
                for e in &events {
                    println!("  {} {}", e.at_ms, e.message);
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn phase_summary(r: &RunRecord) -> String {
    r.phases
        .iter()
        .map(|p| format!("{}:{}", p.name, p.status))
        .collect::<Vec<_>>()
        .join(" ")
}

pub(crate) async fn resume(args: ResumeArgs) -> anyhow::Result<ExitCode> {
    let id = RunId::parse(&args.run).with_context(|| format!("{:?} is not a run id", args.run))?;
    let node = Node::start(NodeConfig {
        data_dir: Some(args.data.resolve()),
        ..NodeConfig::default()
    })
    .await?;
    let result = async {
        let runs = node.runs()?;
        runs.resume(&id).await?;
        println!("resumed {id}");
        loop {
            let run = runs.get(&id).await?;
            if run.status != RunStatus::Running {
                println!("{id} {}", run.status);
                return anyhow::Ok(run.status);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    .await;
    node.shutdown().await?;
    Ok(match result? {
        RunStatus::Succeeded => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    })
}
