//! `reporunner node start` and `reporunner cluster status`: a node of a cluster, and a
//! look at a running one.
//!
//! A node's settings come from a TOML file (`--config`), overridden by environment
//! variables (`REPORUNNER_COOKIE`), overridden by flags:
//!
//! ```toml
//! name = "gpu-1"
//! port = 7400
//! cookie = "a shared secret"
//! join = "10.0.0.1:7400"
//! advertise = "10.0.0.2"
//! data_dir = "/var/lib/reporunner"
//! models = ["all-MiniLM-L6-v2"]
//! [labels]
//! gpu = "true"
//! zone = "eu-1"
//! [tls]
//! cert = "/etc/reporunner/node.pem"
//! key = "/etc/reporunner/node.key"
//! ca = "/etc/reporunner/ca.pem"
//! ```

use crate::boot::{Node, NodeConfig};
use crate::cli::runs::DataDirArgs;
use crate::cluster::{self, ClientConfig, ClusterConfig, TlsFiles};
use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use reporunner_protocols::access::Tier;
use reporunner_protocols::admin::ActorTree;
use reporunner_protocols::admin::SpawnAgentRequest;
use reporunner_protocols::cluster::{NodeState, PlaceRequest};
use reporunner_protocols::ids::{AgentId, NodeId};
use reporunner_protocols::kinds::AgentNeeds;
use reporunner_runtime::naming::Namespace;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

/// The port a node listens on unless told otherwise.
pub(crate) const DEFAULT_PORT: u16 = 7400;

/// Arguments of `reporunner node`.
#[derive(Debug, Args)]
pub struct NodeArgs {
    #[command(subcommand)]
    command: NodeCommand,
}

#[derive(Debug, Subcommand)]
enum NodeCommand {
    /// Start a node and run until Ctrl-C: the head with `--head`, a worker with `--join`.
    #[command(after_help = "Examples:
  reporunner node start --head --cookie S                    the head on port 7400
  reporunner node start --join 127.0.0.1:7400 --port 7401 --cookie S
                                                             a worker (named HOST-7401)
  reporunner node start --head --cookie S --api-port 8080    the head with the HTTP API
  reporunner node start --config /etc/reporunner/node.toml   settings from a TOML file

Exit codes:
  0  stopped by Ctrl-C (or SIGTERM) after a clean shutdown
  1  it could not start: the port is taken, the head refused it (a wrong cookie, TLS on
     one side only, a name another node has), the data directory is in use, or bad
     settings
  2  bad arguments")]
    Start(StartArgs),
}

#[derive(Debug, Args)]
struct StartArgs {
    /// Start the head: the cluster's Admin of record.
    #[arg(long, conflicts_with = "join")]
    head: bool,
    /// Join the head at HOST:PORT as a worker.
    #[arg(long, value_name = "HOST:PORT")]
    join: Option<String>,
    /// A TOML file with the node's settings; flags and env vars override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The port to listen on [default: 7400].
    #[arg(long)]
    port: Option<u16>,
    /// The cluster's shared secret.
    #[arg(long, env = "REPORUNNER_COOKIE", hide_env_values = true)]
    cookie: Option<String>,
    /// A label, `key=value`; repeat for more.
    #[arg(long = "label", value_name = "KEY=VALUE")]
    labels: Vec<String>,
    /// The node's name [default: the host name and the port, `HOST-7400`].
    #[arg(long)]
    name: Option<String>,
    /// The address other nodes reach this one at [default: 127.0.0.1].
    #[arg(long)]
    advertise: Option<String>,
    /// How long a node may miss its heartbeats before the head marks it down, in ms
    /// [default: 3000].
    #[arg(long, value_name = "MS")]
    down_after_ms: Option<u64>,
    /// Serve the HTTP API on this port too (the head only; 0: any free port).
    #[arg(long, value_name = "PORT", requires = "head")]
    api_port: Option<u16>,
    /// The address the API binds.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    api_bind: String,
    /// The folder repository paths of API requests are taken in.
    #[arg(long, value_name = "DIR", default_value = ".")]
    repo_root: std::path::PathBuf,
    #[command(flatten)]
    tls: TlsArgs,
    #[command(flatten)]
    data: DataDirArgs,
}

/// Mutual TLS between nodes: all three files, or none.
#[derive(Debug, Args)]
pub(crate) struct TlsArgs {
    /// This node's certificate chain (PEM); turns TLS on, with --tls-key and --tls-ca.
    #[arg(long, env = "REPORUNNER_TLS_CERT", value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// This node's private key (PEM).
    #[arg(long, env = "REPORUNNER_TLS_KEY", value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// The CA that signs every node's certificate (PEM).
    #[arg(long, env = "REPORUNNER_TLS_CA", value_name = "FILE")]
    tls_ca: Option<PathBuf>,
}

impl TlsArgs {
    /// The TLS files, these flags over `file`'s.
    pub(crate) fn resolve(&self, file: Option<&FileTls>) -> anyhow::Result<Option<TlsFiles>> {
        let cert = self.tls_cert.clone().or(file.map(|f| f.cert.clone()));
        let key = self.tls_key.clone().or(file.map(|f| f.key.clone()));
        let ca = self.tls_ca.clone().or(file.map(|f| f.ca.clone()));
        match (cert, key, ca) {
            (None, None, None) => Ok(None),
            (Some(cert), Some(key), Some(ca)) => Ok(Some(TlsFiles { cert, key, ca })),
            _ => bail!("TLS needs all three of --tls-cert, --tls-key and --tls-ca"),
        }
    }
}

/// The `[tls]` table of a node's settings file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileTls {
    cert: PathBuf,
    key: PathBuf,
    ca: PathBuf,
}

/// How a command reaches a running cluster.
#[derive(Debug, Args)]
struct ConnArgs {
    /// The head, HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    address: String,
    /// The cluster's shared secret.
    #[arg(long, env = "REPORUNNER_COOKIE", hide_env_values = true)]
    cookie: String,
    #[command(flatten)]
    tls: TlsArgs,
}

impl ConnArgs {
    fn client(&self) -> anyhow::Result<ClientConfig> {
        Ok(ClientConfig {
            address: self.address.clone(),
            cookie: self.cookie.clone(),
            tls: self.tls.resolve(None)?,
        })
    }
}

/// A node's settings file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    name: Option<String>,
    port: Option<u16>,
    cookie: Option<String>,
    join: Option<String>,
    head: Option<bool>,
    advertise: Option<String>,
    data_dir: Option<PathBuf>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    models: Vec<String>,
    down_after_ms: Option<u64>,
    tls: Option<FileTls>,
}

/// Arguments of `reporunner cluster`.
#[derive(Debug, Args)]
pub struct ClusterArgs {
    #[command(subcommand)]
    command: ClusterCommand,
}

/// The exit codes of the `cluster` commands, for their help (a macro: `concat!` takes
/// literals only).
macro_rules! exit_codes {
    () => {
        "

Exit codes:
  0  answered
  1  the head cannot be reached or refused this client (check --address, --cookie and
     TLS), or it refused the request
  2  bad arguments"
    };
}

#[derive(Debug, Subcommand)]
enum ClusterCommand {
    /// Place an agent on the node that fits it (its kind's needs and the ones given here),
    /// through the head. Agents of permanent kinds are placed again when their node is lost.
    #[command(after_help = concat!("Examples:
  reporunner cluster spawn --address 127.0.0.1:7400 --cookie S --kind env-detector --name probe
  reporunner cluster spawn --address 127.0.0.1:7400 --cookie S --kind inference \\
      --name llm --need gpu --need model=SmolLM2-135M-Instruct --as-tier premium", exit_codes!()))]
    Spawn {
        #[command(flatten)]
        conn: ConnArgs,
        /// The agent's kind.
        #[arg(long)]
        kind: String,
        /// The agent's name.
        #[arg(long)]
        name: String,
        /// Its configuration, as JSON.
        #[arg(long, default_value = "")]
        config: String,
        /// A need on top of the kind's: `gpu`, `vram_mib=N`, `model=NAME` or `label:K=V`;
        /// repeat for more.
        #[arg(long = "need", value_name = "NEED")]
        needs: Vec<String>,
        /// Place it as a user of this tier would (the tier must allow the GPU it needs).
        /// The CLI acts as the machine's owner, the developer tier.
        #[arg(long, default_value = "developer", value_name = "TIER")]
        as_tier: Tier,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Stop an agent the head placed, wherever it runs, and forget its placement.
    #[command(after_help = concat!("Examples:
  reporunner cluster stop --address 127.0.0.1:7400 --cookie S --name probe", exit_codes!()))]
    Stop {
        #[command(flatten)]
        conn: ConnArgs,
        /// The agent's name.
        #[arg(long)]
        name: String,
    },
    /// Ask a running head for every node of its cluster, the agents on each, and the
    /// agents it placed that no node fits.
    #[command(after_help = concat!("Examples:
  reporunner cluster status --address 127.0.0.1:7400 --cookie S
  REPORUNNER_COOKIE=S reporunner cluster status --address 10.0.0.1:7400 --json", exit_codes!()))]
    Status {
        #[command(flatten)]
        conn: ConnArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Ask a running head for every node's live actor tree.
    #[command(after_help = concat!("Examples:
  reporunner cluster tree --address 127.0.0.1:7400 --cookie S", exit_codes!()))]
    Tree {
        #[command(flatten)]
        conn: ConnArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn parse_labels(labels: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    labels
        .iter()
        .map(|l| {
            let (k, v) = l
                .split_once('=')
                .with_context(|| format!("the label {l:?} is not key=value"))?;
            if k.is_empty() {
                bail!("the label {l:?} has no key");
            }
            Ok((k.to_string(), v.to_string()))
        })
        .collect()
}

pub(crate) async fn run(args: NodeArgs) -> anyhow::Result<ExitCode> {
    let NodeCommand::Start(args) = args.command;
    let file: FileConfig = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            toml::from_str(&text).with_context(|| format!("{} is not valid", path.display()))?
        }
        None => FileConfig::default(),
    };
    let join = args
        .join
        .clone()
        .or(file.join.clone())
        .filter(|_| !args.head);
    let head = args.head || (join.is_none() && file.head.unwrap_or(false));
    if !head && join.is_none() {
        bail!("say what this node is: --head, or --join HOST:PORT (or head/join in --config)");
    }
    let Some(cookie) = args.cookie.clone().or(file.cookie.clone()) else {
        bail!("a cookie is needed: --cookie, REPORUNNER_COOKIE, or cookie in --config");
    };
    let mut labels = file.labels.clone();
    labels.extend(parse_labels(&args.labels)?);
    let mut config = NodeConfig::default();
    // A free port is chosen here, so that the default name can carry it.
    let port = match args.port.or(file.port).unwrap_or(DEFAULT_PORT) {
        0 => std::net::TcpListener::bind(("0.0.0.0", 0))?
            .local_addr()?
            .port(),
        p => p,
    };
    match args.name.clone().or(file.name.clone()) {
        Some(name) => config.node = NodeId::parse(&name).map_err(|e| anyhow::anyhow!("{e}"))?,
        // The host's name and the port: two nodes on one host never share it.
        None => {
            config.node = NodeId::parse(&format!("{}-{port}", config.node))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
    }
    // Names unique across the cluster. ractor_cluster advertises every remotable actor to
    // its peers under the actor's name, and when a peer's session closes ractor removes
    // the proxies' names from the registry without checking whose they are: with one
    // namespace for every node, a peer leaving would unregister this node's own Admin.
    config.namespace = Namespace::new(format!("{}.{}", config.namespace.as_str(), config.node));
    // The flag or REPORUNNER_DATA_DIR, else the settings file's, else a folder of the node's
    // own under the default one: two nodes started on one host never share a store.
    config.data_dir = Some(match &file.data_dir {
        _ if !args.data.is_default() => args.data.resolve(),
        Some(dir) => dir.clone(),
        None => args.data.resolve().join("nodes").join(config.node.as_str()),
    });
    let cluster_config = ClusterConfig {
        port,
        cookie,
        advertise_host: args
            .advertise
            .clone()
            .or(file.advertise.clone())
            .unwrap_or_else(|| "127.0.0.1".into()),
        head,
        join,
        labels,
        models: file.models.clone(),
        down_after_ms: args.down_after_ms.or(file.down_after_ms),
        tls: args.tls.resolve(file.tls.as_ref())?,
    };
    let node = Node::start(config).await?;
    let cluster = match cluster::start(&node, &cluster_config).await {
        Ok(c) => c,
        Err(e) => {
            node.shutdown().await?;
            return Err(e);
        }
    };
    eprintln!(
        "node {} ({}) listening on {}{}",
        node.id(),
        if head { "head" } else { "worker" },
        cluster.address,
        if cluster_config.tls.is_some() {
            " with TLS"
        } else {
            ""
        }
    );
    let api = match args.api_port {
        Some(port) => match serve_api(&node, &args, port).await {
            Ok(api) => Some(api),
            Err(e) => {
                cluster.stop().await;
                node.shutdown().await?;
                return Err(e);
            }
        },
        None => None,
    };
    super::serve::shutdown_signal().await;
    eprintln!("stopping");
    if let Some((stop, task)) = api {
        let _ = stop.send(());
        let _ = task.await;
    }
    cluster.stop().await;
    node.shutdown().await?;
    Ok(ExitCode::SUCCESS)
}

/// Starts the HTTP API of the head node; it stops when the sender is used or dropped.
async fn serve_api(
    node: &Node,
    args: &StartArgs,
    port: u16,
) -> anyhow::Result<(
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
)> {
    let listener = tokio::net::TcpListener::bind((args.api_bind.as_str(), port))
        .await
        .with_context(|| format!("binding the API to {}:{port}", args.api_bind))?;
    let api = crate::api::Api::new(
        node,
        crate::api::ApiConfig {
            repo_root: args.repo_root.clone(),
        },
    )?;
    eprintln!("API on http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        api.serve(listener, async move {
            let _ = stopped.await;
        })
        .await
    });
    Ok((stop, task))
}

fn parse_needs(needs: &[String]) -> anyhow::Result<AgentNeeds> {
    let mut out = AgentNeeds::default();
    for n in needs {
        if n == "gpu" {
            out.gpu = true;
        } else if let Some(v) = n.strip_prefix("vram_mib=") {
            out.min_vram_mib = v.parse().with_context(|| format!("{n:?}: not a number"))?;
            out.gpu = true;
        } else if let Some(m) = n.strip_prefix("model=") {
            out.model = Some(m.to_string());
        } else if let Some(l) = n.strip_prefix("label:") {
            out.labels.extend(parse_labels(&[l.to_string()])?);
        } else {
            bail!("unknown need {n:?}: use gpu, vram_mib=N, model=NAME or label:K=V");
        }
    }
    Ok(out)
}

pub(crate) async fn cluster(args: ClusterArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        ClusterCommand::Spawn {
            conn,
            kind,
            name,
            config,
            needs,
            as_tier,
            json,
        } => {
            let request = PlaceRequest {
                spawn: SpawnAgentRequest {
                    kind,
                    name: AgentId::parse(&name).map_err(|e| anyhow::anyhow!("{e}"))?,
                    config,
                },
                needs: parse_needs(&needs)?,
                tier: as_tier,
            };
            let info = cluster::place(&conn.client()?, request).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&info)?);
            } else {
                println!("{} ({}) runs on {}", info.name, info.kind, info.node);
            }
        }
        ClusterCommand::Status { conn, json } => {
            let cluster::Overview {
                members,
                placements,
                refusals,
            } = cluster::overview(&conn.client()?).await?;
            if json {
                // Each node's info, with its state beside it.
                let nodes: Vec<serde_json::Value> = members
                    .iter()
                    .map(|m| {
                        let mut v = serde_json::to_value(&m.info).unwrap_or_default();
                        v["state"] = serde_json::to_value(m.state).unwrap_or_default();
                        v["last_seen_ms"] = m.last_seen_ms.into();
                        v
                    })
                    .collect();
                let refused: Vec<serde_json::Value> = refusals
                    .iter()
                    .map(|r| {
                        let mut v = serde_json::to_value(r).unwrap_or_default();
                        v["why"] = r.reason.explain().into();
                        v
                    })
                    .collect();
                let out = serde_json::json!({
                    "nodes": nodes,
                    "placements": placements,
                    "refused": refused,
                });
                println!("{}", serde_json::to_string_pretty(&out)?);
                return Ok(ExitCode::SUCCESS);
            }
            print_status(&members, &placements, &refusals);
        }
        ClusterCommand::Stop { conn, name } => {
            let name = AgentId::parse(&name).map_err(|e| anyhow::anyhow!("{e}"))?;
            match cluster::unplace(&conn.client()?, name.clone()).await? {
                Some(node) => println!("{name} stopped on {node}"),
                None => println!("{name} was not running; its placement is gone"),
            }
        }
        ClusterCommand::Tree { conn, json } => {
            let nodes = cluster::tree(&conn.client()?).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&nodes)?);
                return Ok(ExitCode::SUCCESS);
            }
            for n in &nodes {
                let state = state_word(n.member.state);
                println!(
                    "{} ({state}, {})",
                    n.member.info.node, n.member.info.address
                );
                match &n.tree {
                    Ok(tree) => print_tree(tree, 1),
                    Err(e) => println!("  ({e})"),
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn state_word(state: NodeState) -> &'static str {
    match state {
        NodeState::Up => "up",
        NodeState::Down => "down",
    }
}

fn print_tree(tree: &ActorTree, depth: usize) {
    println!(
        "{:indent$}{} [{}] {} restarts={}",
        "",
        tree.name,
        tree.kind,
        tree.status,
        tree.restarts,
        indent = depth * 2
    );
    for child in &tree.children {
        print_tree(child, depth + 1);
    }
}

fn print_status(
    members: &[reporunner_protocols::cluster::Member],
    placements: &[reporunner_protocols::cluster::Placement],
    refusals: &[reporunner_protocols::cluster::Refusal],
) {
    println!(
        "{:<20} {:<7} {:<5} {:<22} {:>4} {:>9} {:<5} {:>6} labels",
        "NODE", "ROLE", "STATE", "ADDRESS", "CPUS", "MEMORY", "GPUS", "AGENTS"
    );
    for m in members {
        let n = &m.info;
        let labels: Vec<String> = n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!(
            "{:<20} {:<7} {:<5} {:<22} {:>4} {:>7}Gi {:<5} {:>6} {}",
            n.node.as_str(),
            if n.head { "head" } else { "worker" },
            state_word(m.state),
            n.address,
            n.cpus,
            n.memory_bytes / (1 << 30),
            n.gpus.len(),
            n.agents,
            labels.join(",")
        );
        if !n.running.is_empty() {
            let names: Vec<&str> = n.running.iter().map(|a| a.as_str()).collect();
            println!("    agents: {}", names.join(", "));
        }
    }
    let unplaced: Vec<_> = placements.iter().filter(|p| p.node.is_none()).collect();
    if !unplaced.is_empty() {
        println!("unplaced:");
        for p in unplaced {
            println!(
                "    {} ({}): {}",
                p.request.spawn.name,
                p.request.spawn.kind,
                p.reason.as_deref().unwrap_or("waiting")
            );
        }
    }
    if !refusals.is_empty() {
        let now = reporunner_actors::runs::now_ms();
        println!("refused (newest first):");
        for r in refusals {
            let times = if r.count == 1 {
                String::new()
            } else {
                format!(", {} times", r.count)
            };
            let detail = r
                .detail
                .as_deref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            println!(
                "    {} from {}{times}, {} s ago: {}{detail}",
                r.node.as_deref().unwrap_or("an unnamed peer"),
                r.peer,
                now.saturating_sub(r.last_ms) / 1000,
                r.reason.explain()
            );
        }
    }
}
