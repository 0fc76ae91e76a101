//! The NodeHost: one per node, in the cluster-wide process group
//! [`NODE_HOSTS_GROUP`], so every node sees every other's. It publishes what its node
//! offers ([`NodeInfo`]: CPUs, memory, GPUs, models, labels, load, the agents it runs) and
//! spawns agents on its node from the local registry of kinds when asked, which is how an
//! Admin places an agent on another node: ractor_cluster has no remote spawn.
//!
//! Every host heartbeats every other (a `GetInfo` call each [`HEARTBEAT_MS`]) and marks
//! down a node that has not answered for [`DOWN_AFTER_MS`]. The head's host also keeps the
//! placement table: the permanent agents it placed, checkpointed in the store. After each
//! heartbeat it reconciles the table with the cluster ([`reconcile`]): the agents of a lost
//! node are placed again on nodes that fit, or reported unplaceable until one joins, and
//! every copy of an agent on a node other than the table's is stopped.
//!
//! The downing rule, so that two copies of a placed agent never stay alive: the head's
//! table decides where an agent runs. A worker that has not heard from the head for half
//! the down timeout stops the agents the head placed on it (the head moves them only after
//! the whole timeout), and a node that comes back is told to stop any copy the head has
//! placed elsewhere meanwhile.

use crate::agents::env_detector::{ProbeContext, detect};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use reporunner_protocols::Wire;
use reporunner_protocols::admin::{
    AdminClient, AdminError, AdminMessage, AgentInfo, SpawnAgentRequest,
};
use reporunner_protocols::cluster::{
    Assignment, Member, NODE_HOSTS_GROUP, NodeHostMessage, NodeInfo, NodeState, NodeTree,
    PlaceRequest, Placement, PlacementTable, Refusal, RefusalReason, Step, place, reconcile,
};
use reporunner_protocols::codec::{WIRE_VERSION, WireError};
use reporunner_protocols::host::GpuInfo;
use reporunner_protocols::ids::{AgentId, NodeId};
use reporunner_protocols::kinds::{AgentKindDescriptor, AgentNeeds, RestartType};
use reporunner_runtime::kinds::AgentKind;
use reporunner_runtime::naming::{Namespace, lookup};
use reporunner_runtime::store::{CheckpointKind, Checkpoints, Store};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// The kind name the NodeHost is registered under.
pub const KIND: &str = "node-host";

/// The placement table's checkpoint name (`manager_state_placements`).
const TABLE_CHECKPOINT: &str = "placements";

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
    /// Where the head keeps its placement table.
    pub store: Option<Arc<dyn Store>>,
}

/// Every other node's host, by node, as the last heartbeat found them.
type Hosts = Arc<Mutex<BTreeMap<NodeId, ActorRef<NodeHostMessage>>>>;

/// The NodeHost's state.
#[derive(Debug)]
pub struct NodeHostState {
    args: NodeHostArguments,
    info: NodeInfo,
    /// Every other node seen, by id: the membership view.
    members: BTreeMap<NodeId, Member>,
    /// Their hosts.
    hosts: Hosts,
    /// Whether a heartbeat round is under way.
    beating: bool,
    /// The head's placements (empty on a worker).
    table: PlacementTable,
    /// The agents a reconciliation step is under way for.
    in_flight: BTreeSet<AgentId>,
    /// On a worker: the agents the head placed here, and when the head last spoke.
    placed_here: BTreeSet<AgentId>,
    head_seen_ms: u64,
    /// The peers this node refused lately, newest first (at most [`REFUSALS_KEPT`]).
    refusals: Vec<Refusal>,
}

/// How many refusals a node keeps for `cluster status`.
pub const REFUSALS_KEPT: usize = 32;

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
            running: Vec::new(),
            admin: args.namespace.admin(),
        };
        // The head picks up the placements it made before a restart.
        let table = match (&args.store, args.config.head) {
            (Some(store), true) => store
                .load_checkpoint::<PlacementTable>(CheckpointKind::Manager, TABLE_CHECKPOINT)
                .map_err(|e| format!("cannot read the placement table: {e}"))?
                .unwrap_or_default(),
            _ => PlacementTable::default(),
        };
        if !table.placements.is_empty() {
            tracing::info!(
                placements = table.placements.len(),
                "placement table restored"
            );
        }
        ractor::pg::join(NODE_HOSTS_GROUP.to_string(), vec![myself.get_cell()]);
        Ok(NodeHostState {
            args,
            info,
            members: BTreeMap::new(),
            hosts: Hosts::default(),
            beating: false,
            table,
            in_flight: BTreeSet::new(),
            placed_here: BTreeSet::new(),
            head_seen_ms: crate::runs::now_ms(),
            refusals: Vec::new(),
        })
    }

    async fn post_start(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        myself.send_interval(
            std::time::Duration::from_millis(state.heartbeat_ms()),
            || NodeHostMessage::Tick,
        );
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
                let _ = reply.send(Wire::new(state.view()));
            }
            NodeHostMessage::Unplace(name, reply) => {
                let result = match name.open() {
                    Ok(name) => state.unplace(name).await,
                    Err(e) => Err(e.into()),
                };
                let _ = reply.send(Wire::new(result));
            }
            NodeHostMessage::GetRefusals(reply) => {
                let _ = reply.send(Wire::new(state.refusals.clone()));
            }
            NodeHostMessage::Refused(refusal) => {
                if let Ok(refusal) = refusal.open() {
                    state.refused(refusal);
                }
            }
            NodeHostMessage::GetPlacements(reply) => {
                let _ = reply.send(Wire::new(
                    state.table.placements.values().cloned().collect::<Vec<_>>(),
                ));
            }
            NodeHostMessage::GetTree(reply) => {
                let own = state.info.node.clone();
                let view: Vec<(Member, Option<ActorRef<NodeHostMessage>>)> = state
                    .view()
                    .into_iter()
                    .map(|m| {
                        let host = if m.info.node == own {
                            Some(myself.clone())
                        } else {
                            state.host_of(&m.info.node)
                        };
                        (m, host)
                    })
                    .collect();
                // The trees come from every node's host: beside this one, never in its way.
                tokio::spawn(async move {
                    let _ = reply.send(Wire::new(cluster_tree(view).await));
                });
            }
            NodeHostMessage::GetNodeTree(reply) => match state.admin() {
                Ok(admin) => {
                    tokio::spawn(async move {
                        let _ = reply.send(Wire::new(admin.tree().await));
                    });
                }
                Err(e) => {
                    let _ = reply.send(Wire::new(Err(e)));
                }
            },
            NodeHostMessage::Tick => {
                if !state.beating {
                    state.beating = true;
                    heartbeat(myself.clone(), state.hosts.clone(), state.heartbeat_ms());
                }
                state.mark_down();
                state.check_head();
            }
            NodeHostMessage::Seen(nodes) => {
                state.beating = false;
                if let Ok(nodes) = nodes.open() {
                    state.seen(nodes);
                }
                state.mark_down();
                state.check_head();
                state.reconcile(&myself);
            }
            NodeHostMessage::Assign(assignment) => match assignment.open() {
                Ok(a) => state.assigned(a),
                Err(e) => tracing::warn!(error = %e, "malformed assignment ignored"),
            },
            NodeHostMessage::Reconciled(outcomes) => match outcomes.open() {
                Ok(outcomes) => state.reconciled(outcomes).await,
                Err(e) => tracing::warn!(error = %e, "malformed reconciliation ignored"),
            },
        }
        Ok(())
    }
}

/// Asks every other node's host for its info, concurrently, each within one heartbeat,
/// and reports those that answered to `host`. It runs beside the host, so a slow node
/// never holds up the host's own messages.
fn heartbeat(host: ActorRef<NodeHostMessage>, hosts: Hosts, every_ms: u64) {
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
                match ractor::call_t!(other, NodeHostMessage::GetInfo, every_ms.max(200)) {
                    Ok(Wire::Value(info)) => Some(Ok((info, other))),
                    // A node of another release: its answers cannot be read, so it is not
                    // a member; the refusal says why instead of the node just never
                    // appearing.
                    Ok(Wire::Malformed(WireError::UnsupportedVersion { found })) => {
                        Some(Err(Refusal {
                            peer: format!("the node host {}", other.get_id()),
                            node: None,
                            reason: RefusalReason::Version,
                            detail: Some(format!(
                                "wire version {found}; this node reads {WIRE_VERSION}"
                            )),
                            count: 1,
                            last_ms: crate::runs::now_ms(),
                        }))
                    }
                    _ => None,
                }
            });
        }
        let mut answers: Vec<(NodeInfo, ActorRef<NodeHostMessage>)> = Vec::new();
        for answer in set.join_all().await.into_iter().flatten() {
            match answer {
                Ok(a) => answers.push(a),
                Err(refusal) => {
                    let _ = host.cast(NodeHostMessage::Refused(Wire::new(refusal)));
                }
            }
        }
        {
            let mut map = hosts.lock().unwrap_or_else(|e| e.into_inner());
            for (info, other) in &answers {
                map.insert(info.node.clone(), other.clone());
            }
        }
        let seen: Vec<NodeInfo> = answers.into_iter().map(|(i, _)| i).collect();
        let _ = host.cast(NodeHostMessage::Seen(Wire::new(seen)));
    });
}

/// Every node of `view` with its Admin's tree, read concurrently through its host.
async fn cluster_tree(view: Vec<(Member, Option<ActorRef<NodeHostMessage>>)>) -> Vec<NodeTree> {
    let mut set = tokio::task::JoinSet::new();
    for (i, (member, host)) in view.into_iter().enumerate() {
        set.spawn(async move {
            let tree = match (member.state, host) {
                (NodeState::Down, _) => Err("the node is down".to_string()),
                (_, None) => Err("its host is not known yet".to_string()),
                (_, Some(host)) => {
                    match ractor::call_t!(host, NodeHostMessage::GetNodeTree, 5_000) {
                        Ok(w) => w
                            .open()
                            .map_err(|e| e.to_string())
                            .and_then(|r| r.map_err(|e| e.to_string())),
                        Err(e) => Err(format!("its host did not answer: {e}")),
                    }
                }
            };
            (i, NodeTree { member, tree })
        });
    }
    let mut out: Vec<(usize, NodeTree)> = set.join_all().await;
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, t)| t).collect()
}

impl NodeHostState {
    /// Keeps a refusal: the same peer name refused for the same reason again is counted in
    /// its entry, which moves to the front; the oldest go past [`REFUSALS_KEPT`].
    fn refused(&mut self, refusal: Refusal) {
        let same = self.refusals.iter().position(|r| {
            r.reason == refusal.reason
                && r.node == refusal.node
                && (r.node.is_some() || r.peer == refusal.peer)
        });
        let entry = match same {
            Some(i) => {
                let mut old = self.refusals.remove(i);
                old.count += refusal.count.max(1);
                old.last_ms = refusal.last_ms;
                old.peer = refusal.peer;
                old
            }
            None => {
                if refusal.reason == RefusalReason::Version {
                    tracing::warn!(
                        peer = %refusal.peer,
                        detail = refusal.detail.as_deref().unwrap_or(""),
                        "peer refused: {}",
                        refusal.reason.explain()
                    );
                }
                refusal
            }
        };
        self.refusals.insert(0, entry);
        self.refusals.truncate(REFUSALS_KEPT);
    }
}

impl NodeHostState {
    fn heartbeat_ms(&self) -> u64 {
        self.args.config.heartbeat_ms.unwrap_or(HEARTBEAT_MS)
    }

    fn down_after_ms(&self) -> u64 {
        self.args.config.down_after_ms.unwrap_or(DOWN_AFTER_MS)
    }

    /// Every node seen, this one included, the head first.
    fn view(&mut self) -> Vec<Member> {
        let own = self.refresh();
        let mut members: Vec<Member> = self
            .members
            .values()
            .filter(|m| m.info.node != own.node)
            .cloned()
            .collect();
        members.push(Member {
            info: own,
            state: NodeState::Up,
            last_seen_ms: crate::runs::now_ms(),
        });
        members.sort_by(|a, b| {
            (!a.info.head, a.info.node.as_str()).cmp(&(!b.info.head, b.info.node.as_str()))
        });
        members
    }

    /// Records the nodes that answered; one that was down has rejoined.
    fn seen(&mut self, nodes: Vec<NodeInfo>) {
        let now = crate::runs::now_ms();
        for info in nodes {
            if info.head && !self.args.config.head {
                self.head_seen_ms = now;
            }
            match self.members.get(&info.node) {
                Some(m) if m.state == NodeState::Down => {
                    tracing::warn!(node = %info.node, "node rejoined");
                }
                None => tracing::info!(node = %info.node, address = %info.address, "node joined"),
                Some(_) => {}
            }
            self.members.insert(
                info.node.clone(),
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
        let limit = self.down_after_ms();
        for (node, m) in &mut self.members {
            if m.state == NodeState::Up && now.saturating_sub(m.last_seen_ms) > limit {
                m.state = NodeState::Down;
                tracing::warn!(node = %node, missed_ms = now - m.last_seen_ms, "node down: it missed its heartbeats");
            }
        }
    }

    /// On a worker: when the head has been silent for half the down timeout, stops the
    /// agents it placed here, before the head places them again elsewhere.
    fn check_head(&mut self) {
        if self.args.config.head || self.placed_here.is_empty() {
            return;
        }
        let silent = crate::runs::now_ms().saturating_sub(self.head_seen_ms);
        if silent <= self.down_after_ms() / 2 {
            return;
        }
        let agents: Vec<AgentId> = std::mem::take(&mut self.placed_here).into_iter().collect();
        tracing::warn!(
            silent_ms = silent,
            agents = ?agents,
            "lost the head: stopping the agents it placed here (it places them again elsewhere)"
        );
        self.stop_here(agents);
    }

    /// Takes the head's word on the agents placed here.
    fn assigned(&mut self, a: Assignment) {
        self.head_seen_ms = crate::runs::now_ms();
        self.placed_here = a.placed.into_iter().collect();
        if !a.stop.is_empty() {
            tracing::warn!(agents = ?a.stop, head = %a.head, "stopping copies the head placed elsewhere");
            self.stop_here(a.stop);
        }
    }

    /// Stops agents of this node, beside the host.
    fn stop_here(&self, agents: Vec<AgentId>) {
        let Ok(admin) = self.admin() else { return };
        tokio::spawn(async move {
            for name in agents {
                if let Err(e) = admin.stop_agent(name.clone()).await {
                    tracing::warn!(agent = %name, error = %e, "could not stop the agent");
                }
            }
        });
    }

    /// On the head: works out how the cluster differs from the placement table, tells
    /// every node what it runs, and carries out each step beside the host, one task per
    /// agent, so that a node slow to answer holds up only its own agents.
    fn reconcile(&mut self, myself: &ActorRef<NodeHostMessage>) {
        if !self.args.config.head {
            return;
        }
        let view = self.view();
        let (steps, assignments) =
            reconcile(&self.info.node, &self.table, &view, self.heartbeat_ms());
        for (node, assignment) in assignments {
            let message = NodeHostMessage::Assign(Wire::new(assignment));
            if node == self.info.node {
                let _ = myself.cast(message);
            } else if let Some(host) = self.host_of(&node) {
                let _ = host.cast(message);
            }
        }
        for step in steps {
            let (name, node) = match &step {
                Step::Spawn { name, node } => (name.clone(), Some(node.clone())),
                Step::Adopt { name, .. } | Step::Unplaced { name, .. } => (name.clone(), None),
            };
            if !self.in_flight.insert(name.clone()) {
                continue;
            }
            let outcome = match (step, node) {
                (Step::Adopt { name, node }, _) => Some((name, Ok(node))),
                (Step::Unplaced { name, reason }, _) => Some((name, Err(reason))),
                (Step::Spawn { .. }, Some(node)) => {
                    let request = self.table.placements[&name].request.spawn.clone();
                    let spawner = if node == self.info.node {
                        Spawner::Local(self.admin().ok())
                    } else {
                        Spawner::Remote(self.host_of(&node))
                    };
                    let myself = myself.clone();
                    let timeout = RECONCILE_SPAWN_TIMEOUT_MS.max(self.down_after_ms());
                    tokio::spawn(async move {
                        let outcome = match spawner.spawn(&node, request, timeout).await {
                            Ok(_) | Err(AdminError::NameTaken { .. }) => Ok(node),
                            Err(e) => Err(format!("spawning it on {node}: {e}")),
                        };
                        let _ = myself.cast(NodeHostMessage::Reconciled(Wire::new(vec![(
                            name, outcome,
                        )])));
                    });
                    None
                }
                (Step::Spawn { .. }, None) => None,
            };
            if let Some(outcome) = outcome {
                let _ = myself.cast(NodeHostMessage::Reconciled(Wire::new(vec![outcome])));
            }
        }
    }

    /// Records where the reconciled agents now run, and checkpoints the table.
    async fn reconciled(&mut self, outcomes: Vec<(AgentId, Result<NodeId, String>)>) {
        let mut changed = false;
        for (name, outcome) in outcomes {
            self.in_flight.remove(&name);
            let Some(p) = self.table.placements.get_mut(&name) else {
                continue;
            };
            match outcome {
                Ok(node) => {
                    if p.node.as_ref() != Some(&node) {
                        if p.node.is_some() || p.reason.is_some() {
                            p.moves += 1;
                            tracing::warn!(agent = %name, node = %node, from = ?p.node, "agent placed again");
                        }
                        p.node = Some(node);
                        changed = true;
                    }
                    p.since_ms = crate::runs::now_ms();
                    changed |= p.reason.take().is_some();
                }
                Err(reason) => {
                    tracing::warn!(agent = %name, %reason, "agent unplaced: no node fits");
                    changed |= p.node.take().is_some() || p.reason.as_deref() != Some(&reason);
                    p.reason = Some(reason);
                }
            }
        }
        if changed {
            self.save_table().await;
        }
    }

    /// Forgets an agent's placement and stops it where it runs. Every other copy goes
    /// with the next heartbeat's assignments, which no longer place it anywhere: a node
    /// that runs an agent the head no longer knows keeps it, so the copies are stopped
    /// here, on every node that reports one.
    async fn unplace(&mut self, name: AgentId) -> Result<Option<NodeId>, AdminError> {
        if !self.args.config.head {
            return Err(AdminError::Unavailable {
                reason: format!("node {} is not the head: ask the head", self.info.node),
            });
        }
        let placement =
            self.table
                .placements
                .remove(&name)
                .ok_or_else(|| AdminError::NotFound {
                    name: name.to_string(),
                })?;
        self.save_table().await;
        let view = self.view();
        for m in view
            .iter()
            .filter(|m| m.state == NodeState::Up && m.info.running.contains(&name))
        {
            let result = if m.info.node == self.info.node {
                self.admin()?.stop_agent(name.clone()).await
            } else {
                match self.host_of(&m.info.node) {
                    Some(host) => host
                        .cast(NodeHostMessage::Assign(Wire::new(Assignment {
                            head: self.info.node.clone(),
                            // What stays placed there, so that its view stays whole.
                            placed: self
                                .table
                                .placements
                                .iter()
                                .filter(|(_, p)| p.node.as_ref() == Some(&m.info.node))
                                .map(|(a, _)| a.clone())
                                .collect(),
                            stop: vec![name.clone()],
                        })))
                        .map_err(|e| AdminError::Unavailable {
                            reason: e.to_string(),
                        }),
                    None => Ok(()),
                }
            };
            if let Err(e) = result {
                tracing::warn!(agent = %name, node = %m.info.node, error = %e, "could not stop an unplaced agent");
            }
        }
        tracing::info!(agent = %name, node = ?placement.node, "placement removed");
        Ok(placement.node)
    }

    async fn save_table(&self) {
        if let Some(store) = &self.args.store
            && let Err(e) = store
                .save_checkpoint(CheckpointKind::Manager, TABLE_CHECKPOINT, &self.table)
                .await
        {
            tracing::error!(error = %e, "cannot checkpoint the placement table");
        }
    }

    fn host_of(&self, node: &NodeId) -> Option<ActorRef<NodeHostMessage>> {
        self.hosts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(node)
            .cloned()
    }
}

/// Where a reconciliation step spawns an agent: through this node's Admin, or another
/// node's host.
enum Spawner {
    Local(Option<AdminClient>),
    Remote(Option<ActorRef<NodeHostMessage>>),
}

impl Spawner {
    async fn spawn(
        self,
        node: &NodeId,
        request: SpawnAgentRequest,
        timeout_ms: u64,
    ) -> Result<AgentInfo, AdminError> {
        match self {
            Spawner::Local(Some(admin)) => {
                admin
                    .with_timeout(std::time::Duration::from_millis(timeout_ms))
                    .spawn_agent(&request.kind, request.name, &request.config)
                    .await
            }
            Spawner::Local(None) => Err(AdminError::Unavailable {
                reason: "this node's Admin is not running".into(),
            }),
            Spawner::Remote(host) => spawn_on(host, node, request, timeout_ms).await,
        }
    }
}

/// Asks `node`'s host to spawn an agent there, within `timeout_ms`.
async fn spawn_on(
    host: Option<ActorRef<NodeHostMessage>>,
    node: &NodeId,
    request: SpawnAgentRequest,
    timeout_ms: u64,
) -> Result<AgentInfo, AdminError> {
    let host = host.ok_or_else(|| AdminError::Unavailable {
        reason: format!("the host of node {node} is not known"),
    })?;
    ractor::call_t!(
        host,
        NodeHostMessage::SpawnAgent,
        timeout_ms,
        Wire::new(request)
    )
    .map_err(|e| AdminError::Unavailable {
        reason: format!("the node {node} did not answer: {e}"),
    })?
    .open()?
}

impl NodeHostState {
    /// The node's info with its current load and agents.
    fn refresh(&mut self) -> NodeInfo {
        let prefix = format!("{}.agent.", self.args.namespace.as_str());
        let mut running: Vec<AgentId> =
            ractor::pg::get_local_members(&self.args.namespace.agents_group())
                .into_iter()
                .filter_map(|c| c.get_name())
                .filter_map(|n| n.strip_prefix(&prefix).map(AgentId::new))
                .filter(|a| a.as_str() != KIND)
                .collect();
        running.sort();
        self.info.agents = running.len() as u32 + 1;
        self.info.load = self.info.agents as f32 / self.info.cpus.max(1) as f32;
        self.info.running = running;
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

    /// Places the agent on the least loaded up node that fits its kind's needs and the
    /// request's, if the asker's tier allows what it needs, asking every node's host for
    /// its info (a host that does not answer within [`INFO_TIMEOUT_MS`] is left out). An
    /// agent of a permanent kind goes in the placement table, and is placed again if its
    /// node is lost.
    async fn place(
        &mut self,
        myself: &ActorRef<NodeHostMessage>,
        mut req: PlaceRequest,
    ) -> Result<AgentInfo, AdminError> {
        if !self.args.config.head {
            return Err(AdminError::Unavailable {
                reason: format!("node {} is not the head: ask the head", self.info.node),
            });
        }
        let kinds = self.admin()?.kinds().await?;
        let kind = kinds
            .iter()
            .find(|k| k.name == req.spawn.kind)
            .ok_or_else(|| AdminError::UnknownKind {
                kind: req.spawn.kind.clone(),
                known: kinds.iter().map(|k| k.name.clone()).collect(),
            })?;
        req.needs = merge(&kind.needs, &req.needs);
        req.tier
            .gpu()
            .allows(req.needs.gpu, req.needs.min_vram_mib)
            .map_err(|reason| AdminError::Forbidden {
                tier: req.tier.to_string(),
                reason: format!("{} needs a GPU and {reason}", req.spawn.name),
            })?;
        if self.table.placements.contains_key(&req.spawn.name) {
            return Err(AdminError::NameTaken {
                name: req.spawn.name.to_string(),
            });
        }
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
                // A node the heartbeats found down stays out until it answers them again.
                let down = self
                    .members
                    .get(&info.node)
                    .is_some_and(|m| m.state == NodeState::Down);
                if !down {
                    hosts.push((info, Some(host)));
                }
            }
        }
        let infos: Vec<NodeInfo> = hosts.iter().map(|(i, _)| i.clone()).collect();
        let chosen = place(&req.needs, &infos)
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
        tracing::info!(kind = %req.spawn.kind, agent = %req.spawn.name, node = %chosen, "placed");
        let info = match host {
            None => self.spawn_here(req.spawn.clone()).await?,
            Some(host) => {
                spawn_on(Some(host), &chosen, req.spawn.clone(), SPAWN_TIMEOUT_MS).await?
            }
        };
        if kind.restart == RestartType::Permanent {
            self.table.placements.insert(
                req.spawn.name.clone(),
                Placement {
                    request: req,
                    node: Some(chosen),
                    reason: None,
                    moves: 0,
                    since_ms: crate::runs::now_ms(),
                },
            );
            self.save_table().await;
        }
        Ok(info)
    }
}

/// How long a node's host has to say what it offers.
const INFO_TIMEOUT_MS: u64 = 2_000;
/// How long a remote spawn may take.
const SPAWN_TIMEOUT_MS: u64 = 30_000;
/// How long a reconciliation's spawn may take, at least (the down timeout if longer): a
/// node that does not answer sooner is about to be marked down anyway.
const RECONCILE_SPAWN_TIMEOUT_MS: u64 = 5_000;

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
                    store: ctx.store.clone(),
                },
            )
        },
    )
}
