//! The cluster's vocabulary: what a node publishes of itself ([`NodeInfo`]) and the
//! messages of the `NodeHost` every node runs, which spawns agents locally on the Admin's
//! behalf (ractor_cluster has no remote spawn).

use crate::admin::{AdminError, AgentInfo, SpawnAgentRequest};
use crate::codec::Wire;
use crate::host::GpuInfo;
use crate::ids::NodeId;
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
        };
        assert!(!info.has_gpu());
        info.labels.insert("gpu".into(), "true".into());
        assert!(info.has_gpu());
    }
}
