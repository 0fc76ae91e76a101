//! What a run records when it consults a model: each question asked, the answer, what was
//! proposed, and what became of it (applied, kept, refused with the reason, or no model).
//!
//! A run consults a model only when one is configured for it; these records are how its
//! report says whether a model took part, and how far to trust what it did.

use serde::{Deserialize, Serialize};

/// What a model was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// A command that fixes a failure the rule catalogue does not know.
    Fix,
    /// The start command, read from the README.
    StartCommand,
}

impl std::fmt::Display for Purpose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Purpose::Fix => "fix",
            Purpose::StartCommand => "start command",
        })
    }
}

/// What became of a model's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum Verdict {
    /// The proposed command passed the checks and was run.
    Applied,
    /// The proposed fact was kept, with the evidence it cited.
    Kept,
    /// The proposal failed a check; nothing was done with it.
    Refused {
        /// Which check, and why.
        reason: String,
    },
    /// The proposed command passed the checks, ran, and failed.
    Failed {
        /// How it ended: the exit code and its last line.
        reason: String,
    },
    /// The answer held no proposal in the form asked for.
    NoProposal,
    /// No model answered: none is installed, the tier allows none, or it failed.
    Unavailable {
        /// Why, with every option passed over.
        reason: String,
    },
}

/// One question put to a model, and what became of the answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consultation {
    /// What it was asked for.
    pub purpose: Purpose,
    /// The model configured for the run.
    pub model: String,
    /// Where it ran: `cpu`, `cuda:0`, or `rules` when none did.
    pub backend: String,
    /// The phase whose failure it was asked about, for a fix.
    pub phase: Option<String>,
    /// Its answer, cut to [`ANSWER_LIMIT`] characters.
    pub answer: String,
    /// What it proposed, as read from the answer.
    pub proposal: Option<String>,
    /// What became of it.
    pub verdict: Verdict,
    /// Tokens in the prompt.
    pub prompt_tokens: u32,
    /// Tokens it generated.
    pub tokens: u32,
    /// How long it took, in ms.
    pub ms: u64,
}

/// The most characters of an answer a record keeps.
pub const ANSWER_LIMIT: usize = 600;

impl Consultation {
    /// A question no model answered, with the reason.
    pub fn unavailable(purpose: Purpose, model: &str, phase: Option<&str>, reason: String) -> Self {
        Self {
            purpose,
            model: model.to_string(),
            backend: "rules".into(),
            phase: phase.map(str::to_string),
            answer: String::new(),
            proposal: None,
            verdict: Verdict::Unavailable { reason },
            prompt_tokens: 0,
            tokens: 0,
            ms: 0,
        }
    }

    /// Whether a model answered (whatever became of the answer).
    pub fn answered(&self) -> bool {
        !matches!(self.verdict, Verdict::Unavailable { .. })
    }
}

/// Cuts `text` to at most [`ANSWER_LIMIT`] characters, on a character boundary.
pub fn clip_answer(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(ANSWER_LIMIT) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_clipped_on_char_boundaries() {
        let long = "é".repeat(ANSWER_LIMIT + 5);
        let clipped = clip_answer(&long);
        assert_eq!(clipped.chars().count(), ANSWER_LIMIT + 1);
        assert!(clipped.ends_with('…'));
        assert_eq!(clip_answer("  short \n"), "short");
    }

    #[test]
    fn an_unavailable_model_did_not_answer() {
        let c = Consultation::unavailable(Purpose::Fix, "m", Some("health"), "none".into());
        assert!(!c.answered());
        assert_eq!(c.backend, "rules");
    }
}
