//! The cluster layer of a node: a ractor_cluster `NodeServer` (cookie authentication,
//! transitive connections, `TCP_NODELAY` on every socket), the node's `NodeHost` (spawned
//! through the Admin, so it is supervised and restarted like any agent), joining a head,
//! and asking a running cluster for its nodes.

use crate::boot::Node;
use anyhow::{Context as _, bail};
use ractor::{Actor, ActorRef};
use ractor_cluster::node::NodeConnectionMode;
use ractor_cluster::{NodeEventSubscription, NodeServer, NodeServerMessage, NodeSessionMessage};
use reporunner_actors::agents::node_host::{self, NodeHostConfig};
use reporunner_protocols::Wire;
use reporunner_protocols::admin::AgentInfo;
use reporunner_protocols::cluster::{
    Member, NODE_HOSTS_GROUP, NodeHostMessage, NodeInfo, PlaceRequest,
};
use reporunner_protocols::ids::AgentId;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// How long joining may take before the head is taken to have refused this node.
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(10);

/// A node's cluster settings.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// The port the NodeServer listens on (0 picks a free one).
    pub port: u16,
    /// The shared secret peers must prove they know.
    pub cookie: String,
    /// The address other nodes reach this one at (its host part).
    pub advertise_host: String,
    /// Whether this node is the head.
    pub head: bool,
    /// The head to join, `host:port`, for a worker.
    pub join: Option<String>,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// The models it can serve.
    pub models: Vec<String>,
    /// How long a node may miss its heartbeats before it is marked down, in ms
    /// [default: 3000].
    pub down_after_ms: Option<u64>,
}

/// A node's running cluster layer.
#[derive(Debug)]
pub struct ClusterHandle {
    server: ActorRef<NodeServerMessage>,
    task: JoinHandle<()>,
    /// The address this node listens on.
    pub address: String,
}

impl ClusterHandle {
    /// Stops the NodeServer, which closes every session.
    pub async fn stop(self) {
        self.server.stop(Some("shutdown".into()));
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }
}

/// Logs peers that leave, and peers that leave before they authenticate: a wrong cookie,
/// or not a Repo Runner node at all.
#[derive(Default)]
struct SessionLog {
    authenticated: std::sync::Mutex<std::collections::HashSet<ractor::ActorId>>,
}

impl NodeEventSubscription for SessionLog {
    fn node_session_opened(&self, ses: ractor_cluster::node::NodeServerSessionInformation) {
        tracing::debug!(peer = %ses.peer_addr, "peer connected");
    }

    fn node_session_disconnected(&self, ses: ractor_cluster::node::NodeServerSessionInformation) {
        let was_in = self
            .authenticated
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&ses.actor.get_id());
        let name = ses.peer_name.map(|n| n.name).unwrap_or_else(|| "?".into());
        if was_in {
            tracing::warn!(peer = %ses.peer_addr, node = %name, "peer left");
        } else {
            tracing::warn!(
                peer = %ses.peer_addr,
                node = %name,
                "peer refused: it did not authenticate (wrong cookie, or not a Repo Runner node)"
            );
        }
    }

    fn node_session_authenticated(&self, ses: ractor_cluster::node::NodeServerSessionInformation) {
        self.authenticated
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(ses.actor.get_id());
        tracing::info!(peer = %ses.peer_addr, "peer authenticated");
    }
}

/// Starts the cluster layer of `node`: the NodeServer, then the NodeHost, then (for a
/// worker) the connection to the head, which must authenticate within [`JOIN_TIMEOUT`].
///
/// # Errors
/// If the port cannot be bound, the NodeHost cannot be spawned, or the head refuses this
/// node (a wrong cookie) or cannot be reached.
pub async fn start(node: &Node, config: &ClusterConfig) -> anyhow::Result<ClusterHandle> {
    let port = if config.port == 0 {
        std::net::TcpListener::bind(("0.0.0.0", 0))?
            .local_addr()?
            .port()
    } else {
        config.port
    };
    let server = NodeServer::new(
        port,
        config.cookie.clone(),
        node.id().to_string(),
        config.advertise_host.clone(),
        None,
        Some(NodeConnectionMode::Transitive),
    );
    let (server, task) = Actor::spawn(None, server, ())
        .await
        .context("starting the node server")?;
    let _ = server.cast(NodeServerMessage::SubscribeToEvents {
        id: "reporunner.sessions".into(),
        subscription: Box::new(SessionLog::default()),
    });
    let address = format!("{}:{port}", config.advertise_host);
    wait_listening(port).await?;
    let host_config = NodeHostConfig {
        head: config.head,
        address: address.clone(),
        labels: config.labels.clone(),
        models: config.models.clone(),
        heartbeat_ms: None,
        down_after_ms: config.down_after_ms,
    };
    node.admin()
        .spawn_agent(
            node_host::KIND,
            AgentId::new(node_host::KIND),
            &serde_json::to_string(&host_config)?,
        )
        .await
        .context("starting the node host")?;
    let handle = ClusterHandle {
        server,
        task,
        address,
    };
    if let Some(head) = &config.join
        && let Err(e) = join(&handle.server, head).await
    {
        handle.stop().await;
        return Err(e);
    }
    Ok(handle)
}

/// Waits until something listens on `port`, read from `/proc/net/tcp{,6}`: connecting
/// would make the node log a peer that never authenticated, and binding to test could
/// take the port from the NodeServer.
async fn wait_listening(port: u16) -> anyhow::Result<()> {
    let needle = format!(":{port:04X} ");
    let listening = || {
        ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|f| {
            std::fs::read_to_string(f).is_ok_and(|t| {
                t.lines().skip(1).any(|l| {
                    let cols: Vec<&str> = l.split_whitespace().collect();
                    cols.len() > 3 && format!("{} ", cols[1]).contains(&needle) && cols[3] == "0A"
                })
            })
        })
    };
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        if listening() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bail!("the node server did not listen on port {port}")
}

/// Connects to `head` and waits until the session is authenticated and ready.
async fn join(server: &ActorRef<NodeServerMessage>, head: &str) -> anyhow::Result<()> {
    ractor_cluster::client_connect(server, head)
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach the head at {head}: {e:?}"))?;
    // Any ready session will do: in transitive mode the head may also connect back, and
    // of two sessions between the same nodes one is closed (the Erlang rule), which may be
    // the one this node opened.
    let started = Instant::now();
    let mut seen = false;
    while started.elapsed() < JOIN_TIMEOUT {
        let sessions = ractor::call_t!(server, NodeServerMessage::GetSessions, 2_000)
            .map_err(|e| anyhow::anyhow!("the node server did not answer: {e}"))?;
        for s in sessions.values() {
            let ready: bool =
                ractor::call_t!(s.actor, NodeSessionMessage::GetReadyState, 2_000).unwrap_or(false);
            if ready {
                return Ok(());
            }
        }
        if seen && sessions.is_empty() {
            break;
        }
        seen |= !sessions.is_empty();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!(
        "the head at {head} refused this node: it did not accept the cookie (check --cookie or REPORUNNER_COOKIE)"
    )
}

/// Joins the cluster whose head listens at `address` as a client node (with no NodeHost of
/// its own), runs `work` with every node's host and its info, and leaves.
async fn as_client<T, F, Fut>(address: &str, cookie: &str, work: F) -> anyhow::Result<T>
where
    F: FnOnce(Vec<(NodeInfo, ActorRef<NodeHostMessage>)>) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let name = format!("client-{}", std::process::id());
    let port = std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()?
        .port();
    let server = NodeServer::new(
        port,
        cookie.to_string(),
        name,
        "127.0.0.1".into(),
        None,
        Some(NodeConnectionMode::Transitive),
    )
    .with_listen_addr(std::net::Ipv4Addr::LOCALHOST.into());
    let (server, task) = Actor::spawn(None, server, ()).await?;
    let result = async {
        join(&server, address).await?;
        // The groups arrive with the session's state exchange (and other nodes' with the
        // transitive connections): wait until the hosts seen stop changing.
        let started = Instant::now();
        let mut hosts = Vec::new();
        let mut stable = 0;
        while started.elapsed() < Duration::from_secs(3) {
            let now = ractor::pg::get_members(&NODE_HOSTS_GROUP.to_string());
            if now.len() == hosts.len() && !now.is_empty() {
                stable += 1;
                if stable >= 5 {
                    break;
                }
            } else {
                stable = 0;
            }
            hosts = now;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut out = Vec::new();
        for cell in hosts {
            let host: ActorRef<NodeHostMessage> = cell.into();
            if let Ok(Ok(info)) =
                ractor::call_t!(host, NodeHostMessage::GetInfo, 5_000).map(Wire::open)
            {
                out.push((info, host));
            }
        }
        out.sort_by(|(a, _), (b, _)| (!a.head, a.node.as_str()).cmp(&(!b.head, b.node.as_str())));
        work(out).await
    }
    .await;
    server.stop(None);
    let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    result
}

/// Asks the head whose NodeServer listens at `address` for every node it has seen, up
/// or down.
///
/// # Errors
/// If the head cannot be reached or refuses the cookie.
pub async fn status(address: &str, cookie: &str) -> anyhow::Result<Vec<Member>> {
    as_client(address, cookie, |hosts| async move {
        let (_, head) = hosts
            .into_iter()
            .find(|(info, _)| info.head)
            .context("the cluster shows no head")?;
        let members = ractor::call_t!(head, NodeHostMessage::GetMembers, 10_000)
            .map_err(|e| anyhow::anyhow!("the head did not answer: {e}"))?
            .open()?;
        Ok(members)
    })
    .await
}

/// Asks the head's NodeHost to place an agent on the node that fits it.
///
/// # Errors
/// If the head cannot be reached, refuses the cookie, or cannot place the agent (no node
/// fits, an unknown kind, a name taken).
pub async fn place(
    address: &str,
    cookie: &str,
    request: PlaceRequest,
) -> anyhow::Result<AgentInfo> {
    as_client(address, cookie, |hosts| async move {
        let (_, head) = hosts
            .into_iter()
            .find(|(info, _)| info.head)
            .context("the cluster shows no head")?;
        let info = ractor::call_t!(head, NodeHostMessage::Place, 60_000, Wire::new(request))
            .map_err(|e| anyhow::anyhow!("the head did not answer: {e}"))?
            .open()??;
        Ok(info)
    })
    .await
}
