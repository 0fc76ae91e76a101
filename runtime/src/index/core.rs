//! What the three indexers share: the chunks and files they hold, a BM25 engine
//! (tantivy), an HNSW graph (hnsw_rs), and the filters.

use super::{Chunk, FileChunks, Filter, Hit, IndexError, snippet};
use crate::models::Embedder;
use hnsw_rs::prelude::{AnnT, DistL2, Hnsw, HnswIo};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use tantivy::collector::TopDocs;
use tantivy::query::QueryParser;
use tantivy::schema::{FAST, Field, INDEXED, STORED, STRING, Schema, TEXT, Value};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term, doc};

/// A chunk as an index holds it: where it is, its text, and its vector (when the index
/// has vectors).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Held {
    pub(crate) chunk: Chunk,
    pub(crate) vector: Vec<f32>,
}

/// The chunks and files of an index.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Contents {
    /// Chunk id → chunk.
    pub(crate) chunks: HashMap<u64, Held>,
    /// Path → content hash.
    pub(crate) hashes: BTreeMap<String, String>,
    /// Path → the ids of its chunks.
    pub(crate) ids: BTreeMap<String, Vec<u64>>,
    /// The next chunk id.
    pub(crate) next_id: u64,
}

impl Contents {
    /// Forgets `path`'s chunks; returns their ids.
    pub(crate) fn forget(&mut self, path: &str) -> Vec<u64> {
        self.hashes.remove(path);
        let ids = self.ids.remove(path).unwrap_or_default();
        for id in &ids {
            self.chunks.remove(id);
        }
        ids
    }

    /// Takes in `file`'s chunks (with their vectors, when given); returns their ids.
    pub(crate) fn take(&mut self, file: FileChunks, vectors: Option<Vec<Vec<f32>>>) -> Vec<u64> {
        let mut vectors = vectors.map(Vec::into_iter);
        let mut ids = Vec::with_capacity(file.chunks.len());
        for chunk in file.chunks {
            let id = self.next_id;
            self.next_id += 1;
            let vector = vectors
                .as_mut()
                .and_then(Iterator::next)
                .unwrap_or_default();
            self.chunks.insert(id, Held { chunk, vector });
            ids.push(id);
        }
        self.hashes.insert(file.path.clone(), file.hash);
        self.ids.insert(file.path, ids.clone());
        ids
    }

    /// The hit for chunk `id` with `score`.
    pub(crate) fn hit(&self, id: u64, score: f32, query: &str) -> Option<Hit> {
        let h = self.chunks.get(&id)?;
        Some(Hit {
            path: h.chunk.path.clone(),
            start_line: h.chunk.start_line,
            end_line: h.chunk.end_line,
            language: h.chunk.language.clone(),
            score,
            snippet: snippet(&h.chunk.text, query),
        })
    }
}

/// A compiled [`Filter`].
pub(crate) struct Keep {
    glob: Option<globset::GlobMatcher>,
    language: Option<String>,
}

impl Keep {
    /// Compiles `filter`.
    pub(crate) fn new(filter: &Filter) -> Result<Self, IndexError> {
        let glob = filter
            .path_glob
            .as_deref()
            .map(|g| {
                globset::GlobBuilder::new(g)
                    .literal_separator(false)
                    .build()
                    .map(|g| g.compile_matcher())
                    .map_err(|e| IndexError::BadFilter(format!("{g:?}: {e}")))
            })
            .transpose()?;
        Ok(Self {
            glob,
            language: filter.language.clone(),
        })
    }

    /// Whether there is anything to filter.
    pub(crate) fn is_all(&self) -> bool {
        self.glob.is_none() && self.language.is_none()
    }

    /// Whether `chunk` passes.
    pub(crate) fn keeps(&self, chunk: &Chunk) -> bool {
        self.glob.as_ref().is_none_or(|g| g.is_match(&chunk.path))
            && self
                .language
                .as_ref()
                .is_none_or(|l| l.eq_ignore_ascii_case(&chunk.language))
    }
}

/// The BM25 engine: one tantivy document per chunk, found again by its id.
pub(crate) struct Bm25 {
    index: Index,
    writer: IndexWriter,
    reader: IndexReader,
    id: Field,
    path: Field,
    path_text: Field,
    body: Field,
}

impl std::fmt::Debug for Bm25 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Bm25 { .. }")
    }
}

fn text_err(e: impl std::fmt::Display) -> IndexError {
    IndexError::Text(e.to_string())
}

impl Bm25 {
    fn schema() -> (Schema, [Field; 4]) {
        let mut sb = Schema::builder();
        let id = sb.add_u64_field("id", INDEXED | STORED | FAST);
        let path = sb.add_text_field("path", STRING);
        let path_text = sb.add_text_field("path_text", TEXT);
        let body = sb.add_text_field("body", TEXT);
        (sb.build(), [id, path, path_text, body])
    }

    fn with(index: Index) -> Result<Self, IndexError> {
        let schema = index.schema();
        let field = |n: &str| schema.get_field(n).map_err(text_err);
        let (id, path, path_text, body) = (
            field("id")?,
            field("path")?,
            field("path_text")?,
            field("body")?,
        );
        // One indexing thread, a 32 MB arena: small repositories, a small machine.
        let writer = index
            .writer_with_num_threads(1, 32_000_000)
            .map_err(text_err)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(text_err)?;
        Ok(Self {
            index,
            writer,
            reader,
            id,
            path,
            path_text,
            body,
        })
    }

    /// An engine in memory.
    pub(crate) fn in_ram() -> Result<Self, IndexError> {
        Self::with(Index::create_in_ram(Self::schema().0))
    }

    /// An engine in `dir`, opened as it was last committed, or created.
    pub(crate) fn in_dir(dir: &Path) -> Result<Self, IndexError> {
        std::fs::create_dir_all(dir).map_err(text_err)?;
        let directory = tantivy::directory::MmapDirectory::open(dir).map_err(text_err)?;
        Self::with(Index::open_or_create(directory, Self::schema().0).map_err(text_err)?)
    }

    /// Adds chunk `id`.
    pub(crate) fn add(&mut self, id: u64, chunk: &Chunk) -> Result<(), IndexError> {
        self.writer
            .add_document(doc!(
                self.id => id,
                self.path => chunk.path.as_str(),
                self.path_text => chunk.path.replace(['/', '.', '_', '-'], " "),
                self.body => chunk.text.as_str(),
            ))
            .map(|_| ())
            .map_err(text_err)
    }

    /// Drops every chunk of `path`.
    pub(crate) fn remove_path(&mut self, path: &str) {
        self.writer
            .delete_term(Term::from_field_text(self.path, path));
    }

    /// Makes the changes searchable and durable.
    pub(crate) fn commit(&mut self) -> Result<(), IndexError> {
        self.writer.commit().map_err(text_err)?;
        self.reader.reload().map_err(text_err)
    }

    /// The best `limit` chunk ids for `text`, with their BM25 scores.
    pub(crate) fn search(&self, text: &str, limit: usize) -> Result<Vec<(u64, f32)>, IndexError> {
        let parser = QueryParser::for_index(&self.index, vec![self.body, self.path_text]);
        let (query, _) = parser.parse_query_lenient(&text.replace(':', " "));
        let searcher = self.reader.searcher();
        let top = searcher
            .search(&query, &TopDocs::with_limit(limit.max(1)))
            .map_err(text_err)?;
        let mut out = Vec::with_capacity(top.len());
        for (score, address) in top {
            let d: TantivyDocument = searcher.doc(address).map_err(text_err)?;
            if let Some(id) = d.get_first(self.id).and_then(|v| v.as_u64()) {
                out.push((id, score));
            }
        }
        Ok(out)
    }
}

/// The HNSW parameters: 16 links, ef 100 to build, 64 to search; `max_layer` 16, which
/// `file_dump` needs.
const LINKS: usize = 16;
const EF_BUILD: usize = 100;
/// ef at search time.
pub(crate) const EF_SEARCH: usize = 64;
const MAX_LAYER: usize = 16;

/// The vector engine: HNSW over unit vectors with the L2 distance (whose order is the
/// cosine's), with tombstones for chunks that are gone (hnsw_rs cannot delete); rebuilt
/// from the live vectors when tombstones outnumber them.
pub(crate) struct Ann {
    graph: Hnsw<'static, f32, DistL2>,
    /// Points in the graph, live or not.
    points: usize,
}

impl std::fmt::Debug for Ann {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ann {{ points: {} }}", self.points)
    }
}

impl Ann {
    /// An empty graph sized for about `hint` points.
    pub(crate) fn new(hint: usize) -> Self {
        Self {
            graph: Hnsw::new(LINKS, hint.max(1024), MAX_LAYER, EF_BUILD, DistL2 {}),
            points: 0,
        }
    }

    /// A graph of `live` points (id, vector).
    pub(crate) fn build<'a>(live: impl Iterator<Item = (u64, &'a Vec<f32>)>) -> Self {
        let points: Vec<(&Vec<f32>, usize)> = live
            .filter(|(_, v)| !v.is_empty())
            .map(|(id, v)| (v, id as usize))
            .collect();
        let mut ann = Self::new(points.len());
        ann.graph.parallel_insert(&points);
        ann.points = points.len();
        ann
    }

    /// Adds points.
    pub(crate) fn insert(&mut self, points: &[(&Vec<f32>, usize)]) {
        self.graph.parallel_insert(points);
        self.points += points.len();
    }

    /// Points in the graph, tombstoned ones included.
    pub(crate) fn points(&self) -> usize {
        self.points
    }

    /// The `k` nearest live points to `q`, with their cosine similarity.
    pub(crate) fn search(
        &self,
        q: &[f32],
        k: usize,
        live: &dyn Fn(u64) -> bool,
    ) -> Vec<(u64, f32)> {
        let filter = |id: &usize| live(*id as u64);
        self.graph
            .search_filter(q, k, EF_SEARCH.max(k), Some(&filter))
            .into_iter()
            // |a-b|² = 2 - 2 cos for unit vectors.
            .map(|n| (n.d_id as u64, 1.0 - n.distance * n.distance / 2.0))
            .collect()
    }

    /// Dumps the graph into `dir` as `basename`; returns the basename used.
    pub(crate) fn dump(&self, dir: &Path, basename: &str) -> Result<String, IndexError> {
        self.graph
            .file_dump(dir, basename)
            .map_err(|e| IndexError::Vector(format!("dumping the graph: {e}")))
    }

    /// Reloads a dumped graph. The reader is leaked: hnsw_rs's reloaded graph borrows it
    /// for its whole life, and one reload per collection per process is what this costs.
    pub(crate) fn load(dir: &Path, basename: &str, points: usize) -> Result<Self, IndexError> {
        let io: &'static mut HnswIo = Box::leak(Box::new(HnswIo::new(dir, basename)));
        let graph = io
            .load_hnsw::<f32, DistL2>()
            .map_err(|e| IndexError::Vector(format!("reloading the graph: {e}")))?;
        Ok(Self { graph, points })
    }
}

/// How much of a chunk is embedded: its path and first characters, about 128 tokens of
/// code, the length all-MiniLM-L6-v2 was trained on. Past it the cost grows and the
/// vectors drift; BM25 reads the whole chunk, and hybrid search fuses the two.
pub const EMBED_CHARS: usize = 512;

/// Embeds the chunks of `files`, in one batch, each as its path and its first
/// [`EMBED_CHARS`] characters (what a chunk is about includes where it is).
pub(crate) fn embed(
    embedder: &Arc<dyn Embedder>,
    files: &[FileChunks],
) -> Result<Vec<Vec<Vec<f32>>>, IndexError> {
    let texts: Vec<String> = files
        .iter()
        .flat_map(|f| f.chunks.iter())
        .map(|c| {
            let head = match c.text.char_indices().nth(EMBED_CHARS) {
                Some((i, _)) => &c.text[..i],
                None => &c.text,
            };
            format!("{}\n{head}", c.path)
        })
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let mut vectors = embedder
        .embed(&refs)
        .map_err(|e| IndexError::Vector(e.to_string()))?
        .into_iter();
    Ok(files
        .iter()
        .map(|f| vectors.by_ref().take(f.chunks.len()).collect())
        .collect())
}

/// Fuses ranked lists by reciprocal rank (k = 60): a chunk high in either list, or fairly
/// high in both, comes first.
pub(crate) fn fuse(lists: &[Vec<(u64, f32)>]) -> Vec<(u64, f32)> {
    let mut scores: HashMap<u64, f32> = HashMap::new();
    for list in lists {
        for (rank, (id, _)) in list.iter().enumerate() {
            *scores.entry(*id).or_default() += 1.0 / (60.0 + rank as f32 + 1.0);
        }
    }
    let mut out: Vec<(u64, f32)> = scores.into_iter().collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fusion_rewards_agreement() {
        let bm25 = vec![(1, 9.0), (2, 5.0), (3, 1.0)];
        let vec = vec![(2, 0.9), (4, 0.8), (1, 0.1)];
        let fused: Vec<u64> = fuse(&[bm25, vec]).into_iter().map(|(id, _)| id).collect();
        assert_eq!(fused, vec![2, 1, 4, 3]);
    }

    #[test]
    fn filters_match_globs_and_languages() {
        let chunk = |path: &str, language: &str| Chunk {
            path: path.into(),
            start_line: 1,
            end_line: 1,
            language: language.into(),
            text: String::new(),
        };
        let keep = Keep::new(&Filter {
            path_glob: Some("src/**/*.py".into()),
            language: None,
        })
        .unwrap();
        assert!(keep.keeps(&chunk("src/app/db.py", "python")));
        assert!(!keep.keeps(&chunk("tests/db.py", "python")));
        let keep = Keep::new(&Filter {
            path_glob: None,
            language: Some("Markdown".into()),
        })
        .unwrap();
        assert!(keep.keeps(&chunk("README.md", "markdown")));
        assert!(
            Keep::new(&Filter {
                path_glob: Some("a[".into()),
                language: None
            })
            .is_err()
        );
    }
}
