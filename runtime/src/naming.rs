//! Logical names: how actors are found after a restart.
//!
//! A restarted actor is a new actor with a new `ActorRef`, so nothing keeps refs. Each actor
//! registers under a stable name in ractor's registry, and callers look it up when they
//! need it. A [`Namespace`] prefixes every name, so two runtimes can share one process (as
//! tests do) without their names clashing.

use ractor::{ActorRef, Message};
use reporunner_protocols::ids::AgentId;

/// The namespace used when none is configured.
pub const DEFAULT_NAMESPACE: &str = "reporunner";

/// The prefix of every name one runtime registers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Namespace(String);

impl Default for Namespace {
    fn default() -> Self {
        Self(DEFAULT_NAMESPACE.to_string())
    }
}

impl Namespace {
    /// A namespace with the given prefix.
    pub fn new(prefix: impl Into<String>) -> Self {
        Self(prefix.into())
    }

    /// Returns the prefix.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Returns the Admin's name.
    pub fn admin(&self) -> String {
        format!("{}.admin", self.0)
    }

    /// Returns the AgentSupervisor's name.
    pub fn agent_supervisor(&self) -> String {
        format!("{}.agents", self.0)
    }

    /// Returns the PortManager's name.
    pub fn port_manager(&self) -> String {
        format!("{}.ports", self.0)
    }

    /// Returns the ModelManager's name.
    pub fn model_manager(&self) -> String {
        format!("{}.models", self.0)
    }

    /// Returns the UserManager's name.
    pub fn user_manager(&self) -> String {
        format!("{}.users", self.0)
    }

    /// Returns the OrchestratorManager's name.
    pub fn orchestrator_manager(&self) -> String {
        format!("{}.runs", self.0)
    }

    /// Returns the name of the orchestrator driving run `run`.
    pub fn orchestrator(&self, run: &reporunner_protocols::ids::RunId) -> String {
        format!("{}.run.{run}", self.0)
    }

    /// Returns the name the agent `id` registers under.
    pub fn agent(&self, id: &AgentId) -> String {
        format!("{}.agent.{id}", self.0)
    }

    /// Returns the name of the business client `client`'s orchestrator.
    pub fn business(&self, client: &str) -> String {
        format!("{}.business.{client}", self.0)
    }

    /// Returns the namespace of the business client `client`'s own managers (its users,
    /// its runs): they register under it, apart from the node's and other clients'.
    pub fn client(&self, client: &str) -> Namespace {
        Namespace(format!("{}.client.{client}", self.0))
    }

    /// Returns the process group every agent of this namespace joins.
    pub fn agents_group(&self) -> String {
        format!("{}.agents", self.0)
    }
}

/// Returns the actor registered as `name`, typed as an actor that takes `M`.
///
/// The registry does not record message types: the caller must know which type the actor
/// under that name takes (the [`Namespace`] helpers name actors whose types are fixed).
pub fn lookup<M: Message>(name: &str) -> Option<ActorRef<M>> {
    ractor::registry::where_is(name).map(ActorRef::from)
}
