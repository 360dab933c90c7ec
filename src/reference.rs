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
