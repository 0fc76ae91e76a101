//! [`SupervisorCore`]: the supervision logic, kept apart from any one actor.
//!
//! A supervisor is an actor whose `handle_supervisor_evt` forwards every event here. The
//! generic [`super::Supervisor`] does only that; the Admin does the same while also answering
//! its own messages. Keeping the logic in a plain struct means both share one implementation
//! of strategies, intensity, backoff and orderly shutdown, as gen_server and the supervisor
//! behaviour do in OTP.

use super::SupervisionError;
use super::backoff::Backoff;
use super::child_spec::{ChildSpec, ChildType, Shutdown};
use super::intensity::{RestartIntensity, RestartLog};
use super::supervisor::SupervisorMessage;
use ractor::{ActorCell, ActorId, ActorRef, Message, RactorErr, SpawnErr, SupervisionEvent};
use reporunner_protocols::admin::{ActorStatus, ActorTree, RestartDue};
use reporunner_protocols::ids::NodeId;
use reporunner_protocols::kinds::RestartType;
use std::fmt;
use std::time::Duration;
use tokio::time::Instant;

/// How long a kill is waited for before the child is given up on.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// How long the tree walk waits for a child supervisor's answer.
const TREE_CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// Which children restart when one fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Only the failed child.
    #[default]
    OneForOne,
    /// Every child: the others are stopped in reverse order, then all start again in order.
    OneForAll,
    /// The failed child and every child started after it.
    RestForOne,
}

/// A supervisor's settings.
#[derive(Debug, Clone, Default)]
pub struct SupervisorOptions {
    /// Which children restart when one fails.
    pub strategy: Strategy,
    /// The most restarts allowed in a period before the supervisor gives up and fails.
    pub intensity: RestartIntensity,
    /// The delay between restarts of a child that keeps failing.
    pub backoff: Backoff,
    /// The most children at once, for dynamic supervisors; `None` for no limit.
    pub max_children: Option<usize>,
}

/// A restart that waits out its backoff. The owning actor sends it back to itself after
/// the delay and passes it to [`SupervisorCore::restart_due`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartTicket {
    child: String,
    generation: u64,
}

impl RestartTicket {
    /// Rebuilds a ticket from its parts, for actors whose messages cross the wire.
    pub fn from_parts(child: String, generation: u64) -> Self {
        Self { child, generation }
    }

    /// Returns the child to restart.
    pub fn child(&self) -> &str {
        &self.child
    }

    /// Returns the generation that tells a current ticket from a stale one.
    pub fn generation(&self) -> u64 {
        self.generation
    }
}

impl From<RestartTicket> for RestartDue {
    fn from(t: RestartTicket) -> Self {
        RestartDue {
            child: t.child,
            generation: t.generation,
        }
    }
}

impl From<RestartDue> for RestartTicket {
    fn from(d: RestartDue) -> Self {
        RestartTicket::from_parts(d.child, d.generation)
    }
}

/// Schedules a [`RestartTicket`] to come back after a delay.
pub type Scheduler = Box<dyn Fn(Duration, RestartTicket) + Send + Sync>;

/// A [`Scheduler`] that sends `wrap(ticket)` to `actor` once the delay has passed: how a
/// supervising actor gets its restarts back as messages.
pub fn send_after<M: Message>(actor: ActorRef<M>, wrap: fn(RestartTicket) -> M) -> Scheduler {
    Box::new(move |delay, ticket| {
        actor.send_after(delay, move || wrap(ticket));
    })
}

/// What a supervisor knows of one child.
#[derive(Debug, Clone)]
pub struct ChildInfo {
    /// Its id within the supervisor.
    pub id: String,
    /// The name it is registered under.
    pub name: String,
    /// Its kind.
    pub kind: String,
    /// Worker or supervisor.
    pub child_type: ChildType,
    /// Its restart type.
    pub restart: RestartType,
    /// Running, restarting (waiting out a backoff) or stopped.
    pub status: ActorStatus,
    /// How many times it has been restarted.
    pub restarts: u32,
    /// How long the current incarnation has run.
    pub uptime: Duration,
    /// The current incarnation, when running.
    pub cell: Option<ActorCell>,
    /// How the previous incarnation ended, if one did.
    pub last_exit: Option<String>,
}

/// How a child exited.
#[derive(Debug, Clone)]
enum Exit {
    /// It panicked or a handler returned an error.
    Failed(String),
    /// It stopped, with an optional reason.
    Stopped(Option<String>),
}

impl Exit {
    /// Returns whether the exit is abnormal in OTP's sense: anything but a stop with no
    /// reason, `normal`, or `shutdown…`.
    fn is_abnormal(&self) -> bool {
        match self {
            Exit::Failed(_) => true,
            Exit::Stopped(None) => false,
            Exit::Stopped(Some(reason)) => {
                !(reason == "normal" || reason == "shutdown" || reason.starts_with("shutdown:"))
            }
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Failed(e) => write!(f, "failed: {e}"),
            Exit::Stopped(None) => f.write_str("stopped"),
            Exit::Stopped(Some(r)) => write!(f, "stopped: {r}"),
        }
    }
}

#[derive(Debug)]
struct Child {
    spec: ChildSpec,
    cell: Option<ActorCell>,
    status: ActorStatus,
    started_at: Instant,
    restarts: u32,
    /// Restarts in a row without a stable period in between; drives the backoff.
    in_a_row: u32,
    /// Bumped whenever a pending restart ticket must be ignored.
    generation: u64,
    last_exit: Option<String>,
}

/// The supervision logic of one supervisor: its children in start order, the restart log,
/// and the strategy, intensity and backoff that govern them.
pub struct SupervisorCore {
    /// The supervising actor, which every child is linked to.
    myself: ActorCell,
    /// A label for logs and errors: the supervisor's registered name, or its id.
    label: String,
    options: SupervisorOptions,
    /// Children in start order: the order they start in, and the reverse of the order they
    /// stop in.
    children: Vec<Child>,
    restart_log: RestartLog,
    schedule: Scheduler,
}

impl fmt::Debug for SupervisorCore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SupervisorCore")
            .field("label", &self.label)
            .field("options", &self.options)
            .field("children", &self.children)
            .finish_non_exhaustive()
    }
}

impl SupervisorCore {
    /// Creates the logic for the supervisor `myself`, with no children yet.
    ///
    /// * `schedule` - sends a [`RestartTicket`] back to `myself` after a delay, for example
    ///   with `ActorRef::send_after`
    pub fn new(myself: ActorCell, options: SupervisorOptions, schedule: Scheduler) -> Self {
        let label = myself
            .get_name()
            .unwrap_or_else(|| myself.get_id().to_string());
        Self {
            myself,
            label,
            options,
            children: Vec::new(),
            restart_log: RestartLog::default(),
            schedule,
        }
    }

    /// Returns the options.
    pub fn options(&self) -> &SupervisorOptions {
        &self.options
    }

    /// Starts `specs` in order. If one fails to start, the ones already started are stopped
    /// in reverse order and the error is returned.
    ///
    /// # Errors
    /// The first child's [`SupervisionError`].
    pub async fn start_children(&mut self, specs: Vec<ChildSpec>) -> Result<(), SupervisionError> {
        for spec in specs {
            if let Err(e) = self.start_child(spec).await {
                self.shutdown().await;
                return Err(e);
            }
        }
        Ok(())
    }

    /// Starts one more child, after the others.
    ///
    /// # Errors
    /// [`SupervisionError::DuplicateChild`] if the id is in use,
    /// [`SupervisionError::TooManyChildren`] at the limit, or the start failure.
    pub async fn start_child(&mut self, spec: ChildSpec) -> Result<ActorCell, SupervisionError> {
        if self.children.iter().any(|c| c.spec.id() == spec.id()) {
            return Err(SupervisionError::DuplicateChild {
                id: spec.id().to_string(),
            });
        }
        if let Some(max) = self.options.max_children
            && self.children.len() >= max
        {
            return Err(SupervisionError::TooManyChildren { max: max as u64 });
        }
        let cell = spawn(&spec, &self.myself).await?;
        self.children.push(Child {
            spec,
            cell: Some(cell.clone()),
            status: ActorStatus::Running,
            started_at: Instant::now(),
            restarts: 0,
            in_a_row: 0,
            generation: 0,
            last_exit: None,
        });
        Ok(cell)
    }

    /// Stops the child `id` as its spec says and removes it.
    ///
    /// # Errors
    /// [`SupervisionError::NotFound`] if no child has that id.
    pub async fn terminate_child(&mut self, id: &str) -> Result<(), SupervisionError> {
        let idx = self.index_of(id)?;
        let mut child = self.children.remove(idx);
        if let Some(cell) = child.cell.take() {
            terminate(&cell, child.spec.shutdown_mode()).await;
        }
        Ok(())
    }

    /// Stops the child `id` and starts it again from its spec. This is an operator's
    /// restart: it counts in the child's restarts but not against the intensity.
    ///
    /// # Errors
    /// [`SupervisionError::NotFound`], or the start failure (the child then stays, stopped).
    pub async fn restart_child(&mut self, id: &str) -> Result<ActorCell, SupervisionError> {
        let idx = self.index_of(id)?;
        let child = &mut self.children[idx];
        child.generation += 1;
        if let Some(cell) = child.cell.take() {
            terminate(&cell, child.spec.shutdown_mode()).await;
        }
        let child = &mut self.children[idx];
        match spawn(&child.spec, &self.myself).await {
            Ok(cell) => {
                child.cell = Some(cell.clone());
                child.status = ActorStatus::Running;
                child.started_at = Instant::now();
                child.restarts += 1;
                child.in_a_row = 0;
                child.last_exit = Some("restarted by request".to_string());
                Ok(cell)
            }
            Err(e) => {
                child.status = ActorStatus::Stopped;
                child.last_exit = Some(e.to_string());
                Err(e)
            }
        }
    }

    /// Handles a supervision event from a child: restarts what the strategy says.
    ///
    /// Events from actors that are no longer children (an old incarnation, a child that was
    /// stopped on purpose) are ignored.
    ///
    /// # Errors
    /// [`SupervisionError::IntensityExceeded`] when the restart would be one too many. The
    /// children have then been stopped, and the owning actor must fail so that its own
    /// supervisor decides.
    pub async fn handle_event(&mut self, event: SupervisionEvent) -> Result<(), SupervisionError> {
        let (id, exit) = match &event {
            SupervisionEvent::ActorFailed(cell, err) => {
                (cell.get_id(), Exit::Failed(err.to_string()))
            }
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                (cell.get_id(), Exit::Stopped(reason.clone()))
            }
            _ => return Ok(()),
        };
        self.child_exited(id, exit).await
    }

    /// Carries out a restart whose backoff has passed.
    ///
    /// # Errors
    /// As [`Self::handle_event`].
    pub async fn restart_due(&mut self, ticket: RestartTicket) -> Result<(), SupervisionError> {
        let current = self
            .children
            .iter()
            .any(|c| c.spec.id() == ticket.child && c.generation == ticket.generation);
        if !current {
            return Ok(());
        }
        match self.start_restarting().await {
            None => Ok(()),
            Some((failed, reason)) => {
                self.record_restart(&failed, &reason).await?;
                self.start_pending(&failed).await
            }
        }
    }

    /// Stops every child in reverse start order, each within its shutdown timeout, and
    /// marks them stopped. Pending restarts are cancelled.
    pub async fn shutdown(&mut self) {
        for child in self.children.iter_mut().rev() {
            child.generation += 1;
            child.status = ActorStatus::Stopped;
            if let Some(cell) = child.cell.take() {
                terminate(&cell, child.spec.shutdown_mode()).await;
            }
        }
    }

    /// Returns the children in start order.
    pub fn children(&self) -> Vec<ChildInfo> {
        self.children
            .iter()
            .map(|c| ChildInfo {
                id: c.spec.id().to_string(),
                name: c.spec.registered_name().to_string(),
                kind: c.spec.kind_name().to_string(),
                child_type: c.spec.child_type(),
                restart: c.spec.restart_type(),
                status: c.status,
                restarts: c.restarts,
                uptime: if c.status == ActorStatus::Running {
                    c.started_at.elapsed()
                } else {
                    Duration::ZERO
                },
                cell: c.cell.clone(),
                last_exit: c.last_exit.clone(),
            })
            .collect()
    }

    /// Returns the current incarnation of child `id`, when it runs.
    pub fn child_cell(&self, id: &str) -> Option<ActorCell> {
        self.children
            .iter()
            .find(|c| c.spec.id() == id)
            .and_then(|c| c.cell.clone())
    }

    /// Returns the spec of child `id`.
    pub fn child_spec(&self, id: &str) -> Option<&ChildSpec> {
        self.children
            .iter()
            .find(|c| c.spec.id() == id)
            .map(|c| &c.spec)
    }

    /// Builds the live tree below this supervisor. Children that are supervisors are asked
    /// for their own children.
    pub async fn child_trees(&self, node: &NodeId) -> Vec<ActorTree> {
        let mut out = Vec::with_capacity(self.children.len());
        for info in self.children() {
            let children = match (&info.cell, info.child_type) {
                (Some(cell), ChildType::Supervisor) => {
                    Box::pin(supervisor_tree(cell.clone(), node.clone())).await
                }
                _ => Vec::new(),
            };
            out.push(ActorTree {
                name: info.name,
                kind: info.kind,
                node: node.clone(),
                status: info.status,
                restarts: info.restarts,
                uptime_ms: info.uptime.as_millis() as u64,
                children,
            });
        }
        out
    }

    fn index_of(&self, id: &str) -> Result<usize, SupervisionError> {
        self.children
            .iter()
            .position(|c| c.spec.id() == id)
            .ok_or_else(|| SupervisionError::NotFound { id: id.to_string() })
    }

    async fn child_exited(&mut self, actor: ActorId, exit: Exit) -> Result<(), SupervisionError> {
        let Some(idx) = self
            .children
            .iter()
            .position(|c| c.cell.as_ref().is_some_and(|cell| cell.get_id() == actor))
        else {
            return Ok(());
        };
        let child = &mut self.children[idx];
        child.cell = None;
        child.last_exit = Some(exit.to_string());
        let restart = match child.spec.restart_type() {
            RestartType::Permanent => true,
            RestartType::Transient => exit.is_abnormal(),
            RestartType::Temporary => false,
        };
        if !restart {
            tracing::debug!(supervisor = %self.label, child = %child.spec.id(), %exit, "child exited, not restarted");
            self.children.remove(idx);
            return Ok(());
        }
        tracing::info!(supervisor = %self.label, child = %child.spec.id(), %exit, "child exited, restarting");
        let failed_id = child.spec.id().to_string();
        self.record_restart(&failed_id, &exit.to_string()).await?;

        // The children the strategy takes down with the failed one.
        let affected: Vec<usize> = match self.options.strategy {
            Strategy::OneForOne => vec![idx],
            Strategy::OneForAll => (0..self.children.len()).collect(),
            Strategy::RestForOne => (idx..self.children.len()).collect(),
        };
        // Stop the others in reverse start order. Their exit events will name actors that
        // are no longer children, and so be ignored.
        for &j in affected.iter().rev() {
            let sibling = &mut self.children[j];
            sibling.status = ActorStatus::Restarting;
            if let Some(cell) = sibling.cell.take() {
                terminate(&cell, sibling.spec.shutdown_mode()).await;
                sibling.last_exit = Some(format!("stopped: restart of {failed_id}"));
            }
        }
        // OTP never restarts temporary children, even with their siblings.
        self.children.retain(|c| {
            !(c.status == ActorStatus::Restarting
                && c.spec.restart_type() == RestartType::Temporary)
        });

        let child = self
            .children
            .iter_mut()
            .find(|c| c.spec.id() == failed_id)
            .expect("the failed child is permanent or transient, so it was kept");
        if child.started_at.elapsed() >= self.options.backoff.reset_after {
            child.in_a_row = 0;
        }
        self.start_pending(&failed_id).await
    }

    /// Records one restart against the intensity, escalating when it is one too many.
    async fn record_restart(&mut self, child: &str, exit: &str) -> Result<(), SupervisionError> {
        if self
            .restart_log
            .record(&self.options.intensity, Instant::now())
        {
            return Ok(());
        }
        let intensity = self.options.intensity;
        tracing::error!(
            supervisor = %self.label,
            child,
            max_restarts = intensity.max_restarts,
            period_ms = intensity.period.as_millis() as u64,
            "restart intensity exceeded, stopping all children and escalating"
        );
        self.shutdown().await;
        Err(SupervisionError::IntensityExceeded {
            supervisor: self.label.clone(),
            child: child.to_string(),
            max_restarts: intensity.max_restarts,
            period: intensity.period,
            last_exit: exit.to_string(),
        })
    }

    /// Restarts, in start order, every child waiting for a restart, at once or after the
    /// backoff of `trigger` (the child whose failure caused it). A start that fails counts
    /// as another failure of that child.
    async fn start_pending(&mut self, trigger: &str) -> Result<(), SupervisionError> {
        let mut trigger = trigger.to_string();
        loop {
            let Some(t) = self.children.iter_mut().find(|c| c.spec.id() == trigger) else {
                return Ok(());
            };
            let delay = self
                .options
                .backoff
                .delay(t.in_a_row, rand::random_range(-1.0..=1.0));
            t.in_a_row = t.in_a_row.saturating_add(1);
            t.generation += 1;
            if !delay.is_zero() {
                let ticket = RestartTicket {
                    child: trigger.clone(),
                    generation: t.generation,
                };
                tracing::debug!(supervisor = %self.label, child = %trigger, delay_ms = delay.as_millis() as u64, "restart delayed by backoff");
                (self.schedule)(delay, ticket);
                return Ok(());
            }
            match self.start_restarting().await {
                None => return Ok(()),
                Some((failed, reason)) => {
                    self.record_restart(&failed, &reason).await?;
                    trigger = failed;
                }
            }
        }
    }

    /// Starts every child marked as restarting, in start order. Returns the first that
    /// failed to start, with the reason.
    async fn start_restarting(&mut self) -> Option<(String, String)> {
        let mut failure = None;
        for child in self
            .children
            .iter_mut()
            .filter(|c| c.status == ActorStatus::Restarting)
        {
            match spawn(&child.spec, &self.myself).await {
                Ok(cell) => {
                    child.cell = Some(cell);
                    child.status = ActorStatus::Running;
                    child.started_at = Instant::now();
                    child.restarts += 1;
                }
                Err(e) => {
                    tracing::warn!(supervisor = %self.label, child = %child.spec.id(), error = %e, "restart failed");
                    child.last_exit = Some(e.to_string());
                    failure.get_or_insert((child.spec.id().to_string(), e.to_string()));
                }
            }
        }
        failure
    }
}

/// Spawns one incarnation of `spec` linked to `supervisor`, and joins its groups.
async fn spawn(spec: &ChildSpec, supervisor: &ActorCell) -> Result<ActorCell, SupervisionError> {
    let cell = spec.start(supervisor.clone()).await.map_err(|e| match e {
        SpawnErr::ActorAlreadyRegistered(name) => SupervisionError::NameTaken { name },
        other => SupervisionError::StartFailed {
            id: spec.id().to_string(),
            reason: other.to_string(),
        },
    })?;
    for group in spec.groups() {
        ractor::pg::join(group.clone(), vec![cell.clone()]);
    }
    Ok(cell)
}

/// Stops `cell` as `shutdown` says: a stop with a deadline and then a kill, a kill, or a
/// stop waited for without limit.
async fn terminate(cell: &ActorCell, shutdown: Shutdown) {
    let reason = Some("shutdown".to_string());
    match shutdown {
        Shutdown::BrutalKill => {
            let _ = cell.kill_and_wait(Some(KILL_WAIT)).await;
        }
        Shutdown::Infinity => {
            let _ = cell.stop_and_wait(reason, None).await;
        }
        // Ok, or a closed channel, means the child is gone either way; only a timeout
        // calls for the kill.
        Shutdown::Timeout(timeout) => {
            if let Err(RactorErr::Timeout) = cell.stop_and_wait(reason, Some(timeout)).await {
                tracing::warn!(actor = %cell.get_id(), timeout_ms = timeout.as_millis() as u64, "child did not stop in time, killing it");
                if cell.kill_and_wait(Some(KILL_WAIT)).await.is_err() {
                    tracing::error!(actor = %cell.get_id(), "child did not die after a kill");
                }
            }
        }
    }
}

/// Asks a child [`super::Supervisor`] for its tree.
async fn supervisor_tree(cell: ActorCell, node: NodeId) -> Vec<ActorTree> {
    let sup: ActorRef<SupervisorMessage> = cell.into();
    match sup
        .call(
            |reply| SupervisorMessage::GetTree(node, reply),
            Some(TREE_CALL_TIMEOUT),
        )
        .await
    {
        Ok(ractor::rpc::CallResult::Success(trees)) => trees,
        _ => Vec::new(),
    }
}
