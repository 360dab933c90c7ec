//! All-pairs distances (`cdist`): `D[i][j] = d(x_i, y_j)` for two views, or one view against itself.
//!
//! Every entry has the bits of the one-pair function ([`Backend::sq_l2`] or [`Backend::l2`] of the two
//! rows) on every backend: the difference form, never `‖x‖² + ‖y‖² − 2x·y`, so nothing cancels. Each
//! call validates its shapes, then runs one register-blocked kernel over all pairs with one backend
//! (dispatched once per call). [`Backend::distance_pairwise`] takes the distance as a [`Distance`]:
//! every distance the miners accept, with the bits the miners use.

use crate::error::Error;
use crate::isa::Backend;
use crate::kernel::pairwise::{AllPairs, Metric};
use crate::options::Distance;
use crate::rows::{Rows, RowsMut};

/// The all-pairs form of a symmetric distance (the miners' distances): [`Distance::EpsOnDiff`] is not
/// one (`d(x, y) ≠ d(y, x)`), and `EpsInSqrt`'s eps must be finite and not negative.
pub(crate) fn symmetric_metric(distance: Distance) -> Result<Metric, Error> {
    match distance {
        Distance::SqL2 => Ok(Metric::SqL2),
        Distance::Exact => Ok(Metric::L2),
        Distance::EpsInSqrt(e) if e.is_finite() && e >= 0.0 => Ok(Metric::L2EpsInSqrt(e)),
        Distance::EpsInSqrt(value) => Err(Error::InvalidParameter {
            name: "eps",
            value,
            rule: "the eps of a distance must be finite and not negative",
        }),
        Distance::EpsOnDiff(_) => Err(Error::Missing {
            what: "a symmetric distance: SqL2, Exact or EpsInSqrt (EpsOnDiff is not symmetric)",
        }),
    }
}

/// Every error this module returns, built in one place: `what` is compared, `expected` the size it
/// must have, `found` the size given.
fn mismatch(what: &'static str, expected: usize, found: usize) -> Result<(), Error> {
    if expected == found {
        Ok(())
    } else {
        Err(Error::LengthMismatch {
            what,
            expected,
            found,
        })
    }
}

/// Checks `out` against an `n × m` matrix and `y`'s row length against `x`'s.
fn check(x_dim: usize, y_dim: usize, n: usize, m: usize, out: &RowsMut<'_>) -> Result<(), Error> {
    mismatch("row length of y", x_dim, y_dim)?;
    mismatch("row count of out", n, out.rows())?;
    // `out` is a valid view, so it holds `(n − 1)·stride + m ≥ n·m` values: `n·m` cannot overflow.
    mismatch("row length of out", m, out.dim())
}

impl Backend {
    /// All-pairs squared Euclidean distances: `out[i][j] = sq_l2(x_i, y_j)` for every row `i` of `x`
    /// and `j` of `y`, each entry bit-identical to [`Backend::sq_l2`] of the two rows. `out` is an
    /// `x.rows() × y.rows()` view with any row stride; its padding is never written.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] if `y`'s rows are not as long as `x`'s, or `out` is not
    /// `x.rows() × y.rows()`. Nothing is written on error.
    ///
    /// # Examples
    /// ```
    /// use triplet_simd::{Backend, Rows, RowsMut};
    /// let x = [0.0, 0.0, 1.0, 1.0, 3.0, 4.0]; // three rows of 2
    /// let y = [0.0, 0.0, 1.0, 0.0]; // two rows of 2
    /// let mut d = [-1.0; 3 * 3]; // 3 × 2 with stride 3: the third column is padding
    /// Backend::detect().sq_l2_pairwise(
    ///     Rows::dense(&x, 3, 2)?,
    ///     Rows::dense(&y, 2, 2)?,
    ///     RowsMut::new(&mut d, 3, 2, 3)?,
    /// )?;
    /// assert_eq!(d, [0.0, 1.0, -1.0, 2.0, 1.0, -1.0, 25.0, 20.0, -1.0]);
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    #[doc(alias = "cdist")]
    #[inline]
    pub fn sq_l2_pairwise(&self, x: Rows<'_>, y: Rows<'_>, out: RowsMut<'_>) -> Result<(), Error> {
        self.pairwise(x, Some(y), out, Metric::SqL2)
    }

    /// All-pairs Euclidean distances: `out[i][j] = l2(x_i, y_j)`, each entry bit-identical to
    /// [`Backend::l2`] of the two rows (the correctly rounded square root of [`Backend::sq_l2_pairwise`]).
    ///
    /// # Errors
    /// As [`Backend::sq_l2_pairwise`].
    ///
    /// # Examples
    /// ```
    /// use triplet_simd::{Backend, Rows, RowsMut};
    /// let (x, y) = ([0.0, 0.0], [3.0, 4.0, 0.0, 1.0]);
    /// let mut d = [0.0; 2];
    /// Backend::detect().l2_pairwise(
    ///     Rows::dense(&x, 1, 2)?,
    ///     Rows::dense(&y, 2, 2)?,
    ///     RowsMut::dense(&mut d, 1, 2)?,
    /// )?;
    /// assert_eq!(d, [5.0, 1.0]);
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    #[doc(alias = "cdist")]
    #[inline]
    pub fn l2_pairwise(&self, x: Rows<'_>, y: Rows<'_>, out: RowsMut<'_>) -> Result<(), Error> {
        self.pairwise(x, Some(y), out, Metric::L2)
    }

    /// All-pairs squared Euclidean distances of one view against itself: `out[i][j] = sq_l2(x_i, x_j)`
    /// into an `x.rows() × x.rows()` view. Computes one triangle and mirrors it, so `out` is exactly
    /// symmetric, and its diagonal is exactly `0` for every finite row (NaN for a row holding NaN or
    /// an infinity, as [`Backend::sq_l2`] of the row with itself). Each entry is bit-identical to
    /// [`Backend::sq_l2`] of its two rows.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] if `out` is not `x.rows() × x.rows()`. Nothing is written on error.
    ///
    /// # Examples
    /// ```
    /// use triplet_simd::{Backend, Rows, RowsMut};
    /// let x = [0.0, 0.0, 3.0, 4.0];
    /// let mut d = [-1.0; 4];
    /// Backend::detect().sq_l2_pairwise_self(Rows::dense(&x, 2, 2)?, RowsMut::dense(&mut d, 2, 2)?)?;
    /// assert_eq!(d, [0.0, 25.0, 25.0, 0.0]);
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    #[doc(alias = "cdist")]
    #[doc(alias = "pdist")]
    #[inline]
    pub fn sq_l2_pairwise_self(&self, x: Rows<'_>, out: RowsMut<'_>) -> Result<(), Error> {
        self.pairwise(x, None, out, Metric::SqL2)
    }

    /// All-pairs Euclidean distances of one view against itself: `out[i][j] = l2(x_i, x_j)`, exactly
    /// symmetric with an exact `0` diagonal for finite rows; each entry bit-identical to
    /// [`Backend::l2`] of its two rows.
    ///
    /// # Errors
    /// As [`Backend::sq_l2_pairwise_self`].
    ///
    /// # Examples
    /// ```
    /// use triplet_simd::{Backend, Rows, RowsMut};
    /// let x = [0.0, 0.0, 3.0, 4.0];
    /// let mut d = [-1.0; 4];
    /// Backend::detect().l2_pairwise_self(Rows::dense(&x, 2, 2)?, RowsMut::dense(&mut d, 2, 2)?)?;
    /// assert_eq!(d, [0.0, 5.0, 5.0, 0.0]);
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    #[doc(alias = "cdist")]
    #[doc(alias = "pdist")]
    #[inline]
    pub fn l2_pairwise_self(&self, x: Rows<'_>, out: RowsMut<'_>) -> Result<(), Error> {
        self.pairwise(x, None, out, Metric::L2)
    }

    /// All-pairs distances for any symmetric [`Distance`]: `out[i][j] = d(x_i, y_j)` with
    /// `SqL2` as [`Backend::sq_l2_pairwise`], `Exact` as [`Backend::l2_pairwise`] and `EpsInSqrt(eps)`
    /// the correctly rounded `sqrt(s + eps)` of the `f32` sum `s = sq_l2(x_i, y_j)` (`s + eps` rounded
    /// to `f32` first). These are the distances [`TripletMiner`](crate::TripletMiner) mines on, to
    /// the bit, for the same distance: the matrix a miner saw can be inspected.
    ///
    /// # Errors
    /// [`Error::Missing`] for [`Distance::EpsOnDiff`] (not symmetric), [`Error::InvalidParameter`]
    /// for a NaN, infinite or negative eps; otherwise as [`Backend::sq_l2_pairwise`].
    ///
    /// # Examples
    /// ```
    /// use triplet_simd::{Backend, Distance, Rows, RowsMut};
    /// let (x, y) = ([0.0f32; 3], [1.0f32, 1.0, 2.0, 0.0, 0.0, 0.0]);
    /// let mut d = [0.0f32; 2];
    /// Backend::detect().distance_pairwise(
    ///     Rows::dense(&x, 1, 3)?,
    ///     Rows::dense(&y, 2, 3)?,
    ///     RowsMut::dense(&mut d, 1, 2)?,
    ///     Distance::EpsInSqrt(0.25),
    /// )?;
    /// assert_eq!(d, [2.5, 0.5]); // sqrt(6 + 0.25), sqrt(0 + 0.25)
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    #[doc(alias = "cdist")]
    #[inline]
    pub fn distance_pairwise(
        &self,
        x: Rows<'_>,
        y: Rows<'_>,
        out: RowsMut<'_>,
        distance: Distance,
    ) -> Result<(), Error> {
        self.pairwise(x, Some(y), out, symmetric_metric(distance)?)
    }

    /// All-pairs distances of one view against itself for any symmetric [`Distance`], exactly
    /// symmetric, each entry as [`Backend::distance_pairwise`] gives it (the diagonal of a finite row
    /// is `0`, or `sqrt(eps)` for `EpsInSqrt`). This is the batch part of a miner's distance matrix.
    ///
    /// # Errors
    /// As [`Backend::distance_pairwise`] for the distance, [`Backend::sq_l2_pairwise_self`] for the
    /// shapes.
    ///
    /// # Examples
    /// ```
    /// use triplet_simd::{Backend, Distance, Rows, RowsMut};
    /// let x = [0.0f32, 0.0, 3.0, 4.0];
    /// let mut d = [-1.0f32; 4];
    /// let eps = Distance::EpsInSqrt(0.25);
    /// Backend::detect().distance_pairwise_self(Rows::dense(&x, 2, 2)?, RowsMut::dense(&mut d, 2, 2)?, eps)?;
    /// assert_eq!(d, [0.5, 25.25f32.sqrt(), 25.25f32.sqrt(), 0.5]);
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    #[doc(alias = "cdist")]
    #[doc(alias = "pdist")]
    #[inline]
    pub fn distance_pairwise_self(
        &self,
        x: Rows<'_>,
        out: RowsMut<'_>,
        distance: Distance,
    ) -> Result<(), Error> {
        self.pairwise(x, None, out, symmetric_metric(distance)?)
    }

    #[inline(always)]
    fn pairwise(
        &self,
        x: Rows<'_>,
        y: Option<Rows<'_>>,
        out: RowsMut<'_>,
        metric: Metric,
    ) -> Result<(), Error> {
        let other = y.unwrap_or(x);
        check(x.dim(), other.dim(), x.rows(), other.rows(), &out)?;
        // An empty matrix: nothing to write (and no loop over the rows of an `n × 0` one).
        if x.rows() == 0 || other.rows() == 0 {
            return Ok(());
        }
        self.run(AllPairs { x, y, metric, out });
        Ok(())
    }
}

/// [`Backend::sq_l2_pairwise`] on the detected backend.
///
/// # Errors
/// As [`Backend::sq_l2_pairwise`].
///
/// # Examples
/// ```
/// use triplet_simd::{Rows, RowsMut};
/// let (x, y) = ([1.0, 2.0, 3.0], [1.1, 2.0, 3.3]);
/// let mut d = [0.0; 1];
/// triplet_simd::sq_l2_pairwise(
///     Rows::dense(&x, 1, 3)?,
///     Rows::dense(&y, 1, 3)?,
///     RowsMut::dense(&mut d, 1, 1)?,
/// )?;
/// assert_eq!(d[0], triplet_simd::sq_l2(&x, &y)?); // the same bits as the one-pair function
/// # Ok::<(), triplet_simd::Error>(())
/// ```
#[doc(alias = "cdist")]
#[inline]
pub fn sq_l2_pairwise(x: Rows<'_>, y: Rows<'_>, out: RowsMut<'_>) -> Result<(), Error> {
    Backend::auto().sq_l2_pairwise(x, y, out)
}

/// [`Backend::l2_pairwise`] on the detected backend.
///
/// # Errors
/// As [`Backend::l2_pairwise`].
///
/// # Examples
/// ```
/// use triplet_simd::{Rows, RowsMut};
/// let (x, y) = ([0.0, 0.0, 1.0, 1.0], [3.0, 4.0]);
/// let mut d = [0.0; 2];
/// triplet_simd::l2_pairwise(
///     Rows::dense(&x, 2, 2)?,
///     Rows::dense(&y, 1, 2)?,
///     RowsMut::dense(&mut d, 2, 1)?,
/// )?;
/// assert_eq!(d, [5.0, 13f32.sqrt()]);
/// # Ok::<(), triplet_simd::Error>(())
/// ```
#[doc(alias = "cdist")]
#[inline]
pub fn l2_pairwise(x: Rows<'_>, y: Rows<'_>, out: RowsMut<'_>) -> Result<(), Error> {
    Backend::auto().l2_pairwise(x, y, out)
}

/// [`Backend::sq_l2_pairwise_self`] on the detected backend.
///
/// # Errors
/// As [`Backend::sq_l2_pairwise_self`].
///
/// # Examples
/// ```
/// use triplet_simd::{Rows, RowsMut};
/// let x = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0];
/// let mut d = [0.0; 9];
/// triplet_simd::sq_l2_pairwise_self(Rows::dense(&x, 3, 2)?, RowsMut::dense(&mut d, 3, 3)?)?;
/// assert_eq!(d, [0.0, 2.0, 1.0, 2.0, 0.0, 1.0, 1.0, 1.0, 0.0]);
/// # Ok::<(), triplet_simd::Error>(())
/// ```
#[doc(alias = "cdist")]
#[doc(alias = "pdist")]
#[inline]
pub fn sq_l2_pairwise_self(x: Rows<'_>, out: RowsMut<'_>) -> Result<(), Error> {
    Backend::auto().sq_l2_pairwise_self(x, out)
}

/// [`Backend::l2_pairwise_self`] on the detected backend.
///
/// # Errors
/// As [`Backend::l2_pairwise_self`].
///
/// # Examples
/// ```
/// use triplet_simd::{Rows, RowsMut};
/// let x = [0.0, 0.0, 3.0, 4.0];
/// let mut d = [0.0; 4];
/// triplet_simd::l2_pairwise_self(Rows::dense(&x, 2, 2)?, RowsMut::dense(&mut d, 2, 2)?)?;
/// assert_eq!(d, [0.0, 5.0, 5.0, 0.0]);
/// # Ok::<(), triplet_simd::Error>(())
/// ```
#[doc(alias = "cdist")]
#[doc(alias = "pdist")]
#[inline]
pub fn l2_pairwise_self(x: Rows<'_>, out: RowsMut<'_>) -> Result<(), Error> {
    Backend::auto().l2_pairwise_self(x, out)
}

/// [`Backend::distance_pairwise`] on the detected backend.
///
/// # Errors
/// As [`Backend::distance_pairwise`].
///
/// # Examples
/// ```
/// use triplet_simd::{Distance, Rows, RowsMut};
/// let (x, y) = ([0.0f32, 0.0], [3.0f32, 4.0]);
/// let mut d = [0.0f32; 1];
/// triplet_simd::distance_pairwise(
///     Rows::dense(&x, 1, 2)?,
///     Rows::dense(&y, 1, 2)?,
///     RowsMut::dense(&mut d, 1, 1)?,
///     Distance::Exact,
/// )?;
/// assert_eq!(d, [5.0]);
/// # Ok::<(), triplet_simd::Error>(())
/// ```
#[doc(alias = "cdist")]
#[inline]
pub fn distance_pairwise(
    x: Rows<'_>,
    y: Rows<'_>,
    out: RowsMut<'_>,
    distance: Distance,
) -> Result<(), Error> {
    Backend::auto().distance_pairwise(x, y, out, distance)
}

/// [`Backend::distance_pairwise_self`] on the detected backend.
///
/// # Errors
/// As [`Backend::distance_pairwise_self`].
///
/// # Examples
/// ```
/// use triplet_simd::{Distance, Rows, RowsMut};
/// let x = [0.0f32, 0.0, 3.0, 4.0];
/// let mut d = [0.0f32; 4];
/// triplet_simd::distance_pairwise_self(Rows::dense(&x, 2, 2)?, RowsMut::dense(&mut d, 2, 2)?, Distance::SqL2)?;
/// assert_eq!(d, [0.0, 25.0, 25.0, 0.0]);
/// # Ok::<(), triplet_simd::Error>(())
/// ```
#[doc(alias = "cdist")]
#[doc(alias = "pdist")]
#[inline]
pub fn distance_pairwise_self(
    x: Rows<'_>,
    out: RowsMut<'_>,
    distance: Distance,
) -> Result<(), Error> {
    Backend::auto().distance_pairwise_self(x, out, distance)
}
