//! Erlang/OTP supervision on top of ractor's links and supervision events.
//!
//! ractor gives links and [`ractor::SupervisionEvent`]s, and its default handler stops the
//! parent when a child exits. This module adds the policy OTP has:
//! - a [`ChildSpec`] per child: id, factory, restart type, shutdown;
//! - strategies: [`Strategy::OneForOne`], [`Strategy::OneForAll`], [`Strategy::RestForOne`];
//! - a [`RestartIntensity`]: past N restarts in T the supervisor stops its children and fails,
//!   escalating to its own supervisor;
//! - a [`Backoff`] with jitter between restarts in a row;
//! - dynamic children, added and removed at runtime;
//! - orderly shutdown: reverse start order, each child within its timeout, then killed.
//!
//! ```text
//! Supervisor (handle_supervisor_evt → SupervisorCore)
//! ├── child a   registered as "a": found again by name after each restart
//! ├── child b
//! └── child c   (a Supervisor itself: its children show in the tree)
//! ```
//!
//! Children register under their name, so callers find the current incarnation with
//! [`crate::naming::lookup`] rather than holding an `ActorRef` that dies with the old one.
//! A failed actor's mailbox is lost (ractor drops it), so requests carry ids and callers
//! re-send after a restart.

mod backoff;
mod child_spec;
mod core;
mod intensity;
mod supervisor;

pub use backoff::Backoff;
pub use child_spec::{
    ChildSpec, ChildType, DEFAULT_SHUTDOWN, Shutdown, StartArgs, StartFn, StartFuture,
};
pub use core::{
    ChildInfo, RestartTicket, Scheduler, Strategy, SupervisorCore, SupervisorOptions, send_after,
};
pub use intensity::RestartIntensity;
pub use supervisor::{Supervisor, SupervisorArguments, SupervisorMessage, SupervisorState};

use std::time::Duration;

/// Why a supervision request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SupervisionError {
    /// A child with this id is already supervised here.
    #[error("a child with id {id:?} is already supervised")]
    DuplicateChild {
        /// The id.
        id: String,
    },
    /// Another actor in this process holds the name.
    #[error("the name {name:?} is already registered")]
    NameTaken {
        /// The name.
        name: String,
    },
    /// The supervisor is at its child limit.
    #[error("the supervisor already has its maximum of {max} children")]
    TooManyChildren {
        /// The limit.
        max: u64,
    },
    /// The child's start failed.
    #[error("child {id:?} failed to start: {reason}")]
    StartFailed {
        /// The child.
        id: String,
        /// The spawn error.
        reason: String,
    },
    /// No child has this id.
    #[error("no child with id {id:?}")]
    NotFound {
        /// The id asked for.
        id: String,
    },
    /// One restart too many within the period: the supervisor gave up.
    #[error(
        "supervisor {supervisor} exceeded {max_restarts} restarts in {period:?} (last: child {child:?} {last_exit})"
    )]
    IntensityExceeded {
        /// The supervisor that gave up.
        supervisor: String,
        /// The child whose exit was one too many.
        child: String,
        /// The intensity's limit.
        max_restarts: u32,
        /// The intensity's period.
        period: Duration,
        /// How that child exited.
        last_exit: String,
    },
}

#[cfg(test)]
mod tests;
