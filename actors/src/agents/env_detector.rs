//! The EnvDetector agent: finds out what the host offers and answers with a
//! [`HostProfile`].
//!
//! Detection reads /proc, /sys and os-release and asks the tools on PATH for their
//! versions, concurrently and each under a timeout. The profile is cached: hosts change
//! slowly, and a run asks for it once per phase that cares.

mod probe;

pub use probe::{ProbeContext, detect};

pub use reporunner_protocols::env::EnvDetectorMessage;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use reporunner_protocols::Wire;
use reporunner_protocols::host::HostProfile;
use reporunner_protocols::kinds::{AgentKindDescriptor, AgentNeeds, RestartType};
use reporunner_runtime::kinds::AgentKind;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The kind name the EnvDetector is registered under.
pub const KIND: &str = "env-detector";

/// The EnvDetector's configuration, given as JSON when it is spawned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvDetectorConfig {
    /// How long one tool's `--version` may take, in milliseconds (default 5000).
    pub command_timeout_ms: Option<u64>,
}

/// The EnvDetector agent.
#[derive(Debug, Clone, Copy, Default)]
pub struct EnvDetector;

/// The EnvDetector's state.
#[derive(Debug)]
pub struct EnvDetectorState {
    /// Where and how detection reads the host.
    ctx: ProbeContext,
    /// The last profile, answered until a refresh is asked for.
    cached: Option<HostProfile>,
}

impl Actor for EnvDetector {
    type Msg = EnvDetectorMessage;
    type State = EnvDetectorState;
    type Arguments = ProbeContext;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        ctx: ProbeContext,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(EnvDetectorState { ctx, cached: None })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            EnvDetectorMessage::GetHostProfile(refresh, reply) => {
                if reply.is_closed() {
                    return Ok(());
                }
                // A malformed flag is read as "refresh": the safe side is fresh facts.
                let refresh = refresh.open().unwrap_or(true);
                let profile = match (&state.cached, refresh) {
                    (Some(p), false) => p.clone(),
                    _ => {
                        let p = detect(&state.ctx).await;
                        state.cached = Some(p.clone());
                        p
                    }
                };
                let _ = reply.send(Wire::new(profile));
            }
        }
        Ok(())
    }
}

/// The EnvDetector's kind, for the kind registry.
pub fn kind() -> AgentKind {
    AgentKind::with_config(
        AgentKindDescriptor {
            name: KIND.to_string(),
            description: "detects the host: OS, CPUs, memory, GPUs, container, cloud and tools"
                .to_string(),
            restart: RestartType::Permanent,
            needs: AgentNeeds::default(),
        },
        |_ctx, config: EnvDetectorConfig| {
            let mut probe = ProbeContext::default();
            if let Some(ms) = config.command_timeout_ms {
                probe.command_timeout = Duration::from_millis(ms);
            }
            (EnvDetector, probe)
        },
    )
}
