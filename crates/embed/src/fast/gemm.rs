//! `C = A · Wᵀ + bias (+ residual) (then GELU)` with W pre-packed once at load time.
//!
//! A is row-major `m × k` (the activations), W a PyTorch `Linear` weight `n × k`. W is stored as
//! panels of [`NR`] output columns, each panel `k × NR` contiguous, so the micro-kernel streams
//! it linearly. A is repacked per block of rows into tiles of up to 12 interleaved rows (cheap:
//! `m · k` copies against `m · k · n` multiply-adds). The bias, residual and activation are
//! applied while a tile is written out. Threads split the rows (large m) or the panels (small m:
//! a short query, where streaming the weights dominates and each thread reads only its half).

use rayon::prelude::*;

use super::math;
use super::simd::{Isa, NR, multiversion, tile};

/// A `Linear` weight packed for [`matmul`].
#[derive(Debug, Clone)]
pub struct Packed {
    /// Input features (depth of the product).
    pub k: usize,
    /// Output features.
    pub n: usize,
    data: Vec<f32>,
    pub bias: Vec<f32>,
}

impl Packed {
    /// `w` is `n × k` row-major (out × in), `bias` has `n` values; `scale` multiplies both.
    pub fn from_linear(w: &[f32], bias: &[f32], n: usize, k: usize, scale: f32) -> Packed {
        assert_eq!(w.len(), n * k);
        assert_eq!(bias.len(), n);
        let panels = n.div_ceil(NR);
        let mut data = vec![0f32; panels * k * NR];
        for (p, panel) in data.chunks_exact_mut(k * NR).enumerate() {
            for c in 0..NR.min(n - p * NR) {
                let row = &w[(p * NR + c) * k..][..k];
                for (kk, &x) in row.iter().enumerate() {
                    panel[kk * NR + c] = x * scale;
                }
            }
        }
        Packed { k, n, data, bias: bias.iter().map(|b| b * scale).collect() }
    }

    fn view(&self) -> Panels<'_> {
        Panels { k: self.k, n: self.n, data: &self.data, bias: Some(&self.bias) }
    }
}

/// A right-hand matrix `k × n` in panels of [`NR`] columns (see [`Packed`]), borrowed: the
/// weights, or the keys and values of one attention head packed on the fly.
#[derive(Debug, Clone, Copy)]
pub struct Panels<'a> {
    pub k: usize,
    pub n: usize,
    pub data: &'a [f32],
    pub bias: Option<&'a [f32]>,
}

impl Panels<'_> {
    fn panels(&self) -> usize {
        self.n.div_ceil(NR)
    }

    fn panel(&self, p: usize) -> &[f32] {
        &self.data[p * self.k * NR..][..self.k * NR]
    }
}

/// Packs `B` (`k × n`, element (kk, j) given by `at`) into panels; `out` must hold
/// `n.div_ceil(NR) * k * NR` values.
#[inline(always)]
pub fn pack_panels(k: usize, n: usize, out: &mut [f32], at: impl Fn(usize, usize) -> f32) {
    for (p, panel) in out.chunks_exact_mut(k * NR).enumerate().take(n.div_ceil(NR)) {
        let width = NR.min(n - p * NR);
        for (kk, row) in panel.chunks_exact_mut(NR).enumerate() {
            for (c, v) in row.iter_mut().enumerate() {
                *v = if c < width { at(kk, p * NR + c) } else { 0.0 };
            }
        }
    }
}

/// `c[m × n] = a · b` for a strided `a` (row `i` at `a[i * lda..][..k]`), one thread, no bias.
pub fn matmul_small(isa: Isa, a: &[f32], lda: usize, m: usize, b: &Panels<'_>, c: &mut [f32]) {
    block(isa, a, lda, m, b, 0, b.panels(), None, false, c, b.n);
}

/// What happens to each output value after the product.
#[derive(Debug, Clone, Copy)]
pub struct Epilogue<'a> {
    /// Added element-wise (same shape as C): the residual connection.
    pub residual: Option<&'a [f32]>,
    /// GELU (erf form) after the bias.
    pub gelu: bool,
}

/// Rows of one micro-kernel tile.
pub const MR: usize = 12;

/// `c[m × n] = a[m × k] · wᵀ + bias (+ residual) (GELU)`, on the current rayon pool's threads.
pub fn matmul(isa: Isa, a: &[f32], m: usize, w: &Packed, epi: Epilogue<'_>, c: &mut [f32]) {
    let k = w.k;
    let w = &w.view();
    assert_eq!(a.len(), m * k);
    split(m, w.n, k, epi, c, |job: Job<'_>| {
        block(isa, &a[job.row0 * k..], k, job.rows, w, job.p0, job.p1, job.residual, epi.gelu, job.c, job.ldc)
    });
}

/// One thread's share of a product: rows `row0..row0 + rows` of A against panels `p0..p1` of
/// W, written into `c` (and read from `residual`), both `rows × ldc` holding the columns from
/// `p0 * NR` on.
#[derive(Debug)]
pub struct Job<'a> {
    pub row0: usize,
    pub rows: usize,
    pub p0: usize,
    pub p1: usize,
    pub residual: Option<&'a [f32]>,
    pub c: &'a mut [f32],
    pub ldc: usize,
}

/// Splits `c[m × n] = a[m × k] · wᵀ` over the current rayon pool's threads and runs `block` on
/// each share: by rows (large m), or by weight panels (small m: a short query, where streaming
/// the weights dominates and each thread reads only its half). Shared by every precision.
pub fn split(m: usize, n: usize, k: usize, epi: Epilogue<'_>, c: &mut [f32], block: impl Fn(Job<'_>) + Sync) {
    assert_eq!(c.len(), m * n);
    if let Some(r) = epi.residual {
        assert_eq!(r.len(), m * n);
    }
    let panels = n.div_ceil(NR);
    let threads = rayon::current_num_threads().max(1);
    let flops = m * n * k;
    if threads == 1 || flops < 1 << 20 {
        block(Job { row0: 0, rows: m, p0: 0, p1: panels, residual: epi.residual, c, ldc: n });
        return;
    }
    if m >= 4 * MR * threads {
        // Rows: each thread a contiguous run of whole tiles.
        let rows = m.div_ceil(threads).div_ceil(MR) * MR;
        c.par_chunks_mut(rows * n).enumerate().for_each(|(t, c)| {
            let r0 = t * rows;
            let mr = c.len() / n;
            let residual = epi.residual.map(|r| &r[r0 * n..][..mr * n]);
            block(Job { row0: r0, rows: mr, p0: 0, p1: panels, residual, c, ldc: n });
        });
    } else {
        // Panels: each thread writes its columns into its own buffer, copied into C after.
        let per = panels.div_ceil(threads);
        let parts: Vec<(usize, usize, Vec<f32>)> = (0..threads)
            .filter(|t| t * per < panels)
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|t| {
                let (p0, p1) = (t * per, ((t + 1) * per).min(panels));
                let col0 = p0 * NR;
                let width = (p1 * NR).min(n) - col0;
                let mut out = vec![0f32; m * width];
                // The residual's columns of this thread, as a compact m × width matrix.
                let residual: Option<Vec<f32>> =
                    epi.residual.map(|r| r.chunks_exact(n).flat_map(|row| &row[col0..col0 + width]).copied().collect());
                block(Job { row0: 0, rows: m, p0, p1, residual: residual.as_deref(), c: &mut out, ldc: width });
                (col0, width, out)
            })
            .collect();
        for (col0, width, out) in parts {
            for (dst, src) in c.chunks_exact_mut(n).zip(out.chunks_exact(width)) {
                dst[col0..col0 + width].copy_from_slice(src);
            }
        }
    }
}

multiversion!(fn block(
    a: &[f32],
    lda: usize,
    m: usize,
    w: &Panels<'_>,
    p0: usize,
    p1: usize,
    residual: Option<&[f32]>,
    gelu: bool,
    c: &mut [f32],
    ldc: usize,
) => block_impl);

/// Panels `p0..p1` of W for all `m` rows of A. C (and the residual) are `m × ldc`, and hold the
/// columns from `p0 * NR` on.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn block_impl(
    isa: Isa,
    a: &[f32],
    lda: usize,
    m: usize,
    w: &Panels<'_>,
    p0: usize,
    p1: usize,
    residual: Option<&[f32]>,
    gelu: bool,
    c: &mut [f32],
    ldc: usize,
) {
    let k = w.k;
    // Rows per block: the packed A block stays in L2 (about 256 KiB).
    let mc = ((1usize << 16) / k.max(1)).clamp(MR, 256) / MR * MR;
    let mut apack = vec![0f32; mc.min(m.div_ceil(MR) * MR) * k];
    let mut out = [[0f32; NR]; MR];
    for r0 in (0..m).step_by(mc) {
        let rows = mc.min(m - r0);
        let tiles = pack_a(&a[r0 * lda..], lda, rows, k, &mut apack);
        for p in p0..p1 {
            let panel = w.panel(p);
            let col = (p - p0) * NR;
            let width = NR.min(w.n - p * NR);
            let bias = w.bias.map(|b| &b[p * NR..][..width]);
            for &(t0, h, off) in &tiles {
                let ap = &apack[off..off + h * k];
                match h {
                    4 => tile_into::<4>(isa, ap, panel, k, &mut out),
                    8 => tile_into::<8>(isa, ap, panel, k, &mut out),
                    _ => tile::<MR>(isa, ap, panel, k, &mut out),
                }
                let valid = h.min(rows - t0);
                for (r, acc) in out.iter().enumerate().take(valid) {
                    let i = r0 + t0 + r;
                    let dst = &mut c[i * ldc + col..][..width];
                    match bias {
                        Some(bias) => {
                            for ((d, &x), &b) in dst.iter_mut().zip(acc).zip(bias) {
                                *d = x + b;
                            }
                        }
                        None => dst.copy_from_slice(&acc[..width]),
                    }
                    if let Some(res) = residual {
                        for (d, &x) in dst.iter_mut().zip(&res[i * ldc + col..][..width]) {
                            *d += x;
                        }
                    }
                    if gelu {
                        math::gelu(dst);
                    }
                }
            }
        }
    }
}

/// A kernel of `H < MR` rows, writing into the first `H` rows of `out`.
#[inline(always)]
fn tile_into<const H: usize>(isa: Isa, a: &[f32], b: &[f32], k: usize, out: &mut [[f32; NR]; MR]) {
    let mut small = [[0f32; NR]; H];
    tile::<H>(isa, a, b, k, &mut small);
    out[..H].copy_from_slice(&small);
}

/// The height of the next tile when `left` rows remain: 12, or the remainder rounded up to 4 or 8
/// (the kernels are compiled for those three heights).
#[inline(always)]
pub fn tile_height(left: usize) -> usize {
    if left > 8 {
        MR
    } else if left > 4 {
        8
    } else {
        4
    }
}

/// Interleaves `rows` rows of A into tiles: a tile of height h (12, or the remainder rounded
/// up to 4 or 8, zero-filled) is `k × h` values. Returns (first row, height, offset) per tile.
#[inline(always)]
fn pack_a(a: &[f32], lda: usize, rows: usize, k: usize, apack: &mut [f32]) -> Vec<(usize, usize, usize)> {
    let mut tiles = Vec::with_capacity(rows.div_ceil(MR));
    let mut t0 = 0;
    let mut off = 0;
    while t0 < rows {
        let left = rows - t0;
        let h = tile_height(left);
        let dst = &mut apack[off..off + h * k];
        let valid = h.min(left);
        // k outer, rows inner: the writes are contiguous, the reads walk `valid` rows in step.
        for (kk, d) in dst.chunks_exact_mut(h).enumerate() {
            for (r, v) in d.iter_mut().enumerate() {
                *v = if r < valid { a[(t0 + r) * lda + kk] } else { 0.0 };
            }
        }
        tiles.push((t0, h, off));
        t0 += h.min(left);
        off += h * k;
    }
    tiles
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    fn reference(a: &[f32], m: usize, w: &[f32], bias: &[f32], n: usize, k: usize) -> Vec<f32> {
        let mut c = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                let s: f64 = (0..k).map(|kk| f64::from(a[i * k + kk]) * f64::from(w[j * k + kk])).sum();
                c[i * n + j] = (s + f64::from(bias[j])) as f32;
            }
        }
        c
    }

    /// Deterministic values in [-1, 1) (xorshift), for the kernels' tests.
    pub(in crate::fast) fn pseudo(len: usize, seed: u32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s % 2000) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn matches_a_reference_product_for_all_shapes_and_instruction_sets() {
        for &(m, n, k) in
            &[(1, 32, 8), (5, 40, 17), (16, 96, 64), (37, 70, 33), (130, 64, 100), (300, 128, 48), (40, 256, 128)]
        {
            let a = pseudo(m * k, 1);
            let w = pseudo(n * k, 2);
            let bias = pseudo(n, 3);
            let residual = pseudo(m * n, 4);
            let want = reference(&a, m, &w, &bias, n, k);
            let packed = Packed::from_linear(&w, &bias, n, k, 1.0);
            for isa in [Isa::Portable, Isa::Avx2, Isa::Avx512] {
                if isa > Isa::detect() {
                    continue;
                }
                for threads in [1, 2] {
                    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                    let mut c = vec![f32::NAN; m * n];
                    pool.install(|| matmul(isa, &a, m, &packed, Epilogue { residual: None, gelu: false }, &mut c));
                    for (x, y) in c.iter().zip(&want) {
                        assert!((x - y).abs() < 1e-4, "{m}x{n}x{k} {isa:?} {threads}: {x} vs {y}");
                    }
                    let mut c = vec![f32::NAN; m * n];
                    let epi = Epilogue { residual: Some(&residual), gelu: true };
                    pool.install(|| matmul(isa, &a, m, &packed, epi, &mut c));
                    for ((x, y), r) in c.iter().zip(&want).zip(&residual) {
                        let mut g = [y + r];
                        math::gelu(&mut g);
                        assert!((x - g[0]).abs() < 1e-4, "{m}x{n}x{k} {isa:?} {threads} epilogue: {x} vs {}", g[0]);
                    }
                }
            }
        }
    }
}
