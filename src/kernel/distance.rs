//! Distance kernels.

use pulp::{Simd, WithSimd};

use super::{by_width, fold, sqrt, used, visit};
use crate::Rows;

/// `Σ (a_i − b_i)²` in the crate's fixed order (see the module docs of `kernel`).
#[inline(always)]
pub(crate) fn sq_l2<S: Simd>(simd: S, a: &[f32], b: &[f32]) -> f32 {
    by_width!(S, sq_l2_k(simd, a, b))
}

#[inline(always)]
fn sq_l2_k<S: Simd, const K: usize>(simd: S, a: &[f32], b: &[f32]) -> f32 {
    if a.len() <= S::F32_LANES {
        // One vector: the general path would compute `fma(d, d, +0)`, which is `d·d` rounded once, and
        // fold accumulators that are all `+0` but the first. The same bits, with less work.
        let d = simd.sub_f32s(load(simd, a), load(simd, b));
        return simd.reduce_sum_f32s(simd.mul_f32s(d, d));
    }
    let mut acc = [simd.splat_f32s(0.0); K];
    visit::<S, K, 2>(simd, [a, b], |j, [x, y]| {
        let d = simd.sub_f32s(x, y);
        acc[j] = simd.mul_add_f32s(d, d, acc[j]);
    });
    fold::<S, K>(simd, acc, used::<S, K>(a.len()))
}

/// Loads at most one vector, zero-filled past the slice's end.
#[inline(always)]
fn load<S: Simd>(simd: S, x: &[f32]) -> S::f32s {
    match S::as_simd_f32s(x).0.first() {
        Some(&v) => v,
        None => simd.partial_load_f32s(x),
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
