//! Repo Runner's behaviour: the Admin (the root supervisor), the managers and the agents.
//!
//! ```text
//! Admin (root supervisor; answers AdminMessage)
//! ├── AgentSupervisor   dynamic supervisor of the agents, spawned at runtime by kind
//! │   └── EnvDetector · (kinds registered by embedders) · …
//! └── PortManager       leases free ports; a lease is never handed out twice
//! ```
//!
//! Nothing here opens a socket for its own sake, reads a CLI flag or an environment
//! variable of Repo Runner's: everything comes in through each actor's `Arguments`
//! (ARCHITECTURE.md). Actors are found by logical name ([`reporunner_runtime::naming`]),
//! never through a stored `ActorRef`, because a restart replaces the actor.
//!
//! ```no_run
//! # async fn demo() {
//! use ractor::Actor;
//! use reporunner_actors::admin::{Admin, AdminArguments};
//! use reporunner_protocols::admin::AdminClient;
//! use reporunner_protocols::ids::AgentId;
//!
//! let args = AdminArguments::default();
//! let name = args.namespace.admin();
//! let (admin, handle) = Actor::spawn(Some(name), Admin, args).await.unwrap();
//! let client = AdminClient::new(admin.clone());
//! client.spawn_agent("env-detector", AgentId::new("env"), "").await.unwrap();
//! println!("{:#?}", client.tree().await.unwrap());
//! admin.stop(None);
//! handle.await.unwrap();
//! # }
//! ```

pub mod admin;
pub mod agents;
pub mod analysis;
pub mod assist;
pub mod cliusage;
pub mod envfile;
pub mod managers;
pub mod orchestrator;
pub mod ratelimit;
pub mod repair;
pub mod repo_run;
pub mod runs;
pub mod sources;
pub mod testreport;
pub mod toolchains;
pub mod users;

pub use admin::{Admin, AdminArguments};
