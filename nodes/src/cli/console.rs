//! `reporunner console --url URL --token T`: the TUI attached to a node's supervisor
//! through the HTTP API (see [`crate::console`]).

use crate::api::client::ApiClient;
use clap::Args;
use std::process::ExitCode;

/// Arguments of `reporunner console`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  reporunner users add ada --tier admin --password-stdin < pass.txt
  reporunner users token ada | tail -n 1 > token.txt   (before serve: it holds the store)
  reporunner serve --port 8080 &
  REPORUNNER_TOKEN=$(cat token.txt) reporunner console --url http://127.0.0.1:8080

Keys: Tab switches between the actor tree and the runs, arrows (or j/k) select, x stops
the selected run; the Admin and Developer tiers also have r (restart the selected agent),
s (stop it), n (spawn an agent: KIND NAME) and c (checkpoint). q or Esc quits.

Exit codes:
  0  quit with q
  1  the API cannot be reached or refused the token (a tier below Admin sees no tree)
  2  bad arguments")]
pub struct ConsoleArgs {
    /// The node's API.
    #[arg(long, env = "REPORUNNER_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// An API token (`reporunner users token NAME`). The environment variable keeps it
    /// out of the process list.
    #[arg(long, env = "REPORUNNER_TOKEN", hide_env_values = true)]
    token: String,
}

pub(crate) async fn run(args: ConsoleArgs) -> anyhow::Result<ExitCode> {
    let client = ApiClient::new(&args.url, Some(args.token))?;
    crate::console::run(client).await?;
    Ok(ExitCode::SUCCESS)
}
