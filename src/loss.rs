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
/// use triplet_simd::{Reduction, Rows, RowsMut, SquaredError, Upstream};
/// let (a, b) = (Rows::dense(&[1.0, 1.0], 2, 1)?, Rows::dense(&[0.0, 0.0], 2, 1)?);
/// let mut g = [0.0; 2];
/// let mut per_row = [0.0; 2];
/// SquaredError::sum_of_squares().reduction(Reduction::None).call(a, b)
///     .per_row(&mut per_row)
///     .upstream(Upstream::PerItem(&[1.0, 0.5]))
///     .grad_a(RowsMut::dense(&mut g, 2, 1)?)
///     .run()?;
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
/// use triplet_simd::{Reduction, Rows, RowsMut, SquaredError};
/// let a = [1.0, 2.0, 3.0];
/// let b = [1.1, 2.0, 3.3];
/// let mse = SquaredError::mse().reduction(Reduction::Sum);
/// let (a, b) = (Rows::dense(&a, 1, 3)?, Rows::dense(&b, 1, 3)?);
/// let loss = mse.forward(a, b, None)?;
/// assert!((loss - 0.1 / 3.0).abs() < 1e-7);
/// let mut ga = [0.0; 3];
/// mse.forward_backward(a, b, Some(RowsMut::dense(&mut ga, 1, 3)?), None)?;
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

    /// A call on the rows `a` and `b`: add per-row losses, an upstream gradient, gradient views and
    /// their mode as steps, then [`SquaredErrorCall::run`] it. [`SquaredError::forward`] and
    /// [`SquaredError::forward_backward`] are its short forms.
    ///
    /// # Examples
    /// ```
    /// use triplet_simd::{GradMode, Reduction, Rows, RowsMut, SquaredError, Upstream};
    /// let (a, b) = ([1.0f32, 2.0, 3.0, 4.0], [1.0f32, 1.0, 3.0, 2.0]); // two rows of 2
    /// let mut per_row = [0.0; 2];
    /// let mut gb = [1.0f32; 4];
    /// let loss = SquaredError::sum_of_squares()
    ///     .reduction(Reduction::None)
    ///     .call(Rows::dense(&a, 2, 2)?, Rows::dense(&b, 2, 2)?)
    ///     .per_row(&mut per_row)
    ///     .upstream(Upstream::PerItem(&[1.0, 0.5]))
    ///     .grad_b(RowsMut::dense(&mut gb, 2, 2)?)
    ///     .mode(GradMode::Accumulate)
    ///     .run()?;
    /// assert_eq!((per_row, loss), ([1.0, 4.0], 5.0));
    /// // d/db = −2(a − b)·g, added to the 1s that were there.
    /// assert_eq!(gb, [1.0, -1.0, 1.0, -1.0]);
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    pub fn call<'a>(&self, a: Rows<'a>, b: Rows<'a>) -> SquaredErrorCall<'a> {
        SquaredErrorCall {
            loss: *self,
            a,
            b,
            per_row: None,
            upstream: Upstream::Scalar(1.0),
            grad_a: None,
            grad_b: None,
            mode: GradMode::Overwrite,
        }
    }

    /// The reduced loss; with `per_row`, each row's loss too (required for [`Reduction::None`]).
    ///
    /// # Errors
    /// As [`SquaredErrorCall::run`].
    /// See the examples of [`Reduction`] and [`SquaredError`].
    pub fn forward(
        &self,
        a: Rows<'_>,
        b: Rows<'_>,
        per_row: Option<&mut [f32]>,
    ) -> Result<f32, Error> {
        let call = self.call(a, b);
        match per_row {
            Some(l) => call.per_row(l).run(),
            None => call.run(),
        }
    }

    /// The reduced loss and, in the same pass, the gradients with respect to `a` and `b` (either may be
    /// `None`), overwritten: the short form of [`SquaredError::call`] with an upstream gradient of 1.
    ///
    /// # Errors
    /// As [`SquaredErrorCall::run`].
    /// See the example of [`SquaredError`].
    pub fn forward_backward(
        &self,
        a: Rows<'_>,
        b: Rows<'_>,
        grad_a: Option<RowsMut<'_>>,
        grad_b: Option<RowsMut<'_>>,
    ) -> Result<f32, Error> {
        let mut call = self.call(a, b);
        if let Some(g) = grad_a {
            call = call.grad_a(g);
        }
        if let Some(g) = grad_b {
            call = call.grad_b(g);
        }
        call.run()
    }
}

/// One squared-error call (built by [`SquaredError::call`]); every step is optional.
///
/// # Examples
/// See [`SquaredError::call`].
#[derive(Debug)]
#[must_use = "a call does nothing until it is run"]
pub struct SquaredErrorCall<'a> {
    loss: SquaredError,
    a: Rows<'a>,
    b: Rows<'a>,
    per_row: Option<&'a mut [f32]>,
    upstream: Upstream<'a>,
    grad_a: Option<RowsMut<'a>>,
    grad_b: Option<RowsMut<'a>>,
    mode: GradMode,
}

impl<'a> SquaredErrorCall<'a> {
    /// Writes each row's loss (required for [`Reduction::None`]).
    /// See the example of [`SquaredError::call`].
    pub fn per_row(self, per_row: &'a mut [f32]) -> Self {
        Self {
            per_row: Some(per_row),
            ..self
        }
    }
    /// The upstream gradient (default `Scalar(1.0)`); a per-item one needs [`Reduction::None`].
    /// See the example of [`SquaredError::call`].
    pub fn upstream(self, upstream: Upstream<'a>) -> Self {
        Self { upstream, ..self }
    }
    /// Computes the gradient with respect to `a` into `grad` (shaped like `a`).
    /// See the example of [`SquaredError`].
    pub fn grad_a(self, grad: RowsMut<'a>) -> Self {
        Self {
            grad_a: Some(grad),
            ..self
        }
    }
    /// Computes the gradient with respect to `b` into `grad` (shaped like `b`).
    /// See the example of [`SquaredError::call`].
    pub fn grad_b(self, grad: RowsMut<'a>) -> Self {
        Self {
            grad_b: Some(grad),
            ..self
        }
    }
    /// Overwrite (default) or add to the gradient views.
    /// See the example of [`SquaredError::call`].
    pub fn mode(self, mode: GradMode) -> Self {
        Self { mode, ..self }
    }

    /// Runs the call: the reduced loss and, with gradient views, the gradients in the same pass.
    ///
    /// # Errors
    /// Nothing is written when an error is returned. [`Error::LengthMismatch`] if `a` and `b` differ in
    /// rows or dim, a gradient view's shape differs from theirs, or `per_row` or a per-item upstream is
    /// not one value a row; [`Error::Missing`] for [`Reduction::None`] without `per_row`, or a per-item
    /// upstream without [`Reduction::None`].
    ///
    /// # Examples
    /// See [`SquaredError::call`].
    pub fn run(self) -> Result<f32, Error> {
        let Self {
            loss,
            a,
            b,
            per_row,
            upstream,
            grad_a,
            grad_b,
            mode,
        } = self;
        let (n, dim) = (a.rows(), a.dim());
        check_same_shape(B, n, dim, b.rows(), b.dim())?;
        for (g, what) in [&grad_a, &grad_b].into_iter().zip(GRADS) {
            if let Some(g) = g {
                check_same_shape(what, n, dim, g.rows(), g.dim())?;
            }
        }
        check_per_item(per_row.as_deref(), n, loss.reduction, PER_ROW)?;
        let weight = weights(upstream, loss.reduction, n, n)?;
        let divisor = match loss.kind {
            SquaredErrorKind::SumOfSquares => 1.0,
            // A row of no values has no error: D = 0 gives 0 rather than 0/0.
            SquaredErrorKind::Mse => dim.max(1) as f32,
        };
        let total = loss.backend.run(Kernel {
            a,
            b,
            divisor,
            per_row,
            weight,
            grad_a,
            grad_b,
            mode,
        });
        Ok(reduce(total, loss.reduction, n))
    }
}
