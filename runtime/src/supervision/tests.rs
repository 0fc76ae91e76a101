//! Supervision tests with real actors. No sleeps: waits are deadline-bounded polls, and the
//! backoff test runs on tokio's paused clock.

use super::*;
use crate::naming::lookup;
use crate::testsuite::wait_until;
use ractor::{
    Actor, ActorId, ActorProcessingErr, ActorRef, ActorStatus as RactorStatus, RpcReplyPort,
};
use ractor_cluster_derive::RactorMessage;
use reporunner_protocols::admin::ActorStatus;
use reporunner_protocols::ids::NodeId;
use reporunner_protocols::kinds::RestartType;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(5);

/// A shared journal of lifecycle events, in the order they happened.
#[derive(Clone, Default)]
struct Journal(Arc<Mutex<Vec<String>>>);

impl Journal {
    fn push(&self, s: String) {
        self.0.lock().unwrap().push(s);
    }
    fn entries(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
    fn clear(&self) {
        self.0.lock().unwrap().clear();
    }
}

struct Probe;

struct ProbeArgs {
    id: String,
    journal: Journal,
    incarnations: Arc<AtomicU32>,
    /// When set, `post_stop` hangs, to test the kill after a shutdown timeout.
    hang_on_stop: bool,
}

#[derive(RactorMessage)]
enum ProbeMessage {
    Incarnation(RpcReplyPort<u32>),
    Panic,
    Fail,
    Stop(Option<String>),
}

struct ProbeState {
    id: String,
    journal: Journal,
    incarnation: u32,
    hang_on_stop: bool,
}

impl Actor for Probe {
    type Msg = ProbeMessage;
    type State = ProbeState;
    type Arguments = ProbeArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: ProbeArgs,
    ) -> Result<ProbeState, ActorProcessingErr> {
        let incarnation = args.incarnations.fetch_add(1, Ordering::SeqCst) + 1;
        args.journal.push(format!("start {}", args.id));
        Ok(ProbeState {
            id: args.id,
            journal: args.journal,
            incarnation,
            hang_on_stop: args.hang_on_stop,
        })
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut ProbeState,
    ) -> Result<(), ActorProcessingErr> {
        state.journal.push(format!("stop {}", state.id));
        if state.hang_on_stop {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            state.journal.push(format!("stop-finished {}", state.id));
        }
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: ProbeMessage,
        state: &mut ProbeState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            ProbeMessage::Incarnation(reply) => {
                let _ = reply.send(state.incarnation);
            }
            ProbeMessage::Panic => panic!("probe {} told to panic", state.id),
            ProbeMessage::Fail => return Err(format!("probe {} told to fail", state.id).into()),
            ProbeMessage::Stop(reason) => myself.stop(reason),
        }
        Ok(())
    }
}

/// The children of one test, with unique names so tests can run in parallel in one process.
struct Family {
    prefix: String,
    journal: Journal,
    counts: Vec<(String, Arc<AtomicU32>)>,
}

static FAMILY: AtomicU32 = AtomicU32::new(0);

impl Family {
    fn new() -> Self {
        crate::panics::install_quiet_hook();
        Self {
            prefix: format!("sup-test-{}", FAMILY.fetch_add(1, Ordering::SeqCst)),
            journal: Journal::default(),
            counts: Vec::new(),
        }
    }

    fn name(&self, id: &str) -> String {
        format!("{}.{id}", self.prefix)
    }

    fn spec(&mut self, id: &str) -> ChildSpec {
        self.spec_with(id, false)
    }

    fn spec_with(&mut self, id: &str, hang_on_stop: bool) -> ChildSpec {
        let count = Arc::new(AtomicU32::new(0));
        self.counts.push((id.to_string(), count.clone()));
        let journal = self.journal.clone();
        let id_owned = id.to_string();
        ChildSpec::new(self.name(id), move || {
            (
                Probe,
                ProbeArgs {
                    id: id_owned.clone(),
                    journal: journal.clone(),
                    incarnations: count.clone(),
                    hang_on_stop,
                },
            )
        })
    }

    fn probe(&self, id: &str) -> Option<ActorRef<ProbeMessage>> {
        lookup(&self.name(id))
    }

    fn actor_id(&self, id: &str) -> Option<ActorId> {
        self.probe(id).map(|p| p.get_id())
    }

    fn incarnations(&self, id: &str) -> u32 {
        self.counts
            .iter()
            .find(|(i, _)| i == id)
            .map(|(_, c)| c.load(Ordering::SeqCst))
            .unwrap_or(0)
    }

    /// Waits until child `id` runs incarnation `n` and answers by name.
    async fn wait_incarnation(&self, id: &str, n: u32) {
        let name = self.name(id);
        wait_until(WAIT, &format!("{name} incarnation {n}"), || async {
            match lookup::<ProbeMessage>(&name) {
                Some(p) => matches!(
                    p.call(ProbeMessage::Incarnation, Some(Duration::from_millis(200))).await,
                    Ok(ractor::rpc::CallResult::Success(i)) if i == n
                ),
                None => false,
            }
        })
        .await
        .unwrap();
    }
}

async fn start(
    options: SupervisorOptions,
    children: Vec<ChildSpec>,
) -> (ActorRef<SupervisorMessage>, tokio::task::JoinHandle<()>) {
    Actor::spawn(None, Supervisor, SupervisorArguments { options, children })
        .await
        .expect("supervisor starts")
}

fn options(strategy: Strategy) -> SupervisorOptions {
    SupervisorOptions {
        strategy,
        intensity: RestartIntensity {
            max_restarts: 10,
            period: Duration::from_secs(60),
        },
        backoff: Backoff::none(),
        max_children: None,
    }
}

async fn children(sup: &ActorRef<SupervisorMessage>) -> Vec<ChildInfo> {
    ractor::call!(sup, SupervisorMessage::GetChildren).unwrap()
}

#[tokio::test]
async fn one_for_one_restarts_only_the_failed_child() {
    let mut f = Family::new();
    let specs = vec![f.spec("a"), f.spec("b"), f.spec("c")];
    let (sup, handle) = start(options(Strategy::OneForOne), specs).await;
    let (a, b, c) = (f.actor_id("a"), f.actor_id("b"), f.actor_id("c"));

    f.probe("b").unwrap().cast(ProbeMessage::Panic).unwrap();
    f.wait_incarnation("b", 2).await;

    assert_eq!(f.actor_id("a"), a);
    assert_ne!(f.actor_id("b"), b);
    assert_eq!(f.actor_id("c"), c);
    assert_eq!((f.incarnations("a"), f.incarnations("c")), (1, 1));
    let kids = children(&sup).await;
    assert_eq!(
        kids.iter().map(|k| k.restarts).collect::<Vec<_>>(),
        vec![0, 1, 0]
    );
    assert!(
        kids[1]
            .last_exit
            .as_deref()
            .unwrap()
            .contains("told to panic")
    );

    sup.stop(None);
    handle.await.unwrap();
}

#[tokio::test]
async fn one_for_all_restarts_every_child_stopping_the_others_in_reverse() {
    let mut f = Family::new();
    let specs = vec![f.spec("a"), f.spec("b"), f.spec("c")];
    let (sup, handle) = start(options(Strategy::OneForAll), specs).await;
    let (a, c) = (f.actor_id("a"), f.actor_id("c"));
    f.journal.clear();

    f.probe("b").unwrap().cast(ProbeMessage::Panic).unwrap();
    for id in ["a", "b", "c"] {
        f.wait_incarnation(id, 2).await;
    }
    assert_ne!(f.actor_id("a"), a);
    assert_ne!(f.actor_id("c"), c);
    // b failed (no post_stop after a panic); c then a were stopped; all restarted in order.
    assert_eq!(
        f.journal.entries(),
        vec!["stop c", "stop a", "start a", "start b", "start c"]
    );
    sup.stop(None);
    handle.await.unwrap();
}

#[tokio::test]
async fn rest_for_one_restarts_the_failed_child_and_those_after_it() {
    let mut f = Family::new();
    let specs = vec![f.spec("a"), f.spec("b"), f.spec("c")];
    let (sup, handle) = start(options(Strategy::RestForOne), specs).await;
    let a = f.actor_id("a");
    f.journal.clear();

    f.probe("b").unwrap().cast(ProbeMessage::Fail).unwrap();
    f.wait_incarnation("b", 2).await;
    f.wait_incarnation("c", 2).await;
    assert_eq!(f.actor_id("a"), a);
    assert_eq!(f.incarnations("a"), 1);
    assert_eq!(f.journal.entries(), vec!["stop c", "start b", "start c"]);
    sup.stop(None);
    handle.await.unwrap();
}

#[tokio::test]
async fn restart_types_decide_what_comes_back() {
    let mut f = Family::new();
    let specs = vec![
        f.spec("perm"),
        f.spec("trans").restart(RestartType::Transient),
        f.spec("trans2").restart(RestartType::Transient),
        f.spec("temp").restart(RestartType::Temporary),
    ];
    let (sup, handle) = start(options(Strategy::OneForOne), specs).await;

    // A permanent child comes back even after a normal stop.
    f.probe("perm")
        .unwrap()
        .cast(ProbeMessage::Stop(None))
        .unwrap();
    f.wait_incarnation("perm", 2).await;

    // A transient child comes back after a failure or an abnormal stop reason...
    f.probe("trans").unwrap().cast(ProbeMessage::Panic).unwrap();
    f.wait_incarnation("trans", 2).await;
    f.probe("trans")
        .unwrap()
        .cast(ProbeMessage::Stop(Some("disk full".into())))
        .unwrap();
    f.wait_incarnation("trans", 3).await;
    // ...but not after a normal one, and it leaves the supervisor.
    f.probe("trans2")
        .unwrap()
        .cast(ProbeMessage::Stop(Some("normal".into())))
        .unwrap();
    // A temporary child never comes back, even after a panic.
    f.probe("temp").unwrap().cast(ProbeMessage::Panic).unwrap();

    let sup2 = sup.clone();
    wait_until(WAIT, "trans2 and temp to leave", || {
        let sup = sup2.clone();
        async move { children(&sup).await.len() == 2 }
    })
    .await
    .unwrap();
    let ids: Vec<String> = children(&sup).await.into_iter().map(|c| c.id).collect();
    assert_eq!(ids, vec![f.name("perm"), f.name("trans")]);
    assert!(f.probe("trans2").is_none() && f.probe("temp").is_none());
    assert_eq!((f.incarnations("trans2"), f.incarnations("temp")), (1, 1));

    sup.stop(None);
    handle.await.unwrap();
}

/// An outer supervisor that holds the one under test, to observe the escalation.
async fn nested(
    f: &mut Family,
    inner_specs: Vec<ChildSpec>,
    inner_intensity: RestartIntensity,
) -> (
    ActorRef<SupervisorMessage>,
    tokio::task::JoinHandle<()>,
    String,
) {
    let inner_name = f.name("inner");
    let specs = Arc::new(Mutex::new(inner_specs));
    let inner = ChildSpec::new(inner_name.clone(), move || {
        let children = specs.lock().unwrap().clone();
        (
            Supervisor,
            SupervisorArguments {
                options: SupervisorOptions {
                    intensity: inner_intensity,
                    backoff: Backoff::none(),
                    ..Default::default()
                },
                children,
            },
        )
    })
    .supervisor()
    .kind("supervisor");
    let (outer, handle) = start(options(Strategy::OneForOne), vec![inner]).await;
    (outer, handle, inner_name)
}

#[tokio::test]
async fn exceeding_the_intensity_stops_the_children_and_escalates() {
    let mut f = Family::new();
    let w = f.spec("w");
    let sibling = f.spec("sibling");
    let (outer, handle, inner_name) = nested(
        &mut f,
        vec![w, sibling],
        RestartIntensity {
            max_restarts: 2,
            period: Duration::from_secs(60),
        },
    )
    .await;
    let inner_before = lookup::<SupervisorMessage>(&inner_name).unwrap().get_id();

    // Two failures are within the intensity.
    for n in 1..=2 {
        f.probe("w").unwrap().cast(ProbeMessage::Panic).unwrap();
        f.wait_incarnation("w", n + 1).await;
    }
    assert_eq!(f.incarnations("sibling"), 1);
    f.journal.clear();

    // The third is one too many: the inner supervisor stops its children and fails; the
    // outer one restarts it, which starts fresh children.
    f.probe("w").unwrap().cast(ProbeMessage::Panic).unwrap();
    f.wait_incarnation("w", 4).await;
    f.wait_incarnation("sibling", 2).await;
    let inner_after = lookup::<SupervisorMessage>(&inner_name).unwrap().get_id();
    assert_ne!(inner_before, inner_after);
    assert_eq!(
        f.journal.entries(),
        vec!["stop sibling", "start w", "start sibling"]
    );

    let outer_kids = children(&outer).await;
    assert_eq!(outer_kids[0].restarts, 1);
    let exit = outer_kids[0].last_exit.clone().unwrap();
    assert!(exit.contains("exceeded 2 restarts"), "{exit}");

    outer.stop(None);
    handle.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn backoff_grows_between_restarts_in_a_row() {
    let mut f = Family::new();
    let spec = f.spec("flaky");
    let (sup, handle) = start(
        SupervisorOptions {
            strategy: Strategy::OneForOne,
            intensity: RestartIntensity {
                max_restarts: 100,
                period: Duration::from_secs(3600),
            },
            backoff: Backoff {
                initial: Duration::from_millis(100),
                max: Duration::from_millis(350),
                multiplier: 2.0,
                jitter: 0.0,
                reset_after: Duration::from_secs(3600),
            },
            max_children: None,
        },
        vec![spec],
    )
    .await;

    // On the paused clock, the time from a panic to the restarted child answering is
    // exactly the backoff delay.
    let mut gaps = Vec::new();
    for n in 1..=5u32 {
        let before = tokio::time::Instant::now();
        f.probe("flaky").unwrap().cast(ProbeMessage::Panic).unwrap();
        f.wait_incarnation("flaky", n + 1).await;
        // Round to 10 ms: the poll loop advances the clock by 1 ms steps.
        gaps.push((before.elapsed().as_millis() as u64 / 10) * 10);
    }
    assert_eq!(gaps, vec![0, 100, 200, 350, 350]);
    let kids = children(&sup).await;
    assert_eq!(kids[0].restarts, 5);

    sup.stop(None);
    handle.await.unwrap();
}

#[tokio::test]
async fn a_panicked_child_is_found_again_by_name() {
    let mut f = Family::new();
    let (sup, handle) = start(options(Strategy::OneForOne), vec![f.spec("named")]).await;
    let old = f.probe("named").unwrap();
    assert_eq!(ractor::call!(old, ProbeMessage::Incarnation).unwrap(), 1);

    old.cast(ProbeMessage::Panic).unwrap();
    f.wait_incarnation("named", 2).await;
    // The old ref is dead; the name leads to the new incarnation.
    assert!(ractor::call!(old, ProbeMessage::Incarnation).is_err());
    let new = f.probe("named").unwrap();
    assert_ne!(new.get_id(), old.get_id());
    assert_eq!(ractor::call!(new, ProbeMessage::Incarnation).unwrap(), 2);

    sup.stop(None);
    handle.await.unwrap();
}

#[tokio::test]
async fn a_dynamic_supervisor_adds_and_removes_children_at_runtime() {
    let mut f = Family::new();
    let (sup, handle) = start(
        SupervisorOptions {
            max_children: Some(2),
            ..options(Strategy::OneForOne)
        },
        Vec::new(),
    )
    .await;
    assert!(children(&sup).await.is_empty());

    let x = f.spec("x");
    let cell = ractor::call!(sup, SupervisorMessage::StartChild, x.clone())
        .unwrap()
        .unwrap();
    assert_eq!(Some(cell.get_id()), f.actor_id("x"));
    // The same id twice is refused, and so is a child over the limit.
    assert_eq!(
        ractor::call!(sup, SupervisorMessage::StartChild, x)
            .unwrap()
            .unwrap_err(),
        SupervisionError::DuplicateChild { id: f.name("x") }
    );
    ractor::call!(sup, SupervisorMessage::StartChild, f.spec("y"))
        .unwrap()
        .unwrap();
    assert_eq!(
        ractor::call!(sup, SupervisorMessage::StartChild, f.spec("z"))
            .unwrap()
            .unwrap_err(),
        SupervisionError::TooManyChildren { max: 2 }
    );

    // Dynamic children are supervised like any other.
    f.probe("y").unwrap().cast(ProbeMessage::Panic).unwrap();
    f.wait_incarnation("y", 2).await;

    ractor::call!(sup, SupervisorMessage::TerminateChild, f.name("x"))
        .unwrap()
        .unwrap();
    assert!(f.probe("x").is_none());
    assert_eq!(
        ractor::call!(sup, SupervisorMessage::TerminateChild, f.name("x"))
            .unwrap()
            .unwrap_err(),
        SupervisionError::NotFound { id: f.name("x") }
    );
    let ids: Vec<String> = children(&sup).await.into_iter().map(|c| c.id).collect();
    assert_eq!(ids, vec![f.name("y")]);

    // An operator's restart brings a new incarnation under the same name.
    ractor::call!(sup, SupervisorMessage::RestartChild, f.name("y"))
        .unwrap()
        .unwrap();
    f.wait_incarnation("y", 3).await;

    sup.stop(None);
    handle.await.unwrap();
}

#[tokio::test]
async fn a_taken_name_is_refused_clearly() {
    let mut f = Family::new();
    let (sup, handle) = start(options(Strategy::OneForOne), vec![f.spec("dup")]).await;
    // A second supervisor cannot start a child registered under the same name.
    let clash = f.spec("dup");
    let err = Actor::spawn(
        None,
        Supervisor,
        SupervisorArguments {
            options: options(Strategy::OneForOne),
            children: vec![clash],
        },
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("already registered"), "{err}");
    sup.stop(None);
    handle.await.unwrap();
}

#[tokio::test]
async fn shutdown_stops_children_in_reverse_and_kills_the_slow_one() {
    let mut f = Family::new();
    let specs = vec![
        f.spec("first"),
        f.spec_with("slow", true)
            .shutdown(Shutdown::Timeout(Duration::from_millis(50))),
        f.spec("last"),
    ];
    let (sup, handle) = start(options(Strategy::OneForOne), specs).await;
    let slow = f.probe("slow").unwrap();
    f.journal.clear();

    sup.stop(None);
    handle.await.unwrap();

    // Reverse start order; the slow child's stop began but never finished: it was killed.
    assert_eq!(
        f.journal.entries(),
        vec!["stop last", "stop slow", "stop first"]
    );
    assert_eq!(slow.get_status(), RactorStatus::Stopped);
    assert!(f.probe("first").is_none() && f.probe("slow").is_none() && f.probe("last").is_none());
}

#[tokio::test]
async fn the_tree_shows_nested_supervisors_and_restart_counts() {
    let mut f = Family::new();
    let w = f.spec("leaf");
    let (outer, handle, inner_name) = nested(&mut f, vec![w], RestartIntensity::default()).await;
    f.probe("leaf").unwrap().cast(ProbeMessage::Panic).unwrap();
    f.wait_incarnation("leaf", 2).await;

    let node = NodeId::new("test-node");
    let tree = ractor::call!(outer, SupervisorMessage::GetTree, node.clone()).unwrap();
    assert_eq!(tree.len(), 1);
    assert_eq!(tree[0].name, inner_name);
    assert_eq!(tree[0].kind, "supervisor");
    assert_eq!(tree[0].status, ActorStatus::Running);
    let leaf = &tree[0].children[0];
    assert_eq!(leaf.name, f.name("leaf"));
    assert_eq!(leaf.restarts, 1);
    assert_eq!(leaf.node, node);

    outer.stop(None);
    handle.await.unwrap();
}
