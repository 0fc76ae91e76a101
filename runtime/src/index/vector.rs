//! The Vector indexer (the seed's "FAISS"): HNSW (hnsw_rs) over the chunks' embeddings, in
//! memory. Embeddings are computed per batch of chunks; the graph is built with parallel
//! inserts.

use super::core::{Ann, Contents, Keep, embed};
use super::{FileChunks, Hit, IndexError, IndexKind, Indexer, Query};
use crate::models::{Embedder, cosine};
use std::collections::BTreeMap;
use std::sync::Arc;

/// HNSW over embeddings. See the module docs.
#[derive(Debug)]
pub struct VectorIndex {
    contents: Contents,
    ann: Ann,
    embedder: Arc<dyn Embedder>,
}

impl VectorIndex {
    /// An empty index whose chunks `embedder` embeds.
    pub fn new(embedder: Arc<dyn Embedder>) -> Self {
        Self {
            contents: Contents::default(),
            ann: Ann::new(1024),
            embedder,
        }
    }

    /// The embedder.
    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        &self.embedder
    }

    /// The `k` chunk ids nearest to `vector` by exact search over every live chunk: the
    /// ground truth the graph's recall is measured against.
    pub fn exact(&self, vector: &[f32], k: usize) -> Vec<u64> {
        exact(&self.contents, vector, k)
    }

    /// The `k` chunk ids the graph finds nearest to `vector`.
    pub fn nearest(&self, vector: &[f32], k: usize) -> Vec<u64> {
        let contents = &self.contents;
        self.ann
            .search(vector, k, &|id| contents.chunks.contains_key(&id))
            .into_iter()
            .map(|(id, _)| id)
            .collect()
    }
}

/// Exact top-`k` by cosine over every live chunk.
pub(crate) fn exact(contents: &Contents, vector: &[f32], k: usize) -> Vec<u64> {
    let mut all: Vec<(u64, f32)> = contents
        .chunks
        .iter()
        .filter(|(_, h)| !h.vector.is_empty())
        .map(|(id, h)| (*id, cosine(vector, &h.vector)))
        .collect();
    all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    all.into_iter().take(k).map(|(id, _)| id).collect()
}

/// Embeds and takes in `files`, tombstoning their old chunks; returns the graph's new
/// points.
pub(crate) fn take_embedded(
    contents: &mut Contents,
    ann: &mut Ann,
    embedder: &Arc<dyn Embedder>,
    files: Vec<FileChunks>,
) -> Result<Vec<u64>, IndexError> {
    let vectors = embed(embedder, &files)?;
    let mut added = Vec::new();
    for (file, vectors) in files.into_iter().zip(vectors) {
        contents.forget(&file.path);
        added.extend(contents.take(file, Some(vectors)));
    }
    let points: Vec<(&Vec<f32>, usize)> = added
        .iter()
        .filter_map(|id| Some((&contents.chunks.get(id)?.vector, *id as usize)))
        .collect();
    ann.insert(&points);
    Ok(added)
}

/// Rebuilds the graph from the live chunks when dead points outnumber them: hnsw_rs
/// cannot delete. Returns whether it did.
pub(crate) fn compact(contents: &Contents, ann: &mut Ann) -> bool {
    let live = contents.chunks.len();
    if ann.points() > 2 * live + 256 {
        *ann = Ann::build(contents.chunks.iter().map(|(id, h)| (*id, &h.vector)));
        true
    } else {
        false
    }
}

/// The vector hits for `query`, filtered, best first.
pub(crate) fn vector_hits(
    contents: &Contents,
    ann: &Ann,
    embedder: &Arc<dyn Embedder>,
    query: &Query,
    k: usize,
) -> Result<Vec<(u64, f32)>, IndexError> {
    let keep = Keep::new(&query.filter)?;
    let q = embedder
        .embed(&[query.text.as_str()])
        .map_err(|e| IndexError::Vector(e.to_string()))?
        .pop()
        .unwrap_or_default();
    Ok(ann.search(&q, k, &|id| {
        contents
            .chunks
            .get(&id)
            .is_some_and(|h| keep.keeps(&h.chunk))
    }))
}

impl Indexer for VectorIndex {
    fn kind(&self) -> IndexKind {
        IndexKind::Vector
    }

    fn hashes(&self) -> &BTreeMap<String, String> {
        &self.contents.hashes
    }

    fn upsert(&mut self, files: Vec<FileChunks>) -> Result<(), IndexError> {
        take_embedded(&mut self.contents, &mut self.ann, &self.embedder, files).map(|_| ())
    }

    fn remove(&mut self, paths: &[String]) -> Result<(), IndexError> {
        for path in paths {
            self.contents.forget(path);
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<(), IndexError> {
        compact(&self.contents, &mut self.ann);
        Ok(())
    }

    fn search(&self, query: &Query) -> Result<Vec<Hit>, IndexError> {
        Ok(
            vector_hits(&self.contents, &self.ann, &self.embedder, query, query.k)?
                .into_iter()
                .filter_map(|(id, score)| self.contents.hit(id, score, &query.text))
                .collect(),
        )
    }

    fn len(&self) -> usize {
        self.contents.chunks.len()
    }
}
