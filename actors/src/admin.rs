//! The Admin: the root supervisor (the seed's "CEO").
//!
//! It starts the AgentSupervisor (a dynamic supervisor) and the PortManager, restarts them
//! as their specs say, and answers [`AdminMessage`]: it spawns agents at runtime from the
//! [`KindRegistry`], stops and restarts them, and reports the live tree.
//!
//! Its supervision logic is the runtime's [`SupervisorCore`], the same that drives every
//! [`Supervisor`]; the Admin adds the kind registry and the wire-facing messages.

use crate::managers::business_orchestrator::{
    self, BusinessMessage, BusinessOrchestrator, BusinessOrchestratorArguments,
};
use crate::managers::model_manager::{ModelManager, ModelManagerArguments, default_generator};
use crate::managers::orchestrator_manager::{
    InterruptedRuns, OrchestratorManager, OrchestratorManagerArguments,
};
use crate::managers::port_manager::{PortManager, PortManagerArguments, PortRange};
use crate::managers::user_manager::{self, UserManager, UserManagerArguments};
use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, SupervisionEvent, rpc::CallResult};
use reporunner_protocols::Wire;
pub use reporunner_protocols::admin::AdminMessage;
use reporunner_protocols::admin::{
    ActorStatus, ActorTree, AdminError, AdminTreeCheckpoint, AgentCheckpoint, AgentInfo,
    SpawnAgentRequest,
};
use reporunner_protocols::business::{BusinessCheckpoint, ClientInfo, ClientSettings, ClientSpec};
use reporunner_protocols::ids::{AgentId, NodeId};
use reporunner_runtime::kinds::{KindError, KindRegistry, SpawnContext};
use reporunner_runtime::naming::Namespace;
use reporunner_runtime::store::{CheckpointKind, Checkpoints, Store};
use reporunner_runtime::supervision::{
    ChildSpec, SupervisionError, Supervisor, SupervisorArguments, SupervisorCore,
    SupervisorMessage, SupervisorOptions, send_after,
};
use reporunner_runtime::workflow::WorkflowRegistry;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The Admin's tree checkpoint is kept as `admin_tree`.
const TREE_CHECKPOINT: &str = "tree";

/// How long the Admin waits for the AgentSupervisor to start or stop an agent.
const AGENT_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The Admin. See the module docs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Admin;

/// What the Admin starts with.
#[derive(Debug, Clone)]
pub struct AdminArguments {
    /// This node's id, shown in the tree and in agent infos.
    pub node: NodeId,
    /// The prefix of every name this runtime registers.
    pub namespace: Namespace,
    /// The kinds agents can be spawned from.
    pub kinds: KindRegistry,
    /// Strategy, intensity and backoff for the Admin's own children (the managers).
    pub options: SupervisorOptions,
    /// Strategy, intensity, backoff and child limit of the AgentSupervisor.
    pub agent_options: SupervisorOptions,
    /// The ports the PortManager leases.
    pub ports: PortRange,
    /// Where the Admin checkpoints its tree, and restores it from at start. Without a
    /// store, the tree lives only as long as the process.
    pub store: Option<Arc<dyn Store>>,
    /// The workflows runs can execute.
    pub workflows: WorkflowRegistry,
    /// What the OrchestratorManager does at start with runs a dead process left running.
    pub interrupted_runs: InterruptedRuns,
    /// Where the ModelManager looks for model files (nowhere by default: rules only).
    pub models: reporunner_runtime::models::locate::LocateConfig,
}

impl Default for AdminArguments {
    /// The built-in kinds, the default namespace, and a node named after the host.
    fn default() -> Self {
        Self {
            node: NodeId::new("local"),
            namespace: Namespace::default(),
            kinds: crate::agents::builtin_kinds(),
            options: SupervisorOptions::default(),
            agent_options: SupervisorOptions {
                max_children: Some(10_000),
                ..SupervisorOptions::default()
            },
            ports: crate::managers::port_manager::DEFAULT_PORT_RANGE,
            store: None,
            workflows: WorkflowRegistry::new(),
            interrupted_runs: InterruptedRuns::default(),
            models: Default::default(),
        }
    }
}

/// The Admin's state.
#[derive(Debug)]
pub struct AdminState {
    /// Supervision of the managers: restarts, intensity, orderly shutdown.
    core: SupervisorCore,
    node: NodeId,
    namespace: Namespace,
    kinds: KindRegistry,
    started_at: Instant,
    /// Where the tree is checkpointed.
    store: Option<Arc<dyn Store>>,
    /// The agents spawned through the Admin, in spawn order: what a restart rebuilds.
    agents: Vec<AgentCheckpoint>,
    /// Checkpointed agents that could not be spawned again (their kind is not registered
    /// yet, say). They stay in the checkpoint and show in the tree as stopped.
    pending: Vec<(AgentCheckpoint, String)>,
    /// The workflows runs can execute: business clients pick their phases from them.
    workflows: WorkflowRegistry,
    /// What business clients' managers do with runs a dead process left running.
    interrupted: InterruptedRuns,
    /// The business clients, in creation order, each with its orchestrator's spec. A
    /// client whose orchestrator could not start again stays here (and in the checkpoint).
    clients: Vec<String>,
}

impl Actor for Admin {
    type Msg = AdminMessage;
    type State = AdminState;
    type Arguments = AdminArguments;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        let mut core = SupervisorCore::new(
            myself.get_cell(),
            args.options,
            send_after(myself.clone(), |t| {
                AdminMessage::RestartDue(Wire::new(t.into()))
            }),
        );
        let agent_options = args.agent_options;
        let ports = args.ports;
        let port_store = args.store.clone();
        let runs = OrchestratorManagerArguments {
            namespace: args.namespace.clone(),
            store: args.store.clone(),
            workflows: args.workflows.clone(),
            interrupted: args.interrupted_runs,
            options: SupervisorOptions::default(),
        };
        let users = UserManagerArguments {
            store: args.store.clone(),
            client: None,
        };
        let models = ModelManagerArguments {
            node: args.node.clone(),
            namespace: args.namespace.clone(),
            locate: args.models.clone(),
            generator: default_generator(),
        };
        core.start_children(vec![
            ChildSpec::new(args.namespace.agent_supervisor(), move || {
                (
                    Supervisor,
                    SupervisorArguments {
                        options: agent_options.clone(),
                        children: Vec::new(),
                    },
                )
            })
            .kind("agent-supervisor")
            .supervisor(),
            ChildSpec::new(args.namespace.port_manager(), move || {
                (
                    PortManager,
                    PortManagerArguments {
                        range: ports,
                        store: port_store.clone(),
                    },
                )
            })
            .kind("port-manager"),
            ChildSpec::new(args.namespace.orchestrator_manager(), move || {
                (OrchestratorManager, runs.clone())
            })
            .kind("orchestrator-manager"),
            ChildSpec::new(args.namespace.model_manager(), move || {
                (ModelManager, models.clone())
            })
            .kind("model-manager"),
            ChildSpec::new(args.namespace.user_manager(), move || {
                (UserManager, users.clone())
            })
            .kind(user_manager::KIND),
        ])
        .await?;
        let mut state = AdminState {
            core,
            node: args.node,
            namespace: args.namespace,
            kinds: args.kinds,
            started_at: Instant::now(),
            store: args.store,
            agents: Vec::new(),
            pending: Vec::new(),
            workflows: args.workflows,
            interrupted: args.interrupted_runs,
            clients: Vec::new(),
        };
        if let Err(e) = state.restore().await {
            state.core.shutdown().await;
            return Err(e.into());
        }
        tracing::info!(node = %state.node, namespace = state.namespace.as_str(), agents = state.agents.len(), "admin started");
        Ok(state)
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        state.core.shutdown().await;
        tracing::info!(node = %state.node, "admin stopped");
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            AdminMessage::SpawnAgent(request, reply) => {
                let _ = reply.send(Wire::new(state.spawn_agent(request).await));
            }
            AdminMessage::StopAgent(name, reply) => {
                let _ = reply.send(Wire::new(state.stop_agent(name).await));
            }
            AdminMessage::RestartAgent(name, reply) => {
                let _ = reply.send(Wire::new(state.restart_agent(name).await));
            }
            AdminMessage::GetTree(reply) => {
                if !reply.is_closed() {
                    let _ = reply.send(Wire::new(state.tree().await));
                }
            }
            AdminMessage::GetKinds(reply) => {
                let _ = reply.send(Wire::new(state.kinds.descriptors()));
            }
            AdminMessage::Checkpoint(reply) => {
                let saved = state.checkpoint().await.map(|()| {
                    if state.store.is_some() {
                        state.agents.len() + state.pending.len()
                    } else {
                        0
                    }
                });
                let _ = reply.send(Wire::new(saved));
            }
            AdminMessage::CreateClient(spec, reply) => {
                let _ = reply.send(Wire::new(state.create_client(spec).await));
            }
            AdminMessage::GetClients(reply) => {
                let _ = reply.send(Wire::new(state.client_infos().await));
            }
            AdminMessage::RemoveClient(name, reply) => {
                let _ = reply.send(Wire::new(state.remove_client(name).await));
            }
            // A malformed ticket (only a peer could send one) is dropped, not fatal.
            AdminMessage::RestartDue(due) => match due.open() {
                Ok(due) => state.core.restart_due(due.into()).await?,
                Err(e) => tracing::warn!(error = %e, "malformed restart ticket ignored"),
            },
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        // An error is the intensity running out: the Admin fails, and whoever started it
        // (the node) decides what follows.
        state.core.handle_event(event).await?;
        Ok(())
    }
}

impl AdminState {
    /// The AgentSupervisor's current incarnation.
    fn agents(&self) -> Result<ActorRef<SupervisorMessage>, AdminError> {
        self.core
            .child_cell(&self.namespace.agent_supervisor())
            .map(ActorRef::from)
            .ok_or_else(|| AdminError::Unavailable {
                reason: "the agent supervisor is restarting".to_string(),
            })
    }

    /// Spawns again every agent of the checkpoint, in order.
    ///
    /// # Errors
    /// A checkpoint that cannot be read (corrupt, or written by a newer version) stops the
    /// start: a silent empty tree would lose the operator's agents.
    async fn restore(&mut self) -> Result<(), AdminError> {
        let Some(store) = self.store.clone() else {
            return Ok(());
        };
        let checkpoint = store
            .load_checkpoint::<AdminTreeCheckpoint>(CheckpointKind::Admin, TREE_CHECKPOINT)
            .map_err(|e| AdminError::Failed {
                name: "admin".into(),
                reason: format!("cannot restore the tree: {e}"),
            })?
            .unwrap_or_default();
        for client in checkpoint.clients {
            // Its settings are in its own checkpoint; one that cannot be read leaves the
            // client listed, not running, and its data untouched.
            let started = match store
                .load_checkpoint::<BusinessCheckpoint>(CheckpointKind::Business, &client)
            {
                Ok(Some(saved)) => self.start_client(saved.spec).await.map(|_| ()),
                Ok(None) => Err(AdminError::NoClient {
                    name: client.clone(),
                }),
                Err(e) => Err(AdminError::Failed {
                    name: client.clone(),
                    reason: e.to_string(),
                }),
            };
            if let Err(e) = started {
                tracing::warn!(client = %client, error = %e, "checkpointed client not restored");
            }
            self.clients.push(client);
        }
        for agent in checkpoint.agents {
            match self
                .start_agent(agent.name.clone(), &agent.kind, agent.config.clone())
                .await
            {
                Ok(_) => self.agents.push(agent),
                Err(e) => {
                    tracing::warn!(agent = %agent.name, kind = %agent.kind, error = %e, "checkpointed agent not restored");
                    self.pending.push((agent, e.to_string()));
                }
            }
        }
        Ok(())
    }

    /// Writes the tree checkpoint and waits until it is on disk. Agents that left the
    /// supervisor on their own (transient or temporary ones that ended) are dropped first.
    async fn checkpoint(&mut self) -> Result<(), AdminError> {
        let Some(store) = self.store.clone() else {
            return Ok(());
        };
        if let Ok(children) = self
            .call_agents(&AgentId::new("admin"), SupervisorMessage::GetChildren)
            .await
        {
            self.agents
                .retain(|a| children.iter().any(|c| c.id == a.name.as_str()));
        }
        let record = AdminTreeCheckpoint {
            agents: self
                .agents
                .iter()
                .cloned()
                .chain(self.pending.iter().map(|(a, _)| a.clone()))
                .collect(),
            clients: self.clients.clone(),
        };
        store
            .save_checkpoint(CheckpointKind::Admin, TREE_CHECKPOINT, &record)
            .await
            .map_err(|e| AdminError::Failed {
                name: "admin".into(),
                reason: format!("cannot checkpoint the tree: {e}"),
            })
    }

    async fn spawn_agent(
        &mut self,
        request: Wire<SpawnAgentRequest>,
    ) -> Result<AgentInfo, AdminError> {
        let request = request.open()?;
        let info = self
            .start_agent(request.name, &request.kind, request.config.clone())
            .await?;
        self.pending.retain(|(a, _)| a.name != info.name);
        self.agents.push(AgentCheckpoint {
            name: info.name.clone(),
            kind: info.kind.clone(),
            config: request.config,
        });
        self.checkpoint().await?;
        Ok(info)
    }

    async fn start_agent(
        &self,
        name: AgentId,
        kind_name: &str,
        config: String,
    ) -> Result<AgentInfo, AdminError> {
        let request = SpawnAgentRequest {
            kind: kind_name.to_string(),
            name,
            config,
        };
        let name = AgentId::parse(request.name.as_str()).map_err(|e| AdminError::InvalidName {
            name: request.name.to_string(),
            reason: e.to_string(),
        })?;
        let kind = self
            .kinds
            .get(&request.kind)
            .ok_or_else(|| AdminError::UnknownKind {
                kind: request.kind.clone(),
                known: self.kinds.names(),
            })?;
        let ctx = SpawnContext {
            registered_name: self.namespace.agent(&name),
            name: name.clone(),
            node: self.node.clone(),
            namespace: self.namespace.clone(),
            config: request.config,
            store: self.store.clone(),
        };
        let spec = kind
            .child_spec(&ctx)
            .map_err(|e| match e {
                KindError::InvalidConfig { reason } => AdminError::InvalidConfig {
                    kind: request.kind.clone(),
                    reason,
                },
                other => AdminError::Failed {
                    name: name.to_string(),
                    reason: other.to_string(),
                },
            })?
            .group(self.namespace.agents_group());
        let cell = self
            .call_agents(&name, |reply| SupervisorMessage::StartChild(spec, reply))
            .await?
            .map_err(|e| supervision_error(&name, e))?;
        tracing::info!(agent = %name, kind = %request.kind, actor = %cell.get_id(), "agent spawned");
        Ok(AgentInfo {
            name,
            kind: request.kind,
            node: self.node.clone(),
            actor_id: cell.get_id().to_string(),
        })
    }

    async fn stop_agent(&mut self, name: Wire<AgentId>) -> Result<(), AdminError> {
        let name = &name.open()?;
        let before = self.pending.len();
        self.pending.retain(|(a, _)| &a.name != name);
        let was_pending = self.pending.len() != before;
        let id = name.to_string();
        let stopped = self
            .call_agents(name, |reply| SupervisorMessage::TerminateChild(id, reply))
            .await?
            .map_err(|e| supervision_error(name, e));
        if stopped.is_err() && !was_pending {
            return stopped;
        }
        self.agents.retain(|a| &a.name != name);
        tracing::info!(agent = %name, "agent stopped");
        self.checkpoint().await
    }

    async fn restart_agent(&mut self, name: Wire<AgentId>) -> Result<AgentInfo, AdminError> {
        let name = &name.open()?;
        let id = name.to_string();
        let cell = self
            .call_agents(name, |reply| SupervisorMessage::RestartChild(id, reply))
            .await?
            .map_err(|e| supervision_error(name, e))?;
        let children = self
            .call_agents(name, SupervisorMessage::GetChildren)
            .await?;
        let kind = children
            .into_iter()
            .find(|c| c.id == name.as_str())
            .map(|c| c.kind)
            .unwrap_or_default();
        tracing::info!(agent = %name, actor = %cell.get_id(), "agent restarted");
        self.checkpoint().await?;
        Ok(AgentInfo {
            name: name.clone(),
            kind,
            node: self.node.clone(),
            actor_id: cell.get_id().to_string(),
        })
    }

    async fn call_agents<T: Send + 'static>(
        &self,
        name: &AgentId,
        build: impl FnOnce(ractor::RpcReplyPort<T>) -> SupervisorMessage,
    ) -> Result<T, AdminError> {
        match self.agents()?.call(build, Some(AGENT_CALL_TIMEOUT)).await {
            Ok(CallResult::Success(v)) => Ok(v),
            Ok(CallResult::Timeout) => Err(AdminError::Failed {
                name: name.to_string(),
                reason: format!(
                    "the agent supervisor gave no answer within {AGENT_CALL_TIMEOUT:?}"
                ),
            }),
            Ok(CallResult::SenderError) | Err(_) => Err(AdminError::Unavailable {
                reason: "the agent supervisor stopped while handling the request".to_string(),
            }),
        }
    }

    /// Starts the orchestrator of the client `spec` under the Admin.
    async fn start_client(&mut self, spec: ClientSpec) -> Result<ActorCell, AdminError> {
        let Some(store) = self.store.clone() else {
            return Err(AdminError::Failed {
                name: spec.name,
                reason: "this node has no data directory, so it cannot keep business clients"
                    .into(),
            });
        };
        let id = self.namespace.business(&spec.name);
        let name = spec.name.clone();
        let args = BusinessOrchestratorArguments {
            spec,
            namespace: self.namespace.clone(),
            store,
            workflows: self.workflows.clone(),
            interrupted: self.interrupted,
        };
        self.core
            .start_child(
                ChildSpec::new(id, move || (BusinessOrchestrator, args.clone()))
                    .kind(business_orchestrator::KIND),
            )
            .await
            .map_err(|e| match e {
                SupervisionError::DuplicateChild { .. } | SupervisionError::NameTaken { .. } => {
                    AdminError::ClientExists { name: name.clone() }
                }
                other => AdminError::Failed {
                    name: name.clone(),
                    reason: other.to_string(),
                },
            })
    }

    async fn create_client(&mut self, spec: Wire<ClientSpec>) -> Result<ClientInfo, AdminError> {
        let spec = spec.open()?;
        if self.clients.contains(&spec.name) {
            return Err(AdminError::ClientExists { name: spec.name });
        }
        let settings =
            business_orchestrator::validate(&spec, &self.workflows).map_err(|reason| {
                AdminError::InvalidConfig {
                    kind: business_orchestrator::KIND.into(),
                    reason,
                }
            })?;
        // A client created again under a name it had finds its data, with these settings.
        if let Some(store) = &self.store {
            let _ = store.remove(
                reporunner_runtime::store::Tree::Checkpoints,
                reporunner_runtime::store::checkpoint_key(CheckpointKind::Business, &spec.name)
                    .as_bytes(),
            );
        }
        let name = spec.name.clone();
        let cell = self
            .start_client(ClientSpec {
                name: name.clone(),
                settings,
            })
            .await?;
        self.clients.push(name.clone());
        self.checkpoint().await?;
        tracing::info!(client = %name, "business client created");
        client_info(cell.into())
            .await
            .ok_or_else(|| AdminError::Unavailable {
                reason: format!("client {name}'s orchestrator did not answer"),
            })
    }

    async fn client_infos(&self) -> Vec<ClientInfo> {
        let mut out = Vec::with_capacity(self.clients.len());
        for name in &self.clients {
            let cell = self.core.child_cell(&self.namespace.business(name));
            let info = match cell {
                Some(cell) => client_info(cell.into()).await,
                None => None,
            };
            out.push(info.unwrap_or_else(|| {
                ClientInfo {
                    name: name.clone(),
                    settings: self
                        .store
                        .as_ref()
                        .and_then(|s| {
                            s.load_checkpoint::<BusinessCheckpoint>(CheckpointKind::Business, name)
                                .ok()
                                .flatten()
                        })
                        .map_or_else(|| ClientSettings::new(""), |c| c.spec.settings),
                    created_ms: 0,
                    orchestrator: self.namespace.business(name),
                    running: false,
                }
            }));
        }
        out
    }

    async fn remove_client(&mut self, name: Wire<String>) -> Result<(), AdminError> {
        let name = name.open()?;
        if !self.clients.contains(&name) {
            return Err(AdminError::NoClient { name });
        }
        let id = self.namespace.business(&name);
        match self.core.terminate_child(&id).await {
            Ok(()) | Err(SupervisionError::NotFound { .. }) => {}
            Err(e) => {
                return Err(AdminError::Failed {
                    name,
                    reason: e.to_string(),
                });
            }
        }
        self.clients.retain(|c| c != &name);
        tracing::info!(client = %name, "business client removed");
        self.checkpoint().await
    }

    async fn tree(&self) -> ActorTree {
        let mut children = self.core.child_trees(&self.node).await;
        // Agents waiting for their kind show, stopped, under the agent supervisor.
        let sup = self.namespace.agent_supervisor();
        if let Some(agents) = children.iter_mut().find(|c| c.name == sup) {
            agents
                .children
                .extend(self.pending.iter().map(|(a, _)| ActorTree {
                    name: self.namespace.agent(&a.name),
                    kind: a.kind.clone(),
                    node: self.node.clone(),
                    status: ActorStatus::Stopped,
                    restarts: 0,
                    uptime_ms: 0,
                    children: Vec::new(),
                }));
        }
        ActorTree {
            name: self.namespace.admin(),
            kind: "admin".to_string(),
            node: self.node.clone(),
            status: ActorStatus::Running,
            restarts: 0,
            uptime_ms: self.started_at.elapsed().as_millis() as u64,
            children,
        }
    }
}

/// What a client's orchestrator says of its client; none if it did not answer.
async fn client_info(orchestrator: ActorRef<BusinessMessage>) -> Option<ClientInfo> {
    match orchestrator
        .call(BusinessMessage::Info, Some(AGENT_CALL_TIMEOUT))
        .await
    {
        Ok(CallResult::Success(info)) => Some(info),
        _ => None,
    }
}

fn supervision_error(name: &AgentId, e: SupervisionError) -> AdminError {
    match e {
        SupervisionError::DuplicateChild { .. } | SupervisionError::NameTaken { .. } => {
            AdminError::NameTaken {
                name: name.to_string(),
            }
        }
        SupervisionError::NotFound { .. } => AdminError::NotFound {
            name: name.to_string(),
        },
        other => AdminError::Failed {
            name: name.to_string(),
            reason: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests;
