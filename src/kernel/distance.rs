//! Distance kernels.

use pulp::{Simd, WithSimd};

use super::{LANES, by_width, fold, load, splat_first, sqrt};
use crate::rows::Rows;

/// `Σ (a_i − b_i)²` in the crate's fixed order (see the module docs of `kernel`).
#[inline(always)]
pub(crate) fn sq_l2<S: Simd>(simd: S, a: &[f32], b: &[f32]) -> f32 {
    by_width!(S, sq_l2_k(simd, a, b))
}

#[inline(always)]
fn sq_l2_k<S: Simd, const K: usize>(simd: S, a: &[f32], b: &[f32]) -> f32 {
    let (len, w) = (a.len(), S::F32_LANES);
    // Rows of two or four vectors fill only accumulators 0..2 or 0..4; the others stay `+0`. The
    // fixed tree's levels `h ≥ 2` (or `h ≥ 4`) then add `+0` to every accumulator, which leaves it as
    // it is (an accumulator is `+0`, positive, `inf` or NaN, never `−0`), so folding only the filled
    // ones by the tree's last levels gives the same bits with less work.
    if len > w && len <= 2 * w && 2 <= K {
        return short::<S, 2>(simd, a, b);
    }
    if len > 2 * w && len <= 4 * w && 4 <= K {
        return short::<S, 4>(simd, a, b);
    }
    sums::<S, 2, 1>(simd, [a, b], [(0, 1)], None)[0]
}

/// `sq_l2` of a row of at most `P` vectors: accumulator `j` gets vector `j` (zero-filled past the end;
/// `fma(d, d, +0)` is `d·d` rounded once), then the last `log2 P` levels of the fold tree.
#[inline(always)]
fn short<S: Simd, const P: usize>(simd: S, a: &[f32], b: &[f32]) -> f32 {
    let (len, w) = (a.len(), S::F32_LANES);
    let mut acc = [simd.splat_f32s(0.0); P];
    for j in 0..P {
        let s = (j * w).min(len);
        let e = len.min(s + w);
        let d = simd.sub_f32s(load(simd, &a[s..e]), load(simd, &b[s..e]));
        acc[j] = simd.mul_f32s(d, d);
    }
    fold::<S, P>(simd, acc)
}

/// For each pair `(i, k)` of `pairs`, `Σ (x_i − x_k [+ eps])²` over `R` equally long rows, in one pass
/// that reads every row once. `eps` (PyTorch's `pairwise_distance` convention) is added to the difference
/// of real elements only, never to the zero-filled tail.
#[inline(always)]
pub(crate) fn sums<S: Simd, const R: usize, const M: usize>(
    simd: S,
    rows: [&[f32]; R],
    pairs: [(usize, usize); M],
    eps: Option<f32>,
) -> [f32; M] {
    by_width!(S, sums_k::<R, M>(simd, rows, pairs, eps))
}

#[inline(always)]
fn sums_k<S: Simd, const K: usize, const R: usize, const M: usize>(
    simd: S,
    rows: [&[f32]; R],
    pairs: [(usize, usize); M],
    eps: Option<f32>,
) -> [f32; M] {
    let len = rows[0].len();
    if len <= S::F32_LANES {
        // One vector: the general path would compute `fma(d, d, +0)`, which is `d·d` rounded once, and
        // fold accumulators that are all `+0` but the first. The same bits, with less work.
        let mut x = [simd.splat_f32s(0.0); R];
        for i in 0..R {
            x[i] = load(simd, rows[i]);
        }
        let mut out = [0.0; M];
        for m in 0..M {
            let d = diff(simd, &x, pairs[m], eps, len);
            out[m] = simd.reduce_sum_f32s(simd.mul_f32s(d, d));
        }
        return out;
    }
    // The general path in a function of its own (pulp's `vectorize` starts a new target-feature
    // function), so that the short path above keeps a small prologue.
    simd.vectorize(Long::<K, R, M> { rows, pairs, eps })
}

struct Long<'a, const K: usize, const R: usize, const M: usize> {
    rows: [&'a [f32]; R],
    pairs: [(usize, usize); M],
    eps: Option<f32>,
}

impl<const K: usize, const R: usize, const M: usize> WithSimd for Long<'_, K, R, M> {
    type Output = [f32; M];
    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> [f32; M] {
        long::<S, K, R, M>(simd, self.rows, self.pairs, self.eps)
    }
}

#[inline(always)]
fn long<S: Simd, const K: usize, const R: usize, const M: usize>(
    simd: S,
    rows: [&[f32]; R],
    pairs: [(usize, usize); M],
    eps: Option<f32>,
) -> [f32; M] {
    let len = rows[0].len();
    let w = S::F32_LANES;
    let mut acc = [[simd.splat_f32s(0.0); K]; M];
    let blocks = len / LANES;
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
            step(simd, &mut acc, j, &x, pairs, eps, w);
        }
    }
    // The last, partial block: its whole vectors, then at most one zero-filled vector. Every
    // accumulator index is a constant after unrolling (the partial vector's accumulator is chosen by
    // comparing with each constant), so the accumulators stay in registers: a loop over a runtime
    // index (pulp's partial loads do not unroll) would keep all of them on the stack, and every call,
    // with or without a tail, would pay for storing them there.
    let base = blocks * LANES;
    if base < len && M == 1 {
        let rem = len - base;
        let full = rem / w;
        for j in 0..K {
            if j < full {
                let s = base + j * w;
                for i in 0..R {
                    x[i] = load(simd, &rows[i][s..s + w]);
                }
                step(simd, &mut acc, j, &x, pairs, eps, w);
            }
        }
        if !rem.is_multiple_of(w) {
            let s = base + full * w;
            for i in 0..R {
                x[i] = load(simd, &rows[i][s..len]);
            }
            let mut d = [simd.splat_f32s(0.0); M];
            for m in 0..M {
                d[m] = diff(simd, &x, pairs[m], eps, rem % w);
            }
            for j in 0..K {
                if j == full {
                    for m in 0..M {
                        acc[m][j] = simd.mul_add_f32s(d[m], d[m], acc[m][j]);
                    }
                }
            }
        }
    } else if base < len {
        // The triplet kernel's sums (two or three pairs over three rows) keep the loop over the
        // partial block's vectors: unrolled there, the tail grew the kernel and its stack traffic and
        // did not measure faster (paired, on a loaded machine), so its code stays as it was.
        for j in 0..K {
            let s = base + j * w;
            if s < len {
                for i in 0..R {
                    x[i] = load(simd, &rows[i][s..len.min(s + w)]);
                }
                step(simd, &mut acc, j, &x, pairs, eps, w.min(len - s));
            }
        }
    }
    let mut out = [0.0; M];
    for m in 0..M {
        out[m] = fold::<S, K>(simd, acc[m]);
    }
    out
}

/// The most vectors of row 0 that [`sums_in_order`] keeps in registers.
const HELD: usize = 16;

/// [`sums`] over rows that lie side by side in memory (one interleaved batch's `[a p n]`), reading
/// each row whole, in increasing row order: row 0 into registers, then row 1 and row 2 once each
/// against it (a later pair re-reads rows already read, from L1). Each accumulator takes the same
/// vectors in the same order as in [`sums`], so the bits are the same; only the order of the loads
/// differs. Read vector by vector, side by side, rows that share pages come in at half the speed of
/// three separate buffers out of cache: within a page the first reads are not in increasing order,
/// and the hardware prefetchers do not follow them.
///
/// Rows of more than [`HELD`] vectors are read once in increasing order first (one load per 64 bytes
/// of row 0), then pair by pair. For rows of more than one vector; pairs whose first row is 0 or was
/// read by an earlier pair.
#[inline(always)]
pub(crate) fn sums_in_order<S: Simd, const M: usize>(
    simd: S,
    rows: [&[f32]; 3],
    pairs: [(usize, usize); M],
    eps: Option<f32>,
) -> [f32; M] {
    if rows[0].len() > HELD * S::F32_LANES {
        // Too long to keep in registers: read row 0 first (one load per 64 bytes, in increasing
        // order), then each pair alone, its first row again from cache.
        let (v, _) = S::as_simd_f32s(rows[0]);
        let mut seen = simd.splat_f32s(0.0);
        for x in v.iter().step_by((16 / S::F32_LANES).max(1)) {
            seen = simd.max_f32s(seen, *x);
        }
        core::hint::black_box(seen);
        let mut out = [0.0; M];
        for m in 0..M {
            let (i, k) = pairs[m];
            out[m] = sums::<S, 2, 1>(simd, [rows[i], rows[k]], [(0, 1)], eps)[0];
        }
        return out;
    }
    macro_rules! arms {
        ($($n:literal)*) => {
            match rows[0].len() / S::F32_LANES {
                $($n => by_width!(S, in_order::<M, $n>(simd, rows, pairs, eps)),)*
                _ => unreachable!("sums_in_order: rows of 2 to HELD vectors"),
            }
        };
    }
    arms!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)
}

/// [`sums_in_order`] for rows of `N` whole vectors and a partial one or none (every index is a
/// constant after unrolling, so that row 0 and the accumulators stay in registers).
#[inline(always)]
fn in_order<S: Simd, const K: usize, const M: usize, const N: usize>(
    simd: S,
    rows: [&[f32]; 3],
    pairs: [(usize, usize); M],
    eps: Option<f32>,
) -> [f32; M] {
    let w = S::F32_LANES;
    let rem = rows[0].len() - N * w;
    // Arrays of exactly `N` vectors, so that no index needs a bounds check, and the tails. (No
    // `array::map`: its closure is a call of its own.)
    let empty = [simd.splat_f32s(0.0); N];
    let whole = |i: usize| {
        S::as_simd_f32s(&rows[i][..N * w])
            .0
            .first_chunk::<N>()
            .unwrap_or(&empty)
    };
    let vecs = [whole(0), whole(1), whole(2)];
    let mut tails = [None; 3];
    if rem > 0 {
        for i in 0..3 {
            tails[i] = Some(load(simd, &rows[i][N * w..]));
        }
    }
    let held: [S::f32s; N] = *vecs[0];
    // One pair at a time, each with its own accumulators; eps is decided once per pair. (A loop, not
    // a closure: a closure's body would not run with the target's features.)
    let mut out = [0.0; M];
    for m in 0..M {
        let (i, k) = pairs[m];
        let x = if i == 0 { &held } else { vecs[i] };
        let tail = tails[i].zip(tails[k]);
        out[m] = match eps {
            None => pair::<S, K, N, false>(simd, x, vecs[k], tail, 0.0, rem),
            Some(e) => pair::<S, K, N, true>(simd, x, vecs[k], tail, e, rem),
        };
    }
    out
}

/// `Σ (x − y [+ eps])²` of one pair of rows held as `N` whole vectors and an optional partial one
/// (`rem` real lanes), accumulated as [`sums`] does.
#[inline(always)]
fn pair<S: Simd, const K: usize, const N: usize, const EPS: bool>(
    simd: S,
    x: &[S::f32s; N],
    y: &[S::f32s; N],
    tail: Option<(S::f32s, S::f32s)>,
    eps: f32,
    rem: usize,
) -> f32 {
    let mut acc = [simd.splat_f32s(0.0); K];
    let e = simd.splat_f32s(eps);
    for v in 0..N {
        let mut d = simd.sub_f32s(x[v], y[v]);
        if EPS {
            d = simd.add_f32s(d, e);
        }
        acc[v % K] = simd.mul_add_f32s(d, d, acc[v % K]);
    }
    if let Some((tx, ty)) = tail {
        let mut d = simd.sub_f32s(tx, ty);
        if EPS {
            d = simd.add_f32s(d, splat_first(simd, eps, rem));
        }
        acc[N % K] = simd.mul_add_f32s(d, d, acc[N % K]);
    }
    fold::<S, K>(simd, acc)
}

/// Element `i` goes to lane `i mod 64`: vector accumulator `j` of every pair gets one fused multiply-add.
#[inline(always)]
fn step<S: Simd, const K: usize, const R: usize, const M: usize>(
    simd: S,
    acc: &mut [[S::f32s; K]; M],
    j: usize,
    x: &[S::f32s; R],
    pairs: [(usize, usize); M],
    eps: Option<f32>,
    n: usize,
) {
    for m in 0..M {
        let d = diff(simd, x, pairs[m], eps, n);
        acc[m][j] = simd.mul_add_f32s(d, d, acc[m][j]);
    }
}

/// `x_i − x_k`, plus `eps` in the first `n` lanes.
#[inline(always)]
fn diff<S: Simd, const R: usize>(
    simd: S,
    x: &[S::f32s; R],
    (i, k): (usize, usize),
    eps: Option<f32>,
    n: usize,
) -> S::f32s {
    let d = simd.sub_f32s(x[i], x[k]);
    match eps {
        None => d,
        Some(e) => simd.add_f32s(d, splat_first(simd, e, n)),
    }
}

/// `sq_l2` of one pair, or (with `ROOT`) its square root.
pub(crate) struct Pair<'a, const ROOT: bool> {
    pub a: &'a [f32],
    pub b: &'a [f32],
}

impl<const ROOT: bool> WithSimd for Pair<'_, ROOT> {
    type Output = f32;
    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> f32 {
        let d = sq_l2(simd, self.a, self.b);
        if ROOT { sqrt(d) } else { d }
    }
}

/// `out[r] = d(a_r, b_r)` for every row (`b` may be a broadcast query).
pub(crate) struct RowPairs<'a, 'o> {
    pub a: Rows<'a>,
    pub b: Rows<'a>,
    pub out: &'o mut [f32],
    pub root: bool,
}

impl WithSimd for RowPairs<'_, '_> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let Self { a, b, out, root } = self;
        for (r, o) in out.iter_mut().enumerate() {
            let d = sq_l2(simd, a.row_unchecked(r), b.row_unchecked(r));
            *o = if root { sqrt(d) } else { d };
        }
    }
}
