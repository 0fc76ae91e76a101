//! The File agent: walks a repository for an index and streams what changed.
//!
//! It walks with the `ignore` crate (`.gitignore` respected; binary, vendored, generated
//! and oversized files skipped; see [`reporunner_runtime::index::files`]), hashes each
//! file, and sends the files whose hash differs from the index's, chunked along lines, in
//! batches over a bounded channel: the walk waits while the indexer is busy, and only the
//! batch in flight is in memory, never the whole tree. The last event names the files
//! that are gone.

use ractor::{Actor, ActorProcessingErr, ActorRef};
use ractor_cluster_derive::RactorMessage;
use reporunner_protocols::kinds::{AgentKindDescriptor, AgentNeeds, RestartType};
pub use reporunner_runtime::index::files::ScanSummary;
use reporunner_runtime::index::files::Scanner;
use reporunner_runtime::index::{BATCH_CHUNKS, FileChunks};
use reporunner_runtime::kinds::AgentKind;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::mpsc;

/// The kind name the File agent is registered under.
pub const KIND: &str = "file";

/// What to walk, and what the index already holds.
#[derive(Debug, Clone)]
pub struct ScanRequest {
    /// The repository.
    pub root: PathBuf,
    /// The files the index holds, with their content hashes.
    pub known: Arc<BTreeMap<String, String>>,
}

/// What the File agent streams back.
#[derive(Debug)]
pub enum FileEvent {
    /// New or changed files, chunked: about [`BATCH_CHUNKS`] chunks.
    Batch(Vec<FileChunks>),
    /// The walk ended.
    Done(ScanSummary),
    /// The walk could not start (the root is not a folder).
    Failed(String),
}

/// The File agent's messages: local, since they carry a channel.
#[derive(Debug, RactorMessage)]
pub enum FileMessage {
    /// Walks a repository, streaming its changed files to the channel.
    Scan(ScanRequest, mpsc::Sender<FileEvent>),
}

/// The File agent.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileAgent;

impl Actor for FileAgent {
    type Msg = FileMessage;
    type State = ();
    type Arguments = ();

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        _args: (),
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        _state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let FileMessage::Scan(request, tx) = message;
        // The walk runs beside the mailbox: several repositories at once, and a slow
        // indexer holds up only its own walk.
        tokio::task::spawn_blocking(move || scan(&request, &tx));
        Ok(())
    }
}

/// Walks `request.root`, sending batches to `tx`; stops early if the receiver is gone.
pub fn scan(request: &ScanRequest, tx: &mpsc::Sender<FileEvent>) {
    let mut scanner = match Scanner::new(&request.root, &request.known) {
        Ok(s) => s,
        Err(e) => {
            let _ = tx.blocking_send(FileEvent::Failed(e.to_string()));
            return;
        }
    };
    while let Some(batch) = scanner.next_batch(BATCH_CHUNKS) {
        if tx.blocking_send(FileEvent::Batch(batch)).is_err() {
            return;
        }
    }
    let _ = tx.blocking_send(FileEvent::Done(scanner.finish()));
}

/// The File agent's kind, for the kind registry.
pub fn kind() -> AgentKind {
    AgentKind::with_config(
        AgentKindDescriptor {
            name: KIND.to_string(),
            description: "walks a repository and streams its changed files, chunked".to_string(),
            restart: RestartType::Permanent,
            needs: AgentNeeds::default(),
        },
        |_ctx, _config: super::NoConfig| (FileAgent, ()),
    )
}
