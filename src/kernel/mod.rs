//! Generic kernels, written once over `pulp::Simd`. Infallible: shapes were checked by the caller.
//!
//! # The fixed accumulation order
//! Every sum over a row uses [`LANES`] = 64 logical lanes: element `i` is added to lane `i mod 64`, with
//! one fused multiply-add (`acc = fma(d, d, acc)`, `d = x − y`), in element order. A backend with `W`
//! lanes per vector keeps `64 / W` vector accumulators (AVX-512: 4, AVX2: 8, NEON: 16, scalar: 64), so
//! every lane sees the same additions in the same order whatever `W` is. The tail past the last whole
//! vector is loaded zero-filled (adding `fma(0, 0, acc) = acc` changes nothing, as every accumulator is
//! `+0`, positive, `inf` or NaN). The 64 lanes are then folded by one fixed tree: for
//! `h = 32, 16, 8, 4, 2, 1`, lane `i += lane i + h` for `i < h`, first between whole vectors, then
//! inside the last one. Four accumulators (on AVX-512) also hide the FMA latency.

// Index loops over accumulators and rows are deliberate: they fix the order of every operation and
// keep array indices constant after unrolling, so the accumulators stay in registers. No SIMD work is
// done in closures (nor in `array::map`/`from_fn`): a closure does not get the backend's target
// features, so it stays out of line and every vector operation in it becomes a call.
#![allow(clippy::needless_range_loop)]

use pulp::Simd;

pub(crate) mod distance;
pub(crate) mod loss;
pub(crate) mod mining;
pub(crate) mod normalize;
pub(crate) mod pair_grad;
pub(crate) mod pairwise;
pub(crate) mod sum;
pub(crate) mod triplet;

/// The number of logical accumulator lanes of every reduction.
pub(crate) const LANES: usize = 64;

/// Calls `$f::<S, K>(args…)` with `K = LANES / S::F32_LANES` vector accumulators.
macro_rules! by_width {
    ($S:ty, $f:ident $(::<$($g:tt),*>)? ($($arg:expr),* $(,)?)) => {
        match <$S as pulp::Simd>::F32_LANES {
            1 => $f::<$S, 64 $($(, $g)*)?>($($arg),*),
            4 => $f::<$S, 16 $($(, $g)*)?>($($arg),*),
            8 => $f::<$S, 8 $($(, $g)*)?>($($arg),*),
            16 => $f::<$S, 4 $($(, $g)*)?>($($arg),*),
            // pulp's f32 vectors have 1, 4, 8 or 16 lanes on every backend this crate runs.
            _ => unreachable!("unsupported lane count"),
        }
    };
}
pub(crate) use by_width;

/// `o + g` (accumulate) or `g` (overwrite).
#[inline(always)]
pub(crate) fn combine<S: Simd>(
    simd: S,
    mode: crate::options::GradMode,
    o: S::f32s,
    g: S::f32s,
) -> S::f32s {
    match mode {
        crate::options::GradMode::Overwrite => g,
        crate::options::GradMode::Accumulate => simd.add_f32s(o, g),
    }
}

/// Loads at most one vector, zero-filled past the slice's end.
#[inline(always)]
pub(crate) fn load<S: Simd>(simd: S, x: &[f32]) -> S::f32s {
    match S::as_simd_f32s(x).0.first() {
        Some(&v) => v,
        None => simd.partial_load_f32s(x),
    }
}

/// Stores the first `x.len()` (at most one vector's) lanes of `v` into `x`.
#[inline(always)]
pub(crate) fn store<S: Simd>(simd: S, x: &mut [f32], v: S::f32s) {
    match S::as_mut_simd_f32s(x).0.first_mut() {
        Some(o) => *o = v,
        None => simd.partial_store_f32s(x, v),
    }
}

/// `c` in the first `n` lanes, `+0` in the rest.
#[inline(always)]
pub(crate) fn splat_first<S: Simd>(simd: S, c: f32, n: usize) -> S::f32s {
    if n >= S::F32_LANES {
        simd.splat_f32s(c)
    } else {
        simd.partial_load_f32s(&[c; 16][..n])
    }
}

/// Folds the `K` vector accumulators (64 logical lanes) by the crate's one fixed tree: for
/// `h = 32, 16, …, 1`, lane `i += lane i + h`. (Accumulators a short row never reached hold `+0`, and
/// adding `+0` leaves every accumulator value — `+0`, positive, `inf`, NaN — as it is.)
#[inline(always)]
pub(crate) fn fold<S: Simd, const K: usize>(simd: S, mut acc: [S::f32s; K]) -> f32 {
    let mut h = K / 2;
    while h >= 1 {
        for j in 0..h {
            acc[j] = simd.add_f32s(acc[j], acc[j + h]);
        }
        h /= 2;
    }
    // The same halving tree inside the last vector: pulp's `reduce_sum_f32s` adds the upper half to the
    // lower half until one lane is left on every backend (AVX-512: 256-bit halves, then AVX2's 128-bit
    // halves, then `movehl` and lane 1; NEON: `(a0 + a2) + (a1 + a3)`; the emulated and scalar widths:
    // a halving loop). The cross-backend tests would catch a pulp release that changed this.
    simd.reduce_sum_f32s(acc[0])
}

/// Correctly rounded square root (IEEE, the same bits with and without `std`).
#[inline(always)]
pub(crate) fn sqrt(x: f32) -> f32 {
    pulp::Scalar::new().sqrt_f32s(x)
}
