//! [`SledStore`]: the embedded default [`Store`], on sled 0.34.

use super::{BatchOp, DataDirLock, Entry, FlushFuture, Store, StoreError, Tree};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// How often sled flushes on its own, bounding what an unflushed crash can lose.
pub const BACKGROUND_FLUSH_MS: u64 = 500;

/// The store on sled, in `<dir>/db`, locked by `<dir>/LOCK`.
#[derive(Debug, Clone)]
pub struct SledStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    db: sled::Db,
    /// One sled tree per [`Tree`], in [`Tree::ALL`] order.
    trees: Vec<sled::Tree>,
    commit: GroupCommit,
    /// Dropped last: the lock outlives the database handle.
    _lock: DataDirLock,
}

/// Group commit: the first flusher to arrive becomes the leader and fsyncs once for every
/// write registered before it started; the others wait for a leader whose flush covers
/// them.
#[derive(Debug)]
struct GroupCommit {
    state: Mutex<CommitState>,
    /// The highest ticket known to be on disk.
    durable: watch::Sender<u64>,
}

#[derive(Debug, Default)]
struct CommitState {
    /// The last ticket handed out; a ticket is taken after its writes.
    issued: u64,
    /// Whether a leader is flushing now.
    leading: bool,
}

impl SledStore {
    /// Opens (creating if needed) the store in `dir`.
    ///
    /// # Errors
    /// [`StoreError::Locked`] if another process holds `dir`, or the database error.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let lock = DataDirLock::acquire(dir)?;
        let db = sled::Config::new()
            .path(dir.join("db"))
            .flush_every_ms(Some(BACKGROUND_FLUSH_MS))
            .open()
            .map_err(|e| db_error(dir, e))?;
        let trees = Tree::ALL
            .iter()
            .map(|t| db.open_tree(t.name()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| db_error(dir, e))?;
        Ok(Self {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                db,
                trees,
                commit: GroupCommit {
                    state: Mutex::new(CommitState::default()),
                    durable: watch::Sender::new(0),
                },
                _lock: lock,
            }),
        })
    }

    fn tree(&self, tree: Tree) -> &sled::Tree {
        &self.inner.trees[tree.index()]
    }

    fn err(&self, e: sled::Error) -> StoreError {
        db_error(&self.inner.dir, e)
    }

    async fn group_flush(&self) -> Result<(), StoreError> {
        let commit = &self.inner.commit;
        let ticket = {
            let mut s = commit.state.lock().unwrap_or_else(|e| e.into_inner());
            s.issued += 1;
            s.issued
        };
        let mut durable = commit.durable.subscribe();
        loop {
            if *durable.borrow_and_update() >= ticket {
                return Ok(());
            }
            let lead = {
                let mut s = commit.state.lock().unwrap_or_else(|e| e.into_inner());
                if s.leading {
                    None
                } else {
                    s.leading = true;
                    Some(s.issued)
                }
            };
            let Some(covers) = lead else {
                // Someone else is flushing: wait for it, then look again.
                if durable.changed().await.is_err() {
                    return Ok(());
                }
                continue;
            };
            let result = fsync(&self.inner.db).await;
            commit
                .state
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .leading = false;
            match result {
                Ok(Ok(_)) => {
                    commit.durable.send_modify(|d| *d = (*d).max(covers));
                }
                Ok(Err(e)) => {
                    // Wake the waiters so one of them retries as the next leader.
                    commit.durable.send_modify(|_| {});
                    return Err(self.err(e));
                }
                Err(join) => {
                    commit.durable.send_modify(|_| {});
                    return Err(StoreError::Database {
                        dir: self.inner.dir.clone(),
                        reason: format!("flush task failed: {join}"),
                    });
                }
            }
        }
    }
}

/// Flushes sled without stalling the runtime: on a multi-threaded runtime the worker hands
/// its other tasks over and blocks in place (no thread hop, which costs more than the
/// fsync's own bookkeeping); elsewhere the flush runs on the blocking pool.
async fn fsync(db: &sled::Db) -> Result<sled::Result<usize>, tokio::task::JoinError> {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => Ok(tokio::task::block_in_place(|| db.flush())),
        _ => {
            let db = db.clone();
            tokio::task::spawn_blocking(move || db.flush()).await
        }
    }
}

fn db_error(dir: &Path, e: sled::Error) -> StoreError {
    StoreError::Database {
        dir: dir.to_path_buf(),
        reason: e.to_string(),
    }
}

impl Store for SledStore {
    fn data_dir(&self) -> &Path {
        &self.inner.dir
    }

    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .tree(tree)
            .get(key)
            .map_err(|e| self.err(e))?
            .map(|v| v.to_vec()))
    }

    fn insert(&self, tree: Tree, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.tree(tree)
            .insert(key, value)
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn remove(&self, tree: Tree, key: &[u8]) -> Result<(), StoreError> {
        self.tree(tree).remove(key).map_err(|e| self.err(e))?;
        Ok(())
    }

    fn apply(&self, tree: Tree, ops: Vec<BatchOp>) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for (k, v) in ops {
            match v {
                Some(v) => batch.insert(k, v),
                None => batch.remove(k),
            }
        }
        self.tree(tree).apply_batch(batch).map_err(|e| self.err(e))
    }

    fn scan_prefix(&self, tree: Tree, prefix: &[u8]) -> Result<Vec<Entry>, StoreError> {
        self.tree(tree)
            .scan_prefix(prefix)
            .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())))
            .collect::<Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    fn generate_id(&self) -> Result<u64, StoreError> {
        self.inner.db.generate_id().map_err(|e| self.err(e))
    }

    fn flush(&self) -> FlushFuture<'_> {
        Box::pin(self.group_flush())
    }

    fn flush_blocking(&self) -> Result<(), StoreError> {
        self.inner.db.flush().map_err(|e| self.err(e))?;
        Ok(())
    }
}
