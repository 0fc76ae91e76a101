//! The BusinessOrchestrator: one per business client (the seed's "custom orchestrators for
//! business clients ... single POC per business ... isolated environments"), created by
//! the Admin at runtime and supervised by it.
//!
//! It is the single point of contact for its client's requests. It holds the client's
//! settings and gives out the client's [`ClientContext`]: its own store scope (users,
//! tokens, runs and their events, the audit log; nothing of another client's or of the
//! node's can be read through it), its own UserManager (tokens that name the client, the
//! tiers it allows), and its own OrchestratorManager, which runs the client's workflow (the
//! phases it picked of the registered repository workflow). Runs start through it
//! ([`BusinessMessage::StartRun`]), so the client's indexer and its limit on runs at once
//! apply to every one.
//!
//! Its settings are checkpointed as `business_<client>` in the node's store; a restarted
//! head (the Admin restores every client it had) reads them back, and its managers find
//! the client's users and runs in the scope where they were left.

use crate::managers::orchestrator_manager::{
    InterruptedRuns, OrchestratorManager, OrchestratorManagerArguments,
};
use crate::managers::user_manager::{self, UserManager, UserManagerArguments, UsersClient};
use crate::runs::{RunBook, now_ms};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use ractor_cluster_derive::RactorMessage;
use reporunner_protocols::access::Tier;
use reporunner_protocols::business::{
    BusinessCheckpoint, ClientInfo, ClientSettings, ClientSpec, valid_client_name,
};
use reporunner_protocols::ids::RunId;
use reporunner_protocols::run::{RunError, RunStatus, RunsClient};
use reporunner_protocols::stage::{REPO_WORKFLOW, RepoRunInput};
use reporunner_runtime::naming::{Namespace, lookup};
use reporunner_runtime::store::{CheckpointKind, Checkpoints, Store};
use reporunner_runtime::supervision::{
    ChildSpec, RestartTicket, SupervisorCore, SupervisorOptions, send_after,
};
use reporunner_runtime::workflow::WorkflowRegistry;
use std::path::PathBuf;
use std::sync::Arc;

/// The kind name a BusinessOrchestrator shows in the tree.
pub const KIND: &str = "business-orchestrator";

/// The store scope of the client `client`.
pub fn scope_of(client: &str) -> String {
    format!("client.{client}")
}

/// The BusinessOrchestrator actor. See the module docs.
#[derive(Debug, Clone, Copy, Default)]
pub struct BusinessOrchestrator;

/// What a BusinessOrchestrator starts with.
#[derive(Debug, Clone)]
pub struct BusinessOrchestratorArguments {
    /// The client as it was created. Once the orchestrator has checkpointed, the
    /// checkpoint's settings win (they are the latest).
    pub spec: ClientSpec,
    /// The node's namespace: the client's managers register under
    /// [`Namespace::client`] of it.
    pub namespace: Namespace,
    /// The node's store; the client's data lives in its scope ([`scope_of`]).
    pub store: Arc<dyn Store>,
    /// The node's registered workflows: the client's is made of the repository
    /// workflow's phases.
    pub workflows: WorkflowRegistry,
    /// What the client's OrchestratorManager does with runs a dead process left running.
    pub interrupted: InterruptedRuns,
}

/// What the client's requests are served with: handed out by its orchestrator.
#[derive(Debug, Clone)]
pub struct ClientContext {
    /// The client's name.
    pub name: String,
    /// Its settings.
    pub settings: ClientSettings,
    /// Its store scope: its users, tokens, runs, events and audit log.
    pub store: Arc<dyn Store>,
    /// Its UserManager.
    pub users: UsersClient,
    /// The namespace its managers register under.
    pub namespace: Namespace,
    /// Its repositories' root, resolved.
    pub repo_root: PathBuf,
}

/// Why a client's run was not started.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BusinessError {
    /// The client's limit on runs at once is reached.
    #[error(
        "{running} of this client's runs are going, its limit at once; start this one when one ends"
    )]
    Busy {
        /// Its runs going now.
        running: u32,
    },
    /// The client's OrchestratorManager refused or failed.
    #[error(transparent)]
    Run(#[from] RunError),
}

/// What a BusinessOrchestrator is asked. Local: a context holds the store itself.
#[derive(RactorMessage)]
pub enum BusinessMessage {
    /// The client's context: everything its requests are served with.
    Contact(RpcReplyPort<ClientContext>),
    /// The client as the Admin shows it.
    Info(RpcReplyPort<ClientInfo>),
    /// Starts a repository run for the client with its settings applied.
    StartRun(
        Box<RepoRunInput>,
        RpcReplyPort<Result<RunId, BusinessError>>,
    ),
    /// A restart of one of its managers whose backoff has passed.
    RestartDue(RestartTicket),
}

impl std::fmt::Debug for BusinessMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BusinessMessage::Contact(_) => "Contact",
            BusinessMessage::Info(_) => "Info",
            BusinessMessage::StartRun(..) => "StartRun",
            BusinessMessage::RestartDue(_) => "RestartDue",
        })
    }
}

/// Checks a client's spec against the node's workflows, and writes its settings out in
/// full: the repository root resolved, the phases listed.
///
/// # Errors
/// What is wrong, in words: a name that is not [`valid_client_name`], a repository root
/// that is not a folder, no tiers or the Developer tier, a phase that is not registered,
/// out of order, or without a phase it reads, or a zero limit.
pub fn validate(spec: &ClientSpec, workflows: &WorkflowRegistry) -> Result<ClientSettings, String> {
    if !valid_client_name(&spec.name) {
        return Err(format!(
            "{:?} is not a client name: 1 to 32 of a-z, 0-9 and '-', starting with a letter",
            spec.name
        ));
    }
    let mut settings = spec.settings.clone();
    let root = PathBuf::from(&settings.repo_root)
        .canonicalize()
        .ok()
        .filter(|p| p.is_dir())
        .ok_or_else(|| {
            format!(
                "the repository root {:?} is not a folder on this node",
                settings.repo_root
            )
        })?;
    settings.repo_root = root.display().to_string();
    if settings.tiers.is_empty() {
        return Err("a client's users need at least one tier".into());
    }
    if settings.tiers.contains(&Tier::Developer) {
        return Err(
            "a client's users cannot hold the developer tier: it controls the node's Admin".into(),
        );
    }
    settings.tiers.sort();
    settings.tiers.dedup();
    let repo = workflows
        .get(REPO_WORKFLOW)
        .ok_or("this node has no repository workflow registered")?;
    if settings.phases.is_empty() {
        settings.phases = repo.phase_names();
    }
    repo.subset(&settings.phases)?;
    crate::repo_run::check_phases(&settings.phases)?;
    if settings.requests_per_hour == Some(0) {
        return Err("requests_per_hour must be at least 1".into());
    }
    if settings.max_concurrent_runs == Some(0) {
        return Err("max_concurrent_runs must be at least 1".into());
    }
    Ok(settings)
}

/// A BusinessOrchestrator's state.
#[derive(Debug)]
pub struct BusinessState {
    /// Supervision of the client's UserManager and OrchestratorManager.
    core: SupervisorCore,
    context: ClientContext,
    created_ms: u64,
    orchestrator: String,
}

impl Actor for BusinessOrchestrator {
    type Msg = BusinessMessage;
    type State = BusinessState;
    type Arguments = BusinessOrchestratorArguments;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        let name = args.spec.name.clone();
        let saved = args
            .store
            .load_checkpoint::<BusinessCheckpoint>(CheckpointKind::Business, &name)
            .map_err(|e| format!("client {name}: cannot read its checkpoint: {e}"))?;
        let (spec, created_ms) = match saved {
            Some(c) => (c.spec, c.created_ms),
            None => (args.spec.clone(), now_ms()),
        };
        let settings =
            validate(&spec, &args.workflows).map_err(|e| format!("client {name}: {e}"))?;
        let spec = ClientSpec {
            name: name.clone(),
            settings: settings.clone(),
        };
        args.store
            .save_checkpoint(
                CheckpointKind::Business,
                &name,
                &BusinessCheckpoint {
                    spec: spec.clone(),
                    created_ms,
                },
            )
            .await
            .map_err(|e| format!("client {name}: cannot checkpoint it: {e}"))?;
        let scope = args
            .store
            .scope(&scope_of(&name))
            .map_err(|e| format!("client {name}: {e}"))?;
        let workflow = args
            .workflows
            .get(REPO_WORKFLOW)
            .ok_or("no repository workflow")?
            .subset(&settings.phases)?;
        let workflows = WorkflowRegistry::new();
        workflows.register(workflow);
        let namespace = args.namespace.client(&name);
        let users = UserManagerArguments {
            store: Some(scope.clone()),
            client: Some((name.clone(), settings.tiers.clone())),
        };
        let runs = OrchestratorManagerArguments {
            namespace: namespace.clone(),
            store: Some(scope.clone()),
            workflows,
            interrupted: args.interrupted,
            options: SupervisorOptions::default(),
        };
        let mut core = SupervisorCore::new(
            myself.get_cell(),
            SupervisorOptions::default(),
            send_after(myself.clone(), BusinessMessage::RestartDue),
        );
        core.start_children(vec![
            ChildSpec::new(namespace.user_manager(), move || {
                (UserManager, users.clone())
            })
            .kind(user_manager::KIND),
            ChildSpec::new(namespace.orchestrator_manager(), move || {
                (OrchestratorManager, runs.clone())
            })
            .kind("orchestrator-manager"),
        ])
        .await?;
        tracing::info!(client = %name, phases = settings.phases.len(), "business orchestrator started");
        Ok(BusinessState {
            core,
            context: ClientContext {
                repo_root: PathBuf::from(&settings.repo_root),
                users: UsersClient::new(namespace.user_manager()),
                name,
                settings,
                store: scope,
                namespace,
            },
            created_ms,
            orchestrator: myself.get_name().unwrap_or_default(),
        })
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        state.core.shutdown().await;
        tracing::info!(client = %state.context.name, "business orchestrator stopped");
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            BusinessMessage::Contact(reply) => {
                let _ = reply.send(state.context.clone());
            }
            BusinessMessage::Info(reply) => {
                let _ = reply.send(state.info());
            }
            BusinessMessage::StartRun(input, reply) => {
                let _ = reply.send(state.start_run(*input).await);
            }
            BusinessMessage::RestartDue(ticket) => state.core.restart_due(ticket).await?,
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        state.core.handle_event(event).await?;
        Ok(())
    }
}

impl BusinessState {
    fn info(&self) -> ClientInfo {
        ClientInfo {
            name: self.context.name.clone(),
            settings: self.context.settings.clone(),
            created_ms: self.created_ms,
            orchestrator: self.orchestrator.clone(),
            running: true,
        }
    }

    /// Starts a run of the client's workflow with its indexer, within its limit at once.
    /// One message at a time, so two starts cannot both find the last free place.
    async fn start_run(&mut self, mut input: RepoRunInput) -> Result<RunId, BusinessError> {
        let settings = &self.context.settings;
        if let Some(limit) = settings.max_concurrent_runs {
            let running = RunBook::new(self.context.store.clone())
                .list()?
                .iter()
                .filter(|r| r.status == RunStatus::Running)
                .count() as u32;
            if running >= limit {
                return Err(BusinessError::Busy { running });
            }
        }
        if settings.indexer.is_some() {
            input.indexer = settings.indexer;
        }
        let json = serde_json::to_string(&input).map_err(|e| RunError::Store {
            reason: e.to_string(),
        })?;
        let manager = lookup(&self.context.namespace.orchestrator_manager()).ok_or_else(|| {
            RunError::Store {
                reason: "the client's orchestrator manager is restarting".into(),
            }
        })?;
        Ok(RunsClient::new(manager).start(REPO_WORKFLOW, &json).await?)
    }
}

#[cfg(test)]
mod tests;
