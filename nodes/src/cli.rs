//! The `reporunner` command line. clap types live here and nowhere else.

pub(crate) mod analyze;
mod clients;
mod console;
mod env;
mod models;
mod node;
mod run;
mod runs;
pub(crate) mod search;
mod serve;
mod users;

use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The repository folder a command was pointed at, resolved; an error that names the
/// problem and the next step for a path that does not exist, a file, or an empty folder.
pub(crate) fn repository_folder(path: &Path) -> anyhow::Result<PathBuf> {
    let shown = path.display();
    let Ok(full) = path.canonicalize() else {
        anyhow::bail!(
            "{shown} does not exist: give the folder of a repository (a clone or a checkout)"
        );
    };
    if !full.is_dir() {
        let parent = full
            .parent()
            .map(|p| format!(" ({})", p.display()))
            .unwrap_or_default();
        anyhow::bail!("{shown} is a file, not a folder: give the folder of its repository{parent}");
    }
    let empty = std::fs::read_dir(&full)
        .map(|mut d| d.next().is_none())
        .unwrap_or(false);
    if empty {
        anyhow::bail!(
            "{shown} is empty: a repository's folder holds its manifest (package.json, pyproject.toml, Cargo.toml, go.mod, ...) and its code; clone or copy one there"
        );
    }
    Ok(full)
}

/// Repo Runner: gets a source repository running by itself.
#[derive(Debug, Parser)]
#[command(name = "reporunner", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Get a repository running: install, configure, start, check its health, repair what
    /// fails, run its tests, and report how far it got.
    Run(run::RunArgs),
    /// Detect what this host offers: OS, CPUs, memory, GPUs, container, cloud and tools.
    Env(env::EnvArgs),
    /// Analyse a repository: components, languages, commands, port, env and databases,
    /// each with its evidence.
    Analyze(analyze::AnalyzeArgs),
    /// List the runs in the data directory, or show one.
    Runs(runs::RunsArgs),
    /// Continue a run after its last finished phase.
    Resume(runs::ResumeArgs),
    /// Start a node of a cluster.
    Node(node::NodeArgs),
    /// Look at a running cluster.
    Cluster(node::ClusterArgs),
    /// The local models: which are installed, where, and what stands in for the others.
    Models(models::ModelsArgs),
    /// Ask a repository a question: the context index answers with files, lines and
    /// snippets.
    Search(search::SearchArgs),
    /// The users of the local store, or of a running node's API with --url: add, list,
    /// set-tier, disable, enable, token, revoke, audit.
    Users(users::UsersArgs),
    /// Business clients, each with its own orchestrator, users, store and workflow:
    /// create, list, show, remove, add-user.
    Clients(clients::ClientsArgs),
    /// Run one node with the HTTP API (runs, analysis, search, users, admin, metrics).
    Serve(serve::ServeArgs),
    /// The TUI attached to a node's supervisor through its API: nodes, the live actor
    /// tree, runs and their events, the audit log, and the Admin's actions.
    Console(console::ConsoleArgs),
}

/// Runs the parsed command line and returns the process's exit code.
///
/// # Errors
/// Any failure of the command, to be printed by `main`.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run(args) => run::run(args).await,
        Command::Env(args) => env::run(args).await,
        Command::Analyze(args) => analyze::run(args).await,
        Command::Runs(args) => runs::run(args),
        Command::Resume(args) => runs::resume(args).await,
        Command::Node(args) => node::run(args).await,
        Command::Cluster(args) => node::cluster(args).await,
        Command::Models(args) => models::run(args).await,
        Command::Search(args) => search::run(args).await,
        Command::Users(args) => users::run(args).await,
        Command::Clients(args) => clients::run(args).await,
        Command::Serve(args) => serve::run(args).await,
        Command::Console(args) => console::run(args).await,
    }
}

/// Spawns, through `admin`, an agent of each kind in `kinds` under the kind's name, unless
/// one runs already (the CLI and the HTTP API share the agents of a node).
pub(crate) async fn ensure_agents(
    admin: &reporunner_protocols::admin::AdminClient,
    kinds: &[&str],
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    use reporunner_protocols::admin::AdminError;
    use reporunner_protocols::ids::AgentId;
    for kind in kinds {
        match admin.spawn_agent(kind, AgentId::new(*kind), "").await {
            Ok(_) | Err(AdminError::NameTaken { .. }) => {}
            Err(e) => return Err(e).with_context(|| format!("spawning the {kind} agent")),
        }
    }
    Ok(())
}
