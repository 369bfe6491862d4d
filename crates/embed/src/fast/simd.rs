//! Unsafe code, with the int8 kernel (`int8.rs`) the only in the crate: run-time CPU feature
//! dispatch and the AVX-512 f32 GEMM micro-kernel. Everything else in the fast encoder is safe Rust written so that LLVM
//! vectorises it; [`multiversion!`] compiles such a function three times (AVX-512, AVX2 + FMA,
//! portable) and picks the one the CPU supports at run time.
#![allow(unsafe_code)]

use std::sync::OnceLock;

/// Columns of one packed weight panel, and of one micro-kernel tile.
pub const NR: usize = 32;

/// The instruction set the fast encoder runs with, detected once per process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Isa {
    Portable,
    Avx2,
    Avx512,
}

impl Isa {
    /// What this CPU supports, lowered by `GRIDKB_EMBED_ISA=portable|avx2|avx512` (for testing
    /// the fallbacks; it can only lower, never raise).
    pub fn detect() -> Isa {
        static ISA: OnceLock<Isa> = OnceLock::new();
        *ISA.get_or_init(|| {
            let found = detect_cpu();
            let wanted = match std::env::var("GRIDKB_EMBED_ISA").ok().as_deref() {
                Some("portable") => Isa::Portable,
                Some("avx2") => Isa::Avx2,
                _ => Isa::Avx512,
            };
            found.min(wanted)
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Isa::Portable => "portable",
            Isa::Avx2 => "avx2+fma",
            Isa::Avx512 => "avx512f",
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn detect_cpu() -> Isa {
    if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vl") && is_x86_feature_detected!("fma") {
        Isa::Avx512
    } else if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        Isa::Avx2
    } else {
        Isa::Portable
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect_cpu() -> Isa {
    Isa::Portable
}

/// Defines `fn $name(isa: Isa, args..) -> R` that runs the safe, `#[inline(always)]` function
/// `$imp(isa, args..)` compiled for the best instruction set `isa` allows.
macro_rules! multiversion {
    ($vis:vis fn $name:ident($($p:ident: $t:ty),* $(,)?) $(-> $r:ty)? => $imp:path) => {
        // The unsafe of this function is the two calls of target-feature functions below.
        #[allow(unsafe_code, clippy::too_many_arguments)]
        $vis fn $name(isa: $crate::fast::simd::Isa, $($p: $t),*) $(-> $r)? {
            // Never above what the CPU has, whatever the caller asked for.
            let isa = isa.min($crate::fast::simd::Isa::detect());
            #[cfg(target_arch = "x86_64")]
            {
                #[allow(clippy::too_many_arguments)]
                #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
                fn avx512(isa: $crate::fast::simd::Isa, $($p: $t),*) $(-> $r)? {
                    $imp(isa, $($p),*)
                }
                #[allow(clippy::too_many_arguments)]
                #[target_feature(enable = "avx2,fma")]
                fn avx2(isa: $crate::fast::simd::Isa, $($p: $t),*) $(-> $r)? {
                    $imp(isa, $($p),*)
                }
                match isa {
                    // SAFETY: `Isa::detect` returns Avx512 only when the CPU reports avx512f,
                    // avx512vl and fma at run time, which also implies avx2.
                    $crate::fast::simd::Isa::Avx512 => return unsafe { avx512(isa, $($p),*) },
                    // SAFETY: `Isa::detect` returns Avx2 only when the CPU reports avx2 and fma.
                    $crate::fast::simd::Isa::Avx2 => return unsafe { avx2(isa, $($p),*) },
                    $crate::fast::simd::Isa::Portable => {}
                }
            }
            #[allow(unreachable_code)]
            $imp(isa, $($p),*)
        }
    };
}
pub(crate) use multiversion;

/// One `MR × NR` tile of `A · B` over the whole depth `k`: `a` is `k × MR` (A's rows
/// interleaved, see `pack_a`), `b` one packed panel `k × NR`.
#[inline(always)]
pub fn tile<const MR: usize>(isa: Isa, a: &[f32], b: &[f32], k: usize, out: &mut [[f32; NR]; MR]) {
    assert!(a.len() >= k * MR && b.len() >= k * NR);
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx512 && Isa::detect() == Isa::Avx512 {
        // SAFETY: Isa::detect said the CPU has avx512f; the slice lengths
        // were checked above, which is all the kernel's pointer arithmetic relies on.
        unsafe { tile_avx512::<MR>(a, b, k, out) };
        return;
    }
    let _ = isa;
    let mut acc = [[0f32; NR]; MR];
    for (av, bv) in a.chunks_exact(MR).zip(b.chunks_exact(NR)).take(k) {
        for r in 0..MR {
            let x = av[r];
            for c in 0..NR {
                acc[r][c] += x * bv[c];
            }
        }
    }
    *out = acc;
}

/// # Safety
/// The CPU must support avx512f; `a` must hold `k * MR` and `b` `k * NR` values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn tile_avx512<const MR: usize>(a: &[f32], b: &[f32], k: usize, out: &mut [[f32; NR]; MR]) {
    use std::arch::x86_64::*;
    let mut acc = [[_mm512_setzero_ps(); 2]; MR];
    let ap = a.as_ptr();
    let bp = b.as_ptr();
    for kk in 0..k {
        // SAFETY: kk < k, so kk * NR + 31 < k * NR <= b.len() and kk * MR + r < k * MR <= a.len().
        unsafe {
            let b0 = _mm512_loadu_ps(bp.add(kk * NR));
            let b1 = _mm512_loadu_ps(bp.add(kk * NR + 16));
            for (r, acc) in acc.iter_mut().enumerate() {
                let x = _mm512_set1_ps(*ap.add(kk * MR + r));
                acc[0] = _mm512_fmadd_ps(x, b0, acc[0]);
                acc[1] = _mm512_fmadd_ps(x, b1, acc[1]);
            }
        }
    }
    for (row, acc) in out.iter_mut().zip(&acc) {
        // SAFETY: each row is NR = 32 floats: two 16-float stores fit.
        unsafe {
            _mm512_storeu_ps(row.as_mut_ptr(), acc[0]);
            _mm512_storeu_ps(row.as_mut_ptr().add(16), acc[1]);
        }
    }
}
