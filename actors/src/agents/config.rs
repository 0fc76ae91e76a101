//! The Config agent: finds a repository's environment variables and env files, as its part of an analysis.

use crate::analysis::snapshot::RepoSnapshot;
use crate::analysis::{Concerns, PassOutput, run_pass_blocking};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use ractor_cluster_derive::RactorMessage;
use reporunner_protocols::kinds::{AgentKindDescriptor, AgentNeeds, RestartType};
use reporunner_runtime::kinds::AgentKind;
use std::sync::Arc;

/// The kind name the Config agent is registered under.
pub const KIND: &str = "config";

/// The Config agent.
#[derive(Debug, Clone, Copy, Default)]
pub struct Config;

/// The Config agent's messages. Local: they carry the repository snapshot, which stays on
/// the node that holds the repository.
#[derive(RactorMessage)]
pub enum ConfigMessage {
    /// Runs this agent's rules over the folders of a snapshot.
    Analyze(
        Arc<RepoSnapshot>,
        Arc<Vec<String>>,
        RpcReplyPort<PassOutput>,
    ),
}

impl std::fmt::Debug for ConfigMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigMessage::Analyze(snap, dirs, _) => {
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

impl Actor for Config {
    type Msg = ConfigMessage;
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
        let ConfigMessage::Analyze(snap, dirs, reply) = message;
        if !reply.is_closed() {
            let _ = reply.send(run_pass_blocking(snap, dirs, Concerns::CONFIG, KIND).await);
        }
        Ok(())
    }
}

/// The Config agent's kind, for the kind registry.
pub fn kind() -> AgentKind {
    AgentKind::with_config(
        AgentKindDescriptor {
            name: KIND.to_string(),
            description: "finds a repository's environment variables and env files".to_string(),
            restart: RestartType::Permanent,
            needs: AgentNeeds::default(),
        },
        |_, _: crate::agents::NoConfig| (Config, ()),
    )
}
