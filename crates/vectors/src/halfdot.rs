//! The dot product of a half-precision copy of a stored vector with an f32 query: the exact
//! scan's first pass. It streams half the bytes of the f32 vectors and widens them to f32 in
//! registers (AVX-512F or F16C), and it is never the answer: the scan rescores in f32 every
//! vector that [`error_bound`] cannot rule out.

use half::f16;

/// `v` rounded to the nearest half-precision values, as their bit patterns.
pub(crate) fn halves(v: &[f32]) -> impl Iterator<Item = u16> + '_ {
    v.iter().map(|&x| f16::from_f32(x).to_bits())
}

/// How far [`Kernel::dot`] of the half copy of a unit vector with a unit query can be from
/// [`crate::dot`] of the f32 vector with the same query, for `dim` dimensions.
///
/// Rounding to f16 changes a value by at most 2⁻¹¹ of it where it is normal (|x| ≥ 2⁻¹⁴) and by
/// at most 2⁻²⁵ where it is subnormal; summed over the products with the query, the first is at
/// most 2⁻¹¹ · Σ|vᵢ qᵢ| ≤ 2⁻¹¹ (Cauchy–Schwarz, unit vectors), the second at most
/// 2⁻²⁵ · Σ|qᵢ| ≤ 2⁻²⁵ · √dim. Each of the two sums is accumulated in f32, in whatever order,
/// with an error of at most γ = dim · 2⁻²⁴ / (1 − dim · 2⁻²⁴) of Σ|products|. A quarter is added
/// for the query's own rounding to unit length.
pub(crate) fn error_bound(dim: usize) -> f32 {
    let n = dim as f64;
    let unit = 2f64.powi(-24);
    let gamma = n * unit / (1.0 - n * unit);
    let rounding = 2f64.powi(-11) + n.sqrt() * 2f64.powi(-25);
    let summing = gamma * (2.0 + 2f64.powi(-11));
    ((rounding + summing) * 1.25) as f32
}

/// Which instructions [`Kernel::dot`] uses. Only [`Kernel::detect`] and [`Kernel::all`] make
/// one, so a kernel the CPU lacks is never called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Kernel(Isa);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Isa {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2F16c,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Kernel {
    /// The fastest kernel this CPU runs.
    pub(crate) fn detect() -> Kernel {
        *Kernel::all().last().expect("the portable kernel runs everywhere")
    }

    /// Every kernel this CPU runs, slowest first.
    pub(crate) fn all() -> Vec<Kernel> {
        #[allow(unused_mut)]
        let mut kernels = vec![Kernel(Isa::Portable)];
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("f16c") && is_x86_feature_detected!("fma") {
                kernels.push(Kernel(Isa::Avx2F16c));
            }
            if is_x86_feature_detected!("avx512f") {
                kernels.push(Kernel(Isa::Avx512));
            }
        }
        kernels
    }

    /// Σ f16(hᵢ) · qᵢ, accumulated in f32.
    ///
    /// # Panics
    /// If `h` and `q` differ in length.
    #[allow(unsafe_code)]
    pub(crate) fn dot(self, h: &[u16], q: &[f32]) -> f32 {
        assert_eq!(h.len(), q.len(), "a half vector and its query differ in length");
        match self.0 {
            Isa::Portable => portable(h, q),
            // SAFETY: `Kernel::all` makes this kernel only when the CPU reports avx2, f16c and
            // fma; the lengths are equal (asserted above), which is all the kernel's loads need.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2F16c => unsafe { avx2_f16c(h, q) },
            // SAFETY: as above, for avx512f.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { avx512(h, q) },
        }
    }
}

fn portable(h: &[u16], q: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ch, cq) = (h.chunks_exact(8), q.chunks_exact(8));
    let tail: f32 = ch.remainder().iter().zip(cq.remainder()).map(|(&x, y)| f16::from_bits(x).to_f32() * y).sum();
    for (x, y) in ch.zip(cq) {
        for i in 0..8 {
            acc[i] += f16::from_bits(x[i]).to_f32() * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// What is left after the vector kernels' last full register, from `from` on (nothing at
/// m3e-small's 512 dimensions).
#[inline(always)]
fn tail(h: &[u16], q: &[f32], from: usize) -> f32 {
    if from == h.len() { 0.0 } else { portable(&h[from..], &q[from..]) }
}

/// # Safety
/// The CPU must support avx512f, and `h` and `q` must have the same length.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[target_feature(enable = "avx512f")]
unsafe fn avx512(h: &[u16], q: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let n = h.len();
    let (hp, qp) = (h.as_ptr(), q.as_ptr());
    let (mut acc0, mut acc1) = (_mm512_setzero_ps(), _mm512_setzero_ps());
    let mut i = 0;
    // SAFETY (every load below): i + 16 ≤ n (or i + 32 ≤ n), and both slices hold n values.
    while i + 32 <= n {
        unsafe {
            let a0 = _mm512_cvtph_ps(_mm256_loadu_si256(hp.add(i).cast()));
            let a1 = _mm512_cvtph_ps(_mm256_loadu_si256(hp.add(i + 16).cast()));
            acc0 = _mm512_fmadd_ps(a0, _mm512_loadu_ps(qp.add(i)), acc0);
            acc1 = _mm512_fmadd_ps(a1, _mm512_loadu_ps(qp.add(i + 16)), acc1);
        }
        i += 32;
    }
    if i + 16 <= n {
        unsafe {
            let a0 = _mm512_cvtph_ps(_mm256_loadu_si256(hp.add(i).cast()));
            acc0 = _mm512_fmadd_ps(a0, _mm512_loadu_ps(qp.add(i)), acc0);
        }
        i += 16;
    }
    _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)) + tail(h, q, i)
}

/// # Safety
/// The CPU must support avx2, f16c and fma, and `h` and `q` must have the same length.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[target_feature(enable = "avx2,f16c,fma")]
unsafe fn avx2_f16c(h: &[u16], q: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let n = h.len();
    let (hp, qp) = (h.as_ptr(), q.as_ptr());
    let (mut acc0, mut acc1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    let mut i = 0;
    // SAFETY (every load below): i + 8 ≤ n (or i + 16 ≤ n), and both slices hold n values.
    while i + 16 <= n {
        unsafe {
            let a0 = _mm256_cvtph_ps(_mm_loadu_si128(hp.add(i).cast()));
            let a1 = _mm256_cvtph_ps(_mm_loadu_si128(hp.add(i + 8).cast()));
            acc0 = _mm256_fmadd_ps(a0, _mm256_loadu_ps(qp.add(i)), acc0);
            acc1 = _mm256_fmadd_ps(a1, _mm256_loadu_ps(qp.add(i + 8)), acc1);
        }
        i += 16;
    }
    if i + 8 <= n {
        unsafe {
            let a0 = _mm256_cvtph_ps(_mm_loadu_si128(hp.add(i).cast()));
            acc0 = _mm256_fmadd_ps(a0, _mm256_loadu_ps(qp.add(i)), acc0);
        }
        i += 8;
    }
    let mut lanes = [0f32; 8];
    // SAFETY: `lanes` holds 8 f32, what an unaligned 256-bit store writes.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), _mm256_add_ps(acc0, acc1)) };
    lanes.iter().sum::<f32>() + tail(h, q, i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit_vectors(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut state = seed;
        let mut next = move || {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        };
        (0..n)
            .map(|i| {
                // Some vectors with tiny (subnormal in f16) and some with large components.
                let scale = if i % 3 == 0 { 1e-6 } else { 1.0 };
                let v: Vec<f32> = (0..dim).map(|j| if j % 7 == 0 { next() } else { next() * scale }).collect();
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.into_iter().map(|x| x / norm).collect()
            })
            .collect()
    }

    #[test]
    fn every_kernel_stays_within_the_bound_of_the_f32_dot() {
        for dim in [1, 7, 8, 15, 16, 17, 31, 32, 33, 100, 512, 768] {
            let vs = unit_vectors(40, dim, dim as u64);
            let bound = error_bound(dim);
            for kernel in Kernel::all() {
                for v in &vs {
                    let h: Vec<u16> = halves(v).collect();
                    for q in &vs {
                        let exact = crate::dot(v, q);
                        let approx = kernel.dot(&h, q);
                        assert!((exact - approx).abs() <= bound, "{kernel:?} dim {dim}: {exact} vs {approx}");
                    }
                }
            }
        }
    }

    #[test]
    fn the_kernels_agree_with_the_portable_one() {
        let vs = unit_vectors(20, 512, 9);
        for v in &vs {
            let h: Vec<u16> = halves(v).collect();
            let reference = Kernel(Isa::Portable).dot(&h, &vs[0]);
            for kernel in Kernel::all() {
                // Only the order of the f32 sums differs.
                assert!((kernel.dot(&h, &vs[0]) - reference).abs() < 1e-5, "{kernel:?}");
            }
        }
    }

    #[test]
    fn the_bound_is_small_enough_to_prune() {
        assert!(error_bound(512) < 1e-3, "{}", error_bound(512));
    }
}
