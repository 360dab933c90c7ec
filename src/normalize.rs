//! Row L2-normalisation, forward and backward: PyTorch's `F.normalize(x, p=2, dim=1, eps)`.
//!
//! The definitions, the arithmetic and the special values are documented on
//! [`Backend::l2_normalize_rows`].

use crate::kernel::normalize::{Backward, Forward, GradIo, Io};
use crate::options::GradMode;
use crate::{Backend, Error, Rows, RowsMut};

/// PyTorch's default `eps` of `F.normalize`: `1e-12`.
/// # Examples
/// ```
/// assert_eq!(triplet_simd::L2_NORMALIZE_EPS, 1e-12); // torch.nn.functional.normalize's default
/// # Ok::<(), triplet_simd::Error>(())
/// ```
pub const L2_NORMALIZE_EPS: f32 = 1e-12;

/// What a call can get wrong.
enum Problem {
    /// (what, expected, found)
    Len(&'static str, usize, usize),
    Eps(f32),
}

/// Builds every error of this module (the one place that knows the error fields).
fn check(ok: bool, problem: Problem) -> Result<(), Error> {
    if ok {
        return Ok(());
    }
    Err(match problem {
        Problem::Len(what, expected, found) => Error::LengthMismatch {
            what,
            expected,
            found,
        },
        Problem::Eps(value) => Error::InvalidParameter {
            name: "eps",
            value,
            rule: "eps must be finite and not negative",
        },
    })
}

pub(crate) fn check_eps(eps: f32) -> Result<(), Error> {
    check(eps.is_finite() && eps >= 0.0, Problem::Eps(eps))
}

pub(crate) fn check_len(what: &'static str, expected: usize, found: usize) -> Result<(), Error> {
    check(expected == found, Problem::Len(what, expected, found))
}

/// `names` = (row-count name, row-length name).
pub(crate) fn check_shape(
    names: (&'static str, &'static str),
    rows: usize,
    dim: usize,
    other: (usize, usize),
) -> Result<(), Error> {
    check_len(names.0, rows, other.0)?;
    check_len(names.1, dim, other.1)
}

pub(crate) const Y: (&str, &str) = ("row count of y", "row length of y");
pub(crate) const GRAD_Y: (&str, &str) = ("row count of grad_y", "row length of grad_y");
const GRAD_X: (&str, &str) = ("row count of grad_x", "row length of grad_x");
pub(crate) const NORMS: &str = "length of norms";

impl Backend {
    /// Row L2-normalisation: `y_r = x_r / max(‖x_r‖, eps)` for every row (PyTorch's
    /// `F.normalize(x, p=2, dim=1, eps=eps)`), with `norms[r] = ‖x_r‖` if `norms` is given (the
    /// backward needs them). Each view has its own stride; values between `y`'s rows are not written.
    ///
    /// Forward: `y = x / max(‖x‖, eps)` for every row, optionally writing the norms `‖x‖`. Backward: the
    /// gradient with respect to `x`, from `y`, the norms and the upstream `dy` (so a training loop that
    /// kept the forward's outputs recomputes nothing):
    ///
    /// - `‖x‖ > eps`: `dx = (dy − y·(y·dy)) / ‖x‖`;
    /// - `‖x‖ ≤ eps` (the clamp is active, `max(‖x‖, eps) = eps` does not depend on `x`): `dx = dy / eps`,
    ///   as PyTorch's `clamp_min`, whose gradient is 0 where the input is at or below the minimum.
    ///
    /// # Arithmetic
    /// `‖x‖ = sqrt(Σ x_i²)`, the sum in the crate's fixed order (64 logical lanes, one fused multiply-add
    /// per element, the fixed fold tree; see the crate docs on determinism), an IEEE square root, then one
    /// IEEE division `x_i / max(‖x‖, eps)` per element: the same bits on every backend. The backward
    /// sums `y·dy` in the same order and computes `fma(y_i, −(y·dy), dy_i) / ‖x‖`. Bounds against the `f64`
    /// oracle: [`reference::l2_normalize_bound`](crate::reference::l2_normalize_bound) and
    /// [`reference::l2_normalize_rows_backward`](crate::reference::l2_normalize_rows_backward).
    ///
    /// # Ranges and special values (the same results as PyTorch's `F.normalize` on the CPU)
    /// - A row of zeros gives zeros (`0 / eps`), and the gradient `dy / eps` (`1e12·dy` with the default eps).
    /// - Underflow: squares below `2⁻¹⁴⁹` vanish, so norms below about `1e-19` are inexact; with the default
    ///   `eps = 1e-12` those rows are clamped anyway.
    /// - Overflow: a row with `‖x‖ ≥ 1.8e19` (its sum of squares exceeds `f32::MAX`) has norm `inf` and gives
    ///   `y = 0` and `dx = 0`, silently. Scale such inputs first.
    /// - In the backward, a dot product `y·dy` beyond `f32::MAX` (an upstream gradient near `f32::MAX`)
    ///   overflows to `±inf`, and the row's gradient becomes `±inf` or NaN.
    /// - NaN or ±inf in a row makes its norm NaN or inf: NaN in gives NaN out (for `inf`, the element itself
    ///   becomes `inf / inf = NaN`). `eps = 0` is allowed: a zero row then gives `0 / 0 = NaN`, and its
    ///   gradient `dy / 0`.
    ///
    /// # Differences from PyTorch
    /// PyTorch sums the squares in its own order, so `y` and `dx` differ from it by rounding only (a few
    /// ulps; the fixtures in `tests/data/normalize_torch.txt` check it). Its backward comes from autograd
    /// (`dx = dy / c − x·(x·dy) / (c²·‖x‖)`), the same function rounded differently.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `eps` is NaN, infinite or negative; [`Error::LengthMismatch`] if
    /// `y` differs from `x` in rows or dim, or `norms` is not one value a row.
    ///
    /// # Examples
    /// ```
    /// use triplet_simd::{Backend, L2_NORMALIZE_EPS, Rows, RowsMut};
    /// let x = [3.0, 4.0, 0.0, 0.0];
    /// let (mut y, mut norms) = ([0.0; 4], [0.0; 2]);
    /// Backend::detect().l2_normalize_rows(
    ///     Rows::dense(&x, 2, 2)?,
    ///     RowsMut::dense(&mut y, 2, 2)?,
    ///     Some(&mut norms),
    ///     L2_NORMALIZE_EPS,
    /// )?;
    /// assert_eq!(y, [0.6, 0.8, 0.0, 0.0]); // a zero row stays zero
    /// assert_eq!(norms, [5.0, 0.0]);
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    #[doc(alias = "normalize")]
    pub fn l2_normalize_rows(
        &self,
        x: Rows<'_>,
        y: RowsMut<'_>,
        norms: Option<&mut [f32]>,
        eps: f32,
    ) -> Result<(), Error> {
        check_eps(eps)?;
        check_shape(Y, x.rows(), x.dim(), (y.rows(), y.dim()))?;
        if let Some(n) = norms.as_deref() {
            check_len(NORMS, x.rows(), n.len())?;
        }
        self.run(Forward {
            io: Io::Separate(x, y),
            norms,
            eps,
        });
        Ok(())
    }

    /// [`Backend::l2_normalize_rows`] in place: every row of `x` is replaced by its normalised self (the
    /// same bits as the out-of-place call).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `eps` is NaN, infinite or negative; [`Error::LengthMismatch`] if
    /// `norms` is not one value a row.
    ///
    /// # Examples
    /// ```
    /// use triplet_simd::{Backend, RowsMut};
    /// let mut x = [0.0, 3.0, 4.0, /* padding */ 9.0];
    /// Backend::detect().l2_normalize_rows_in_place(RowsMut::new(&mut x, 1, 3, 4)?, None, 1e-12)?;
    /// assert_eq!(x, [0.0, 0.6, 0.8, 9.0]);
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    pub fn l2_normalize_rows_in_place(
        &self,
        x: RowsMut<'_>,
        norms: Option<&mut [f32]>,
        eps: f32,
    ) -> Result<(), Error> {
        check_eps(eps)?;
        if let Some(n) = norms.as_deref() {
            check_len(NORMS, x.rows(), n.len())?;
        }
        self.run(Forward {
            io: Io::InPlace(x),
            norms,
            eps,
        });
        Ok(())
    }

    /// The gradient of row L2-normalisation with respect to its input: from the forward's output `y`,
    /// its `norms` (`‖x_r‖`, as [`Backend::l2_normalize_rows`] writes them), the same `eps` and the
    /// upstream gradient `grad_y`, `grad_x_r = (dy_r − y_r·(y_r·dy_r)) / ‖x_r‖`, or `dy_r / eps` where
    /// `‖x_r‖ ≤ eps`. [`GradMode::Accumulate`] adds to `grad_x` (one more rounding), as a framework's
    /// `backward` does.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `eps` is NaN, infinite or negative; [`Error::LengthMismatch`] if
    /// `grad_y` or `grad_x` differs from `y` in rows or dim, or `norms` is not one value a row.
    ///
    /// # Examples
    /// ```
    /// use triplet_simd::{Backend, GradMode, L2_NORMALIZE_EPS, Rows, RowsMut};
    /// let be = Backend::detect();
    /// let x = [3.0, 4.0];
    /// let (mut y, mut norms) = ([0.0; 2], [0.0; 1]);
    /// be.l2_normalize_rows(Rows::dense(&x, 1, 2)?, RowsMut::dense(&mut y, 1, 2)?, Some(&mut norms), L2_NORMALIZE_EPS)?;
    /// // A loss that pulls y along itself has no gradient through the normalisation.
    /// let dy = [0.6, 0.8];
    /// let mut dx = [1.0; 2];
    /// be.l2_normalize_rows_backward(
    ///     Rows::dense(&y, 1, 2)?,
    ///     &norms,
    ///     Rows::dense(&dy, 1, 2)?,
    ///     RowsMut::dense(&mut dx, 1, 2)?,
    ///     L2_NORMALIZE_EPS,
    ///     GradMode::Overwrite,
    /// )?;
    /// assert!(dx.iter().all(|g| g.abs() < 1e-7));
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    pub fn l2_normalize_rows_backward(
        &self,
        y: Rows<'_>,
        norms: &[f32],
        grad_y: Rows<'_>,
        grad_x: RowsMut<'_>,
        eps: f32,
        mode: GradMode,
    ) -> Result<(), Error> {
        check_eps(eps)?;
        let (n, dim) = (y.rows(), y.dim());
        check_len(NORMS, n, norms.len())?;
        check_shape(GRAD_Y, n, dim, (grad_y.rows(), grad_y.dim()))?;
        check_shape(GRAD_X, n, dim, (grad_x.rows(), grad_x.dim()))?;
        self.run(Backward {
            y,
            norms,
            io: GradIo::Separate {
                dy: grad_y,
                dx: grad_x,
                accumulate: mode == GradMode::Accumulate,
            },
            eps,
        });
        Ok(())
    }

    /// [`Backend::l2_normalize_rows_backward`] in place: `grad` holds the upstream gradient `dy` and is
    /// overwritten with the gradient with respect to `x` (the same bits as the out-of-place call in
    /// [`GradMode::Overwrite`]).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `eps` is NaN, infinite or negative; [`Error::LengthMismatch`] if
    /// `grad` differs from `y` in rows or dim, or `norms` is not one value a row.
    ///
    /// # Examples
    /// ```
    /// use triplet_simd::{Backend, Rows, RowsMut};
    /// let (y, norms) = ([0.6, 0.8], [5.0]);
    /// let mut g = [1.0, 0.0]; // dy in, dx out
    /// Backend::detect().l2_normalize_rows_backward_in_place(Rows::dense(&y, 1, 2)?, &norms, RowsMut::dense(&mut g, 1, 2)?, 1e-12)?;
    /// // (dy − y·(y·dy)) / 5 = ([1, 0] − 0.6·[0.6, 0.8]) / 5 = [0.128, −0.096]
    /// assert!((g[0] - 0.128).abs() < 1e-7 && (g[1] + 0.096).abs() < 1e-7);
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    pub fn l2_normalize_rows_backward_in_place(
        &self,
        y: Rows<'_>,
        norms: &[f32],
        grad: RowsMut<'_>,
        eps: f32,
    ) -> Result<(), Error> {
        check_eps(eps)?;
        let (n, dim) = (y.rows(), y.dim());
        check_len(NORMS, n, norms.len())?;
        check_shape(GRAD_Y, n, dim, (grad.rows(), grad.dim()))?;
        self.run(Backward {
            y,
            norms,
            io: GradIo::InPlace(grad),
            eps,
        });
        Ok(())
    }
}

/// [`Backend::l2_normalize_rows`] on the detected backend.
///
/// # Errors
/// As [`Backend::l2_normalize_rows`].
///
/// # Examples
/// ```
/// use triplet_simd::{L2_NORMALIZE_EPS, Rows, RowsMut};
/// let x = [1.0, 0.0, 0.0, 2.0, 0.0, 0.0];
/// let mut y = [0.0; 6];
/// triplet_simd::l2_normalize_rows(Rows::dense(&x, 2, 3)?, RowsMut::dense(&mut y, 2, 3)?, None, L2_NORMALIZE_EPS)?;
/// assert_eq!(y, [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
/// # Ok::<(), triplet_simd::Error>(())
/// ```
#[doc(alias = "normalize")]
pub fn l2_normalize_rows(
    x: Rows<'_>,
    y: RowsMut<'_>,
    norms: Option<&mut [f32]>,
    eps: f32,
) -> Result<(), Error> {
    Backend::auto().l2_normalize_rows(x, y, norms, eps)
}

/// [`Backend::l2_normalize_rows_in_place`] on the detected backend.
///
/// # Errors
/// As [`Backend::l2_normalize_rows_in_place`].
///
/// # Examples
/// ```
/// use triplet_simd::RowsMut;
/// let mut x = [0.0, -2.0];
/// let mut norms = [0.0];
/// triplet_simd::l2_normalize_rows_in_place(RowsMut::dense(&mut x, 1, 2)?, Some(&mut norms), 1e-12)?;
/// assert_eq!((x, norms), ([0.0, -1.0], [2.0]));
/// # Ok::<(), triplet_simd::Error>(())
/// ```
pub fn l2_normalize_rows_in_place(
    x: RowsMut<'_>,
    norms: Option<&mut [f32]>,
    eps: f32,
) -> Result<(), Error> {
    Backend::auto().l2_normalize_rows_in_place(x, norms, eps)
}

/// [`Backend::l2_normalize_rows_backward`] on the detected backend.
///
/// # Errors
/// As [`Backend::l2_normalize_rows_backward`].
///
/// # Examples
/// ```
/// use triplet_simd::{GradMode, Rows, RowsMut};
/// // A zero row (norm 0 ≤ eps): the clamp is active and the gradient is dy / eps.
/// let (y, norms, dy) = ([0.0, 0.0], [0.0], [1.0, -2.0]);
/// let mut dx = [0.0; 2];
/// triplet_simd::l2_normalize_rows_backward(
///     Rows::dense(&y, 1, 2)?, &norms, Rows::dense(&dy, 1, 2)?, RowsMut::dense(&mut dx, 1, 2)?, 0.5, GradMode::Overwrite,
/// )?;
/// assert_eq!(dx, [2.0, -4.0]);
/// # Ok::<(), triplet_simd::Error>(())
/// ```
pub fn l2_normalize_rows_backward(
    y: Rows<'_>,
    norms: &[f32],
    grad_y: Rows<'_>,
    grad_x: RowsMut<'_>,
    eps: f32,
    mode: GradMode,
) -> Result<(), Error> {
    Backend::auto().l2_normalize_rows_backward(y, norms, grad_y, grad_x, eps, mode)
}

/// [`Backend::l2_normalize_rows_backward_in_place`] on the detected backend.
///
/// # Errors
/// As [`Backend::l2_normalize_rows_backward_in_place`].
///
/// # Examples
/// ```
/// use triplet_simd::{Rows, RowsMut};
/// let (y, norms) = ([1.0, 0.0], [2.0]);
/// let mut g = [3.0, 4.0];
/// triplet_simd::l2_normalize_rows_backward_in_place(Rows::dense(&y, 1, 2)?, &norms, RowsMut::dense(&mut g, 1, 2)?, 1e-12)?;
/// assert_eq!(g, [0.0, 2.0]); // the radial part is removed, the rest divided by the norm
/// # Ok::<(), triplet_simd::Error>(())
/// ```
pub fn l2_normalize_rows_backward_in_place(
    y: Rows<'_>,
    norms: &[f32],
    grad: RowsMut<'_>,
    eps: f32,
) -> Result<(), Error> {
    Backend::auto().l2_normalize_rows_backward_in_place(y, norms, grad, eps)
}
