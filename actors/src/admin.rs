//! The Admin: the root supervisor (the seed's "CEO").
//!
//! It starts the AgentSupervisor (a dynamic supervisor) and the PortManager, restarts them
//! as their specs say, and answers [`AdminMessage`]: it spawns agents at runtime from the
//! [`KindRegistry`], stops and restarts them, and reports the live tree.
//!
//! Its supervision logic is the runtime's [`SupervisorCore`], the same that drives every
//! [`Supervisor`]; the Admin adds the kind registry and the wire-facing messages.

use crate::managers::port_manager::{PortManager, PortManagerArguments, PortRange};
use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent, rpc::CallResult};
use reporunner_protocols::Wire;
pub use reporunner_protocols::admin::AdminMessage;
use reporunner_protocols::admin::{
    ActorStatus, ActorTree, AdminError, AgentInfo, RestartDue, SpawnAgentRequest,
};
use reporunner_protocols::ids::{AgentId, NodeId};
use reporunner_runtime::kinds::{KindError, KindRegistry, SpawnContext};
use reporunner_runtime::naming::Namespace;
use reporunner_runtime::supervision::{
    ChildSpec, RestartTicket, SupervisionError, Supervisor, SupervisorArguments, SupervisorCore,
    SupervisorMessage, SupervisorOptions,
};
use std::time::Duration;
use tokio::time::Instant;

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
        let me = myself.clone();
        let mut core = SupervisorCore::new(
            myself.get_cell(),
            args.options,
            Box::new(move |delay, ticket: RestartTicket| {
                let due = RestartDue {
                    child: ticket.child().to_string(),
                    generation: ticket.generation(),
                };
                me.send_after(delay, move || AdminMessage::RestartDue(Wire::new(due)));
            }),
        );
        let agent_options = args.agent_options;
        let ports = args.ports;
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
                (PortManager, PortManagerArguments { range: ports })
            })
            .kind("port-manager"),
        ])
        .await?;
        tracing::info!(node = %args.node, namespace = args.namespace.as_str(), "admin started");
        Ok(AdminState {
            core,
            node: args.node,
            namespace: args.namespace,
            kinds: args.kinds,
            started_at: Instant::now(),
        })
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
                let result = match request.open() {
                    Ok(request) => state.spawn_agent(request).await,
                    Err(e) => Err(e.into()),
                };
                let _ = reply.send(Wire::new(result));
            }
            AdminMessage::StopAgent(name, reply) => {
                let result = match name.open() {
                    Ok(name) => state.stop_agent(&name).await,
                    Err(e) => Err(e.into()),
                };
                let _ = reply.send(Wire::new(result));
            }
            AdminMessage::RestartAgent(name, reply) => {
                let result = match name.open() {
                    Ok(name) => state.restart_agent(&name).await,
                    Err(e) => Err(e.into()),
                };
                let _ = reply.send(Wire::new(result));
            }
            AdminMessage::GetTree(reply) => {
                if !reply.is_closed() {
                    let _ = reply.send(Wire::new(state.tree().await));
                }
            }
            AdminMessage::GetKinds(reply) => {
                let _ = reply.send(Wire::new(state.kinds.descriptors()));
            }
            AdminMessage::RestartDue(due) => match due.open() {
                Ok(due) => {
                    let ticket = RestartTicket::from_parts(due.child, due.generation);
                    state.core.restart_due(ticket).await?;
                }
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

    async fn spawn_agent(&self, request: SpawnAgentRequest) -> Result<AgentInfo, AdminError> {
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
            config: request.config,
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

    async fn stop_agent(&self, name: &AgentId) -> Result<(), AdminError> {
        let id = name.to_string();
        self.call_agents(name, |reply| SupervisorMessage::TerminateChild(id, reply))
            .await?
            .map_err(|e| supervision_error(name, e))?;
        tracing::info!(agent = %name, "agent stopped");
        Ok(())
    }

    async fn restart_agent(&self, name: &AgentId) -> Result<AgentInfo, AdminError> {
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

    async fn tree(&self) -> ActorTree {
        ActorTree {
            name: self.namespace.admin(),
            kind: "admin".to_string(),
            node: self.node.clone(),
            status: ActorStatus::Running,
            restarts: 0,
            uptime_ms: self.started_at.elapsed().as_millis() as u64,
            children: self.core.child_trees(&self.node).await,
        }
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
