//! The gradient of a function of all-pairs distances, gathered row by row:
//! `g_k (⊕) Σ_j m_kj·(x_k − y_j)` for every row `k` of `x`, over the columns `y_j` (the rows of one or
//! more views, in order) with the coefficients `m_kj` of row `k` of a matrix.
//!
//! # Order
//! Element `e` of `g_k` is one accumulator that starts at `+0` and takes, for `j = 0, 1, …` in order,
//! `acc = fma(m_kj, x_ke − y_je, acc)`; then `g_ke = acc` (overwrite) or `g_ke + acc` (accumulate).
//! Elements never meet, so the vector width changes only how many of them are worked on at once: every
//! backend and emulated width gives the same bits. A column whose coefficients are `0` for every row of
//! a tile is skipped (adding `fma(0, d, acc)` for a finite `d` changes an accumulator only from `−0` to
//! `+0`, and the skip depends only on the coefficients, the same on every backend). With `exact_zeros`
//! each row skips its own zero coefficients, so that `0 · inf` never turns a row whose pairs carry no
//! weight into NaN; the caller asks for it when some row is not finite.
//!
//! # Cost
//! The difference form keeps the accuracy of a per-pair sum (no `x_k·Σm − Σ m·y` cancellation): per
//! pair and element one subtraction and one FMA, which a tile of [`TR`] rows shares one loaded `y`
//! vector among. A tile keeps `TR` accumulators and `TR` vectors of `x` live (8 of AVX2's 16
//! registers). Compared with a scaled-difference update of both rows per pair, it reads each `y` vector
//! once per tile and writes `g` once per row instead of once per pair.

use pulp::Simd;

use super::{combine, load, store};
use crate::options::GradMode;
use crate::rows::{Rows, RowsMut};

/// Rows of `x` per tile.
const TR: usize = 4;

/// The coefficients, gradient and views of one gather.
pub(crate) struct PairGrad<'a, 'm> {
    /// The rows whose gradient is gathered.
    pub x: Rows<'a>,
    /// The columns: the rows of these views, in order (every view has `x`'s dim).
    pub cols: [Rows<'a>; 2],
    /// Row `k`'s coefficients at `m[k·m_stride ..]`, one per column.
    pub m: &'m [f32],
    pub m_stride: usize,
    pub mode: GradMode,
    /// Skip each row's own zero coefficients (see the module docs).
    pub exact_zeros: bool,
}

impl PairGrad<'_, '_> {
    /// Gathers every row of `x` into the same rows of `grad`.
    #[inline(always)]
    pub(crate) fn run<S: Simd>(&self, simd: S, grad: &mut RowsMut<'_>) {
        let n = self.x.rows();
        let full = n / TR * TR;
        for k0 in (0..full).step_by(TR) {
            if self.exact_zeros {
                tile::<S, TR, true>(simd, self, grad, k0);
            } else {
                tile::<S, TR, false>(simd, self, grad, k0);
            }
        }
        for k in full..n {
            tile::<S, 1, true>(simd, self, grad, k);
        }
    }
}

/// Rows `k0 .. k0 + R`, one vector of elements at a time.
#[inline(always)]
fn tile<S: Simd, const R: usize, const EXACT: bool>(
    simd: S,
    p: &PairGrad<'_, '_>,
    grad: &mut RowsMut<'_>,
    k0: usize,
) {
    let (dim, w) = (p.x.dim(), S::F32_LANES);
    let mut ms = [&p.m[..0]; R];
    for r in 0..R {
        let s = (k0 + r) * p.m_stride;
        ms[r] = &p.m[s..s + p.m_stride];
    }
    let zero = simd.splat_f32s(0.0);
    for c0 in (0..dim).step_by(w) {
        let c1 = (c0 + w).min(dim);
        let mut xk = [zero; R];
        for r in 0..R {
            xk[r] = load(simd, &p.x.row_unchecked(k0 + r)[c0..c1]);
        }
        let mut acc = [zero; R];
        let mut j = 0;
        for view in &p.cols {
            for jr in 0..view.rows() {
                let mut mv = [0.0f32; R];
                let mut any = false;
                for r in 0..R {
                    mv[r] = ms[r][j];
                    any |= mv[r] != 0.0;
                }
                j += 1;
                if !any {
                    continue;
                }
                let y = load(simd, &view.row_unchecked(jr)[c0..c1]);
                for r in 0..R {
                    if EXACT && mv[r] == 0.0 {
                        continue;
                    }
                    let d = simd.sub_f32s(xk[r], y);
                    acc[r] = simd.mul_add_f32s(simd.splat_f32s(mv[r]), d, acc[r]);
                }
            }
        }
        for r in 0..R {
            let out = &mut grad.row_mut_unchecked(k0 + r)[c0..c1];
            let old = if p.mode == GradMode::Accumulate {
                load(simd, out)
            } else {
                zero
            };
            store(simd, out, combine(simd, p.mode, old, acc[r]));
        }
    }
}

/// Whether every value of the rows is finite (`v − v` is `+0` for a finite `v` and NaN otherwise).
#[inline(always)]
pub(crate) fn all_finite<S: Simd>(simd: S, rows: Rows<'_>) -> bool {
    let mut acc = simd.splat_f32s(0.0);
    for row in rows.iter() {
        let (v, t) = S::as_simd_f32s(row);
        for &x in v {
            acc = simd.add_f32s(acc, simd.sub_f32s(x, x));
        }
        let x = simd.partial_load_f32s(t);
        acc = simd.add_f32s(acc, simd.sub_f32s(x, x));
    }
    simd.reduce_sum_f32s(acc) == 0.0
}
