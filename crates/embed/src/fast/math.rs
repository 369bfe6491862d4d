//! Element-wise maths of the encoder, written so that LLVM vectorises it: no libm calls, no
//! branches in the loops, float reductions over independent lanes.

/// Lanes of the reductions (one AVX-512 register of f32).
const LANES: usize = 16;

/// e^x for x ≤ 88 (inputs of softmax are ≤ 0): Cody–Waite range reduction and the degree-6
/// polynomial of Cephes' expf; relative error about 1e-7. Below −87.3 the result is ≈ 1e-38
/// instead of a subnormal.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5 · 2^23: adding it rounds to an integer
    let x = x.clamp(-87.3, 88.3);
    let t = x * std::f32::consts::LOG2_E + MAGIC;
    let n = t - MAGIC;
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    let e = (t.to_bits() as i32).wrapping_sub(0x4B40_0000);
    y * f32::from_bits(((e + 127) << 23) as u32)
}

/// erf(x) as a rational function (x·P(x²)/Q(x²) on [−4, 4], ±1 outside: the form Eigen and
/// XNNPACK use). The approximation itself is within 1e-7 of erf; evaluated in f32 the error is
/// at most 4.5e-7 (a few ulp of 1.0), far below the rounding noise of the matrix products.
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = -2.726_142_3e-10f32;
    p = p * x2 + 2.770_681_4e-8;
    p = p * x2 + -2.101_024e-6;
    p = p * x2 + -5.692_506_4e-5;
    p = p * x2 + -7.349_906_3e-4;
    p = p * x2 + -2.954_600_1e-3;
    p = p * x2 + -1.609_603_3e-2;
    let mut q = -1.456_607_2e-5f32;
    q = q * x2 + -2.133_740_6e-4;
    q = q * x2 + -1.682_827e-3;
    q = q * x2 + -7.373_329e-3;
    q = q * x2 + -1.426_474e-2;
    x * p / q
}

/// GELU, erf form (BERT's `gelu`), in place.
#[inline(always)]
pub fn gelu(xs: &mut [f32]) {
    for x in xs {
        *x = 0.5 * *x * (1.0 + erf(*x * std::f32::consts::FRAC_1_SQRT_2));
    }
}

/// Sum with independent lanes (vectorisable).
#[inline(always)]
pub fn sum(xs: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let chunks = xs.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for l in 0..LANES {
            acc[l] += c[l];
        }
    }
    acc.iter().sum::<f32>() + rest.iter().sum::<f32>()
}

#[inline(always)]
pub fn max(xs: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let chunks = xs.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for l in 0..LANES {
            acc[l] = acc[l].max(c[l]);
        }
    }
    acc.iter().chain(rest).fold(f32::NEG_INFINITY, |m, &x| m.max(x))
}

/// Layer normalisation of one row in place: `(x − mean) / sqrt(var + eps) · gamma + beta`.
#[inline(always)]
pub fn layer_norm(x: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
    let n = x.len() as f32;
    let mean = sum(x) / n;
    for v in x.iter_mut() {
        *v -= mean;
    }
    let mut acc = [0f32; LANES];
    let chunks = x.chunks_exact(LANES);
    let rest: f32 = chunks.remainder().iter().map(|v| v * v).sum();
    for c in chunks {
        for l in 0..LANES {
            acc[l] += c[l] * c[l];
        }
    }
    let var = (acc.iter().sum::<f32>() + rest) / n;
    let inv = 1.0 / (var + eps).sqrt();
    for ((v, &g), &b) in x.iter_mut().zip(gamma).zip(beta) {
        *v = *v * inv * g + b;
    }
}

/// Softmax of one row in place.
#[inline(always)]
pub fn softmax(x: &mut [f32]) {
    let m = max(x);
    for v in x.iter_mut() {
        *v = exp(*v - m);
    }
    let inv = 1.0 / sum(x);
    for v in x.iter_mut() {
        *v *= inv;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// erf in f64 by its Maclaurin series (|x| ≤ 3) or continued fraction, for reference.
    fn erf_ref(x: f64) -> f64 {
        if x.abs() > 3.0 {
            // erfc continued fraction (Lentz), accurate for |x| > 3.
            let a = x.abs();
            let mut f = a;
            for k in (1..60).rev() {
                f = a + (k as f64 / 2.0) / f;
            }
            let erfc = (-a * a).exp() / std::f64::consts::PI.sqrt() / f;
            return (1.0 - erfc).copysign(x);
        }
        let mut term = x;
        let mut s = x;
        for n in 1..200 {
            term *= -x * x / n as f64;
            s += term / (2 * n + 1) as f64;
        }
        s * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn erf_and_gelu_are_accurate() {
        let mut worst = 0f64;
        for i in -60_000..=60_000 {
            let x = i as f32 / 10_000.0;
            let e = (f64::from(erf(x)) - erf_ref(f64::from(x))).abs();
            worst = worst.max(e);
        }
        assert!(worst < 5e-7, "erf error {worst}");
        let mut worst = 0f64;
        for i in -60_000..=60_000 {
            let x = i as f32 / 10_000.0;
            let mut g = [x];
            gelu(&mut g);
            let want = 0.5 * f64::from(x) * (1.0 + erf_ref(f64::from(x) / 2f64.sqrt()));
            worst = worst.max((f64::from(g[0]) - want).abs() / want.abs().max(1.0));
        }
        // At most 0.5 · |x| · 4.5e-7 absolute (large negative x, where the exact value is ~0).
        assert!(worst < 1.5e-6, "gelu error {worst}");
    }

    #[test]
    fn exp_is_accurate() {
        let mut worst = 0f64;
        for i in -87_000..=88_000 {
            let x = i as f32 / 1000.0;
            let want = f64::from(x).exp();
            worst = worst.max((f64::from(exp(x)) - want).abs() / want);
        }
        assert!(worst < 3e-7, "exp relative error {worst}");
    }

    #[test]
    fn layer_norm_and_softmax() {
        let mut x: Vec<f32> = (0..37).map(|i| i as f32 * 0.3 - 2.0).collect();
        let g = vec![1.0; 37];
        let b = vec![0.0; 37];
        layer_norm(&mut x, &g, &b, 1e-12);
        assert!(sum(&x).abs() < 1e-4);
        assert!((x.iter().map(|v| v * v).sum::<f32>() / 37.0 - 1.0).abs() < 1e-4);
        let mut s = vec![1.0f32, 2.0, 3.0, -1e9];
        softmax(&mut s);
        let z: f32 = [1f32, 2.0, 3.0].iter().map(|v| v.exp()).sum();
        assert!((s[2] - 3f32.exp() / z).abs() < 1e-6 && s[3] < 1e-30);
    }
}
