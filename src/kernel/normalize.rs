//! Row L2-normalisation kernels, forward and backward.
//!
//! Forward, per row: `s = Σ x_i²` in the crate's fixed order (see the module docs of `kernel`: 64
//! logical lanes, `acc = fma(x, x, acc)`, zero-filled tail, the fixed fold tree), `n = sqrt(s)` (IEEE),
//! `c = max(n, eps)`, and `y_i = x_i / c`, one IEEE division per element (correctly rounded on every
//! backend, so the same bits everywhere; a reciprocal times `x_i` would round twice).
//!
//! Backward, per row, from `y`, the forward's `n` and the upstream `dy`: where the clamp is active
//! (`n ≤ eps`: `c = eps` does not depend on `x`) `dx_i = dy_i / eps`; elsewhere `t = Σ y_i·dy_i` (the same
//! fixed order, one fused multiply-add per element) and `dx_i = fma(y_i, −t, dy_i) / n`. A NaN norm takes
//! the second branch, so NaN gives NaN.

use pulp::{Simd, WithSimd};

use super::{LANES, by_width, fold, load};
use crate::rows::{Rows, RowsMut};

/// `Σ a_i·b_i` in the crate's fixed order, with one fused multiply-add per element. A zero result is
/// always `+0`: the sign of a zero lane can depend on how many zero-filled lanes a width loads
/// (`fma(0, 0, −0) = +0`), so it is made independent of the width.
#[inline(always)]
pub(crate) fn dot<S: Simd>(simd: S, a: &[f32], b: &[f32]) -> f32 {
    by_width!(S, dot_k(simd, a, b)) + 0.0
}

#[inline(always)]
fn dot_k<S: Simd, const K: usize>(simd: S, a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let len = a.len();
    let w = S::F32_LANES;
    let mut acc = [simd.splat_f32s(0.0); K];
    let blocks = len / LANES;
    let ca = &S::as_simd_f32s(a).0.as_chunks::<K>().0[..blocks];
    let cb = &S::as_simd_f32s(b).0.as_chunks::<K>().0[..blocks];
    for bl in 0..blocks {
        for j in 0..K {
            acc[j] = simd.mul_add_f32s(ca[bl][j], cb[bl][j], acc[j]);
        }
    }
    // The last, partial block, zero-filled past the end (see `kernel::distance::long`).
    let base = blocks * LANES;
    if base < len {
        for j in 0..K {
            let s = base + j * w;
            if s < len {
                let e = len.min(s + w);
                acc[j] = simd.mul_add_f32s(load(simd, &a[s..e]), load(simd, &b[s..e]), acc[j]);
            }
        }
    }
    fold::<S, K>(simd, acc)
}

/// `max(n, eps)` that keeps a NaN norm (`f32::max` would return `eps`).
#[inline(always)]
pub(crate) fn clamp(n: f32, eps: f32) -> f32 {
    if n <= eps { eps } else { n }
}

/// `dst_i = src_i / c`.
#[inline(always)]
fn divide<S: Simd>(simd: S, dst: &mut [f32], src: &[f32], c: f32) {
    let cv = simd.splat_f32s(c);
    let (dv, dt) = S::as_mut_simd_f32s(dst);
    let (sv, st) = S::as_simd_f32s(src);
    for (d, &s) in dv.iter_mut().zip(sv) {
        *d = simd.div_f32s(s, cv);
    }
    if !dt.is_empty() {
        simd.partial_store_f32s(dt, simd.div_f32s(simd.partial_load_f32s(st), cv));
    }
}

/// `row_i = row_i / c`, in place.
#[inline(always)]
fn divide_in_place<S: Simd>(simd: S, row: &mut [f32], c: f32) {
    let cv = simd.splat_f32s(c);
    let (v, t) = S::as_mut_simd_f32s(row);
    for d in v.iter_mut() {
        *d = simd.div_f32s(*d, cv);
    }
    if !t.is_empty() {
        simd.partial_store_f32s(t, simd.div_f32s(simd.partial_load_f32s(t), cv));
    }
}

/// Where the rows come from and go to.
pub(crate) enum Io<'a, 'o> {
    /// Read `x`, write `y` (same shape).
    Separate(Rows<'a>, RowsMut<'o>),
    /// Overwrite every row with its normalised self.
    InPlace(RowsMut<'o>),
}

/// Forward: `y_r = x_r / max(‖x_r‖, eps)` for every row, `norms[r] = ‖x_r‖` if asked.
pub(crate) struct Forward<'a, 'o> {
    pub io: Io<'a, 'o>,
    pub norms: Option<&'o mut [f32]>,
    pub eps: f32,
}

impl WithSimd for Forward<'_, '_> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let Self { io, mut norms, eps } = self;
        match io {
            Io::Separate(x, mut y) => {
                for r in 0..x.rows() {
                    let xr = x.row_unchecked(r);
                    let n = super::sqrt(dot(simd, xr, xr));
                    if let Some(out) = norms.as_deref_mut() {
                        out[r] = n;
                    }
                    divide(simd, y.row_mut_unchecked(r), xr, clamp(n, eps));
                }
            }
            Io::InPlace(mut x) => {
                for r in 0..x.rows() {
                    let row = x.row_mut_unchecked(r);
                    let n = super::sqrt(dot(simd, row, row));
                    if let Some(out) = norms.as_deref_mut() {
                        out[r] = n;
                    }
                    divide_in_place(simd, row, clamp(n, eps));
                }
            }
        }
    }
}

/// Where the upstream gradient comes from and the input gradient goes to.
pub(crate) enum GradIo<'a, 'o> {
    /// Read `dy`, write (or, with `accumulate`, add to) `dx`.
    Separate {
        dy: Rows<'a>,
        dx: RowsMut<'o>,
        accumulate: bool,
    },
    /// The buffer holds `dy` and is overwritten with `dx`.
    InPlace(RowsMut<'o>),
}

/// Backward: `dx_r = (dy_r − y_r·(y_r·dy_r)) / ‖x_r‖`, or `dy_r / eps` where `‖x_r‖ ≤ eps`.
pub(crate) struct Backward<'a, 'o> {
    pub y: Rows<'a>,
    pub norms: &'a [f32],
    pub io: GradIo<'a, 'o>,
    pub eps: f32,
}

impl WithSimd for Backward<'_, '_> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let Self { y, norms, io, eps } = self;
        match io {
            GradIo::Separate {
                dy,
                mut dx,
                accumulate,
            } => {
                for r in 0..y.rows() {
                    let (yr, g) = (y.row_unchecked(r), dy.row_unchecked(r));
                    let n = norms[r];
                    let t = if n <= eps {
                        None
                    } else {
                        Some(dot(simd, yr, g))
                    };
                    grad_row(
                        simd,
                        dx.row_mut_unchecked(r),
                        yr,
                        g,
                        t,
                        clamp(n, eps),
                        accumulate,
                    );
                }
            }
            GradIo::InPlace(mut buf) => {
                for r in 0..y.rows() {
                    let yr = y.row_unchecked(r);
                    let n = norms[r];
                    let g = buf.row_mut_unchecked(r);
                    let t = if n <= eps {
                        None
                    } else {
                        Some(dot(simd, yr, g))
                    };
                    grad_row_in_place(simd, g, yr, t, clamp(n, eps));
                }
            }
        }
    }
}

/// One element vector of the gradient: `fma(y, −t, dy) / c`, or `dy / c` without `t` (the clamp).
#[inline(always)]
fn grad<S: Simd>(simd: S, y: S::f32s, dy: S::f32s, neg_t: Option<S::f32s>, c: S::f32s) -> S::f32s {
    let q = match neg_t {
        Some(nt) => simd.mul_add_f32s(y, nt, dy),
        None => dy,
    };
    simd.div_f32s(q, c)
}

#[inline(always)]
fn grad_row<S: Simd>(
    simd: S,
    out: &mut [f32],
    y: &[f32],
    dy: &[f32],
    t: Option<f32>,
    c: f32,
    accumulate: bool,
) {
    let cv = simd.splat_f32s(c);
    // A `match`, not `Option::map`: no SIMD work in closures (see the module docs of `kernel`).
    #[allow(clippy::manual_map)]
    let nt = match t {
        Some(t) => Some(simd.splat_f32s(-t)),
        None => None,
    };
    let (ov, ot) = S::as_mut_simd_f32s(out);
    let (yv, yt) = S::as_simd_f32s(y);
    let (gv, gt) = S::as_simd_f32s(dy);
    for ((o, &y), &g) in ov.iter_mut().zip(yv).zip(gv) {
        let d = grad(simd, y, g, nt, cv);
        *o = if accumulate { simd.add_f32s(*o, d) } else { d };
    }
    if !ot.is_empty() {
        let (y, g) = (simd.partial_load_f32s(yt), simd.partial_load_f32s(gt));
        let mut d = grad(simd, y, g, nt, cv);
        if accumulate {
            d = simd.add_f32s(simd.partial_load_f32s(ot), d);
        }
        simd.partial_store_f32s(ot, d);
    }
}

#[inline(always)]
fn grad_row_in_place<S: Simd>(simd: S, buf: &mut [f32], y: &[f32], t: Option<f32>, c: f32) {
    let cv = simd.splat_f32s(c);
    // A `match`, not `Option::map`: no SIMD work in closures (see the module docs of `kernel`).
    #[allow(clippy::manual_map)]
    let nt = match t {
        Some(t) => Some(simd.splat_f32s(-t)),
        None => None,
    };
    let (bv, bt) = S::as_mut_simd_f32s(buf);
    let (yv, yt) = S::as_simd_f32s(y);
    for (b, &y) in bv.iter_mut().zip(yv) {
        *b = grad(simd, y, *b, nt, cv);
    }
    if !bt.is_empty() {
        let g = grad(
            simd,
            simd.partial_load_f32s(yt),
            simd.partial_load_f32s(bt),
            nt,
            cv,
        );
        simd.partial_store_f32s(bt, g);
    }
}
