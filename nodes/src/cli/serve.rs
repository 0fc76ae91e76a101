//! `reporunner serve [--port N]`: one node with the HTTP API, until Ctrl-C or SIGTERM.

use super::runs::DataDirArgs;
use crate::api::{Api, ApiConfig};
use crate::boot::{Node, NodeConfig};
use anyhow::Context as _;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use tokio::net::TcpListener;

/// Arguments of `reporunner serve`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  reporunner serve --port 8080                       the HTTP API on 127.0.0.1:8080
  curl -H \"Authorization: Bearer $TOKEN\" 127.0.0.1:8080/v1/runs

Exit codes: 0 stopped with Ctrl-C; 1 the port or the data directory cannot be used")]
pub struct ServeArgs {
    /// The port the API listens on (0: any free port, printed at start).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// The address the API binds.
    #[arg(long, default_value = "127.0.0.1")]
    bind: String,
    /// The folder repository paths of requests are taken in; a path that resolves outside
    /// it is refused.
    #[arg(long, value_name = "DIR", default_value = ".")]
    repo_root: PathBuf,
    #[command(flatten)]
    data: DataDirArgs,
}

pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let node = Node::start(NodeConfig {
        data_dir: Some(args.data.resolve()),
        ..NodeConfig::default()
    })
    .await?;
    let result = serve(&node, &args).await;
    node.shutdown().await?;
    result.map(|()| ExitCode::SUCCESS)
}

async fn serve(node: &Node, args: &ServeArgs) -> anyhow::Result<()> {
    let listener = TcpListener::bind((args.bind.as_str(), args.port))
        .await
        .with_context(|| format!("binding {}:{}", args.bind, args.port))?;
    let address = listener.local_addr()?;
    crate::cluster::host_alone(node, &address.to_string()).await?;
    let api = Api::new(
        node,
        ApiConfig {
            repo_root: args.repo_root.clone(),
        },
    )?;
    eprintln!(
        "node {} serving the API on http://{address} (repositories under {})",
        node.id(),
        args.repo_root.display()
    );
    api.serve(listener, shutdown_signal()).await?;
    eprintln!("stopping");
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
