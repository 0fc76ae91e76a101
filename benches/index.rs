//! Context indexing at scale: a repository of about 5,000 chunks of real code (the sources
//! of crates in the local cargo registry: tantivy, candle, tokio, ...), indexed by each
//! indexer, then searched.
//!
//! It prints, for Simple (tantivy BM25), Vector (HNSW over all-MiniLM-L6-v2) and
//! Collection (both, kept in a sled store):
//! - the build: files/s, MB/s and chunks/s from nothing, and the time of an update when
//!   nothing changed (walk and hash only);
//! - query latency p50 and p99 over 200 queries, beside exact (brute-force) search over the
//!   same embeddings;
//! - recall@10 of the HNSW graph against exact search on the same embeddings;
//! - a search through the ContextIndexer actor (which first brings the index up to date)
//!   beside the same search on the raw indexer.
//!
//! Run with: cargo bench -p reporunner-benches --bench index
//! (The build embeds every chunk twice, once per vector indexer: minutes on 2 cores.)
//! Without `--bench` (as `cargo test --all-targets` runs it) it checks the same path on
//! 200 chunks.

use ractor::Actor;
use reporunner_actors::admin::{Admin, AdminArguments};
use reporunner_actors::agents::context_indexer::{
    ContextIndexerMessage, IndexRequest, SearchRequest,
};
use reporunner_protocols::access::Tier;
use reporunner_protocols::admin::AdminClient;
use reporunner_protocols::ids::{AgentId, NodeId};
use reporunner_runtime::index::collection::CollectionIndex;
use reporunner_runtime::index::files;
use reporunner_runtime::index::simple::SimpleIndex;
use reporunner_runtime::index::vector::VectorIndex;
use reporunner_runtime::index::{IndexKind, Indexer, Query, update};
use reporunner_runtime::models::Embedder;
use reporunner_runtime::models::bert::BertEmbedder;
use reporunner_runtime::models::locate;
use reporunner_runtime::naming::{Namespace, lookup};
use reporunner_runtime::store::{SledStore, Store};
use reporunner_runtime::testsuite::installed_models;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The chunks the corpus aims for (a bench run; a smoke test takes [`SMOKE_CHUNKS`]).
const TARGET_CHUNKS: usize = 5_000;

/// The chunks of a smoke test.
const SMOKE_CHUNKS: usize = 200;

/// Crates whose sources make the corpus, in order, as far as they are needed.
const CRATES: &[&str] = &[
    "tantivy-0",
    "candle-transformers-",
    "candle-core-",
    "tokio-1",
    "regex-syntax-",
    "hyper-1",
    "rustls-0",
    "sled-",
];

/// Copies `.rs` and `.md` files of the registry's crates into `dst` until the chunks
/// reach `target`. Returns the files and chunks copied.
fn corpus(dst: &Path, target: usize) -> (usize, usize) {
    let _ = std::fs::remove_dir_all(dst);
    let home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap()).join(".cargo"));
    let mut registries: Vec<PathBuf> = std::fs::read_dir(home.join("registry/src"))
        .expect("a cargo registry")
        .flatten()
        .map(|e| e.path())
        .collect();
    registries.sort();
    let mut crates: Vec<PathBuf> = Vec::new();
    for prefix in CRATES {
        for r in &registries {
            let mut found: Vec<PathBuf> = std::fs::read_dir(r)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(prefix))
                })
                .collect();
            found.sort();
            crates.extend(found.into_iter().take(1));
        }
    }
    let (mut nfiles, mut nchunks) = (0, 0);
    'outer: for krate in crates {
        let name = krate.file_name().unwrap().to_owned();
        for walked in files::walk(&krate).expect("a crate folder") {
            let files::Walked::File(f) = walked else {
                continue;
            };
            if !(f.path.ends_with(".rs") || f.path.ends_with(".md")) {
                continue;
            }
            let chunks = files::chunk(&f).len();
            let to = dst.join(&name).join(&f.path);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::write(&to, &f.text).unwrap();
            nfiles += 1;
            nchunks += chunks;
            if nchunks >= target {
                break 'outer;
            }
        }
    }
    (nfiles, nchunks)
}

/// The queries: identifiers and doc lines of the corpus, the kind of thing people search.
fn queries(root: &Path, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for walked in files::walk(root).unwrap() {
        let files::Walked::File(f) = walked else {
            continue;
        };
        for line in f.text.lines() {
            let l = line.trim();
            if let Some(doc) = l.strip_prefix("/// ")
                && doc.len() > 30
                && out.len() % 2 == 0
            {
                out.push(doc.to_string());
            } else if let Some(rest) = l.strip_prefix("pub fn ")
                && out.len() % 2 == 1
            {
                let name = rest.split('(').next().unwrap_or(rest).replace('_', " ");
                out.push(format!("how to {name}"));
            }
            if out.len() >= n {
                return out;
            }
        }
    }
    out
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn latencies(mut f: impl FnMut(usize), n: usize) -> (Duration, Duration) {
    let mut times: Vec<Duration> = (0..n)
        .map(|i| {
            let t = Instant::now();
            f(i);
            t.elapsed()
        })
        .collect();
    times.sort();
    (percentile(&times, 0.50), percentile(&times, 0.99))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Builds `index` from nothing, then updates it with nothing changed; prints both.
fn build(name: &str, index: &mut dyn Indexer, root: &Path, bytes: u64) {
    let t = Instant::now();
    let stats = update(index, root).unwrap();
    let took = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let again = update(index, root).unwrap();
    let noop = t.elapsed();
    assert_eq!(again.files_indexed, 0);
    println!(
        "{name:<10} build: {} files, {} chunks in {took:.1} s = {:.0} files/s, {:.2} MB/s, {:.0} chunks/s; update with nothing changed: {:.0} ms",
        stats.files_indexed,
        stats.chunks_total,
        stats.files_indexed as f64 / took,
        bytes as f64 / 1e6 / took,
        stats.chunks_total as f64 / took,
        ms(noop)
    );
}

fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let work = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../target/tmp/index-bench-{}", std::process::id()));
    let root = work.join("corpus");
    let target = if benching {
        TARGET_CHUNKS
    } else {
        SMOKE_CHUNKS
    };
    let (nfiles, nchunks) = corpus(&root, target);
    let bytes: u64 = files::walk(&root)
        .unwrap()
        .filter_map(|w| match w {
            files::Walked::File(f) => Some(f.text.len() as u64),
            files::Walked::Skipped { .. } => None,
        })
        .sum();
    println!(
        "corpus: {nfiles} files, {nchunks} chunks, {:.1} MB of Rust and Markdown from the cargo registry",
        bytes as f64 / 1e6
    );
    let qs = queries(&root, if benching { 200 } else { 20 });
    let n = qs.len();

    let model = locate::minilm(&installed_models()).expect("all-MiniLM-L6-v2 is installed");
    let embedder: Arc<dyn Embedder> = Arc::new(BertEmbedder::load(&model).expect("it loads"));

    // Simple.
    let mut simple = SimpleIndex::new().unwrap();
    build("simple", &mut simple, &root, bytes);
    let (p50, p99) = latencies(|i| drop(simple.search(&Query::new(&qs[i], 10)).unwrap()), n);
    println!(
        "simple     query: p50 {:.2} ms, p99 {:.2} ms ({n} queries, k=10)",
        ms(p50),
        ms(p99)
    );

    // Vector: build, latency beside exact search, recall@10.
    let mut vector = VectorIndex::new(embedder.clone());
    build("vector", &mut vector, &root, bytes);
    let vectors = embedder
        .embed(&qs.iter().map(String::as_str).collect::<Vec<_>>())
        .unwrap();
    let (p50, p99) = latencies(|i| drop(vector.nearest(&vectors[i], 10)), n);
    let (e50, e99) = latencies(|i| drop(vector.exact(&vectors[i], 10)), n);
    println!(
        "vector     query (graph only, embedded query): p50 {:.2} ms, p99 {:.2} ms; exact search: p50 {:.2} ms, p99 {:.2} ms",
        ms(p50),
        ms(p99),
        ms(e50),
        ms(e99)
    );
    let (q50, q99) = latencies(|i| drop(vector.search(&Query::new(&qs[i], 10)).unwrap()), n);
    println!(
        "vector     query (embedding the query too): p50 {:.2} ms, p99 {:.2} ms",
        ms(q50),
        ms(q99)
    );
    let recall: f64 = vectors
        .iter()
        .map(|v| {
            let ann = vector.nearest(v, 10);
            let exact = vector.exact(v, 10);
            exact.iter().filter(|id| ann.contains(id)).count() as f64 / exact.len().max(1) as f64
        })
        .sum::<f64>()
        / n as f64;
    println!("vector     recall@10 against exact search: {recall:.3} ({n} queries, ef_search 64)");

    // Collection: build into a store, then reload it as a new process would.
    let data = work.join("store");
    let _ = std::fs::remove_dir_all(&data);
    let store: Arc<dyn Store> = Arc::new(SledStore::open(&data).unwrap());
    let dir = data.join("index/bench");
    {
        let mut collection =
            CollectionIndex::open("bench", &dir, store.clone(), embedder.clone()).unwrap();
        build("collection", &mut collection, &root, bytes);
    }
    let t = Instant::now();
    let collection = CollectionIndex::open("bench", &dir, store.clone(), embedder.clone()).unwrap();
    assert!(collection.reloaded());
    println!(
        "collection reload (graph, tantivy, {} chunk records): {:.0} ms",
        collection.len(),
        ms(t.elapsed())
    );
    let (p50, p99) = latencies(
        |i| drop(collection.search(&Query::new(&qs[i], 10)).unwrap()),
        n,
    );
    println!(
        "collection query (hybrid, embedding the query): p50 {:.2} ms, p99 {:.2} ms",
        ms(p50),
        ms(p99)
    );
    drop(collection);
    drop(store);

    // Through the actor: the ContextIndexer brings the index up to date, then searches.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let ns = Namespace::new("bench-index");
        let (admin, _) = Actor::spawn(
            Some(ns.admin()),
            Admin,
            AdminArguments {
                node: NodeId::new("local"),
                namespace: ns.clone(),
                models: installed_models(),
                ..AdminArguments::default()
            },
        )
        .await
        .unwrap();
        let client = AdminClient::new(admin.clone());
        for kind in ["file", "context-indexer"] {
            client.spawn_agent(kind, AgentId::new(kind), "").await.unwrap();
        }
        let indexer =
            lookup::<ContextIndexerMessage>(&ns.agent(&AgentId::new("context-indexer"))).unwrap();
        let ask = |q: &str| {
            let request = SearchRequest {
                index: IndexRequest {
                    root: root.clone(),
                    tier: Tier::Free,
                    kind: Some(IndexKind::Simple),
                },
                query: Query::new(q, 10),
            };
            let indexer = indexer.clone();
            async move {
                ractor::call_t!(
                    indexer,
                    ContextIndexerMessage::Search,
                    600_000,
                    Box::new(request)
                )
                .unwrap()
                .unwrap()
            }
        };
        ask(&qs[0]).await; // builds it
        let mut times = Vec::new();
        for q in qs.iter().take(if benching { 50 } else { 5 }) {
            let t = Instant::now();
            ask(q).await;
            times.push(t.elapsed());
        }
        times.sort();
        let (raw50, _) = latencies(
            |i| drop(simple.search(&Query::new(&qs[i], 10)).unwrap()),
            times.len(),
        );
        println!(
            "simple     search through the ContextIndexer (walk + hash every file, then search): p50 {:.1} ms, p99 {:.1} ms; the raw indexer: p50 {:.2} ms",
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.99)),
            ms(raw50)
        );
        admin.stop_and_wait(None, None).await.unwrap();
    });
    let _ = std::fs::remove_dir_all(&work);
}
