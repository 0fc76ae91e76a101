//! The repository run inside one process: an agent that panics in the middle of a phase is
//! restarted by its supervisor and the phase runs again, so the run does not fail; every
//! phase is checkpointed; and stopping the run stops its service.

use ractor::{Actor, ActorProcessingErr, ActorRef};
use reporunner::boot::{Node, NodeConfig};
use reporunner_actors::agents::dependency::{Dependency, DependencyMessage, DependencyState};
use reporunner_actors::repo_run::{self, PHASES};
use reporunner_protocols::ids::AgentId;
use reporunner_protocols::kinds::{AgentKindDescriptor, AgentNeeds, RestartType};
use reporunner_protocols::run::{PhaseStatus, RunStatus};
use reporunner_protocols::stage::{REPO_WORKFLOW, RepoRunInput, Rung};
use reporunner_runtime::kinds::AgentKind;
use reporunner_runtime::naming::Namespace;
use reporunner_runtime::testsuite::wait_until;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Set until the first install request has made the agent panic.
static PANIC_NEXT: AtomicBool = AtomicBool::new(true);

/// The real Dependency agent, except that its first request makes it panic mid-work.
#[derive(Debug, Clone, Copy)]
struct PanicsOnce;

impl Actor for PanicsOnce {
    type Msg = DependencyMessage;
    type State = DependencyState;
    type Arguments = ();

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: (),
    ) -> Result<Self::State, ActorProcessingErr> {
        Dependency.pre_start(myself, args).await
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if PANIC_NEXT.swap(false, Ordering::SeqCst) {
            panic!("the dependency agent crashes in the middle of an install");
        }
        Dependency.handle(myself, message, state).await
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/run")
        .join(name)
        .canonicalize()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_that_panics_mid_phase_is_restarted_and_the_phase_retried() {
    let data = std::env::temp_dir().join(format!("rr-repo-run-panic-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let namespace = Namespace::new("repo-run-panic");
    let node = Node::start(NodeConfig {
        namespace: namespace.clone(),
        data_dir: Some(data.clone()),
        ..NodeConfig::default()
    })
    .await
    .unwrap();
    node.kinds()
        .register(AgentKind::with_config(
            AgentKindDescriptor {
                name: "dependency-panics-once".into(),
                description: "the Dependency agent, crashing on its first request".into(),
                restart: RestartType::Permanent,
                needs: AgentNeeds::default(),
            },
            |_ctx, _config: reporunner_actors::agents::NoConfig| (PanicsOnce, ()),
        ))
        .unwrap();
    // Under the name the workflow asks, so the run uses it instead of the built-in kind.
    node.admin()
        .spawn_agent("dependency-panics-once", AgentId::new("dependency"), "")
        .await
        .unwrap();

    let input = RepoRunInput::new(fixture("static").display().to_string());
    let runs = node.runs().unwrap();
    let id = runs
        .start(REPO_WORKFLOW, &serde_json::to_string(&input).unwrap())
        .await
        .unwrap();
    wait_until(Duration::from_secs(120), "the run to end", || {
        let runs = runs.clone();
        let id = id.clone();
        async move {
            runs.get(&id)
                .await
                .is_ok_and(|r| r.status != RunStatus::Running)
        }
    })
    .await
    .unwrap();
    let record = runs.get(&id).await.unwrap();
    assert_eq!(record.status, RunStatus::Succeeded, "{record:?}");
    let deps = record.phase("dependencies").unwrap();
    assert_eq!(deps.status, PhaseStatus::Succeeded);
    assert_eq!(deps.attempts, 2, "the phase ran again after the crash");
    assert!(!PANIC_NEXT.load(Ordering::SeqCst));
    // Every phase was checkpointed, in order.
    let names: Vec<&str> = record.phases.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, PHASES);
    // The supervisor restarted the agent.
    let tree = node.admin().tree().await.unwrap();
    let agent = tree
        .find(&namespace.agent(&AgentId::new("dependency")))
        .expect("the agent is in the tree");
    assert!(agent.restarts >= 1, "{agent:?}");

    let report = repo_run::report(&record);
    assert_eq!(report.rung, Rung::HttpAnswers);
    let url = report.url.clone().unwrap();
    let port: u16 = url
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    // Stopping the run stops the service and gives its port back.
    assert_eq!(repo_run::stop_run(&namespace, &id).await, (true, 0));
    assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_ok());
    node.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&data);
}
