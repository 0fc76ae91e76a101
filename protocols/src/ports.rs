//! The PortManager's messages: leases of free TCP ports.

use crate::codec::{Wire, WireError};
use ractor::RpcReplyPort;
use ractor_cluster_derive::RactorClusterMessage;
use serde::{Deserialize, Serialize};

/// A request for a port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRequest {
    /// What the port is for, such as `run-…/web`. Shown in listings.
    pub purpose: String,
    /// A port to try first, such as the framework's default. Another is given if it is busy.
    pub preferred: Option<u16>,
    /// The local pid of the actor that holds the lease. When that actor stops, for any
    /// reason, the lease is released.
    pub holder_pid: Option<u64>,
}

/// A port leased to one holder. No other lease names the same port until it is released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortLease {
    /// The lease's id, used to release it.
    pub id: u64,
    /// The port.
    pub port: u16,
    /// What it is for.
    pub purpose: String,
    /// The holder's local pid, when one was given.
    pub holder_pid: Option<u64>,
    /// When it was leased, in milliseconds since the Unix epoch.
    pub leased_at_ms: u64,
}

/// The PortManager's checkpoint: its leases, stored as `manager_state_PortManager`, so a
/// restarted PortManager never hands out a port that is still leased.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortLeasesCheckpoint {
    /// The process that wrote it: holder pids mean something only within it.
    pub boot: u64,
    /// The leases.
    pub leases: Vec<PortLease>,
    /// The next lease id, so ids are never reused.
    pub next_id: u64,
}

impl crate::record::Record for PortLeasesCheckpoint {
    const KIND: &'static str = "port_leases";
    const VERSION: u16 = 1;
}

/// Why a lease was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum PortError {
    /// Every port of the range is leased or in use.
    #[error("no free port in {start}..={end}: {leased} leased, the rest in use")]
    Exhausted {
        /// The range's first port.
        start: u16,
        /// The range's last port.
        end: u16,
        /// How many are leased.
        leased: u64,
    },
    /// No lease has that id.
    #[error("no lease with id {id}")]
    UnknownLease {
        /// The id asked for.
        id: u64,
    },
    /// The holder pid names no live local actor.
    #[error("no live local actor with pid {pid} to hold the lease")]
    UnknownHolder {
        /// The pid given.
        pid: u64,
    },
    /// The lease could not be checkpointed, so it was not granted.
    #[error("store: {reason}")]
    Store {
        /// What the store reported.
        reason: String,
    },
    /// The request or reply did not survive the wire.
    #[error(transparent)]
    Wire(#[from] WireError),
}

/// The PortManager's message enum. Variants are wire tags: never rename one.
#[derive(RactorClusterMessage)]
pub enum PortManagerMessage {
    /// Leases a free port, checked by binding it.
    #[rpc]
    Lease(
        Wire<LeaseRequest>,
        RpcReplyPort<Wire<Result<PortLease, PortError>>>,
    ),
    /// Releases a lease by id.
    #[rpc]
    Release(Wire<u64>, RpcReplyPort<Wire<Result<(), PortError>>>),
    /// Returns the current leases, by port.
    #[rpc]
    GetLeases(RpcReplyPort<Wire<Vec<PortLease>>>),
}

impl std::fmt::Debug for PortManagerMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PortManagerMessage::Lease(req, _) => write!(f, "Lease({req:?})"),
            PortManagerMessage::Release(id, _) => write!(f, "Release({id:?})"),
            PortManagerMessage::GetLeases(_) => f.write_str("GetLeases"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ractor::Message;

    #[tokio::test]
    async fn every_variant_round_trips() {
        let req = LeaseRequest {
            purpose: "web".into(),
            preferred: Some(5000),
            holder_pid: Some(7),
        };
        let (tx, _rx) = ractor::concurrency::oneshot();
        let msg = PortManagerMessage::Lease(Wire::new(req.clone()), RpcReplyPort::from(tx));
        match PortManagerMessage::deserialize(msg.serialize().unwrap()).unwrap() {
            PortManagerMessage::Lease(w, _) => assert_eq!(w, Wire::Value(req)),
            other => panic!("{other:?}"),
        }
        let (tx, _rx) = ractor::concurrency::oneshot();
        let msg = PortManagerMessage::Release(Wire::new(42), RpcReplyPort::from(tx));
        match PortManagerMessage::deserialize(msg.serialize().unwrap()).unwrap() {
            PortManagerMessage::Release(w, _) => assert_eq!(w, Wire::Value(42)),
            other => panic!("{other:?}"),
        }
        let (tx, _rx) = ractor::concurrency::oneshot();
        let msg = PortManagerMessage::GetLeases(RpcReplyPort::from(tx));
        assert!(matches!(
            PortManagerMessage::deserialize(msg.serialize().unwrap()).unwrap(),
            PortManagerMessage::GetLeases(_)
        ));
    }
}
