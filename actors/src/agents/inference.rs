//! The Inference agent: serves one generative model on its node to the whole cluster.
//!
//! When the ModelManager of one node picks another node for a model (a GPU node the
//! asker's tier may use), it asks the head to place an Inference agent there through the
//! cluster's placement ([`connect`]): the placement checks the tier against the GPU, finds
//! the node that serves the model, and keeps the agent placed if that node is lost. The
//! agent loads the model through its own node's ModelManager, on the GPU when the build has
//! CUDA, and answers [`InferenceMessage::Generate`] over the cluster. [`RemoteGenerator`]
//! is the [`Generator`] the asking node gets: the same trait as a local model.
//!
//! Every Inference agent joins the process group [`INFERENCE_GROUP`], which the cluster
//! shares, so any node finds the agent serving a model.

use crate::managers::model_manager::ModelManagerMessage;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use reporunner_protocols::Wire;
use reporunner_protocols::access::Tier;
use reporunner_protocols::admin::{AdminError, SpawnAgentRequest};
use reporunner_protocols::cluster::{NODE_HOSTS_GROUP, NodeHostMessage, PlaceRequest};
use reporunner_protocols::ids::{AgentId, NodeId};
use reporunner_protocols::kinds::{AgentKindDescriptor, AgentNeeds, RestartType};
use reporunner_runtime::kinds::AgentKind;
use reporunner_runtime::models::generate::{GenerateRequest, Generation, Generator};
use reporunner_runtime::models::select::ModelSpec;
use reporunner_runtime::models::{Backend, ModelError, ModelInfo};
use reporunner_runtime::naming::{Namespace, lookup};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The kind name the Inference agent is registered under.
pub const KIND: &str = "inference";

/// The process group of every Inference agent in the cluster.
pub const INFERENCE_GROUP: &str = "reporunner.inference";

/// The longest one generation may take over the cluster.
pub const GENERATE_TIMEOUT: Duration = Duration::from_secs(600);

/// The Inference agent's configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InferenceConfig {
    /// The model it serves: a name its node serves, or a path there.
    pub model: String,
    /// Whether it runs the model on its node's GPU (when the build has CUDA).
    pub gpu: bool,
}

/// What an Inference agent serves, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InferenceInfo {
    /// Its node.
    pub node: NodeId,
    /// The model.
    pub model: String,
    /// Where the model computes once loaded (`cpu`, `cuda:N`); `None` before the first
    /// request.
    pub backend: Option<String>,
}

/// A generation, and where it ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteGeneration {
    /// The generation.
    pub generation: Generation,
    /// The model that generated it.
    pub model: String,
    /// Where it computed: `cpu`, `cuda:N`.
    pub backend: String,
    /// The node it ran on.
    pub node: NodeId,
}

/// The Inference agent's messages. Variants are wire tags: never rename one.
#[derive(ractor_cluster_derive::RactorClusterMessage)]
pub enum InferenceMessage {
    /// What it serves.
    #[rpc]
    Describe(RpcReplyPort<Wire<InferenceInfo>>),
    /// Generates an answer to the chat.
    #[rpc]
    Generate(
        Wire<GenerateRequest>,
        RpcReplyPort<Wire<Result<RemoteGeneration, String>>>,
    ),
}

impl std::fmt::Debug for InferenceMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InferenceMessage::Describe(_) => f.write_str("Describe"),
            InferenceMessage::Generate(_, _) => f.write_str("Generate"),
        }
    }
}

/// The Inference agent.
#[derive(Debug, Clone, Copy, Default)]
pub struct Inference;

/// What an Inference agent starts with.
#[derive(Debug, Clone)]
pub struct InferenceArguments {
    /// Its node.
    pub node: NodeId,
    /// Where its node's ModelManager is registered.
    pub namespace: Namespace,
    /// What it serves.
    pub config: InferenceConfig,
}

/// An Inference agent's state: the model, once loaded.
#[derive(Debug)]
pub struct InferenceState {
    args: InferenceArguments,
    model: Option<Arc<dyn Generator>>,
}

impl Actor for Inference {
    type Msg = InferenceMessage;
    type State = InferenceState;
    type Arguments = InferenceArguments;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: InferenceArguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        if args.config.model.is_empty() {
            return Err("an inference agent needs a model (config: {\"model\": ...})".into());
        }
        ractor::pg::join(INFERENCE_GROUP.to_string(), vec![myself.get_cell()]);
        Ok(InferenceState { args, model: None })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            InferenceMessage::Describe(reply) => {
                let _ = reply.send(Wire::new(InferenceInfo {
                    node: state.args.node.clone(),
                    model: state.args.config.model.clone(),
                    backend: state.model.as_ref().map(|m| m.info().backend.to_string()),
                }));
            }
            InferenceMessage::Generate(request, reply) => {
                let result = match (request.open(), state.load().await) {
                    (Err(e), _) => Err(format!("a malformed request: {e}")),
                    (_, Err(e)) => Err(e),
                    (Ok(request), Ok(model)) => {
                        let node = state.args.node.clone();
                        tokio::task::spawn_blocking(move || {
                            model
                                .generate(&request)
                                .map(|generation| RemoteGeneration {
                                    generation,
                                    model: model.info().name.clone(),
                                    backend: model.info().backend.to_string(),
                                    node,
                                })
                                .map_err(|e| e.to_string())
                        })
                        .await
                        .unwrap_or_else(|e| Err(format!("the model's task failed: {e}")))
                    }
                };
                let _ = reply.send(Wire::new(result));
            }
        }
        Ok(())
    }
}

impl InferenceState {
    /// The model, loaded through this node's ModelManager on the first request.
    async fn load(&mut self) -> Result<Arc<dyn Generator>, String> {
        if let Some(m) = &self.model {
            return Ok(m.clone());
        }
        let mm = lookup::<ModelManagerMessage>(&self.args.namespace.model_manager())
            .ok_or_else(|| "this node's model manager is not running".to_string())?;
        let gpu = self.args.config.gpu.then_some(0);
        let model = ractor::call_t!(
            mm,
            ModelManagerMessage::LoadHere,
            600_000,
            self.args.config.model.clone(),
            gpu
        )
        .map_err(|e| format!("this node's model manager did not answer: {e}"))??;
        self.model = Some(model.clone());
        Ok(model)
    }
}

/// The Inference agent's kind, for the kind registry.
pub fn kind() -> AgentKind {
    AgentKind::with_config(
        AgentKindDescriptor {
            name: KIND.to_string(),
            description: "serves a generative model on its node to the cluster".to_string(),
            restart: RestartType::Permanent,
            needs: AgentNeeds::default(),
        },
        |ctx, config: InferenceConfig| {
            (
                Inference,
                InferenceArguments {
                    node: ctx.node.clone(),
                    namespace: ctx.namespace.clone(),
                    config,
                },
            )
        },
    )
}

/// A model served by an Inference agent on another node, as a [`Generator`].
///
/// `generate` blocks the calling thread until the answer comes back: call it where a
/// local model would be called, from a blocking thread (`spawn_blocking`), never from an
/// async task.
#[derive(Debug, Clone)]
pub struct RemoteGenerator {
    actor: ActorRef<InferenceMessage>,
    /// What was asked for, until the first answer says what runs.
    planned: ModelInfo,
    /// What runs, from the first answer.
    actual: Arc<std::sync::OnceLock<ModelInfo>>,
    node: NodeId,
    runtime: tokio::runtime::Handle,
}

impl RemoteGenerator {
    /// The node the model runs on.
    pub fn node(&self) -> &NodeId {
        &self.node
    }
}

impl Generator for RemoteGenerator {
    /// What was asked for, until the first answer; then what runs (a GPU node with a
    /// build without CUDA runs the model on its CPU).
    fn info(&self) -> &ModelInfo {
        self.actual.get().unwrap_or(&self.planned)
    }

    fn generate(&self, request: &GenerateRequest) -> Result<Generation, ModelError> {
        let fail = |reason: String| ModelError::Inference {
            model: self.planned.name.clone(),
            reason: format!("on {}: {reason}", self.node),
        };
        let actor = self.actor.clone();
        let request = Wire::new(request.clone());
        let answer = self.runtime.block_on(async move {
            actor
                .call(
                    |r| InferenceMessage::Generate(request, r),
                    Some(GENERATE_TIMEOUT),
                )
                .await
        });
        match answer {
            Ok(ractor::rpc::CallResult::Success(w)) => w
                .open()
                .map_err(|e| fail(e.to_string()))?
                .map(|r| {
                    let _ = self.actual.set(ModelInfo {
                        name: r.model,
                        backend: r.backend.parse().unwrap_or(Backend::Cpu),
                        source: None,
                    });
                    r.generation
                })
                .map_err(fail),
            Ok(ractor::rpc::CallResult::Timeout) => {
                Err(fail(format!("no answer within {GENERATE_TIMEOUT:?}")))
            }
            Ok(ractor::rpc::CallResult::SenderError) | Err(_) => Err(fail(
                "the inference agent is gone (its node may be down)".into(),
            )),
        }
    }
}

/// The agent name an Inference agent serving `model` gets.
pub fn agent_name(model: &str, gpu: bool) -> AgentId {
    let slug: String = model
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let slug = slug.trim_matches('-');
    AgentId::new(format!(
        "inference-{}{}",
        &slug[slug.len().saturating_sub(48)..],
        if gpu { "-gpu" } else { "" }
    ))
}

/// The head's NodeHost, among the hosts this node sees.
async fn head() -> Option<ActorRef<NodeHostMessage>> {
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

/// The Inference agent serving `model` (on `node`, when given), among the cluster's.
async fn find(
    model: &str,
    node: Option<&NodeId>,
) -> Option<(ActorRef<InferenceMessage>, InferenceInfo)> {
    for cell in ractor::pg::get_members(&INFERENCE_GROUP.to_string()) {
        let agent: ActorRef<InferenceMessage> = cell.into();
        if let Ok(Ok(info)) =
            ractor::call_t!(agent, InferenceMessage::Describe, 2_000).map(Wire::open)
            && info.model == model
            && node.is_none_or(|n| *n == info.node)
        {
            return Some((agent, info));
        }
    }
    None
}

/// A generator for `spec` on `node`: the Inference agent there, placed through the head
/// (with `tier`, which must allow the GPU when `gpu`) unless one already runs.
///
/// # Errors
/// Why no agent serves the model there: no head, a refused placement, or an agent that
/// did not show up.
pub async fn connect(
    spec: &ModelSpec,
    node: &NodeId,
    gpu: bool,
    tier: Tier,
) -> Result<RemoteGenerator, String> {
    let ready = |(actor, info): (ActorRef<InferenceMessage>, InferenceInfo)| RemoteGenerator {
        actor,
        actual: Default::default(),
        node: info.node,
        planned: ModelInfo {
            name: spec.name.clone(),
            backend: if gpu {
                Backend::Cuda { ordinal: 0 }
            } else {
                Backend::Cpu
            },
            source: None,
        },
        runtime: tokio::runtime::Handle::current(),
    };
    if let Some(found) = find(&spec.name, Some(node)).await {
        return Ok(ready(found));
    }
    let head = head()
        .await
        .ok_or_else(|| "no head in this cluster to place an inference agent".to_string())?;
    let request = PlaceRequest {
        spawn: SpawnAgentRequest {
            kind: KIND.into(),
            name: agent_name(&spec.name, gpu),
            config: serde_json::json!({ "model": spec.name, "gpu": gpu }).to_string(),
        },
        needs: AgentNeeds {
            gpu,
            min_vram_mib: if gpu { spec.vram_mib } else { 0 },
            model: Some(spec.name.clone()),
            labels: Default::default(),
        },
        tier,
    };
    let placed = ractor::call_t!(head, NodeHostMessage::Place, 60_000, Wire::new(request))
        .map_err(|e| format!("the head did not answer: {e}"))?
        .open()
        .map_err(|e| e.to_string())?;
    let on = match placed {
        Ok(info) => Some(info.node),
        // Placed before (by this node or another): it runs where the head put it.
        Err(AdminError::NameTaken { .. }) => None,
        Err(e) => return Err(format!("the head would not place an inference agent: {e}")),
    };
    // The agent's group membership reaches this node with the cluster's next sync.
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        if let Some(found) = find(&spec.name, on.as_ref()).await {
            return Ok(ready(found));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!(
        "the inference agent placed on {} did not show up",
        on.map_or_else(|| "its node".to_string(), |n| n.to_string())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_names_are_slugs_of_the_model() {
        assert_eq!(
            agent_name("SmolLM2-135M-Instruct", true).as_str(),
            "inference-smollm2-135m-instruct-gpu"
        );
        assert_eq!(
            agent_name("/models/x.gguf", false).as_str(),
            "inference-models-x-gguf"
        );
    }
}
