//! Identifiers: [`NodeId`], [`AgentId`] and [`RunId`].
//!
//! All three are strings on the wire, so they read well in logs, in the store and in the
//! API, and so they survive a restart (a ractor `ActorId` does not: a restarted actor gets a
//! new one, which is why actors are addressed by these logical ids instead).

use serde::{Deserialize, Serialize};
use std::fmt;

/// The longest id accepted by [`AgentId::parse`].
pub const MAX_ID_LEN: usize = 128;

/// Why a string is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// The id was empty.
    #[error("an id cannot be empty")]
    Empty,
    /// The id was longer than [`MAX_ID_LEN`].
    #[error("id is {len} characters long, the limit is {MAX_ID_LEN}")]
    TooLong {
        /// Its length in characters.
        len: usize,
    },
    /// The id held a character outside `[A-Za-z0-9._-]`.
    #[error("id {id:?} holds {ch:?}: use letters, digits, '.', '_' and '-'")]
    BadChar {
        /// The id.
        id: String,
        /// The first offending character.
        ch: char,
    },
}

fn validate(s: &str) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty);
    }
    let len = s.chars().count();
    if len > MAX_ID_LEN {
        return Err(IdError::TooLong { len });
    }
    if let Some(ch) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(IdError::BadChar {
            id: s.to_string(),
            ch,
        });
    }
    Ok(())
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a string without checking it. Use [`Self::parse`] for input from users
            /// or peers.
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// Checks that `id` is 1 to [`MAX_ID_LEN`] characters of `[A-Za-z0-9._-]`.
            ///
            /// # Errors
            /// An [`IdError`] saying what is wrong with it.
            pub fn parse(id: &str) -> Result<Self, IdError> {
                validate(id)?;
                Ok(Self(id.to_string()))
            }

            /// Returns the id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(
    /// The name of a node in a cluster, such as `head` or `gpu-1`. Unique in its cluster.
    NodeId
);
string_id!(
    /// The logical name of an agent or manager, unique on its node. It stays the same across
    /// restarts: callers look the actor up by it rather than keeping an `ActorRef`.
    AgentId
);
string_id!(
    /// The id of one run of a repository: `run-` then the start time and a random suffix, so
    /// ids sort by start time.
    RunId
);

impl RunId {
    /// Builds a run id from its start time in milliseconds since the Unix epoch and a random
    /// number, as `run-<13 hex digits of time>-<8 hex digits of random>`.
    pub fn from_parts(unix_ms: u64, random: u32) -> Self {
        Self(format!("run-{unix_ms:013x}-{random:08x}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_names_and_refuses_the_rest() {
        assert!(AgentId::parse("env-detector.1_a").is_ok());
        assert_eq!(AgentId::parse(""), Err(IdError::Empty));
        assert!(matches!(
            AgentId::parse("a/b"),
            Err(IdError::BadChar { ch: '/', .. })
        ));
        assert!(matches!(
            NodeId::parse(&"x".repeat(MAX_ID_LEN + 1)),
            Err(IdError::TooLong { .. })
        ));
    }

    #[test]
    fn run_ids_sort_by_time() {
        let a = RunId::from_parts(1_700_000_000_000, 0xffff_ffff);
        let b = RunId::from_parts(1_700_000_000_001, 0);
        assert!(a < b);
        assert!(RunId::parse(a.as_str()).is_ok());
    }
}
