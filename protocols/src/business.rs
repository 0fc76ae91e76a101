//! Business clients: the seed's "custom orchestrators for business clients". The Admin
//! creates one BusinessOrchestrator per client at runtime; each has its own users, its own
//! store scope (runs, tokens, audit log), and its own workflow: some of the registered
//! phases, with its own tiers, indexer, repository root and limits.

use crate::access::Tier;
use crate::host::IndexerKind;
use serde::{Deserialize, Serialize};

/// Whether `name` may name a client: 1 to 32 of a-z, 0-9 and `-`, starting with a letter.
/// A client's name is part of its tokens (`rr_<client>.<id>_<secret>`) and of its store
/// scope, so it holds neither `_` nor `.`.
pub fn valid_client_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name.as_bytes()[0].is_ascii_lowercase()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The tiers a client's users may hold when its settings name none: every tier but
/// Developer, which controls the node's Admin and is never a client's.
pub const DEFAULT_CLIENT_TIERS: [Tier; 5] = [
    Tier::Free,
    Tier::Advanced,
    Tier::Premium,
    Tier::Tester,
    Tier::Admin,
];

/// A client's own workflow settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientSettings {
    /// The folder the client's repositories are taken from: a request's path is resolved
    /// inside it, and one outside it is refused. Absolute.
    pub repo_root: String,
    /// The tiers its users may hold (never Developer).
    pub tiers: Vec<Tier>,
    /// The context indexer its runs and searches use; none: the one each user's tier
    /// chooses.
    #[serde(default)]
    pub indexer: Option<IndexerKind>,
    /// The phases its runs execute, in the registered workflow's order; empty: all of them.
    #[serde(default)]
    pub phases: Vec<String>,
    /// At most this many requests that do work, an hour, per user (below the tier's own
    /// allowance); none: the tier's.
    #[serde(default)]
    pub requests_per_hour: Option<u32>,
    /// At most this many of its runs going at once; none: no limit of its own.
    #[serde(default)]
    pub max_concurrent_runs: Option<u32>,
}

impl ClientSettings {
    /// Settings with `repo_root` and the defaults: [`DEFAULT_CLIENT_TIERS`], the tier's
    /// indexer, every phase, the tiers' limits.
    pub fn new(repo_root: impl Into<String>) -> Self {
        Self {
            repo_root: repo_root.into(),
            tiers: DEFAULT_CLIENT_TIERS.to_vec(),
            indexer: None,
            phases: Vec::new(),
            requests_per_hour: None,
            max_concurrent_runs: None,
        }
    }
}

/// A request to create a client's orchestrator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientSpec {
    /// The client's name ([`valid_client_name`]).
    pub name: String,
    /// Its settings.
    pub settings: ClientSettings,
}

/// A client as the Admin shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientInfo {
    /// Its name.
    pub name: String,
    /// Its settings, as its orchestrator holds them (the phases written out in full).
    pub settings: ClientSettings,
    /// When it was created, in ms since the Unix epoch.
    pub created_ms: u64,
    /// The registered name of its orchestrator.
    pub orchestrator: String,
    /// Whether its orchestrator is running now.
    pub running: bool,
}

/// A client's orchestrator checkpoint (`business_<client>`): what a restarted head brings
/// back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusinessCheckpoint {
    /// The client and its settings.
    pub spec: ClientSpec,
    /// When it was created, in ms since the Unix epoch.
    pub created_ms: u64,
}

impl crate::record::Record for BusinessCheckpoint {
    const KIND: &'static str = "business";
    const VERSION: u16 = 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_names_cannot_hold_what_tokens_and_scopes_split_on() {
        for ok in ["acme", "globex-2", "a"] {
            assert!(valid_client_name(ok), "{ok}");
        }
        for bad in [
            "",
            "Acme",
            "a_b",
            "a.b",
            "2acme",
            "-a",
            "a/b",
            &"a".repeat(33),
        ] {
            assert!(!valid_client_name(bad), "{bad:?}");
        }
    }
}
