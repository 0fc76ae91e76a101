//! The actor behind the Requirements, Config and Database agents: it runs one concern's
//! rules over a repository snapshot, on the blocking pool, for the Detection agent.

use crate::analysis::snapshot::RepoSnapshot;
use crate::analysis::{Concerns, PassOutput, run_pass_blocking};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use ractor_cluster_derive::RactorMessage;
use reporunner_protocols::kinds::{AgentKindDescriptor, AgentNeeds, RestartType};
use reporunner_runtime::kinds::AgentKind;
use std::sync::Arc;

/// Runs one concern's analysis rules.
#[derive(Debug, Clone, Copy, Default)]
pub struct PassAgent;

/// Which concern a [`PassAgent`] covers.
#[derive(Debug, Clone, Copy)]
pub struct PassArguments {
    /// Its concern.
    pub concerns: Concerns,
    /// Its kind's name, for warnings.
    pub label: &'static str,
}

/// A pass agent's messages. Local: they carry the repository snapshot, which stays on the
/// node that holds the repository.
#[derive(RactorMessage)]
pub enum PassMessage {
    /// Runs the agent's rules over the folders of a snapshot.
    Analyze(
        Arc<RepoSnapshot>,
        Arc<Vec<String>>,
        RpcReplyPort<PassOutput>,
    ),
}

impl std::fmt::Debug for PassMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PassMessage::Analyze(snap, dirs, _) => {
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

impl Actor for PassAgent {
    type Msg = PassMessage;
    type State = PassArguments;
    type Arguments = PassArguments;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: PassArguments,
    ) -> Result<PassArguments, ActorProcessingErr> {
        Ok(args)
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut PassArguments,
    ) -> Result<(), ActorProcessingErr> {
        let PassMessage::Analyze(snap, dirs, reply) = message;
        if !reply.is_closed() {
            let _ = reply.send(run_pass_blocking(snap, dirs, state.concerns, state.label).await);
        }
        Ok(())
    }
}

/// The kind of a pass agent: `name`, covering `concerns`.
pub(crate) fn kind(name: &'static str, description: &str, concerns: Concerns) -> AgentKind {
    AgentKind::with_config(
        AgentKindDescriptor {
            name: name.to_string(),
            description: description.to_string(),
            restart: RestartType::Permanent,
            needs: AgentNeeds::default(),
        },
        move |_, _: crate::agents::NoConfig| {
            (
                PassAgent,
                PassArguments {
                    concerns,
                    label: name,
                },
            )
        },
    )
}
