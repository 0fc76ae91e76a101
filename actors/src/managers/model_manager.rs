//! The ModelManager: knows which models each node can serve, picks where a request's model
//! runs ([`select`]), loads the models of this node once and hands them out, and falls back
//! (GPU → CPU → rules) with the reason recorded.
//!
//! Its messages are local: they hand out loaded models (`Arc`s). A model chosen on another
//! node (a GPU node the tier may use) is served there by an Inference agent that the head
//! places through the cluster's placement ([`inference::connect`]); this node gets a
//! [`inference::RemoteGenerator`] for it, and when that node cannot be reached, falls back
//! to its own CPU (or to rules), with the reason.

use crate::agents::inference;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use ractor_cluster_derive::RactorMessage;
use reporunner_protocols::Wire;
use reporunner_protocols::access::Tier;
use reporunner_protocols::cluster::{Member, NodeHostMessage, NodeInfo, NodeState};
use reporunner_protocols::ids::{AgentId, NodeId};
use reporunner_runtime::models::generate::Generator;
use reporunner_runtime::models::hashing::{DEFAULT_DIM, HashingEmbedder};
use reporunner_runtime::models::llm::LocalLlm;
use reporunner_runtime::models::locate::{self, LocateConfig};
use reporunner_runtime::models::select::{Choice, ModelSpec, SelectRequest, select};
use reporunner_runtime::models::{Backend, Embedder, bert::BertEmbedder};
use reporunner_runtime::naming::{Namespace, lookup};
use std::sync::Arc;

/// The generator the ModelManager serves unless configured: SmolLM2-135M-Instruct, which
/// needs well under a GiB of VRAM.
pub fn default_generator() -> ModelSpec {
    ModelSpec {
        name: locate::SMOLLM2.into(),
        vram_mib: 600,
    }
}

/// The spec of the model `name` names: SmolLM2 by its name or `smollm2`, or a GGUF file or
/// safetensors folder by its path (its VRAM need taken from the size of its weights).
pub fn model_spec(name: &str) -> ModelSpec {
    if name.eq_ignore_ascii_case("smollm2") || name == locate::SMOLLM2 {
        return default_generator();
    }
    let path = std::path::Path::new(name);
    let weights = if path.is_dir() {
        path.join("model.safetensors")
    } else {
        path.to_path_buf()
    };
    let bytes = std::fs::metadata(&weights).map(|m| m.len()).unwrap_or(0);
    ModelSpec {
        name: name.to_string(),
        // Weights plus a third for the cache and activations.
        vram_mib: (bytes / (1024 * 1024)) * 4 / 3 + 256,
    }
}

/// Whether `name` is a model file or folder on this node, rather than a model's name.
fn is_local_path(name: &str) -> bool {
    name.contains('/') || name.ends_with(".gguf")
}

/// A request for a generator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratorRequest {
    /// The asker's tier, which decides the GPUs it may use.
    pub tier: Tier,
    /// The model: `None` for the one this node serves by default.
    pub model: Option<String>,
}

impl GeneratorRequest {
    /// The default model, for `tier`.
    pub fn default_model(tier: Tier) -> Self {
        Self { tier, model: None }
    }
}

/// The ModelManager. See the module docs.
#[derive(Debug, Clone, Copy, Default)]
pub struct ModelManager;

/// What the ModelManager starts with.
#[derive(Debug, Clone)]
pub struct ModelManagerArguments {
    /// This node.
    pub node: NodeId,
    /// Where this node's actors are registered (to find its NodeHost).
    pub namespace: Namespace,
    /// Where model files are looked for.
    pub locate: LocateConfig,
    /// The generative model to serve.
    pub generator: ModelSpec,
}

/// An embedder, and why it is the hashing stand-in when it is.
#[derive(Debug, Clone)]
pub struct EmbedderChoice {
    /// The embedder.
    pub embedder: Arc<dyn Embedder>,
    /// Why no model embeds, when none does.
    pub fallback: Option<String>,
}

/// A generator (none: rules), where it runs and why.
#[derive(Debug, Clone)]
pub struct GeneratorChoice {
    /// The loaded model, when it runs on this node.
    pub generator: Option<Arc<dyn Generator>>,
    /// The choice: backend, node, and the options passed over.
    pub choice: Choice,
}

/// The ModelManager's messages.
#[derive(RactorMessage)]
pub enum ModelManagerMessage {
    /// The best embedder of this node.
    GetEmbedder(RpcReplyPort<EmbedderChoice>),
    /// The generator for a request: the model, and the tier that decides the GPU.
    GetGenerator(GeneratorRequest, RpcReplyPort<GeneratorChoice>),
    /// Loads a model on this node, whatever the cluster offers, on the GPU of the given
    /// ordinal when the build and the node have it (for this node's Inference agent).
    LoadHere(
        String,
        Option<usize>,
        RpcReplyPort<Result<Arc<dyn Generator>, String>>,
    ),
}

impl std::fmt::Debug for ModelManagerMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelManagerMessage::GetEmbedder(_) => f.write_str("GetEmbedder"),
            ModelManagerMessage::GetGenerator(r, _) => write!(f, "GetGenerator({r:?})"),
            ModelManagerMessage::LoadHere(m, gpu, _) => write!(f, "LoadHere({m}, {gpu:?})"),
        }
    }
}

/// The ModelManager's state.
#[derive(Debug)]
pub struct ModelManagerState {
    args: ModelManagerArguments,
    embedder: Option<EmbedderChoice>,
    /// The generators loaded (or that failed to), by model name.
    generators: std::collections::HashMap<String, Result<Arc<LocalLlm>, String>>,
}

impl Actor for ModelManager {
    type Msg = ModelManagerMessage;
    type State = ModelManagerState;
    type Arguments = ModelManagerArguments;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: ModelManagerArguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(ModelManagerState {
            args,
            embedder: None,
            generators: Default::default(),
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            ModelManagerMessage::GetEmbedder(reply) => {
                let _ = reply.send(state.embedder().await);
            }
            ModelManagerMessage::GetGenerator(request, reply) => {
                let _ = reply.send(state.generator(request).await);
            }
            ModelManagerMessage::LoadHere(model, gpu, reply) => {
                let name = model_spec(&model).name;
                let _ = reply.send(state.load_generator(&name, gpu).await);
            }
        }
        Ok(())
    }
}

impl ModelManagerState {
    /// MiniLM, loaded once, or the hashing embedder with the reason.
    async fn embedder(&mut self) -> EmbedderChoice {
        if let Some(e) = &self.embedder {
            return e.clone();
        }
        let config = self.args.locate.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            locate::minilm(&config).and_then(|files| BertEmbedder::load(&files))
        })
        .await;
        let choice = match loaded {
            Ok(Ok(e)) => EmbedderChoice {
                embedder: Arc::new(e),
                fallback: None,
            },
            Ok(Err(e)) => EmbedderChoice {
                embedder: Arc::new(HashingEmbedder::new(DEFAULT_DIM)),
                fallback: Some(e.to_string()),
            },
            Err(e) => EmbedderChoice {
                embedder: Arc::new(HashingEmbedder::new(DEFAULT_DIM)),
                fallback: Some(format!("loading the embedder failed: {e}")),
            },
        };
        if let Some(why) = &choice.fallback {
            tracing::warn!(%why, "no embedding model: the hashing embedder stands in");
        }
        self.embedder = Some(choice.clone());
        choice
    }

    /// The nodes to choose among for `spec`: the cluster as this node's host sees it, or
    /// this node alone, with the models installed here. A model given by its path is
    /// served by this node alone, if the path is there.
    async fn view(&self, spec: &ModelSpec) -> Vec<Member> {
        let config = self.args.locate.clone();
        let model = spec.name.clone();
        let installed = tokio::task::spawn_blocking(move || {
            if is_local_path(&model) {
                std::path::Path::new(&model).exists()
            } else {
                model == locate::SMOLLM2 && locate::smollm2(&config).is_ok()
            }
        })
        .await
        .unwrap_or(false);
        let host =
            lookup::<NodeHostMessage>(&self.args.namespace.agent(&AgentId::new("node-host")));
        if let Some(host) = host
            && let Ok(Ok(mut members)) =
                ractor::call_t!(host, NodeHostMessage::GetMembers, 2_000).map(Wire::open)
        {
            if is_local_path(&spec.name) {
                for m in &mut members {
                    m.info.models.retain(|x| x != &spec.name);
                    if installed && m.info.node == self.args.node {
                        m.info.models.push(spec.name.clone());
                    }
                }
            }
            return members;
        }
        vec![Member {
            info: NodeInfo {
                node: self.args.node.clone(),
                address: String::new(),
                head: true,
                cpus: 1,
                memory_bytes: 0,
                gpus: Vec::new(),
                models: if installed {
                    vec![spec.name.clone()]
                } else {
                    Vec::new()
                },
                labels: Default::default(),
                agents: 0,
                load: 0.0,
                started_ms: 0,
                running: Vec::new(),
                admin: self.args.namespace.admin(),
            },
            state: NodeState::Up,
            last_seen_ms: 0,
        }]
    }

    /// Where the generator runs for `request`, loading it when that is here.
    async fn generator(&mut self, request: GeneratorRequest) -> GeneratorChoice {
        let spec = match &request.model {
            Some(name) => model_spec(name),
            None => self.args.generator.clone(),
        };
        let view = self.view(&spec).await;
        let loaded: Vec<NodeId> = match self.generators.get(&spec.name) {
            Some(Ok(_)) => vec![self.args.node.clone()],
            _ => Vec::new(),
        };
        let mut choice = select(
            &SelectRequest {
                model: &spec,
                tier: request.tier,
                local: &self.args.node,
            },
            &view,
            &loaded,
        );
        if choice.backend == Backend::Rules {
            return GeneratorChoice {
                generator: None,
                choice,
            };
        }
        if let Some(node) = choice.node.clone()
            && node != self.args.node
        {
            // Another node: its Inference agent, placed there through the head.
            let gpu = matches!(choice.backend, Backend::Cuda { .. });
            match inference::connect(&spec, &node, gpu, request.tier).await {
                Ok(remote) => {
                    let mut choice = choice;
                    choice.node = Some(remote.node().clone());
                    return GeneratorChoice {
                        generator: Some(Arc::new(remote)),
                        choice,
                    };
                }
                Err(e) => {
                    choice.passed_over.push(format!("{node}: {e}"));
                    let here = view.iter().any(|m| {
                        m.info.node == self.args.node
                            && m.state == NodeState::Up
                            && m.info.models.contains(&spec.name)
                    });
                    if !here {
                        choice.backend = Backend::Rules;
                        choice.node = None;
                        return GeneratorChoice {
                            generator: None,
                            choice,
                        };
                    }
                    choice.backend = Backend::Cpu;
                    choice.node = Some(self.args.node.clone());
                }
            }
        }
        let gpu = match choice.backend {
            Backend::Cuda { ordinal } => Some(ordinal),
            _ => None,
        };
        match self.load_generator(&spec.name, gpu).await {
            Ok(g) => {
                if gpu.is_some() && g.info().backend == Backend::Cpu {
                    choice
                        .passed_over
                        .push(if reporunner_runtime::models::CUDA {
                            "the GPU did not answer: the model runs on the CPU".into()
                        } else {
                            "this build has no CUDA: the model runs on the CPU".into()
                        });
                    choice.backend = Backend::Cpu;
                }
                GeneratorChoice {
                    generator: Some(g),
                    choice,
                }
            }
            Err(e) => {
                choice.passed_over.push(format!("loading it failed: {e}"));
                choice.backend = Backend::Rules;
                choice.node = None;
                GeneratorChoice {
                    generator: None,
                    choice,
                }
            }
        }
    }

    /// Loads the model `name` once (SmolLM2 from its package, or a GGUF file or
    /// safetensors folder by path), on the GPU `gpu` when there is one, else on the CPU.
    async fn load_generator(
        &mut self,
        name: &str,
        gpu: Option<usize>,
    ) -> Result<Arc<dyn Generator>, String> {
        if let Some(loaded) = self.generators.get(name) {
            return loaded.clone().map(|g| g as Arc<dyn Generator>);
        }
        let config = self.args.locate.clone();
        let model = name.to_string();
        let result = tokio::task::spawn_blocking(move || load_local(&config, &model, gpu))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r)
            .map(Arc::new);
        self.generators.insert(name.to_string(), result.clone());
        result.map(|g| g as Arc<dyn Generator>)
    }
}

/// Loads the model `name` (SmolLM2 from its package, a `.gguf` file, or a safetensors
/// folder) on the GPU `gpu` when this build and node have it, else on the CPU.
fn load_local(config: &LocateConfig, name: &str, gpu: Option<usize>) -> Result<LocalLlm, String> {
    let path = std::path::Path::new(name);
    if name == locate::SMOLLM2 {
        let file = locate::smollm2(config).map_err(|e| e.to_string())?;
        LocalLlm::load_path(&file, gpu).map_err(|e| e.to_string())
    } else if path.exists() {
        LocalLlm::load_path(path, gpu).map_err(|e| e.to_string())
    } else {
        Err(format!(
            "no model {name}: give `smollm2`, a .gguf file or a safetensors folder"
        ))
    }
}
