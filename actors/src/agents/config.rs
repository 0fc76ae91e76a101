//! The Config agent: finds a repository's environment variables and env files, as its part of an analysis. It is a
//! [`PassAgent`](super::pass::PassAgent) over the config concern.

use crate::analysis::Concerns;
use reporunner_runtime::kinds::AgentKind;

/// The kind name the Config agent is registered under.
pub const KIND: &str = "config";

/// The Config agent's kind, for the kind registry.
pub fn kind() -> AgentKind {
    super::pass::kind(
        KIND,
        "finds a repository's environment variables and env files",
        Concerns::CONFIG,
    )
}
