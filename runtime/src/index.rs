//! Context indexing: a repository's files, chunked along lines, in an index that answers
//! questions about it ("where is the database connection configured").
//!
//! Three indexers behind one trait, [`Indexer`], one per tier band (ARCHITECTURE.md,
//! "Context indexing, by tier"):
//!
//! - [`simple::SimpleIndex`]: BM25 full-text search with tantivy, in memory.
//! - [`vector::VectorIndex`]: HNSW (hnsw_rs) over the embeddings of an [`Embedder`]
//!   (all-MiniLM-L6-v2 with candle), in memory.
//! - [`collection::CollectionIndex`]: a persistent, named collection: tantivy on disk, the
//!   HNSW graph dumped and reloaded, the chunks' metadata in the store. It filters by
//!   path glob and language, and ranks by fusing BM25 and vector ranks (hybrid).
//!
//! Every indexer is incremental: [`update`] walks the repository ([`files`]), hashes each
//! file, and hands the indexer only the files whose hash changed, and the paths that are
//! gone. [`choose()`] decides which indexer a request gets: explicit config, then the tier,
//! then the advice of the agents (memory, whether the embedder is there), never above the
//! tier's rights.
//!
//! [`Embedder`]: crate::models::Embedder

pub mod choose;
pub mod collection;
mod core;
pub mod files;
pub mod simple;
pub mod vector;

pub use choose::{IndexAdvice, IndexChoice, choose};
pub use core::EMBED_CHARS;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

/// Which indexer, in the order of the rights they take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IndexKind {
    /// BM25 full text (tantivy).
    Simple,
    /// HNSW over embeddings, in memory.
    Vector,
    /// Persistent, filtered, hybrid.
    Collection,
}

impl IndexKind {
    /// Its name, as the CLI and reports write it.
    pub fn as_str(self) -> &'static str {
        match self {
            IndexKind::Simple => "simple",
            IndexKind::Vector => "vector",
            IndexKind::Collection => "collection",
        }
    }
}

impl From<reporunner_protocols::host::IndexerKind> for IndexKind {
    fn from(kind: reporunner_protocols::host::IndexerKind) -> Self {
        use reporunner_protocols::host::IndexerKind as K;
        match kind {
            K::Simple => IndexKind::Simple,
            K::Vector => IndexKind::Vector,
            K::Collection => IndexKind::Collection,
        }
    }
}

impl std::fmt::Display for IndexKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for IndexKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "simple" | "bm25" => Ok(IndexKind::Simple),
            "vector" | "hnsw" | "faiss" => Ok(IndexKind::Vector),
            "collection" | "chroma" => Ok(IndexKind::Collection),
            other => Err(format!(
                "{other:?} is not an indexer: simple, vector or collection"
            )),
        }
    }
}

/// Why indexing or a search failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    /// The tier may not use the indexer asked for.
    #[error("the {tier} tier may not use the {asked} index: its best is {allowed}")]
    Forbidden {
        /// The tier.
        tier: String,
        /// The indexer asked for.
        asked: IndexKind,
        /// The best it may use.
        allowed: IndexKind,
    },
    /// The repository cannot be walked.
    #[error("{path} is not a folder")]
    NotAFolder {
        /// The path given.
        path: String,
    },
    /// A filter that does not parse.
    #[error("bad filter: {0}")]
    BadFilter(String),
    /// The full-text engine failed.
    #[error("full-text index: {0}")]
    Text(String),
    /// The vector index or the embedder failed.
    #[error("vector index: {0}")]
    Vector(String),
    /// The collection's files or records could not be read or written.
    #[error("collection {name}: {reason}")]
    Store {
        /// The collection.
        name: String,
        /// What failed.
        reason: String,
    },
}

/// A piece of a file: a range of its lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    /// The file, relative to the repository root, with `/` separators.
    pub path: String,
    /// The first line, counting from 1.
    pub start_line: u32,
    /// The last line, included.
    pub end_line: u32,
    /// The file's language, from its name (`python`, `markdown`, `text`, ...).
    pub language: String,
    /// The lines.
    pub text: String,
}

/// A file whose content changed (or is new), with its chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChunks {
    /// The file, relative to the root.
    pub path: String,
    /// The SHA-256 of its content, hex.
    pub hash: String,
    /// Its chunks, in order.
    pub chunks: Vec<Chunk>,
}

/// What to keep of the results.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    /// A glob the path must match, such as `src/**/*.py`.
    pub path_glob: Option<String>,
    /// The language it must be in.
    pub language: Option<String>,
}

/// A question to an index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Query {
    /// The question, in words or code.
    pub text: String,
    /// How many hits.
    pub k: usize,
    /// What to keep.
    pub filter: Filter,
}

impl Query {
    /// The top `k` for `text`, unfiltered.
    pub fn new(text: impl Into<String>, k: usize) -> Self {
        Self {
            text: text.into(),
            k,
            filter: Filter::default(),
        }
    }
}

/// One answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// The file.
    pub path: String,
    /// The first line of the chunk.
    pub start_line: u32,
    /// Its last line.
    pub end_line: u32,
    /// The file's language.
    pub language: String,
    /// How well it answers: BM25 for Simple, cosine for Vector, fused rank for Collection.
    pub score: f32,
    /// The lines that answer best, cut short.
    pub snippet: String,
}

/// What an update did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexStats {
    /// Files walked.
    pub files_seen: u64,
    /// Files (re)indexed: new or changed.
    pub files_indexed: u64,
    /// Files gone since the last update, dropped from the index.
    pub files_removed: u64,
    /// Files skipped as binary, too large or generated.
    pub files_skipped: u64,
    /// Chunks added.
    pub chunks_added: u64,
    /// Chunks in the index after the update.
    pub chunks_total: u64,
    /// Bytes of the files (re)indexed.
    pub bytes_indexed: u64,
    /// How long it took, in ms.
    pub ms: u64,
}

/// An index of one repository. See the module docs.
pub trait Indexer: Send + Sync + std::fmt::Debug {
    /// Which indexer this is.
    fn kind(&self) -> IndexKind;

    /// The files indexed, with the hash of the content they were indexed at.
    fn hashes(&self) -> &BTreeMap<String, String>;

    /// Replaces the chunks of each file with its new ones.
    ///
    /// # Errors
    /// If the engine or the embedder fails.
    fn upsert(&mut self, files: Vec<FileChunks>) -> Result<(), IndexError>;

    /// Drops the chunks of files that are gone.
    ///
    /// # Errors
    /// If the engine fails.
    fn remove(&mut self, paths: &[String]) -> Result<(), IndexError>;

    /// Makes the changes searchable (and, for a collection, durable).
    ///
    /// # Errors
    /// If the engine or the store fails.
    fn commit(&mut self) -> Result<(), IndexError>;

    /// The best `query.k` chunks for the query, best first.
    ///
    /// # Errors
    /// A bad filter, or an engine or embedder failure.
    fn search(&self, query: &Query) -> Result<Vec<Hit>, IndexError>;

    /// How many chunks it holds.
    fn len(&self) -> usize;

    /// Whether it was reloaded from what a previous process kept, rather than built.
    fn reloaded(&self) -> bool {
        false
    }

    /// Whether it holds no chunk.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How many chunks go to the indexer at once: embeddings are computed per batch.
pub const BATCH_CHUNKS: usize = 256;

/// Brings `index` up to date with the repository at `root`: walks it (streaming, one file
/// in memory at a time besides the batch), re-indexes the files whose content hash
/// changed, drops the files that are gone, and commits.
///
/// # Errors
/// [`IndexError::NotAFolder`], or the indexer's errors.
pub fn update(index: &mut dyn Indexer, root: &Path) -> Result<IndexStats, IndexError> {
    let started = Instant::now();
    let known = index.hashes().clone();
    let mut scanner = files::Scanner::new(root, &known)?;
    while let Some(batch) = scanner.next_batch(BATCH_CHUNKS) {
        index.upsert(batch)?;
    }
    let summary = scanner.finish();
    if !summary.gone.is_empty() {
        index.remove(&summary.gone)?;
    }
    index.commit()?;
    Ok(IndexStats {
        files_seen: summary.files_seen,
        files_indexed: summary.files_changed,
        files_removed: summary.gone.len() as u64,
        files_skipped: summary.files_skipped,
        chunks_added: summary.chunks,
        chunks_total: index.len() as u64,
        bytes_indexed: summary.bytes_changed,
        ms: started.elapsed().as_millis() as u64,
    })
}

/// The lines of `text` that answer `query` best (most query words), with one line of
/// context, cut to about 240 characters.
pub fn snippet(text: &str, query: &str) -> String {
    let words: Vec<String> = query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 2)
        .map(str::to_lowercase)
        .collect();
    let lines: Vec<&str> = text.lines().collect();
    let best = lines
        .iter()
        .enumerate()
        .max_by_key(|(i, l)| {
            let l = l.to_lowercase();
            (
                words.iter().filter(|w| l.contains(w.as_str())).count(),
                std::cmp::Reverse(*i),
            )
        })
        .map_or(0, |(i, _)| i);
    let from = best.saturating_sub(1);
    let out: String = lines[from..(best + 2).min(lines.len())]
        .iter()
        .map(|l| l.trim_end())
        .collect::<Vec<_>>()
        .join("\n");
    match out.char_indices().nth(240) {
        Some((i, _)) => format!("{}…", &out[..i]),
        None => out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_and_rank() {
        assert_eq!("BM25".parse::<IndexKind>(), Ok(IndexKind::Simple));
        assert_eq!("chroma".parse::<IndexKind>(), Ok(IndexKind::Collection));
        assert!("faiss2".parse::<IndexKind>().is_err());
        assert!(IndexKind::Simple < IndexKind::Vector && IndexKind::Vector < IndexKind::Collection);
    }

    #[test]
    fn snippets_show_the_line_that_answers() {
        let text = "import os\n\nDATABASES = {\n    'default': {'ENGINE': 'postgres'}\n}\n";
        let s = snippet(text, "database engine");
        assert!(s.contains("'ENGINE': 'postgres'"), "{s}");
        assert_eq!(snippet("", "x"), "");
    }
}
