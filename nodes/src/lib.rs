//! Repo Runner: gets a source repository running by itself.
//!
//! This crate is the assembly: it boots the runtime ([`boot::Node`]), and holds the one
//! binary, `reporunner`, with its CLI ([`cli`]). Behaviour lives in `reporunner-actors`, the
//! machinery in `reporunner-runtime`, and the wire types in `reporunner-protocols`.
//!
//! # Embedding the runtime
//! ```no_run
//! # #[tokio::main]
//! # async fn main() -> anyhow::Result<()> {
//! use reporunner::boot::{Node, NodeConfig};
//! use reporunner_protocols::ids::AgentId;
//!
//! let node = Node::start(NodeConfig::default()).await?;
//! let admin = node.admin();
//! admin.spawn_agent("env-detector", AgentId::new("env"), "").await?;
//! for (depth, actor) in admin.tree().await?.flatten() {
//!     println!("{:indent$}{} [{}]", "", actor.name, actor.kind, indent = depth * 2);
//! }
//! node.shutdown().await?;
//! # Ok(())
//! # }
//! ```

pub mod api;
pub mod boot;
pub mod cli;
pub mod cluster;
pub mod console;
