//! Workflows: named lists of phases that a run executes in order, checkpointing each.
//!
//! A phase gets the run's input and the outputs of the phases before it, does its work
//! (usually by asking agents), and returns its output as JSON. The orchestrator that drives
//! a run checkpoints each phase as it starts and ends, so a run cut off mid-phase repeats
//! only that phase when it resumes. Phases must therefore be safe to repeat.

use reporunner_protocols::ids::RunId;
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

/// What a phase is given.
#[derive(Debug, Clone)]
pub struct PhaseContext {
    /// The run.
    pub run: RunId,
    /// The run's input.
    pub input: serde_json::Value,
    /// The outputs of the phases that succeeded before this one, by phase name.
    pub outputs: BTreeMap<String, serde_json::Value>,
    /// This phase's attempt, counting from 1: more than 1 after a crash or a retry.
    pub attempt: u32,
}

/// Why a phase failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PhaseError {
    /// What went wrong, for the run's record.
    pub message: String,
}

impl PhaseError {
    /// A phase error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

/// The future a phase returns.
pub type PhaseFuture<'a> =
    Pin<Box<dyn Future<Output = Result<serde_json::Value, PhaseError>> + Send + 'a>>;

/// One phase of a workflow.
pub trait Phase: Send + Sync + 'static {
    /// The phase's name, unique in its workflow and stable across versions: checkpoints
    /// refer to phases by it.
    fn name(&self) -> &str;

    /// Runs the phase.
    fn run<'a>(&'a self, ctx: &'a PhaseContext) -> PhaseFuture<'a>;
}

/// A named list of phases.
#[derive(Clone)]
pub struct Workflow {
    name: String,
    phases: Vec<Arc<dyn Phase>>,
}

impl fmt::Debug for Workflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Workflow")
            .field("name", &self.name)
            .field("phases", &self.phase_names())
            .finish()
    }
}

impl Workflow {
    /// A workflow of `phases`, run in order.
    pub fn new(name: impl Into<String>, phases: Vec<Arc<dyn Phase>>) -> Self {
        Self {
            name: name.into(),
            phases,
        }
    }

    /// Returns its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Returns its phases in order.
    pub fn phases(&self) -> &[Arc<dyn Phase>] {
        &self.phases
    }

    /// Returns its phases' names in order.
    pub fn phase_names(&self) -> Vec<String> {
        self.phases.iter().map(|p| p.name().to_string()).collect()
    }
}

/// The workflows runs can execute. Clones share one registry.
#[derive(Clone, Default)]
pub struct WorkflowRegistry {
    workflows: Arc<RwLock<BTreeMap<String, Workflow>>>,
}

impl fmt::Debug for WorkflowRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

impl WorkflowRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a workflow, replacing one of the same name.
    pub fn register(&self, workflow: Workflow) {
        self.workflows
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(workflow.name.clone(), workflow);
    }

    /// Returns the workflow named `name`.
    pub fn get(&self, name: &str) -> Option<Workflow> {
        self.workflows
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// Returns the registered names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.workflows
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect()
    }
}
