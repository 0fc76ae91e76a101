//! The ContextIndexer agent: keeps an index of each repository it is asked about, brings
//! it up to date with the File agent's stream of changed files, and answers searches.
//!
//! Which indexer a request gets is [`choose()`]'s decision: the request's explicit kind,
//! then the asker's tier, then the advice of the agents (the ModelManager on whether the
//! embedder is there, the EnvDetector on memory), then the host (a store to keep a
//! collection in). A kind above the tier's rights is refused with
//! [`IndexError::Forbidden`].
//!
//! Simple and Vector indexes live in this agent's memory; a Collection lives in the
//! node's store and data directory (`<data>/index/<name>`), and is reloaded, not rebuilt,
//! by a new process.

use crate::agents::file::{FileEvent, FileMessage, ScanRequest, ScanSummary};
use crate::managers::model_manager::ModelManagerMessage;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use ractor_cluster_derive::RactorMessage;
use reporunner_protocols::Wire;
use reporunner_protocols::access::Tier;
use reporunner_protocols::env::EnvDetectorMessage;
use reporunner_protocols::ids::AgentId;
use reporunner_protocols::kinds::{AgentKindDescriptor, AgentNeeds, RestartType};
use reporunner_protocols::stage::IndexReport;
use reporunner_runtime::index::collection::CollectionIndex;
use reporunner_runtime::index::simple::SimpleIndex;
use reporunner_runtime::index::vector::VectorIndex;
use reporunner_runtime::index::{Hit, IndexAdvice, IndexError, IndexKind, Indexer, Query, choose};
use reporunner_runtime::kinds::AgentKind;
use reporunner_runtime::models::Embedder;
use reporunner_runtime::naming::{Namespace, lookup};
use reporunner_runtime::store::Store;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;

/// The kind name the ContextIndexer is registered under.
pub const KIND: &str = "context-indexer";

/// Which repository, for whom, and which indexer if the asker says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexRequest {
    /// The repository's folder.
    pub root: PathBuf,
    /// The asker's tier.
    pub tier: Tier,
    /// The indexer asked for; `None` lets the rules choose.
    pub kind: Option<IndexKind>,
}

/// A search, after bringing the index up to date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchRequest {
    /// The index to search.
    pub index: IndexRequest,
    /// The question.
    pub query: Query,
}

/// A search's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchAnswer {
    /// How the index was chosen and brought up to date.
    pub report: IndexReport,
    /// The hits, best first.
    pub hits: Vec<Hit>,
}

/// The ContextIndexer's messages: local (they carry results of the node's models).
#[derive(Debug, RactorMessage)]
pub enum ContextIndexerMessage {
    /// Brings the repository's index up to date.
    Index(IndexRequest, RpcReplyPort<Result<IndexReport, IndexError>>),
    /// Brings the index up to date and searches it.
    Search(
        Box<SearchRequest>,
        RpcReplyPort<Result<SearchAnswer, IndexError>>,
    ),
}

/// The ContextIndexer.
#[derive(Debug, Clone, Copy, Default)]
pub struct ContextIndexer;

/// What the ContextIndexer starts with.
#[derive(Debug, Clone)]
pub struct ContextIndexerArguments {
    /// Where the File agent, the ModelManager and the EnvDetector are registered.
    pub namespace: Namespace,
    /// The node's store, for collections.
    pub store: Option<Arc<dyn Store>>,
}

/// The ContextIndexer's state: the indexes it keeps, by repository and kind.
#[derive(Debug)]
pub struct ContextIndexerState {
    args: ContextIndexerArguments,
    indexes: HashMap<(PathBuf, IndexKind), Box<dyn Indexer>>,
}

impl Actor for ContextIndexer {
    type Msg = ContextIndexerMessage;
    type State = ContextIndexerState;
    type Arguments = ContextIndexerArguments;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: ContextIndexerArguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(ContextIndexerState {
            args,
            indexes: HashMap::new(),
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            ContextIndexerMessage::Index(request, reply) => {
                let result = state.update(&request).await.map(|(report, _)| report);
                let _ = reply.send(result);
            }
            ContextIndexerMessage::Search(request, reply) => {
                let result = state.search(*request).await;
                let _ = reply.send(result);
            }
        }
        Ok(())
    }
}

/// The name of the collection of the repository at `root`, indexed with `embedder`.
pub fn collection_name(root: &Path, embedder: &str) -> String {
    let digest = Sha256::digest(format!("{}\n{embedder}", root.display()).as_bytes());
    format!("repo-{}", &format!("{digest:x}")[..16])
}

impl ContextIndexerState {
    /// The embedder, or why there is none (from the ModelManager).
    async fn embedder(&self) -> (Option<Arc<dyn Embedder>>, Option<String>) {
        let Some(mm) = lookup::<ModelManagerMessage>(&self.args.namespace.model_manager()) else {
            return (None, Some("the model manager is not running".into()));
        };
        match ractor::call_t!(mm, ModelManagerMessage::GetEmbedder, 120_000) {
            Ok(choice) => match choice.fallback {
                None => (Some(choice.embedder), None),
                Some(why) => (None, Some(why)),
            },
            Err(e) => (None, Some(format!("the model manager did not answer: {e}"))),
        }
    }

    /// The memory available, from the EnvDetector when it runs (0: unknown).
    async fn memory_available(&self) -> u64 {
        let name = self.args.namespace.agent(&AgentId::new("env-detector"));
        let Some(env) = lookup::<EnvDetectorMessage>(&name) else {
            return 0;
        };
        ractor::call_t!(
            env,
            EnvDetectorMessage::GetHostProfile,
            30_000,
            Wire::new(false)
        )
        .ok()
        .and_then(|w| w.open().ok())
        .map_or(0, |p| p.memory.available_bytes)
    }

    /// Chooses the indexer, opens or finds the index, and streams the changed files into
    /// it. Returns the report and the index's key.
    async fn update(
        &mut self,
        request: &IndexRequest,
    ) -> Result<(IndexReport, (PathBuf, IndexKind)), IndexError> {
        let started = Instant::now();
        let root = request
            .root
            .canonicalize()
            .ok()
            .filter(|p| p.is_dir())
            .ok_or_else(|| IndexError::NotAFolder {
                path: request.root.display().to_string(),
            })?;
        let (embedder, missing) = self.embedder().await;
        let advice = IndexAdvice {
            embedder_missing: missing,
            memory_available: self.memory_available().await,
            persistent: self.args.store.is_some(),
        };
        let choice = choose(request.kind, request.tier, &advice)?;
        let key = (root.clone(), choice.kind);
        let index = match self.indexes.remove(&key) {
            Some(index) => index,
            None => self.open(&root, choice.kind, embedder.clone()).await?,
        };
        let reloaded = index.reloaded();
        let (back, outcome) = stream_into(&self.args.namespace, &root, index).await;
        let chunks = back.as_ref().map_or(0, |ix| ix.len() as u64);
        if let Some(index) = back {
            self.indexes.insert(key.clone(), index);
        }
        let summary = outcome?;
        Ok((
            IndexReport {
                kind: choice.kind.to_string(),
                reasons: choice.reasons,
                embedder: (choice.kind > IndexKind::Simple)
                    .then(|| embedder.map(|e| e.info().name.clone()))
                    .flatten(),
                reloaded,
                files_seen: summary.files_seen,
                files_indexed: summary.files_changed,
                files_removed: summary.gone.len() as u64,
                files_skipped: summary.files_skipped,
                chunks,
                bytes_indexed: summary.bytes_changed,
                ms: started.elapsed().as_millis() as u64,
                error: None,
            },
            key,
        ))
    }

    /// A new index of `kind` for `root` (a collection is reloaded when it was kept).
    async fn open(
        &self,
        root: &Path,
        kind: IndexKind,
        embedder: Option<Arc<dyn Embedder>>,
    ) -> Result<Box<dyn Indexer>, IndexError> {
        let need = || {
            embedder
                .clone()
                .ok_or_else(|| IndexError::Vector("no embedder".into()))
        };
        Ok(match kind {
            IndexKind::Simple => Box::new(SimpleIndex::new()?),
            IndexKind::Vector => Box::new(VectorIndex::new(need()?)),
            IndexKind::Collection => {
                let store = self.args.store.clone().ok_or_else(|| IndexError::Store {
                    name: root.display().to_string(),
                    reason: "this node has no store".into(),
                })?;
                let embedder = need()?;
                let name = collection_name(root, &embedder.info().name);
                let dir = store.data_dir().join("index").join(&name);
                tokio::task::spawn_blocking(move || {
                    CollectionIndex::open(&name, &dir, store, embedder)
                        .map(|c| Box::new(c) as Box<dyn Indexer>)
                })
                .await
                .map_err(|e| IndexError::Vector(e.to_string()))??
            }
        })
    }

    async fn search(&mut self, request: SearchRequest) -> Result<SearchAnswer, IndexError> {
        let (report, key) = self.update(&request.index).await?;
        let index = self
            .indexes
            .remove(&key)
            .ok_or_else(|| IndexError::Vector("the index went missing".into()))?;
        let query = request.query;
        let (index, hits) = tokio::task::spawn_blocking(move || {
            let hits = index.search(&query);
            (index, hits)
        })
        .await
        .map_err(|e| IndexError::Vector(e.to_string()))?;
        self.indexes.insert(key, index);
        Ok(SearchAnswer {
            report,
            hits: hits?,
        })
    }
}

/// A job for the index on a blocking thread.
type Job = Box<dyn FnOnce(&mut dyn Indexer) -> Result<(), IndexError> + Send>;

/// Runs `job` on `index` on a blocking thread; gives the index back, unless the job
/// panicked (then the index is dropped, and rebuilt on the next request).
async fn on_blocking(
    mut index: Box<dyn Indexer>,
    job: Job,
) -> (Option<Box<dyn Indexer>>, Result<(), IndexError>) {
    match tokio::task::spawn_blocking(move || {
        let r = job(index.as_mut());
        (index, r)
    })
    .await
    {
        Ok((index, r)) => (Some(index), r),
        Err(e) => (
            None,
            Err(IndexError::Vector(format!("indexing failed: {e}"))),
        ),
    }
}

/// Streams the File agent's changed files into `index`, drops the files that are gone,
/// and commits. The indexer works on a blocking thread, one batch at a time, while the
/// File agent walks on. Gives the index back (unless indexing panicked) with the outcome.
async fn stream_into(
    namespace: &Namespace,
    root: &Path,
    index: Box<dyn Indexer>,
) -> (Option<Box<dyn Indexer>>, Result<ScanSummary, IndexError>) {
    let name = namespace.agent(&AgentId::new(crate::agents::file::KIND));
    let Some(file) = lookup::<FileMessage>(&name) else {
        return (
            Some(index),
            Err(IndexError::Vector("the file agent is not running".into())),
        );
    };
    let (tx, mut rx) = mpsc::channel(2);
    let request = ScanRequest {
        root: root.to_path_buf(),
        known: Arc::new(index.hashes().clone()),
    };
    if let Err(e) = file.cast(FileMessage::Scan(request, tx)) {
        return (
            Some(index),
            Err(IndexError::Vector(format!("the file agent is gone: {e}"))),
        );
    }
    let mut index = index;
    while let Some(event) = rx.recv().await {
        let (back, result) = match event {
            FileEvent::Batch(files) => {
                on_blocking(index, Box::new(move |ix| ix.upsert(files))).await
            }
            FileEvent::Done(summary) => {
                let gone = summary.gone.clone();
                let (back, result) = on_blocking(
                    index,
                    Box::new(move |ix| {
                        if !gone.is_empty() {
                            ix.remove(&gone)?;
                        }
                        ix.commit()
                    }),
                )
                .await;
                return (back, result.map(|()| summary));
            }
            FileEvent::Failed(reason) => {
                return (Some(index), Err(IndexError::NotAFolder { path: reason }));
            }
        };
        match (back, result) {
            (Some(ix), Ok(())) => index = ix,
            (back, Err(e)) => return (back, Err(e)),
            (None, Ok(())) => unreachable!("on_blocking keeps the index when the job ran"),
        }
    }
    (
        Some(index),
        Err(IndexError::Vector("the file agent stopped mid-walk".into())),
    )
}

/// The ContextIndexer's kind, for the kind registry.
pub fn kind() -> AgentKind {
    AgentKind::with_config(
        AgentKindDescriptor {
            name: KIND.to_string(),
            description: "keeps each repository's context index and answers searches".to_string(),
            restart: RestartType::Permanent,
            needs: AgentNeeds::default(),
        },
        |ctx, _config: super::NoConfig| {
            (
                ContextIndexer,
                ContextIndexerArguments {
                    namespace: ctx.namespace.clone(),
                    store: ctx.store.clone(),
                },
            )
        },
    )
}
