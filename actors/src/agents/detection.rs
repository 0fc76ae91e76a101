//! The Detection agent: analyses a repository. It lists the files once, finds the
//! components, and runs its own rules (kind, frameworks, start command, port, tests) while
//! the Requirements, Config and Database agents run theirs over the same snapshot; then it
//! assembles the profile. An agent that is missing or fails costs its part of the profile,
//! named in a warning, and never the whole analysis.

use crate::agents::pass::PassMessage;
use crate::analysis::snapshot::{RepoSnapshot, SnapshotError};
use crate::analysis::{Concerns, PassOutput, assemble, component_dirs, join, run_pass_blocking};
use crate::assist;
use ractor::{Actor, ActorProcessingErr, ActorRef, rpc::CallResult};
use reporunner_protocols::Wire;
use reporunner_protocols::access::Tier;
use reporunner_protocols::assist::{Consultation, Purpose, Verdict};
use reporunner_protocols::ids::AgentId;
use reporunner_protocols::kinds::{AgentKindDescriptor, AgentNeeds, RestartType};
pub use reporunner_protocols::profile::DetectionMessage;
use reporunner_protocols::profile::{AnalyzeError, AnalyzeRequest, ProjectProfile, Warning};
use reporunner_protocols::profile::{Evidence, Fact};
use reporunner_runtime::kinds::AgentKind;
use reporunner_runtime::naming::{Namespace, lookup};
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The kind name the Detection agent is registered under.
pub const KIND: &str = "detection";

/// How long the Detection agent waits for each peer's part.
const PEER_TIMEOUT: Duration = Duration::from_secs(120);

/// The Detection agent's configuration: the names of its peers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectionConfig {
    /// The Requirements agent's name.
    pub requirements: String,
    /// The Config agent's name.
    pub config: String,
    /// The Database agent's name.
    pub database: String,
}

impl Default for DetectionConfig {
    fn default() -> Self {
        Self {
            requirements: crate::agents::requirements::KIND.into(),
            config: crate::agents::config::KIND.into(),
            database: crate::agents::database::KIND.into(),
        }
    }
}

/// The Detection agent.
#[derive(Debug, Clone, Copy, Default)]
pub struct Detection;

/// What the Detection agent starts with.
#[derive(Debug, Clone)]
pub struct DetectionArguments {
    /// Where its peers are registered.
    pub namespace: Namespace,
    /// Its peers' names.
    pub config: DetectionConfig,
}

impl Actor for Detection {
    type Msg = DetectionMessage;
    type State = DetectionArguments;
    type Arguments = DetectionArguments;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: DetectionArguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(args)
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let DetectionMessage::Analyze(request, reply) = message;
        if reply.is_closed() {
            return Ok(());
        }
        let result = match request.open() {
            Ok(request) => state.analyze(request).await,
            Err(e) => Err(e.into()),
        };
        let _ = reply.send(Wire::new(result));
        Ok(())
    }
}

impl DetectionArguments {
    async fn analyze(&self, request: AnalyzeRequest) -> Result<ProjectProfile, AnalyzeError> {
        let started = Instant::now();
        let root = PathBuf::from(&request.path);
        let scan_root = root.clone();
        let snap = tokio::task::spawn_blocking(move || RepoSnapshot::scan(&scan_root))
            .await
            .map_err(|e| AnalyzeError::Failed {
                reason: e.to_string(),
            })?
            .map_err(
                |SnapshotError::NotADirectory { path }| AnalyzeError::NotAFolder {
                    path: path.display().to_string(),
                },
            )?;
        let snap = Arc::new(snap);
        let dirs = Arc::new(component_dirs(&snap));
        let name = |agent: &str| self.namespace.agent(&AgentId::new(agent));
        let (req_name, config_name, db_name) = (
            name(&self.config.requirements),
            name(&self.config.config),
            name(&self.config.database),
        );
        let (requirements, config, database, detection) = tokio::join!(
            peer(&req_name, "requirements", snap.clone(), dirs.clone()),
            peer(&config_name, "config", snap.clone(), dirs.clone()),
            peer(&db_name, "database", snap.clone(), dirs.clone()),
            run_pass_blocking(snap.clone(), dirs.clone(), Concerns::DETECTION, KIND),
        );
        let passes = vec![
            (Concerns::REQUIREMENTS, requirements),
            (Concerns::DETECTION, detection),
            (Concerns::CONFIG, config),
            (Concerns::DATABASE, database),
        ];
        let mut profile = assemble(&root, &snap, passes, started);
        if let Some(model) = &request.model {
            readme_start(&self.namespace, model, request.tier, &snap, &mut profile).await;
        }
        Ok(profile)
    }
}

/// When the rules found no start command anywhere, asks `model` to read the README of the
/// root component (or the first) for one, and keeps its answer only if the line it cites
/// says that command. The question and its fate go in the profile's consultations.
async fn readme_start(
    namespace: &Namespace,
    model: &str,
    tier: Tier,
    snap: &RepoSnapshot,
    profile: &mut ProjectProfile,
) {
    if profile.components.iter().any(|c| c.start_command.is_some()) {
        return;
    }
    let Some(component) = profile
        .components
        .iter()
        .position(|c| c.path == ".")
        .or((!profile.components.is_empty()).then_some(0))
    else {
        return;
    };
    let dir = profile.components[component].path.clone();
    let Some((path, readme)) = [
        "README.md",
        "README.rst",
        "README.markdown",
        "readme.md",
        "README.txt",
        "README",
    ]
    .iter()
    .map(|n| join(&dir, n))
    .find_map(|p| Some((p.clone(), snap.read(&p).ok()?))) else {
        return;
    };
    let unavailable =
        |reason: String| Consultation::unavailable(Purpose::StartCommand, model, None, reason);
    let (generator, backend) = match assist::generator_for(namespace, model, tier).await {
        Ok(g) => g,
        Err(reason) => {
            profile.consultations.push(unavailable(reason));
            return;
        }
    };
    let request = assist::readme_request(&readme);
    let generation = match tokio::task::spawn_blocking(move || generator.generate(&request)).await {
        Ok(Ok(g)) => g,
        Ok(Err(e)) => {
            profile
                .consultations
                .push(unavailable(format!("the model failed: {e}")));
            return;
        }
        Err(e) => {
            profile
                .consultations
                .push(unavailable(format!("the model's task failed: {e}")));
            return;
        }
    };
    let record = |proposal: Option<String>, verdict: Verdict| {
        assist::consultation(
            Purpose::StartCommand,
            model,
            backend.clone(),
            None,
            &generation,
            proposal,
            verdict,
        )
    };
    let Some((line, command)) = assist::read_citation(&generation.text, &readme) else {
        profile
            .consultations
            .push(record(None, Verdict::NoProposal));
        return;
    };
    let proposal = if line == 0 {
        command.clone()
    } else {
        format!("{path}:{line}: {command}")
    };
    match assist::check_citation(&readme, line, &command) {
        Ok(()) => {
            let c = &mut profile.components[component];
            c.start_command = Some(Fact::new(
                command.split_whitespace().collect::<Vec<_>>().join(" "),
                0.4,
                Evidence::line(&path, line, "model.readme"),
            ));
            profile.warnings.push(Warning {
                file: Some(path.clone()),
                message: format!(
                    "the start command `{command}` was read from line {line} by the model {model}: the rules found none"
                ),
            });
            profile
                .consultations
                .push(record(Some(proposal), Verdict::Kept));
        }
        Err(reason) => {
            profile
                .consultations
                .push(record(Some(proposal), Verdict::Refused { reason }));
        }
    }
}

/// Asks the peer registered as `name` for its pass; a missing or failing peer gives an
/// empty pass with a warning that names it.
async fn peer(
    name: &str,
    label: &str,
    snap: Arc<RepoSnapshot>,
    dirs: Arc<Vec<String>>,
) -> PassOutput {
    let missing = |why: String| PassOutput {
        parts: Vec::new(),
        warnings: vec![Warning {
            file: None,
            message: format!("the {label} agent {why}: that part of the profile is empty"),
        }],
    };
    let Some(actor) = lookup::<PassMessage>(name) else {
        return missing(format!("is not running (no actor named {name})"));
    };
    match actor
        .call(|r| PassMessage::Analyze(snap, dirs, r), Some(PEER_TIMEOUT))
        .await
    {
        Ok(CallResult::Success(out)) => out,
        Ok(CallResult::Timeout) => missing(format!("gave no answer within {PEER_TIMEOUT:?}")),
        Ok(CallResult::SenderError) | Err(_) => missing("stopped while answering".to_string()),
    }
}

/// The Detection agent's kind, for the kind registry.
pub fn kind() -> AgentKind {
    AgentKind::with_config(
        AgentKindDescriptor {
            name: KIND.to_string(),
            description: "analyses a repository into a profile with evidence".to_string(),
            restart: RestartType::Permanent,
            needs: AgentNeeds::default(),
        },
        |ctx, config: DetectionConfig| {
            (
                Detection,
                DetectionArguments {
                    namespace: ctx.namespace.clone(),
                    config,
                },
            )
        },
    )
}

#[cfg(test)]
mod tests;
