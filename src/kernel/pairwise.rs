//! All-pairs distances `D[i][j] = d(x_i, y_j)`, register-blocked.
//!
//! Each entry is computed in exactly the order of the one-pair kernel (`distance::sq_l2`): element `e`
//! goes to logical lane `e mod 64`, one fused multiply-add per element, zero-filled tail, the crate's
//! fold tree. So `D[i][j]` has the bits of `sq_l2(x_i, y_j)` on every backend.
//!
//! # Blocking
//! A tile of [`TX`] rows of `x` by [`TY`] rows of `y` is computed at once: every loaded vector of a row
//! serves all the pairs of the tile. The 64 logical lanes make `K = 64 / W` vector accumulators per pair
//! (8 on AVX2), too many to keep all of them for a whole tile in registers, so the tile is computed one
//! accumulator index `j` at a time ("column" `j`: the elements `b·64 + j·W .. b·64 + (j + 1)·W` of every
//! 64-element block `b`, then the tail's share of column `j`). Each lane still sees its elements in
//! element order, so the bits are unchanged; only the order in which independent lanes are worked on
//! differs. A column keeps `TX·TY` accumulators plus `TY + 1` loaded vectors live: 4 × 2 gives 8 + 3 of
//! AVX2's 16 registers.
//!
//! The self form `d(X, X)` computes the tiles on and above the diagonal and mirrors them: exactly
//! symmetric (and it would be anyway: `x − y` and `y − x` are exact negations, their squares equal),
//! with the diagonal `sq_l2(x_i, x_i)`, which is `+0` for a finite row.
//!
//! # Fold
//! Each pair's `K` accumulators are folded by the crate's one tree (`kernel::fold`: `acc[j] +=
//! acc[j + h]` for `h = K/2, …, 1`, then pulp's `reduce_sum_f32s` inside the last vector). The columns
//! are computed in bit-reversed order of `j` (0, 4, 2, 6, 1, 5, 3, 7 for `K = 8`), so each addition of
//! the tree is done as soon as both of its operands exist: the same additions with the same operands,
//! interleaved with the columns, keeping few partial sums live. The last step is one `reduce_sum_f32s`
//! per pair; LLVM already merges the final adds of several pairs into one vector add on AVX2. A
//! hand-written transpose of 8 pairs' vectors would need the backend's shuffles, which the generic
//! `Simd` trait does not offer (pulp's `deinterleave_shfl_f32s` for 8 vectors goes through memory).
//!
//! # Cache
//! The columns of `y` are swept in chunks of about 16 KiB of rows: every row tile of `x` passes over
//! one chunk (which stays in L1) before the next chunk starts.
//!
//! # Cost
//! Per pair and element: one subtraction and one FMA (the difference form; a matmul form would need
//! only the FMA but cancels), loads shared by the tile (`(TX + TY) / (TX·TY)` = 0.75 per pair-vector),
//! and per pair `K − 1` vector additions and a horizontal sum for the fold. Rows of at most one vector
//! (`dim ≤ W`, chosen once per call) take a tile of their own that skips the `+0` columns and their
//! additions (the bits are the same: the one-pair kernel's short path).

use core::ops::Range;

use pulp::{Simd, WithSimd};

use super::{LANES, by_width, load, sqrt};
use crate::rows::{Rows, RowsMut};

/// Rows of `x` per tile.
pub(crate) const TX: usize = 4;
/// Rows of `y` per tile.
pub(crate) const TY: usize = 2;

/// What is stored for a pair whose squared distance is `s`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Metric {
    /// `s` (squared L2).
    SqL2,
    /// `sqrt(s)` (Euclidean, correctly rounded).
    L2,
    /// `sqrt(s + eps)` (the Hermans et al. convention; `s + eps` rounded to `f32` first).
    L2EpsInSqrt(f32),
}

impl Metric {
    /// The stored value for the squared distance `s`.
    #[inline(always)]
    pub(crate) fn finish(self, s: f32) -> f32 {
        match self {
            Metric::SqL2 => s,
            Metric::L2 => sqrt(s),
            Metric::L2EpsInSqrt(e) => sqrt(s + e),
        }
    }
}

/// The squared distances of a tile: `out[a][b] = sq_l2(xs[a], ys[b])`. Every row has the same length,
/// at most one vector (`W` values) when `SHORT` (chosen once per call).
#[inline(always)]
pub(crate) fn tile<S: Simd, const SHORT: bool>(
    simd: S,
    xs: [&[f32]; TX],
    ys: [&[f32]; TY],
) -> [[f32; TY]; TX] {
    if SHORT {
        tile_one(simd, xs, ys)
    } else {
        by_width!(S, tile_k(simd, xs, ys))
    }
}

/// [`tile`] for rows of at most one vector (`dim ≤ W`): `reduce_sum(d·d)` per pair, which is what the
/// general path computes then (`fma(d, d, +0)` is `d·d` rounded once, and the other accumulators hold
/// `+0`, which the fold adds exactly), as in the one-pair kernel's short path.
#[inline(always)]
fn tile_one<S: Simd>(simd: S, xs: [&[f32]; TX], ys: [&[f32]; TY]) -> [[f32; TY]; TX] {
    let mut yv = [simd.splat_f32s(0.0); TY];
    for b in 0..TY {
        yv[b] = load(simd, ys[b]);
    }
    let mut out = [[0.0; TY]; TX];
    for a in 0..TX {
        let x = load(simd, xs[a]);
        for b in 0..TY {
            let d = simd.sub_f32s(x, yv[b]);
            out[a][b] = simd.reduce_sum_f32s(simd.mul_f32s(d, d));
        }
    }
    out
}

/// Runs `$body` for `$idx` in `0..$k`, written out for the vector widths' `K` (4, 8, 16) so that every
/// accumulator index is a constant and the accumulators stay in registers (a loop over `j` would keep
/// them in memory, zeroed first); a plain loop for the scalar backend's 64.
macro_rules! each_index {
    ($k:expr, $idx:ident => $body:block) => {
        match $k {
            4 => each_index!(@ $idx $body; 0 1 2 3),
            8 => each_index!(@ $idx $body; 0 1 2 3 4 5 6 7),
            16 => each_index!(@ $idx $body; 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15),
            _ => {
                for $idx in 0..$k $body
            }
        }
    };
    (@ $idx:ident $body:block; $($n:literal)*) => {{
        $({
            let $idx: usize = $n;
            $body
        })*
    }};
}

/// `i` with its `log2(k)` low bits reversed (`k` a power of two).
#[inline(always)]
const fn bit_reversed(i: usize, k: usize) -> usize {
    if k <= 1 {
        0
    } else {
        i.reverse_bits() >> (usize::BITS - k.trailing_zeros())
    }
}

#[inline(always)]
fn tile_k<S: Simd, const K: usize>(simd: S, xs: [&[f32]; TX], ys: [&[f32]; TY]) -> [[f32; TY]; TX] {
    let len = xs[0].len();
    let blocks = len / LANES;
    let zero = simd.splat_f32s(0.0);
    let mut xc: [&[[S::f32s; K]]; TX] = [&[]; TX];
    for a in 0..TX {
        xc[a] = &S::as_simd_f32s(xs[a]).0.as_chunks::<K>().0[..blocks];
    }
    let mut yc: [&[[S::f32s; K]]; TY] = [&[]; TY];
    for b in 0..TY {
        yc[b] = &S::as_simd_f32s(ys[b]).0.as_chunks::<K>().0[..blocks];
    }
    // The columns are computed in bit-reversed order, so that the fold's between-vector tree
    // (`acc[j] += acc[j + h]` for h = K/2, …, 1: the same additions, with the same operands, as
    // `kernel::fold`) can add each pair of partial sums as soon as both exist.
    let mut acc = [[[zero; K]; TY]; TX];
    each_index!(K, idx => {
        let j = bit_reversed(idx, K);
        let c = column::<S, K>(simd, &xc, &yc, xs, ys, j);
        for a in 0..TX {
            for b in 0..TY {
                acc[a][b][j] = c[a][b];
            }
        }
        let mut t = 1;
        while (idx + 1).is_multiple_of(2 * t) {
            let (lo, hi) = (bit_reversed(idx + 1 - 2 * t, K), bit_reversed(idx + 1 - t, K));
            for a in 0..TX {
                for b in 0..TY {
                    acc[a][b][lo] = simd.add_f32s(acc[a][b][lo], acc[a][b][hi]);
                }
            }
            t *= 2;
        }
    });
    // The same halving tree inside the last vector as `kernel::fold`.
    let mut out = [[0.0; TY]; TX];
    for a in 0..TX {
        for b in 0..TY {
            out[a][b] = simd.reduce_sum_f32s(acc[a][b][0]);
        }
    }
    out
}

/// Accumulator `j` of every pair of the tile: the elements `blk·64 + j·W ..` of every whole block,
/// then column `j`'s share of the last, partial block, zero-filled past the row's end.
#[inline(always)]
fn column<S: Simd, const K: usize>(
    simd: S,
    xc: &[&[[S::f32s; K]]; TX],
    yc: &[&[[S::f32s; K]]; TY],
    xs: [&[f32]; TX],
    ys: [&[f32]; TY],
    j: usize,
) -> [[S::f32s; TY]; TX] {
    let zero = simd.splat_f32s(0.0);
    let mut c = [[zero; TY]; TX];
    let mut yv = [zero; TY];
    for blk in 0..xc[0].len() {
        for b in 0..TY {
            yv[b] = yc[b][blk][j];
        }
        for a in 0..TX {
            step(simd, &mut c[a], xc[a][blk][j], &yv);
        }
    }
    let len = xs[0].len();
    let s = xc[0].len() * LANES + j * S::F32_LANES;
    if s < len {
        let e = len.min(s + S::F32_LANES);
        for b in 0..TY {
            yv[b] = load(simd, &ys[b][s..e]);
        }
        for a in 0..TX {
            step(simd, &mut c[a], load(simd, &xs[a][s..e]), &yv);
        }
    }
    c
}

/// One fused multiply-add per pair of the row: `c[b] = fma(x − y_b, x − y_b, c[b])`.
#[inline(always)]
fn step<S: Simd>(simd: S, c: &mut [S::f32s; TY], x: S::f32s, ys: &[S::f32s; TY]) {
    for b in 0..TY {
        let d = simd.sub_f32s(x, ys[b]);
        c[b] = simd.mul_add_f32s(d, d, c[b]);
    }
}

/// The `TX` rows of a tile starting at row `r0` of a view with `n` rows (`r0 < n`): rows past the end
/// repeat the last row (their results are computed and dropped).
#[inline(always)]
fn tile_rows<'a, const T: usize>(v: Rows<'a>, r0: usize, n: usize) -> [&'a [f32]; T] {
    let mut rows = [v.row_unchecked(r0); T];
    for t in 1..T {
        rows[t] = v.row_unchecked((r0 + t).min(n - 1));
    }
    rows
}

/// Writes `metric(D[r][j])` for `r` in `rows` and every row `j` of `y` into `out`, row `r` of the
/// block at `out[(r − rows.start)·stride ..]`; nothing else of `out` is written.
///
/// The streaming building block for callers that need one block of rows of the matrix at a time
/// (batch-hard mining at large N): a block of `B` rows against `M` rows needs `(B − 1)·stride + M`
/// values of scratch, never `N × M`.
///
/// Requires (checked by the caller, `debug_assert`ed here): `x.dim() == y.dim()`,
/// `rows.start <= rows.end <= x.rows()`, `stride >= y.rows()`, and `out.len()` at least
/// `(rows.len() − 1)·stride + y.rows()` when `rows` is not empty.
#[inline(always)]
pub(crate) fn fill_block<S: Simd>(
    simd: S,
    x: Rows<'_>,
    y: Rows<'_>,
    rows: Range<usize>,
    metric: Metric,
    out: &mut [f32],
    stride: usize,
) {
    if x.dim() <= S::F32_LANES {
        block_loops::<S, true>(simd, x, y, rows, metric, out, stride);
    } else {
        block_loops::<S, false>(simd, x, y, rows, metric, out, stride);
    }
}

#[inline(always)]
fn block_loops<S: Simd, const SHORT: bool>(
    simd: S,
    x: Rows<'_>,
    y: Rows<'_>,
    rows: Range<usize>,
    metric: Metric,
    out: &mut [f32],
    stride: usize,
) {
    let (r0, r1, m) = (rows.start, rows.end, y.rows());
    debug_assert!(x.dim() == y.dim() && r0 <= r1 && r1 <= x.rows() && stride >= m);
    if r0 == r1 || m == 0 {
        return;
    }
    debug_assert!(out.len() >= (r1 - r0 - 1) * stride + m);
    let ch = chunk_rows(y.dim());
    let mut c0 = 0;
    while c0 < m {
        let c1 = m.min(c0 + ch);
        let mut i0 = r0;
        while i0 < r1 {
            let xs = tile_rows::<TX>(x, i0, r1);
            let ni = TX.min(r1 - i0);
            let mut j0 = c0;
            while j0 < c1 {
                let ys = tile_rows::<TY>(y, j0, m);
                let nj = TY.min(m - j0);
                let t = tile::<S, SHORT>(simd, xs, ys);
                for a in 0..ni {
                    let o = &mut out[(i0 - r0 + a) * stride + j0..][..nj];
                    for b in 0..nj {
                        o[b] = metric.finish(t[a][b]);
                    }
                }
                j0 += TY;
            }
            i0 += TX;
        }
        c0 = c1;
    }
}

/// Rows of `y` per chunk: the tiles of every row tile of `x` sweep one chunk of `y` (about 16 KiB, so
/// it stays in L1 while the rows of `x` stream past it), then the next. A multiple of `TY`.
#[inline(always)]
fn chunk_rows(dim: usize) -> usize {
    let rows = 4096 / dim.max(1);
    (rows - rows % TY).max(TY)
}

/// Writes `metric(d(x_i, x_j))` for every pair into `out` (`x.rows()` rows of `x.rows()` values,
/// `stride` apart): the tiles on and above the diagonal, mirrored below it.
///
/// Requires (checked by the caller): `stride >= x.rows()` and `out.len()` at least
/// `(n − 1)·stride + n` for `n = x.rows() > 0`.
#[inline(always)]
pub(crate) fn fill_self<S: Simd>(
    simd: S,
    x: Rows<'_>,
    metric: Metric,
    out: &mut [f32],
    stride: usize,
) {
    if x.dim() <= S::F32_LANES {
        self_loops::<S, true>(simd, x, metric, out, stride);
    } else {
        self_loops::<S, false>(simd, x, metric, out, stride);
    }
}

#[inline(always)]
fn self_loops<S: Simd, const SHORT: bool>(
    simd: S,
    x: Rows<'_>,
    metric: Metric,
    out: &mut [f32],
    stride: usize,
) {
    let n = x.rows();
    if n == 0 {
        return;
    }
    debug_assert!(stride >= n && out.len() >= (n - 1) * stride + n);
    let ch = chunk_rows(x.dim());
    let mut c0 = 0;
    while c0 < n {
        let c1 = n.min(c0 + ch);
        let mut i0 = 0;
        // Row tiles that reach the chunk's columns on or above the diagonal.
        while i0 < c1 {
            let xs = tile_rows::<TX>(x, i0, n);
            let ni = TX.min(n - i0);
            let mut j0 = c0.max(i0 - i0 % TY);
            while j0 < c1 {
                let ys = tile_rows::<TY>(x, j0, n);
                let nj = TY.min(n - j0);
                let t = tile::<S, SHORT>(simd, xs, ys);
                for a in 0..ni {
                    for b in 0..nj {
                        let v = metric.finish(t[a][b]);
                        let (i, j) = (i0 + a, j0 + b);
                        out[i * stride + j] = v;
                        out[j * stride + i] = v;
                    }
                }
                j0 += TY;
            }
            i0 += TX;
        }
        c0 = c1;
    }
}

/// `out = metric(D(x, y))` (or `D(x, x)` when `y` is `None`) on one backend: the public API's op.
pub(crate) struct AllPairs<'a, 'o> {
    pub x: Rows<'a>,
    pub y: Option<Rows<'a>>,
    pub metric: Metric,
    pub out: RowsMut<'o>,
}

impl WithSimd for AllPairs<'_, '_> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let Self { x, y, metric, out } = self;
        let stride = out.stride();
        let data = out.into_data();
        match y {
            Some(y) => fill_block(simd, x, y, 0..x.rows(), metric, data, stride),
            None => fill_self(simd, x, metric, data, stride),
        }
    }
}

/// [`fill_block`] as an op of its own, for a caller outside a `WithSimd` context (e.g. through
/// `Backend::run`).
// The miners' distance fill (they stream blocks of rows).
pub(crate) struct Block<'a, 'o> {
    pub x: Rows<'a>,
    pub y: Rows<'a>,
    pub rows: Range<usize>,
    pub metric: Metric,
    pub out: &'o mut [f32],
    pub stride: usize,
}

impl WithSimd for Block<'_, '_> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let Self {
            x,
            y,
            rows,
            metric,
            out,
            stride,
        } = self;
        fill_block(simd, x, y, rows, metric, out, stride);
    }
}

#[cfg(test)]
mod tests {
    use super::{Block, Metric};
    use crate::isa::{Backend, Isa};
    use crate::rows::Rows;

    const SENTINEL: u32 = 0x7fc0_4321;

    /// `fill_block` (the miners' streaming call) of rows `3..8` of `x` against `y`, every metric:
    /// each entry is the one-pair distance's bits, nothing outside the block is written.
    #[test]
    fn fill_block_writes_its_rows_only_with_the_one_pair_bits() {
        const DIM: usize = 70;
        const STRIDE: usize = 12;
        let mut xb = [0.0f32; 11 * DIM];
        let mut yb = [0.0f32; 9 * DIM];
        for (i, v) in xb.iter_mut().enumerate() {
            *v = ((i as f32) * 0.37).sin() * 2.0;
        }
        for (i, v) in yb.iter_mut().enumerate() {
            *v = ((i as f32) * 0.11).cos() * 2.0;
        }
        yb[4 * DIM + 5] = f32::NAN;
        let x = Rows::new(&xb, 11, DIM, DIM).unwrap();
        let y = Rows::new(&yb, 9, DIM, DIM).unwrap();
        for isa in Isa::ALL {
            let Ok(be) = Backend::new(isa) else { continue };
            for metric in [Metric::SqL2, Metric::L2, Metric::L2EpsInSqrt(1e-12)] {
                let mut out = [f32::from_bits(SENTINEL); 5 * STRIDE + 1];
                be.run(Block {
                    x,
                    y,
                    rows: 3..8,
                    metric,
                    out: &mut out,
                    stride: STRIDE,
                });
                for (k, v) in out.iter().enumerate() {
                    let (r, j) = (k / STRIDE, k % STRIDE);
                    if r < 5 && j < 9 {
                        let s = be
                            .sq_l2(x.row_unchecked(3 + r), y.row_unchecked(j))
                            .unwrap();
                        let want = match metric {
                            Metric::SqL2 => s,
                            Metric::L2 => {
                                be.l2(x.row_unchecked(3 + r), y.row_unchecked(j)).unwrap()
                            }
                            Metric::L2EpsInSqrt(e) => crate::kernel::sqrt(s + e),
                        };
                        assert!(
                            v.to_bits() == want.to_bits() || (v.is_nan() && want.is_nan()),
                            "{isa} {metric:?} [{r}][{j}]: {v} vs {want}"
                        );
                    } else {
                        assert_eq!(v.to_bits(), SENTINEL, "{isa}: value {k} written");
                    }
                }
                // An empty block writes nothing.
                let mut none = [f32::from_bits(SENTINEL); 4];
                be.run(Block {
                    x,
                    y,
                    rows: 5..5,
                    metric,
                    out: &mut none,
                    stride: STRIDE,
                });
                assert!(none.iter().all(|v| v.to_bits() == SENTINEL));
            }
        }
    }
}
