//! The wire codec: our envelope (magic, version, limit and trailing-bytes checks) beside raw
//! bincode 2 doing the same encode and decode, in the same run.
//!
//! Run with: cargo bench -p reporunner-benches --bench codec

use criterion::{Criterion, criterion_group, criterion_main};
use reporunner_protocols::admin::{ActorStatus, ActorTree, SpawnAgentRequest};
use reporunner_protocols::codec;
use reporunner_protocols::ids::{AgentId, NodeId};
use std::hint::black_box;

fn tree() -> ActorTree {
    let leaf = |i: u32| ActorTree {
        name: format!("reporunner.agent.worker-{i}"),
        kind: "greeter".into(),
        node: NodeId::new("gpu-1"),
        status: ActorStatus::Running,
        restarts: i,
        uptime_ms: 1000 + u64::from(i),
        children: vec![],
    };
    ActorTree {
        name: "reporunner.admin".into(),
        kind: "admin".into(),
        node: NodeId::new("head"),
        status: ActorStatus::Running,
        restarts: 0,
        uptime_ms: 5,
        children: (0..32).map(leaf).collect(),
    }
}

fn bench(c: &mut Criterion) {
    let req = SpawnAgentRequest {
        kind: "env-detector".into(),
        name: AgentId::new("env-1"),
        config: r#"{"command_timeout_ms":5000}"#.into(),
    };
    let cfg = bincode::config::standard();
    let mut g = c.benchmark_group("codec_request");
    g.bench_function("raw_bincode", |b| {
        b.iter(|| {
            let bytes = bincode::serde::encode_to_vec(black_box(&req), cfg).unwrap();
            let (v, _): (SpawnAgentRequest, usize) =
                bincode::serde::decode_from_slice(&bytes, cfg).unwrap();
            v
        })
    });
    g.bench_function("envelope", |b| {
        b.iter(|| {
            let bytes = codec::encode(black_box(&req)).unwrap();
            codec::decode::<SpawnAgentRequest>(&bytes).unwrap()
        })
    });
    g.finish();

    let t = tree();
    let mut g = c.benchmark_group("codec_tree_33_actors");
    g.bench_function("raw_bincode", |b| {
        b.iter(|| {
            let bytes = bincode::serde::encode_to_vec(black_box(&t), cfg).unwrap();
            let (v, _): (ActorTree, usize) =
                bincode::serde::decode_from_slice(&bytes, cfg).unwrap();
            v
        })
    });
    g.bench_function("envelope", |b| {
        b.iter(|| {
            let bytes = codec::encode(black_box(&t)).unwrap();
            codec::decode::<ActorTree>(&bytes).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
