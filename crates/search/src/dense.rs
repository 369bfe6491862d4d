//! Dense retrieval: the embedder, the embedding cache and the vector index of one data directory.
//!
//! The vector index is a projection like the lexical one: it records the store sequence number it
//! has applied and catches up from the change log. Embedding is slow next to everything else, so
//! catching up runs apart from the write path (a background thread in `serve`, a progress bar in
//! `ingest`); searches meanwhile use what is there and say the dense side is behind.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use embed::{EmbedConfig, Embedder, EmbeddingCache};
use store::{Item, Record, Store};
use vectors::{IndexParams, VectorIndex};

use crate::data_dir::DataLayout;
use crate::{Error, Progress, Result};

/// Items embedded between two progress reports and index updates.
pub const EMBED_CHUNK: usize = 64;

/// What the dense side can say about itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DenseStatus {
    pub model_id: String,
    pub dimension: usize,
    pub vectors: usize,
    pub applied_seq: u64,
}

type QueryJob = (String, SyncSender<std::result::Result<Vec<f32>, String>>);

/// A query embedding on its way from the embedding thread, or why it will not come.
#[derive(Debug)]
pub(crate) struct PendingVector(std::result::Result<Receiver<std::result::Result<Vec<f32>, String>>, String>);

impl PendingVector {
    /// The vector, waiting at most `budget` for it.
    pub(crate) fn wait(self, budget: Duration) -> std::result::Result<Vec<f32>, String> {
        match self.0?.recv_timeout(budget) {
            Ok(result) => result,
            Err(RecvTimeoutError::Timeout) => {
                Err(format!("the query embedding took longer than {} ms", budget.as_millis()))
            }
            Err(RecvTimeoutError::Disconnected) => Err("the query embedder stopped".into()),
        }
    }
}

#[derive(Debug)]
pub(crate) struct Dense {
    embedder: Arc<Embedder>,
    index: RwLock<VectorIndex>,
    cache: EmbeddingCache,
    dir: PathBuf,
    /// One catch-up at a time.
    sync: Mutex<()>,
    queries: SyncSender<QueryJob>,
    /// Why the saved index was set aside at open (missing or damaged), when it was: the
    /// catch-up then rebuilds it from the store.
    repaired: Option<String>,
}

/// The text of an item that is embedded.
pub(crate) fn item_text(item: &Item) -> String {
    format!("{}\n{}", item.title, item.body)
}

impl Dense {
    /// Loads the model and opens (or creates) the vector index and the embedding cache in
    /// the data directory of `layout` (the cache at `cache` when given); at most `query_queue`
    /// query embeddings wait for the embedding thread ([`crate::Limits::query_embed_queue`]). An
    /// index built with another model is an error that says to reindex.
    pub(crate) fn open(
        layout: &DataLayout,
        model_dir: &Path,
        config: &EmbedConfig,
        cache: Option<&Path>,
        query_queue: usize,
    ) -> Result<Dense> {
        let embedder = Arc::new(Embedder::load(model_dir, config)?);
        let dir = layout.vectors_dir();
        let fresh = || VectorIndex::new(embedder.model_id(), embedder.dimension(), IndexParams::default());
        let (index, repaired) = if VectorIndex::exists(&dir) {
            match VectorIndex::open(&dir, embedder.model_id(), embedder.dimension(), IndexParams::default()) {
                Ok(index) => (index, None),
                // Another model's vectors are not damage: rebuilding silently would hide a
                // configuration mistake, so this stays an error that says to reindex.
                Err(e @ (vectors::Error::ModelMismatch { .. } | vectors::Error::DimensionMismatch { .. })) => {
                    return Err(e.into());
                }
                Err(e) => (fresh()?, Some(e.to_string())),
            }
        } else if has_data_files(&dir) {
            (fresh()?, Some(format!("{} has vector files but no manifest", dir.display())))
        } else {
            (fresh()?, None)
        };
        if let Some(reason) = &repaired {
            tracing::warn!(dir = %dir.display(), %reason, "the vector index is damaged; rebuilding it from the store in the background");
        }
        let cache_path = cache.map_or_else(|| layout.embedding_cache_file(), Path::to_path_buf);
        if let Some(parent) = cache_path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::DataDir { path: parent.display().to_string(), message: e.to_string() })?;
        }
        let cache = EmbeddingCache::open(&cache_path)?;
        let (queries, jobs) = sync_channel::<QueryJob>(query_queue);
        let worker = Arc::clone(&embedder);
        std::thread::Builder::new()
            .name("query-embedder".into())
            .spawn(move || embed_queries(&worker, &jobs))
            .map_err(|e| Error::DataDir { path: layout.root().display().to_string(), message: e.to_string() })?;
        tracing::info!(model = embedder.model_id(), vectors = index.len(), "dense retrieval ready");
        Ok(Dense { embedder, index: RwLock::new(index), cache, dir, sync: Mutex::new(()), queries, repaired })
    }

    /// Why the saved vector index was set aside and is rebuilt, when it was.
    pub(crate) fn repaired(&self) -> Option<String> {
        self.repaired.clone()
    }

    pub(crate) fn status(&self) -> DenseStatus {
        let index = self.read();
        DenseStatus {
            model_id: self.embedder.model_id().to_string(),
            dimension: self.embedder.dimension(),
            vectors: index.len(),
            applied_seq: index.applied_seq(),
        }
    }

    /// The ids the vector index holds, and the store sequence number it has applied.
    pub(crate) fn ids(&self) -> (std::collections::BTreeSet<String>, u64) {
        let index = self.read();
        (index.ids().map(str::to_string).collect(), index.applied_seq())
    }

    pub(crate) fn vector_count(&self) -> usize {
        self.read().vector_count()
    }

    pub(crate) fn embedder(&self) -> &Embedder {
        &self.embedder
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, VectorIndex> {
        self.index.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, VectorIndex> {
        self.index.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Hands a query to the embedding thread and returns at once: the caller searches while
    /// it is embedded, then collects it with [`PendingVector::wait`]. (A request's searches keep
    /// the vector in their analysed query: one embedding per request.)
    pub(crate) fn request_vector(&self, text: &str) -> PendingVector {
        let (reply, answer) = sync_channel(1);
        PendingVector(match self.queries.try_send((text.to_string(), reply)) {
            Ok(()) => Ok(answer),
            Err(TrySendError::Full(_)) => Err("the query embedder is busy".into()),
            Err(TrySendError::Disconnected(_)) => Err("the query embedder stopped".into()),
        })
    }

    /// The vector a document text would be indexed with (one vector: the mean of its windows):
    /// from the embedding cache when the text was embedded before, else computed here and not
    /// cached (a draft changes with every keystroke).
    pub(crate) fn passage_vector(&self, text: &str) -> std::result::Result<Vec<f32>, String> {
        let (model, dim) = (self.embedder.model_id(), self.embedder.dimension());
        if let Ok([Some(parts)]) = self.cache.get_many(model, dim, &[text]).as_deref()
            && let [vector] = parts.as_slice()
        {
            return Ok(vector.clone());
        }
        self.embedder.embed_passages(&[text]).map_err(|e| e.to_string())?.pop().ok_or_else(|| "no vector".into())
    }

    /// Cosine of `vector` with each of `ids` (its best part), `None` for an id not embedded yet.
    pub(crate) fn similarity_to(&self, vector: &[f32], ids: &[String]) -> Vec<Option<f32>> {
        let index = self.read();
        ids.iter()
            .map(|id| index.parts(id).into_iter().map(|part| vectors::dot(vector, part)).reduce(f32::max))
            .collect()
    }

    /// The `k` nearest items to `vector`, best first.
    pub(crate) fn search(&self, vector: &[f32], k: usize) -> Result<Vec<(String, f32)>> {
        Ok(self.read().search(vector, k)?.into_iter().map(|h| (h.id, h.score)).collect())
    }

    /// Brings the vector index up to the store; returns the number of items embedded or
    /// replaced. Safe to call while searches run (each chunk is swapped in under a short lock).
    /// Stopped (`stop` says so between two chunks), it returns the count embedded so far and
    /// leaves the index's sequence number unchanged, so the next catch-up gathers those changes
    /// again.
    pub(crate) fn catch_up(
        &self,
        store: &Store,
        batch: usize,
        progress: &dyn Fn(Progress),
        stop: &dyn Fn() -> bool,
    ) -> Result<usize> {
        let _one_at_a_time = self.sync.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let applied = self.read().applied_seq();
        let mut changes = VectorChanges { dense: self, applied, upserts: BTreeMap::new(), deletes: BTreeSet::new() };
        let last = store::catch_up(store, &mut changes, batch, &mut |_, _| {})?;
        if applied == last {
            return Ok(0);
        }
        let upserts: Vec<(String, String)> = changes.upserts.into_iter().collect();
        let total = upserts.len();
        let mut done = 0;
        for chunk in upserts.chunks(EMBED_CHUNK) {
            if stop() {
                return Ok(done);
            }
            let texts: Vec<&str> = chunk.iter().map(|(_, t)| t.as_str()).collect();
            let (vectors, _stats) = self.cache.embed_documents(&self.embedder, &texts)?;
            let mut index = self.write();
            index.upsert_parts_many(
                chunk.iter().zip(&vectors).map(|((id, _), parts)| (id.as_str(), parts.as_slice())),
            )?;
            drop(index);
            done += chunk.len();
            progress(Progress::Embedded { done, total });
        }
        let mut index = self.write();
        for id in &changes.deletes {
            index.remove(id);
        }
        index.set_applied_seq(last);
        index.save(&self.dir)?;
        Ok(total)
    }
}

/// The vector index as a [`store::Projection`]. Embedding is the slow step and the index is saved
/// whole, so the batches only gather what changed (current text of each changed item, ids that
/// are no longer items); [`Dense::catch_up`] then embeds it and saves the index once, stamped
/// with the sequence number reached. A crash before the save leaves the old stamp, and the next
/// catch-up gathers the same changes again.
struct VectorChanges<'a> {
    dense: &'a Dense,
    applied: u64,
    upserts: BTreeMap<String, String>,
    deletes: BTreeSet<String>,
}

impl store::Projection for VectorChanges<'_> {
    type Error = Error;

    fn applied_seq(&mut self) -> Result<u64> {
        Ok(self.applied)
    }

    fn apply(&mut self, batch: store::ChangeBatch) -> Result<()> {
        for (id, stored) in batch.records {
            match stored.map(|s| s.record) {
                Some(Record::Item(item)) => {
                    self.deletes.remove(&id);
                    self.upserts.insert(id, item_text(&item));
                }
                _ => {
                    self.upserts.remove(&id);
                    self.deletes.insert(id);
                }
            }
        }
        self.applied = batch.seq;
        Ok(())
    }

    /// A new index, or one ahead of the store: every item is embedded into a fresh index (from
    /// the embedding cache, so quickly when the texts are known).
    fn rebuild(&mut self, store: &Store, seq: u64) -> Result<bool> {
        store.for_each(|stored| {
            if let Record::Item(item) = stored.record {
                self.upserts.insert(item.id.clone(), item_text(&item));
            }
            Ok(())
        })?;
        let embedder = &self.dense.embedder;
        *self.dense.write() = VectorIndex::new(embedder.model_id(), embedder.dimension(), IndexParams::default())?;
        self.deletes.clear();
        self.applied = seq;
        Ok(true)
    }
}

/// Whether `dir` holds vector data files (left by a save whose manifest is gone).
fn has_data_files(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .is_ok_and(|entries| entries.flatten().any(|e| e.file_name().to_string_lossy().starts_with("vectors.")))
}

fn embed_queries(embedder: &Embedder, jobs: &Receiver<QueryJob>) {
    while let Ok((text, reply)) = jobs.recv() {
        let result = embedder.embed_query(&text).map_err(|e| e.to_string());
        // The searcher may have stopped waiting; that is fine.
        let _ = reply.send(result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Dense` over the default model (scripts/fetch-model.sh) in a data directory of its own.
    fn open(dir: &Path, query_queue: usize) -> Dense {
        let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/m3e-small");
        assert!(model.join("config.json").is_file(), "the default model is missing: run scripts/fetch-model.sh first");
        Dense::open(&DataLayout::new(dir), &model, &EmbedConfig::default(), None, query_queue).expect("dense")
    }

    /// Hands 16 queries to the embedding thread back to back; how many were turned away busy,
    /// after waiting for the answers to the others.
    fn busy_of_sixteen(dense: &Dense) -> usize {
        let pending: Vec<PendingVector> = (0..16).map(|i| dense.request_vector(&format!("通道告警 {i}"))).collect();
        let busy = pending.iter().filter(|p| p.0.as_ref().is_err_and(|e| e.contains("busy"))).count();
        for taken in pending.into_iter().filter(|p| p.0.is_ok()) {
            assert!(taken.wait(Duration::from_secs(120)).is_ok(), "a query taken is embedded");
        }
        busy
    }

    /// The query queue is `Limits::query_embed_queue`: a queue of 16 takes 16 queries handed over
    /// at once whatever the embedding thread is doing; a queue of 1 turns most of them away (the
    /// thread would have to embed a query in the microseconds it takes to hand over the next).
    #[test]
    fn the_query_queue_is_the_configured_limit() {
        let (roomy, tight) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
        assert_eq!(busy_of_sixteen(&open(roomy.path(), 16)), 0);
        assert!(busy_of_sixteen(&open(tight.path(), 1)) > 0, "a queue of 1 took 16 queries at once");
    }
}
