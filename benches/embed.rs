//! Embedding throughput: all-MiniLM-L6-v2 on candle, beside Python sentence-transformers on
//! the same sentences, the same model files and the same batch size, in the same run.
//!
//! The sentences are the prose of this repository's README, cut into sentences of 20 to
//! 300 characters (512 of them, cycled if need be), so both sides see realistic, mixed
//! lengths. The hashing embedder (no model) is timed too, for scale.
//!
//! The model comes from `scripts/models.sh` (or `REPORUNNER_MODELS_PYTHON`). The comparison
//! needs sentence-transformers: `scripts/st-venv.sh` installs it (about 3 GB with torch's
//! CUDA libraries, the only Linux build PyPI has) and `REPORUNNER_ST_PYTHON` names its
//! interpreter; without it the bench says so and times candle alone.
//!
//! Run with: cargo bench -p reporunner-benches --bench embed

#[path = "python_side.rs"]
mod python_side;

use criterion::{Criterion, Throughput};
use reporunner_runtime::models::Embedder;
use reporunner_runtime::models::bert::{BATCH, BertEmbedder};
use reporunner_runtime::models::hashing::{DEFAULT_DIM, HashingEmbedder};
use reporunner_runtime::models::locate;
use reporunner_runtime::testsuite::installed_models;
use std::time::Instant;

const SENTENCES: usize = 512;

/// The README's prose, in sentences.
fn sentences() -> Vec<String> {
    let text = std::fs::read_to_string(python_side::root().join("README.md")).expect("README.md");
    let mut out: Vec<String> = text
        .split(['\n', '.', '!', '?'])
        .map(|s| {
            s.trim()
                .trim_start_matches(['-', '#', '*', ' '])
                .to_string()
        })
        .filter(|s| (20..=300).contains(&s.len()))
        .collect();
    assert!(!out.is_empty(), "no sentences in README.md");
    let base = out.clone();
    while out.len() < SENTENCES {
        out.extend(base.iter().take(SENTENCES - out.len()).cloned());
    }
    out.truncate(SENTENCES);
    out
}

/// sentence-transformers on the same job, or why it did not run.
fn sentence_transformers(
    model_dir: &std::path::Path,
    sentences: &[String],
) -> Result<String, String> {
    let job = serde_json::json!({
        "model_dir": model_dir,
        "sentences": sentences,
        "batch": BATCH,
        "rounds": 3,
    });
    python_side::run(
        "REPORUNNER_ST_PYTHON",
        "scripts/st-venv.sh installs it",
        "st_bench.py",
        &job,
    )
}

fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let sentences = sentences();
    let texts: Vec<&str> = sentences.iter().map(String::as_str).collect();
    let files = locate::minilm(&installed_models()).expect("all-MiniLM-L6-v2 is installed");
    let started = Instant::now();
    let minilm = BertEmbedder::load(&files).expect("it loads");
    let load = started.elapsed();

    let mut c = Criterion::default().configure_from_args();
    {
        let mut g = c.benchmark_group("embed");
        g.sample_size(10);
        g.throughput(Throughput::Elements(texts.len() as u64));
        g.bench_function("candle_minilm", |b| {
            b.iter(|| minilm.embed(&texts).unwrap())
        });
        let hashing = HashingEmbedder::new(DEFAULT_DIM);
        g.bench_function("hashing_no_model", |b| {
            b.iter(|| hashing.embed(&texts).unwrap())
        });
        g.finish();
    }
    {
        // One text at a time: the latency a single query pays.
        let mut g = c.benchmark_group("embed_one");
        g.bench_function("candle_minilm", |b| {
            b.iter(|| {
                minilm
                    .embed(&["where is the database connection configured"])
                    .unwrap()
            })
        });
        g.finish();
    }
    c.final_summary();

    // The same job, timed by hand for the side-by-side line.
    let mut best = 0.0f64;
    for _ in 0..if benching { 3 } else { 1 } {
        let t = Instant::now();
        minilm.embed(&texts).unwrap();
        best = best.max(texts.len() as f64 / t.elapsed().as_secs_f64());
    }
    println!(
        "candle all-MiniLM-L6-v2: load {:.0} ms, {best:.0} sentences/s ({} sentences, batch {BATCH})",
        load.as_secs_f64() * 1000.0,
        texts.len()
    );
    if benching {
        match sentence_transformers(&files.dir, &sentences) {
            Ok(line) => println!("sentence-transformers: {line}"),
            Err(why) => println!("sentence-transformers not compared: {why}"),
        }
    }
}
