//! `C = A · Wᵀ + bias (+ residual) (then GELU)` in 8-bit integers: on AVX-512 VNNI, on AVX2, or
//! portable Rust, with the same integers on all three.
//!
//! - `vpdpbusd` (VNNI) multiplies 64 unsigned-by-signed byte pairs and adds them, four at a time,
//!   into 16 i32 lanes: four times the multiply-adds of an f32 FMA per instruction.
//! - Without VNNI, the AVX2 kernel widens both sides to 16 bits (weights as they are loaded into
//!   registers, so memory holds bytes; activations as a tile is packed) and runs `vpmaddwd`: 16
//!   exact multiply-adds per instruction, twice an AVX2 FMA's. (`vpmaddubsw` would take bytes directly, but its pair sums saturate at 16 bits for
//!   8-bit values on both sides: it would need one bit less on a side, and other vectors.)
//!
//! The linear layers (q/k/v, attention output, both FFN products) run through it; attention,
//! layer norm and GELU stay in f32.
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
//! (the rounding of each side); the tests check that bound against an f64 product. The integer
//! sums are exact in every kernel, so all three give the same vectors, bit for bit.
//! The layout mirrors the f32 kernel's ([`super::gemm`]): weight panels of [`NR`] columns, A in
//! tiles of up to [`MR`] interleaved rows, the same split over threads.
#![allow(unsafe_code)]

use std::sync::OnceLock;

use rayon::prelude::*;

use super::gemm::{Epilogue, Job, MR, split, tile_height};
use super::math;
use super::simd::{Isa, NR};

/// Depth of one `vpdpbusd` step: four byte products summed into each i32 lane. Also the unit
/// the depth is padded to.
const KG: usize = 4;

/// Depth of one `vpmaddwd` step: two 16-bit products summed into each i32 lane.
const KW: usize = 2;

/// Which integer kernel runs a product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// Plain Rust (for tests, and the reference the others equal).
    Portable,
    /// 16-bit multiply-adds (`vpmaddwd`) on AVX2.
    Avx2,
    /// 8-bit dot products (`vpdpbusd`) on AVX-512 VNNI.
    Vnni,
}

impl Kernel {
    /// The fastest kernel this CPU runs. `GRIDKB_EMBED_ISA` lowers it as it lowers the f32
    /// kernels (`avx2`: the AVX2 kernel even on a VNNI CPU; `portable`: the portable one).
    pub fn best() -> Kernel {
        static BEST: OnceLock<Kernel> = OnceLock::new();
        *BEST.get_or_init(|| match Isa::detect() {
            Isa::Avx512 if detect_vnni() => Kernel::Vnni,
            Isa::Avx512 | Isa::Avx2 => Kernel::Avx2,
            Isa::Portable => Kernel::Portable,
        })
    }

    /// Whether this CPU can run the kernel.
    fn runs_here(self) -> bool {
        match self {
            Kernel::Portable => true,
            Kernel::Avx2 => Isa::detect() >= Isa::Avx2,
            Kernel::Vnni => Kernel::best() == Kernel::Vnni,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kernel::Portable => "portable int8",
            Kernel::Avx2 => "avx2 int8",
            Kernel::Vnni => "avx512-vnni int8",
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn detect_vnni() -> bool {
    is_x86_feature_detected!("avx512vnni") && is_x86_feature_detected!("avx512bw")
}

#[cfg(not(target_arch = "x86_64"))]
fn detect_vnni() -> bool {
    false
}

/// The packed weights, in the width the kernel multiplies.
#[derive(Debug, Clone)]
enum Panels {
    /// Per panel of [`NR`] columns: `groups × NR × KG` bytes, a column's KG bytes together.
    Bytes(Vec<i8>),
    /// Per panel: `groups · KG/KW` steps of `NR × KW` bytes, a column's KW bytes together (the
    /// AVX2 kernel widens them to words as it loads them).
    Pairs(Vec<i8>),
}

/// A `Linear` weight quantised and packed for [`matmul`].
#[derive(Debug, Clone)]
pub struct QuantPacked {
    /// Input features (depth of the product).
    pub k: usize,
    /// Output features.
    pub n: usize,
    kernel: Kernel,
    /// Groups of [`KG`] input features (`k` rounded up; the padding is zero).
    groups: usize,
    data: Panels,
    /// `s_j`, per output feature.
    scale: Vec<f32>,
    /// `s_j · Σ_k q[j][k]`: what the activations' offset `lo_i` multiplies.
    offset: Vec<f32>,
    bias: Vec<f32>,
}

impl QuantPacked {
    /// `w` is `n × k` row-major (out × in), `bias` has `n` values; packed for `kernel`, which
    /// must run on this CPU.
    pub fn from_linear(kernel: Kernel, w: &[f32], bias: &[f32], n: usize, k: usize) -> QuantPacked {
        assert_eq!(w.len(), n * k);
        assert_eq!(bias.len(), n);
        assert!(kernel.runs_here(), "{} does not run on this CPU", kernel.name());
        let groups = k.div_ceil(KG);
        let panel_len = groups * NR * KG;
        // Quantised in the VNNI layout; the AVX2 one is the same values re-paired.
        let mut bytes = vec![0i8; n.div_ceil(NR) * panel_len];
        let mut scale = Vec::with_capacity(n);
        let mut offset = Vec::with_capacity(n);
        for (j, row) in w.chunks_exact(k.max(1)).take(n).enumerate() {
            let amax = row.iter().fold(0f32, |m, x| m.max(x.abs()));
            let s = if amax > 0.0 { amax / 127.0 } else { 1.0 };
            let panel = &mut bytes[(j / NR) * panel_len..][..panel_len];
            let mut sum = 0i32;
            for (kk, &x) in row.iter().enumerate() {
                let q = (x / s).round().clamp(-127.0, 127.0) as i8;
                sum += i32::from(q);
                panel[(kk / KG) * NR * KG + (j % NR) * KG + kk % KG] = q;
            }
            scale.push(s);
            offset.push(s * sum as f32);
        }
        let data = match kernel {
            Kernel::Portable | Kernel::Vnni => Panels::Bytes(bytes),
            Kernel::Avx2 => {
                // Byte (group g, column c, lane l) goes to (step 2g + l/KW, column c, lane l%KW).
                let mut pairs = vec![0i8; bytes.len()];
                for (panel, out) in bytes.chunks_exact(panel_len).zip(pairs.chunks_exact_mut(panel_len)) {
                    for (i, &q) in panel.iter().enumerate() {
                        let (g, c, l) = (i / (NR * KG), i / KG % NR, i % KG);
                        out[(g * KG / KW + l / KW) * NR * KW + c * KW + l % KW] = q;
                    }
                }
                Panels::Pairs(pairs)
            }
        };
        QuantPacked { k, n, kernel, groups, data, scale, offset, bias: bias.to_vec() }
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

/// `c[m × n] = a[m × k] · wᵀ + bias (+ residual) (GELU)`, on the current rayon pool's threads,
/// with the kernel `w` was packed for.
pub fn matmul(a: &[f32], m: usize, w: &QuantPacked, epi: Epilogue<'_>, c: &mut [f32]) {
    assert_eq!(a.len(), m * w.k);
    let q = QuantRows::new(a, m, w.k);
    split(m, w.n, w.k, epi, c, |job| block(&q, w, job, epi.gelu));
}

fn block(q: &QuantRows, w: &QuantPacked, job: Job<'_>, gelu: bool) {
    match (w.kernel, &w.data) {
        #[cfg(target_arch = "x86_64")]
        (Kernel::Vnni, Panels::Bytes(data)) => {
            // SAFETY: from_linear packed for Vnni only where it runs: the CPU has avx512f,
            // avx512vl and fma (Isa::Avx512), avx512bw and avx512vnni; avx512f implies avx2.
            unsafe { block_vnni(q, w, data, job, gelu) }
        }
        #[cfg(target_arch = "x86_64")]
        (Kernel::Avx2, Panels::Pairs(data)) => {
            // SAFETY: from_linear packed for Avx2 only where it runs: Isa::Avx2 or above, so
            // the CPU has avx2 and fma.
            unsafe { block_avx2(q, w, data, job, gelu) }
        }
        (_, Panels::Bytes(data)) => block_impl(q, w, data, job, gelu, tile_portable::<MR>),
        (_, Panels::Pairs(_)) => unreachable!("paired panels are packed only for the AVX2 kernel, on x86-64"),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512vnni,avx2,fma")]
fn block_vnni(q: &QuantRows, w: &QuantPacked, data: &[i8], job: Job<'_>, gelu: bool) {
    block_impl(q, w, data, job, gelu, |a: &[u8], b: &[i8], groups, h, out: &mut [[i32; NR]; MR]| {
        // SAFETY: this function runs only where VNNI does (see `block`).
        unsafe { tile_vnni(a, b, groups, h, out) }
    });
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn block_avx2(q: &QuantRows, w: &QuantPacked, data: &[i8], job: Job<'_>, gelu: bool) {
    block_impl(q, w, data, job, gelu, |a: &[i16], b: &[i8], groups, h, out: &mut [[i32; NR]; MR]| {
        // SAFETY: this function runs only where AVX2 does (see `block`).
        unsafe { tile_avx2(a, b, groups * KG / KW, h, out) }
    });
}

/// An element of packed A (`u8` for the byte kernels, `i16` for the AVX2 one) and its step:
/// how many values of a row go together in a tile.
trait Lane: Copy + Default + From<u8> {
    const STEP: usize;
}

impl Lane for u8 {
    const STEP: usize = KG;
}

impl Lane for i16 {
    const STEP: usize = KW;
}

/// Rows `job.row0..` of `q` against panels `job.p0..job.p1` of `data`, dequantised into `job.c`.
/// `tile(a, b, groups, h, out)` computes the exact sums of one tile of height `h` into the first
/// `h` rows of `out`.
#[inline(always)]
fn block_impl<A: Lane, B>(
    q: &QuantRows,
    w: &QuantPacked,
    data: &[B],
    job: Job<'_>,
    gelu: bool,
    tile: impl Fn(&[A], &[B], usize, usize, &mut [[i32; NR]; MR]),
) {
    let Job { row0, rows: m, p0, p1, residual, c, ldc } = job;
    let depth = w.groups * KG;
    let panel_len = depth * NR;
    // Rows per block: the packed A block stays in L2.
    let mc = ((1usize << 17) / (depth * size_of::<A>()).max(1)).clamp(MR, 512) / MR * MR;
    let mut apack = vec![A::default(); mc.min(m.div_ceil(MR) * MR) * depth];
    let mut acc = [[0i32; NR]; MR];
    for r0 in (0..m).step_by(mc) {
        let rows = mc.min(m - r0);
        let tiles = pack_tiles(q, row0 + r0, rows, &mut apack);
        for p in p0..p1 {
            let panel = &data[p * panel_len..][..panel_len];
            let (j0, col) = (p * NR, (p - p0) * NR);
            let width = NR.min(w.n - j0);
            let (scale, offset, bias) = (&w.scale[j0..][..width], &w.offset[j0..][..width], &w.bias[j0..][..width]);
            for &(t0, h, off) in &tiles {
                tile(&apack[off..off + h * depth], panel, w.groups, h, &mut acc);
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

/// Interleaves rows `row0..row0 + rows` of `q` into tiles: a tile of height h is, per step of
/// `A::STEP` features, the h rows' values one after the other (zero rows fill a short tile).
/// Returns (first row, height, offset) per tile.
fn pack_tiles<A: Lane>(q: &QuantRows, row0: usize, rows: usize, apack: &mut [A]) -> Vec<(usize, usize, usize)> {
    let depth = q.groups * KG;
    let steps = depth / A::STEP;
    let mut tiles = Vec::with_capacity(rows.div_ceil(MR));
    let (mut t0, mut off) = (0, 0);
    while t0 < rows {
        let h = tile_height(rows - t0);
        let valid = h.min(rows - t0);
        let dst = &mut apack[off..off + h * depth];
        for r in 0..h {
            let src = if r < valid { Some(q.row(row0 + t0 + r)) } else { None };
            for g in 0..steps {
                let d = &mut dst[(g * h + r) * A::STEP..][..A::STEP];
                match src {
                    Some(src) => d.iter_mut().zip(&src[g * A::STEP..][..A::STEP]).for_each(|(d, &s)| *d = A::from(s)),
                    None => d.fill(A::default()),
                }
            }
        }
        tiles.push((t0, h, off));
        t0 += valid;
        off += h * depth;
    }
    tiles
}

/// One `h × NR` tile of exact integer sums `Σ_k u · q` over all `groups`, into the first `h`
/// rows of `out`: `a` is `groups × h × KG` bytes, `b` one panel `groups × NR × KG`.
fn tile_portable<const H: usize>(a: &[u8], b: &[i8], groups: usize, h: usize, out: &mut [[i32; NR]; H]) {
    assert!(h <= H && a.len() >= groups * h * KG && b.len() >= groups * NR * KG);
    for row in out.iter_mut().take(h) {
        *row = [0; NR];
    }
    for (av, bv) in a.chunks_exact(h * KG).zip(b.chunks_exact(NR * KG)).take(groups) {
        for (r, acc) in out.iter_mut().take(h).enumerate() {
            let x = &av[r * KG..][..KG];
            for (c, acc) in acc.iter_mut().enumerate() {
                let y = &bv[c * KG..][..KG];
                *acc += x.iter().zip(y).map(|(&x, &y)| i32::from(x) * i32::from(y)).sum::<i32>();
            }
        }
    }
}

/// The VNNI tile of [`tile_portable`], for `h` of 4, 8 or [`MR`].
///
/// # Safety
/// The CPU must support avx512f and avx512vnni.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vnni")]
unsafe fn tile_vnni(a: &[u8], b: &[i8], groups: usize, h: usize, out: &mut [[i32; NR]; MR]) {
    // SAFETY (all three): the caller's CPU promise; the rows are split off `out` by height.
    unsafe {
        match h {
            4 => tile_vnni_rows::<4>(a, b, groups, (&mut out[..4]).try_into().expect("4 rows")),
            8 => tile_vnni_rows::<8>(a, b, groups, (&mut out[..8]).try_into().expect("8 rows")),
            _ => tile_vnni_rows::<MR>(a, b, groups, out),
        }
    }
}

/// # Safety
/// The CPU must support avx512f and avx512vnni.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vnni")]
unsafe fn tile_vnni_rows<const H: usize>(a: &[u8], b: &[i8], groups: usize, out: &mut [[i32; NR]; H]) {
    use std::arch::x86_64::*;
    assert!(a.len() >= groups * H * KG && b.len() >= groups * NR * KG);
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

/// The AVX2 tile of [`tile_portable`] on the paired layouts: `a` is `steps × h × KW` words,
/// `b` one panel `steps × NR × KW` bytes. Runs the tile two rows at a time (eight accumulators and
/// the panel's four registers stay in the sixteen).
///
/// # Safety
/// The CPU must support avx2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn tile_avx2(a: &[i16], b: &[i8], steps: usize, h: usize, out: &mut [[i32; NR]; MR]) {
    assert!(h <= MR && a.len() >= steps * h * KW && b.len() >= steps * NR * KW);
    let mut r = 0;
    while r < h {
        let rows = (h - r).min(2);
        // SAFETY: the caller's CPU promise; r + rows <= h, and the lengths were checked above.
        unsafe {
            match rows {
                2 => tile_avx2_rows::<2>(a, b, steps, h, r, (&mut out[r..r + 2]).try_into().expect("2 rows")),
                _ => tile_avx2_rows::<1>(a, b, steps, h, r, (&mut out[r..r + 1]).try_into().expect("1 row")),
            }
        }
        r += rows;
    }
}

/// Rows `r0..r0 + R` of a tile of height `h`.
///
/// # Safety
/// The CPU must support avx2; `a` must hold `steps · h · KW` words, `b` `steps · NR · KW`
/// bytes, and `r0 + R <= h`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn tile_avx2_rows<const R: usize>(
    a: &[i16],
    b: &[i8],
    steps: usize,
    h: usize,
    r0: usize,
    out: &mut [[i32; NR]; R],
) {
    use std::arch::x86_64::*;
    let mut acc = [[_mm256_setzero_si256(); NR / 8]; R];
    let (ap, bp) = (a.as_ptr(), b.as_ptr());
    for g in 0..steps {
        // SAFETY: g < steps, so the NR · KW bytes at g · NR · KW end within b, and the KW words
        // at (g · h + r0 + r) · KW, r0 + r < h, end within a.
        unsafe {
            let bg = bp.add(g * NR * KW);
            let bv = [0, 1, 2, 3].map(|i| _mm256_cvtepi8_epi16(_mm_loadu_si128(bg.add(i * 16).cast())));
            for (r, acc) in acc.iter_mut().enumerate() {
                let x = _mm256_set1_epi32(ap.add((g * h + r0 + r) * KW).cast::<i32>().read_unaligned());
                for (acc, &bv) in acc.iter_mut().zip(&bv) {
                    *acc = _mm256_add_epi32(*acc, _mm256_madd_epi16(x, bv));
                }
            }
        }
    }
    for (row, acc) in out.iter_mut().zip(&acc) {
        for (i, acc) in acc.iter().enumerate() {
            // SAFETY: each row is NR = 32 i32s: four 8-lane stores fit.
            unsafe { _mm256_storeu_si256(row.as_mut_ptr().add(8 * i).cast(), *acc) };
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

    /// The kernels of this CPU besides the portable one.
    fn fast_kernels() -> Vec<Kernel> {
        [Kernel::Avx2, Kernel::Vnni].into_iter().filter(|k| k.runs_here()).collect()
    }

    /// Every kernel gives the portable kernel's results, bit for bit (the integer sums are
    /// exact), at every tile height, ragged edges and thread split.
    #[test]
    fn every_kernel_equals_the_portable_one() {
        let kernels = fast_kernels();
        if kernels.is_empty() {
            eprintln!("no AVX2 here: only the portable kernel runs");
        }
        for &(m, n, k) in &[(1, 32, 4), (3, 40, 17), (9, 64, 512), (13, 96, 130), (70, 33, 2048), (200, 512, 64)] {
            let a: Vec<f32> = pseudo(m * k, 7).iter().enumerate().map(|(i, x)| x * (1 + i % 3) as f32 - 0.2).collect();
            // Weights that reach both ends of the range, so the sums are the largest they get.
            let mut w = pseudo(n * k, 8);
            w[0] = 1.0;
            w[1] = -1.0;
            let bias = pseudo(n, 9);
            let residual = pseudo(m * n, 10);
            let epi = Epilogue { residual: Some(&residual), gelu: true };
            let mut want = vec![f32::NAN; m * n];
            matmul(&a, m, &QuantPacked::from_linear(Kernel::Portable, &w, &bias, n, k), epi, &mut want);
            for &kernel in &kernels {
                let packed = QuantPacked::from_linear(kernel, &w, &bias, n, k);
                for threads in [1, 2] {
                    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                    let mut got = vec![f32::NAN; m * n];
                    pool.install(|| matmul(&a, m, &packed, epi, &mut got));
                    let same = got.iter().zip(&want).all(|(x, y)| x.to_bits() == y.to_bits());
                    assert!(
                        same,
                        "{} differs from the portable kernel at {m}x{n}x{k}, {threads} threads",
                        kernel.name()
                    );
                }
            }
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
            let q = QuantRows::new(&a, m, k);
            for kernel in std::iter::once(Kernel::Portable).chain(fast_kernels()) {
                let packed = QuantPacked::from_linear(kernel, &w, &bias, n, k);
                for threads in [1, 2] {
                    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                    let mut c = vec![f32::NAN; m * n];
                    pool.install(|| matmul(&a, m, &packed, Epilogue { residual: None, gelu: false }, &mut c));
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
                                "{m}x{n}x{k} {} {threads}: {got} vs {exact}",
                                kernel.name()
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
                    pool.install(|| matmul(&a, m, &packed, epi, &mut e));
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
