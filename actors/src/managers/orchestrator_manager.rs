//! The OrchestratorManager: creates runs, supervises one Orchestrator per run, resumes
//! runs, and on start deals with the runs a dead process left behind.

use crate::orchestrator::{Orchestrator, OrchestratorArguments};
use crate::runs::{RunBook, now_ms};
use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};
use reporunner_protocols::Wire;
use reporunner_protocols::ids::RunId;
use reporunner_protocols::kinds::RestartType;
pub use reporunner_protocols::run::OrchestratorManagerMessage;
use reporunner_protocols::run::{RunError, RunEventKind, RunRecord, RunStatus, StartRunRequest};
use reporunner_runtime::naming::Namespace;
use reporunner_runtime::store::Store;
use reporunner_runtime::supervision::{
    ChildSpec, Shutdown, SupervisionError, SupervisorCore, SupervisorOptions, send_after,
};
use reporunner_runtime::workflow::WorkflowRegistry;
use std::sync::Arc;
use std::time::Duration;

/// How long a stopping orchestrator may finish its phase before it is killed.
const ORCHESTRATOR_SHUTDOWN: Duration = Duration::from_secs(5);

/// What to do, at start, with runs that were running when their process died.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InterruptedRuns {
    /// Resume them: each continues after its last finished phase.
    Resume,
    /// Mark them interrupted; `reporunner resume RUN` continues one later.
    #[default]
    MarkInterrupted,
}

/// The OrchestratorManager. See the module docs.
#[derive(Debug, Clone, Copy, Default)]
pub struct OrchestratorManager;

/// What the OrchestratorManager starts with.
#[derive(Debug, Clone)]
pub struct OrchestratorManagerArguments {
    /// Names the orchestrators.
    pub namespace: Namespace,
    /// Where runs are kept; without it, runs are refused.
    pub store: Option<Arc<dyn Store>>,
    /// The workflows runs can execute.
    pub workflows: WorkflowRegistry,
    /// What to do with runs a dead process left running.
    pub interrupted: InterruptedRuns,
    /// How the orchestrators are supervised.
    pub options: SupervisorOptions,
}

/// The OrchestratorManager's state.
#[derive(Debug)]
pub struct OrchestratorManagerState {
    /// Supervision of the orchestrators, one per running run.
    core: SupervisorCore,
    namespace: Namespace,
    book: Option<RunBook>,
    workflows: WorkflowRegistry,
}

impl Actor for OrchestratorManager {
    type Msg = OrchestratorManagerMessage;
    type State = OrchestratorManagerState;
    type Arguments = OrchestratorManagerArguments;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        let core = SupervisorCore::new(
            myself.get_cell(),
            args.options,
            send_after(myself.clone(), |t| {
                OrchestratorManagerMessage::RestartDue(Wire::new(t.into()))
            }),
        );
        let mut state = OrchestratorManagerState {
            core,
            namespace: args.namespace,
            book: args.store.map(RunBook::new),
            workflows: args.workflows,
        };
        state.recover(args.interrupted).await?;
        Ok(state)
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        // Runs cut off by a shutdown stay `running` in the store: the next start resumes
        // them or marks them interrupted, as configured.
        state.core.shutdown().await;
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            OrchestratorManagerMessage::StartRun(req, reply) => {
                let _ = reply.send(Wire::new(state.start_run(req).await));
            }
            OrchestratorManagerMessage::ResumeRun(id, reply) => {
                let _ = reply.send(Wire::new(state.resume_run(id).await));
            }
            OrchestratorManagerMessage::StopRun(id, reply) => {
                let _ = reply.send(Wire::new(state.stop_run(id).await));
            }
            OrchestratorManagerMessage::GetRun(id, reply) => {
                let _ = reply.send(Wire::new(state.get_run(id)));
            }
            OrchestratorManagerMessage::GetRuns(reply) => {
                let _ = reply.send(Wire::new(state.book().and_then(|b| b.list())));
            }
            // A malformed ticket (only a peer could send one) is dropped, not fatal.
            OrchestratorManagerMessage::RestartDue(due) => {
                if let Ok(due) = due.open() {
                    state.core.restart_due(due.into()).await?;
                }
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        state.core.handle_event(event).await?;
        Ok(())
    }
}

impl OrchestratorManagerState {
    fn book(&self) -> Result<&RunBook, RunError> {
        self.book.as_ref().ok_or(RunError::NoStore)
    }

    /// Resumes, or marks interrupted, the runs a dead process left running.
    async fn recover(&mut self, policy: InterruptedRuns) -> Result<(), RunError> {
        let Some(book) = self.book.clone() else {
            return Ok(());
        };
        for mut run in book.list()? {
            if run.status != RunStatus::Running {
                continue;
            }
            match policy {
                InterruptedRuns::Resume => {
                    tracing::info!(run = %run.id, "resuming a run its process left running");
                    run.resumes += 1;
                    book.save(
                        &mut run,
                        vec![(RunEventKind::Resumed, "resumed after a restart".into())],
                    )
                    .await?;
                    if let Err(e) = self.spawn_orchestrator(&run).await {
                        tracing::warn!(run = %run.id, error = %e, "cannot resume run");
                    }
                }
                InterruptedRuns::MarkInterrupted => {
                    tracing::info!(run = %run.id, "marking a run its process left running as interrupted");
                    run.status = RunStatus::Interrupted;
                    book.save(
                        &mut run,
                        vec![(
                            RunEventKind::Interrupted,
                            "its process stopped while it ran".into(),
                        )],
                    )
                    .await?;
                }
            }
        }
        Ok(())
    }

    fn get_run(&self, id: Wire<RunId>) -> Result<RunRecord, RunError> {
        let id = id.open()?;
        self.book()?
            .load(&id)?
            .ok_or_else(|| RunError::NotFound { id: id.to_string() })
    }

    async fn start_run(&mut self, req: Wire<StartRunRequest>) -> Result<RunId, RunError> {
        let req = req.open()?;
        let book = self.book()?.clone();
        self.workflow(&req.workflow)?;
        serde_json::from_str::<serde_json::Value>(&req.input_json).map_err(|e| {
            RunError::InvalidInput {
                reason: e.to_string(),
            }
        })?;
        let now = now_ms();
        let mut run = RunRecord {
            id: RunId::from_parts(now, rand::random()),
            workflow: req.workflow,
            input_json: req.input_json,
            status: RunStatus::Running,
            created_ms: now,
            updated_ms: now,
            phases: Vec::new(),
            error: None,
            resumes: 0,
            repairs: Vec::new(),
            superseded: Vec::new(),
            consultations: Vec::new(),
        };
        book.save(
            &mut run,
            vec![(RunEventKind::Created, "run created".into())],
        )
        .await?;
        self.spawn_orchestrator(&run).await?;
        tracing::info!(run = %run.id, workflow = %run.workflow, "run started");
        Ok(run.id)
    }

    async fn resume_run(&mut self, id: Wire<RunId>) -> Result<(), RunError> {
        let id = &id.open()?;
        let book = self.book()?.clone();
        let mut run = book
            .load(id)?
            .ok_or_else(|| RunError::NotFound { id: id.to_string() })?;
        let name = self.namespace.orchestrator(id);
        if self.core.child_cell(&name).is_some() {
            if run.status == RunStatus::Running {
                return Err(RunError::AlreadyRunning { id: id.to_string() });
            }
            // The run has ended but its orchestrator is still on its way out (its exit
            // event has not reached us yet): wait for it to go before starting anew.
            let _ = self.core.terminate_child(&name).await;
        }
        if run.status == RunStatus::Succeeded {
            return Err(RunError::AlreadySucceeded { id: id.to_string() });
        }
        self.workflow(&run.workflow)?;
        run.status = RunStatus::Running;
        run.error = None;
        run.resumes += 1;
        book.save(
            &mut run,
            vec![(RunEventKind::Resumed, "resumed on request".into())],
        )
        .await?;
        self.spawn_orchestrator(&run).await
    }

    async fn stop_run(&mut self, id: Wire<RunId>) -> Result<(), RunError> {
        let id = &id.open()?;
        let book = self.book()?.clone();
        if book.load(id)?.is_none() {
            return Err(RunError::NotFound { id: id.to_string() });
        }
        // Stop the orchestrator first (it may be mid-phase), then read the record again:
        // the run may have ended on its own meanwhile, and then it keeps its real end.
        match self
            .core
            .terminate_child(&self.namespace.orchestrator(id))
            .await
        {
            Ok(()) | Err(SupervisionError::NotFound { .. }) => {}
            Err(e) => {
                return Err(RunError::Store {
                    reason: e.to_string(),
                });
            }
        }
        let mut run = book
            .load(id)?
            .ok_or_else(|| RunError::NotFound { id: id.to_string() })?;
        if run.status != RunStatus::Running {
            return Err(RunError::NotRunning {
                id: id.to_string(),
                status: run.status,
            });
        }
        run.status = RunStatus::Stopped;
        run.error = Some("stopped on request".into());
        book.save(
            &mut run,
            vec![(
                RunEventKind::Finished {
                    status: RunStatus::Stopped,
                },
                "stopped on request".into(),
            )],
        )
        .await
    }

    fn workflow(&self, name: &str) -> Result<reporunner_runtime::workflow::Workflow, RunError> {
        self.workflows
            .get(name)
            .ok_or_else(|| RunError::UnknownWorkflow {
                name: name.to_string(),
                known: self.workflows.names(),
            })
    }

    async fn spawn_orchestrator(&mut self, run: &RunRecord) -> Result<(), RunError> {
        let args = OrchestratorArguments {
            run: run.id.clone(),
            workflow: self.workflow(&run.workflow)?,
            book: self.book()?.clone(),
        };
        let spec = ChildSpec::new(self.namespace.orchestrator(&run.id), move || {
            (Orchestrator, args.clone())
        })
        .kind("orchestrator")
        .restart(RestartType::Transient)
        .shutdown(Shutdown::Timeout(ORCHESTRATOR_SHUTDOWN));
        self.core
            .start_child(spec)
            .await
            .map(|_| ())
            .map_err(|e| RunError::Store {
                reason: format!("cannot start the orchestrator: {e}"),
            })
    }
}
