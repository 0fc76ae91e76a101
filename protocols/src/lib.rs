//! Repo Runner's wire vocabulary: the ids, the message enums of every actor that can be
//! addressed by name or over the network, the profiles and reports they carry, the wire
//! errors, and the codec that turns them into bytes.
//!
//! This crate is the leaf of the workspace: it depends on no other crate of ours, so every
//! node of a cluster agrees on these types whatever else it runs.
//!
//! # The codec
//! Every payload that crosses a node boundary travels as a [`Wire<T>`]: a bincode 2 (serde)
//! body inside a small versioned envelope. Decoding never panics: malformed bytes from a peer
//! become [`Wire::Malformed`], which handlers answer with a typed error instead of crashing.
//!
//! ```
//! use reporunner_protocols::{codec, ids::AgentId};
//!
//! let bytes = codec::encode(&AgentId::new("env-detector")).unwrap();
//! let back: AgentId = codec::decode(&bytes).unwrap();
//! assert_eq!(back.as_str(), "env-detector");
//! assert!(codec::decode::<AgentId>(&[0xde, 0xad]).is_err());
//! ```
//!
//! # Rules for message enums
//! - Variants that go over the network are never renamed: ractor_cluster tags them by name.
//! - Every field and every reply is a [`Wire<T>`], so a malformed frame reaches the handler
//!   as an error value rather than being dropped or panicking.
//! - Queries are `Get…` and carry their `RpcReplyPort` last.

pub mod access;
pub mod admin;
pub mod assist;
pub mod business;
pub mod cluster;
pub mod codec;
pub mod env;
pub mod host;
pub mod ids;
pub mod kinds;
pub mod ports;
pub mod profile;
pub mod record;
pub mod repair;
pub mod run;
pub mod stage;

pub use codec::{Wire, WireError};
