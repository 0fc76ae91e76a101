//! The PortManager: leases free TCP ports, each to one holder at a time.
//!
//! A port is free when nothing listens on it and no lease names it. Whether something
//! listens is checked by binding it, on `0.0.0.0` and on `127.0.0.1`, so a service bound to
//! either address is noticed. A lease ends when it is released, or when the actor holding
//! it stops for any reason: the PortManager monitors each holder.

use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, SupervisionEvent};
use reporunner_protocols::Wire;
pub use reporunner_protocols::ports::PortManagerMessage;
use reporunner_protocols::ports::{LeaseRequest, PortError, PortLease, PortLeasesCheckpoint};
use reporunner_runtime::store::{CheckpointKind, Checkpoints, Store, boot_id};
use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, TcpListener};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// The ports leased when no range is configured: above the usual framework defaults and
/// below Linux's ephemeral range (32768–60999), so an outgoing connection never takes one.
pub const DEFAULT_PORT_RANGE: PortRange = PortRange {
    start: 20000,
    end: 29999,
};

/// An inclusive range of ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    /// The first port.
    pub start: u16,
    /// The last port.
    pub end: u16,
}

/// Leases free ports. See the module docs.
#[derive(Debug, Clone, Copy, Default)]
pub struct PortManager;

/// The logical name its checkpoint is kept under (`manager_state_PortManager`).
pub const CHECKPOINT_NAME: &str = "PortManager";

/// What the PortManager starts with.
#[derive(Debug, Clone)]
pub struct PortManagerArguments {
    /// The ports it leases, besides preferred ones.
    pub range: PortRange,
    /// Where its leases are checkpointed, so a restarted PortManager keeps them.
    pub store: Option<Arc<dyn Store>>,
}

impl Default for PortManagerArguments {
    fn default() -> Self {
        Self {
            range: DEFAULT_PORT_RANGE,
            store: None,
        }
    }
}

/// The PortManager's state.
#[derive(Debug)]
pub struct PortManagerState {
    /// The ports it leases, besides preferred ones.
    range: PortRange,
    /// Where the next scan of the range starts, so released ports are not reused at once
    /// (a service that just stopped may still hold them in TIME_WAIT).
    cursor: u16,
    /// The leases, by port: a port appears at most once, which is the whole promise.
    leases: BTreeMap<u16, PortLease>,
    /// The port of each lease id.
    ports_by_id: HashMap<u64, u16>,
    /// The leases of each monitored holder, released when it stops.
    by_holder: HashMap<ActorId, Vec<u64>>,
    next_id: u64,
    /// Where the leases are checkpointed after every change.
    store: Option<Arc<dyn Store>>,
}

impl Actor for PortManager {
    type Msg = PortManagerMessage;
    type State = PortManagerState;
    type Arguments = PortManagerArguments;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        if args.range.start == 0 || args.range.start > args.range.end {
            return Err(format!(
                "invalid port range {}..={}",
                args.range.start, args.range.end
            )
            .into());
        }
        let mut state = PortManagerState {
            range: args.range,
            cursor: args.range.start,
            leases: BTreeMap::new(),
            ports_by_id: HashMap::new(),
            by_holder: HashMap::new(),
            next_id: 1,
            store: args.store,
        };
        state.restore(&myself)?;
        Ok(state)
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            PortManagerMessage::Lease(request, reply) => {
                let mut result = match request.open() {
                    Ok(request) => state.lease(&myself, request),
                    Err(e) => Err(PortError::Wire(e)),
                };
                if let Ok(lease) = &result {
                    tracing::debug!(port = lease.port, id = lease.id, purpose = %lease.purpose, "port leased");
                    // Acknowledged only once a restarted PortManager would remember it.
                    if let Err(e) = state.checkpoint().await {
                        let _ = state.release(lease.id);
                        result = Err(e);
                    }
                }
                let _ = reply.send(Wire::new(result));
            }
            PortManagerMessage::Release(id, reply) => {
                let mut result = match id.open() {
                    Ok(id) => state.release(id).map(|_| ()),
                    Err(e) => Err(PortError::Wire(e)),
                };
                if result.is_ok()
                    && let Err(e) = state.checkpoint().await
                {
                    result = Err(e);
                }
                let _ = reply.send(Wire::new(result));
            }
            PortManagerMessage::GetLeases(reply) => {
                let _ = reply.send(Wire::new(state.leases.values().cloned().collect()));
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        // Events come from the holders we monitor: any exit ends their leases.
        let holder = match &event {
            SupervisionEvent::ActorTerminated(cell, ..)
            | SupervisionEvent::ActorFailed(cell, _) => cell.clone(),
            _ => return Ok(()),
        };
        if let Some(ids) = state.by_holder.remove(&holder.get_id()) {
            myself.get_cell().unmonitor(holder.clone());
            for id in ids {
                if let Ok(lease) = state.release(id) {
                    tracing::debug!(port = lease.port, id, holder = %holder.get_id(), "lease released: its holder stopped");
                }
            }
            if let Err(e) = state.checkpoint().await {
                tracing::warn!(error = %e, "port leases not checkpointed");
            }
        }
        Ok(())
    }
}

impl PortManagerState {
    /// Reloads the checkpointed leases. Leases of this process whose holders still run are
    /// kept, and their holders monitored again; the rest are gone with their holders.
    fn restore(&mut self, myself: &ActorRef<PortManagerMessage>) -> Result<(), PortError> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        let Some(cp) = store
            .load_checkpoint::<PortLeasesCheckpoint>(CheckpointKind::Manager, CHECKPOINT_NAME)
            .map_err(|e| PortError::Store {
                reason: e.to_string(),
            })?
        else {
            return Ok(());
        };
        self.next_id = cp.next_id.max(1);
        if cp.boot != boot_id() {
            tracing::info!(
                dropped = cp.leases.len(),
                "leases of a previous process dropped"
            );
            return Ok(());
        }
        for lease in cp.leases {
            let holder = match lease.holder_pid {
                Some(pid) => match ractor::registry::where_is_pid(ActorId::Local(pid)) {
                    Some(cell) => Some(cell),
                    None => continue,
                },
                None => None,
            };
            if let Some(holder) = holder {
                let ids = self.by_holder.entry(holder.get_id()).or_default();
                if ids.is_empty() {
                    myself.get_cell().monitor(holder);
                }
                ids.push(lease.id);
            }
            self.ports_by_id.insert(lease.id, lease.port);
            self.leases.insert(lease.port, lease);
        }
        tracing::info!(kept = self.leases.len(), "port leases restored");
        Ok(())
    }

    /// Writes the leases and waits until they are on disk.
    async fn checkpoint(&self) -> Result<(), PortError> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        let cp = PortLeasesCheckpoint {
            boot: boot_id(),
            leases: self.leases.values().cloned().collect(),
            next_id: self.next_id,
        };
        store
            .save_checkpoint(CheckpointKind::Manager, CHECKPOINT_NAME, &cp)
            .await
            .map_err(|e| PortError::Store {
                reason: e.to_string(),
            })
    }

    fn lease(
        &mut self,
        myself: &ActorRef<PortManagerMessage>,
        request: LeaseRequest,
    ) -> Result<PortLease, PortError> {
        let holder = match request.holder_pid {
            Some(pid) => Some(
                ractor::registry::where_is_pid(ActorId::Local(pid))
                    .ok_or(PortError::UnknownHolder { pid })?,
            ),
            None => None,
        };
        let port = self.find_free(request.preferred)?;
        let id = self.next_id;
        self.next_id += 1;
        let lease = PortLease {
            id,
            port,
            purpose: request.purpose,
            holder_pid: request.holder_pid,
            leased_at_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or_default(),
        };
        self.leases.insert(port, lease.clone());
        self.ports_by_id.insert(id, port);
        if let Some(holder) = holder {
            let leases = self.by_holder.entry(holder.get_id()).or_default();
            if leases.is_empty() {
                myself.get_cell().monitor(holder);
            }
            leases.push(id);
        }
        Ok(lease)
    }

    /// Removes lease `id`, returning it.
    fn release(&mut self, id: u64) -> Result<PortLease, PortError> {
        let port = self
            .ports_by_id
            .remove(&id)
            .ok_or(PortError::UnknownLease { id })?;
        let lease = self
            .leases
            .remove(&port)
            .expect("ports_by_id and leases agree");
        if let Some(pid) = lease.holder_pid
            && let Some(ids) = self.by_holder.get_mut(&ActorId::Local(pid))
        {
            ids.retain(|i| *i != id);
        }
        Ok(lease)
    }

    /// Picks the preferred port if it is free, else the next free one of the range.
    fn find_free(&mut self, preferred: Option<u16>) -> Result<u16, PortError> {
        if let Some(p) = preferred
            && p != 0
            && !self.leases.contains_key(&p)
            && bindable(p)
        {
            return Ok(p);
        }
        let PortRange { start, end } = self.range;
        let span = u32::from(end - start) + 1;
        for step in 0..span {
            let offset = (u32::from(self.cursor - start) + step) % span;
            let p = start + offset as u16;
            if !self.leases.contains_key(&p) && bindable(p) {
                self.cursor = if p == end { start } else { p + 1 };
                return Ok(p);
            }
        }
        Err(PortError::Exhausted {
            start,
            end,
            leased: self.leases.len() as u64,
        })
    }
}

/// Returns whether nothing listens on `port`, on any IPv4 address. On Linux a listener on
/// the wildcard address conflicts with one on a specific address and the reverse, so the
/// two binds together catch a service bound to either.
fn bindable(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)).is_ok()
        && TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

#[cfg(test)]
mod tests;
