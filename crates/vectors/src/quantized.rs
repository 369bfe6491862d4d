//! The exact scan in two passes: 8-bit codes first, then f32 for the few that can still win.
//!
//! Every stored vector also has an 8-bit copy (one scale per vector: the largest component maps
//! to ±127), a quarter of the f32 bytes, so a scan reads 8 MB instead of 33 MB at 16k × 512 and
//! stays in the last-level cache. The first pass scores every live vector from the codes; the
//! second rescores in f32 every vector whose approximate score is within twice the error bound
//! of the k-th best, which provably holds the true top k (see [`top_k`]); the answer is the same
//! as [`crate::exact`]'s, scores included.

use rayon::prelude::*;

use crate::dot;

/// Slots per parallel task in the first pass.
const CHUNK_SLOTS: usize = 4096;

/// Rounding of the f32 sums (the exact dot and the scaled integer dot) against the real
/// products the error bound is about: far above `dim × f32::EPSILON` for unit vectors.
const ROUNDING_SLACK: f64 = 1e-4;

/// The 8-bit copies of an index's slots.
#[derive(Debug, Default, Clone)]
pub(crate) struct Codes {
    codes: Vec<i8>,
    scales: Vec<f32>,
    /// The largest ‖v − v̂‖ of any slot coded since the last [`Codes::clear`].
    max_error: f64,
}

/// `v` as `scale × codes`, and the Euclidean norm of what that loses.
fn quantize(v: &[f32], codes: &mut Vec<i8>) -> (f32, f64) {
    let largest = v.iter().fold(0f32, |m, x| m.max(x.abs()));
    let scale = if largest > 0.0 { largest / 127.0 } else { 1.0 };
    let mut lost = 0f64;
    for &x in v {
        // In range by the choice of scale; the clamp only guards the rounding of the division.
        let c = (x / scale).round().clamp(-127.0, 127.0);
        codes.push(c as i8);
        lost += (f64::from(x) - f64::from(c) * f64::from(scale)).powi(2);
    }
    (scale, lost.sqrt())
}

/// The integer dot product of two code rows, accumulated in 32 lanes so the compiler
/// vectorises it. Exact: `dim × 127²` stays far below `i32::MAX` for any model's dimension.
fn dot_codes(a: &[i8], b: &[i8]) -> i32 {
    let mut acc = [0i32; 32];
    let (ca, cb) = (a.chunks_exact(32), b.chunks_exact(32));
    let tail: i32 = ca.remainder().iter().zip(cb.remainder()).map(|(&x, &y)| i32::from(x) * i32::from(y)).sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..32 {
            acc[i] += i32::from(x[i]) * i32::from(y[i]);
        }
    }
    acc.iter().sum::<i32>() + tail
}

impl Codes {
    /// Codes `vector` (unit length) as the next slot.
    pub(crate) fn push(&mut self, vector: &[f32]) {
        let (scale, error) = quantize(vector, &mut self.codes);
        self.scales.push(scale);
        self.max_error = self.max_error.max(error);
    }

    /// Codes every slot of `data` anew (after a compaction renumbered them).
    pub(crate) fn rebuild(data: &[f32], dim: usize) -> Codes {
        let mut codes = Codes {
            codes: Vec::with_capacity(data.len()),
            scales: Vec::with_capacity(data.len() / dim.max(1)),
            max_error: 0.0,
        };
        for v in data.chunks_exact(dim) {
            codes.push(v);
        }
        codes
    }

    /// Bytes held.
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.codes.len() + self.scales.len() * 4
    }
}

/// The `k` best (slot, score) pairs among the live slots, best first, ties broken by the lower
/// slot: the same answer as a scan of the f32 vectors, scores included.
///
/// Why nothing is missed: with `q̂`, `v̂` the decoded codes, `|q·v − q̂·v̂| ≤ ‖q − q̂‖·‖v‖ +
/// ‖q̂‖·‖v − v̂‖ ≤ δq + (1 + δq)·δmax = E` for every unit `v`. At least k slots have an
/// approximate score ≥ `a`, the k-th best approximate one, so the true k-th best score is ≥
/// `a − E`, and any slot of the true top k has an approximate score ≥ `a − 2E`. Those are
/// rescored in f32.
pub(crate) fn top_k(data: &[f32], codes: &Codes, dim: usize, alive: &[bool], q: &[f32], k: usize) -> Vec<(usize, f32)> {
    let slots = alive.len();
    if k == 0 || slots == 0 {
        return Vec::new();
    }
    let mut q_codes = Vec::with_capacity(dim);
    let (q_scale, q_error) = quantize(q, &mut q_codes);
    let score = |first: usize, out: &mut [f32]| {
        for (i, s) in out.iter_mut().enumerate() {
            let slot = first + i;
            *s = if alive[slot] {
                let row = &codes.codes[slot * dim..(slot + 1) * dim];
                q_scale * codes.scales[slot] * dot_codes(&q_codes, row) as f32
            } else {
                f32::NEG_INFINITY
            };
        }
    };
    let mut approx = vec![0f32; slots];
    if slots <= CHUNK_SLOTS {
        score(0, &mut approx);
    } else {
        approx.par_chunks_mut(CHUNK_SLOTS).enumerate().for_each(|(c, out)| score(c * CHUNK_SLOTS, out));
    }

    let live = alive.iter().filter(|&&a| a).count();
    let threshold = if k >= live {
        f32::NEG_INFINITY
    } else {
        let mut sorted = approx.clone();
        let (_, kth, _) = sorted.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
        let bound = q_error + (1.0 + q_error) * codes.max_error + ROUNDING_SLACK;
        (f64::from(*kth) - 2.0 * bound) as f32
    };
    let mut found: Vec<(usize, f32)> = approx
        .iter()
        .enumerate()
        .filter(|&(slot, &a)| alive[slot] && a >= threshold)
        .map(|(slot, _)| (slot, dot(&data[slot * dim..(slot + 1) * dim], q)))
        .collect();
    found.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    found.truncate(k);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> f32 {
            self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        }
        fn unit(&mut self, dim: usize, centre: Option<&[f32]>) -> Vec<f32> {
            let v: Vec<f32> = (0..dim).map(|i| self.next() * 0.5 + centre.map_or(0.0, |c| c[i])).collect();
            let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.into_iter().map(|x| x / n).collect()
        }
    }

    #[test]
    fn the_two_pass_scan_gives_the_plain_scans_answer() {
        let mut rng = Rng(7);
        for (dim, n, clusters) in [(512, 9_000, 30), (37, 500, 3), (8, 40, 1)] {
            // Clustered, like sentence embeddings: many near ties around the k-th score.
            let centres: Vec<Vec<f32>> = (0..clusters).map(|_| rng.unit(dim, None)).collect();
            let mut data = Vec::new();
            for i in 0..n {
                data.extend(rng.unit(dim, Some(&centres[i % clusters])));
            }
            let alive: Vec<bool> = (0..n).map(|i| i % 7 != 3).collect();
            let codes = Codes::rebuild(&data, dim);
            assert_eq!(codes.bytes(), n * dim + n * 4);
            for query in 0..20 {
                let q = rng.unit(dim, Some(&centres[query % clusters]));
                for k in [1, 10, 200, n] {
                    let plain = crate::exact::top_k(&data, dim, &alive, &q, k);
                    assert_eq!(top_k(&data, &codes, dim, &alive, &q, k), plain, "dim {dim}, k {k}");
                }
            }
        }
    }

    #[test]
    fn codes_decode_within_their_error() {
        let mut rng = Rng(3);
        let v = rng.unit(512, None);
        let mut c = Vec::new();
        let (scale, error) = quantize(&v, &mut c);
        let decoded: f64 =
            v.iter().zip(&c).map(|(&x, &y)| (f64::from(x) - f64::from(y) * f64::from(scale)).powi(2)).sum();
        assert!((decoded.sqrt() - error).abs() < 1e-9);
        assert!(error < 0.02, "{error}");
        assert_eq!(c.iter().map(|x| x.unsigned_abs()).max(), Some(127));
        let mut zero = Vec::new();
        assert_eq!(quantize(&[0.0; 4], &mut zero), (1.0, 0.0));
        assert_eq!(dot_codes(&[1, -2, 3], &[4, 5, -6]), 4 - 10 - 18);
    }
}
