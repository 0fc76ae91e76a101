//! The cluster's vocabulary: what a node publishes of itself ([`NodeInfo`]) and the
//! messages of the `NodeHost` every node runs, which spawns agents locally on the Admin's
//! behalf (ractor_cluster has no remote spawn).

use crate::admin::{AdminError, AgentInfo, SpawnAgentRequest};
use crate::codec::Wire;
use crate::host::GpuInfo;
use crate::ids::NodeId;
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
}

impl std::fmt::Debug for NodeHostMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NodeHostMessage::GetInfo(_) => f.write_str("GetInfo"),
            NodeHostMessage::SpawnAgent(req, _) => write!(f, "SpawnAgent({req:?})"),
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
