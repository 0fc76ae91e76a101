//! Workflows: named lists of phases that a run executes in order, checkpointing each.
//!
//! A phase gets the run's input and the outputs of the phases before it, does its work
//! (usually by asking agents), and returns its output as JSON. The orchestrator that drives
//! a run checkpoints each phase as it starts and ends, so a run cut off mid-phase repeats
//! only that phase when it resumes. Phases must therefore be safe to repeat.

use reporunner_protocols::assist::Consultation;
use reporunner_protocols::ids::RunId;
use reporunner_protocols::repair::RepairRecord;
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
    /// The repairs applied so far, in order: the fixes the phase must honour.
    pub repairs: Vec<RepairRecord>,
    /// The questions put to a model so far: the repairer's budget and loop detection.
    pub consultations: Vec<Consultation>,
}

/// Why a phase failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct PhaseError {
    /// What went wrong, for the run's record.
    pub message: String,
    /// The output lines that show the failure, for the workflow's [`Repairer`].
    pub lines: Vec<String>,
    /// What the phase found before it failed, kept as the phase's output in the record.
    pub detail: Option<serde_json::Value>,
    /// Whether the failure was not the project's (an agent crashed mid-request), so the
    /// phase runs again as it was.
    pub retry: bool,
}

impl PhaseError {
    /// A phase error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            lines: Vec::new(),
            detail: None,
            retry: false,
        }
    }

    /// A failure that is not the project's: the phase is tried again.
    pub fn transient(message: impl Into<String>) -> Self {
        Self {
            retry: true,
            ..Self::new(message)
        }
    }

    /// Adds the output lines that show the failure.
    pub fn with_lines(mut self, lines: Vec<String>) -> Self {
        self.lines = lines;
        self
    }

    /// Adds what the phase found before it failed.
    pub fn with_detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = Some(detail);
        self
    }
}

/// What a repairer decided for a failed phase: a fix, or none left, and the questions it
/// put to a model on the way (recorded in the run either way).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Repair {
    /// The fix, as the run records it; `None` when the failure has no fix left.
    pub record: Option<RepairRecord>,
    /// The questions put to a model while deciding.
    pub consultations: Vec<Consultation>,
}

impl Repair {
    /// No fix, and no model asked.
    pub fn none() -> Self {
        Self::default()
    }

    /// The fix `record`.
    pub fn fix(record: RepairRecord) -> Self {
        Self {
            record: Some(record),
            consultations: Vec::new(),
        }
    }
}

/// The future a repairer returns.
pub type RepairFuture<'a> = Pin<Box<dyn Future<Output = Repair> + Send + 'a>>;

/// Reads a failed phase and decides a fix. The orchestrator records it and goes back to
/// the phase the record names, which (with the phases after it) runs again honouring the
/// fix.
pub trait Repairer: Send + Sync + 'static {
    /// Decides a repair for `error`, the failure of `phase`; `ctx` holds the repairs
    /// already applied, for budgets and loop detection.
    fn repair<'a>(
        &'a self,
        ctx: &'a PhaseContext,
        phase: &'a str,
        error: &'a PhaseError,
    ) -> RepairFuture<'a>;
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
    repairer: Option<Arc<dyn Repairer>>,
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
            repairer: None,
        }
    }

    /// Gives the workflow a repairer, asked whenever a phase fails.
    pub fn with_repairer(mut self, repairer: Arc<dyn Repairer>) -> Self {
        self.repairer = Some(repairer);
        self
    }

    /// Returns its repairer.
    pub fn repairer(&self) -> Option<&Arc<dyn Repairer>> {
        self.repairer.as_ref()
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

    /// A workflow of some of this one's phases, in this one's order, with its repairer:
    /// how a business client runs its own list of the registered phases.
    ///
    /// # Errors
    /// A name that is not one of its phases, one named twice, one out of order, or none.
    pub fn subset(&self, phases: &[String]) -> Result<Workflow, String> {
        if phases.is_empty() {
            return Err("a workflow needs at least one phase".into());
        }
        let mut picked: Vec<Arc<dyn Phase>> = Vec::with_capacity(phases.len());
        let mut last: Option<usize> = None;
        for name in phases {
            let Some(at) = self.phases.iter().position(|p| p.name() == name) else {
                return Err(format!(
                    "{name:?} is not a phase of the {} workflow; its phases are {}",
                    self.name,
                    self.phase_names().join(", ")
                ));
            };
            if last.is_some_and(|l| at <= l) {
                return Err(format!(
                    "{name:?} is named twice or out of order; the {} workflow's order is {}",
                    self.name,
                    self.phase_names().join(", ")
                ));
            }
            last = Some(at);
            picked.push(self.phases[at].clone());
        }
        Ok(Workflow {
            name: self.name.clone(),
            phases: picked,
            repairer: self.repairer.clone(),
        })
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
