//! Runs: their records at rest, their events, and the OrchestratorManager's messages.
//!
//! A run is one execution of a workflow (a list of phases) on an input. Its
//! [`RunRecord`] is checkpointed as each phase starts and ends, so a run whose process died
//! continues after its last finished phase.

use crate::codec::{Wire, WireError};
use crate::ids::RunId;
use crate::record::Record;
use ractor::{ActorRef, RpcReplyPort, rpc::CallResult};
use ractor_cluster_derive::RactorClusterMessage;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// An orchestrator is driving it.
    Running,
    /// Every phase succeeded.
    Succeeded,
    /// A phase failed.
    Failed,
    /// Its process died while it ran, and it was not resumed.
    Interrupted,
    /// It was stopped on request.
    Stopped,
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Stopped => "stopped",
        })
    }
}

/// Where a phase stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseStatus {
    /// Started and not finished: if the run is not running, it was cut off.
    Running,
    /// Finished with a result.
    Succeeded,
    /// Finished with an error.
    Failed,
}

impl std::fmt::Display for PhaseStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PhaseStatus::Running => "running",
            PhaseStatus::Succeeded => "succeeded",
            PhaseStatus::Failed => "failed",
        })
    }
}

/// One phase of a run, as checkpointed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseRecord {
    /// The phase's name in its workflow.
    pub name: String,
    /// Where it stands.
    pub status: PhaseStatus,
    /// How many times it has been started.
    pub attempts: u32,
    /// When the last attempt started, in ms since the Unix epoch.
    pub started_ms: u64,
    /// When the last attempt finished, if it did.
    pub finished_ms: Option<u64>,
    /// The result, as JSON, once it succeeded.
    pub output_json: Option<String>,
    /// The error, once it failed.
    pub error: Option<String>,
}

/// A run, as checkpointed in the `runs` tree under its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Its id.
    pub id: RunId,
    /// The workflow it executes.
    pub workflow: String,
    /// Its input, as JSON (for a repository run: the path and options).
    pub input_json: String,
    /// Where it stands.
    pub status: RunStatus,
    /// When it was created, in ms since the Unix epoch.
    pub created_ms: u64,
    /// When it last changed.
    pub updated_ms: u64,
    /// Its phases so far, in the order they first started.
    pub phases: Vec<PhaseRecord>,
    /// Why it failed or stopped, when it did.
    pub error: Option<String>,
    /// How many times it has been resumed.
    pub resumes: u32,
    /// The repairs it attempted, in order. Absent from records written before repairs
    /// existed, which read as none: old and new readers both absorb the field.
    #[serde(default)]
    pub repairs: Vec<crate::repair::RepairRecord>,
    /// Phases that ran and were then sent back by a repair, in the order they were: their
    /// time and results are part of the run's history, not of its outcome.
    #[serde(default)]
    pub superseded: Vec<PhaseRecord>,
    /// The questions put to a model while repairing, in order (none unless a model is
    /// configured for the run).
    #[serde(default)]
    pub consultations: Vec<crate::assist::Consultation>,
}

impl Record for RunRecord {
    const KIND: &'static str = "run";
    const VERSION: u16 = 1;
}

impl RunRecord {
    /// Returns the phase named `name`.
    pub fn phase(&self, name: &str) -> Option<&PhaseRecord> {
        self.phases.iter().find(|p| p.name == name)
    }
}

/// What happened to a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunEventKind {
    /// The run was created.
    Created,
    /// A phase started (its attempt number counts from 1).
    PhaseStarted {
        /// The phase.
        phase: String,
        /// Its attempt.
        attempt: u32,
    },
    /// A phase finished.
    PhaseFinished {
        /// The phase.
        phase: String,
        /// How it ended.
        status: PhaseStatus,
    },
    /// The run was resumed.
    Resumed,
    /// The run was found cut off by a dead process and marked interrupted.
    Interrupted,
    /// The Fixer applied a fix; the run goes back to an earlier phase.
    Repaired {
        /// The failure class, such as `F3`.
        class: String,
        /// The phase it goes back to.
        redo_from: String,
    },
    /// The run ended.
    Finished {
        /// How it ended.
        status: RunStatus,
    },
}

/// One event of a run, stored in the `run_events` tree under `<run id>/<seq>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunEvent {
    /// The run.
    pub run: RunId,
    /// Its sequence number, increasing across the run's lifetime.
    pub seq: u64,
    /// When it happened, in ms since the Unix epoch.
    pub at_ms: u64,
    /// What happened.
    pub kind: RunEventKind,
    /// A line for people.
    pub message: String,
}

impl Record for RunEvent {
    const KIND: &'static str = "run_event";
    const VERSION: u16 = 1;
}

/// A request to start a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartRunRequest {
    /// The workflow to execute.
    pub workflow: String,
    /// Its input, as JSON.
    pub input_json: String,
}

/// Why a run request failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// No workflow of that name is registered.
    #[error("unknown workflow {name:?}; registered workflows: {known:?}")]
    UnknownWorkflow {
        /// The workflow asked for.
        name: String,
        /// The registered ones.
        known: Vec<String>,
    },
    /// No run has that id.
    #[error("no run {id}")]
    NotFound {
        /// The id asked for.
        id: String,
    },
    /// The run is being driven already.
    #[error("run {id} is already running")]
    AlreadyRunning {
        /// The run.
        id: String,
    },
    /// The run finished successfully; there is nothing to resume.
    #[error("run {id} already succeeded")]
    AlreadySucceeded {
        /// The run.
        id: String,
    },
    /// The run is not running, so there is nothing to stop.
    #[error("run {id} is not running: it {status}")]
    NotRunning {
        /// The run.
        id: String,
        /// How it stands.
        status: RunStatus,
    },
    /// Runs need a store, and this node has none.
    #[error("this node has no data directory, so it cannot keep runs")]
    NoStore,
    /// The store failed.
    #[error("store: {reason}")]
    Store {
        /// What it reported.
        reason: String,
    },
    /// The input was refused.
    #[error("invalid input: {reason}")]
    InvalidInput {
        /// Why.
        reason: String,
    },
    /// The request or reply did not survive the wire.
    #[error(transparent)]
    Wire(#[from] WireError),
}

/// The OrchestratorManager's message enum. Variants are wire tags: never rename one.
#[derive(RactorClusterMessage)]
pub enum OrchestratorManagerMessage {
    /// Creates a run and starts its orchestrator.
    #[rpc]
    StartRun(
        Wire<StartRunRequest>,
        RpcReplyPort<Wire<Result<RunId, RunError>>>,
    ),
    /// Continues a run after its last finished phase.
    #[rpc]
    ResumeRun(Wire<RunId>, RpcReplyPort<Wire<Result<(), RunError>>>),
    /// Stops a running run.
    #[rpc]
    StopRun(Wire<RunId>, RpcReplyPort<Wire<Result<(), RunError>>>),
    /// Returns one run.
    #[rpc]
    GetRun(Wire<RunId>, RpcReplyPort<Wire<Result<RunRecord, RunError>>>),
    /// Returns every run, newest first.
    #[rpc]
    GetRuns(RpcReplyPort<Wire<Result<Vec<RunRecord>, RunError>>>),
    /// A restart of an orchestrator whose backoff has passed.
    RestartDue(Wire<crate::admin::RestartDue>),
}

impl std::fmt::Debug for OrchestratorManagerMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OrchestratorManagerMessage::StartRun(..) => "StartRun",
            OrchestratorManagerMessage::ResumeRun(..) => "ResumeRun",
            OrchestratorManagerMessage::StopRun(..) => "StopRun",
            OrchestratorManagerMessage::GetRun(..) => "GetRun",
            OrchestratorManagerMessage::GetRuns(..) => "GetRuns",
            OrchestratorManagerMessage::RestartDue(..) => "RestartDue",
        })
    }
}

/// A typed handle on the OrchestratorManager.
#[derive(Debug, Clone)]
pub struct RunsClient {
    manager: ActorRef<OrchestratorManagerMessage>,
    timeout: Duration,
}

impl RunsClient {
    /// Wraps a reference to the OrchestratorManager, with the Admin's default timeout.
    pub fn new(manager: ActorRef<OrchestratorManagerMessage>) -> Self {
        Self {
            manager,
            timeout: crate::admin::DEFAULT_CALL_TIMEOUT,
        }
    }

    /// Creates a run of `workflow` on `input` and starts it.
    ///
    /// # Errors
    /// The manager's [`RunError`], or [`RunError::Store`] if it did not answer.
    pub async fn start(&self, workflow: &str, input: &str) -> Result<RunId, RunError> {
        let req = StartRunRequest {
            workflow: workflow.to_string(),
            input_json: input.to_string(),
        };
        self.ask(|r| OrchestratorManagerMessage::StartRun(Wire::new(req), r))
            .await?
    }

    /// Continues run `id` after its last finished phase.
    ///
    /// # Errors
    /// As [`RunsClient::start`].
    pub async fn resume(&self, id: &RunId) -> Result<(), RunError> {
        let id = id.clone();
        self.ask(|r| OrchestratorManagerMessage::ResumeRun(Wire::new(id), r))
            .await?
    }

    /// Stops run `id`.
    ///
    /// # Errors
    /// As [`RunsClient::start`].
    pub async fn stop(&self, id: &RunId) -> Result<(), RunError> {
        let id = id.clone();
        self.ask(|r| OrchestratorManagerMessage::StopRun(Wire::new(id), r))
            .await?
    }

    /// Returns run `id`.
    ///
    /// # Errors
    /// As [`RunsClient::start`].
    pub async fn get(&self, id: &RunId) -> Result<RunRecord, RunError> {
        let id = id.clone();
        self.ask(|r| OrchestratorManagerMessage::GetRun(Wire::new(id), r))
            .await?
    }

    /// Returns every run, newest first.
    ///
    /// # Errors
    /// As [`RunsClient::start`].
    pub async fn list(&self) -> Result<Vec<RunRecord>, RunError> {
        self.ask(OrchestratorManagerMessage::GetRuns).await?
    }

    async fn ask<T: Send + 'static>(
        &self,
        build: impl FnOnce(RpcReplyPort<Wire<T>>) -> OrchestratorManagerMessage,
    ) -> Result<T, RunError> {
        let unavailable = |reason: String| RunError::Store {
            reason: format!("the orchestrator manager did not answer: {reason}"),
        };
        match self.manager.call(build, Some(self.timeout)).await {
            Ok(CallResult::Success(w)) => Ok(w.open()?),
            Ok(CallResult::Timeout) => {
                Err(unavailable(format!("timed out after {:?}", self.timeout)))
            }
            Ok(CallResult::SenderError) => Err(unavailable("it dropped the request".into())),
            Err(e) => Err(unavailable(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ractor::Message;

    #[tokio::test]
    async fn every_variant_round_trips() {
        let req = StartRunRequest {
            workflow: "repo".into(),
            input_json: "{}".into(),
        };
        let (tx, _rx) = ractor::concurrency::oneshot();
        let m =
            OrchestratorManagerMessage::StartRun(Wire::new(req.clone()), RpcReplyPort::from(tx));
        match OrchestratorManagerMessage::deserialize(m.serialize().unwrap()).unwrap() {
            OrchestratorManagerMessage::StartRun(w, _) => assert_eq!(w, Wire::Value(req)),
            other => panic!("{other:?}"),
        }
        let id = RunId::from_parts(1, 2);
        for name in ["ResumeRun", "StopRun", "GetRun"] {
            let (tx, _rx) = ractor::concurrency::oneshot();
            let m = match name {
                "ResumeRun" => OrchestratorManagerMessage::ResumeRun(
                    Wire::new(id.clone()),
                    RpcReplyPort::from(tx),
                ),
                "StopRun" => OrchestratorManagerMessage::StopRun(
                    Wire::new(id.clone()),
                    RpcReplyPort::from(tx),
                ),
                _ => {
                    let (tx, _rx) = ractor::concurrency::oneshot();
                    OrchestratorManagerMessage::GetRun(
                        Wire::new(id.clone()),
                        RpcReplyPort::from(tx),
                    )
                }
            };
            let back = OrchestratorManagerMessage::deserialize(m.serialize().unwrap()).unwrap();
            assert_eq!(format!("{back:?}"), name);
        }
        let (tx, _rx) = ractor::concurrency::oneshot();
        let m = OrchestratorManagerMessage::GetRuns(RpcReplyPort::from(tx));
        assert!(matches!(
            OrchestratorManagerMessage::deserialize(m.serialize().unwrap()).unwrap(),
            OrchestratorManagerMessage::GetRuns(_)
        ));
        let due = crate::admin::RestartDue {
            child: "x".into(),
            generation: 9,
        };
        let m = OrchestratorManagerMessage::RestartDue(Wire::new(due.clone()));
        match OrchestratorManagerMessage::deserialize(m.serialize().unwrap()).unwrap() {
            OrchestratorManagerMessage::RestartDue(w) => assert_eq!(w, Wire::Value(due)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn run_records_round_trip_at_rest() {
        let r = RunRecord {
            id: RunId::from_parts(1, 2),
            workflow: "repo".into(),
            input_json: "{\"path\":\"/x\"}".into(),
            status: RunStatus::Running,
            created_ms: 1,
            updated_ms: 2,
            phases: vec![PhaseRecord {
                name: "environment".into(),
                status: PhaseStatus::Succeeded,
                attempts: 1,
                started_ms: 1,
                finished_ms: Some(2),
                output_json: Some("{}".into()),
                error: None,
            }],
            error: None,
            resumes: 0,
            repairs: Vec::new(),
            superseded: Vec::new(),
            consultations: Vec::new(),
        };
        let bytes = crate::record::encode(&r).unwrap();
        assert_eq!(crate::record::decode::<RunRecord>(&bytes).unwrap(), r);
    }
}
