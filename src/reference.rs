//! The oracle: the plainest loops that could be right, accumulating in `f64`.
//!
//! Never used by the fast path. Tests, fuzz targets and users who want to check a result compare
//! against these functions with the documented bound, [`sq_l2_bound`].

use pulp::Simd;

use crate::{Error, Rows};

/// `Σ (a_i − b_i)²` with every operation in `f64`.
///
/// # Errors
/// [`Error::LengthMismatch`] if the slices differ in length.
pub fn sq_l2(a: &[f32], b: &[f32]) -> Result<f64, Error> {
    crate::loss::check_len("length of b", a.len(), b.len())?;
    let mut s = 0.0f64;
    for i in 0..a.len() {
        let d = f64::from(a[i]) - f64::from(b[i]);
        s += d * d;
    }
    Ok(s)
}

/// `sqrt(Σ (a_i − b_i)²)` in `f64`.
///
/// # Errors
/// [`Error::LengthMismatch`] if the slices differ in length.
pub fn l2(a: &[f32], b: &[f32]) -> Result<f64, Error> {
    sq_l2(a, b).map(|s| pulp::Scalar::new().sqrt_f64s(s))
}

/// `out[r] = sq_l2(a_r, b_r)` in `f64`.
///
/// # Errors
/// [`Error::LengthMismatch`] if the views differ in shape or `out` is not one value a row.
pub fn sq_l2_rows(a: Rows<'_>, b: Rows<'_>, out: &mut [f64]) -> Result<(), Error> {
    crate::loss::check_same_shape(crate::loss::B, a.rows(), a.dim(), b.rows(), b.dim())?;
    crate::loss::check_len("length of out", a.rows(), out.len())?;
    for (r, o) in out.iter_mut().enumerate() {
        *o = sq_l2(a.row_unchecked(r), b.row_unchecked(r))?;
    }
    Ok(())
}

/// The bound on `|fast − exact|` for a `sq_l2` of `n` elements whose exact value is `exact`:
///
/// `(⌈n/64⌉ + 9) · 2⁻²⁴ · exact + n · 2⁻¹⁴⁹`.
///
/// Each of the 64 lanes adds at most `⌈n/64⌉` terms with one rounding each, the fold adds 6 levels,
/// and each term carries the rounding of `x − y` (squared: 2 units); the second part covers squares
/// that underflow into the subnormal range. The fast result is `inf` only if `exact` (within this bound)
/// reaches `f32::MAX`. The `l2` of the fast path is within half this relative bound plus half an ulp.
pub fn sq_l2_bound(n: usize, exact: f64) -> f64 {
    let terms = n.div_ceil(64) as f64 + 9.0;
    terms * f64::from(f32::EPSILON / 2.0) * exact.abs() + n as f64 * f64::from(f32::from_bits(1))
}

/// The squared-error loss in `f64`: per row `Σ(a − b)²` (or `/ D` for the MSE; `D = 0` gives 0),
/// reduced over the rows ([`Reduction::None`](crate::Reduction::None) returns the sum), with the
/// optional per-row losses.
///
/// # Errors
/// [`Error::LengthMismatch`] if the views differ in shape or `per_row` is not one value a row.
pub fn squared_error(
    kind: crate::SquaredErrorKind,
    reduction: crate::Reduction,
    a: Rows<'_>,
    b: Rows<'_>,
    per_row: Option<&mut [f64]>,
) -> Result<f64, Error> {
    crate::loss::check_same_shape(crate::loss::B, a.rows(), a.dim(), b.rows(), b.dim())?;
    let mut losses = per_row;
    if let Some(p) = losses.as_deref() {
        crate::loss::check_len(crate::loss::PER_ROW.0, a.rows(), p.len())?;
    }
    let divisor = match kind {
        crate::SquaredErrorKind::SumOfSquares => 1.0,
        crate::SquaredErrorKind::Mse => a.dim().max(1) as f64,
    };
    let mut total = 0.0;
    for r in 0..a.rows() {
        let l = sq_l2(a.row_unchecked(r), b.row_unchecked(r))? / divisor;
        if let Some(p) = losses.as_deref_mut() {
            p[r] = l;
        }
        total += l;
    }
    Ok(match reduction {
        crate::Reduction::None | crate::Reduction::Sum => total,
        _ if a.rows() == 0 => 0.0,
        _ => total / a.rows() as f64,
    })
}

/// The triplet loss of [`TripletLoss`](crate::TripletLoss) in `f64`, by its definition (SEMANTICS.md):
/// per triplet `v = d(a, p) − d_neg + margin` with the configured distance and swap, then the hinge or
/// the soft margin, then the reduction ([`Reduction::None`](crate::Reduction::None) returns the sum).
/// Fills `per_triplet` if given.
///
/// # Errors
/// As [`TripletLoss::forward`](crate::TripletLoss::forward).
pub fn triplet_loss(
    loss: &crate::TripletLoss,
    a: Rows<'_>,
    p: Rows<'_>,
    n: Rows<'_>,
    per_triplet: Option<&mut [f64]>,
) -> Result<f64, Error> {
    let (margin, distance, swap, soft, reduction) = loss.settings()?;
    crate::triplet::check_views(a, p, n)?;
    let mut per = per_triplet;
    if let Some(l) = per.as_deref() {
        crate::loss::check_len(crate::triplet::PER_TRIPLET.0, a.rows(), l.len())?;
    }
    let sqrt = |x: f64| pulp::Scalar::new().sqrt_f64s(x);
    let d = |x: &[f32], y: &[f32]| -> f64 {
        let mut s = 0.0f64;
        for i in 0..x.len() {
            let mut t = f64::from(x[i]) - f64::from(y[i]);
            if let crate::Distance::EpsOnDiff(e) = distance {
                t += f64::from(e);
            }
            s += t * t;
        }
        match distance {
            crate::Distance::SqL2 => s,
            crate::Distance::EpsOnDiff(_) | crate::Distance::Exact => sqrt(s),
            crate::Distance::EpsInSqrt(e) => sqrt(s + f64::from(e)),
        }
    };
    let (mut total, mut active) = (0.0f64, 0usize);
    for r in 0..a.rows() {
        let (x, y, z) = (a.row_unchecked(r), p.row_unchecked(r), n.row_unchecked(r));
        let (d_ap, d_an) = (d(x, y), d(x, z));
        let d_neg = if swap { d_an.min(d(y, z)) } else { d_an };
        let v = d_ap - d_neg + f64::from(margin);
        let l = if v.is_nan() {
            f64::NAN
        } else if soft {
            active += 1;
            v.max(0.0) + libm::log1p(libm::exp(-v.abs()))
        } else if v > 0.0 {
            active += 1;
            v
        } else {
            0.0
        };
        if let Some(out) = per.as_deref_mut() {
            out[r] = l;
        }
        total += l;
    }
    Ok(match reduction {
        crate::Reduction::None | crate::Reduction::Sum => total,
        crate::Reduction::Mean if a.rows() > 0 => total / a.rows() as f64,
        crate::Reduction::MeanActive if active > 0 => total / active as f64,
        _ => 0.0,
    })
}

/// The all-pairs matrix in `f64`: `out[i·m + j] = sq_l2(x_i, y_j)` for every row `i` of `x` and `j` of
/// `y`, `m = y.rows()` (dense, row-major). Each entry of the fast
/// [`sq_l2_pairwise`](crate::sq_l2_pairwise) is within [`sq_l2_bound`] of the entry here (it has the
/// bits of the fast `sq_l2` of the two rows).
///
/// # Errors
/// [`Error::LengthMismatch`] if the rows of `x` and `y` differ in length or `out` does not hold
/// `x.rows() · y.rows()` values; [`Error::SizeOverflow`] if that product overflows `usize`.
pub fn sq_l2_pairwise(x: Rows<'_>, y: Rows<'_>, out: &mut [f64]) -> Result<(), Error> {
    crate::loss::check_len("row length of y", x.dim(), y.dim())?;
    let (n, m) = (x.rows(), y.rows());
    let len = n.checked_mul(m).ok_or(Error::SizeOverflow {
        rows: n,
        stride: m,
        dim: m,
    })?;
    crate::loss::check_len("length of out (rows of x × rows of y)", len, out.len())?;
    if len == 0 {
        // No loop over the rows of an `n × 0` matrix (n may be huge for rows of length 0).
        return Ok(());
    }
    for i in 0..n {
        for j in 0..m {
            out[i * m + j] = sq_l2(x.row_unchecked(i), y.row_unchecked(j))?;
        }
    }
    Ok(())
}
