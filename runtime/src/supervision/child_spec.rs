//! [`ChildSpec`]: how a supervisor starts, restarts and stops one child.

use ractor::{Actor, ActorCell, SpawnErr};
use reporunner_protocols::kinds::RestartType;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// The default time a worker gets to stop before it is killed, as OTP's 5000 ms.
pub const DEFAULT_SHUTDOWN: Duration = Duration::from_secs(5);

/// A boxed future that starts a child.
pub type StartFuture = Pin<Box<dyn Future<Output = Result<ActorCell, SpawnErr>> + Send>>;

/// Starts one incarnation of a child: spawns it linked to `supervisor` under `name`.
pub type StartFn = Arc<dyn Fn(StartArgs) -> StartFuture + Send + Sync>;

/// What a [`StartFn`] is given.
#[derive(Debug, Clone)]
pub struct StartArgs {
    /// The name to register the child under, so it can be found after each restart.
    pub name: String,
    /// The supervisor to link the child to.
    pub supervisor: ActorCell,
}

/// How a child is stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    /// Asked to stop, and killed if it has not stopped within the timeout.
    Timeout(Duration),
    /// Killed at once: in-flight work is cancelled and `post_stop` does not run.
    BrutalKill,
    /// Asked to stop, and waited for without limit. Meant for child supervisors, which need
    /// the time to stop their own children in order.
    Infinity,
}

/// Whether a child is a worker or itself a supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildType {
    /// A worker.
    Worker,
    /// A [`super::Supervisor`] actor: it answers `SupervisorMessage`, so its own children
    /// appear in the live tree.
    Supervisor,
}

/// Everything a supervisor needs to start, restart and stop one child.
///
/// The factory rebuilds the actor and its arguments for every incarnation, which is the
/// answer to ractor's `Arguments` not being `Clone` (slawlor/ractor#95).
///
/// ```
/// use ractor::{Actor, ActorProcessingErr, ActorRef};
/// use reporunner_runtime::supervision::{ChildSpec, Shutdown};
/// use reporunner_protocols::kinds::RestartType;
/// use std::time::Duration;
///
/// struct Counter;
/// #[derive(ractor_cluster_derive::RactorMessage)]
/// enum CounterMessage { Add(u64) }
///
/// impl Actor for Counter {
///     type Msg = CounterMessage;
///     type State = u64;
///     type Arguments = u64;
///     async fn pre_start(&self, _: ActorRef<Self::Msg>, start: u64) -> Result<u64, ActorProcessingErr> {
///         Ok(start)
///     }
///     async fn handle(&self, _: ActorRef<Self::Msg>, msg: Self::Msg, n: &mut u64) -> Result<(), ActorProcessingErr> {
///         let CounterMessage::Add(k) = msg;
///         *n += k;
///         Ok(())
///     }
/// }
///
/// let spec = ChildSpec::new("counter", || (Counter, 0))
///     .kind("counter")
///     .restart(RestartType::Transient)
///     .shutdown(Shutdown::Timeout(Duration::from_secs(1)));
/// assert_eq!(spec.id(), "counter");
/// ```
#[derive(Clone)]
pub struct ChildSpec {
    id: String,
    name: Option<String>,
    kind: String,
    restart: RestartType,
    shutdown: Shutdown,
    child_type: ChildType,
    groups: Vec<String>,
    start: StartFn,
}

impl fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSpec")
            .field("id", &self.id)
            .field("name", &self.registered_name())
            .field("kind", &self.kind)
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown)
            .field("child_type", &self.child_type)
            .field("groups", &self.groups)
            .finish_non_exhaustive()
    }
}

impl ChildSpec {
    /// A permanent worker named `id`, built by `factory` for each incarnation.
    ///
    /// * `id` - the child's id within its supervisor, and the name it registers under
    ///   unless [`Self::registered_as`] says otherwise
    /// * `factory` - returns a fresh actor and its arguments
    pub fn new<A, F>(id: impl Into<String>, factory: F) -> Self
    where
        A: Actor,
        F: Fn() -> (A, A::Arguments) + Send + Sync + 'static,
    {
        let factory = Arc::new(factory);
        let start: StartFn = Arc::new(move |args: StartArgs| {
            let (actor, arguments) = factory();
            Box::pin(async move {
                let (actor_ref, _join) =
                    A::spawn_linked(Some(args.name), actor, arguments, args.supervisor).await?;
                Ok(actor_ref.get_cell())
            })
        });
        Self::from_start_fn(id, start)
    }

    /// A permanent worker named `id`, started by a hand-written function.
    pub fn from_start_fn(id: impl Into<String>, start: StartFn) -> Self {
        let id = id.into();
        Self {
            kind: id.clone(),
            id,
            name: None,
            restart: RestartType::Permanent,
            shutdown: Shutdown::Timeout(DEFAULT_SHUTDOWN),
            child_type: ChildType::Worker,
            groups: Vec::new(),
            start,
        }
    }

    /// Sets the kind shown in the live tree (defaults to the id).
    pub fn kind(mut self, kind: impl Into<String>) -> Self {
        self.kind = kind.into();
        self
    }

    /// Sets the restart type (defaults to permanent).
    pub fn restart(mut self, restart: RestartType) -> Self {
        self.restart = restart;
        self
    }

    /// Sets how the child is stopped (defaults to a 5 s timeout, then a kill).
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// Marks the child as a supervisor, with an unlimited shutdown as OTP does.
    pub fn supervisor(mut self) -> Self {
        self.child_type = ChildType::Supervisor;
        self.shutdown = Shutdown::Infinity;
        self
    }

    /// Registers the child under `name` instead of its id.
    pub fn registered_as(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Adds a process group the child joins after every start. Groups are cluster-wide, so
    /// this is how other nodes find it.
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.groups.push(group.into());
        self
    }

    /// Returns the child's id within its supervisor.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Returns the name the child registers under.
    pub fn registered_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }

    /// Returns the kind shown in the live tree.
    pub fn kind_name(&self) -> &str {
        &self.kind
    }

    /// Returns the restart type.
    pub fn restart_type(&self) -> RestartType {
        self.restart
    }

    /// Returns how the child is stopped.
    pub fn shutdown_mode(&self) -> Shutdown {
        self.shutdown
    }

    /// Returns whether the child is a worker or a supervisor.
    pub fn child_type(&self) -> ChildType {
        self.child_type
    }

    /// Returns the process groups the child joins.
    pub fn groups(&self) -> &[String] {
        &self.groups
    }

    /// Starts one incarnation, linked to `supervisor`.
    pub(crate) fn start(&self, supervisor: ActorCell) -> StartFuture {
        (self.start)(StartArgs {
            name: self.registered_name().to_string(),
            supervisor,
        })
    }
}
