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
// keep array indices constant after unrolling, so the accumulators stay in registers.
#![allow(clippy::needless_range_loop)]

use pulp::Simd;

pub(crate) mod distance;
pub(crate) mod loss;
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

/// Visits `R` equally long rows vector by vector in element order, calling `f(j, [x_0, …, x_{R−1}], n)`
/// where `j` is the vector accumulator (of `K`) that position belongs to and `n` the number of real
/// values in the vectors (`W`, or fewer in the zero-filled tail).
#[inline(always)]
pub(crate) fn visit<S: Simd, const K: usize, const R: usize>(
    simd: S,
    rows: [&[f32]; R],
    mut f: impl FnMut(usize, [S::f32s; R], usize),
) {
    let len = rows[0].len();
    debug_assert!(rows.iter().all(|r| r.len() == len));
    debug_assert_eq!(K * S::F32_LANES, LANES);
    let w = S::F32_LANES;
    let blocks = len / LANES;
    // (Plain loops rather than `array::map`/`from_fn`, whose closures would not get the backend's
    // target features and would stay out of line.)
    let mut chunks: [&[[S::f32s; K]]; R] = [&[]; R];
    for i in 0..R {
        chunks[i] = &S::as_simd_f32s(rows[i]).0.as_chunks::<K>().0[..blocks];
    }
    let mut x = [simd.splat_f32s(0.0); R];
    for b in 0..blocks {
        for j in 0..K {
            for i in 0..R {
                x[i] = chunks[i][b][j];
            }
            f(j, x, w);
        }
    }
    // The last, partial block: each accumulator index stays a constant after unrolling, so the
    // accumulators live in registers.
    let base = blocks * LANES;
    if base < len {
        for j in 0..K {
            let s = base + j * w;
            if s < len {
                for i in 0..R {
                    x[i] = load(simd, &rows[i][s..len.min(s + w)]);
                }
                f(j, x, w.min(len - s));
            }
        }
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

/// `c` in the first `n` lanes, `+0` in the rest.
#[inline(always)]
pub(crate) fn splat_first<S: Simd>(simd: S, c: f32, n: usize) -> S::f32s {
    if n >= S::F32_LANES {
        simd.splat_f32s(c)
    } else {
        simd.partial_load_f32s(&[c; 16][..n])
    }
}

/// Folds the `K` vector accumulators (64 logical lanes) by the crate's one fixed tree. Accumulators at
/// and past `used` were never touched, so they hold `+0`; adding `+0` to an accumulator (`+0`, positive,
/// `inf` or NaN) leaves its bits as they are, so those additions are skipped.
#[inline(always)]
pub(crate) fn fold<S: Simd, const K: usize>(simd: S, mut acc: [S::f32s; K], used: usize) -> f32 {
    let mut h = K / 2;
    while h >= 1 {
        for j in 0..h {
            if j + h < used {
                acc[j] = simd.add_f32s(acc[j], acc[j + h]);
            }
        }
        h /= 2;
    }
    // The same halving tree inside the last vector: pulp's `reduce_sum_f32s` adds the upper half to the
    // lower half until one lane is left on every backend (AVX-512: 256-bit halves, then AVX2's 128-bit
    // halves, then `movehl` and lane 1; NEON: `(a0 + a2) + (a1 + a3)`; the emulated and scalar widths:
    // a halving loop). The cross-backend tests would catch a pulp release that changed this.
    simd.reduce_sum_f32s(acc[0])
}

/// How many of the `K` vector accumulators a row of `len` values touches.
#[inline(always)]
pub(crate) fn used<S: Simd, const K: usize>(len: usize) -> usize {
    len.div_ceil(S::F32_LANES).min(K)
}

/// Correctly rounded square root (IEEE, the same bits with and without `std`).
#[inline(always)]
pub(crate) fn sqrt(x: f32) -> f32 {
    pulp::Scalar::new().sqrt_f32s(x)
}
