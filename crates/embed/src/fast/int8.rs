//! `C = A · Wᵀ + bias (+ residual) (then GELU)` in 8-bit integers, on AVX-512 VNNI.
//!
//! `vpdpbusd` multiplies 64 unsigned-by-signed byte pairs and adds them, four at a time, into
//! 16 i32 lanes: four times the multiply-adds of an f32 FMA per instruction. The linear layers
//! (q/k/v, attention output, both FFN products) run through it; attention, layer norm and GELU
//! stay in f32.
//!
//! - Weights are quantised once at load, per output channel and symmetric:
//!   `w[j][k] ≈ s_j · q[j][k]`, `q ∈ [−127, 127]`.
//! - Activations are quantised per row (token) each time a product runs, asymmetric over the
//!   row's range: `a[i][k] ≈ lo_i + t_i · u[i][k]`, `u ∈ [0, 255]`. All 256 levels are used
//!   whatever the sign of the values (GELU outputs are nearly all positive), and `u` is
//!   unsigned, which is what `vpdpbusd` wants on that side.
//! - Then `Σ_k a[i][k] · w[j][k] ≈ s_j · (t_i · Σ_k u[i][k] · q[j][k] + lo_i · Σ_k q[j][k])`:
//!   one exact integer product, and a column sum known at load.
//!
//! Each output is off by at most `t_i/2 · Σ_k |w[j][k]| + s_j/2 · Σ_k |a[i][k]| + k · t_i · s_j / 4`
//! (the rounding of each side); the tests check that bound against an f64 product.
//! The layout mirrors the f32 kernel's ([`super::gemm`]): weight panels of [`NR`] columns, A in
//! tiles of up to [`MR`] interleaved rows, the same split over threads.
#![allow(unsafe_code)]

use std::sync::OnceLock;

use rayon::prelude::*;

use super::gemm::{Epilogue, Job, MR, split, tile_height};
use super::math;
use super::simd::{Isa, NR};

/// Depth of one `vpdpbusd` step: four byte products summed into each i32 lane.
const KG: usize = 4;

/// Whether the int8 kernel runs here: AVX-512 with VNNI and BW, and the instruction set not
/// lowered below AVX-512 by `GRIDKB_EMBED_ISA`.
pub fn available() -> bool {
    static VNNI: OnceLock<bool> = OnceLock::new();
    *VNNI.get_or_init(|| Isa::detect() == Isa::Avx512 && detect_vnni())
}

#[cfg(target_arch = "x86_64")]
fn detect_vnni() -> bool {
    is_x86_feature_detected!("avx512vnni") && is_x86_feature_detected!("avx512bw")
}

#[cfg(not(target_arch = "x86_64"))]
fn detect_vnni() -> bool {
    false
}

/// A `Linear` weight quantised and packed for [`matmul`].
#[derive(Debug, Clone)]
pub struct QuantPacked {
    /// Input features (depth of the product).
    pub k: usize,
    /// Output features.
    pub n: usize,
    /// Groups of [`KG`] input features (`k` rounded up; the padding is zero).
    groups: usize,
    /// Per panel of [`NR`] columns: `groups × NR × KG` bytes, a column's KG bytes together.
    data: Vec<i8>,
    /// `s_j`, per output feature.
    scale: Vec<f32>,
    /// `s_j · Σ_k q[j][k]`: what the activations' offset `lo_i` multiplies.
    offset: Vec<f32>,
    bias: Vec<f32>,
}

impl QuantPacked {
    /// `w` is `n × k` row-major (out × in), `bias` has `n` values.
    pub fn from_linear(w: &[f32], bias: &[f32], n: usize, k: usize) -> QuantPacked {
        assert_eq!(w.len(), n * k);
        assert_eq!(bias.len(), n);
        let groups = k.div_ceil(KG);
        let panel_len = groups * NR * KG;
        let mut data = vec![0i8; n.div_ceil(NR) * panel_len];
        let mut scale = Vec::with_capacity(n);
        let mut offset = Vec::with_capacity(n);
        for (j, row) in w.chunks_exact(k.max(1)).take(n).enumerate() {
            let amax = row.iter().fold(0f32, |m, x| m.max(x.abs()));
            let s = if amax > 0.0 { amax / 127.0 } else { 1.0 };
            let panel = &mut data[(j / NR) * panel_len..][..panel_len];
            let mut sum = 0i32;
            for (kk, &x) in row.iter().enumerate() {
                let q = (x / s).round().clamp(-127.0, 127.0) as i8;
                sum += i32::from(q);
                panel[(kk / KG) * NR * KG + (j % NR) * KG + kk % KG] = q;
            }
            scale.push(s);
            offset.push(s * sum as f32);
        }
        QuantPacked { k, n, groups, data, scale, offset, bias: bias.to_vec() }
    }

    fn panel(&self, p: usize) -> &[i8] {
        let len = self.groups * NR * KG;
        &self.data[p * len..][..len]
    }
}

/// The rows of A quantised: row `i` is `lo[i] + step[i] · data[i]`, each row `groups · KG`
/// bytes long (zero-padded).
#[derive(Debug)]
struct QuantRows {
    groups: usize,
    data: Vec<u8>,
    step: Vec<f32>,
    lo: Vec<f32>,
}

impl QuantRows {
    /// Quantises the `m` rows of `a` (`m × k`), on the current pool's threads when there are many.
    fn new(a: &[f32], m: usize, k: usize) -> QuantRows {
        let groups = k.div_ceil(KG);
        let width = groups * KG;
        let mut q = QuantRows { groups, data: vec![0u8; m * width], step: vec![0.0; m], lo: vec![0.0; m] };
        if m == 0 || k == 0 {
            return q;
        }
        let one = |(a, u): (&[f32], &mut [u8])| quantize_row(Isa::detect(), a, &mut u[..k]);
        let params: Vec<(f32, f32)> = if rayon::current_num_threads() > 1 && m >= 64 {
            a.par_chunks_exact(k).zip(q.data.par_chunks_exact_mut(width)).map(one).collect()
        } else {
            a.chunks_exact(k).zip(q.data.chunks_exact_mut(width)).map(one).collect()
        };
        (q.step, q.lo) = params.into_iter().unzip();
        q
    }

    fn row(&self, i: usize) -> &[u8] {
        &self.data[i * self.groups * KG..][..self.groups * KG]
    }
}

super::simd::multiversion!(fn quantize_row(a: &[f32], u: &mut [u8]) -> (f32, f32) => quantize_row_impl);

/// `u = round((a − lo) / step)` with `step = (max − min) / 255`; returns `(step, lo)`.
#[inline(always)]
fn quantize_row_impl(_: Isa, a: &[f32], u: &mut [u8]) -> (f32, f32) {
    // Range over independent lanes, with plain comparisons (vmin/vmax; no NaN bookkeeping).
    const LANES: usize = 16;
    let (mut lo, mut hi) = ([f32::INFINITY; LANES], [f32::NEG_INFINITY; LANES]);
    let chunks = a.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for l in 0..LANES {
            lo[l] = if c[l] < lo[l] { c[l] } else { lo[l] };
            hi[l] = if c[l] > hi[l] { c[l] } else { hi[l] };
        }
    }
    let lo = lo.iter().chain(rest).fold(f32::INFINITY, |m, &x| if x < m { x } else { m });
    let hi = hi.iter().chain(rest).fold(f32::NEG_INFINITY, |m, &x| if x > m { x } else { m });
    let step = (hi - lo) / 255.0;
    let inv = if step > 0.0 { 1.0 / step } else { 0.0 };
    // Adding 1.5 · 2^23 rounds a value in [0, 255] to the nearest integer, which is then the
    // float's low mantissa byte: no float-to-int conversion (those do not vectorise with
    // Rust's saturating `as`).
    const MAGIC: f32 = 12_582_912.0;
    for (u, &x) in u.iter_mut().zip(a) {
        let v = (x - lo) * inv;
        let v = if v < 255.0 { v } else { 255.0 };
        *u = (v + MAGIC).to_bits() as u8;
    }
    (step, lo)
}

/// `c[m × n] = a[m × k] · wᵀ + bias (+ residual) (GELU)`, on the current rayon pool's threads.
/// `vnni` false runs the portable integer kernel (same results, bit for bit; for tests and CPUs
/// without VNNI); true runs VNNI when [`available`].
pub fn matmul(vnni: bool, a: &[f32], m: usize, w: &QuantPacked, epi: Epilogue<'_>, c: &mut [f32]) {
    assert_eq!(a.len(), m * w.k);
    let q = QuantRows::new(a, m, w.k);
    let vnni = vnni && available();
    split(m, w.n, w.k, epi, c, |job| block(vnni, &q, w, job, epi.gelu));
}

fn block(vnni: bool, q: &QuantRows, w: &QuantPacked, job: Job<'_>, gelu: bool) {
    #[cfg(target_arch = "x86_64")]
    if vnni {
        // SAFETY: `vnni` is true only when `available()` said the CPU has avx512f, avx512vl and
        // fma (Isa::Avx512), avx512bw and avx512vnni; avx512f implies avx2.
        unsafe { block_vnni(q, w, job, gelu) };
        return;
    }
    block_impl(false, q, w, job, gelu);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512vnni,avx2,fma")]
fn block_vnni(q: &QuantRows, w: &QuantPacked, job: Job<'_>, gelu: bool) {
    block_impl(true, q, w, job, gelu);
}

/// Rows `job.row0..` of `q` against panels `job.p0..job.p1` of `w`, dequantised into `job.c`.
#[inline(always)]
fn block_impl(vnni: bool, q: &QuantRows, w: &QuantPacked, job: Job<'_>, gelu: bool) {
    let Job { row0, rows: m, p0, p1, residual, c, ldc } = job;
    let depth = w.groups * KG;
    // Rows per block: the packed A block (bytes) stays in L2.
    let mc = ((1usize << 17) / depth.max(1)).clamp(MR, 512) / MR * MR;
    let mut apack = vec![0u8; mc.min(m.div_ceil(MR) * MR) * depth];
    let mut acc = [[0i32; NR]; MR];
    for r0 in (0..m).step_by(mc) {
        let rows = mc.min(m - r0);
        let tiles = pack_tiles(q, row0 + r0, rows, &mut apack);
        for p in p0..p1 {
            let panel = w.panel(p);
            let (j0, col) = (p * NR, (p - p0) * NR);
            let width = NR.min(w.n - j0);
            let (scale, offset, bias) = (&w.scale[j0..][..width], &w.offset[j0..][..width], &w.bias[j0..][..width]);
            for &(t0, h, off) in &tiles {
                let ap = &apack[off..off + h * depth];
                match h {
                    4 => tile_into::<4>(vnni, ap, panel, w.groups, &mut acc),
                    8 => tile_into::<8>(vnni, ap, panel, w.groups, &mut acc),
                    _ => tile::<MR>(vnni, ap, panel, w.groups, &mut acc),
                }
                for (r, acc) in acc.iter().enumerate().take(h.min(rows - t0)) {
                    let i = r0 + t0 + r;
                    let (step, lo) = (q.step[row0 + i], q.lo[row0 + i]);
                    let dst = &mut c[i * ldc + col..][..width];
                    for ((((d, &x), &s), &o), &b) in dst.iter_mut().zip(acc).zip(scale).zip(offset).zip(bias) {
                        *d = s * step * x as f32 + lo * o + b;
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

/// Interleaves rows `row0..row0 + rows` of `q` into tiles: a tile of height h is, per group of
/// [`KG`] features, the h rows' KG bytes one after the other (zero rows fill a short tile).
/// Returns (first row, height, offset) per tile.
fn pack_tiles(q: &QuantRows, row0: usize, rows: usize, apack: &mut [u8]) -> Vec<(usize, usize, usize)> {
    let depth = q.groups * KG;
    let mut tiles = Vec::with_capacity(rows.div_ceil(MR));
    let (mut t0, mut off) = (0, 0);
    while t0 < rows {
        let h = tile_height(rows - t0);
        let valid = h.min(rows - t0);
        let dst = &mut apack[off..off + h * depth];
        for r in 0..h {
            let src = if r < valid { Some(q.row(row0 + t0 + r)) } else { None };
            for g in 0..q.groups {
                let d = &mut dst[(g * h + r) * KG..][..KG];
                match src {
                    Some(src) => d.copy_from_slice(&src[g * KG..][..KG]),
                    None => d.fill(0),
                }
            }
        }
        tiles.push((t0, h, off));
        t0 += valid;
        off += h * depth;
    }
    tiles
}

/// A kernel of `H < MR` rows, writing into the first `H` rows of `out`.
#[inline(always)]
fn tile_into<const H: usize>(vnni: bool, a: &[u8], b: &[i8], groups: usize, out: &mut [[i32; NR]; MR]) {
    let mut small = [[0i32; NR]; H];
    tile::<H>(vnni, a, b, groups, &mut small);
    out[..H].copy_from_slice(&small);
}

/// One `H × NR` tile of exact integer sums `Σ_k u · q` over all `groups`: `a` is
/// `groups × H × KG` bytes, `b` one panel `groups × NR × KG`.
#[inline(always)]
fn tile<const H: usize>(vnni: bool, a: &[u8], b: &[i8], groups: usize, out: &mut [[i32; NR]; H]) {
    assert!(a.len() >= groups * H * KG && b.len() >= groups * NR * KG);
    #[cfg(target_arch = "x86_64")]
    if vnni && available() {
        // SAFETY: available() said the CPU has avx512f and avx512vnni; the slice lengths were
        // checked above, which is all the kernel's pointer arithmetic relies on.
        unsafe { tile_vnni::<H>(a, b, groups, out) };
        return;
    }
    let _ = vnni;
    let mut acc = [[0i32; NR]; H];
    for (av, bv) in a.chunks_exact(H * KG).zip(b.chunks_exact(NR * KG)).take(groups) {
        for (r, acc) in acc.iter_mut().enumerate() {
            let x = &av[r * KG..][..KG];
            for (c, acc) in acc.iter_mut().enumerate() {
                let y = &bv[c * KG..][..KG];
                *acc += x.iter().zip(y).map(|(&x, &y)| i32::from(x) * i32::from(y)).sum::<i32>();
            }
        }
    }
    *out = acc;
}

/// # Safety
/// The CPU must support avx512f and avx512vnni; `a` must hold `groups * H * KG` and `b`
/// `groups * NR * KG` bytes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vnni")]
unsafe fn tile_vnni<const H: usize>(a: &[u8], b: &[i8], groups: usize, out: &mut [[i32; NR]; H]) {
    use std::arch::x86_64::*;
    let mut acc = [[_mm512_setzero_si512(); 2]; H];
    let (ap, bp) = (a.as_ptr(), b.as_ptr());
    for g in 0..groups {
        // SAFETY: g < groups, so the 128 bytes at g · NR · KG end within b (groups · NR · KG
        // bytes), and the 4 bytes at (g · H + r) · KG, r < H, end within a (groups · H · KG).
        unsafe {
            let b0 = _mm512_loadu_si512(bp.add(g * NR * KG).cast());
            let b1 = _mm512_loadu_si512(bp.add(g * NR * KG + 64).cast());
            for (r, acc) in acc.iter_mut().enumerate() {
                let x = _mm512_set1_epi32(ap.add((g * H + r) * KG).cast::<i32>().read_unaligned());
                acc[0] = _mm512_dpbusd_epi32(acc[0], x, b0);
                acc[1] = _mm512_dpbusd_epi32(acc[1], x, b1);
            }
        }
    }
    for (row, acc) in out.iter_mut().zip(&acc) {
        // SAFETY: each row is NR = 32 i32s: two 16-lane stores fit.
        unsafe {
            _mm512_storeu_si512(row.as_mut_ptr().cast(), acc[0]);
            _mm512_storeu_si512(row.as_mut_ptr().add(16).cast(), acc[1]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fast::gemm::tests::pseudo;

    #[test]
    fn a_row_is_quantised_to_within_half_a_step() {
        for (k, seed) in [(1, 1), (5, 2), (512, 3), (2048, 4)] {
            let a: Vec<f32> = pseudo(k, seed).iter().map(|x| x * 3.0 + 0.5).collect();
            let q = QuantRows::new(&a, 1, k);
            let (step, lo) = (q.step[0], q.lo[0]);
            for (&x, &u) in a.iter().zip(q.row(0)) {
                let back = lo + step * f32::from(u);
                assert!((back - x).abs() <= step * 0.5 + 1e-6, "{x} came back as {back} (step {step})");
            }
            assert!(q.row(0)[k..].iter().all(|&u| u == 0), "padding is zero");
        }
        // A constant row: step 0, every value exactly lo.
        let q = QuantRows::new(&[0.25; 7], 1, 7);
        assert_eq!((q.step[0], q.lo[0]), (0.0, 0.25));
    }

    /// The VNNI kernel and the portable one give the same integers (no rounding anywhere).
    #[test]
    fn the_vnni_kernel_equals_the_portable_one() {
        if !available() {
            eprintln!("no AVX-512 VNNI here: only the portable kernel runs");
            return;
        }
        for groups in [1, 3, 128, 512] {
            let a: Vec<u8> = pseudo(groups * MR * KG, 5).iter().map(|x| ((x + 1.0) * 127.5) as u8).collect();
            let b: Vec<i8> = pseudo(groups * NR * KG, 6).iter().map(|x| (x * 127.0) as i8).collect();
            let (mut v, mut p) = ([[0i32; NR]; MR], [[0i32; NR]; MR]);
            tile::<MR>(true, &a, &b, groups, &mut v);
            tile::<MR>(false, &a, &b, groups, &mut p);
            assert_eq!(v, p, "{groups} groups");
        }
    }

    /// Against an f64 product of the unquantised matrices, every output is within the bound of
    /// the module docs (plus f32 rounding), and the typical error is far below it.
    #[test]
    fn matches_the_f32_product_within_the_quantisation_bound() {
        for &(m, n, k) in
            &[(1, 32, 8), (5, 40, 17), (16, 96, 64), (37, 70, 33), (130, 64, 100), (300, 128, 48), (40, 256, 512)]
        {
            // Rows of different ranges and signs, as activations are.
            let a: Vec<f32> =
                pseudo(m * k, 1).iter().enumerate().map(|(i, x)| x * (1 + i / k % 5) as f32 + 0.3).collect();
            let w = pseudo(n * k, 2);
            let bias = pseudo(n, 3);
            let residual = pseudo(m * n, 4);
            let packed = QuantPacked::from_linear(&w, &bias, n, k);
            let q = QuantRows::new(&a, m, k);
            for vnni in [false, true] {
                for threads in [1, 2] {
                    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                    let mut c = vec![f32::NAN; m * n];
                    pool.install(|| matmul(vnni, &a, m, &packed, Epilogue { residual: None, gelu: false }, &mut c));
                    let (mut err2, mut val2) = (0f64, 0f64);
                    for i in 0..m {
                        let ar = &a[i * k..][..k];
                        for j in 0..n {
                            let wr = &w[j * k..][..k];
                            let exact: f64 = ar.iter().zip(wr).map(|(&x, &y)| f64::from(x) * f64::from(y)).sum::<f64>()
                                + f64::from(bias[j]);
                            let (t, s) = (f64::from(q.step[i]), f64::from(packed.scale[j]));
                            let bound = t / 2.0 * wr.iter().map(|x| f64::from(x.abs())).sum::<f64>()
                                + s / 2.0 * ar.iter().map(|x| f64::from(x.abs())).sum::<f64>()
                                + k as f64 * t * s / 4.0
                                // f32 rounding of the dequantisation
                                + 1e-5
                                    * (ar.iter().zip(wr).map(|(&x, &y)| f64::from(x * y).abs()).sum::<f64>()
                                        + f64::from(q.lo[i].abs()) * wr.iter().map(|x| f64::from(x.abs())).sum::<f64>()
                                        + 1.0);
                            let got = f64::from(c[i * n + j]);
                            assert!(
                                (got - exact).abs() <= bound,
                                "{m}x{n}x{k} vnni {vnni} {threads}: {got} vs {exact}"
                            );
                            err2 += (got - exact).powi(2);
                            val2 += exact.powi(2);
                        }
                    }
                    let relative = (err2 / val2).sqrt();
                    assert!(relative < 0.01, "{m}x{n}x{k}: relative RMS error {relative}");

                    // The epilogue: residual, then GELU, on the same product.
                    let mut e = vec![f32::NAN; m * n];
                    let epi = Epilogue { residual: Some(&residual), gelu: true };
                    pool.install(|| matmul(vnni, &a, m, &packed, epi, &mut e));
                    for ((x, y), r) in e.iter().zip(&c).zip(&residual) {
                        let mut g = [y + r];
                        math::gelu(&mut g);
                        assert!((x - g[0]).abs() < 1e-5, "{m}x{n}x{k} epilogue: {x} vs {}", g[0]);
                    }
                }
            }
        }
    }
}
