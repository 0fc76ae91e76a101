//! The Database agent: finds a repository's databases, services and migrations, as its part of an analysis. It is a
//! [`PassAgent`](super::pass::PassAgent) over the database concern.

use crate::analysis::Concerns;
use reporunner_runtime::kinds::AgentKind;

/// The kind name the Database agent is registered under.
pub const KIND: &str = "database";

/// The Database agent's kind, for the kind registry.
pub fn kind() -> AgentKind {
    super::pass::kind(
        KIND,
        "finds a repository's databases, services and migrations",
        Concerns::DATABASE,
    )
}
