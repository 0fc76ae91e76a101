//! The record the crash test writes, shared by the writer process and the test.

use reporunner_protocols::record::Record;
use serde::{Deserialize, Serialize};

/// One acknowledged write: its number and a payload whose length varies with it, so torn
/// writes of large values would show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CrashRecord {
    /// The write's number.
    pub(crate) n: u64,
    /// `n` repeated, 1 to 4 KiB long.
    pub(crate) payload: String,
}

impl Record for CrashRecord {
    const KIND: &'static str = "crash_record";
    const VERSION: u16 = 1;
}

impl CrashRecord {
    /// The record for write `n`.
    pub(crate) fn new(n: u64) -> Self {
        let unit = format!("{n:x}-");
        let len = 1024 + (n as usize * 7919) % 3072;
        Self {
            n,
            payload: unit.repeat(len / unit.len() + 1)[..len].to_string(),
        }
    }

    /// The record's key.
    pub(crate) fn key(n: u64) -> String {
        format!("w-{n:012}")
    }
}
