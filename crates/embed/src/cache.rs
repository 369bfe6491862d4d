//! A persistent cache of document vectors keyed by (model id, blake3 of the text), in redb:
//! re-ingesting unchanged items embeds nothing, and vectors of another model are never mixed in.
//! A value holds the vectors [`Embedder::embed_documents`] made for the text (one, or one per
//! window), concatenated.
//!
//! Which model id: a text longer than one window is kept under [`Embedder::model_id`], which
//! names the long-text mode ([`crate::LongText`]), so a vector cut and combined one way is never
//! returned for another. A text that fits in one window has the same vector in every mode and is
//! kept under [`Embedder::window_id`] (the default mode's model id), so switching modes embeds
//! only the long texts again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

use crate::embedder::Embedder;
use crate::error::{Error, Result};

/// Bumped whenever the layout of the tables changes incompatibly.
pub const CACHE_FORMAT_VERSION: u64 = 1;

/// (model id, blake3 of the text) → the document's vectors as little-endian f32, concatenated.
const VECTORS: TableDefinition<(&str, &[u8]), &[u8]> = TableDefinition::new("vectors");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const META_FORMAT: &str = "format_version";

/// What one cached embedding call did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Texts answered from the cache.
    pub hits: usize,
    /// Distinct texts run through the model.
    pub embedded: usize,
}

/// The cache file. Cheap to share behind an `Arc`; redb serialises writers.
pub struct EmbeddingCache {
    db: Database,
    path: PathBuf,
}

impl std::fmt::Debug for EmbeddingCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddingCache").field("path", &self.path).finish_non_exhaustive()
    }
}

fn key(text: &str) -> [u8; 32] {
    *blake3::hash(text.as_bytes()).as_bytes()
}

fn to_bytes(parts: &[Vec<f32>]) -> Vec<u8> {
    parts.iter().flatten().flat_map(|x| x.to_le_bytes()).collect()
}

/// The vectors of a value, or `None` if it is empty or not a whole number of `dim` vectors.
fn from_bytes(b: &[u8], dim: usize) -> Option<Vec<Vec<f32>>> {
    if dim == 0 || b.is_empty() || !b.len().is_multiple_of(dim * 4) {
        return None;
    }
    let floats: Vec<f32> = b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    Some(floats.chunks_exact(dim).map(<[f32]>::to_vec).collect())
}

impl EmbeddingCache {
    /// Opens (or creates) the cache file at `path`.
    pub fn open(path: &Path) -> Result<EmbeddingCache> {
        let err = |e: &dyn std::fmt::Display| Error::Cache { path: path.to_owned(), message: e.to_string() };
        let db = Database::create(path).map_err(|e| err(&e))?;
        let txn = db.begin_write().map_err(|e| err(&e))?;
        {
            let mut meta = txn.open_table(META).map_err(|e| err(&e))?;
            let found = meta.get(META_FORMAT).map_err(|e| err(&e))?.map(|v| v.value());
            match found {
                None => {
                    meta.insert(META_FORMAT, CACHE_FORMAT_VERSION).map_err(|e| err(&e))?;
                }
                Some(CACHE_FORMAT_VERSION) => {}
                Some(other) => {
                    return Err(err(&format!("format {other}, this gridkb reads format {CACHE_FORMAT_VERSION}")));
                }
            }
            txn.open_table(VECTORS).map_err(|e| err(&e))?;
        }
        txn.commit().map_err(|e| err(&e))?;
        Ok(EmbeddingCache { db, path: path.to_owned() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, e: impl std::fmt::Display) -> Error {
        Error::Cache { path: self.path.clone(), message: e.to_string() }
    }

    /// The cached vectors of `texts` under `model_id`; `None` where there are none of length
    /// `dim`.
    pub fn get_many(&self, model_id: &str, dim: usize, texts: &[&str]) -> Result<Vec<Option<Vec<Vec<f32>>>>> {
        let keyed: Vec<(&str, &str)> = texts.iter().map(|t| (model_id, *t)).collect();
        self.get_keyed(dim, &keyed)
    }

    /// The cached vectors of each (model id, text); `None` where there are none of length `dim`.
    fn get_keyed(&self, dim: usize, keyed: &[(&str, &str)]) -> Result<Vec<Option<Vec<Vec<f32>>>>> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let table = txn.open_table(VECTORS).map_err(|e| self.err(e))?;
        keyed
            .iter()
            .map(|(model_id, t)| {
                let k = key(t);
                let v = table.get((*model_id, k.as_slice())).map_err(|e| self.err(e))?;
                Ok(v.and_then(|v| from_bytes(v.value(), dim)))
            })
            .collect()
    }

    /// Stores the vectors of each text under `model_id` in one durable transaction.
    pub fn put_many(&self, model_id: &str, items: &[(&str, &[Vec<f32>])]) -> Result<()> {
        let keyed: Vec<(&str, &str, &[Vec<f32>])> = items.iter().map(|(t, v)| (model_id, *t, *v)).collect();
        self.put_keyed(&keyed)
    }

    /// Stores each (model id, text, vectors) in one durable transaction.
    fn put_keyed(&self, items: &[(&str, &str, &[Vec<f32>])]) -> Result<()> {
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut table = txn.open_table(VECTORS).map_err(|e| self.err(e))?;
            for (model_id, text, v) in items {
                let k = key(text);
                table.insert((*model_id, k.as_slice()), to_bytes(v).as_slice()).map_err(|e| self.err(e))?;
            }
        }
        txn.commit().map_err(|e| self.err(e))
    }

    /// Number of cached vectors of `model_id`.
    pub fn count(&self, model_id: &str) -> Result<usize> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let table = txn.open_table(VECTORS).map_err(|e| self.err(e))?;
        let lo: (&str, &[u8]) = (model_id, &[]);
        let hi: (&str, &[u8]) = (model_id, &[0xFF; 33]);
        Ok(table.range(lo..hi).map_err(|e| self.err(e))?.count())
    }

    /// Deletes every vector not made by `model_id` (after a model change); returns how many.
    /// Under a non-default long-text mode, keep [`Embedder::window_id`] too with
    /// [`Self::retain_models`].
    pub fn retain_model(&self, model_id: &str) -> Result<usize> {
        self.retain_models(&[model_id])
    }

    /// Deletes every vector not made by one of `model_ids`; returns how many.
    pub fn retain_models(&self, model_ids: &[&str]) -> Result<usize> {
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        let removed;
        {
            let mut table = txn.open_table(VECTORS).map_err(|e| self.err(e))?;
            let before = table.len().map_err(|e| self.err(e))?;
            table.retain(|(m, _), _| model_ids.contains(&m)).map_err(|e| self.err(e))?;
            removed = before - table.len().map_err(|e| self.err(e))?;
        }
        txn.commit().map_err(|e| self.err(e))?;
        Ok(removed as usize)
    }

    /// [`Embedder::embed_documents`] through the cache: cached texts are not embedded again,
    /// the others are embedded (each distinct text once) and stored before this returns. Under
    /// a non-default long-text mode every text is tokenised to find out whether it fits in one
    /// window (see the module docs).
    pub fn embed_documents(&self, embedder: &Embedder, texts: &[&str]) -> Result<(Vec<Vec<Vec<f32>>>, CacheStats)> {
        let (model, window) = (embedder.model_id(), embedder.window_id());
        let keyed: Vec<(&str, &str)> = texts
            .iter()
            .map(|t| Ok((if model == window || !embedder.fits_one_window(t)? { model } else { window }, *t)))
            .collect::<Result<_>>()?;
        let cached = self.get_keyed(embedder.dimension(), &keyed)?;
        let mut stats = CacheStats::default();
        let mut missing: Vec<(&str, &str)> = Vec::new();
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (&(m, t), c) in keyed.iter().zip(&cached) {
            if c.is_some() {
                stats.hits += 1;
            } else if !seen.contains_key(t) {
                seen.insert(t, missing.len());
                missing.push((m, t));
            }
        }
        stats.embedded = missing.len();
        let fresh = if missing.is_empty() {
            Vec::new()
        } else {
            embedder.embed_documents(&missing.iter().map(|(_, t)| *t).collect::<Vec<_>>())?
        };
        if !fresh.is_empty() {
            let items: Vec<(&str, &str, &[Vec<f32>])> =
                missing.iter().zip(&fresh).map(|((m, t), v)| (*m, *t, v.as_slice())).collect();
            self.put_keyed(&items)?;
        }
        let out = texts.iter().zip(cached).map(|(t, c)| c.unwrap_or_else(|| fresh[seen[t]].clone())).collect();
        Ok((out, stats))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_are_kept_per_model_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("embeddings.redb");
        {
            let cache = EmbeddingCache::open(&path).unwrap();
            cache
                .put_many("m1", &[("变压器", &[vec![1.0, 2.0]]), ("电表", &[vec![3.0, 4.0], vec![0.5, 0.25]])])
                .unwrap();
            cache.put_many("m2", &[("变压器", &[vec![5.0, 6.0]])]).unwrap();
        }
        let cache = EmbeddingCache::open(&path).unwrap();
        let got = cache.get_many("m1", 2, &["电表", "变压器", "开关"]).unwrap();
        assert_eq!(got, vec![Some(vec![vec![3.0, 4.0], vec![0.5, 0.25]]), Some(vec![vec![1.0, 2.0]]), None]);
        assert_eq!(cache.get_many("m2", 2, &["变压器"]).unwrap(), vec![Some(vec![vec![5.0, 6.0]])]);
        assert_eq!(cache.get_many("m1", 3, &["变压器"]).unwrap(), vec![None], "another dimension is a miss");
        assert_eq!((cache.count("m1").unwrap(), cache.count("m2").unwrap()), (2, 1));
        assert_eq!(cache.retain_model("m2").unwrap(), 2);
        assert_eq!((cache.count("m1").unwrap(), cache.count("m2").unwrap()), (0, 1));
    }
}
