//! Persistence: a [`Store`] of named trees, with sled as the embedded default.
//!
//! The store holds users, tokens, runs and their events, actor checkpoints, port leases,
//! services and the audit log, each in its own [`Tree`]. Values are
//! [records](reporunner_protocols::record): MessagePack with named fields and a schema
//! version. The seed's JSON files become keys: `users.json` is the `users` tree,
//! `agent_state_<Agent>.json` the key `agent_state_<Agent>` of the `checkpoints` tree, and
//! so on ([`checkpoint_key`]).
//!
//! # Durability
//! A write is in memory until it is flushed. sled flushes in the background every 500 ms,
//! and after a crash it recovers a prefix of the writes (the spike lost the last 0.7–1 % of
//! unflushed writes, never a hole). Writes that must survive a crash call
//! [`Store::flush`] before they are acknowledged. An fsync costs about 0.36 ms here, so
//! concurrent flushes are grouped: one fsync covers every write made before it started
//! (group commit).
//!
//! # One process per data directory
//! Opening takes an exclusive lock on `<dir>/LOCK`, which records the holder's pid and
//! command line; a second process gets [`StoreError::Locked`], which names both.

mod lock;
mod sled_store;

pub use lock::DataDirLock;
pub use sled_store::{BACKGROUND_FLUSH_MS, SledStore, valid_scope};

use reporunner_protocols::record::{self, Record, RecordError};
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

/// The trees of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tree {
    /// Users, by name (the seed's `users.json`).
    Users,
    /// API tokens, by their public id, with the secret's hash.
    Tokens,
    /// Runs and their phase checkpoints, by run id (the seed's `run_state.json`).
    Runs,
    /// Run events, by run id and sequence number.
    RunEvents,
    /// Actor checkpoints, by logical name (`agent_state_*`, `manager_state_*`, `admin_*`,
    /// `business_*`).
    Checkpoints,
    /// Port leases, by port.
    PortLeases,
    /// Running services, by id.
    Services,
    /// The audit log, by sequence number.
    Audit,
    /// Context index collections: their files and chunks, by collection and id.
    Index,
}

impl Tree {
    /// Every tree.
    pub const ALL: [Tree; 9] = [
        Tree::Users,
        Tree::Tokens,
        Tree::Runs,
        Tree::RunEvents,
        Tree::Checkpoints,
        Tree::PortLeases,
        Tree::Services,
        Tree::Audit,
        Tree::Index,
    ];

    /// Returns the tree's name on disk.
    pub fn name(self) -> &'static str {
        match self {
            Tree::Users => "users",
            Tree::Tokens => "tokens",
            Tree::Runs => "runs",
            Tree::RunEvents => "run_events",
            Tree::Checkpoints => "checkpoints",
            Tree::PortLeases => "port_leases",
            Tree::Services => "services",
            Tree::Audit => "audit",
            Tree::Index => "index",
        }
    }

    fn index(self) -> usize {
        Tree::ALL.iter().position(|t| *t == self).expect("listed")
    }
}

/// The kinds of actor checkpoint, named as the seed named their JSON files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckpointKind {
    /// An agent's state: `agent_state_<name>`.
    Agent,
    /// A manager's state: `manager_state_<name>`.
    Manager,
    /// The Admin's state: `admin_<name>`, such as `admin_tree`.
    Admin,
    /// A business orchestrator's state: `business_<client>`.
    Business,
}

/// Returns the checkpoint key of an actor, as the seed named its file without `.json`.
pub fn checkpoint_key(kind: CheckpointKind, name: &str) -> String {
    let prefix = match kind {
        CheckpointKind::Agent => "agent_state_",
        CheckpointKind::Manager => "manager_state_",
        CheckpointKind::Admin => "admin_",
        CheckpointKind::Business => "business_",
    };
    format!("{prefix}{name}")
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another process holds the data directory.
    #[error(
        "data directory {dir} is in use by another process ({holder}); stop it or choose another --data-dir"
    )]
    Locked {
        /// The directory.
        dir: PathBuf,
        /// The holder, as it recorded itself: pid and command line.
        holder: String,
    },
    /// The directory or its lock file could not be used.
    #[error("cannot use data directory {dir}: {source}")]
    Io {
        /// The directory.
        dir: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The embedded database reported an error.
    #[error("database error in {dir}: {reason}")]
    Database {
        /// The directory.
        dir: PathBuf,
        /// What sled reported.
        reason: String,
    },
    /// A stored value could not be read as the record asked for. Other records are
    /// unaffected.
    #[error("record {key:?} in tree {tree}: {source}")]
    Record {
        /// The tree.
        tree: &'static str,
        /// The key, lossily as text.
        key: String,
        /// What was wrong with it.
        #[source]
        source: RecordError,
    },
}

/// A key and its value.
pub type Entry = (Vec<u8>, Vec<u8>);

/// One operation of an atomic batch: set the key to `Some(value)`, or remove it (`None`).
pub type BatchOp = (Vec<u8>, Option<Vec<u8>>);

/// A future that resolves once data is on disk.
pub type FlushFuture<'a> = Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send + 'a>>;

/// A key-value store of named trees. Reads and writes are synchronous (they hit memory);
/// durability is asked for with [`Store::flush`].
pub trait Store: Send + Sync + fmt::Debug + 'static {
    /// Returns the data directory (a scope's own folder in it, for a scope).
    fn data_dir(&self) -> &Path;

    /// A store over the same database whose trees belong to `scope` alone: nothing written
    /// through it can be read through the unscoped store or another scope, and nothing of
    /// theirs through it. Ids ([`Store::generate_id`]) and flushes stay shared, so ids never
    /// repeat across scopes. Its data directory is `<dir>/scopes/<scope>`, made if missing.
    /// This is how each business client's users, runs and audit log are kept apart.
    ///
    /// # Errors
    /// A scope name that is not 1 to 64 of a-z, 0-9, `.`, `-` ([`valid_scope`]), or the
    /// database's or the folder's error.
    fn scope(&self, scope: &str) -> Result<Arc<dyn Store>, StoreError>;

    /// Returns the value at `key`.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Sets `key` to `value`. Not durable until flushed.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    fn insert(&self, tree: Tree, key: &[u8], value: &[u8]) -> Result<(), StoreError>;

    /// Removes `key`. Not durable until flushed.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    fn remove(&self, tree: Tree, key: &[u8]) -> Result<(), StoreError>;

    /// Applies several inserts (`Some`) and removals (`None`) atomically: after a crash,
    /// all or none of them are there.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    fn apply(&self, tree: Tree, ops: Vec<BatchOp>) -> Result<(), StoreError>;

    /// Returns every entry whose key starts with `prefix`, in key order.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    fn scan_prefix(&self, tree: Tree, prefix: &[u8]) -> Result<Vec<Entry>, StoreError>;

    /// Returns a number never returned before by this store, even across restarts.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    fn generate_id(&self) -> Result<u64, StoreError>;

    /// Resolves once every write made before the call is on disk. Concurrent callers share
    /// one fsync.
    fn flush(&self) -> FlushFuture<'_>;

    /// Blocks until every write made before the call is on disk, for code outside async.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    fn flush_blocking(&self) -> Result<(), StoreError>;
}

/// Typed records on top of any [`Store`].
pub trait StoreExt: Store {
    /// Reads the record at `key`.
    ///
    /// # Errors
    /// [`StoreError::Record`] if the value is not a readable `R` (the other records stay
    /// readable), or a database error.
    fn get_record<R: Record>(&self, tree: Tree, key: &str) -> Result<Option<R>, StoreError> {
        match self.get(tree, key.as_bytes())? {
            None => Ok(None),
            Some(bytes) => record::decode(&bytes)
                .map(Some)
                .map_err(|source| StoreError::Record {
                    tree: tree.name(),
                    key: key.to_string(),
                    source,
                }),
        }
    }

    /// Writes the record at `key`, in memory: call [`Store::flush`] before acknowledging.
    ///
    /// # Errors
    /// [`StoreError::Record`] if it cannot be encoded, or a database error.
    fn put_record<R: Record>(&self, tree: Tree, key: &str, value: &R) -> Result<(), StoreError> {
        let bytes = record::encode(value).map_err(|source| StoreError::Record {
            tree: tree.name(),
            key: key.to_string(),
            source,
        })?;
        self.insert(tree, key.as_bytes(), &bytes)
    }

    /// Writes the record at `key` and waits until it is on disk.
    ///
    /// # Errors
    /// As [`StoreExt::put_record`] and [`Store::flush`].
    fn put_record_durable<'a, R: Record + Sync>(
        &'a self,
        tree: Tree,
        key: &'a str,
        value: &'a R,
    ) -> FlushFuture<'a> {
        Box::pin(async move {
            self.put_record(tree, key, value)?;
            self.flush().await
        })
    }

    /// Reads every record whose key starts with `prefix`. Unreadable ones come back as
    /// errors in place, so one bad record does not hide the others.
    ///
    /// # Errors
    /// A database error.
    #[allow(clippy::type_complexity)]
    fn scan_records<R: Record>(
        &self,
        tree: Tree,
        prefix: &str,
    ) -> Result<Vec<(String, Result<R, StoreError>)>, StoreError> {
        Ok(self
            .scan_prefix(tree, prefix.as_bytes())?
            .into_iter()
            .map(|(k, v)| {
                let key = String::from_utf8_lossy(&k).into_owned();
                let rec = record::decode(&v).map_err(|source| StoreError::Record {
                    tree: tree.name(),
                    key: key.clone(),
                    source,
                });
                (key, rec)
            })
            .collect())
    }
}

impl<S: Store + ?Sized> StoreExt for S {}

/// Checkpoints of actors by logical name, on top of any [`Store`].
pub trait Checkpoints: Store {
    /// Loads the checkpoint of the actor `name`.
    ///
    /// # Errors
    /// As [`StoreExt::get_record`].
    fn load_checkpoint<R: Record>(
        &self,
        kind: CheckpointKind,
        name: &str,
    ) -> Result<Option<R>, StoreError> {
        self.get_record(Tree::Checkpoints, &checkpoint_key(kind, name))
    }

    /// Saves the checkpoint of the actor `name` and waits until it is on disk.
    fn save_checkpoint<'a, R: Record + Sync>(
        &'a self,
        kind: CheckpointKind,
        name: &'a str,
        value: &'a R,
    ) -> FlushFuture<'a> {
        Box::pin(async move {
            self.put_record(Tree::Checkpoints, &checkpoint_key(kind, name), value)?;
            self.flush().await
        })
    }
}

impl<S: Store + ?Sized> Checkpoints for S {}

/// A number drawn once per process. Checkpoints that name live actors by their process-local
/// pids record it, so a later process can tell its own pids from a dead process's.
pub fn boot_id() -> u64 {
    static BOOT: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *BOOT.get_or_init(rand::random)
}

/// The data directory used when none is configured: `$XDG_DATA_HOME/reporunner`, else
/// `$HOME/.local/share/reporunner`, else `./.reporunner`.
pub fn default_data_dir(env: impl Fn(&str) -> Option<String>) -> PathBuf {
    if let Some(xdg) = env("XDG_DATA_HOME").filter(|s| Path::new(s).is_absolute()) {
        return PathBuf::from(xdg).join("reporunner");
    }
    if let Some(home) = env("HOME").filter(|s| !s.is_empty()) {
        return PathBuf::from(home).join(".local/share/reporunner");
    }
    PathBuf::from(".reporunner")
}

#[cfg(test)]
mod tests;
