//! Losses on rows: the sum-of-squares and mean-squared-error losses with their gradients.

use crate::error::Error;
use crate::isa::Backend;
use crate::kernel::loss::{SquaredError as Kernel, Weights};
use crate::options::GradMode;
use crate::rows::{Rows, RowsMut};

/// How per-item losses are combined (the [definitions](crate::semantics), "Reductions").
/// # Examples
/// ```
/// use triplet_simd::{Reduction, Rows, SquaredError};
/// let (a, b) = (Rows::dense(&[1.0, 3.0], 2, 1)?, Rows::dense(&[0.0, 0.0], 2, 1)?); // losses 1 and 9
/// let l = |r| SquaredError::sum_of_squares().reduction(r).forward(a, b, None);
/// assert_eq!((l(Reduction::Sum)?, l(Reduction::Mean)?), (10.0, 5.0));
/// let mut per_row = [0.0; 2];
/// let total = SquaredError::sum_of_squares().reduction(Reduction::None).forward(a, b, Some(&mut per_row))?;
/// assert_eq!((per_row, total), ([1.0, 9.0], 10.0));
/// # Ok::<(), triplet_simd::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Reduction {
    /// No reduction: per-item losses go into a caller buffer; the returned value is their sum.
    None,
    /// `Σ loss_i` (the design document).
    Sum,
    /// `Σ loss_i / N` (PyTorch's default). `N = 0` gives 0, not PyTorch's NaN.
    #[default]
    Mean,
    /// `Σ loss_i / #active` (pytorch-metric-learning's `AvgNonZeroReducer`); 0 when nothing is active.
    /// For the squared-error losses every row counts as active, so this equals [`Reduction::Mean`].
    MeanActive,
}

/// The gradient of the final loss with respect to this loss's output (PyTorch's `grad_output`).
/// # Examples
/// ```
/// use triplet_simd::{GradMode, Reduction, Rows, RowsMut, SquaredError, Upstream};
/// let (a, b) = (Rows::dense(&[1.0, 1.0], 2, 1)?, Rows::dense(&[0.0, 0.0], 2, 1)?);
/// let mut g = [0.0; 2];
/// let mut per_row = [0.0; 2];
/// SquaredError::sum_of_squares().reduction(Reduction::None).forward_backward(
///     a, b, Some(&mut per_row), Upstream::PerItem(&[1.0, 0.5]),
///     Some(RowsMut::dense(&mut g, 2, 1)?), None, GradMode::Overwrite)?;
/// assert_eq!(g, [2.0, 1.0]); // gᵢ·2(a − b)
/// # Ok::<(), triplet_simd::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Upstream<'a> {
    /// One value for the reduced loss (or for every item with [`Reduction::None`]); usually `1.0`.
    Scalar(f32),
    /// One value per item; only with [`Reduction::None`].
    PerItem(&'a [f32]),
}

impl Default for Upstream<'_> {
    fn default() -> Self {
        Upstream::Scalar(1.0)
    }
}

/// Checks an upstream gradient against `n` items and a reduction; returns the weight of each item's
/// gradient and the divisor of the reduced loss (`count` is the number of items the mean divides by).
pub(crate) fn weights<'u>(
    upstream: Upstream<'u>,
    reduction: Reduction,
    n: usize,
    count: usize,
) -> Result<Weights<'u>, Error> {
    match (upstream, reduction) {
        (Upstream::PerItem(g), Reduction::None) => {
            check_len("length of the per-item upstream gradient", n, g.len())?;
            Ok(Weights::Each(g))
        }
        (Upstream::PerItem(_), _) => Err(Error::Missing {
            what: "Reduction::None, which a per-item upstream gradient needs",
        }),
        (Upstream::Scalar(g), Reduction::None | Reduction::Sum) => Ok(Weights::All(g)),
        (Upstream::Scalar(g), Reduction::Mean | Reduction::MeanActive) => {
            Ok(Weights::All(if count == 0 {
                0.0
            } else {
                g / count as f32
            }))
        }
    }
}

/// Reduces `Σ loss_i` (accumulated in f64) over `n` items, `count` of which the mean divides by.
pub(crate) fn reduce(total: f64, reduction: Reduction, count: usize) -> f32 {
    match reduction {
        Reduction::None | Reduction::Sum => total as f32,
        // The mean of nothing is 0 (never PyTorch's NaN), unless an item was NaN: NaN in gives NaN out,
        // also when no item counts (a NaN triplet is never active).
        Reduction::Mean | Reduction::MeanActive => {
            if count == 0 && !total.is_nan() {
                0.0
            } else {
                (total / count as f64) as f32
            }
        }
    }
}

/// `Ok` if `found == expected`, else [`Error::LengthMismatch`] naming `what`.
pub(crate) fn check_len(what: &'static str, expected: usize, found: usize) -> Result<(), Error> {
    if found != expected {
        return Err(Error::LengthMismatch {
            what,
            expected,
            found,
        });
    }
    Ok(())
}

/// Checks that a view (`name`, e.g. `"b"`) has `rows` rows of length `dim`.
pub(crate) fn check_same_shape(
    name: Which,
    rows: usize,
    dim: usize,
    other_rows: usize,
    other_dim: usize,
) -> Result<(), Error> {
    check_len(name.0, rows, other_rows)?;
    check_len(name.1, dim, other_dim)
}

/// The per-item loss buffer, if any, holds one value per item, and is there when `Reduction::None`
/// needs it. `names` = (length name, missing message).
pub(crate) fn check_per_item(
    buf: Option<&[f32]>,
    n: usize,
    reduction: Reduction,
    names: (&'static str, &'static str),
) -> Result<(), Error> {
    match buf {
        Some(p) => check_len(names.0, n, p.len()),
        None if reduction == Reduction::None => Err(Error::Missing { what: names.1 }),
        None => Ok(()),
    }
}

pub(crate) const PER_ROW: (&str, &str) = (
    "length of the per-row loss buffer",
    "a per-row loss buffer, which Reduction::None needs",
);

/// The names of a view's row count and row length in error messages.
pub(crate) type Which = (&'static str, &'static str);
pub(crate) const B: Which = ("row count of b", "row length of b");
const GRADS: [Which; 2] = [
    ("row count of grad_a", "row length of grad_a"),
    ("row count of grad_b", "row length of grad_b"),
];

/// Which squared-error loss: per row `Σ(a − b)²` or `Σ(a − b)² / D`.
/// # Examples
/// ```
/// use triplet_simd::{Rows, SquaredError, SquaredErrorKind};
/// let (a, b) = (Rows::dense(&[1.0, 2.0, 3.0], 1, 3)?, Rows::dense(&[1.1, 2.0, 3.3], 1, 3)?);
/// let sos = SquaredError::new(SquaredErrorKind::SumOfSquares).forward(a, b, None)?;
/// let mse = SquaredError::new(SquaredErrorKind::Mse).forward(a, b, None)?;
/// assert!((sos - 0.1).abs() < 1e-6 && (mse - 0.1 / 3.0).abs() < 1e-6);
/// # Ok::<(), triplet_simd::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SquaredErrorKind {
    /// The design document's "L2-norm loss" `Σ(a − b)²`; gradient `2(a − b)` w.r.t. `a`.
    SumOfSquares,
    /// The mean squared error `Σ(a − b)² / D`; gradient `2(a − b)/D` w.r.t. `a`.
    Mse,
}

/// The sum-of-squares or MSE loss between two batches of rows, reduced over the rows.
///
/// # Examples
/// ```
/// use triplet_simd::{Reduction, Rows, RowsMut, SquaredError, Upstream, GradMode};
/// let a = [1.0, 2.0, 3.0];
/// let b = [1.1, 2.0, 3.3];
/// let mse = SquaredError::mse().reduction(Reduction::Sum);
/// let (a, b) = (Rows::dense(&a, 1, 3)?, Rows::dense(&b, 1, 3)?);
/// let loss = mse.forward(a, b, None)?;
/// assert!((loss - 0.1 / 3.0).abs() < 1e-7);
/// let mut ga = [0.0; 3];
/// mse.forward_backward(a, b, None, Upstream::Scalar(1.0), Some(RowsMut::dense(&mut ga, 1, 3)?), None, GradMode::Overwrite)?;
/// assert!((ga[2] - 2.0 * (3.0 - 3.3) / 3.0).abs() < 1e-6);
/// # Ok::<(), triplet_simd::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct SquaredError {
    kind: SquaredErrorKind,
    reduction: Reduction,
    backend: Backend,
}

impl SquaredError {
    /// The sum-of-squares loss, reduced with [`Reduction::Mean`] on the detected backend.
    /// See the examples of [`SquaredErrorKind`] and [`SquaredError`].
    pub fn sum_of_squares() -> Self {
        Self::new(SquaredErrorKind::SumOfSquares)
    }
    /// The MSE loss, reduced with [`Reduction::Mean`] on the detected backend.
    /// See the examples of [`SquaredErrorKind`] and [`SquaredError`].
    pub fn mse() -> Self {
        Self::new(SquaredErrorKind::Mse)
    }
    /// The given loss, reduced with [`Reduction::Mean`] on the detected backend.
    /// See the examples of [`SquaredErrorKind`] and [`SquaredError`].
    pub fn new(kind: SquaredErrorKind) -> Self {
        Self {
            kind,
            reduction: Reduction::Mean,
            backend: Backend::detect(),
        }
    }
    /// The reduction over rows.
    /// See the example of [`Reduction`].
    pub fn reduction(self, reduction: Reduction) -> Self {
        Self { reduction, ..self }
    }
    /// Runs on this backend instead of the detected one.
    /// # Examples
    /// ```
    /// use triplet_simd::{Backend, Rows, SquaredError};
    /// let (a, b) = (Rows::dense(&[0.3; 70], 1, 70)?, Rows::dense(&[0.1; 70], 1, 70)?);
    /// let want = SquaredError::mse().forward(a, b, None)?;
    /// for be in Backend::all() {
    ///     assert_eq!(SquaredError::mse().backend(be).forward(a, b, None)?.to_bits(), want.to_bits());
    /// }
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    pub fn backend(self, backend: Backend) -> Self {
        Self { backend, ..self }
    }

    /// The reduced loss; with `per_row`, each row's loss too (required for [`Reduction::None`]).
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] if `a` and `b` differ in rows or dim or `per_row` is not one value a row;
    /// [`Error::Missing`] for [`Reduction::None`] without `per_row`.
    /// See the examples of [`Reduction`] and [`SquaredError`].
    pub fn forward(
        &self,
        a: Rows<'_>,
        b: Rows<'_>,
        per_row: Option<&mut [f32]>,
    ) -> Result<f32, Error> {
        self.forward_backward(
            a,
            b,
            per_row,
            Upstream::Scalar(0.0),
            None,
            None,
            GradMode::Accumulate,
        )
    }

    /// The loss and, in the same pass, the gradients with respect to `a` and `b` (either may be `None`),
    /// scaled by `upstream`.
    ///
    /// # Errors
    /// As [`SquaredError::forward`]; also [`Error::LengthMismatch`] if a gradient view's shape differs from
    /// the inputs' or a per-item upstream has the wrong length, [`Error::Missing`] for a per-item upstream
    /// without [`Reduction::None`].
    /// See the examples of [`Upstream`], [`GradMode`](crate::GradMode) and [`SquaredError`].
    #[allow(clippy::too_many_arguments)]
    pub fn forward_backward(
        &self,
        a: Rows<'_>,
        b: Rows<'_>,
        per_row: Option<&mut [f32]>,
        upstream: Upstream<'_>,
        grad_a: Option<RowsMut<'_>>,
        grad_b: Option<RowsMut<'_>>,
        mode: GradMode,
    ) -> Result<f32, Error> {
        let (n, dim) = (a.rows(), a.dim());
        check_same_shape(B, n, dim, b.rows(), b.dim())?;
        for (g, what) in [&grad_a, &grad_b].into_iter().zip(GRADS) {
            if let Some(g) = g {
                check_same_shape(what, n, dim, g.rows(), g.dim())?;
            }
        }
        check_per_item(per_row.as_deref(), n, self.reduction, PER_ROW)?;
        let weight = weights(upstream, self.reduction, n, n)?;
        let divisor = match self.kind {
            SquaredErrorKind::SumOfSquares => 1.0,
            // A row of no values has no error: D = 0 gives 0 rather than 0/0.
            SquaredErrorKind::Mse => dim.max(1) as f32,
        };
        let total = self.backend.run(Kernel {
            a,
            b,
            divisor,
            per_row,
            weight,
            grad_a,
            grad_b,
            mode,
        });
        Ok(reduce(total, self.reduction, n))
    }
}
