//! The run book: runs and their events at rest, shared by the OrchestratorManager and the
//! orchestrators.

use reporunner_protocols::ids::RunId;
use reporunner_protocols::run::{RunError, RunEvent, RunEventKind, RunRecord};
use reporunner_runtime::store::{Store, StoreError, StoreExt, Tree};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// Reads and writes runs and their events.
#[derive(Debug, Clone)]
pub struct RunBook {
    store: Arc<dyn Store>,
}

fn store_error(e: StoreError) -> RunError {
    RunError::Store {
        reason: e.to_string(),
    }
}

impl RunBook {
    /// A run book on `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Returns the run `id`.
    ///
    /// # Errors
    /// [`RunError::Store`] if it cannot be read.
    pub fn load(&self, id: &RunId) -> Result<Option<RunRecord>, RunError> {
        self.store
            .get_record::<RunRecord>(Tree::Runs, id.as_str())
            .map_err(store_error)
    }

    /// Returns every readable run, newest first. An unreadable record is logged and left
    /// out, so one bad record does not hide the others.
    ///
    /// # Errors
    /// [`RunError::Store`] if the tree cannot be scanned.
    pub fn list(&self) -> Result<Vec<RunRecord>, RunError> {
        let mut runs: Vec<RunRecord> = self
            .store
            .scan_records::<RunRecord>(Tree::Runs, "")
            .map_err(store_error)?
            .into_iter()
            .filter_map(|(key, r)| match r {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::warn!(run = %key, error = %e, "unreadable run record skipped");
                    None
                }
            })
            .collect();
        runs.sort_by(|a, b| b.id.cmp(&a.id));
        Ok(runs)
    }

    /// Returns the events of run `id`, in order.
    ///
    /// # Errors
    /// [`RunError::Store`] if they cannot be read.
    pub fn events(&self, id: &RunId) -> Result<Vec<RunEvent>, RunError> {
        self.store
            .scan_records::<RunEvent>(Tree::RunEvents, &format!("{id}/"))
            .map_err(store_error)?
            .into_iter()
            .map(|(_, r)| r.map_err(store_error))
            .collect()
    }

    /// Writes `record` and appends `events` to it, then waits until both are on disk: a
    /// checkpoint is acknowledged only once it would survive a crash.
    ///
    /// # Errors
    /// [`RunError::Store`].
    pub async fn save(
        &self,
        record: &mut RunRecord,
        events: Vec<(RunEventKind, String)>,
    ) -> Result<(), RunError> {
        record.updated_ms = now_ms();
        for (kind, message) in events {
            let seq = self.store.generate_id().map_err(store_error)?;
            let event = RunEvent {
                run: record.id.clone(),
                seq,
                at_ms: record.updated_ms,
                kind,
                message,
            };
            self.store
                .put_record(
                    Tree::RunEvents,
                    &format!("{}/{seq:016x}", record.id),
                    &event,
                )
                .map_err(store_error)?;
        }
        self.store
            .put_record_durable(Tree::Runs, record.id.as_str(), record)
            .await
            .map_err(store_error)
    }
}
