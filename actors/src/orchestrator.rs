//! The Orchestrator: drives one run through its workflow's phases, checkpointing each phase
//! as it starts and as it ends.
//!
//! Resuming is the same as starting: the next phase is the first one of the workflow that
//! has not succeeded. A phase found `running` in the checkpoint was cut off (the process
//! died, or this actor panicked and was restarted by the OrchestratorManager), so it runs
//! again, as a new attempt. A phase that keeps crashing fails the run after
//! [`MAX_PHASE_ATTEMPTS`], rather than crash-looping the supervisor.
//!
//! A phase that fails for a reason that is not the project's (an agent it asked crashed
//! mid-request, and was restarted by its supervisor) runs again as it was. A phase that
//! fails for the project's reasons goes to the workflow's repairer: a fix it decides is
//! recorded in the run, and the run goes back to the phase the fix concerns, which runs
//! again with the phases after it. At most [`MAX_REPAIRS`] fixes are applied to a run.

use crate::runs::{RunBook, now_ms};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use ractor_cluster_derive::RactorMessage;
use reporunner_protocols::ids::RunId;
use reporunner_protocols::run::{PhaseRecord, PhaseStatus, RunEventKind, RunRecord, RunStatus};
use reporunner_runtime::workflow::{PhaseContext, PhaseError, Repair, Workflow};
use std::collections::BTreeMap;

/// How many times a phase may start before a run gives up on it.
pub const MAX_PHASE_ATTEMPTS: u32 = 3;

/// How many repairs a run may apply before it gives up.
pub const MAX_REPAIRS: usize = 12;

/// Drives one run. See the module docs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Orchestrator;

/// What an Orchestrator starts with.
#[derive(Debug, Clone)]
pub struct OrchestratorArguments {
    /// The run to drive; its record must exist.
    pub run: RunId,
    /// Its workflow.
    pub workflow: Workflow,
    /// Where its checkpoints go.
    pub book: RunBook,
}

/// An Orchestrator's state.
#[derive(Debug)]
pub struct OrchestratorState {
    workflow: Workflow,
    book: RunBook,
    /// The run as last checkpointed.
    record: RunRecord,
}

/// An Orchestrator's messages: local, sent only to itself.
#[derive(Debug, RactorMessage)]
pub enum OrchestratorMessage {
    /// Runs the next phase, or finishes the run.
    Step,
}

impl Actor for Orchestrator {
    type Msg = OrchestratorMessage;
    type State = OrchestratorState;
    type Arguments = OrchestratorArguments;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        let record = args
            .book
            .load(&args.run)?
            .ok_or_else(|| format!("run {} has no record", args.run))?;
        Ok(OrchestratorState {
            workflow: args.workflow,
            book: args.book,
            record,
        })
    }

    async fn post_start(
        &self,
        myself: ActorRef<Self::Msg>,
        _state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        myself.cast(OrchestratorMessage::Step)?;
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let OrchestratorMessage::Step = message;
        if state.step().await? {
            myself.cast(OrchestratorMessage::Step)?;
        } else {
            myself.stop(Some("normal".to_string()));
        }
        Ok(())
    }
}

impl OrchestratorState {
    /// Runs the next phase. Returns whether there may be another.
    async fn step(&mut self) -> Result<bool, ActorProcessingErr> {
        let record = &mut self.record;
        let Some(phase) = self
            .workflow
            .phases()
            .iter()
            .find(|p| {
                record
                    .phase(p.name())
                    .is_none_or(|r| r.status != PhaseStatus::Succeeded)
            })
            .cloned()
        else {
            record.status = RunStatus::Succeeded;
            record.error = None;
            self.book
                .save(
                    record,
                    vec![(
                        RunEventKind::Finished {
                            status: RunStatus::Succeeded,
                        },
                        "every phase succeeded".into(),
                    )],
                )
                .await?;
            tracing::info!(run = %record.id, "run succeeded");
            return Ok(false);
        };
        let name = phase.name().to_string();
        let previous = record.phase(&name).map_or(0, |p| p.attempts);
        if previous >= MAX_PHASE_ATTEMPTS {
            let error = format!("phase {name} was cut off or crashed {previous} times; giving up");
            self.fail(&name, error, None).await?;
            return Ok(false);
        }
        let attempt = previous + 1;
        let entry = PhaseRecord {
            name: name.clone(),
            status: PhaseStatus::Running,
            attempts: attempt,
            started_ms: now_ms(),
            finished_ms: None,
            output_json: None,
            error: None,
        };
        match record.phases.iter_mut().find(|p| p.name == name) {
            Some(p) => *p = entry,
            None => record.phases.push(entry),
        }
        self.book
            .save(
                record,
                vec![(
                    RunEventKind::PhaseStarted {
                        phase: name.clone(),
                        attempt,
                    },
                    format!("phase {name} started (attempt {attempt})"),
                )],
            )
            .await?;

        let ctx = PhaseContext {
            run: record.id.clone(),
            input: serde_json::from_str(&record.input_json).unwrap_or(serde_json::Value::Null),
            outputs: record
                .phases
                .iter()
                .filter(|p| p.status == PhaseStatus::Succeeded)
                .filter_map(|p| {
                    let v = serde_json::from_str(p.output_json.as_deref()?).ok()?;
                    Some((p.name.clone(), v))
                })
                .collect::<BTreeMap<_, _>>(),
            attempt,
            repairs: record.repairs.clone(),
            consultations: record.consultations.clone(),
        };
        tracing::debug!(run = %ctx.run, phase = %name, attempt, "phase started");
        match phase.run(&ctx).await {
            Ok(output) => {
                let record = &mut self.record;
                if let Some(p) = record.phases.iter_mut().find(|p| p.name == name) {
                    p.status = PhaseStatus::Succeeded;
                    p.finished_ms = Some(now_ms());
                    p.output_json = Some(output.to_string());
                }
                self.book
                    .save(
                        record,
                        vec![(
                            RunEventKind::PhaseFinished {
                                phase: name.clone(),
                                status: PhaseStatus::Succeeded,
                            },
                            format!("phase {name} succeeded"),
                        )],
                    )
                    .await?;
                Ok(true)
            }
            Err(e) if e.retry && attempt < MAX_PHASE_ATTEMPTS => {
                tracing::warn!(run = %ctx.run, phase = %name, error = %e, "phase runs again");
                self.finish_failed(&name, &e, Vec::new()).await?;
                Ok(true)
            }
            Err(e) => {
                let repair = match self.workflow.repairer() {
                    Some(r) if self.record.repairs.len() < MAX_REPAIRS => {
                        r.repair(&ctx, &name, &e).await
                    }
                    _ => Repair::none(),
                };
                self.record.consultations.extend(repair.consultations);
                let Some(record) = repair.record else {
                    self.fail(&name, format!("phase {name} failed: {e}"), e.detail)
                        .await?;
                    return Ok(false);
                };
                let redo_from = record.redo_from.clone();
                let event = (
                    RunEventKind::Repaired {
                        class: record.class.code().to_string(),
                        redo_from: redo_from.clone(),
                    },
                    format!(
                        "{} in phase {name}: {} (\"{}\"); back to phase {redo_from}",
                        record.class.code(),
                        record.fix,
                        record.evidence
                    ),
                );
                tracing::info!(run = %ctx.run, phase = %name, fix = %record.fix, "repair");
                self.record.repairs.push(record);
                // The phase the fix concerns, and every phase after it, run again.
                let order = self.workflow.phase_names();
                let from = order.iter().position(|p| *p == redo_from).unwrap_or(0);
                let redo: Vec<&String> = order[from..].iter().collect();
                self.finish_failed(&name, &e, vec![event]).await?;
                let (again, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.record.phases)
                    .into_iter()
                    .partition(|p| redo.contains(&&p.name));
                self.record.phases = kept;
                self.record.superseded.extend(again);
                Ok(true)
            }
        }
    }

    /// Records `phase` as failed with `error`, and `events` after it, without ending the run.
    async fn finish_failed(
        &mut self,
        phase: &str,
        error: &PhaseError,
        events: Vec<(RunEventKind, String)>,
    ) -> Result<(), ActorProcessingErr> {
        let record = &mut self.record;
        if let Some(p) = record.phases.iter_mut().find(|p| p.name == phase) {
            p.status = PhaseStatus::Failed;
            p.finished_ms = Some(now_ms());
            p.error = Some(error.message.clone());
            p.output_json = error.detail.as_ref().map(|d| d.to_string());
        }
        let mut all = vec![(
            RunEventKind::PhaseFinished {
                phase: phase.to_string(),
                status: PhaseStatus::Failed,
            },
            format!("phase {phase} failed: {error}"),
        )];
        all.extend(events);
        self.book.save(record, all).await?;
        Ok(())
    }

    async fn fail(
        &mut self,
        phase: &str,
        error: String,
        detail: Option<serde_json::Value>,
    ) -> Result<(), ActorProcessingErr> {
        let record = &mut self.record;
        if let Some(p) = record.phases.iter_mut().find(|p| p.name == phase) {
            p.status = PhaseStatus::Failed;
            p.finished_ms = Some(now_ms());
            p.error = Some(error.clone());
            if let Some(d) = detail {
                p.output_json = Some(d.to_string());
            }
        }
        record.status = RunStatus::Failed;
        record.error = Some(error.clone());
        tracing::warn!(run = %record.id, phase, %error, "run failed");
        self.book
            .save(
                record,
                vec![
                    (
                        RunEventKind::PhaseFinished {
                            phase: phase.to_string(),
                            status: PhaseStatus::Failed,
                        },
                        error,
                    ),
                    (
                        RunEventKind::Finished {
                            status: RunStatus::Failed,
                        },
                        format!("run failed in phase {phase}"),
                    ),
                ],
            )
            .await?;
        Ok(())
    }
}
