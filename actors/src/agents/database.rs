//! The Database agent: finds a repository's databases, services and migrations, as its part of an analysis.

use crate::analysis::snapshot::RepoSnapshot;
use crate::analysis::{Concerns, PassOutput, run_pass_blocking};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use ractor_cluster_derive::RactorMessage;
use reporunner_protocols::kinds::{AgentKindDescriptor, AgentNeeds, RestartType};
use reporunner_runtime::kinds::AgentKind;
use std::sync::Arc;

/// The kind name the Database agent is registered under.
pub const KIND: &str = "database";

/// The Database agent.
#[derive(Debug, Clone, Copy, Default)]
pub struct Database;

/// The Database agent's messages. Local: they carry the repository snapshot, which stays on
/// the node that holds the repository.
#[derive(RactorMessage)]
pub enum DatabaseMessage {
    /// Runs this agent's rules over the folders of a snapshot.
    Analyze(
        Arc<RepoSnapshot>,
        Arc<Vec<String>>,
        RpcReplyPort<PassOutput>,
    ),
}

impl std::fmt::Debug for DatabaseMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseMessage::Analyze(snap, dirs, _) => {
                write!(
                    f,
                    "Analyze({}, {} folders)",
                    snap.root().display(),
                    dirs.len()
                )
            }
        }
    }
}

impl Actor for Database {
    type Msg = DatabaseMessage;
    type State = ();
    type Arguments = ();

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        _args: (),
    ) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        _state: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        let DatabaseMessage::Analyze(snap, dirs, reply) = message;
        if !reply.is_closed() {
            let _ = reply.send(run_pass_blocking(snap, dirs, Concerns::DATABASE, KIND).await);
        }
        Ok(())
    }
}

/// The Database agent's kind, for the kind registry.
pub fn kind() -> AgentKind {
    AgentKind::with_config(
        AgentKindDescriptor {
            name: KIND.to_string(),
            description: "finds a repository's databases, services and migrations".to_string(),
            restart: RestartType::Permanent,
            needs: AgentNeeds::default(),
        },
        |_, _: crate::agents::NoConfig| (Database, ()),
    )
}
