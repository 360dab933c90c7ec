//! Elementwise gradient writers and the squared-error loss kernel.

use pulp::{Simd, WithSimd};

use super::combine;
use super::distance::sq_l2;
use super::sum::BlockSum;
use crate::options::GradMode;
use crate::rows::{Rows, RowsMut};

/// `out = c·(x − y)` (overwrite) or `out = out + c·(x − y)` (accumulate: one rounding for the product, one
/// for the sum, so accumulating equals adding the overwritten value).
#[inline(always)]
pub(crate) fn write_scaled_diff<S: Simd>(
    simd: S,
    out: &mut [f32],
    x: &[f32],
    y: &[f32],
    c: f32,
    mode: GradMode,
) {
    debug_assert!(out.len() == x.len() && x.len() == y.len());
    let cv = simd.splat_f32s(c);
    let (ov, ot) = S::as_mut_simd_f32s(out);
    let (xv, xt) = S::as_simd_f32s(x);
    let (yv, yt) = S::as_simd_f32s(y);
    for ((o, &x), &y) in ov.iter_mut().zip(xv).zip(yv) {
        *o = combine(simd, mode, *o, simd.mul_f32s(cv, simd.sub_f32s(x, y)));
    }
    if !ot.is_empty() {
        let (x, y) = (simd.partial_load_f32s(xt), simd.partial_load_f32s(yt));
        let g = simd.mul_f32s(cv, simd.sub_f32s(x, y));
        simd.partial_store_f32s(ot, combine(simd, mode, simd.partial_load_f32s(ot), g));
    }
}

/// Squared error of every row pair, fused with its gradients: `sq_r = Σ(a_r − b_r)²`,
/// `loss_r = sq_r / divisor`, and `grad_a = c_r·(a − b)`, `grad_b = −c_r·(a − b)` with
/// `c_r = 2·w_r / divisor`. Returns `Σ loss_r` accumulated in `f64` in blocks of rows (see `sum`).
pub(crate) struct SquaredError<'a, 'o> {
    pub a: Rows<'a>,
    pub b: Rows<'a>,
    /// 1 for the sum of squares, `D` for the MSE.
    pub divisor: f32,
    pub per_row: Option<&'o mut [f32]>,
    /// Gradient weight of every row, or of each row.
    pub weight: Weights<'a>,
    pub grad_a: Option<RowsMut<'o>>,
    pub grad_b: Option<RowsMut<'o>>,
    pub mode: GradMode,
}

/// The weight of each item's gradient: one for all, or one each.
#[derive(Clone, Copy)]
pub(crate) enum Weights<'a> {
    All(f32),
    Each(&'a [f32]),
}

impl Weights<'_> {
    #[inline(always)]
    pub(crate) fn get(&self, i: usize) -> f32 {
        match *self {
            Weights::All(w) => w,
            Weights::Each(w) => w[i],
        }
    }
}

impl WithSimd for SquaredError<'_, '_> {
    type Output = f64;
    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> f64 {
        let Self {
            a,
            b,
            divisor,
            mut per_row,
            weight,
            mut grad_a,
            mut grad_b,
            mode,
        } = self;
        let mut total = BlockSum::default();
        for r in 0..a.rows() {
            let (x, y) = (a.row_unchecked(r), b.row_unchecked(r));
            let loss = sq_l2(simd, x, y) / divisor;
            total.add(f64::from(loss));
            if let Some(p) = per_row.as_deref_mut() {
                p[r] = loss;
            }
            let c = 2.0 * weight.get(r) / divisor;
            if let Some(g) = grad_a.as_mut() {
                write_scaled_diff(simd, g.row_mut_unchecked(r), x, y, c, mode);
            }
            if let Some(g) = grad_b.as_mut() {
                write_scaled_diff(simd, g.row_mut_unchecked(r), x, y, -c, mode);
            }
        }
        total.total()
    }
}
