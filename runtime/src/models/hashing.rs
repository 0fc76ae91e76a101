//! An embedder that needs no model: words and adjacent word pairs, lower-cased and split
//! on identifier boundaries (`getUser_id` gives `get`, `user`, `id`), hashed into a fixed
//! number of signed buckets and weighted by a sublinear term frequency. Texts that share
//! words score high; synonyms do not. It is the fallback of the vector indexes where no
//! sentence encoder is installed.

use super::{Backend, Embedder, ModelError, ModelInfo, normalize};
use std::hash::{Hash, Hasher};

/// The dimension it uses unless told: the same as all-MiniLM-L6-v2's.
pub const DEFAULT_DIM: usize = 384;

/// The hashing embedder. See the module docs.
#[derive(Debug, Clone)]
pub struct HashingEmbedder {
    dim: usize,
    info: ModelInfo,
}

impl HashingEmbedder {
    /// An embedder into `dim` dimensions (at least 1).
    pub fn new(dim: usize) -> Self {
        let dim = dim.max(1);
        Self {
            dim,
            info: ModelInfo {
                name: format!("hashing-{dim}"),
                backend: Backend::Rules,
                source: None,
            },
        }
    }

    fn bucket(&self, feature: &str) -> (usize, f32) {
        // FNV-1a through the std Hasher interface: stable across runs and platforms.
        let mut h = Fnv(0xcbf2_9ce4_8422_2325);
        feature.hash(&mut h);
        let v = h.0;
        (
            (v % self.dim as u64) as usize,
            if v >> 63 == 0 { 1.0 } else { -1.0 },
        )
    }

    /// One text's vector.
    pub fn embed_one(&self, text: &str) -> Vec<f32> {
        let words = words(text);
        let mut counts: std::collections::HashMap<String, u32> = Default::default();
        for w in &words {
            *counts.entry(w.clone()).or_default() += 1;
        }
        for pair in words.windows(2) {
            *counts
                .entry(format!("{} {}", pair[0], pair[1]))
                .or_default() += 1;
        }
        let mut v = vec![0.0f32; self.dim];
        for (feature, n) in counts {
            let (i, sign) = self.bucket(&feature);
            v[i] += sign * (1.0 + (n as f32).ln());
        }
        normalize(&mut v);
        v
    }
}

struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// The words of a text: runs of letters and digits, split again at camelCase humps and
/// underscores, lower-cased; one-letter words are dropped.
fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    let flush = |cur: &mut String, out: &mut Vec<String>| {
        if cur.chars().count() > 1 {
            out.push(cur.to_lowercase());
        }
        cur.clear();
    };
    for c in text.chars() {
        if c.is_alphanumeric() {
            if c.is_uppercase() && prev_lower {
                flush(&mut cur, &mut out);
            }
            cur.push(c);
            prev_lower = c.is_lowercase() || c.is_ascii_digit();
        } else {
            flush(&mut cur, &mut out);
            prev_lower = false;
        }
    }
    flush(&mut cur, &mut out);
    out
}

impl Embedder for HashingEmbedder {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, ModelError> {
        Ok(texts.iter().map(|t| self.embed_one(t)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::cosine;

    #[test]
    fn words_split_identifiers() {
        assert_eq!(
            words("getUser_id = DB_HOST; a"),
            vec!["get", "user", "id", "db", "host"]
        );
    }

    #[test]
    fn shared_words_score_higher_and_vectors_are_stable_units() {
        let e = HashingEmbedder::new(DEFAULT_DIM);
        let v = e
            .embed(&[
                "where is the database connection configured",
                "DATABASE_URL configures the database connection",
                "the cat sat on the mat",
            ])
            .unwrap();
        assert!(v.iter().all(|x| x.len() == DEFAULT_DIM));
        let norm: f32 = v[0].iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
        assert!(cosine(&v[0], &v[1]) > cosine(&v[0], &v[2]) + 0.2);
        assert_eq!(e.embed_one("same text"), e.embed_one("same text"));
        assert_eq!(e.info().backend, Backend::Rules);
    }
}
