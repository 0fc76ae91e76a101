//! Runs in one process: phases run in order and see earlier outputs, every phase is
//! checkpointed, a failed run resumes at its failed phase, and an orchestrator that panics
//! mid-phase is restarted and repeats only that phase.

use reporunner::boot::{Node, NodeConfig};
use reporunner_protocols::ids::RunId;
use reporunner_protocols::run::{PhaseStatus, RunError, RunRecord, RunStatus, RunsClient};
use reporunner_runtime::naming::Namespace;
use reporunner_runtime::testsuite::wait_until;
use reporunner_runtime::workflow::{Phase, PhaseContext, PhaseError, PhaseFuture, Workflow};
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// How a test phase behaves on each attempt.
#[derive(Clone, Copy)]
enum Behaviour {
    Succeed,
    FailFirst,
    PanicFirst,
    AlwaysPanic,
}

struct TestPhase {
    name: &'static str,
    behaviour: Behaviour,
    runs: Arc<AtomicU32>,
}

impl Phase for TestPhase {
    fn name(&self) -> &str {
        self.name
    }
    fn run<'a>(&'a self, ctx: &'a PhaseContext) -> PhaseFuture<'a> {
        Box::pin(async move {
            self.runs.fetch_add(1, Ordering::SeqCst);
            match (self.behaviour, ctx.attempt) {
                (Behaviour::FailFirst, 1) => return Err(PhaseError::new("flaky on the first try")),
                (Behaviour::PanicFirst, 1) | (Behaviour::AlwaysPanic, _) => {
                    panic!("phase {} panics", self.name)
                }
                _ => {}
            }
            // Each phase adds one to the previous phase's number: outputs flow forward.
            let before = ctx
                .outputs
                .values()
                .filter_map(|v| v["n"].as_u64())
                .max()
                .unwrap_or(0);
            Ok(json!({ "n": before + 1, "input": ctx.input["repo"] }))
        })
    }
}

struct Rig {
    node: Node,
    counts: Vec<(&'static str, Arc<AtomicU32>)>,
    dir: PathBuf,
}

impl Rig {
    async fn start(tag: &str, phases: &[(&'static str, Behaviour)]) -> Rig {
        let dir =
            std::env::temp_dir().join(format!("reporunner-runs-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let counts: Vec<(&'static str, Arc<AtomicU32>)> = phases
            .iter()
            .map(|(n, _)| (*n, Arc::new(AtomicU32::new(0))))
            .collect();
        let workflow = Workflow::new(
            "test",
            phases
                .iter()
                .zip(&counts)
                .map(|((name, behaviour), (_, runs))| {
                    Arc::new(TestPhase {
                        name,
                        behaviour: *behaviour,
                        runs: runs.clone(),
                    }) as Arc<dyn Phase>
                })
                .collect(),
        );
        let config = NodeConfig {
            namespace: Namespace::new(format!("runs-{tag}")),
            data_dir: Some(dir.clone()),
            ..NodeConfig::default()
        };
        config.workflows.register(workflow);
        let node = Node::start(config).await.unwrap();
        Rig { node, counts, dir }
    }

    fn runs(&self) -> RunsClient {
        self.node.runs().unwrap()
    }

    fn count(&self, phase: &str) -> u32 {
        self.counts
            .iter()
            .find(|(n, _)| *n == phase)
            .unwrap()
            .1
            .load(Ordering::SeqCst)
    }

    async fn wait_for(&self, id: &RunId, status: RunStatus) -> RunRecord {
        let runs = self.runs();
        wait_until(Duration::from_secs(10), "the run to settle", || async {
            runs.get(id).await.is_ok_and(|r| r.status == status)
        })
        .await
        .unwrap();
        runs.get(id).await.unwrap()
    }

    async fn stop(self) {
        self.node.shutdown().await.unwrap();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test]
async fn phases_run_in_order_with_checkpoints_and_events() {
    reporunner_runtime::panics::install_quiet_hook();
    let rig = Rig::start(
        "order",
        &[
            ("a", Behaviour::Succeed),
            ("b", Behaviour::Succeed),
            ("c", Behaviour::Succeed),
        ],
    )
    .await;
    let id = rig
        .runs()
        .start("test", r#"{"repo":"/tmp/x"}"#)
        .await
        .unwrap();
    let run = rig.wait_for(&id, RunStatus::Succeeded).await;
    let names: Vec<&str> = run.phases.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, vec!["a", "b", "c"]);
    let c: serde_json::Value =
        serde_json::from_str(run.phase("c").unwrap().output_json.as_ref().unwrap()).unwrap();
    assert_eq!(c, json!({"n": 3, "input": "/tmp/x"}));
    assert!(
        run.phases
            .iter()
            .all(|p| p.status == PhaseStatus::Succeeded && p.attempts == 1)
    );

    let runs = rig.runs().list().await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].id, id);

    // Bad requests are refused with typed errors.
    assert!(matches!(
        rig.runs().start("nope", "{}").await,
        Err(RunError::UnknownWorkflow { .. })
    ));
    assert!(matches!(
        rig.runs().start("test", "{not json").await,
        Err(RunError::InvalidInput { .. })
    ));
    assert!(matches!(
        rig.runs().resume(&id).await,
        Err(RunError::AlreadySucceeded { .. })
    ));
    let ghost = RunId::from_parts(1, 1);
    assert!(matches!(
        rig.runs().get(&ghost).await,
        Err(RunError::NotFound { .. })
    ));
    rig.stop().await;
}

#[tokio::test]
async fn a_failed_run_resumes_at_its_failed_phase() {
    reporunner_runtime::panics::install_quiet_hook();
    let rig = Rig::start(
        "resume",
        &[
            ("a", Behaviour::Succeed),
            ("b", Behaviour::FailFirst),
            ("c", Behaviour::Succeed),
        ],
    )
    .await;
    let id = rig.runs().start("test", "{}").await.unwrap();
    let run = rig.wait_for(&id, RunStatus::Failed).await;
    assert_eq!(run.phase("b").unwrap().status, PhaseStatus::Failed);
    assert!(
        run.error
            .as_deref()
            .unwrap()
            .contains("flaky on the first try")
    );
    assert!(run.phase("c").is_none());

    rig.runs().resume(&id).await.unwrap();
    let run = rig.wait_for(&id, RunStatus::Succeeded).await;
    assert_eq!((rig.count("a"), rig.count("b"), rig.count("c")), (1, 2, 1));
    assert_eq!(run.phase("b").unwrap().attempts, 2);
    assert_eq!(run.resumes, 1);
    rig.stop().await;
}

#[tokio::test]
async fn a_panic_mid_phase_restarts_the_orchestrator_and_repeats_only_that_phase() {
    reporunner_runtime::panics::install_quiet_hook();
    let rig = Rig::start(
        "panic",
        &[
            ("a", Behaviour::Succeed),
            ("b", Behaviour::PanicFirst),
            ("c", Behaviour::Succeed),
        ],
    )
    .await;
    let id = rig.runs().start("test", "{}").await.unwrap();
    let run = rig.wait_for(&id, RunStatus::Succeeded).await;
    assert_eq!((rig.count("a"), rig.count("b"), rig.count("c")), (1, 2, 1));
    assert_eq!(run.phase("b").unwrap().attempts, 2);
    rig.stop().await;
}

#[tokio::test]
async fn a_phase_that_always_panics_fails_the_run_instead_of_looping() {
    reporunner_runtime::panics::install_quiet_hook();
    let rig = Rig::start("poison", &[("a", Behaviour::AlwaysPanic)]).await;
    let id = rig.runs().start("test", "{}").await.unwrap();
    let run = rig.wait_for(&id, RunStatus::Failed).await;
    assert_eq!(rig.count("a"), 3);
    assert!(run.error.unwrap().contains("crashed 3 times"));
    // The manager survived: it still answers.
    assert_eq!(rig.runs().list().await.unwrap().len(), 1);
    rig.stop().await;
}

#[tokio::test]
async fn runs_left_running_are_marked_interrupted_at_start() {
    reporunner_runtime::panics::install_quiet_hook();
    let rig = Rig::start("interrupt", &[("a", Behaviour::Succeed)]).await;
    let dir = rig.dir.clone();
    let id = rig.runs().start("test", "{}").await.unwrap();
    rig.wait_for(&id, RunStatus::Succeeded).await;
    // Forge what a dead process leaves: a run still marked running.
    {
        use reporunner_runtime::store::{StoreExt, Tree};
        let store = rig.node.store().unwrap();
        let mut r: RunRecord = store.get_record(Tree::Runs, id.as_str()).unwrap().unwrap();
        r.status = RunStatus::Running;
        store
            .put_record_durable(Tree::Runs, id.as_str(), &r)
            .await
            .unwrap();
    }
    rig.node.shutdown().await.unwrap();

    let config = NodeConfig {
        namespace: Namespace::new("runs-interrupt"),
        data_dir: Some(dir.clone()),
        ..NodeConfig::default()
    };
    let node = Node::start(config).await.unwrap();
    let run = node.runs().unwrap().get(&id).await.unwrap();
    assert_eq!(run.status, RunStatus::Interrupted);
    node.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn runs_left_running_are_resumed_at_start_when_configured() {
    reporunner_runtime::panics::install_quiet_hook();
    let rig = Rig::start(
        "autoresume",
        &[("a", Behaviour::Succeed), ("b", Behaviour::Succeed)],
    )
    .await;
    let dir = rig.dir.clone();
    let id = rig.runs().start("test", "{}").await.unwrap();
    rig.wait_for(&id, RunStatus::Succeeded).await;
    // Forge what a dead process leaves: `a` done, `b` cut off, the run still running.
    {
        use reporunner_runtime::store::{StoreExt, Tree};
        let store = rig.node.store().unwrap();
        let mut r: RunRecord = store.get_record(Tree::Runs, id.as_str()).unwrap().unwrap();
        r.status = RunStatus::Running;
        r.phases[1].status = PhaseStatus::Running;
        store
            .put_record_durable(Tree::Runs, id.as_str(), &r)
            .await
            .unwrap();
    }
    let counts = rig.counts.clone();
    rig.node.shutdown().await.unwrap();

    // The same workflow, a new node that resumes what it finds running.
    let workflow = Workflow::new(
        "test",
        counts
            .iter()
            .map(|(name, runs)| {
                Arc::new(TestPhase {
                    name,
                    behaviour: Behaviour::Succeed,
                    runs: runs.clone(),
                }) as Arc<dyn Phase>
            })
            .collect(),
    );
    let config = NodeConfig {
        namespace: Namespace::new("runs-autoresume"),
        data_dir: Some(dir.clone()),
        interrupted_runs: reporunner_actors::managers::InterruptedRuns::Resume,
        ..NodeConfig::default()
    };
    config.workflows.register(workflow);
    let node = Node::start(config).await.unwrap();
    let runs = node.runs().unwrap();
    wait_until(
        Duration::from_secs(10),
        "the resumed run to finish",
        || async {
            runs.get(&id)
                .await
                .is_ok_and(|r| r.status == RunStatus::Succeeded)
        },
    )
    .await
    .unwrap();
    let run = runs.get(&id).await.unwrap();
    assert_eq!(run.resumes, 1);
    assert_eq!(run.phase("b").unwrap().attempts, 2);
    // Only the cut-off phase ran again.
    let ran: Vec<u32> = counts
        .iter()
        .map(|(_, c)| c.load(Ordering::SeqCst))
        .collect();
    assert_eq!(ran, vec![1, 2]);
    node.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
