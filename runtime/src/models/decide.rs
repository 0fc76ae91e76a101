//! Choosing one of several options: the [`Decider`] trait and its backends.
//!
//! - [`RulesDecider`] takes the options as the rules ranked them and picks the first: no
//!   model, and the default.
//! - [`EmbeddingDecider`] picks the option closest in meaning to the situation, with any
//!   [`Embedder`] (all-MiniLM-L6-v2 with candle, or the hashing stand-in).
//! - [`GeneratorDecider`] asks a [`Generator`] for the option's number, and when the answer
//!   is not one of the numbers, falls back to the rules and says so.
//!
//! Every decision says which backend made it and why, so a report can show whether a model
//! took part.

use super::generate::{ChatMessage, GenerateRequest, Generator, Role, Sampling};
use super::{Backend, Embedder, ModelError, ModelInfo, cosine};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A choice to make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    /// What is decided, such as "Which command starts the service?".
    pub question: String,
    /// The situation: the error, the files, what is known.
    pub context: String,
    /// The options, best first as the rules rank them. At least one.
    pub options: Vec<String>,
}

/// What was decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// The option chosen, as an index into [`Question::options`].
    pub index: usize,
    /// Which backend chose: a model's name, or `rules`.
    pub by: String,
    /// Why, in words.
    pub reason: String,
}

/// Chooses one of a question's options.
pub trait Decider: Send + Sync + std::fmt::Debug {
    /// What this decider is.
    fn info(&self) -> &ModelInfo;

    /// Chooses an option of `question`.
    ///
    /// # Errors
    /// [`ModelError::Inference`] when the question has no options, or the model fails.
    fn decide(&self, question: &Question) -> Result<Decision, ModelError>;
}

fn no_options(info: &ModelInfo) -> ModelError {
    ModelError::Inference {
        model: info.name.clone(),
        reason: "the question has no options".into(),
    }
}

/// Picks the option the rules ranked first. Needs no model.
#[derive(Debug, Clone)]
pub struct RulesDecider {
    info: ModelInfo,
}

impl Default for RulesDecider {
    fn default() -> Self {
        Self {
            info: ModelInfo {
                name: "rules".into(),
                backend: Backend::Rules,
                source: None,
            },
        }
    }
}

impl Decider for RulesDecider {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn decide(&self, question: &Question) -> Result<Decision, ModelError> {
        if question.options.is_empty() {
            return Err(no_options(&self.info));
        }
        Ok(Decision {
            index: 0,
            by: "rules".into(),
            reason: "the rules rank it first".into(),
        })
    }
}

/// Picks the option whose embedding is closest to the question and its context.
#[derive(Debug, Clone)]
pub struct EmbeddingDecider {
    embedder: Arc<dyn Embedder>,
}

impl EmbeddingDecider {
    /// A decider over `embedder`.
    pub fn new(embedder: Arc<dyn Embedder>) -> Self {
        Self { embedder }
    }
}

impl Decider for EmbeddingDecider {
    fn info(&self) -> &ModelInfo {
        self.embedder.info()
    }

    fn decide(&self, question: &Question) -> Result<Decision, ModelError> {
        if question.options.is_empty() {
            return Err(no_options(self.info()));
        }
        let situation = format!("{}\n{}", question.question, question.context);
        let mut texts: Vec<&str> = vec![situation.as_str()];
        texts.extend(question.options.iter().map(String::as_str));
        let vectors = self.embedder.embed(&texts)?;
        let (index, score) = vectors[1..]
            .iter()
            .map(|v| cosine(&vectors[0], v))
            .enumerate()
            // The first of equals: the rules' order breaks ties.
            .fold(
                (0, f32::MIN),
                |best, (i, s)| {
                    if s > best.1 { (i, s) } else { best }
                },
            );
        Ok(Decision {
            index,
            by: self.info().name.clone(),
            reason: format!("closest in meaning to the situation (cosine {score:.3})"),
        })
    }
}

/// Asks a generator for the number of the option, with the rules to fall back on.
#[derive(Debug, Clone)]
pub struct GeneratorDecider {
    generator: Arc<dyn Generator>,
    rules: RulesDecider,
}

impl GeneratorDecider {
    /// A decider over `generator`.
    pub fn new(generator: Arc<dyn Generator>) -> Self {
        Self {
            generator,
            rules: RulesDecider::default(),
        }
    }

    /// The request that asks for the option's number.
    pub fn request(question: &Question) -> GenerateRequest {
        let options: String = question
            .options
            .iter()
            .enumerate()
            .map(|(i, o)| format!("{}. {o}\n", i + 1))
            .collect();
        GenerateRequest {
            messages: vec![
                ChatMessage::new(
                    Role::System,
                    "You choose one option. You answer with its number only.",
                ),
                ChatMessage::new(
                    Role::User,
                    format!(
                        "{}\n\nSituation:\n{}\n\nOptions:\n{options}\nAnswer with the number of the best option.",
                        question.question, question.context
                    ),
                ),
            ],
            max_tokens: 6,
            sampling: Sampling::default(),
            stop: vec!["\n".into()],
        }
    }
}

/// The first number in `answer`, as an index into `n` options (answers count from 1).
pub fn read_choice(answer: &str, n: usize) -> Option<usize> {
    let digits: String = answer
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect();
    let k: usize = digits.parse().ok()?;
    (1..=n).contains(&k).then(|| k - 1)
}

impl Decider for GeneratorDecider {
    fn info(&self) -> &ModelInfo {
        self.generator.info()
    }

    fn decide(&self, question: &Question) -> Result<Decision, ModelError> {
        if question.options.is_empty() {
            return Err(no_options(self.info()));
        }
        let answer = self.generator.generate(&Self::request(question))?;
        match read_choice(&answer.text, question.options.len()) {
            Some(index) => Ok(Decision {
                index,
                by: self.info().name.clone(),
                reason: format!("the model answered {:?}", answer.text.trim()),
            }),
            None => {
                let mut d = self.rules.decide(question)?;
                d.reason = format!(
                    "the model answered {:?}, which is no option's number; {}",
                    answer.text.trim(),
                    d.reason
                );
                Ok(d)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::hashing::HashingEmbedder;

    fn question() -> Question {
        Question {
            question: "Which service does this error need?".into(),
            context: "connection refused to the postgres database on port 5432".into(),
            options: vec![
                "redis key value cache".into(),
                "postgres database server".into(),
                "rabbitmq message broker".into(),
            ],
        }
    }

    #[test]
    fn rules_pick_the_first_and_refuse_no_options() {
        let d = RulesDecider::default().decide(&question()).unwrap();
        assert_eq!((d.index, d.by.as_str()), (0, "rules"));
        let mut q = question();
        q.options.clear();
        assert!(RulesDecider::default().decide(&q).is_err());
    }

    #[test]
    fn embeddings_pick_the_option_closest_in_meaning() {
        let d = EmbeddingDecider::new(Arc::new(HashingEmbedder::new(384)))
            .decide(&question())
            .unwrap();
        assert_eq!(d.index, 1, "{d:?}");
        assert!(d.reason.contains("cosine"));
    }

    #[test]
    fn choices_are_read_as_option_numbers() {
        assert_eq!(read_choice("2", 3), Some(1));
        assert_eq!(read_choice("Option 3.", 3), Some(2));
        assert_eq!(read_choice("4", 3), None);
        assert_eq!(read_choice("0", 3), None);
        assert_eq!(read_choice("the second", 3), None);
    }

    #[test]
    fn the_request_numbers_the_options_from_one() {
        let r = GeneratorDecider::request(&question());
        assert!(
            r.messages[1]
                .content
                .contains("2. postgres database server")
        );
        assert_eq!(r.max_tokens, 6);
    }
}
