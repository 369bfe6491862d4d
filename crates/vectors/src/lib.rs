//! The vector index of gridkb: document id → unit vector, searched by cosine similarity.
//!
//! Architecture invariant: the only crate that imports hnsw_rs. Vectors are L2-normalised on the
//! way in, so cosine is a dot product; the HNSW distance is `1 − dot` clamped at 0, so rounding
//! never trips an assertion. Below [`IndexParams::exact_threshold`] live vectors the index
//! answers by exact scan (which is also the reference for recall tests; a half-precision first
//! pass, then f32 for every vector it cannot rule out, so the answer is the f32 scan's); above it, by an HNSW
//! graph built from the stored vectors. Updates and deletes leave tombstones that are filtered at
//! query time; when they exceed [`IndexParams::max_tombstone_fraction`] the index compacts and
//! rebuilds its graph.
//!
//! Persistence ([`VectorIndex::save`] / [`VectorIndex::open`]) is gridkb's own format: a data file
//! and a manifest (format version, model id, dimension, count, applied sequence number, blake3
//! checksums), each written to a temporary file, fsynced and renamed. The graph is not stored: it
//! is derived data, rebuilt at open when the index is above the exact-scan threshold.

mod exact;
mod graph;
mod halfdot;
mod persist;

use std::collections::HashMap;
use std::path::PathBuf;

pub use persist::{FORMAT_VERSION, MANIFEST_FILE, Manifest};

/// Below this many live vectors, searches scan exactly.
///
/// Measured on the 2-core machine (`examples/scan_vs_graph.rs`, 512 dimensions, machine shared
/// with other builds): the exact scan takes 0.25 ms p50 at 5k vectors, 1.2 ms at 14k, 1.8–3 ms
/// at 30k and 3.3–8 ms at 60k. hnsw_rs at 14k (M 16, ef_construction 100) takes 45–55 s to
/// build and answers in 1.2 ms (ef 32) to 7 ms (ef 128) on clustered data — no faster than the
/// scan — and needs ef 256 for recall 0.98 on uniform noise. The graph pays off only well above
/// gridkb's corpus size.
///
/// An 8-bit first pass with a provable f32 rescore was tried (issue 17): 1.66 → 1.05 CPU-ms per
/// 200-neighbour scan at 16k on clustered noise (`examples/scan_cpu.rs`), but real m3e-small
/// vectors are concentrated (the 200th neighbour at cosine 0.87–0.92), so the window the error
/// bound leaves open held 2k–12k of the 16k vectors and the rescore cost more than it saved.
/// A half-precision first pass (`halfdot.rs`) leaves a window 30 times narrower and pays: 2.2 →
/// 1.3 CPU-ms per 200-neighbour scan of the real 16k vectors (docs/performance.md).
///
/// Checked again for the 1×, 3× and 10× corpora (docs/performance.md, "1× → 10×"; top 200 as a
/// search asks, load 8–10): the scan takes 1.5–1.8 ms at 16k, 7.6–9.2 ms at 49k, 29 ms at 163k;
/// the graph answers in 8 ms, 2.3–2.5 ms and 6.6 ms (recall@200 ≥ 0.97) on clustered data, but
/// is slower at every size with recall 0.68 (49k) and 0.36 (163k) on uniform noise, and costs
/// 1–5 min (clustered) to 22 min (uniform) to build at every open above the threshold. 50k
/// stays where the clustered set starts to favour the graph.
pub const DEFAULT_EXACT_THRESHOLD: usize = 50_000;
/// HNSW neighbours kept per node and layer.
pub const DEFAULT_MAX_CONNECTIONS: usize = 16;
/// HNSW candidate list while building.
pub const DEFAULT_EF_CONSTRUCTION: usize = 100;
/// HNSW candidate list while searching (raised to `k` when `k` is larger).
pub const DEFAULT_EF_SEARCH: usize = 128;
/// Compact and rebuild once this fraction of the stored vectors are tombstones.
pub const DEFAULT_MAX_TOMBSTONE_FRACTION: f32 = 0.25;

/// Tuning of one index. The defaults suit gridkb's corpus (14k items, 512 dimensions).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IndexParams {
    pub exact_threshold: usize,
    pub max_connections: usize,
    pub ef_construction: usize,
    pub ef_search: usize,
    pub max_tombstone_fraction: f32,
}

impl Default for IndexParams {
    fn default() -> Self {
        IndexParams {
            exact_threshold: DEFAULT_EXACT_THRESHOLD,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            ef_construction: DEFAULT_EF_CONSTRUCTION,
            ef_search: DEFAULT_EF_SEARCH,
            max_tombstone_fraction: DEFAULT_MAX_TOMBSTONE_FRACTION,
        }
    }
}

/// Why an index operation failed; each message says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(
        "vector index {dir} was built with embedding model {found}, but the embedder is {expected}; its vectors cannot be compared. Rebuild the vectors: `gridkb reindex`"
    )]
    ModelMismatch { dir: PathBuf, found: String, expected: String },
    #[error(
        "vector index {dir} holds {found}-dimensional vectors, but the embedder makes {expected}-dimensional ones. Rebuild the vectors: `gridkb reindex`"
    )]
    DimensionMismatch { dir: PathBuf, found: usize, expected: usize },
    #[error(
        "vector index {dir} has format version {found}, this gridkb reads {expected}. Rebuild the vectors: `gridkb reindex`"
    )]
    Format { dir: PathBuf, found: u32, expected: u32 },
    #[error(
        "vector index {path} is corrupt: {reason}. Delete the index directory and rebuild the vectors: `gridkb reindex`"
    )]
    Corrupt { path: PathBuf, reason: String },
    #[error("vector index {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("vector for {id:?} refused: {reason}")]
    BadVector { id: String, reason: String },
    #[error("invalid index parameters: {0}")]
    Params(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One search result: the document id and its cosine similarity to the query.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub id: String,
    pub score: f32,
}

/// Which way a search was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Exact,
    Graph,
}

/// An in-memory vector index; see the crate docs. Not internally synchronised: share it behind
/// an `RwLock` (searches take `&self`).
///
/// A document has one vector or several *parts* (the windows of a long text, for best-passage
/// scoring): a search returns each document once, scored by its best part.
pub struct VectorIndex {
    model_id: String,
    dim: usize,
    params: IndexParams,
    /// Slot `i` holds a vector of document `ids[i]` in `data[i*dim..(i+1)*dim]`; slots are
    /// never reused, a slot whose `alive[i]` is false is a tombstone.
    ids: Vec<String>,
    data: Vec<f32>,
    /// `data` rounded to half precision (f16 bit patterns), slot for slot: what the exact scan
    /// reads first (half the bytes), before it rescores the few it cannot rule out in f32.
    half: Vec<u16>,
    alive: Vec<bool>,
    /// Document → its live slots (its parts, in order).
    by_id: HashMap<String, Vec<usize>>,
    live_slots: usize,
    /// An upper bound of the parts of any live document (exact after a compaction).
    max_parts: usize,
    /// The HNSW graph over slots `0..graph.len()`, present above the exact-scan threshold.
    graph: Option<graph::Graph>,
    applied_seq: u64,
}

impl std::fmt::Debug for VectorIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VectorIndex")
            .field("model_id", &self.model_id)
            .field("dim", &self.dim)
            .field("live", &self.len())
            .field("tombstones", &self.tombstones())
            .field("graph", &self.graph.is_some())
            .field("applied_seq", &self.applied_seq)
            .finish()
    }
}

impl VectorIndex {
    /// An empty index for vectors of `model_id` with `dim` dimensions.
    pub fn new(model_id: &str, dim: usize, params: IndexParams) -> Result<VectorIndex> {
        if dim == 0 {
            return Err(Error::Params("dimension must be at least 1".into()));
        }
        if !(0.0..1.0).contains(&params.max_tombstone_fraction) || params.max_tombstone_fraction <= 0.0 {
            return Err(Error::Params("max_tombstone_fraction must be in (0, 1)".into()));
        }
        if !(2..=255).contains(&params.max_connections) || params.ef_search == 0 || params.ef_construction == 0 {
            return Err(Error::Params("max_connections must be in 2..=255, ef values at least 1".into()));
        }
        Ok(VectorIndex {
            model_id: model_id.to_owned(),
            dim,
            params,
            ids: Vec::new(),
            data: Vec::new(),
            half: Vec::new(),
            alive: Vec::new(),
            by_id: HashMap::new(),
            live_slots: 0,
            max_parts: 1,
            graph: None,
            applied_seq: 0,
        })
    }

    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    pub fn dimension(&self) -> usize {
        self.dim
    }

    pub fn params(&self) -> &IndexParams {
        &self.params
    }

    /// Live documents.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// The ids of the live documents, in no particular order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.by_id.keys().map(String::as_str)
    }

    /// Live vectors (a document with several parts counts each).
    pub fn vector_count(&self) -> usize {
        self.live_slots
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Stored vectors that were replaced or deleted and not yet compacted away.
    pub fn tombstones(&self) -> usize {
        self.ids.len() - self.live_slots
    }

    pub fn contains(&self, id: &str) -> bool {
        self.by_id.contains_key(id)
    }

    /// The stored (normalised) vector of `id`; its first part if it has several.
    pub fn get(&self, id: &str) -> Option<&[f32]> {
        self.by_id.get(id).and_then(|slots| slots.first()).map(|&slot| self.slot(slot))
    }

    /// Every part of `id`, in the order given.
    pub fn parts(&self, id: &str) -> Vec<&[f32]> {
        self.by_id.get(id).map(|slots| slots.iter().map(|&s| self.slot(s)).collect()).unwrap_or_default()
    }

    /// The store sequence number this index reflects (kept by the caller, saved in the manifest).
    pub fn applied_seq(&self) -> u64 {
        self.applied_seq
    }

    pub fn set_applied_seq(&mut self, seq: u64) {
        self.applied_seq = seq;
    }

    /// Whether searches currently go through the HNSW graph.
    pub fn method(&self) -> Method {
        if self.graph.is_some() { Method::Graph } else { Method::Exact }
    }

    /// Inserts or replaces the vector of `id`. The vector is normalised; a wrong length, a
    /// non-finite value or a zero vector is refused and changes nothing.
    pub fn upsert(&mut self, id: &str, vector: &[f32]) -> Result<()> {
        self.upsert_many([(id, vector)])
    }

    /// Inserts or replaces many vectors; faster than one by one when it builds the graph.
    /// Every vector is checked before anything changes.
    pub fn upsert_many<'a, I>(&mut self, items: I) -> Result<()>
    where
        I: IntoIterator<Item = (&'a str, &'a [f32])>,
    {
        let items =
            items.into_iter().map(|(id, v)| Ok((id, vec![self.checked(id, v)?]))).collect::<Result<Vec<_>>>()?;
        self.insert_checked(items);
        Ok(())
    }

    /// Inserts or replaces document `id` with several vectors (e.g. one per window of a long
    /// text); it is found by its best part. At least one part is required.
    pub fn upsert_parts(&mut self, id: &str, parts: &[Vec<f32>]) -> Result<()> {
        self.upsert_parts_many([(id, parts)])
    }

    /// [`Self::upsert_parts`] for many documents at once.
    pub fn upsert_parts_many<'a, I>(&mut self, items: I) -> Result<()>
    where
        I: IntoIterator<Item = (&'a str, &'a [Vec<f32>])>,
    {
        let items = items
            .into_iter()
            .map(|(id, parts)| {
                if parts.is_empty() {
                    return Err(Error::BadVector { id: id.to_owned(), reason: "it has no vectors".into() });
                }
                Ok((id, parts.iter().map(|v| self.checked(id, v)).collect::<Result<Vec<_>>>()?))
            })
            .collect::<Result<Vec<_>>>()?;
        self.insert_checked(items);
        Ok(())
    }

    fn insert_checked(&mut self, items: Vec<(&str, Vec<Vec<f32>>)>) {
        let first_new = self.ids.len();
        for (id, parts) in items {
            self.kill(id);
            let mut slots = Vec::with_capacity(parts.len());
            for v in parts {
                slots.push(self.ids.len());
                self.ids.push(id.to_owned());
                self.data.extend_from_slice(&v);
                self.half.extend(halfdot::halves(&v));
                self.alive.push(true);
            }
            self.live_slots += slots.len();
            self.max_parts = self.max_parts.max(slots.len());
            self.by_id.insert(id.to_owned(), slots);
        }
        if let Some(g) = &self.graph {
            g.insert(&self.data, self.dim, first_new..self.ids.len());
        }
        self.maintain();
    }

    /// Marks every slot of `id` dead; returns whether it had any.
    fn kill(&mut self, id: &str) -> bool {
        let Some(slots) = self.by_id.remove(id) else { return false };
        for &s in &slots {
            self.alive[s] = false;
        }
        self.live_slots -= slots.len();
        true
    }

    /// Deletes `id` (all its parts); returns whether it was there.
    pub fn remove(&mut self, id: &str) -> bool {
        let found = self.kill(id);
        if found {
            self.maintain();
        }
        found
    }

    /// The `k` documents most similar to `query` (normalised here), best first, each once.
    pub fn search(&self, query: &[f32], k: usize) -> Result<Vec<Hit>> {
        match &self.graph {
            Some(g) => {
                let q = self.checked("query", query)?;
                Ok(self.graph_hits(g, &q, k, self.params.ef_search))
            }
            None => self.search_exact(query, k),
        }
    }

    /// Exact search by scanning every live vector; the reference for recall.
    pub fn search_exact(&self, query: &[f32], k: usize) -> Result<Vec<Hit>> {
        let q = self.checked("query", query)?;
        let k = k.min(self.len());
        // The k best documents have their best parts among the k × max_parts best vectors.
        let slots = exact::top_k(&self.data, &self.half, self.dim, &self.alive, &q, self.oversampled(k));
        Ok(self.distinct(slots, k))
    }

    /// Search through the HNSW graph with candidate list `ef`, building the graph first if the
    /// index is below the threshold and has none (for measurements and tests).
    pub fn search_graph(&mut self, query: &[f32], k: usize, ef: usize) -> Result<Vec<Hit>> {
        let q = self.checked("query", query)?;
        if self.graph.is_none() {
            self.build_graph();
        }
        let g = self.graph.as_ref().expect("graph just built");
        Ok(self.graph_hits(g, &q, k, ef))
    }

    fn oversampled(&self, k: usize) -> usize {
        k.saturating_mul(self.max_parts).min(self.live_slots)
    }

    fn graph_hits(&self, g: &graph::Graph, q: &[f32], k: usize, ef: usize) -> Vec<Hit> {
        let k = k.min(self.len());
        let want = self.oversampled(k);
        // The graph's distance is clamped: score the hits exactly.
        let mut scored: Vec<(usize, f32)> =
            g.search(q, want, ef.max(want), &self.alive).into_iter().map(|(s, _)| (s, dot(self.slot(s), q))).collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        self.distinct(scored, k)
    }

    /// The first `k` distinct documents of slots sorted best first.
    fn distinct(&self, scored: Vec<(usize, f32)>, k: usize) -> Vec<Hit> {
        let mut seen = std::collections::HashSet::with_capacity(k);
        let mut hits = Vec::with_capacity(k);
        for (slot, score) in scored {
            let id = &self.ids[slot];
            if hits.len() == k {
                break;
            }
            if seen.insert(id.as_str()) {
                hits.push(Hit { id: id.clone(), score });
            }
        }
        hits
    }

    /// Builds the HNSW graph over the stored vectors now (in parallel), whatever the size.
    pub fn build_graph(&mut self) {
        self.graph = Some(graph::Graph::build(&self.data, self.dim, self.ids.len(), &self.params));
    }

    /// Drops tombstones, renumbering slots; rebuilds the graph if the index is large enough.
    pub fn compact(&mut self) {
        let mut ids = Vec::with_capacity(self.live_slots);
        let mut data = Vec::with_capacity(self.live_slots * self.dim);
        let mut by_id: HashMap<String, Vec<usize>> = HashMap::with_capacity(self.by_id.len());
        for (slot, id) in self.ids.iter().enumerate() {
            if self.alive[slot] {
                by_id.entry(id.clone()).or_default().push(ids.len());
                ids.push(id.clone());
                data.extend_from_slice(self.slot(slot));
            }
        }
        self.max_parts = by_id.values().map(Vec::len).max().unwrap_or(1);
        self.by_id = by_id;
        self.alive = vec![true; ids.len()];
        self.ids = ids;
        self.half = halfdot::halves(&data).collect();
        self.data = data;
        let had_graph = self.graph.take().is_some();
        if had_graph || self.live_slots > self.params.exact_threshold {
            self.build_graph();
        }
    }

    fn maintain(&mut self) {
        let stored = self.ids.len();
        if stored > 0 && self.tombstones() as f32 > self.params.max_tombstone_fraction * stored as f32 {
            self.compact();
        } else if self.graph.is_none() && self.live_slots > self.params.exact_threshold {
            self.build_graph();
        }
    }

    fn slot(&self, slot: usize) -> &[f32] {
        &self.data[slot * self.dim..(slot + 1) * self.dim]
    }

    fn checked(&self, id: &str, v: &[f32]) -> Result<Vec<f32>> {
        let bad = |reason: String| Error::BadVector { id: id.to_owned(), reason };
        if v.len() != self.dim {
            return Err(bad(format!("it has {} dimensions, the index {}", v.len(), self.dim)));
        }
        if v.iter().any(|x| !x.is_finite()) {
            return Err(bad("it holds a NaN or infinite value".into()));
        }
        let norm = v.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>().sqrt();
        if norm == 0.0 {
            return Err(bad("it is the zero vector".into()));
        }
        Ok(v.iter().map(|&x| (f64::from(x) / norm) as f32).collect())
    }
}

/// Cosine similarity of two unit vectors: their dot product, accumulated in 8 lanes so the
/// compiler vectorises it.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}
