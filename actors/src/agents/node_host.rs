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
    NODE_HOSTS_GROUP, NodeHostMessage, NodeInfo, PlaceRequest, place,
};
use reporunner_protocols::host::GpuInfo;
use reporunner_protocols::ids::NodeId;
use reporunner_protocols::kinds::{AgentKindDescriptor, AgentNeeds, RestartType};
use reporunner_runtime::kinds::AgentKind;
use reporunner_runtime::naming::{Namespace, lookup};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The kind name the NodeHost is registered under.
pub const KIND: &str = "node-host";

/// The NodeHost's configuration.
#[derive(Debug, Clone, Default, Deserialize)]
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
}

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
        Ok(NodeHostState { args, info })
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
        }
        Ok(())
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
