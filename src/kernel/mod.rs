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

use pulp::Simd;

pub(crate) mod distance;
pub(crate) mod loss;

/// The number of logical accumulator lanes of every reduction.
pub(crate) const LANES: usize = 64;

/// Calls `$f::<S, K>(args…)` with `K = LANES / S::F32_LANES` vector accumulators.
macro_rules! by_width {
    ($S:ty, $f:ident($($arg:expr),* $(,)?)) => {
        match <$S as pulp::Simd>::F32_LANES {
            1 => $f::<$S, 64>($($arg),*),
            4 => $f::<$S, 16>($($arg),*),
            8 => $f::<$S, 8>($($arg),*),
            16 => $f::<$S, 4>($($arg),*),
            // pulp's f32 vectors have 1, 4, 8 or 16 lanes on every backend this crate runs.
            _ => unreachable!("unsupported lane count"),
        }
    };
}
pub(crate) use by_width;

/// Visits `R` equally long rows vector by vector in element order, calling `f(j, [x_0, …, x_{R−1}])`
/// where `j` is the vector accumulator (of `K`) that position belongs to. The tail is zero-filled.
#[inline(always)]
pub(crate) fn visit<S: Simd, const K: usize, const R: usize>(
    simd: S,
    rows: [&[f32]; R],
    mut f: impl FnMut(usize, [S::f32s; R]),
) {
    let len = rows[0].len();
    debug_assert!(rows.iter().all(|r| r.len() == len));
    debug_assert_eq!(K * S::F32_LANES, LANES);
    let full = len / S::F32_LANES;
    let blocks = full / K;
    let vecs = rows.map(|r| &S::as_simd_f32s(r).0[..full]);
    let chunks = vecs.map(|v| &v.as_chunks::<K>().0[..blocks]);
    for b in 0..blocks {
        for j in 0..K {
            f(j, core::array::from_fn(|i| chunks[i][b][j]));
        }
    }
    let mut j = 0;
    for v in blocks * K..full {
        f(j, core::array::from_fn(|i| vecs[i][v]));
        j += 1;
    }
    if len % S::F32_LANES != 0 {
        f(
            j,
            core::array::from_fn(|i| simd.partial_load_f32s(&rows[i][full * S::F32_LANES..])),
        );
    }
}

/// Folds the `K` vector accumulators (64 logical lanes) by the crate's one fixed tree.
#[inline(always)]
pub(crate) fn fold<S: Simd, const K: usize>(simd: S, mut acc: [S::f32s; K]) -> f32 {
    let mut h = K / 2;
    while h >= 1 {
        for j in 0..h {
            acc[j] = simd.add_f32s(acc[j], acc[j + h]);
        }
        h /= 2;
    }
    let mut t = [0.0f32; 16];
    let w = S::F32_LANES;
    t[..w].copy_from_slice(bytemuck::cast_slice(core::slice::from_ref(&acc[0])));
    let mut h = w / 2;
    while h >= 1 {
        for i in 0..h {
            t[i] += t[i + h];
        }
        h /= 2;
    }
    t[0]
}

/// Correctly rounded square root (IEEE, the same bits with and without `std`).
#[inline(always)]
pub(crate) fn sqrt(x: f32) -> f32 {
    pulp::Scalar::new().sqrt_f32s(x)
}
