//! The cluster's vocabulary: what a node publishes of itself ([`NodeInfo`]) and the
//! messages of the `NodeHost` every node runs, which spawns agents locally on the Admin's
//! behalf (ractor_cluster has no remote spawn).

use crate::access::Tier;
use crate::admin::{ActorTree, AdminError, AgentInfo, SpawnAgentRequest};
use crate::codec::Wire;
use crate::host::GpuInfo;
use crate::ids::{AgentId, NodeId};
use crate::kinds::AgentNeeds;
use ractor::RpcReplyPort;
use ractor_cluster_derive::RactorClusterMessage;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The process group every node's `NodeHost` joins; ractor_cluster syncs it to every
/// connected node, so each node sees every other's host.
pub const NODE_HOSTS_GROUP: &str = "reporunner.node_hosts";

/// What a node offers, as its `NodeHost` publishes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// The node's id.
    pub node: NodeId,
    /// Where its NodeServer listens, `host:port`.
    pub address: String,
    /// Whether it is the head (runs the cluster's Admin of record).
    pub head: bool,
    /// Logical CPUs it may use.
    pub cpus: u32,
    /// Memory it may use, in bytes.
    pub memory_bytes: u64,
    /// Its GPUs, from nvidia-smi, or one stated by a `gpu` label override.
    pub gpus: Vec<GpuInfo>,
    /// The models it can serve.
    pub models: Vec<String>,
    /// Its labels, such as `gpu=true` or `zone=eu-1`.
    pub labels: BTreeMap<String, String>,
    /// The agents running on it.
    pub agents: u32,
    /// Its load: agents per CPU.
    pub load: f32,
    /// When it started, in ms since the Unix epoch.
    pub started_ms: u64,
    /// The agents running on it (its own NodeHost left out).
    #[serde(default)]
    pub running: Vec<AgentId>,
    /// The registered name of its Admin.
    #[serde(default)]
    pub admin: String,
}

impl NodeInfo {
    /// Whether the node has a GPU: one detected, or a `gpu=true` label.
    pub fn has_gpu(&self) -> bool {
        !self.gpus.is_empty() || self.labels.get("gpu").is_some_and(|v| v == "true")
    }
}

/// Whether a node answers its heartbeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeState {
    /// It answered within the timeout.
    Up,
    /// It missed its heartbeats for longer than the timeout (or its connection closed).
    Down,
}

/// A node as the head's membership view holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// What it last said of itself.
    pub info: NodeInfo,
    /// Up or down.
    pub state: NodeState,
    /// When it last answered, in ms since the Unix epoch.
    pub last_seen_ms: u64,
}

/// A request to place an agent on the node of the cluster that fits it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaceRequest {
    /// The agent.
    pub spawn: SpawnAgentRequest,
    /// Needs on top of its kind's own (an operator may ask for a GPU node, say).
    pub needs: AgentNeeds,
    /// The tier of the user who asked: it must allow the GPU the agent needs.
    pub tier: Tier,
}

/// One agent the head placed and keeps placed: its kind is permanent, so when its node is
/// lost it is placed again on a node that fits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// What was asked, with the kind's needs merged in.
    pub request: PlaceRequest,
    /// The node it runs on, or `None` while no node fits.
    pub node: Option<NodeId>,
    /// Why no node fits, while `node` is `None`.
    pub reason: Option<String>,
    /// How many times it was placed again after losing its node.
    pub moves: u32,
    /// When it got its node, in ms since the Unix epoch: a node's info older than that
    /// (plus a heartbeat) may not show it yet.
    #[serde(default)]
    pub since_ms: u64,
}

/// The head's placements, checkpointed so that a restarted head keeps them. Stored as
/// `manager_state_placements`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlacementTable {
    /// By agent name.
    pub placements: BTreeMap<AgentId, Placement>,
}

impl crate::record::Record for PlacementTable {
    const KIND: &'static str = "placements";
    const VERSION: u16 = 1;
}

/// What the head tells a node of the agents it placed: the ones the node is to run, and
/// copies the node is to stop because the head placed them elsewhere (the downing rule).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// Who sends it: the head's node.
    pub head: NodeId,
    /// The agents placed on this node.
    pub placed: Vec<AgentId>,
    /// Copies of agents placed elsewhere, to stop.
    pub stop: Vec<AgentId>,
}

/// One node's part of the cluster tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeTree {
    /// The node, its state and its info.
    pub member: Member,
    /// Its Admin's live tree, or why it could not be read.
    pub tree: Result<ActorTree, String>,
}

/// Why `info`'s node cannot take an agent with `needs`, or `None` when it fits.
pub fn misfit(needs: &AgentNeeds, info: &NodeInfo) -> Option<String> {
    if needs.gpu && !info.has_gpu() {
        return Some("no GPU".into());
    }
    if needs.min_vram_mib > 0 {
        let best = info
            .gpus
            .iter()
            .map(|g| g.memory_total_mib)
            .max()
            .unwrap_or(0);
        if best < needs.min_vram_mib {
            return Some(format!("{best} MiB of VRAM, {} needed", needs.min_vram_mib));
        }
    }
    if let Some(model) = &needs.model
        && !info.models.contains(model)
    {
        return Some(format!("does not serve the model {model}"));
    }
    for (k, v) in &needs.labels {
        if info.labels.get(k) != Some(v) {
            return Some(format!("no label {k}={v}"));
        }
    }
    None
}

/// The node an agent with `needs` goes to: the least loaded of those that fit (by load,
/// then agent count, then name, so the choice is stable).
///
/// # Errors
/// What each node lacks, when none fits.
pub fn place<'a>(needs: &AgentNeeds, nodes: &'a [NodeInfo]) -> Result<&'a NodeInfo, String> {
    let mut why = Vec::new();
    let best = nodes
        .iter()
        .filter(|n| match misfit(needs, n) {
            Some(reason) => {
                why.push(format!("{}: {reason}", n.node));
                false
            }
            None => true,
        })
        .min_by(|a, b| {
            a.load
                .total_cmp(&b.load)
                .then(a.agents.cmp(&b.agents))
                .then(a.node.as_str().cmp(b.node.as_str()))
        });
    best.ok_or_else(|| {
        if nodes.is_empty() {
            "no node is known".into()
        } else {
            why.join("; ")
        }
    })
}

/// One step that brings the cluster to what the placement table says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Spawn the agent on the node: its node is up and does not run it, or its node is
    /// lost and this one fits.
    Spawn {
        /// The agent.
        name: AgentId,
        /// Where.
        node: NodeId,
    },
    /// An up node that fits already runs it (a head that lost its table, or a node that
    /// kept its copy): the table takes that node.
    Adopt {
        /// The agent.
        name: AgentId,
        /// Where it runs.
        node: NodeId,
    },
    /// No up node fits.
    Unplaced {
        /// The agent.
        name: AgentId,
        /// What each node lacks.
        reason: String,
    },
}

/// What the head does to reconcile its placement `table` with the `view` of the cluster:
/// the steps, and the assignment each up node gets.
///
/// The downing rule is the head's table: an agent runs where the table places it, and
/// every other copy is stopped. An agent whose node is up stays there; one whose node is
/// down (or gone) goes to an up node that already runs it and fits, or else to the least
/// loaded up node that fits, or is unplaced with the reason. A worker that loses the head
/// stops the agents the head placed on it (see the NodeHost), so a head that moves them
/// does not leave two copies alive on both sides of a partition.
///
/// A node's info must be newer than the agent's placement by `grace_ms` (a heartbeat) for
/// the agent's absence from it to count: an answer sent just before the spawn would not
/// show it.
pub fn reconcile(
    head: &NodeId,
    table: &PlacementTable,
    view: &[Member],
    grace_ms: u64,
) -> (Vec<Step>, BTreeMap<NodeId, Assignment>) {
    let mut up: Vec<NodeInfo> = view
        .iter()
        .filter(|m| m.state == NodeState::Up)
        .map(|m| m.info.clone())
        .collect();
    let mut steps = Vec::new();
    let mut target: BTreeMap<&AgentId, NodeId> = BTreeMap::new();
    for (name, p) in &table.placements {
        let needs = &p.request.needs;
        let current = p.node.as_ref().filter(|n| up.iter().any(|i| &i.node == *n));
        let chosen = if let Some(node) = current {
            let info = up.iter().find(|i| &i.node == node).expect("up");
            let fresh = view
                .iter()
                .find(|m| &m.info.node == node)
                .is_some_and(|m| m.last_seen_ms > p.since_ms.saturating_add(grace_ms));
            if fresh && !info.running.contains(name) {
                steps.push(Step::Spawn {
                    name: name.clone(),
                    node: node.clone(),
                });
            }
            Some(node.clone())
        } else if let Some(info) = up
            .iter()
            .find(|i| i.running.contains(name) && misfit(needs, i).is_none())
        {
            steps.push(Step::Adopt {
                name: name.clone(),
                node: info.node.clone(),
            });
            Some(info.node.clone())
        } else {
            match place(needs, &up) {
                Ok(info) => {
                    let node = info.node.clone();
                    steps.push(Step::Spawn {
                        name: name.clone(),
                        node: node.clone(),
                    });
                    // Count it, so that several agents moved at once spread out.
                    if let Some(i) = up.iter_mut().find(|i| i.node == node) {
                        i.agents += 1;
                        i.load = i.agents as f32 / i.cpus.max(1) as f32;
                    }
                    Some(node)
                }
                Err(reason) => {
                    if p.node.is_some() || p.reason.as_deref() != Some(reason.as_str()) {
                        steps.push(Step::Unplaced {
                            name: name.clone(),
                            reason,
                        });
                    }
                    None
                }
            }
        };
        if let Some(node) = chosen {
            target.insert(name, node);
        }
    }
    let assignments = up
        .iter()
        .map(|info| {
            let placed = target
                .iter()
                .filter(|(_, n)| **n == info.node)
                .map(|(a, _)| (*a).clone())
                .collect();
            let stop = info
                .running
                .iter()
                .filter(|a| table.placements.contains_key(*a) && target.get(a) != Some(&info.node))
                .cloned()
                .collect();
            (
                info.node.clone(),
                Assignment {
                    head: head.clone(),
                    placed,
                    stop,
                },
            )
        })
        .collect();
    (steps, assignments)
}

/// Why a node refused a peer's session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalReason {
    /// The peer named itself (a ractor_cluster node) but failed the cookie challenge.
    Cookie,
    /// The peer has this node's own name.
    NameClash,
    /// The peer never named itself: TLS on one side only, a certificate another CA
    /// signed, or not a Repo Runner node.
    Handshake,
    /// The peer authenticated, but its answers are in a wire version this node cannot read:
    /// another Repo Runner release.
    Version,
}

impl RefusalReason {
    /// What it means, and what to check.
    pub fn explain(self) -> &'static str {
        match self {
            RefusalReason::Cookie => {
                "its cookie is not this cluster's (check --cookie or REPORUNNER_COOKIE)"
            }
            RefusalReason::NameClash => {
                "it has this node's own name: two nodes cannot share a name (give one another --name)"
            }
            RefusalReason::Handshake => {
                "it did not complete the handshake (TLS on one side only, a certificate another CA signed, or not a Repo Runner node)"
            }
            RefusalReason::Version => {
                "it speaks another version of the wire protocol, so it is not a member (run one Repo Runner release on every node)"
            }
        }
    }
}

/// A peer a node refused, as `cluster status` shows it: repeated refusals of the same
/// peer name for the same reason are counted in one entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// The address the peer connected from.
    pub peer: String,
    /// The name it gave, when it got as far as giving one.
    pub node: Option<String>,
    /// Why it was refused.
    pub reason: RefusalReason,
    /// What exactly, where there is more to say (`wire version 2; this node reads 1`).
    #[serde(default)]
    pub detail: Option<String>,
    /// How many times.
    pub count: u32,
    /// When last, in ms since the Unix epoch.
    pub last_ms: u64,
}

/// A `NodeHost`'s messages.
#[derive(RactorClusterMessage)]
pub enum NodeHostMessage {
    /// Returns what the node offers now.
    #[rpc]
    GetInfo(RpcReplyPort<Wire<NodeInfo>>),
    /// Spawns an agent on this node, from its registry of kinds.
    #[rpc]
    SpawnAgent(
        Wire<SpawnAgentRequest>,
        RpcReplyPort<Wire<Result<AgentInfo, AdminError>>>,
    ),
    /// Places an agent on the node of the cluster that fits its needs and its kind's, and
    /// spawns it there.
    #[rpc]
    Place(
        Wire<PlaceRequest>,
        RpcReplyPort<Wire<Result<AgentInfo, AdminError>>>,
    ),
    /// Returns every node this host has seen, up or down.
    #[rpc]
    GetMembers(RpcReplyPort<Wire<Vec<Member>>>),
    /// Stops an agent the head placed and forgets its placement, so that it is not placed
    /// again; returns the node it ran on, if any.
    #[rpc]
    Unplace(
        Wire<AgentId>,
        RpcReplyPort<Wire<Result<Option<NodeId>, AdminError>>>,
    ),
    /// Returns the agents the head placed, where they run, and why the unplaced ones are.
    #[rpc]
    GetPlacements(RpcReplyPort<Wire<Vec<Placement>>>),
    /// Returns every node this host has seen with its Admin's live tree.
    #[rpc]
    GetTree(RpcReplyPort<Wire<Vec<NodeTree>>>),
    /// Returns this node's Admin's live tree.
    #[rpc]
    GetNodeTree(RpcReplyPort<Wire<Result<ActorTree, AdminError>>>),
    /// Returns the peers this node refused lately, newest first.
    #[rpc]
    GetRefusals(RpcReplyPort<Wire<Vec<Refusal>>>),
    /// Its node's session log: a peer was refused.
    Refused(Wire<Refusal>),
    /// The head's word on the agents it placed: which this node runs, which to stop.
    Assign(Wire<Assignment>),
    /// Its own reconciliation's outcome: where agents now run, or why they do not.
    Reconciled(Wire<Vec<(AgentId, Result<NodeId, String>)>>),
    /// Its own timer: time to heartbeat every node.
    Tick,
    /// Its own heartbeat's answers: the nodes that answered.
    Seen(Wire<Vec<NodeInfo>>),
}

impl std::fmt::Debug for NodeHostMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NodeHostMessage::GetInfo(_) => f.write_str("GetInfo"),
            NodeHostMessage::SpawnAgent(req, _) => write!(f, "SpawnAgent({req:?})"),
            NodeHostMessage::Place(req, _) => write!(f, "Place({req:?})"),
            NodeHostMessage::GetMembers(_) => f.write_str("GetMembers"),
            NodeHostMessage::GetPlacements(_) => f.write_str("GetPlacements"),
            NodeHostMessage::Unplace(name, _) => write!(f, "Unplace({name:?})"),
            NodeHostMessage::GetTree(_) => f.write_str("GetTree"),
            NodeHostMessage::GetNodeTree(_) => f.write_str("GetNodeTree"),
            NodeHostMessage::GetRefusals(_) => f.write_str("GetRefusals"),
            NodeHostMessage::Refused(r) => write!(f, "Refused({r:?})"),
            NodeHostMessage::Assign(a) => write!(f, "Assign({a:?})"),
            NodeHostMessage::Reconciled(r) => write!(f, "Reconciled({r:?})"),
            NodeHostMessage::Tick => f.write_str("Tick"),
            NodeHostMessage::Seen(nodes) => write!(f, "Seen({nodes:?})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ractor::Message;

    #[tokio::test]
    async fn every_variant_round_trips() {
        let (tx, _rx) = ractor::concurrency::oneshot();
        let m = NodeHostMessage::GetInfo(RpcReplyPort::from(tx));
        assert!(matches!(
            NodeHostMessage::deserialize(m.serialize().unwrap()).unwrap(),
            NodeHostMessage::GetInfo(_)
        ));
        let req = SpawnAgentRequest {
            kind: "env-detector".into(),
            name: crate::ids::AgentId::new("env"),
            config: String::new(),
        };
        let (tx, _rx) = ractor::concurrency::oneshot();
        let m = NodeHostMessage::SpawnAgent(Wire::new(req.clone()), RpcReplyPort::from(tx));
        match NodeHostMessage::deserialize(m.serialize().unwrap()).unwrap() {
            NodeHostMessage::SpawnAgent(w, _) => assert_eq!(w, Wire::Value(req)),
            other => panic!("{other:?}"),
        }
    }

    fn node(name: &str, gpu: bool, load: f32) -> NodeInfo {
        let mut n = NodeInfo {
            node: NodeId::new(name),
            address: "127.0.0.1:1".into(),
            head: false,
            cpus: 2,
            memory_bytes: 1,
            gpus: vec![],
            models: vec![],
            labels: BTreeMap::new(),
            agents: 0,
            load,
            started_ms: 0,
            running: vec![],
            admin: String::new(),
        };
        if gpu {
            n.gpus.push(GpuInfo {
                index: 0,
                name: "L4".into(),
                memory_total_mib: 24_000,
                memory_free_mib: 24_000,
                driver: "550".into(),
            });
        }
        n
    }

    #[test]
    fn placement_takes_the_least_loaded_node_that_fits() {
        let nodes = vec![
            node("head", false, 0.0),
            node("g1", true, 2.0),
            node("g2", true, 1.0),
        ];
        let gpu = AgentNeeds {
            gpu: true,
            ..AgentNeeds::default()
        };
        assert_eq!(place(&gpu, &nodes).unwrap().node.as_str(), "g2");
        assert_eq!(
            place(&AgentNeeds::default(), &nodes).unwrap().node.as_str(),
            "head"
        );
        let big = AgentNeeds {
            gpu: true,
            min_vram_mib: 80_000,
            ..AgentNeeds::default()
        };
        let why = place(&big, &nodes).unwrap_err();
        assert!(why.contains("head: no GPU"), "{why}");
        assert!(why.contains("g1: 24000 MiB of VRAM, 80000 needed"), "{why}");
        let cpu_only = vec![node("head", false, 0.0)];
        assert_eq!(place(&gpu, &cpu_only).unwrap_err(), "head: no GPU");
    }

    fn member(name: &str, gpu: bool, up: bool, running: &[&str]) -> Member {
        let mut info = node(name, gpu, 0.0);
        info.running = running.iter().map(|a| AgentId::new(*a)).collect();
        info.agents = running.len() as u32;
        info.load = info.agents as f32 / 2.0;
        Member {
            info,
            state: if up { NodeState::Up } else { NodeState::Down },
            last_seen_ms: 1_000,
        }
    }

    fn table(entries: &[(&str, bool, Option<&str>)]) -> PlacementTable {
        PlacementTable {
            placements: entries
                .iter()
                .map(|(name, gpu, node)| {
                    (
                        AgentId::new(*name),
                        Placement {
                            request: PlaceRequest {
                                spawn: SpawnAgentRequest {
                                    kind: "k".into(),
                                    name: AgentId::new(*name),
                                    config: String::new(),
                                },
                                needs: AgentNeeds {
                                    gpu: *gpu,
                                    ..AgentNeeds::default()
                                },
                                tier: Tier::Developer,
                            },
                            node: node.map(NodeId::new),
                            reason: None,
                            moves: 0,
                            since_ms: 0,
                        },
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn reconcile_leaves_a_settled_cluster_alone() {
        let head = NodeId::new("head");
        let t = table(&[("a", true, Some("g1")), ("b", false, Some("head"))]);
        let view = vec![
            member("head", false, true, &["b"]),
            member("g1", true, true, &["a"]),
        ];
        let (steps, assign) = reconcile(&head, &t, &view, 0);
        assert!(steps.is_empty(), "{steps:?}");
        assert_eq!(assign[&NodeId::new("g1")].placed, vec![AgentId::new("a")]);
        assert!(assign[&NodeId::new("g1")].stop.is_empty());
    }

    #[test]
    fn reconcile_does_not_respawn_from_an_answer_older_than_the_placement() {
        let head = NodeId::new("head");
        let mut t = table(&[("a", true, Some("g1"))]);
        t.placements.get_mut(&AgentId::new("a")).unwrap().since_ms = 900;
        // g1 answered (at 1000) before it had spawned `a`.
        let view = vec![
            member("head", false, true, &[]),
            member("g1", true, true, &[]),
        ];
        assert!(reconcile(&head, &t, &view, 1_000).0.is_empty());
        // A heartbeat later, its absence counts.
        let mut later = view.clone();
        later[1].last_seen_ms = 2_500;
        assert_eq!(
            reconcile(&head, &t, &later, 1_000).0,
            vec![Step::Spawn {
                name: AgentId::new("a"),
                node: NodeId::new("g1")
            }]
        );
    }

    #[test]
    fn reconcile_moves_the_agents_of_a_down_node_and_spreads_them() {
        let head = NodeId::new("head");
        let t = table(&[
            ("a", true, Some("g1")),
            ("b", true, Some("g1")),
            ("c", false, Some("head")),
        ]);
        let view = vec![
            member("head", false, true, &["c"]),
            member("g1", true, false, &["a", "b"]),
            member("g2", true, true, &[]),
            member("g3", true, true, &[]),
        ];
        let (steps, assign) = reconcile(&head, &t, &view, 0);
        assert_eq!(
            steps,
            vec![
                Step::Spawn {
                    name: AgentId::new("a"),
                    node: NodeId::new("g2")
                },
                Step::Spawn {
                    name: AgentId::new("b"),
                    node: NodeId::new("g3")
                },
            ]
        );
        // A down node gets no assignment; its copies are dealt with when it comes back.
        assert!(!assign.contains_key(&NodeId::new("g1")));
    }

    #[test]
    fn reconcile_reports_what_no_node_fits_once() {
        let head = NodeId::new("head");
        let mut t = table(&[("a", true, Some("g1"))]);
        let view = vec![
            member("head", false, true, &[]),
            member("g1", true, false, &["a"]),
        ];
        let (steps, _) = reconcile(&head, &t, &view, 0);
        assert_eq!(
            steps,
            vec![Step::Unplaced {
                name: AgentId::new("a"),
                reason: "head: no GPU".into()
            }]
        );
        // Recorded: the next round has nothing new to say.
        let p = t.placements.get_mut(&AgentId::new("a")).unwrap();
        p.node = None;
        p.reason = Some("head: no GPU".into());
        assert!(reconcile(&head, &t, &view, 0).0.is_empty());
    }

    #[test]
    fn reconcile_stops_a_copy_on_a_node_that_came_back() {
        let head = NodeId::new("head");
        let t = table(&[("a", true, Some("g2"))]);
        let view = vec![
            member("head", false, true, &[]),
            member("g1", true, true, &["a"]),
            member("g2", true, true, &["a"]),
        ];
        let (steps, assign) = reconcile(&head, &t, &view, 0);
        assert!(steps.is_empty(), "{steps:?}");
        assert_eq!(assign[&NodeId::new("g1")].stop, vec![AgentId::new("a")]);
        assert!(assign[&NodeId::new("g1")].placed.is_empty());
        assert!(assign[&NodeId::new("g2")].stop.is_empty());
    }

    #[test]
    fn reconcile_adopts_a_running_copy_and_respawns_a_missing_one() {
        let head = NodeId::new("head");
        // A head that lost track of where `a` runs, and a node that restarted empty.
        let t = table(&[("a", true, None), ("b", true, Some("g2"))]);
        let view = vec![
            member("head", false, true, &[]),
            member("g1", true, true, &["a"]),
            member("g2", true, true, &[]),
        ];
        let (steps, _) = reconcile(&head, &t, &view, 0);
        assert_eq!(
            steps,
            vec![
                Step::Adopt {
                    name: AgentId::new("a"),
                    node: NodeId::new("g1")
                },
                Step::Spawn {
                    name: AgentId::new("b"),
                    node: NodeId::new("g2")
                },
            ]
        );
    }

    #[test]
    fn a_gpu_label_counts_as_a_gpu() {
        let mut info = NodeInfo {
            node: NodeId::new("w1"),
            address: "127.0.0.1:1".into(),
            head: false,
            cpus: 2,
            memory_bytes: 1,
            gpus: vec![],
            models: vec![],
            labels: BTreeMap::new(),
            agents: 0,
            load: 0.0,
            started_ms: 0,
            running: vec![],
            admin: String::new(),
        };
        assert!(!info.has_gpu());
        info.labels.insert("gpu".into(), "true".into());
        assert!(info.has_gpu());
    }
}
