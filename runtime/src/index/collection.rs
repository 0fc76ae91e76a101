//! The Collection indexer (the seed's "Chroma"): a persistent, named collection.
//!
//! - Full text: tantivy, in `<dir>/bm25`.
//! - Vectors: the HNSW graph, dumped to `<dir>/graph` at each commit and reloaded when the
//!   collection is opened again: no re-embedding and no rebuilding after a restart.
//! - Metadata: each chunk (path, lines, language, text, vector) and the collection's files
//!   with their content hashes, in the store's `index` tree, written at each commit.
//!
//! Searches may filter by path glob and language, and rank by fusing the BM25 and the
//! vector ranks (reciprocal rank fusion). A collection opened with another embedder than
//! the one it was built with starts afresh: its vectors would not compare.

use super::core::{Ann, Bm25, Contents, Held, fuse};
use super::simple::bm25_ranked;
use super::vector::{compact, take_embedded, vector_hits};
use super::{FileChunks, Hit, IndexError, IndexKind, Indexer, Query};
use crate::models::Embedder;
use crate::store::{BatchOp, Store, StoreExt, Tree};
use reporunner_protocols::record::{self, Record};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A collection's record: what it was built with and which files it holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct CollectionMeta {
    embedder: String,
    dim: usize,
    next_id: u64,
    hashes: BTreeMap<String, String>,
    ids: BTreeMap<String, Vec<u64>>,
    /// The basename of the dumped graph, when there is one.
    graph: Option<String>,
    /// Points in the graph, dead ones included.
    points: usize,
}

impl Record for CollectionMeta {
    const KIND: &'static str = "index_collection";
    const VERSION: u16 = 1;
}

impl Record for Held {
    const KIND: &'static str = "index_chunk";
    const VERSION: u16 = 1;
}

/// A persistent, filtered, hybrid index. See the module docs.
#[derive(Debug)]
pub struct CollectionIndex {
    name: String,
    dir: PathBuf,
    store: Arc<dyn Store>,
    contents: Contents,
    bm25: Bm25,
    ann: Ann,
    embedder: Arc<dyn Embedder>,
    graph: Option<String>,
    /// Chunks added and removed since the last commit.
    added: Vec<u64>,
    removed: Vec<u64>,
    reloaded: bool,
}

impl CollectionIndex {
    /// Opens the collection `name`, kept in `dir` and in `store`, as it was last
    /// committed; or creates it.
    ///
    /// # Errors
    /// If its files or records cannot be read or created.
    pub fn open(
        name: &str,
        dir: &Path,
        store: Arc<dyn Store>,
        embedder: Arc<dyn Embedder>,
    ) -> Result<Self, IndexError> {
        let fail = |reason: String| IndexError::Store {
            name: name.to_string(),
            reason,
        };
        let meta: Option<CollectionMeta> = store
            .get_record(Tree::Index, &format!("{name}/meta"))
            .map_err(|e| fail(e.to_string()))?;
        let same_embedder =
            |m: &CollectionMeta| m.embedder == embedder.info().name && m.dim == embedder.dim();
        match meta {
            Some(meta) if same_embedder(&meta) => {
                let mut contents = Contents {
                    hashes: meta.hashes,
                    ids: meta.ids,
                    next_id: meta.next_id,
                    ..Contents::default()
                };
                for (key, held) in store
                    .scan_records::<Held>(Tree::Index, &format!("{name}/chunk/"))
                    .map_err(|e| fail(e.to_string()))?
                {
                    let id = key
                        .rsplit('/')
                        .next()
                        .and_then(|h| u64::from_str_radix(h, 16).ok());
                    match (id, held) {
                        (Some(id), Ok(held)) => {
                            contents.chunks.insert(id, held);
                        }
                        (_, Err(e)) => return Err(fail(format!("a chunk is unreadable: {e}"))),
                        (None, _) => return Err(fail(format!("a chunk key is malformed: {key}"))),
                    }
                }
                let ann = match &meta.graph {
                    Some(basename) => Ann::load(&dir.join("graph"), basename, meta.points)?,
                    None => Ann::new(1024),
                };
                Ok(Self {
                    name: name.to_string(),
                    dir: dir.to_path_buf(),
                    bm25: Bm25::in_dir(&dir.join("bm25"))?,
                    store,
                    contents,
                    ann,
                    embedder,
                    graph: meta.graph,
                    added: Vec::new(),
                    removed: Vec::new(),
                    reloaded: true,
                })
            }
            _ => {
                // New, or built with another embedder: start afresh.
                let _ = std::fs::remove_dir_all(dir);
                let stale: Vec<BatchOp> = store
                    .scan_prefix(Tree::Index, format!("{name}/").as_bytes())
                    .map_err(|e| fail(e.to_string()))?
                    .into_iter()
                    .map(|(k, _)| (k, None))
                    .collect();
                store
                    .apply(Tree::Index, stale)
                    .map_err(|e| fail(e.to_string()))?;
                Ok(Self {
                    name: name.to_string(),
                    dir: dir.to_path_buf(),
                    bm25: Bm25::in_dir(&dir.join("bm25"))?,
                    store,
                    contents: Contents::default(),
                    ann: Ann::new(1024),
                    embedder,
                    graph: None,
                    added: Vec::new(),
                    removed: Vec::new(),
                    reloaded: false,
                })
            }
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn fail(&self, reason: impl std::fmt::Display) -> IndexError {
        IndexError::Store {
            name: self.name.clone(),
            reason: reason.to_string(),
        }
    }

    /// Dumps the graph afresh, replacing the last dump.
    fn dump_graph(&mut self) -> Result<(), IndexError> {
        let dir = self.dir.join("graph");
        if let Some(old) = self.graph.take() {
            for ext in ["hnsw.graph", "hnsw.data"] {
                let _ = std::fs::remove_file(dir.join(format!("{old}.{ext}")));
            }
        }
        if self.ann.points() == 0 {
            return Ok(());
        }
        std::fs::create_dir_all(&dir).map_err(|e| self.fail(e))?;
        self.graph = Some(self.ann.dump(&dir, "graph")?);
        Ok(())
    }
}

impl Indexer for CollectionIndex {
    fn kind(&self) -> IndexKind {
        IndexKind::Collection
    }

    fn hashes(&self) -> &BTreeMap<String, String> {
        &self.contents.hashes
    }

    fn upsert(&mut self, files: Vec<FileChunks>) -> Result<(), IndexError> {
        for file in &files {
            self.removed.extend(self.contents.forget(&file.path));
            self.bm25.remove_path(&file.path);
        }
        let added = take_embedded(&mut self.contents, &mut self.ann, &self.embedder, files)?;
        for id in &added {
            if let Some(held) = self.contents.chunks.get(id) {
                self.bm25.add(*id, &held.chunk)?;
            }
        }
        self.added.extend(added);
        Ok(())
    }

    fn remove(&mut self, paths: &[String]) -> Result<(), IndexError> {
        for path in paths {
            self.removed.extend(self.contents.forget(path));
            self.bm25.remove_path(path);
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<(), IndexError> {
        self.bm25.commit()?;
        let compacted = compact(&self.contents, &mut self.ann);
        if !compacted && self.added.is_empty() && self.removed.is_empty() && self.reloaded {
            return Ok(());
        }
        self.dump_graph()?;
        let name = self.name.clone();
        let mut ops: Vec<BatchOp> = Vec::new();
        for id in self.removed.drain(..) {
            ops.push((format!("{name}/chunk/{id:016x}").into_bytes(), None));
        }
        for id in std::mem::take(&mut self.added) {
            if let Some(held) = self.contents.chunks.get(&id) {
                let bytes = record::encode(held).map_err(|e| self.fail(e))?;
                ops.push((format!("{name}/chunk/{id:016x}").into_bytes(), Some(bytes)));
            }
        }
        let meta = CollectionMeta {
            embedder: self.embedder.info().name.clone(),
            dim: self.embedder.dim(),
            next_id: self.contents.next_id,
            hashes: self.contents.hashes.clone(),
            ids: self.contents.ids.clone(),
            graph: self.graph.clone(),
            points: self.ann.points(),
        };
        let bytes = record::encode(&meta).map_err(|e| self.fail(e))?;
        ops.push((format!("{name}/meta").into_bytes(), Some(bytes)));
        self.store
            .apply(Tree::Index, ops)
            .map_err(|e| self.fail(e))?;
        self.store.flush_blocking().map_err(|e| self.fail(e))?;
        self.reloaded = true;
        Ok(())
    }

    fn search(&self, query: &Query) -> Result<Vec<Hit>, IndexError> {
        let depth = query.k * 4 + 20;
        let wide = Query {
            k: depth,
            ..query.clone()
        };
        let text = bm25_ranked(&self.bm25, &self.contents, &wide)?;
        let vectors = vector_hits(&self.contents, &self.ann, &self.embedder, query, depth)?;
        Ok(fuse(&[text, vectors])
            .into_iter()
            .take(query.k)
            .filter_map(|(id, score)| self.contents.hit(id, score, &query.text))
            .collect())
    }

    fn len(&self) -> usize {
        self.contents.chunks.len()
    }

    fn reloaded(&self) -> bool {
        self.reloaded
    }
}
