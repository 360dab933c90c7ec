//! Options that both the public API and the kernels read: the distance inside a loss and what a
//! backward pass does with its gradient buffers. They sit below both layers, so a kernel never imports
//! an API module.

/// The distance inside a loss (see the [definitions](crate::semantics), "Distances").
///
/// # Examples
/// ```
/// use triplet_simd::{Distance, Triplets, TripletLoss};
/// let (a, p, n) = ([0.0, 0.0], [3.0, 4.0], [0.0, 1.0]);
/// let t = Triplets::dense(&a, &p, &n, 2);
/// // v = d(a, p) − d(a, n) + margin with d = ‖·‖: 5 − 1 + 0 = 4.
/// let l = TripletLoss::new(0.0).distance(Distance::Exact).forward(t)?;
/// assert_eq!(l.loss, 4.0);
/// // The default, squared L2: 25 − 1 = 24.
/// assert_eq!(TripletLoss::new(0.0).forward(t)?.loss, 24.0);
/// # Ok::<(), triplet_simd::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Distance {
    /// `Σ (x − y)²`: the design document's and FaceNet's distance (the default).
    #[default]
    SqL2,
    /// `‖x − y + eps‖₂`, `eps` added to every component: PyTorch's `pairwise_distance`, used by
    /// `F.triplet_margin_loss` (PyTorch's default eps is `1e-6`). `d(x, x) = eps·√D`.
    EpsOnDiff(f32),
    /// `sqrt(Σ (x − y)² + eps)`: the Hermans et al. reference code (`eps = 1e-12`).
    EpsInSqrt(f32),
    /// `sqrt(Σ (x − y)²)`, with gradient 0 at `d = 0` (PyTorch's `norm` backward rule).
    Exact,
}

/// What a backward pass does with the gradient buffers.
///
/// # Examples
/// ```
/// use triplet_simd::{GradMode, Reduction, SquaredError, Rows, RowsMut};
/// let (a, b) = (Rows::dense(&[1.0], 1, 1)?, Rows::dense(&[0.0], 1, 1)?);
/// let sos = SquaredError::sum_of_squares().reduction(Reduction::Sum);
/// let mut g = [10.0f32];
/// sos.call(a, b).grad_a(RowsMut::dense(&mut g, 1, 1)?).mode(GradMode::Accumulate).run()?;
/// assert_eq!(g, [12.0]); // 10 + 2(a − b)
/// sos.call(a, b).grad_a(RowsMut::dense(&mut g, 1, 1)?).mode(GradMode::Overwrite).run()?;
/// assert_eq!(g, [2.0]);
/// # Ok::<(), triplet_simd::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum GradMode {
    /// Write every gradient row (zeros where the gradient is 0).
    #[default]
    Overwrite,
    /// Add to what the buffers hold (`g = g + new`, one rounding each for the product and the sum).
    Accumulate,
}
