//! The cluster layer of a node: a ractor_cluster `NodeServer` (cookie authentication,
//! transitive connections, `TCP_NODELAY` on every socket, optional mutual TLS), the node's
//! `NodeHost` (spawned through the Admin, so it is supervised and restarted like any
//! agent), joining a head, and asking a running cluster for its nodes.
//!
//! With TLS, every node presents a certificate signed by the cluster's CA and checks its
//! peer's against it, in both directions; a plaintext peer never gets past the handshake.
//! ractor_cluster's transitive mode connects to the peers it learns of in plaintext, so a
//! TLS node runs in isolated mode and meshes itself: a worker asks the head for the members
//! and connects to each one it has no session with, over TLS.

use crate::boot::Node;
use anyhow::{Context as _, bail};
use ractor::{Actor, ActorRef};
use ractor_cluster::node::NodeConnectionMode;
use ractor_cluster::{NodeEventSubscription, NodeServer, NodeServerMessage, NodeSessionMessage};
use reporunner_actors::agents::node_host::{self, NodeHostConfig};
use reporunner_protocols::Wire;
use reporunner_protocols::admin::AgentInfo;
use reporunner_protocols::cluster::{
    Member, NODE_HOSTS_GROUP, NodeHostMessage, NodeState, NodeTree, PlaceRequest, Placement,
    Refusal, RefusalReason,
};
use reporunner_protocols::ids::{AgentId, NodeId};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

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
    /// Mutual TLS between nodes, when set.
    pub tls: Option<TlsFiles>,
}

/// The PEM files of a node's TLS: its certificate chain and key, and the cluster's CA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The node's certificate chain.
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
    /// The CA that signs every node's certificate.
    pub ca: PathBuf,
}

/// A node's TLS, both ways: it accepts peers whose certificate the CA signed, and it
/// connects to peers presenting its own.
#[derive(Clone)]
pub struct Tls {
    acceptor: tokio_rustls::TlsAcceptor,
    connector: tokio_rustls::TlsConnector,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tls { .. }")
    }
}

impl Tls {
    /// Loads the PEM files and builds both sides of TLS 1.2/1.3 with client
    /// certificates required.
    ///
    /// # Errors
    /// A file that cannot be read or parsed, a key that does not match the certificate,
    /// or a CA with no certificate.
    pub fn load(files: &TlsFiles) -> anyhow::Result<Tls> {
        let read_certs = |path: &Path| -> anyhow::Result<Vec<CertificateDer<'static>>> {
            let certs = CertificateDer::pem_file_iter(path)
                .with_context(|| format!("reading {}", path.display()))?
                .collect::<Result<Vec<_>, _>>()
                .with_context(|| format!("{} holds no valid PEM certificate", path.display()))?;
            if certs.is_empty() {
                bail!("{} holds no certificate", path.display());
            }
            Ok(certs)
        };
        let certs = read_certs(&files.cert)?;
        let key = PrivateKeyDer::from_pem_file(&files.key)
            .with_context(|| format!("reading the private key {}", files.key.display()))?;
        let mut roots = rustls::RootCertStore::empty();
        for ca in read_certs(&files.ca)? {
            roots
                .add(ca)
                .with_context(|| format!("{} is not a usable CA", files.ca.display()))?;
        }
        let roots = Arc::new(roots);
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            roots.clone(),
            provider.clone(),
        )
        .build()
        .context("building the client certificate check")?;
        let server = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs.clone(), key.clone_key())
            .context("the node's key does not match its certificate")?;
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_client_auth_cert(certs, key)
            .context("the node's key does not match its certificate")?;
        Ok(Tls {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(server)),
            connector: tokio_rustls::TlsConnector::from(Arc::new(client)),
        })
    }
}

/// Connects `server` to the node at `address` (`host:port`), over TLS when given.
async fn connect(
    server: &ActorRef<NodeServerMessage>,
    address: &str,
    tls: Option<&Tls>,
) -> anyhow::Result<()> {
    match tls {
        None => ractor_cluster::client_connect(server, address)
            .await
            .map_err(|e| anyhow::anyhow!("cannot reach {address}: {e}")),
        Some(tls) => {
            let host = address
                .rsplit_once(':')
                .map(|(h, _)| h.trim_matches(['[', ']']))
                .with_context(|| format!("{address} is not HOST:PORT"))?;
            let name = ServerName::try_from(host.to_string())
                .with_context(|| format!("{host} is not a host name for TLS"))?;
            ractor_cluster::client_connect_enc(server, address, tls.connector.clone(), name)
                .await
                .map_err(|e| anyhow::anyhow!("cannot reach {address} over TLS: {e}"))
        }
    }
}

/// A node's running cluster layer.
#[derive(Debug)]
pub struct ClusterHandle {
    server: ActorRef<NodeServerMessage>,
    task: JoinHandle<()>,
    mesh: Option<JoinHandle<()>>,
    /// The address this node listens on.
    pub address: String,
}

impl ClusterHandle {
    /// Stops the NodeServer, which closes every session.
    pub async fn stop(self) {
        if let Some(mesh) = &self.mesh {
            mesh.abort();
        }
        self.server.stop(Some("shutdown".into()));
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }
}

/// Logs peers that leave, and peers that leave before they authenticate: a wrong cookie,
/// a TLS mismatch, or not a Repo Runner node at all. Of two connections between the same
/// two nodes, ractor_cluster closes one; that one is not a refusal.
struct SessionLog {
    /// This node's own name.
    own: String,
    /// The authenticated sessions, with their peers' names.
    authenticated: std::sync::Mutex<std::collections::HashMap<ractor::ActorId, String>>,
    /// Why the last peer was refused, for a worker's join to report.
    refusal: std::sync::Arc<std::sync::Mutex<Option<String>>>,
    /// The registered name of this node's NodeHost, which keeps the refusals for
    /// `cluster status`.
    host: String,
}

/// Why a peer that left before it authenticated was refused: ractor_cluster's server learns
/// a peer's name before it challenges its cookie, so a named peer failed the challenge (or
/// has this node's own name), and one that never named itself failed the handshake before
/// it (TLS, or not a ractor_cluster node at all).
fn refusal_reason(own: &str, name: Option<&str>) -> RefusalReason {
    match name {
        // ractor_cluster names a peer `NAME@HOST`.
        Some(name) if name.split_once('@').map_or(name, |(n, _)| n) == own => {
            RefusalReason::NameClash
        }
        Some(_) => RefusalReason::Cookie,
        None => RefusalReason::Handshake,
    }
}

impl SessionLog {
    fn admit(&self, ses: &ractor_cluster::node::NodeServerSessionInformation) -> bool {
        let name = ses
            .peer_name
            .as_ref()
            .map(|n| n.name.clone())
            .unwrap_or_default();
        self.authenticated
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(ses.actor.get_id(), name)
            .is_none()
    }
}

impl NodeEventSubscription for SessionLog {
    fn node_session_opened(&self, ses: ractor_cluster::node::NodeServerSessionInformation) {
        tracing::debug!(peer = %ses.peer_addr, "peer connected");
    }

    fn node_session_disconnected(&self, ses: ractor_cluster::node::NodeServerSessionInformation) {
        let mut authenticated = self.authenticated.lock().unwrap_or_else(|e| e.into_inner());
        let was_in = authenticated.remove(&ses.actor.get_id()).is_some();
        let peer_name = ses.peer_name.map(|n| n.name).filter(|n| !n.is_empty());
        let name = peer_name.clone().unwrap_or_else(|| "?".into());
        if was_in {
            tracing::warn!(peer = %ses.peer_addr, node = %name, "peer left");
        } else if authenticated.values().any(|n| *n == name) {
            tracing::debug!(peer = %ses.peer_addr, node = %name, "duplicate connection closed");
        } else {
            let reason = refusal_reason(&self.own, peer_name.as_deref());
            let why = match reason {
                RefusalReason::NameClash => format!(
                    "the peer has this node's own name {}: two nodes cannot share a name (give one another --name)",
                    self.own
                ),
                other => other.explain().to_string(),
            };
            tracing::warn!(peer = %ses.peer_addr, node = %name, reason = ?reason, "peer refused: {why}");
            *self.refusal.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
            if let Some(host) = reporunner_runtime::naming::lookup::<NodeHostMessage>(&self.host) {
                let _ = host.cast(NodeHostMessage::Refused(Wire::new(Refusal {
                    peer: ses.peer_addr.to_string(),
                    node: peer_name,
                    reason,
                    detail: None,
                    count: 1,
                    last_ms: reporunner_actors::runs::now_ms(),
                })));
            }
        }
    }

    fn node_session_authenticated(&self, ses: ractor_cluster::node::NodeServerSessionInformation) {
        if self.admit(&ses) {
            tracing::info!(peer = %ses.peer_addr, "peer authenticated");
        }
    }

    fn node_session_ready(&self, ses: ractor_cluster::node::NodeServerSessionInformation) {
        if self.admit(&ses) {
            tracing::info!(peer = %ses.peer_addr, "peer authenticated");
        }
    }
}

/// Starts the cluster layer of `node`: the NodeServer, then the NodeHost, then (for a
/// worker) the connection to the head, which must authenticate within [`JOIN_TIMEOUT`].
///
/// # Errors
/// If the port cannot be bound, the TLS files cannot be used, the NodeHost cannot be
/// spawned, or the head refuses this node (a wrong cookie, TLS on one side only, a
/// certificate the CA did not sign) or cannot be reached.
pub async fn start(node: &Node, config: &ClusterConfig) -> anyhow::Result<ClusterHandle> {
    let tls = config.tls.as_ref().map(Tls::load).transpose()?;
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
        tls.as_ref()
            .map(|t| ractor_cluster::IncomingEncryptionMode::Tls(t.acceptor.clone())),
        Some(connection_mode(tls.as_ref())),
    );
    let (server, task) = Actor::spawn(None, server, ())
        .await
        .context("starting the node server")?;
    let refusal = std::sync::Arc::new(std::sync::Mutex::new(None));
    let _ = server.cast(NodeServerMessage::SubscribeToEvents {
        id: "reporunner.sessions".into(),
        subscription: Box::new(SessionLog {
            own: node.id().to_string(),
            authenticated: std::sync::Mutex::default(),
            refusal: refusal.clone(),
            host: node.namespace().agent(&AgentId::new(node_host::KIND)),
        }),
    });
    let address = format!("{}:{port}", config.advertise_host);
    wait_listening(port).await?;
    // The models it can serve: the configured ones, and those installed here.
    let mut models = config.models.clone();
    let found = node.models();
    if reporunner_runtime::models::locate::minilm(found).is_ok() {
        models.push(reporunner_runtime::models::locate::MINILM.to_string());
    }
    if reporunner_runtime::models::locate::smollm2(found).is_ok() {
        models.push(reporunner_runtime::models::locate::SMOLLM2.to_string());
    }
    models.sort();
    models.dedup();
    let host_config = NodeHostConfig {
        head: config.head,
        address: address.clone(),
        labels: config.labels.clone(),
        models,
        heartbeat_ms: None,
        down_after_ms: config.down_after_ms,
    };
    spawn_host(node, &host_config).await?;
    let mut handle = ClusterHandle {
        server,
        task,
        mesh: None,
        address,
    };
    if let Some(head) = &config.join {
        if let Err(e) = join(&handle.server, head, tls.as_ref(), Some(&refusal)).await {
            handle.stop().await;
            return Err(e);
        }
        handle.mesh = Some(tokio::spawn(maintain(
            handle.server.clone(),
            node.id().to_string(),
            head.clone(),
            tls,
        )));
    }
    Ok(handle)
}

/// Transitive without TLS; with it, isolated, and [`mesh`] connects the peers.
fn connection_mode(tls: Option<&Tls>) -> NodeConnectionMode {
    if tls.is_some() {
        NodeConnectionMode::Isolated
    } else {
        NodeConnectionMode::Transitive
    }
}

/// How often a worker checks its connections.
const MESH_EVERY: Duration = Duration::from_secs(1);

/// A worker's connections, every [`MESH_EVERY`]: it joins the head again when it has lost
/// it (the head restarted, or the network dropped), and with TLS it makes the transitive
/// connections itself: it asks the head for the members and connects to each up node it
/// has no session with.
async fn maintain(server: ActorRef<NodeServerMessage>, me: String, join: String, tls: Option<Tls>) {
    let mut lost_since: Option<Instant> = None;
    loop {
        tokio::time::sleep(MESH_EVERY).await;
        let Ok(sessions) = ractor::call_t!(server, NodeServerMessage::GetSessions, 2_000) else {
            return;
        };
        let Some(head) = find_head().await else {
            if lost_since.is_none() {
                tracing::warn!(head = %join, "lost the head: joining it again");
                lost_since = Some(Instant::now());
            }
            if let Err(e) = connect(&server, &join, tls.as_ref()).await {
                tracing::debug!(error = %e, "the head is not back yet");
            }
            continue;
        };
        if let Some(since) = lost_since.take() {
            tracing::info!(head = %join, after_ms = since.elapsed().as_millis() as u64, "joined the head again");
        }
        let Some(tls) = &tls else {
            continue;
        };
        // ractor_cluster names a peer `node@host`.
        let peers: std::collections::HashSet<String> = sessions
            .values()
            .filter_map(|s| s.peer_name.as_ref())
            .map(|p| p.name.split('@').next().unwrap_or_default().to_string())
            .collect();
        let Ok(Ok(members)) =
            ractor::call_t!(head, NodeHostMessage::GetMembers, 2_000).map(|w| w.open())
        else {
            continue;
        };
        for m in members {
            let name = m.info.node.to_string();
            if m.state == NodeState::Up
                && name != me
                && !peers.contains(&name)
                && let Err(e) = connect(&server, &m.info.address, Some(tls)).await
            {
                tracing::warn!(node = %name, error = %e, "cannot connect to a member");
            }
        }
    }
}

/// The head's NodeHost, among the hosts this node sees.
async fn find_head() -> Option<ActorRef<NodeHostMessage>> {
    for cell in ractor::pg::get_members(&NODE_HOSTS_GROUP.to_string()) {
        let host: ActorRef<NodeHostMessage> = cell.into();
        if let Ok(Ok(info)) = ractor::call_t!(host, NodeHostMessage::GetInfo, 2_000).map(Wire::open)
            && info.head
        {
            return Some(host);
        }
    }
    None
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
async fn join(
    server: &ActorRef<NodeServerMessage>,
    head: &str,
    tls: Option<&Tls>,
    refusal: Option<&std::sync::Mutex<Option<String>>>,
) -> anyhow::Result<()> {
    connect(server, head, tls)
        .await
        .with_context(|| format!("cannot join the head at {head}"))?;
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
    // What this node's session log told apart: a name both nodes have, or a head that
    // named itself and then failed this node's cookie challenge (so not a TLS mismatch).
    let seen = refusal.and_then(|r| r.lock().unwrap_or_else(|e| e.into_inner()).clone());
    if let Some(why) = seen.as_deref().filter(|why| why.contains("own name")) {
        bail!("the head at {head} refused this node: {why}");
    }
    if seen.as_deref() == Some(RefusalReason::Cookie.explain()) {
        bail!(
            "the head at {head} refused this node: it did not accept the cookie (check --cookie \
             or REPORUNNER_COOKIE)"
        );
    }
    // The head never named itself: the handshake failed before the cookie was asked.
    if seen.as_deref() == Some(RefusalReason::Handshake.explain()) {
        bail!(
            "the head at {head} refused this node before the cookie was asked: {}",
            if tls.is_some() {
                "it did not accept this node's certificate (another CA?), or it does not use TLS"
            } else {
                "it wants TLS (--tls-cert, --tls-key, --tls-ca), or it is not a Repo Runner node"
            }
        );
    }
    bail!(
        "the head at {head} refused this node: it did not accept the cookie (check --cookie or \
         REPORUNNER_COOKIE){}",
        if tls.is_some() {
            " or this node's certificate"
        } else {
            ", or it wants TLS (--tls-cert, --tls-key, --tls-ca)"
        }
    )
}

/// How a client reaches a running cluster: the head's address, the cookie, and TLS files
/// when the cluster uses TLS.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The head's NodeServer, `host:port`.
    pub address: String,
    /// The cluster's shared secret.
    pub cookie: String,
    /// The client's TLS, when the cluster uses it.
    pub tls: Option<TlsFiles>,
}

/// Joins the cluster whose head listens at `client.address` as a client node (isolated,
/// with no NodeHost of its own), runs `work` with the head's host, and leaves.
async fn with_head<T, F, Fut>(client: &ClientConfig, work: F) -> anyhow::Result<T>
where
    F: FnOnce(ActorRef<NodeHostMessage>) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let tls = client.tls.as_ref().map(Tls::load).transpose()?;
    let name = format!("client-{}", std::process::id());
    let port = std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()?
        .port();
    let server = NodeServer::new(
        port,
        client.cookie.clone(),
        name,
        "127.0.0.1".into(),
        tls.as_ref()
            .map(|t| ractor_cluster::IncomingEncryptionMode::Tls(t.acceptor.clone())),
        Some(NodeConnectionMode::Isolated),
    )
    .with_listen_addr(std::net::Ipv4Addr::LOCALHOST.into());
    let (server, task) = Actor::spawn(None, server, ()).await?;
    let result = async {
        join(&server, &client.address, tls.as_ref(), None).await?;
        // The head's host arrives with the session's state exchange.
        let started = Instant::now();
        loop {
            if let Some(head) = find_head().await {
                break work(head).await;
            }
            if started.elapsed() > Duration::from_secs(5) {
                bail!("the node at {} shows no head", client.address);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    .await;
    server.stop(None);
    let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    result
}

/// Asks the head for every node it has seen and for the agents it placed, with where
/// they run, over one connection.
///
/// # Errors
/// If the head cannot be reached or refuses the client.
pub async fn overview(client: &ClientConfig) -> anyhow::Result<Overview> {
    with_head(client, |head| async move {
        let members = ractor::call_t!(head, NodeHostMessage::GetMembers, 10_000)
            .map_err(|e| anyhow::anyhow!("the head did not answer: {e}"))?
            .open()?;
        let placements = ractor::call_t!(head, NodeHostMessage::GetPlacements, 10_000)
            .map_err(|e| anyhow::anyhow!("the head did not answer: {e}"))?
            .open()?;
        let refusals = ractor::call_t!(head, NodeHostMessage::GetRefusals, 10_000)
            .map_err(|e| anyhow::anyhow!("the head did not answer: {e}"))?
            .open()?;
        Ok(Overview {
            members,
            placements,
            refusals,
        })
    })
    .await
}

/// What the head says of its cluster: [`overview`]'s answer.
#[derive(Debug, Clone)]
pub struct Overview {
    /// Every node it has seen, up or down.
    pub members: Vec<Member>,
    /// The agents it placed, where they run, and why the unplaced ones are.
    pub placements: Vec<Placement>,
    /// The peers it refused lately, newest first, with the reason.
    pub refusals: Vec<Refusal>,
}

/// Asks the head for every node with its Admin's live tree.
///
/// # Errors
/// If the head cannot be reached or refuses the client.
pub async fn tree(client: &ClientConfig) -> anyhow::Result<Vec<NodeTree>> {
    with_head(client, |head| async move {
        Ok(ractor::call_t!(head, NodeHostMessage::GetTree, 20_000)
            .map_err(|e| anyhow::anyhow!("the head did not answer: {e}"))?
            .open()?)
    })
    .await
}

/// Asks the head to stop an agent it placed and forget its placement; returns the node
/// it ran on, if any.
///
/// # Errors
/// If the head cannot be reached, refuses the client, or placed no agent of that name.
pub async fn unplace(client: &ClientConfig, name: AgentId) -> anyhow::Result<Option<NodeId>> {
    with_head(client, |head| async move {
        Ok(
            ractor::call_t!(head, NodeHostMessage::Unplace, 30_000, Wire::new(name))
                .map_err(|e| anyhow::anyhow!("the head did not answer: {e}"))?
                .open()??,
        )
    })
    .await
}

/// Asks the head to place an agent on the node that fits it.
///
/// # Errors
/// If the head cannot be reached, refuses the client, or cannot place the agent (no node
/// fits, the tier forbids its GPU, an unknown kind, a name taken).
pub async fn place(client: &ClientConfig, request: PlaceRequest) -> anyhow::Result<AgentInfo> {
    with_head(client, |head| async move {
        let info = ractor::call_t!(head, NodeHostMessage::Place, 60_000, Wire::new(request))
            .map_err(|e| anyhow::anyhow!("the head did not answer: {e}"))?
            .open()??;
        Ok(info)
    })
    .await
}

/// Starts the host agent of a node outside any cluster, at `address`: the API's
/// `/v1/cluster/nodes` then shows this node, as a cluster of one.
///
/// # Errors
/// If the Admin cannot spawn it.
pub async fn host_alone(node: &Node, address: &str) -> anyhow::Result<()> {
    let config = NodeHostConfig {
        head: true,
        address: address.to_string(),
        labels: Default::default(),
        models: Vec::new(),
        heartbeat_ms: None,
        down_after_ms: None,
    };
    spawn_host(node, &config).await
}

/// Spawns the node's host agent with `config`. A restarted node's Admin restores the host
/// of its last run from the checkpoint, with the settings of then: this run's replace it.
async fn spawn_host(node: &Node, config: &NodeHostConfig) -> anyhow::Result<()> {
    let admin = node.admin();
    let _ = admin.stop_agent(AgentId::new(node_host::KIND)).await;
    admin
        .spawn_agent(
            node_host::KIND,
            AgentId::new(node_host::KIND),
            &serde_json::to_string(config)?,
        )
        .await
        .context("starting the node host")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_told_apart_by_how_far_the_peer_got() {
        assert_eq!(
            refusal_reason("vm-7400", Some("vm-7400@127.0.0.1")),
            RefusalReason::NameClash
        );
        assert_eq!(
            refusal_reason("vm-7400", Some("vm-7401@127.0.0.1")),
            RefusalReason::Cookie
        );
        assert_eq!(refusal_reason("vm-7400", None), RefusalReason::Handshake);
    }
}
