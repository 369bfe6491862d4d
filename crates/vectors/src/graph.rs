//! The HNSW graph (hnsw_rs) over the index's slots, with a distance that cannot panic.

use std::ops::Range;

use hnsw_rs::prelude::{Distance, Hnsw};

use crate::{IndexParams, dot};

/// `1 − cos` for unit vectors, clamped at 0: rounding can push a dot product of two unit
/// vectors slightly above 1, which makes anndists' `DistDot` assert and panic.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ClampedDot;

impl Distance<f32> for ClampedDot {
    fn eval(&self, a: &[f32], b: &[f32]) -> f32 {
        let d = 1.0 - dot(a, b);
        if d > 0.0 { d } else { 0.0 }
    }
}

/// Upper bound of layers; hnsw_rs caps it at 16 anyway.
const MAX_LAYERS: usize = 16;

pub(crate) struct Graph {
    hnsw: Hnsw<'static, f32, ClampedDot>,
}

impl Graph {
    /// Builds the graph over slots `0..slots` of `data` (tombstones included: they are filtered
    /// at query time and dropped at the next compaction).
    pub(crate) fn build(data: &[f32], dim: usize, slots: usize, p: &IndexParams) -> Graph {
        let started = std::time::Instant::now();
        let hnsw = Hnsw::new(p.max_connections, slots.max(1024), MAX_LAYERS, p.ef_construction, ClampedDot);
        let g = Graph { hnsw };
        g.insert(data, dim, 0..slots);
        tracing::info!(vectors = slots, elapsed_ms = started.elapsed().as_millis() as u64, "HNSW graph built");
        g
    }

    /// Adds slots `range` (in parallel when there are many).
    pub(crate) fn insert(&self, data: &[f32], dim: usize, range: Range<usize>) {
        let items: Vec<(&[f32], usize)> = range.map(|s| (&data[s * dim..(s + 1) * dim], s)).collect();
        if items.len() >= 256 {
            self.hnsw.parallel_insert_slice(&items);
        } else {
            for item in items {
                self.hnsw.insert_slice(item);
            }
        }
    }

    /// The `k` nearest live slots with their cosine similarity, best first.
    pub(crate) fn search(&self, q: &[f32], k: usize, ef: usize, alive: &[bool]) -> Vec<(usize, f32)> {
        if k == 0 {
            return Vec::new();
        }
        let filter = |id: &usize| alive.get(*id).copied().unwrap_or(false);
        let mut hits: Vec<(usize, f32)> =
            self.hnsw.search_filter(q, k, ef, Some(&filter)).into_iter().map(|n| (n.d_id, 1.0 - n.distance)).collect();
        hits.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        hits.truncate(k);
        hits
    }
}
