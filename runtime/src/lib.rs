//! The machinery of Repo Runner's actors, with no knowledge of the agents themselves:
//! - [`supervision`]: Erlang/OTP supervision on ractor (child specs, strategies, restart
//!   intensity with escalation, backoff with jitter, dynamic children, orderly shutdown);
//! - [`naming`]: logical names, so a restarted actor is found again by name;
//! - [`kinds`]: the registry of agent kinds the Admin spawns from at runtime;
//! - [`panics`]: a quiet panic hook, since panics are ordinary failures under supervision.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use ractor::{Actor, ActorProcessingErr, ActorRef};
//! use reporunner_runtime::supervision::{ChildSpec, Supervisor, SupervisorArguments};
//!
//! struct Worker;
//! #[derive(ractor_cluster_derive::RactorMessage)]
//! enum WorkerMessage { Ping(ractor::RpcReplyPort<&'static str>) }
//! impl Actor for Worker {
//!     type Msg = WorkerMessage;
//!     type State = ();
//!     type Arguments = ();
//!     async fn pre_start(&self, _: ActorRef<Self::Msg>, _: ()) -> Result<(), ActorProcessingErr> { Ok(()) }
//!     async fn handle(&self, _: ActorRef<Self::Msg>, m: Self::Msg, _: &mut ()) -> Result<(), ActorProcessingErr> {
//!         let WorkerMessage::Ping(reply) = m;
//!         let _ = reply.send("pong");
//!         Ok(())
//!     }
//! }
//!
//! let (sup, handle) = Actor::spawn(None, Supervisor, SupervisorArguments {
//!     children: vec![ChildSpec::new("doc-worker", || (Worker, ()))],
//!     ..Default::default()
//! }).await.unwrap();
//! let worker = reporunner_runtime::naming::lookup::<WorkerMessage>("doc-worker").unwrap();
//! assert_eq!(ractor::call!(worker, WorkerMessage::Ping).unwrap(), "pong");
//! sup.stop(None);
//! handle.await.unwrap();
//! # }
//! ```

pub mod index;
pub mod kinds;
pub mod models;
pub mod naming;
pub mod network;
pub mod panics;
pub mod probe;
pub mod process;
pub mod static_site;
pub mod store;
pub mod supervision;
#[cfg(any(test, feature = "testsuite"))]
pub mod testsuite;
pub mod workflow;
pub mod workspace;
