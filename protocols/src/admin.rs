//! The Admin's messages: spawn, stop and restart agents at runtime, and read the live tree.
//!
//! [`AdminMessage`] is a cluster message, so a console or another node can send it. Most code
//! should go through [`AdminClient`], which wraps the request and unwraps the typed reply.

use crate::business::{ClientInfo, ClientSpec};
use crate::codec::{Wire, WireError};
use crate::ids::{AgentId, NodeId};
use crate::kinds::AgentKindDescriptor;
use ractor::{ActorRef, RpcReplyPort, rpc::CallResult};
use ractor_cluster_derive::RactorClusterMessage;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How long [`AdminClient`] waits for an answer by default.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A request to spawn one agent of a registered kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpawnAgentRequest {
    /// The kind, as registered in the kind registry.
    pub kind: String,
    /// The agent's logical name. It must be unused on the node.
    pub name: AgentId,
    /// The kind's configuration, as a JSON document. `{}` or an empty string gives the
    /// kind's defaults.
    pub config: String,
}

/// What the Admin knows of a running agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentInfo {
    /// Its logical name.
    pub name: AgentId,
    /// Its kind.
    pub kind: String,
    /// The node it runs on.
    pub node: NodeId,
    /// The current incarnation's ractor actor id. It changes on every restart.
    pub actor_id: String,
}

/// The state of one actor in the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorStatus {
    /// Running and answering messages.
    Running,
    /// Failed, and waiting for its restart (backoff).
    Restarting,
    /// Stopped, and not to be restarted.
    Stopped,
}

impl std::fmt::Display for ActorStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ActorStatus::Running => "running",
            ActorStatus::Restarting => "restarting",
            ActorStatus::Stopped => "stopped",
        })
    }
}

/// One actor of the live supervision tree and its children.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorTree {
    /// Its logical name.
    pub name: String,
    /// Its kind, such as `admin`, `supervisor`, `port-manager` or an agent kind.
    pub kind: String,
    /// The node it runs on.
    pub node: NodeId,
    /// Whether it is running.
    pub status: ActorStatus,
    /// How many times its supervisor has restarted it.
    pub restarts: u32,
    /// How long the current incarnation has run, in milliseconds.
    pub uptime_ms: u64,
    /// The actors it supervises, in start order.
    pub children: Vec<ActorTree>,
}

impl ActorTree {
    /// Finds the actor named `name` anywhere in this tree.
    pub fn find(&self, name: &str) -> Option<&ActorTree> {
        if self.name == name {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(name))
    }

    /// Returns every actor of the tree, depth first, with its depth.
    pub fn flatten(&self) -> Vec<(usize, &ActorTree)> {
        let mut out = Vec::new();
        let mut stack = vec![(0usize, self)];
        while let Some((depth, node)) = stack.pop() {
            out.push((depth, node));
            for child in node.children.iter().rev() {
                stack.push((depth + 1, child));
            }
        }
        out
    }
}

/// Why the Admin refused or failed a request. It crosses the wire, so payloads are strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// No kind of that name is registered.
    #[error("unknown agent kind {kind:?}; registered kinds: {known:?}")]
    UnknownKind {
        /// The kind asked for.
        kind: String,
        /// The kinds that are registered.
        known: Vec<String>,
    },
    /// The agent name is not a valid id.
    #[error("invalid agent name {name:?}: {reason}")]
    InvalidName {
        /// The name asked for.
        name: String,
        /// Why it is invalid.
        reason: String,
    },
    /// An actor of that name already runs on this node.
    #[error("an actor named {name:?} is already running")]
    NameTaken {
        /// The name asked for.
        name: String,
    },
    /// No agent of that name is supervised here.
    #[error("no agent named {name:?}")]
    NotFound {
        /// The name asked for.
        name: String,
    },
    /// The kind refused the configuration.
    #[error("invalid config for kind {kind:?}: {reason}")]
    InvalidConfig {
        /// The kind.
        kind: String,
        /// What was wrong with it.
        reason: String,
    },
    /// The actor could not be started or stopped.
    #[error("agent {name:?} failed: {reason}")]
    Failed {
        /// The agent.
        name: String,
        /// What went wrong.
        reason: String,
    },
    /// No node of the cluster offers what the agent needs.
    #[error("no node fits {kind:?}: {reason}")]
    NoNodeFits {
        /// The kind.
        kind: String,
        /// What it needs, and what each node lacks.
        reason: String,
    },
    /// The asker's tier does not allow the request.
    #[error("not allowed for the {tier} tier: {reason}")]
    Forbidden {
        /// The asker's tier.
        tier: String,
        /// What the tier lacks.
        reason: String,
    },
    /// The Admin did not answer: it is down, restarting or too slow.
    #[error("the admin is unavailable: {reason}")]
    Unavailable {
        /// What the call reported.
        reason: String,
    },
    /// The request or reply did not survive the wire.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// A business client of that name exists.
    #[error("a business client named {name:?} exists")]
    ClientExists {
        /// The name asked for.
        name: String,
    },
    /// No business client of that name exists.
    #[error("no business client named {name:?}")]
    NoClient {
        /// The name asked for.
        name: String,
    },
}

/// One agent as the Admin's checkpoint records it: enough to spawn it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentCheckpoint {
    /// Its logical name.
    pub name: AgentId,
    /// Its kind.
    pub kind: String,
    /// Its configuration, as JSON.
    pub config: String,
}

/// The Admin's checkpoint of its tree: the agents it spawned, in spawn order, and the
/// business clients it created. A head node that restarts spawns them again from it.
/// Stored as `admin_tree`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminTreeCheckpoint {
    /// The agents, in spawn order.
    pub agents: Vec<AgentCheckpoint>,
    /// The business clients, in creation order; each one's settings are in its own
    /// checkpoint (`business_<client>`).
    #[serde(default)]
    pub clients: Vec<String>,
}

impl crate::record::Record for AdminTreeCheckpoint {
    const KIND: &'static str = "admin_tree";
    const VERSION: u16 = 1;
}

/// A restart whose backoff has passed. The Admin sends it to itself after the delay. One
/// forged by a peer is harmless: it is ignored unless it names the restart that is pending,
/// and then it only ends that child's backoff early.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartDue {
    /// The child to restart.
    pub child: String,
    /// The restart's generation, which tells a current ticket from a stale one.
    pub generation: u64,
}

/// The Admin's message enum. Variants are wire tags: never rename one.
#[derive(RactorClusterMessage)]
pub enum AdminMessage {
    /// Spawns an agent of a registered kind under the AgentSupervisor.
    #[rpc]
    SpawnAgent(
        Wire<SpawnAgentRequest>,
        RpcReplyPort<Wire<Result<AgentInfo, AdminError>>>,
    ),
    /// Stops an agent and removes it from supervision.
    #[rpc]
    StopAgent(Wire<AgentId>, RpcReplyPort<Wire<Result<(), AdminError>>>),
    /// Stops an agent and starts it again from its spec, under the same name.
    #[rpc]
    RestartAgent(
        Wire<AgentId>,
        RpcReplyPort<Wire<Result<AgentInfo, AdminError>>>,
    ),
    /// Returns the live supervision tree, rooted at the Admin.
    #[rpc]
    GetTree(RpcReplyPort<Wire<ActorTree>>),
    /// Returns the registered agent kinds.
    #[rpc]
    GetKinds(RpcReplyPort<Wire<Vec<AgentKindDescriptor>>>),
    /// A restart of one of the Admin's own children whose backoff has passed.
    RestartDue(Wire<RestartDue>),
    /// Writes the tree checkpoint now and waits until it is on disk; answers the number of
    /// agents it holds (0 on a node without a store, which keeps no checkpoint).
    #[rpc]
    Checkpoint(RpcReplyPort<Wire<Result<usize, AdminError>>>),
    /// Creates a business client's orchestrator, with its own users, store scope and
    /// workflow, and checkpoints the tree.
    #[rpc]
    CreateClient(
        Wire<ClientSpec>,
        RpcReplyPort<Wire<Result<ClientInfo, AdminError>>>,
    ),
    /// Returns the business clients, in creation order.
    #[rpc]
    GetClients(RpcReplyPort<Wire<Vec<ClientInfo>>>),
    /// Stops a business client's orchestrator and forgets it; its data stays in the store
    /// (a client created again under that name finds it).
    #[rpc]
    RemoveClient(Wire<String>, RpcReplyPort<Wire<Result<(), AdminError>>>),
}

impl std::fmt::Debug for AdminMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AdminMessage::SpawnAgent(..) => "SpawnAgent",
            AdminMessage::StopAgent(..) => "StopAgent",
            AdminMessage::RestartAgent(..) => "RestartAgent",
            AdminMessage::GetTree(..) => "GetTree",
            AdminMessage::GetKinds(..) => "GetKinds",
            AdminMessage::RestartDue(..) => "RestartDue",
            AdminMessage::Checkpoint(..) => "Checkpoint",
            AdminMessage::CreateClient(..) => "CreateClient",
            AdminMessage::GetClients(..) => "GetClients",
            AdminMessage::RemoveClient(..) => "RemoveClient",
        })
    }
}

/// A typed handle on the Admin: sends the request and unwraps the reply.
///
/// ```no_run
/// # async fn demo(admin: ractor::ActorRef<reporunner_protocols::admin::AdminMessage>) {
/// use reporunner_protocols::admin::AdminClient;
/// use reporunner_protocols::ids::AgentId;
/// let client = AdminClient::new(admin);
/// let info = client.spawn_agent("env-detector", AgentId::new("env"), "{}").await.unwrap();
/// println!("{} runs on {}", info.name, info.node);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct AdminClient {
    admin: ActorRef<AdminMessage>,
    timeout: Duration,
}

impl AdminClient {
    /// Wraps a reference to the Admin, with [`DEFAULT_CALL_TIMEOUT`].
    pub fn new(admin: ActorRef<AdminMessage>) -> Self {
        Self {
            admin,
            timeout: DEFAULT_CALL_TIMEOUT,
        }
    }

    /// Sets how long each call waits for its answer.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Returns the wrapped reference.
    pub fn actor(&self) -> &ActorRef<AdminMessage> {
        &self.admin
    }

    /// Spawns an agent of `kind` named `name`, with `config` as JSON.
    ///
    /// # Errors
    /// The Admin's [`AdminError`], or [`AdminError::Unavailable`] if it did not answer.
    pub async fn spawn_agent(
        &self,
        kind: &str,
        name: AgentId,
        config: &str,
    ) -> Result<AgentInfo, AdminError> {
        let req = SpawnAgentRequest {
            kind: kind.to_string(),
            name,
            config: config.to_string(),
        };
        self.ask(|reply| AdminMessage::SpawnAgent(Wire::new(req), reply))
            .await?
    }

    /// Stops the agent `name` and removes it from supervision.
    ///
    /// # Errors
    /// [`AdminError::NotFound`] if no such agent is supervised, or [`AdminError::Unavailable`].
    pub async fn stop_agent(&self, name: AgentId) -> Result<(), AdminError> {
        self.ask(|reply| AdminMessage::StopAgent(Wire::new(name), reply))
            .await?
    }

    /// Restarts the agent `name` from its spec.
    ///
    /// # Errors
    /// [`AdminError::NotFound`] if no such agent is supervised, or [`AdminError::Unavailable`].
    pub async fn restart_agent(&self, name: AgentId) -> Result<AgentInfo, AdminError> {
        self.ask(|reply| AdminMessage::RestartAgent(Wire::new(name), reply))
            .await?
    }

    /// Returns the live supervision tree.
    ///
    /// # Errors
    /// [`AdminError::Unavailable`] if the Admin did not answer.
    pub async fn tree(&self) -> Result<ActorTree, AdminError> {
        self.ask(AdminMessage::GetTree).await
    }

    /// Returns the registered agent kinds.
    ///
    /// # Errors
    /// [`AdminError::Unavailable`] if the Admin did not answer.
    pub async fn kinds(&self) -> Result<Vec<AgentKindDescriptor>, AdminError> {
        self.ask(AdminMessage::GetKinds).await
    }

    /// Writes the tree checkpoint now; returns how many agents it holds.
    ///
    /// # Errors
    /// [`AdminError::Failed`] if the store refused it, or [`AdminError::Unavailable`].
    pub async fn checkpoint(&self) -> Result<usize, AdminError> {
        self.ask(AdminMessage::Checkpoint).await?
    }

    /// Creates the business client `spec`, with its own orchestrator.
    ///
    /// # Errors
    /// [`AdminError::ClientExists`] for a client that exists, [`AdminError::InvalidConfig`]
    /// for settings it cannot hold (kind `business-orchestrator`), [`AdminError::Failed`]
    /// without a store, or [`AdminError::Unavailable`].
    pub async fn create_client(&self, spec: ClientSpec) -> Result<ClientInfo, AdminError> {
        self.ask(|reply| AdminMessage::CreateClient(Wire::new(spec), reply))
            .await?
    }

    /// The business clients, in creation order.
    ///
    /// # Errors
    /// [`AdminError::Unavailable`] if the Admin does not answer.
    pub async fn clients(&self) -> Result<Vec<ClientInfo>, AdminError> {
        self.ask(AdminMessage::GetClients).await
    }

    /// Stops the business client `name`'s orchestrator and forgets it; its data stays.
    ///
    /// # Errors
    /// [`AdminError::NoClient`] for no such client, or [`AdminError::Unavailable`].
    pub async fn remove_client(&self, name: &str) -> Result<(), AdminError> {
        let name = name.to_string();
        self.ask(|reply| AdminMessage::RemoveClient(Wire::new(name), reply))
            .await?
    }

    async fn ask<T: Send + 'static>(
        &self,
        build: impl FnOnce(RpcReplyPort<Wire<T>>) -> AdminMessage,
    ) -> Result<T, AdminError> {
        match self.admin.call(build, Some(self.timeout)).await {
            Ok(CallResult::Success(wire)) => Ok(wire.open()?),
            Ok(CallResult::Timeout) => Err(AdminError::Unavailable {
                reason: format!("no answer within {:?}", self.timeout),
            }),
            Ok(CallResult::SenderError) => Err(AdminError::Unavailable {
                reason: "the admin dropped the request".to_string(),
            }),
            Err(e) => Err(AdminError::Unavailable {
                reason: e.to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ractor::Message;

    /// Every variant survives serialization through the derive, with its payload intact.
    #[tokio::test]
    async fn every_variant_round_trips_through_the_cluster_codec() {
        let req = SpawnAgentRequest {
            kind: "echo".into(),
            name: AgentId::new("e1"),
            config: "{}".into(),
        };
        let (tx, _rx) = ractor::concurrency::oneshot();
        let msg = AdminMessage::SpawnAgent(Wire::new(req.clone()), RpcReplyPort::from(tx));
        let ser = msg.serialize().expect("serializes");
        match AdminMessage::deserialize(ser).expect("deserializes") {
            AdminMessage::SpawnAgent(w, _) => assert_eq!(w, Wire::Value(req)),
            other => panic!("wrong variant {other:?}"),
        }

        for name in ["StopAgent", "RestartAgent"] {
            let (tx, _rx) = ractor::concurrency::oneshot();
            let msg = if name == "StopAgent" {
                AdminMessage::StopAgent(Wire::new(AgentId::new("x")), RpcReplyPort::from(tx))
            } else {
                let (tx, _rx) = ractor::concurrency::oneshot();
                AdminMessage::RestartAgent(Wire::new(AgentId::new("x")), RpcReplyPort::from(tx))
            };
            let back = AdminMessage::deserialize(msg.serialize().unwrap()).unwrap();
            assert_eq!(format!("{back:?}"), name);
            match back {
                AdminMessage::StopAgent(w, _) | AdminMessage::RestartAgent(w, _) => {
                    assert_eq!(w, Wire::Value(AgentId::new("x")))
                }
                _ => unreachable!(),
            }
        }

        let (tx, _rx) = ractor::concurrency::oneshot();
        let back = AdminMessage::deserialize(
            AdminMessage::GetTree(RpcReplyPort::from(tx))
                .serialize()
                .unwrap(),
        )
        .unwrap();
        assert!(matches!(back, AdminMessage::GetTree(_)));
        let (tx, _rx) = ractor::concurrency::oneshot();
        let back = AdminMessage::deserialize(
            AdminMessage::GetKinds(RpcReplyPort::from(tx))
                .serialize()
                .unwrap(),
        )
        .unwrap();
        assert!(matches!(back, AdminMessage::GetKinds(_)));
        let due = RestartDue {
            child: "ports".into(),
            generation: 3,
        };
        match AdminMessage::deserialize(
            AdminMessage::RestartDue(Wire::new(due.clone()))
                .serialize()
                .unwrap(),
        )
        .unwrap()
        {
            AdminMessage::RestartDue(w) => assert_eq!(w, Wire::Value(due)),
            other => panic!("{other:?}"),
        }
        let spec = ClientSpec {
            name: "acme".into(),
            settings: crate::business::ClientSettings::new("/srv/acme"),
        };
        let (tx, _rx) = ractor::concurrency::oneshot();
        match AdminMessage::deserialize(
            AdminMessage::CreateClient(Wire::new(spec.clone()), RpcReplyPort::from(tx))
                .serialize()
                .unwrap(),
        )
        .unwrap()
        {
            AdminMessage::CreateClient(w, _) => assert_eq!(w, Wire::Value(spec)),
            other => panic!("{other:?}"),
        }
    }

    /// A frame whose payload is garbage still reaches the handler, as `Wire::Malformed`.
    #[tokio::test]
    async fn a_garbage_payload_arrives_as_malformed() {
        let (tx, _rx) = ractor::concurrency::oneshot();
        let msg = AdminMessage::StopAgent(Wire::new(AgentId::new("x")), RpcReplyPort::from(tx));
        let mut ser = msg.serialize().unwrap();
        if let ractor::message::SerializedMessage::Call { args, .. } = &mut ser {
            // args = u64 length prefix, then the envelope: corrupt the magic.
            args[8] = b'X';
        }
        match AdminMessage::deserialize(ser).unwrap() {
            AdminMessage::StopAgent(Wire::Malformed(WireError::BadMagic { .. }), _) => {}
            other => panic!("expected a malformed payload, got {other:?}"),
        }
    }
}
