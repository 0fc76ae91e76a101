//! The Requirements agent: finds a repository's dependencies, runtime versions, package managers and system packages, as its part of an analysis. It is a
//! [`PassAgent`](super::pass::PassAgent) over the requirements concern.

use crate::analysis::Concerns;
use reporunner_runtime::kinds::AgentKind;

/// The kind name the Requirements agent is registered under.
pub const KIND: &str = "requirements";

/// The Requirements agent's kind, for the kind registry.
pub fn kind() -> AgentKind {
    super::pass::kind(
        KIND,
        "finds a repository's dependencies, runtime versions, package managers and system packages",
        Concerns::REQUIREMENTS,
    )
}
