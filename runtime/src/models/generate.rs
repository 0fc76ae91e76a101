//! Text generation: the [`Generator`] trait, what a request holds (a chat, sampling
//! settings, a token budget, stop strings) and what comes back (the text, token counts,
//! prefill and decode times, why it stopped).

use super::{ModelError, ModelInfo};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Who says a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Instructions for the model.
    System,
    /// The asker.
    User,
    /// The model.
    Assistant,
}

impl Role {
    /// The role's name in chat templates.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One message of a chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Who says it.
    pub role: Role,
    /// What is said.
    pub content: String,
}

impl ChatMessage {
    /// A message.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
}

/// How the next token is picked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sampling {
    /// 0 picks the likeliest token every time (greedy, deterministic).
    pub temperature: f64,
    /// Keep only the `k` likeliest tokens, when set.
    pub top_k: Option<usize>,
    /// Keep the likeliest tokens whose probabilities add up to `p`, when set.
    pub top_p: Option<f64>,
    /// The random seed: the same seed and request give the same text.
    pub seed: u64,
}

impl Default for Sampling {
    /// Greedy.
    fn default() -> Self {
        Self {
            temperature: 0.0,
            top_k: None,
            top_p: None,
            seed: 0,
        }
    }
}

/// A request to a [`Generator`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerateRequest {
    /// The chat so far; the model answers as the assistant.
    pub messages: Vec<ChatMessage>,
    /// The most tokens to generate (the budget).
    pub max_tokens: usize,
    /// How tokens are picked.
    pub sampling: Sampling,
    /// Generation stops before any of these strings.
    pub stop: Vec<String>,
}

impl GenerateRequest {
    /// One user message, greedy, with a budget of `max_tokens`.
    pub fn user(content: impl Into<String>, max_tokens: usize) -> Self {
        Self {
            messages: vec![ChatMessage::new(Role::User, content)],
            max_tokens,
            sampling: Sampling::default(),
            stop: Vec::new(),
        }
    }
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Finish {
    /// The model ended its turn, or a stop string came.
    Stop,
    /// The token budget (or the model's context) ran out.
    Length,
}

/// What a [`Generator`] produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generation {
    /// The text, without the prompt or the end-of-turn token.
    pub text: String,
    /// The generated token ids, in order.
    pub tokens: Vec<u32>,
    /// Tokens in the prompt.
    pub prompt_tokens: usize,
    /// Why it stopped.
    pub finish: Finish,
    /// The time to process the prompt.
    pub prefill: Duration,
    /// The time to generate the tokens after the first.
    pub decode: Duration,
}

impl Generation {
    /// Prompt tokens per second.
    pub fn prefill_tokens_per_s(&self) -> f64 {
        self.prompt_tokens as f64 / self.prefill.as_secs_f64().max(1e-9)
    }

    /// Generated tokens per second, after the first.
    pub fn decode_tokens_per_s(&self) -> f64 {
        self.tokens.len().saturating_sub(1) as f64 / self.decode.as_secs_f64().max(1e-9)
    }
}

/// Generates text from a chat.
pub trait Generator: Send + Sync + std::fmt::Debug {
    /// What this generator is.
    fn info(&self) -> &ModelInfo;

    /// Answers the chat as the assistant, within the request's budget.
    ///
    /// # Errors
    /// If the prompt does not fit the model's context, or the model fails.
    fn generate(&self, request: &GenerateRequest) -> Result<Generation, ModelError>;
}
