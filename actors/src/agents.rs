//! The agents: actors that do the work, spawned at runtime by kind under the
//! AgentSupervisor. [`builtin_kinds`] registers the kinds Repo Runner ships.

pub mod config;
pub mod context_indexer;
pub mod database;
pub mod dependency;
pub mod detection;
pub mod env_detector;
pub mod file;
pub mod fixer;
pub mod health;
pub mod inference;
pub mod node_host;
pub mod pass;
pub mod requirements;
pub mod runner;
pub mod setup;
pub mod stage;
pub mod test_runner;

pub use env_detector::{EnvDetector, EnvDetectorConfig};

/// The configuration of agents that take none: `{}` or nothing, and no unknown fields.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoConfig {}

use reporunner_runtime::kinds::{KindError, KindRegistry};

/// Registers every agent kind Repo Runner ships in `registry`.
///
/// # Errors
/// [`KindError::Duplicate`] if one of them is already registered.
pub fn register_builtin_kinds(registry: &KindRegistry) -> Result<(), KindError> {
    registry.register(env_detector::kind())?;
    registry.register(detection::kind())?;
    registry.register(requirements::kind())?;
    registry.register(config::kind())?;
    registry.register(database::kind())?;
    registry.register(dependency::kind())?;
    registry.register(setup::kind())?;
    registry.register(runner::kind())?;
    registry.register(health::kind())?;
    registry.register(fixer::kind())?;
    registry.register(test_runner::kind())?;
    registry.register(node_host::kind())?;
    registry.register(inference::kind())?;
    registry.register(file::kind())?;
    registry.register(context_indexer::kind())?;
    Ok(())
}

/// A registry holding the kinds Repo Runner ships.
pub fn builtin_kinds() -> KindRegistry {
    let registry = KindRegistry::new();
    register_builtin_kinds(&registry).expect("an empty registry has no duplicates");
    registry
}
