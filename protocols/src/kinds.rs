//! Descriptors of agent kinds: what the Admin can spawn, and what each kind needs.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// When a supervisor restarts a child, as in Erlang/OTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestartType {
    /// Always restarted, whether it failed or stopped normally.
    Permanent,
    /// Restarted only when it fails (a panic, an error, or a stop with an abnormal reason).
    Transient,
    /// Never restarted; removed from its supervisor when it exits.
    Temporary,
}

impl std::fmt::Display for RestartType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RestartType::Permanent => "permanent",
            RestartType::Transient => "transient",
            RestartType::Temporary => "temporary",
        })
    }
}

/// What an agent kind needs from the node it runs on. Placement fits these to nodes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentNeeds {
    /// It needs a GPU.
    pub gpu: bool,
    /// The least GPU memory it needs, in MiB; 0 when any will do.
    pub min_vram_mib: u64,
    /// The model it needs loaded, if any.
    pub model: Option<String>,
    /// Node labels that must match exactly, such as `zone=eu`.
    pub labels: BTreeMap<String, String>,
}

/// The public description of an agent kind in the kind registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentKindDescriptor {
    /// The kind's name, as given in `SpawnAgent { kind, .. }`.
    pub name: String,
    /// One line on what agents of this kind do.
    pub description: String,
    /// The restart type its agents get.
    pub restart: RestartType,
    /// What its agents need from a node.
    pub needs: AgentNeeds,
}
