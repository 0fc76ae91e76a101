//! The store beside raw sled doing the same work, in the same run: the latency of a
//! flushed checkpoint write, and the throughput of run events.
//!
//! Run with: cargo bench -p reporunner-benches --bench store
//!
//! After criterion's groups, flushed writes are timed one by one and p50/p99 printed.

use criterion::{Criterion, Throughput};
use reporunner_protocols::record::Record;
use reporunner_runtime::store::{SledStore, Store, StoreExt, Tree};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

const EVENTS: u64 = 1_000;

/// A checkpoint-sized record: an agent's state.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Checkpoint {
    name: String,
    kind: String,
    restarts: u32,
    state: Vec<u8>,
}

impl Record for Checkpoint {
    const KIND: &'static str = "bench_checkpoint";
    const VERSION: u16 = 1;
}

/// A run-event-sized record.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Event {
    run: String,
    seq: u64,
    phase: String,
    message: String,
}

impl Record for Event {
    const KIND: &'static str = "bench_event";
    const VERSION: u16 = 1;
}

fn dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("reporunner-bench-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn checkpoint() -> Checkpoint {
    Checkpoint {
        name: "agent_state_EnvDetector".into(),
        kind: "env-detector".into(),
        restarts: 3,
        state: vec![7; 512],
    }
}

fn event(seq: u64) -> Event {
    Event {
        run: "run-0000000000001-deadbeef".into(),
        seq,
        phase: "dependencies".into(),
        message: "installed 42 packages from requirements.txt".into(),
    }
}

fn main() {
    let rt: Runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let ours_dir = dir("ours");
    let raw_dir = dir("raw");
    let store = SledStore::open(&ours_dir).unwrap();
    let raw = sled::Config::new().path(&raw_dir).open().unwrap();
    let raw_tree = raw.open_tree("checkpoints").unwrap();
    let raw_events = raw.open_tree("run_events").unwrap();
    let cp = checkpoint();
    let cp_bytes = reporunner_protocols::record::encode(&cp).unwrap();

    // Each write goes to a new key, as successive checkpoints of many actors do: sled's
    // flush returns at once when nothing changed since the last one.
    let mut key = 0u64;
    let mut next_key = move || {
        key += 1;
        format!("agent_state_{key:016x}")
    };
    let mut c = Criterion::default().configure_from_args();
    let mut g = c.benchmark_group("flushed_checkpoint_write");
    g.bench_function("raw_sled_insert_flush", |b| {
        b.iter(|| {
            raw_tree
                .insert(next_key().as_bytes(), cp_bytes.as_slice())
                .unwrap();
            raw.flush().unwrap();
        })
    });
    g.bench_function("store_put_record_durable", |b| {
        b.iter(|| {
            let k = next_key();
            rt.block_on(store.put_record_durable(Tree::Checkpoints, &k, &cp))
                .unwrap()
        })
    });
    g.finish();

    let mut g = c.benchmark_group("run_events");
    g.throughput(Throughput::Elements(EVENTS));
    let mut seq = 0u64;
    g.bench_function("raw_sled_insert_then_flush", |b| {
        b.iter(|| {
            for _ in 0..EVENTS {
                seq += 1;
                let bytes = reporunner_protocols::record::encode(&event(seq)).unwrap();
                raw_events
                    .insert(format!("run-x/{seq:016x}").as_bytes(), bytes)
                    .unwrap();
            }
            raw.flush().unwrap();
        })
    });
    g.bench_function("store_put_record_then_flush", |b| {
        b.iter(|| {
            for _ in 0..EVENTS {
                seq += 1;
                store
                    .put_record(Tree::RunEvents, &format!("run-x/{seq:016x}"), &event(seq))
                    .unwrap();
            }
            rt.block_on(store.flush()).unwrap();
        })
    });
    g.finish();

    // One by one, for percentiles.
    let full = std::env::args().any(|a| a == "--bench");
    let n = if full { 2000 } else { 20 };
    let pct = |mut v: Vec<Duration>, label: &str| {
        v.sort();
        let p = |q: f64| v[((v.len() - 1) as f64 * q) as usize];
        println!(
            "flushed_checkpoint_write/{label}: n={} p50={:?} p99={:?}",
            v.len(),
            p(0.5),
            p(0.99)
        );
    };
    let raw_samples: Vec<Duration> = (0..n)
        .map(|_| {
            let k = next_key();
            let t = Instant::now();
            raw_tree.insert(k.as_bytes(), cp_bytes.as_slice()).unwrap();
            raw.flush().unwrap();
            t.elapsed()
        })
        .collect();
    let ours_samples: Vec<Duration> = (0..n)
        .map(|_| {
            let k = next_key();
            let t = Instant::now();
            rt.block_on(store.put_record_durable(Tree::Checkpoints, &k, &cp))
                .unwrap();
            t.elapsed()
        })
        .collect();
    pct(raw_samples, "raw_sled");
    pct(ours_samples, "store");

    // Group commit: 8 writers flushing at once share fsyncs.
    let writers = 8u64;
    let per = if full { 200 } else { 5 };
    let t = Instant::now();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for w in 0..writers {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..per {
                    store
                        .put_record_durable(
                            Tree::Checkpoints,
                            &format!("agent_state_w{w}_{i}"),
                            &checkpoint(),
                        )
                        .await
                        .unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    let total = writers * per;
    println!(
        "group_commit/{writers}_concurrent_writers: {total} durable writes in {:?} = {:.0} writes/s",
        t.elapsed(),
        total as f64 / t.elapsed().as_secs_f64()
    );
    c.final_summary();
    drop(store);
    drop(raw);
    let _ = std::fs::remove_dir_all(&ours_dir);
    let _ = std::fs::remove_dir_all(&raw_dir);
}
