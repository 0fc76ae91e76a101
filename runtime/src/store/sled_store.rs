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
    /// The trees this handle reads and writes: the store's own, or a scope's.
    view: Arc<View>,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    db: sled::Db,
    commit: GroupCommit,
    /// Dropped last: the lock outlives the database handle.
    _lock: DataDirLock,
}

/// The trees of the unscoped store, or of one scope ([`Store::scope`]).
#[derive(Debug)]
struct View {
    /// What [`Store::data_dir`] answers: the directory, or the scope's folder in it.
    dir: PathBuf,
    /// One sled tree per [`Tree`], in [`Tree::ALL`] order.
    trees: Vec<sled::Tree>,
}

/// The sled tree name of `tree` in `scope` (none: the store's own trees). A scope's names
/// hold a `/`, which no unscoped tree's name does, so no scope can name another's trees.
fn tree_name(scope: Option<&str>, tree: Tree) -> String {
    match scope {
        None => tree.name().to_string(),
        Some(scope) => format!("scope/{scope}/{}", tree.name()),
    }
}

/// Whether `scope` may name a scope: 1 to 64 of a-z, 0-9, `.`, `-`, starting with a letter
/// or digit.
pub fn valid_scope(scope: &str) -> bool {
    (1..=64).contains(&scope.len())
        && scope
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && scope.as_bytes()[0].is_ascii_alphanumeric()
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
        let trees = open_trees(&db, dir, None)?;
        Ok(Self {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                db,
                commit: GroupCommit {
                    state: Mutex::new(CommitState::default()),
                    durable: watch::Sender::new(0),
                },
                _lock: lock,
            }),
            view: Arc::new(View {
                dir: dir.to_path_buf(),
                trees,
            }),
        })
    }

    fn tree(&self, tree: Tree) -> &sled::Tree {
        &self.view.trees[tree.index()]
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

/// Flushes sled on the blocking pool, without stalling the runtime.
///
/// Never `block_in_place`: it turns the calling worker into a blocking-pool thread, which
/// exits after 10 s idle, and a confined service spawned from that thread earlier dies
/// with it (bubblewrap's `--die-with-parent` follows the parent *thread*). Services that
/// took more than 10 s to answer were killed silently that way.
async fn fsync(db: &sled::Db) -> Result<sled::Result<usize>, tokio::task::JoinError> {
    let db = db.clone();
    tokio::task::spawn_blocking(move || db.flush()).await
}

fn open_trees(
    db: &sled::Db,
    dir: &Path,
    scope: Option<&str>,
) -> Result<Vec<sled::Tree>, StoreError> {
    Tree::ALL
        .iter()
        .map(|t| db.open_tree(tree_name(scope, *t)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| db_error(dir, e))
}

fn db_error(dir: &Path, e: sled::Error) -> StoreError {
    StoreError::Database {
        dir: dir.to_path_buf(),
        reason: e.to_string(),
    }
}

impl Store for SledStore {
    fn data_dir(&self) -> &Path {
        &self.view.dir
    }

    fn scope(&self, scope: &str) -> Result<Arc<dyn Store>, StoreError> {
        if !valid_scope(scope) {
            return Err(StoreError::Database {
                dir: self.inner.dir.clone(),
                reason: format!(
                    "{scope:?} is not a scope name (1 to 64 of a-z, 0-9, '.', '-', starting with a letter or digit)"
                ),
            });
        }
        // Scopes do not nest: a scope of a scope is a scope of the whole store.
        let dir = self.inner.dir.join("scopes").join(scope);
        std::fs::create_dir_all(&dir).map_err(|source| StoreError::Io {
            dir: dir.clone(),
            source,
        })?;
        let trees = open_trees(&self.inner.db, &self.inner.dir, Some(scope))?;
        Ok(Arc::new(SledStore {
            inner: self.inner.clone(),
            view: Arc::new(View { dir, trees }),
        }))
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
