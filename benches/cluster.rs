//! Cross-node messaging, Repo Runner beside raw ractor_cluster in the same run, over the
//! same session between two processes on 127.0.0.1.
//!
//! This process is the head: a Repo Runner node with its cluster layer. It starts a second
//! copy of itself as a worker that joins it, and on the worker:
//! - Repo Runner's side is an `echo` agent of a kind this bench registers, placed there by
//!   the head's NodeHost (remote spawn) and supervised by the worker's AgentSupervisor; its
//!   messages carry [`Wire`] envelopes, as every cluster message of Repo Runner does;
//! - the raw side is a plain ractor actor with a `RactorClusterMessage` of bare `u64`s,
//!   spawned directly and found through a process group.
//!
//! Measured: the round trip of one call (criterion, then p50/p99 over single timed calls),
//! and the throughput of casts (10,000 casts, then one call that returns the count, which
//! arrives after them on the same session).
//!
//! Run with: cargo bench -p reporunner-benches --bench cluster

use criterion::{Criterion, Throughput};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use ractor_cluster_derive::RactorClusterMessage;
use reporunner::boot::{Node, NodeConfig};
use reporunner::cluster::{self, ClusterConfig};
use reporunner_protocols::Wire;
use reporunner_protocols::access::Tier;
use reporunner_protocols::admin::SpawnAgentRequest;
use reporunner_protocols::cluster::{NodeHostMessage, PlaceRequest};
use reporunner_protocols::ids::{AgentId, NodeId};
use reporunner_protocols::kinds::{AgentKindDescriptor, AgentNeeds, RestartType};
use reporunner_runtime::kinds::AgentKind;
use reporunner_runtime::naming::Namespace;
use std::collections::BTreeMap;
use std::io::Read as _;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

const CASTS: u64 = 10_000;
const SAMPLES: usize = 3_000;
const RAW_GROUP: &str = "bench.raw_echo";
const PEER_ENV: &str = "REPORUNNER_BENCH_PEER";
const COOKIE: &str = "bench";

/// Repo Runner's echo agent: every payload in a [`Wire`] envelope.
#[derive(RactorClusterMessage)]
enum EchoMessage {
    Cast(Wire<u64>),
    #[rpc]
    Call(Wire<u64>, RpcReplyPort<Wire<u64>>),
}

impl std::fmt::Debug for EchoMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EchoMessage")
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Echo;

impl Actor for Echo {
    type Msg = EchoMessage;
    type State = u64;
    type Arguments = ();
    async fn pre_start(&self, _: ActorRef<Self::Msg>, _: ()) -> Result<u64, ActorProcessingErr> {
        Ok(0)
    }
    async fn handle(
        &self,
        _: ActorRef<Self::Msg>,
        msg: EchoMessage,
        count: &mut u64,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            EchoMessage::Cast(n) => *count += n.open().unwrap_or(0),
            EchoMessage::Call(n, reply) => {
                let n = n.open().unwrap_or(0);
                let _ = reply.send(Wire::new(if n == u64::MAX { *count } else { n }));
            }
        }
        Ok(())
    }
}

/// The raw ractor_cluster baseline: bare `u64`s.
#[derive(RactorClusterMessage)]
enum RawMessage {
    Cast(u64),
    #[rpc]
    Call(u64, RpcReplyPort<u64>),
}

struct RawEcho;

impl Actor for RawEcho {
    type Msg = RawMessage;
    type State = u64;
    type Arguments = ();
    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        _: (),
    ) -> Result<u64, ActorProcessingErr> {
        ractor::pg::join(RAW_GROUP.to_string(), vec![myself.get_cell()]);
        Ok(0)
    }
    async fn handle(
        &self,
        _: ActorRef<Self::Msg>,
        msg: RawMessage,
        count: &mut u64,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            RawMessage::Cast(n) => *count += n,
            RawMessage::Call(n, reply) => {
                let _ = reply.send(if n == u64::MAX { *count } else { n });
            }
        }
        Ok(())
    }
}

fn echo_kind() -> AgentKind {
    AgentKind::with_config(
        AgentKindDescriptor {
            name: "echo".into(),
            description: "answers calls with their payload (bench)".into(),
            restart: RestartType::Permanent,
            needs: AgentNeeds::default(),
        },
        |_, _: reporunner_actors::agents::NoConfig| (Echo, ()),
    )
}

async fn start_node(name: &str, cluster: ClusterConfig) -> (Node, cluster::ClusterHandle) {
    let config = NodeConfig {
        node: NodeId::new(name),
        namespace: Namespace::new(format!("reporunner.{name}")),
        ..NodeConfig::default()
    };
    let node = Node::start(config).await.expect("node");
    node.kinds().register(echo_kind()).expect("echo kind");
    let handle = cluster::start(&node, &cluster).await.expect("cluster");
    (node, handle)
}

fn cluster_config(port: u16, head: bool, join: Option<String>) -> ClusterConfig {
    let mut labels = BTreeMap::new();
    labels.insert(
        "role".to_string(),
        if head { "head" } else { "peer" }.into(),
    );
    ClusterConfig {
        port,
        cookie: COOKIE.into(),
        advertise_host: "127.0.0.1".into(),
        head,
        join,
        labels,
        models: vec![],
        down_after_ms: None,
        tls: None,
    }
}

/// The worker: joins the head, starts the raw echo, and lives until stdin closes.
fn peer(head: String) {
    let rt = Runtime::new().unwrap();
    rt.block_on(async {
        let (_node, _cluster) = start_node("peer", cluster_config(0, false, Some(head))).await;
        let _raw = Actor::spawn(None, RawEcho, ()).await.expect("raw echo");
        tokio::task::spawn_blocking(|| {
            let _ = std::io::stdin().read(&mut [0u8; 1]);
        })
        .await
        .unwrap();
    });
}

/// Polls until `find` gives something.
async fn wait_for<T>(what: &str, find: impl Fn() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(t) = find() {
            return t;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{what} never appeared"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    if let Ok(head) = std::env::var(PEER_ENV) {
        return peer(head);
    }
    let rt = Runtime::new().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (node, cluster) = rt.block_on(start_node("head", cluster_config(port, true, None)));
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .env(PEER_ENV, format!("127.0.0.1:{port}"))
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("the peer process");

    let (raw, echo) = rt.block_on(async {
        let raw: ActorRef<RawMessage> = wait_for("the raw echo", || {
            ractor::pg::get_members(&RAW_GROUP.to_string())
                .into_iter()
                .next()
                .map(ActorRef::from)
        })
        .await;
        // Placed through the head's NodeHost, on the node labelled role=peer.
        let host: ActorRef<NodeHostMessage> = wait_for("the head's host", || {
            ractor::registry::where_is(
                Namespace::new("reporunner.head").agent(&AgentId::new("node-host")),
            )
            .map(ActorRef::from)
        })
        .await;
        let mut needs = AgentNeeds::default();
        needs.labels.insert("role".into(), "peer".into());
        let request = PlaceRequest {
            spawn: SpawnAgentRequest {
                kind: "echo".into(),
                name: AgentId::new("echo"),
                config: String::new(),
            },
            needs,
            tier: Tier::Developer,
        };
        let started = Instant::now();
        let info = loop {
            let placed = ractor::call_t!(
                host,
                NodeHostMessage::Place,
                30_000,
                Wire::new(request.clone())
            )
            .expect("the host answers")
            .open()
            .expect("a well-formed answer");
            match placed {
                Ok(info) => break info,
                Err(e) if started.elapsed() < Duration::from_secs(60) => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("the echo agent could not be placed: {e}"),
            }
        };
        assert_eq!(info.node.as_str(), "peer");
        let echo: ActorRef<EchoMessage> = wait_for("the echo agent", || {
            ractor::pg::get_members(&"reporunner.peer.agents".to_string())
                .into_iter()
                .find(|c| c.get_name().is_some_and(|n| n.ends_with(".agent.echo")))
                .map(ActorRef::from)
        })
        .await;
        (raw, echo)
    });

    let mut c = Criterion::default().configure_from_args();
    {
        let mut g = c.benchmark_group("cluster_call");
        g.bench_function("raw_ractor_cluster", |b| {
            b.iter(|| {
                rt.block_on(async { ractor::call_t!(raw, RawMessage::Call, 5_000, 7).unwrap() })
            })
        });
        g.bench_function("reporunner", |b| {
            b.iter(|| {
                rt.block_on(async {
                    ractor::call_t!(echo, EchoMessage::Call, 5_000, Wire::new(7))
                        .unwrap()
                        .open()
                        .unwrap()
                })
            })
        });
        g.finish();
    }
    {
        let mut g = c.benchmark_group("cluster_cast");
        g.throughput(Throughput::Elements(CASTS));
        g.sample_size(10);
        g.bench_function("raw_ractor_cluster", |b| {
            b.iter(|| {
                rt.block_on(async {
                    for _ in 0..CASTS {
                        raw.cast(RawMessage::Cast(1)).unwrap();
                    }
                    ractor::call_t!(raw, RawMessage::Call, 30_000, u64::MAX).unwrap()
                })
            })
        });
        g.bench_function("reporunner", |b| {
            b.iter(|| {
                rt.block_on(async {
                    for _ in 0..CASTS {
                        echo.cast(EchoMessage::Cast(Wire::new(1))).unwrap();
                    }
                    ractor::call_t!(echo, EchoMessage::Call, 30_000, Wire::new(u64::MAX)).unwrap()
                })
            })
        });
        g.finish();
    }
    c.final_summary();

    // Percentiles of single calls, interleaved so that both sides see the same machine.
    let (raw_t, ours_t) = rt.block_on(async {
        let mut raw_t = Vec::with_capacity(SAMPLES);
        let mut ours_t = Vec::with_capacity(SAMPLES);
        for i in 0..SAMPLES as u64 {
            let t = Instant::now();
            ractor::call_t!(raw, RawMessage::Call, 5_000, i).unwrap();
            raw_t.push(t.elapsed());
            let t = Instant::now();
            ractor::call_t!(echo, EchoMessage::Call, 5_000, Wire::new(i)).unwrap();
            ours_t.push(t.elapsed());
        }
        (raw_t, ours_t)
    });
    for (name, mut t) in [("raw_ractor_cluster", raw_t), ("reporunner", ours_t)] {
        t.sort();
        println!(
            "cross-node call {name}: p50 {:?} p99 {:?} over {SAMPLES} calls",
            percentile(&t, 0.50),
            percentile(&t, 0.99)
        );
    }

    drop(child.stdin.take());
    let _ = child.wait();
    rt.block_on(async {
        cluster.stop().await;
        let _ = node.shutdown().await;
    });
}
