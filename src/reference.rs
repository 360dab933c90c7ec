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

/// Row L2-normalisation in `f64`: `y_r = x_r / max(‖x_r‖, eps)` into `y` (`rows × dim`, dense), and
/// `norms[r] = ‖x_r‖` if given; a NaN norm stays NaN (as in [`l2_normalize_rows`](crate::l2_normalize_rows)).
///
/// # Errors
/// [`Error::InvalidParameter`] for an `eps` that is NaN, infinite or negative; [`Error::LengthMismatch`]
/// if `y` is not `rows × dim` values or `norms` not one value a row.
pub fn l2_normalize_rows(
    x: Rows<'_>,
    eps: f32,
    y: &mut [f64],
    norms: Option<&mut [f64]>,
) -> Result<(), Error> {
    use crate::normalize::{NORMS, check_eps, check_len};
    check_eps(eps)?;
    let (n, dim) = (x.rows(), x.dim());
    check_len("length of y", n * dim, y.len())?;
    let mut norms = norms;
    if let Some(out) = norms.as_deref() {
        check_len(NORMS, n, out.len())?;
    }
    for r in 0..n {
        let row = x.row_unchecked(r);
        let norm =
            pulp::Scalar::new().sqrt_f64s(row.iter().map(|&v| f64::from(v) * f64::from(v)).sum());
        if let Some(out) = norms.as_deref_mut() {
            out[r] = norm;
        }
        let c = if norm <= f64::from(eps) {
            f64::from(eps)
        } else {
            norm
        };
        for (o, &v) in y[r * dim..(r + 1) * dim].iter_mut().zip(row) {
            *o = f64::from(v) / c;
        }
    }
    Ok(())
}

/// The relative bound on each `y_i` (and on the norm) of [`l2_normalize_rows`](crate::l2_normalize_rows)
/// for a row of `dim` values whose exact sum of squares is `sum_of_squares` (`s`):
///
/// `|fast − exact| ≤ bound · |exact| + 2⁻¹⁴⁹`, with `bound = (e / 2 + 2·2⁻²⁴)·1.003`, `e = sq_l2_bound(dim, s) / s`
///
/// (the sum of squares is within [`sq_l2_bound`] of `s`, the square root halves its relative error and
/// adds half an ulp, the division another half; the factor covers the second-order terms, and `2⁻¹⁴⁹`
/// a subnormal result). A zero row is exact (`y = 0`). Where underflow makes the fast sum of squares
/// meaningless (`e > 10⁻³`, a norm below about `10⁻²¹·√dim`: with the default eps such rows are
/// clamped), no bound is claimed: the result is `inf`. It holds while `s < f32::MAX` (beyond, the fast
/// norm is `inf` and `y` is 0).
pub fn l2_normalize_bound(dim: usize, sum_of_squares: f64) -> f64 {
    let u = f64::from(f32::EPSILON / 2.0);
    if sum_of_squares == 0.0 {
        return 2.0 * u;
    }
    let e = sq_l2_bound(dim, sum_of_squares) / sum_of_squares;
    if e > 1e-3 {
        return f64::INFINITY;
    }
    (e / 2.0 + 2.0 * u) * 1.003
}

/// The gradient of row L2-normalisation in `f64`, from the same `f32` inputs as
/// [`l2_normalize_rows_backward`](crate::l2_normalize_rows_backward): per row, `dx = dy / eps` where
/// `norms[r] ≤ eps`, else `dx = (dy − y·(y·dy)) / norms[r]`, into `grad_x` (`rows × dim`, dense).
///
/// With `bound`, also the bound on `|fast − exact|` of each element: with `u = 2⁻²⁴`,
/// `γ = (⌈D/64⌉ + 9)·u` (the fixed-order dot product `t = y·dy`), `T = Σ_j |y_j·dy_j|` and
/// `c = max(norm, eps)`,
///
/// `(|y_i|·γ·T + 3u·(|dy_i| + |y_i|·(|t| + γ·T)) + D·2⁻¹⁴⁹·|y_i| + 2⁻¹⁴⁹) / c + 2⁻¹⁴⁹`
///
/// (the error of `t` carried by `y_i`, then the roundings of the fused `dy_i − y_i·t` and of the
/// division; the `2⁻¹⁴⁹` terms cover underflow in the dot product, the fused step and the division).
/// It holds while `T`, `|y_i·t|` and the results stay below `f32::MAX`: for a `y` that the forward
/// wrote (`|y_i| ≤ 1`), unless `dy` comes near `f32::MAX`. Where `y_i·t` nearly cancels `dy_i` the
/// bound is absolute, not relative: such elements are small.
///
/// # Errors
/// As [`l2_normalize_rows_backward`](crate::l2_normalize_rows_backward); also
/// [`Error::LengthMismatch`] if `grad_x` or `bound` is not `rows × dim` values.
pub fn l2_normalize_rows_backward(
    y: Rows<'_>,
    norms: &[f32],
    grad_y: Rows<'_>,
    eps: f32,
    grad_x: &mut [f64],
    bound: Option<&mut [f64]>,
) -> Result<(), Error> {
    use crate::normalize::{GRAD_Y, NORMS, check_eps, check_len, check_shape};
    check_eps(eps)?;
    let (n, dim) = (y.rows(), y.dim());
    check_len(NORMS, n, norms.len())?;
    check_shape(GRAD_Y, n, dim, (grad_y.rows(), grad_y.dim()))?;
    check_len("length of grad_x", n * dim, grad_x.len())?;
    let mut bound = bound;
    if let Some(b) = bound.as_deref() {
        check_len("length of bound", n * dim, b.len())?;
    }
    let u = f64::from(f32::EPSILON / 2.0);
    let tiny = f64::from(f32::from_bits(1));
    let gamma = (dim.div_ceil(64) as f64 + 9.0) * u;
    for r in 0..n {
        let (yr, g) = (y.row_unchecked(r), grad_y.row_unchecked(r));
        let clamped = norms[r] <= eps;
        let c = f64::from(if clamped { eps } else { norms[r] });
        let (mut t, mut t_abs) = (0.0f64, 0.0f64);
        if !clamped {
            for (&a, &b) in yr.iter().zip(g) {
                t += f64::from(a) * f64::from(b);
                t_abs += (f64::from(a) * f64::from(b)).abs();
            }
        }
        for i in 0..dim {
            let (yi, gi) = (f64::from(yr[i]), f64::from(g[i]));
            grad_x[r * dim + i] = (gi - yi * t) / c;
            if let Some(b) = bound.as_deref_mut() {
                let e = yi.abs() * gamma * t_abs
                    + 3.0 * u * (gi.abs() + yi.abs() * (t.abs() + gamma * t_abs))
                    + dim as f64 * tiny * yi.abs()
                    + tiny;
                b[r * dim + i] = e / c * (1.0 + 1e-6) + tiny;
            }
        }
    }
    Ok(())
}
