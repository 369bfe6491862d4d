//! Exact top-k by scanning every live vector, split across the rayon pool.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use rayon::prelude::*;

use crate::dot;

/// Slots per parallel task: large enough that splitting costs nothing measurable.
const CHUNK_SLOTS: usize = 2048;

/// A candidate ordered so that the heap's top is the worst kept one.
#[derive(PartialEq)]
struct Cand(f32, usize);

impl Eq for Cand {}

impl PartialOrd for Cand {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Cand {
    fn cmp(&self, other: &Self) -> Ordering {
        // Higher score is better, so "greater" means worse here: reverse on score, then by slot.
        other.0.total_cmp(&self.0).then(self.1.cmp(&other.1))
    }
}

fn scan(data: &[f32], dim: usize, alive: &[bool], first: usize, q: &[f32], k: usize) -> BinaryHeap<Cand> {
    let mut heap = BinaryHeap::with_capacity(k + 1);
    for (i, v) in data.chunks_exact(dim).enumerate() {
        let slot = first + i;
        if !alive[slot] {
            continue;
        }
        let s = dot(v, q);
        if heap.len() < k {
            heap.push(Cand(s, slot));
        } else if heap.peek().is_some_and(|w| s > w.0) {
            heap.pop();
            heap.push(Cand(s, slot));
        }
    }
    heap
}

/// The `k` best (slot, score) pairs, best first; ties broken by the lower slot.
pub(crate) fn top_k(data: &[f32], dim: usize, alive: &[bool], q: &[f32], k: usize) -> Vec<(usize, f32)> {
    if k == 0 {
        return Vec::new();
    }
    let chunk = CHUNK_SLOTS * dim;
    let heaps: Vec<BinaryHeap<Cand>> = if data.len() <= chunk {
        vec![scan(data, dim, alive, 0, q, k)]
    } else {
        data.par_chunks(chunk).enumerate().map(|(c, part)| scan(part, dim, alive, c * CHUNK_SLOTS, q, k)).collect()
    };
    let mut all: Vec<Cand> = heaps.into_iter().flatten().collect();
    all.sort();
    all.truncate(k);
    all.into_iter().map(|Cand(s, slot)| (slot, s)).collect()
}
