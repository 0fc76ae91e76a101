//! Supervision overhead, side by side with raw ractor doing the same work in the same run:
//! cast throughput, call round trip, spawning a child, and the time from a panic until the
//! restarted child answers by name.
//!
//! Run with: cargo bench -p reporunner-benches --bench supervision
//!
//! After criterion's groups, the panic→restart cycle is also timed one by one and its
//! p50/p99 printed, since the target is stated as a percentile.

use criterion::{Criterion, Throughput};
use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use ractor_cluster_derive::RactorMessage;
use reporunner_runtime::naming::lookup;
use reporunner_runtime::supervision::{
    Backoff, ChildSpec, RestartIntensity, Strategy, Supervisor, SupervisorArguments,
    SupervisorMessage, SupervisorOptions,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

const CASTS: u64 = 10_000;

struct Worker;

#[derive(RactorMessage)]
enum WorkerMessage {
    Inc,
    Get(RpcReplyPort<u64>),
    Panic,
}

impl Actor for Worker {
    type Msg = WorkerMessage;
    type State = u64;
    type Arguments = ();
    async fn pre_start(&self, _: ActorRef<Self::Msg>, _: ()) -> Result<u64, ActorProcessingErr> {
        Ok(0)
    }
    async fn handle(
        &self,
        _: ActorRef<Self::Msg>,
        msg: WorkerMessage,
        n: &mut u64,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            WorkerMessage::Inc => *n += 1,
            WorkerMessage::Get(r) => {
                let _ = r.send(*n);
            }
            WorkerMessage::Panic => panic!("bench panic"),
        }
        Ok(())
    }
}

/// The raw-ractor baseline of a supervisor: respawns its one child under the same name on
/// failure, with no policy at all.
struct RawSupervisor;

#[derive(RactorMessage)]
enum RawSupervisorMessage {}

impl Actor for RawSupervisor {
    type Msg = RawSupervisorMessage;
    type State = String;
    type Arguments = String;
    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        name: String,
    ) -> Result<String, ActorProcessingErr> {
        Actor::spawn_linked(Some(name.clone()), Worker, (), myself.get_cell()).await?;
        Ok(name)
    }
    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        evt: SupervisionEvent,
        name: &mut String,
    ) -> Result<(), ActorProcessingErr> {
        if let SupervisionEvent::ActorFailed(..) = evt {
            Actor::spawn_linked(Some(name.clone()), Worker, (), myself.get_cell()).await?;
        }
        Ok(())
    }
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

static NAMES: AtomicU64 = AtomicU64::new(0);
fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", NAMES.fetch_add(1, Ordering::Relaxed))
}

fn supervisor_options() -> SupervisorOptions {
    SupervisorOptions {
        strategy: Strategy::OneForOne,
        intensity: RestartIntensity {
            max_restarts: u32::MAX,
            period: Duration::from_secs(1),
        },
        backoff: Backoff::none(),
        max_children: None,
    }
}

/// A supervised worker, looked up by name as callers do.
async fn supervised_worker() -> (ActorRef<SupervisorMessage>, ActorRef<WorkerMessage>, String) {
    let name = unique("sup-worker");
    let (sup, _) = Actor::spawn(
        None,
        Supervisor,
        SupervisorArguments {
            options: supervisor_options(),
            children: vec![ChildSpec::new(name.clone(), || (Worker, ()))],
        },
    )
    .await
    .unwrap();
    let worker = lookup::<WorkerMessage>(&name).unwrap();
    (sup, worker, name)
}

async fn raw_worker() -> ActorRef<WorkerMessage> {
    Actor::spawn(None, Worker, ()).await.unwrap().0
}

async fn cast_batch(w: &ActorRef<WorkerMessage>) {
    for _ in 0..CASTS {
        w.cast(WorkerMessage::Inc).unwrap();
    }
    ractor::call!(w, WorkerMessage::Get).unwrap();
}

fn bench_cast(c: &mut Criterion, rt: &Runtime) {
    let raw = rt.block_on(raw_worker());
    let (sup, supervised, _) = rt.block_on(supervised_worker());
    let mut g = c.benchmark_group("cast_throughput");
    g.throughput(Throughput::Elements(CASTS));
    g.bench_function("raw_ractor", |b| b.iter(|| rt.block_on(cast_batch(&raw))));
    g.bench_function("supervised", |b| {
        b.iter(|| rt.block_on(cast_batch(&supervised)))
    });
    g.finish();
    raw.stop(None);
    sup.stop(None);
}

fn bench_call(c: &mut Criterion, rt: &Runtime) {
    let raw = rt.block_on(raw_worker());
    let (sup, supervised, name) = rt.block_on(supervised_worker());
    let mut g = c.benchmark_group("call_round_trip");
    g.bench_function("raw_ractor", |b| {
        b.iter(|| rt.block_on(async { ractor::call!(raw, WorkerMessage::Get).unwrap() }))
    });
    g.bench_function("supervised", |b| {
        b.iter(|| rt.block_on(async { ractor::call!(supervised, WorkerMessage::Get).unwrap() }))
    });
    g.bench_function("supervised_by_name", |b| {
        b.iter(|| {
            rt.block_on(async {
                let w = lookup::<WorkerMessage>(&name).unwrap();
                ractor::call!(w, WorkerMessage::Get).unwrap()
            })
        })
    });
    g.finish();
    raw.stop(None);
    sup.stop(None);
}

fn bench_spawn(c: &mut Criterion, rt: &Runtime) {
    let mut g = c.benchmark_group("spawn_child");
    let (parent, _) = rt
        .block_on(Actor::spawn(None, RawSupervisor, unique("raw-parent")))
        .unwrap();
    g.bench_function("raw_ractor_spawn_linked", |b| {
        b.iter(|| {
            rt.block_on(async {
                let (w, _) =
                    Actor::spawn_linked(Some(unique("raw-child")), Worker, (), parent.get_cell())
                        .await
                        .unwrap();
                w.stop_and_wait(None, None).await.unwrap();
            })
        })
    });
    let (sup, _) = rt
        .block_on(Actor::spawn(
            None,
            Supervisor,
            SupervisorArguments {
                options: supervisor_options(),
                children: Vec::new(),
            },
        ))
        .unwrap();
    g.bench_function("supervised_start_and_terminate", |b| {
        b.iter(|| {
            rt.block_on(async {
                let name = unique("sup-child");
                let spec = ChildSpec::new(name.clone(), || (Worker, ()));
                ractor::call!(sup, SupervisorMessage::StartChild, spec)
                    .unwrap()
                    .unwrap();
                ractor::call!(sup, SupervisorMessage::TerminateChild, name)
                    .unwrap()
                    .unwrap();
            })
        })
    });
    g.finish();
    parent.stop(None);
    sup.stop(None);
}

/// One panic→restart cycle: panics the worker registered as `name`, then polls the name
/// until a new incarnation answers a call. Returns the elapsed time.
async fn panic_cycle(name: &str) -> Duration {
    let old: ActorRef<WorkerMessage> = lookup(name).unwrap();
    let start = Instant::now();
    old.cast(WorkerMessage::Panic).unwrap();
    loop {
        if let Some(cell) = ractor::registry::where_is(name)
            && cell.get_id() != old.get_id()
        {
            let w: ActorRef<WorkerMessage> = ActorCell::into(cell);
            if ractor::call!(w, WorkerMessage::Get).is_ok() {
                return start.elapsed();
            }
        }
        tokio::task::yield_now().await;
    }
}

async fn raw_restartable() -> String {
    let name = unique("raw-restart");
    Actor::spawn(None, RawSupervisor, name.clone())
        .await
        .unwrap();
    name
}

fn bench_restart(c: &mut Criterion, rt: &Runtime) {
    let raw_name = rt.block_on(raw_restartable());
    let (_sup, _, sup_name) = rt.block_on(supervised_worker());
    let mut g = c.benchmark_group("panic_to_restarted_by_name");
    g.bench_function("raw_ractor", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += panic_cycle(&raw_name).await;
                }
                total
            })
        })
    });
    g.bench_function("supervised", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += panic_cycle(&sup_name).await;
                }
                total
            })
        })
    });
    g.finish();
}

/// Times `n` panic→restart cycles one by one and prints their percentiles.
fn restart_percentiles(rt: &Runtime, n: usize) {
    let raw_name = rt.block_on(raw_restartable());
    let (_sup, _, sup_name) = rt.block_on(supervised_worker());
    for (label, name) in [("raw_ractor", &raw_name), ("supervised", &sup_name)] {
        let mut samples: Vec<Duration> = rt.block_on(async { collect_cycles(name, n).await });
        samples.sort();
        let pct = |p: f64| samples[((samples.len() - 1) as f64 * p) as usize];
        println!(
            "panic_to_restarted_by_name/{label}: n={n} p50={:?} p90={:?} p99={:?} max={:?}",
            pct(0.50),
            pct(0.90),
            pct(0.99),
            samples[samples.len() - 1]
        );
    }
}

async fn collect_cycles(name: &str, n: usize) -> Vec<Duration> {
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push(panic_cycle(name).await);
    }
    v
}

fn main() {
    // Panics are ordinary failures here; the default hook would print (and, with
    // RUST_BACKTRACE=1, symbolise) a backtrace for each.
    reporunner_runtime::panics::install_quiet_hook();
    let rt = runtime();
    let mut c = Criterion::default().configure_from_args();
    bench_cast(&mut c, &rt);
    bench_call(&mut c, &rt);
    bench_spawn(&mut c, &rt);
    bench_restart(&mut c, &rt);
    // `cargo bench` passes --bench; `cargo test` runs benches once, quickly.
    let full = std::env::args().any(|a| a == "--bench");
    restart_percentiles(&rt, if full { 5000 } else { 20 });
    c.final_summary();
}
