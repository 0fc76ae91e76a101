//! The Simple indexer: BM25 full-text search with tantivy, in memory.

use super::core::{Bm25, Contents, Keep};
use super::{FileChunks, Hit, IndexError, IndexKind, Indexer, Query};
use std::collections::BTreeMap;

/// BM25 over the chunks' text and paths. See the module docs.
#[derive(Debug)]
pub struct SimpleIndex {
    contents: Contents,
    bm25: Bm25,
}

impl SimpleIndex {
    /// An empty index.
    ///
    /// # Errors
    /// If tantivy cannot set up its index.
    pub fn new() -> Result<Self, IndexError> {
        Ok(Self {
            contents: Contents::default(),
            bm25: Bm25::in_ram()?,
        })
    }
}

impl Indexer for SimpleIndex {
    fn kind(&self) -> IndexKind {
        IndexKind::Simple
    }

    fn hashes(&self) -> &BTreeMap<String, String> {
        &self.contents.hashes
    }

    fn upsert(&mut self, files: Vec<FileChunks>) -> Result<(), IndexError> {
        for file in files {
            self.contents.forget(&file.path);
            self.bm25.remove_path(&file.path);
            let chunks = file.chunks.clone();
            let ids = self.contents.take(file, None);
            for (id, chunk) in ids.into_iter().zip(&chunks) {
                self.bm25.add(id, chunk)?;
            }
        }
        Ok(())
    }

    fn remove(&mut self, paths: &[String]) -> Result<(), IndexError> {
        for path in paths {
            self.contents.forget(path);
            self.bm25.remove_path(path);
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<(), IndexError> {
        self.bm25.commit()
    }

    fn search(&self, query: &Query) -> Result<Vec<Hit>, IndexError> {
        bm25_hits(&self.bm25, &self.contents, query)
    }

    fn len(&self) -> usize {
        self.contents.chunks.len()
    }
}

/// The BM25 hits for `query`, filtered, best first.
pub(crate) fn bm25_hits(
    bm25: &Bm25,
    contents: &Contents,
    query: &Query,
) -> Result<Vec<Hit>, IndexError> {
    Ok(bm25_ranked(bm25, contents, query)?
        .into_iter()
        .filter_map(|(id, score)| contents.hit(id, score, &query.text))
        .collect())
}

/// The ids and BM25 scores of the best `query.k` chunks, filtered, best first.
pub(crate) fn bm25_ranked(
    bm25: &Bm25,
    contents: &Contents,
    query: &Query,
) -> Result<Vec<(u64, f32)>, IndexError> {
    let keep = Keep::new(&query.filter)?;
    let limit = if keep.is_all() {
        query.k
    } else {
        query.k * 10 + 50
    };
    Ok(bm25
        .search(&query.text, limit)?
        .into_iter()
        .filter(|(id, _)| {
            contents
                .chunks
                .get(id)
                .is_some_and(|h| keep.keeps(&h.chunk))
        })
        .take(query.k)
        .collect())
}
