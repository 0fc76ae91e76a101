//! The NodeHost: one per node, in the cluster-wide process group
//! [`NODE_HOSTS_GROUP`], so every node sees every other's. It publishes what its node
//! offers ([`NodeInfo`]: CPUs, memory, GPUs, models, labels, load) and spawns agents on its
//! node from the local registry of kinds when asked, which is how an Admin places an agent
//! on another node: ractor_cluster has no remote spawn.

use crate::agents::env_detector::{ProbeContext, detect};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use reporunner_protocols::Wire;
use reporunner_protocols::admin::{
    AdminClient, AdminError, AdminMessage, AgentInfo, SpawnAgentRequest,
};
use reporunner_protocols::cluster::{
    Member, NODE_HOSTS_GROUP, NodeHostMessage, NodeInfo, NodeState, PlaceRequest, place,
};
use reporunner_protocols::host::GpuInfo;
use reporunner_protocols::ids::NodeId;
use reporunner_protocols::kinds::{AgentKindDescriptor, AgentNeeds, RestartType};
use reporunner_runtime::kinds::AgentKind;
use reporunner_runtime::naming::{Namespace, lookup};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The kind name the NodeHost is registered under.
pub const KIND: &str = "node-host";

/// The NodeHost's configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodeHostConfig {
    /// Whether this node is the head.
    pub head: bool,
    /// Where its NodeServer listens, `host:port`.
    pub address: String,
    /// Its labels. `gpu=true` states a GPU where nvidia-smi finds none (for tests and
    /// for GPUs it cannot see).
    pub labels: BTreeMap<String, String>,
    /// The models it can serve.
    pub models: Vec<String>,
    /// How often every node is asked for its info, in ms (the heartbeat).
    pub heartbeat_ms: Option<u64>,
    /// How long a node may go unseen before it is marked down, in ms.
    pub down_after_ms: Option<u64>,
}

/// How often nodes are heartbeaten unless configured.
pub const HEARTBEAT_MS: u64 = 1_000;
/// How long a node may miss its heartbeats unless configured.
pub const DOWN_AFTER_MS: u64 = 3_000;

/// The NodeHost.
#[derive(Debug, Clone, Copy, Default)]
pub struct NodeHost;

/// What the NodeHost starts with.
#[derive(Debug, Clone)]
pub struct NodeHostArguments {
    /// The node.
    pub node: NodeId,
    /// Where this node's actors are registered.
    pub namespace: Namespace,
    /// Its configuration.
    pub config: NodeHostConfig,
}

/// The NodeHost's state.
#[derive(Debug)]
pub struct NodeHostState {
    args: NodeHostArguments,
    info: NodeInfo,
    /// Every node seen, by id: the membership view.
    members: BTreeMap<String, Member>,
    /// Whether a heartbeat round is under way.
    beating: bool,
}

impl Actor for NodeHost {
    type Msg = NodeHostMessage;
    type State = NodeHostState;
    type Arguments = NodeHostArguments;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: NodeHostArguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        let host = detect(&ProbeContext::default()).await;
        let mut gpus = host.gpus.clone();
        if gpus.is_empty() && args.config.labels.get("gpu").is_some_and(|v| v == "true") {
            // The label states a GPU nvidia-smi cannot show; its size comes from `vram_mib`.
            gpus.push(GpuInfo {
                index: 0,
                name: "stated by the gpu label".into(),
                memory_total_mib: label_number(&args.config.labels, "vram_mib"),
                memory_free_mib: label_number(&args.config.labels, "vram_mib"),
                driver: "unknown".into(),
            });
        }
        let info = NodeInfo {
            node: args.node.clone(),
            address: args.config.address.clone(),
            head: args.config.head,
            cpus: host.cpu.logical,
            memory_bytes: host.memory.total_bytes,
            gpus,
            models: args.config.models.clone(),
            labels: args.config.labels.clone(),
            agents: 0,
            load: 0.0,
            started_ms: crate::runs::now_ms(),
        };
        ractor::pg::join(NODE_HOSTS_GROUP.to_string(), vec![myself.get_cell()]);
        Ok(NodeHostState {
            args,
            info,
            members: BTreeMap::new(),
            beating: false,
        })
    }

    async fn post_start(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let every = state.args.config.heartbeat_ms.unwrap_or(HEARTBEAT_MS);
        myself.send_interval(std::time::Duration::from_millis(every), || {
            NodeHostMessage::Tick
        });
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            NodeHostMessage::GetInfo(reply) => {
                let _ = reply.send(Wire::new(state.refresh()));
            }
            NodeHostMessage::SpawnAgent(request, reply) => {
                let result = match request.open() {
                    Ok(req) => state.spawn_here(req).await,
                    Err(e) => Err(e.into()),
                };
                let _ = reply.send(Wire::new(result));
            }
            NodeHostMessage::Place(request, reply) => {
                let result = match request.open() {
                    Ok(req) => state.place(&myself, req).await,
                    Err(e) => Err(e.into()),
                };
                let _ = reply.send(Wire::new(result));
            }
            NodeHostMessage::GetMembers(reply) => {
                let mut members: Vec<Member> = state.members.values().cloned().collect();
                let own = state.refresh();
                members.retain(|m| m.info.node != own.node);
                members.push(Member {
                    info: own,
                    state: NodeState::Up,
                    last_seen_ms: crate::runs::now_ms(),
                });
                members.sort_by(|a, b| {
                    (!a.info.head, a.info.node.as_str()).cmp(&(!b.info.head, b.info.node.as_str()))
                });
                let _ = reply.send(Wire::new(members));
            }
            NodeHostMessage::Tick => {
                if !state.beating {
                    state.beating = true;
                    heartbeat(
                        myself.clone(),
                        state.args.config.heartbeat_ms.unwrap_or(HEARTBEAT_MS),
                    );
                }
                state.mark_down();
            }
            NodeHostMessage::Seen(nodes) => {
                state.beating = false;
                if let Ok(nodes) = nodes.open() {
                    state.seen(nodes);
                }
                state.mark_down();
            }
        }
        Ok(())
    }
}

/// Asks every other node's host for its info, concurrently, each within one heartbeat,
/// and reports those that answered to `host`. It runs beside the host, so a slow node
/// never holds up the host's own messages.
fn heartbeat(host: ActorRef<NodeHostMessage>, every_ms: u64) {
    tokio::spawn(async move {
        let others: Vec<ActorRef<NodeHostMessage>> =
            ractor::pg::get_members(&NODE_HOSTS_GROUP.to_string())
                .into_iter()
                .filter(|c| c.get_id() != host.get_id())
                .map(ActorRef::from)
                .collect();
        let mut set = tokio::task::JoinSet::new();
        for other in others {
            set.spawn(async move {
                ractor::call_t!(other, NodeHostMessage::GetInfo, every_ms.max(200))
                    .ok()
                    .and_then(|w| w.open().ok())
            });
        }
        let seen: Vec<NodeInfo> = set.join_all().await.into_iter().flatten().collect();
        let _ = host.cast(NodeHostMessage::Seen(Wire::new(seen)));
    });
}

impl NodeHostState {
    /// Records the nodes that answered; one that was down has rejoined.
    fn seen(&mut self, nodes: Vec<NodeInfo>) {
        let now = crate::runs::now_ms();
        for info in nodes {
            let key = info.node.to_string();
            if let Some(m) = self.members.get(&key)
                && m.state == NodeState::Down
            {
                tracing::warn!(node = %key, "node rejoined");
            } else if !self.members.contains_key(&key) {
                tracing::info!(node = %key, address = %info.address, "node joined");
            }
            self.members.insert(
                key,
                Member {
                    info,
                    state: NodeState::Up,
                    last_seen_ms: now,
                },
            );
        }
    }

    /// Marks down every node that has not answered for longer than the timeout.
    fn mark_down(&mut self) {
        let now = crate::runs::now_ms();
        let limit = self.args.config.down_after_ms.unwrap_or(DOWN_AFTER_MS);
        for (node, m) in &mut self.members {
            if m.state == NodeState::Up && now.saturating_sub(m.last_seen_ms) > limit {
                m.state = NodeState::Down;
                tracing::warn!(node = %node, missed_ms = now - m.last_seen_ms, "node down: it missed its heartbeats");
            }
        }
    }
}

impl NodeHostState {
    /// The node's info with its current load.
    fn refresh(&mut self) -> NodeInfo {
        let agents = ractor::pg::get_local_members(&self.args.namespace.agents_group()).len();
        self.info.agents = agents as u32;
        self.info.load = agents as f32 / self.info.cpus.max(1) as f32;
        self.info.clone()
    }

    fn admin(&self) -> Result<AdminClient, AdminError> {
        lookup::<AdminMessage>(&self.args.namespace.admin())
            .map(AdminClient::new)
            .ok_or_else(|| AdminError::Unavailable {
                reason: format!(
                    "the admin of node {} is not running (no actor named {})",
                    self.args.node,
                    self.args.namespace.admin()
                ),
            })
    }

    async fn spawn_here(&self, req: SpawnAgentRequest) -> Result<AgentInfo, AdminError> {
        self.admin()?
            .spawn_agent(&req.kind, req.name, &req.config)
            .await
    }

    /// Places the agent on the least loaded node that fits its kind's needs and the
    /// request's, asking every node's host for its info (a host that does not answer within
    /// [`INFO_TIMEOUT_MS`] is left out).
    async fn place(
        &mut self,
        myself: &ActorRef<NodeHostMessage>,
        req: PlaceRequest,
    ) -> Result<AgentInfo, AdminError> {
        let kinds = self.admin()?.kinds().await?;
        let kind = kinds
            .iter()
            .find(|k| k.name == req.spawn.kind)
            .ok_or_else(|| AdminError::UnknownKind {
                kind: req.spawn.kind.clone(),
                known: kinds.iter().map(|k| k.name.clone()).collect(),
            })?;
        let needs = merge(&kind.needs, &req.needs);
        let mut hosts: Vec<(NodeInfo, Option<ActorRef<NodeHostMessage>>)> =
            vec![(self.refresh(), None)];
        for cell in ractor::pg::get_members(&NODE_HOSTS_GROUP.to_string()) {
            if cell.get_id() == myself.get_id() {
                continue;
            }
            let host: ActorRef<NodeHostMessage> = cell.into();
            if let Ok(Ok(info)) =
                ractor::call_t!(host, NodeHostMessage::GetInfo, INFO_TIMEOUT_MS).map(Wire::open)
            {
                hosts.push((info, Some(host)));
            }
        }
        let infos: Vec<NodeInfo> = hosts.iter().map(|(i, _)| i.clone()).collect();
        let chosen = place(&needs, &infos)
            .map_err(|reason| AdminError::NoNodeFits {
                kind: req.spawn.kind.clone(),
                reason,
            })?
            .node
            .clone();
        let (_, host) = hosts
            .into_iter()
            .find(|(i, _)| i.node == chosen)
            .expect("the chosen node is one of the hosts");
        tracing::info!(kind = %req.spawn.kind, node = %chosen, "placed");
        match host {
            None => self.spawn_here(req.spawn).await,
            Some(host) => ractor::call_t!(
                host,
                NodeHostMessage::SpawnAgent,
                SPAWN_TIMEOUT_MS,
                Wire::new(req.spawn)
            )
            .map_err(|e| AdminError::Unavailable {
                reason: format!("the node {chosen} did not answer: {e}"),
            })?
            .open()?,
        }
    }
}

/// How long a node's host has to say what it offers.
const INFO_TIMEOUT_MS: u64 = 2_000;
/// How long a remote spawn may take.
const SPAWN_TIMEOUT_MS: u64 = 30_000;

/// A kind's needs with a request's on top.
fn merge(kind: &AgentNeeds, extra: &AgentNeeds) -> AgentNeeds {
    let mut labels = kind.labels.clone();
    labels.extend(extra.labels.clone());
    AgentNeeds {
        gpu: kind.gpu || extra.gpu,
        min_vram_mib: kind.min_vram_mib.max(extra.min_vram_mib),
        model: extra.model.clone().or(kind.model.clone()),
        labels,
    }
}

fn label_number(labels: &BTreeMap<String, String>, key: &str) -> u64 {
    labels.get(key).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// The NodeHost's kind, for the kind registry.
pub fn kind() -> AgentKind {
    AgentKind::with_config(
        AgentKindDescriptor {
            name: KIND.to_string(),
            description: "publishes this node's resources and spawns agents on it for the cluster"
                .to_string(),
            restart: RestartType::Permanent,
            needs: AgentNeeds::default(),
        },
        |ctx, config: NodeHostConfig| {
            (
                NodeHost,
                NodeHostArguments {
                    node: ctx.node.clone(),
                    namespace: ctx.namespace.clone(),
                    config,
                },
            )
        },
    )
}
