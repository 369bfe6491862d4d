//! Exact top-k by scanning every live vector, in two passes: the half-precision copies of every
//! vector first (half the bytes to read, split across the rayon pool), then the f32 vectors of
//! those the first pass cannot rule out. The answer is the f32 scan's, ties included.

use rayon::prelude::*;

use crate::dot;
use crate::halfdot::{Kernel, error_bound};

/// Slots per parallel task: large enough that splitting costs nothing measurable.
const CHUNK_SLOTS: usize = 2048;

/// The `k` best (slot, score) pairs by the f32 dot product with `q`, best first, ties broken
/// by the lower slot. `half` holds the half-precision copy of `data`, slot for slot.
///
/// Why the answer is exact: every first-pass score is within `δ` = [`error_bound`] of the f32
/// score. Let `A` be the k-th best first-pass score and `T` the k-th best f32 score. The k
/// vectors at or above `T` score at least `T − δ` in the first pass, so `A ≥ T − δ`; the k at or
/// above `A` score at least `A − δ` in f32, so `T ≥ A − δ`. A vector scoring at least `T` in f32
/// therefore scores at least `T − δ ≥ A − 2δ` in the first pass: rescoring every vector at or
/// above `A − 2δ` rescores all of them, and every vector tied with the k-th.
pub(crate) fn top_k(data: &[f32], half: &[u16], dim: usize, alive: &[bool], q: &[f32], k: usize) -> Vec<(usize, f32)> {
    let live = alive.iter().filter(|&&a| a).count();
    let k = k.min(live);
    if k == 0 {
        return Vec::new();
    }
    let kernel = Kernel::detect();
    let mut approx = vec![f32::NEG_INFINITY; alive.len()];
    let first_pass = |first: usize, out: &mut [f32]| {
        for (i, score) in out.iter_mut().enumerate() {
            let slot = first + i;
            if alive[slot] {
                *score = kernel.dot(&half[slot * dim..(slot + 1) * dim], q);
            }
        }
    };
    if approx.len() <= CHUNK_SLOTS {
        first_pass(0, &mut approx);
    } else {
        approx.par_chunks_mut(CHUNK_SLOTS).enumerate().for_each(|(c, out)| first_pass(c * CHUNK_SLOTS, out));
    }
    let mut scores: Vec<f32> = approx.iter().zip(alive).filter(|&(_, &a)| a).map(|(&s, _)| s).collect();
    let (_, &mut kth, _) = scores.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
    let floor = kth - 2.0 * error_bound(dim);
    let mut exact: Vec<(usize, f32)> = approx
        .iter()
        .enumerate()
        .filter(|&(slot, &s)| alive[slot] && s >= floor)
        .map(|(slot, _)| (slot, dot(&data[slot * dim..(slot + 1) * dim], q)))
        .collect();
    exact.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    exact.truncate(k);
    exact
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::halfdot::halves;

    /// The f32 scan the two passes replace: every live vector scored, sorted, cut at k.
    fn reference(data: &[f32], dim: usize, alive: &[bool], q: &[f32], k: usize) -> Vec<(usize, f32)> {
        let mut all: Vec<(usize, f32)> = data
            .chunks_exact(dim)
            .enumerate()
            .filter(|&(slot, _)| alive[slot])
            .map(|(slot, v)| (slot, dot(v, q)))
            .collect();
        all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        all.truncate(k);
        all
    }

    /// Unit vectors around a few centres, close together as real embeddings are, with exact
    /// duplicates (ties) and every fifth slot dead.
    fn clustered(n: usize, dim: usize) -> (Vec<f32>, Vec<bool>) {
        let mut state = 7u64;
        let mut next = move || {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        };
        let centres: Vec<Vec<f32>> = (0..5).map(|_| (0..dim).map(|_| next()).collect()).collect();
        let mut data = Vec::with_capacity(n * dim);
        for i in 0..n {
            let v: Vec<f32> = if i % 11 == 10 {
                data[(i - 1) * dim..i * dim].to_vec()
            } else {
                centres[i % 5].iter().map(|c| c + 0.05 * next()).collect()
            };
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            data.extend(v.iter().map(|x| x / norm));
        }
        let alive = (0..n).map(|i| i % 5 != 4).collect();
        (data, alive)
    }

    #[test]
    fn two_passes_give_the_f32_scan_answer_ties_and_tombstones_included() {
        let dim = 64;
        // Below and above one parallel chunk.
        for n in [300, 5000] {
            let (data, alive) = clustered(n, dim);
            let half: Vec<u16> = halves(&data).collect();
            for qi in [0, 1, 10, 37] {
                let q = &data[qi * dim..(qi + 1) * dim];
                for k in [1, 2, 10, 200, n] {
                    let got = top_k(&data, &half, dim, &alive, q, k);
                    assert_eq!(got, reference(&data, dim, &alive, q, k), "n {n}, query {qi}, k {k}");
                }
            }
        }
    }

    #[test]
    fn nothing_alive_or_nothing_asked_gives_nothing() {
        let (data, _) = clustered(10, 8);
        let half: Vec<u16> = halves(&data).collect();
        assert!(top_k(&data, &half, 8, &[false; 10], &data[..8], 3).is_empty());
        assert!(top_k(&data, &half, 8, &[true; 10], &data[..8], 0).is_empty());
    }
}
