//! Boots a node: the Admin and the managers under it, in this process.

use anyhow::Context as _;
use ractor::{Actor, ActorRef};
use reporunner_actors::admin::{Admin, AdminArguments, AdminMessage};
use reporunner_actors::managers::{InterruptedRuns, PortRange};
use reporunner_protocols::admin::AdminClient;
use reporunner_protocols::ids::NodeId;
use reporunner_protocols::run::{OrchestratorManagerMessage, RunsClient};
use reporunner_protocols::stage::REPO_WORKFLOW;
use reporunner_runtime::kinds::KindRegistry;
use reporunner_runtime::models::locate::LocateConfig;
use reporunner_runtime::naming::Namespace;
use reporunner_runtime::naming::lookup;
use reporunner_runtime::store::{SledStore, Store};
use reporunner_runtime::supervision::SupervisorOptions;
use reporunner_runtime::workflow::WorkflowRegistry;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// How long [`Node::shutdown`] waits for the tree to stop in order.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// A node's validated configuration.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The node's id: the host name unless configured.
    pub node: NodeId,
    /// The prefix of every actor name this node registers.
    pub namespace: Namespace,
    /// The agent kinds it can spawn: the built-in ones unless configured.
    pub kinds: KindRegistry,
    /// The ports its PortManager leases.
    pub ports: PortRange,
    /// Strategy, intensity and backoff of the Admin's own children.
    pub admin_options: SupervisorOptions,
    /// Strategy, intensity, backoff and child limit of the AgentSupervisor.
    pub agent_options: SupervisorOptions,
    /// The data directory of the store. `None` runs without persistence: nothing is
    /// checkpointed and nothing restored.
    pub data_dir: Option<PathBuf>,
    /// The workflows runs can execute. The repository run (`repo`) is added at start
    /// unless one of that name is registered; it works under the data directory, or a
    /// temporary folder without one.
    pub workflows: WorkflowRegistry,
    /// What to do at start with runs a dead process left running.
    pub interrupted_runs: InterruptedRuns,
    /// Where the ModelManager looks for model files: by default the places this host
    /// offers (`REPORUNNER_MINILM_DIR`, `REPORUNNER_MODELS_PYTHON`, site-packages, the
    /// Hugging Face caches).
    pub models: LocateConfig,
}

impl Default for NodeConfig {
    fn default() -> Self {
        let admin = AdminArguments::default();
        Self {
            node: NodeId::new(local_hostname()),
            namespace: admin.namespace,
            kinds: admin.kinds,
            ports: admin.ports,
            admin_options: admin.options,
            agent_options: admin.agent_options,
            data_dir: None,
            workflows: admin.workflows,
            interrupted_runs: admin.interrupted_runs,
            models: LocateConfig::from_env(),
        }
    }
}

/// A running node: the Admin, its managers and its agents.
#[derive(Debug)]
pub struct Node {
    admin: ActorRef<AdminMessage>,
    handle: JoinHandle<()>,
    config: NodeConfig,
    /// Dropped after the Admin has stopped, which releases the data directory.
    store: Option<Arc<dyn Store>>,
}

impl Node {
    /// Starts the Admin, which starts the AgentSupervisor and the PortManager.
    ///
    /// # Errors
    /// If the Admin or one of its children fails to start, for example because another
    /// runtime in this process uses the same namespace.
    pub async fn start(mut config: NodeConfig) -> anyhow::Result<Node> {
        reporunner_runtime::panics::install_quiet_hook();
        let store: Option<Arc<dyn Store>> = match &config.data_dir {
            Some(dir) => Some(Arc::new(SledStore::open(dir)?)),
            None => None,
        };
        // The repository run, unless an embedder registered its own under that name.
        if config.workflows.get(REPO_WORKFLOW).is_none() {
            let work = config.data_dir.clone().unwrap_or_else(|| {
                std::env::temp_dir().join(format!("reporunner-{}", std::process::id()))
            });
            config
                .workflows
                .register(reporunner_actors::repo_run::workflow(
                    config.namespace.clone(),
                    work,
                ));
        }
        // Models `models install` put in this node's data directory are found too.
        if let Some(dir) = &config.data_dir {
            config.models = config.models.clone().with_data_dir(dir);
        }
        let args = AdminArguments {
            node: config.node.clone(),
            namespace: config.namespace.clone(),
            kinds: config.kinds.clone(),
            options: config.admin_options.clone(),
            agent_options: config.agent_options.clone(),
            ports: config.ports,
            store: store.clone(),
            workflows: config.workflows.clone(),
            interrupted_runs: config.interrupted_runs,
            models: config.models.clone(),
        };
        let (admin, handle) = Actor::spawn(Some(config.namespace.admin()), Admin, args)
            .await
            .with_context(|| format!("starting the admin of node {}", config.node))?;
        Ok(Node {
            admin,
            handle,
            config,
            store,
        })
    }

    /// Returns a typed client of the Admin.
    pub fn admin(&self) -> AdminClient {
        AdminClient::new(self.admin.clone())
    }

    /// Returns a typed client of the OrchestratorManager, found by name (it may have been
    /// restarted since the last call).
    ///
    /// # Errors
    /// If the OrchestratorManager is restarting.
    pub fn runs(&self) -> anyhow::Result<RunsClient> {
        lookup::<OrchestratorManagerMessage>(&self.config.namespace.orchestrator_manager())
            .map(RunsClient::new)
            .context("the orchestrator manager is not running")
    }

    /// Returns the workflow registry, where embedders register their own workflows.
    pub fn workflows(&self) -> &WorkflowRegistry {
        &self.config.workflows
    }

    /// Returns the kind registry, where embedders register their own kinds at runtime.
    pub fn kinds(&self) -> &KindRegistry {
        &self.config.kinds
    }

    /// Returns the namespace, which names every actor of this node.
    pub fn namespace(&self) -> &Namespace {
        &self.config.namespace
    }

    /// Returns the store, when the node has a data directory.
    pub fn store(&self) -> Option<&Arc<dyn Store>> {
        self.store.as_ref()
    }

    /// Where this node looks for models: its configured places and its data directory.
    pub fn models(&self) -> &LocateConfig {
        &self.config.models
    }

    /// Returns the node's id.
    pub fn id(&self) -> &NodeId {
        &self.config.node
    }

    /// Runs until `shutdown` completes or the Admin stops, then shuts down.
    ///
    /// # Errors
    /// If the Admin failed (its restart intensity ran out) or the shutdown timed out.
    pub async fn run_until(mut self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        tokio::select! {
            _ = shutdown => self.shutdown().await,
            res = &mut self.handle => {
                res.context("the admin task panicked")?;
                anyhow::bail!("the admin stopped by itself: its restart intensity ran out")
            }
        }
    }

    /// Stops the Admin, which stops its children in reverse start order.
    ///
    /// # Errors
    /// If the tree did not stop within [`SHUTDOWN_TIMEOUT`].
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.admin.stop(Some("shutdown".to_string()));
        tokio::time::timeout(SHUTDOWN_TIMEOUT, self.handle)
            .await
            .context("the node did not stop in time")?
            .context("the admin task panicked")?;
        if let Some(store) = self.store {
            store.flush().await?;
        }
        Ok(())
    }
}

/// The host name, or `local` if it cannot be read or is not a valid node id.
fn local_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| NodeId::parse(s).is_ok())
        .unwrap_or_else(|| "local".to_string())
}
