//! `reporunner console --url URL --token T`: the TUI attached to a node's supervisor
//! through the HTTP API (see [`crate::console`]).

use crate::api::client::ApiClient;
use clap::Args;
use std::process::ExitCode;

/// Arguments of `reporunner console`.
#[derive(Debug, Args)]
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
