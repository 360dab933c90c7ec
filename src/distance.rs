//! Distances: one pair, batched row pairs, one query against many rows.
//!
//! Each call validates its shapes, then runs one kernel over all its rows with one backend
//! (dispatched once per call, never per row).

use crate::kernel::distance::{Pair, RowPairs};
use crate::loss::check_len;
use crate::{Backend, Error, Rows};

impl Backend {
    /// Squared Euclidean distance `Σ (a_i − b_i)²`, computed in the difference form.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] if the slices differ in length.
    ///
    /// # Examples
    /// ```
    /// use triplet_simd::Backend;
    /// let d = Backend::detect().sq_l2(&[1.0, 2.0, 3.0], &[1.1, 2.0, 3.3])?;
    /// assert!((d - 0.10).abs() < 1e-6);
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    #[doc(alias = "sqeuclidean")]
    #[inline(always)]
    pub fn sq_l2(&self, a: &[f32], b: &[f32]) -> Result<f32, Error> {
        check_len("length of b", a.len(), b.len())?;
        Ok(self.run(Pair::<false> { a, b }))
    }

    /// Euclidean distance `sqrt(Σ (a_i − b_i)²)` (the square root of [`Backend::sq_l2`], correctly rounded).
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] if the slices differ in length.
    ///
    /// # Examples
    /// ```
    /// use triplet_simd::Backend;
    /// let d = Backend::detect().l2(&[1.0, 2.0, 3.0], &[1.1, 2.0, 3.3])?;
    /// assert!((d - 0.316_227_77).abs() < 1e-6);
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    #[doc(alias = "euclidean")]
    #[inline(always)]
    pub fn l2(&self, a: &[f32], b: &[f32]) -> Result<f32, Error> {
        check_len("length of b", a.len(), b.len())?;
        Ok(self.run(Pair::<true> { a, b }))
    }

    /// `out[r] = sq_l2(a_r, b_r)` for every row; each view has its own stride.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] if the views differ in rows or dim, or `out.len()` is not the row count.
    ///
    /// # Examples
    /// ```
    /// use triplet_simd::{Backend, Rows};
    /// // Anchors and positives interleaved as [a0 p0 a1 p1], rows of 2.
    /// let x = [0.0, 0.0, 3.0, 4.0, 1.0, 1.0, 1.0, 2.0];
    /// let a = Rows::new(&x, 2, 2, 4)?;
    /// let p = Rows::new(&x[2..], 2, 2, 4)?;
    /// let mut out = [0.0; 2];
    /// Backend::detect().sq_l2_rows(a, p, &mut out)?;
    /// assert_eq!(out, [25.0, 1.0]);
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    #[inline(always)]
    pub fn sq_l2_rows(&self, a: Rows<'_>, b: Rows<'_>, out: &mut [f32]) -> Result<(), Error> {
        self.rows(a, b, out, false)
    }

    /// `out[r] = l2(a_r, b_r)` for every row; each view has its own stride.
    ///
    /// # Errors
    /// As [`Backend::sq_l2_rows`].
    /// # Examples
    /// ```
    /// use triplet_simd::{Backend, Rows};
    /// let (a, b) = ([0.0, 0.0, 1.0, 1.0], [3.0, 4.0, 1.0, 1.0]);
    /// let mut out = [0.0; 2];
    /// Backend::detect().l2_rows(Rows::dense(&a, 2, 2)?, Rows::dense(&b, 2, 2)?, &mut out)?;
    /// assert_eq!(out, [5.0, 0.0]);
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    #[inline(always)]
    pub fn l2_rows(&self, a: Rows<'_>, b: Rows<'_>, out: &mut [f32]) -> Result<(), Error> {
        self.rows(a, b, out, true)
    }

    /// `out[r] = sq_l2(query, rows_r)`: one query against every row.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] if `query.len()` is not the rows' dim or `out.len()` not their count.
    ///
    /// # Examples
    /// ```
    /// use triplet_simd::{Backend, Rows};
    /// let db = [0.0, 0.0, 3.0, 4.0];
    /// let mut out = [0.0; 2];
    /// Backend::detect().sq_l2_one_to_many(&[0.0, 0.0], Rows::dense(&db, 2, 2)?, &mut out)?;
    /// assert_eq!(out, [0.0, 25.0]);
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    #[inline(always)]
    pub fn sq_l2_one_to_many(
        &self,
        query: &[f32],
        rows: Rows<'_>,
        out: &mut [f32],
    ) -> Result<(), Error> {
        self.one_to_many(query, rows, out, false)
    }

    /// `out[r] = l2(query, rows_r)`: one query against every row.
    ///
    /// # Errors
    /// As [`Backend::sq_l2_one_to_many`].
    /// # Examples
    /// ```
    /// use triplet_simd::{Backend, Rows};
    /// let db = [3.0, 4.0, 0.0, 1.0];
    /// let mut out = [0.0; 2];
    /// Backend::detect().l2_one_to_many(&[0.0, 0.0], Rows::dense(&db, 2, 2)?, &mut out)?;
    /// assert_eq!(out, [5.0, 1.0]);
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    #[inline(always)]
    pub fn l2_one_to_many(
        &self,
        query: &[f32],
        rows: Rows<'_>,
        out: &mut [f32],
    ) -> Result<(), Error> {
        self.one_to_many(query, rows, out, true)
    }

    #[inline(always)]
    fn rows(&self, a: Rows<'_>, b: Rows<'_>, out: &mut [f32], root: bool) -> Result<(), Error> {
        crate::loss::check_same_shape(crate::loss::B, a.rows(), a.dim(), b.rows(), b.dim())?;
        check_len("length of out", a.rows(), out.len())?;
        self.run(RowPairs { a, b, out, root });
        Ok(())
    }

    #[inline(always)]
    fn one_to_many(
        &self,
        query: &[f32],
        rows: Rows<'_>,
        out: &mut [f32],
        root: bool,
    ) -> Result<(), Error> {
        check_len("length of the query", rows.dim(), query.len())?;
        check_len("length of out", rows.rows(), out.len())?;
        let b = Rows::broadcast(query, rows.rows());
        self.run(RowPairs {
            a: rows,
            b,
            out,
            root,
        });
        Ok(())
    }
}

/// [`Backend::sq_l2`] on the detected backend.
///
/// # Errors
/// As [`Backend::sq_l2`].
///
/// # Examples
/// ```
/// let d = triplet_simd::sq_l2(&[1.0, 2.0, 3.0], &[1.1, 2.0, 3.3])?;
/// assert!((d - 0.10).abs() < 1e-6);
/// # Ok::<(), triplet_simd::Error>(())
/// ```
#[doc(alias = "sqeuclidean")]
#[inline(always)]
pub fn sq_l2(a: &[f32], b: &[f32]) -> Result<f32, Error> {
    Backend::auto().sq_l2(a, b)
}

/// [`Backend::l2`] on the detected backend.
///
/// # Errors
/// As [`Backend::l2`].
///
/// # Examples
/// ```
/// let d = triplet_simd::l2(&[1.0, 2.0, 3.0], &[1.1, 2.0, 3.3])?;
/// assert!((d - 0.316_227_77).abs() < 1e-6);
/// # Ok::<(), triplet_simd::Error>(())
/// ```
#[inline(always)]
pub fn l2(a: &[f32], b: &[f32]) -> Result<f32, Error> {
    Backend::auto().l2(a, b)
}

/// [`Backend::sq_l2_rows`] on the detected backend.
///
/// # Errors
/// As [`Backend::sq_l2_rows`].
///
/// # Examples
/// ```
/// use triplet_simd::Rows;
/// let (a, b) = ([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 0.0, 0.0]);
/// let mut out = [0.0; 2];
/// triplet_simd::sq_l2_rows(Rows::dense(&a, 2, 2)?, Rows::dense(&b, 2, 2)?, &mut out)?;
/// assert_eq!(out, [0.0, 25.0]);
/// # Ok::<(), triplet_simd::Error>(())
/// ```
#[inline(always)]
pub fn sq_l2_rows(a: Rows<'_>, b: Rows<'_>, out: &mut [f32]) -> Result<(), Error> {
    Backend::auto().sq_l2_rows(a, b, out)
}

/// [`Backend::l2_rows`] on the detected backend.
///
/// # Errors
/// As [`Backend::l2_rows`].
///
/// # Examples
/// ```
/// use triplet_simd::Rows;
/// let (a, b) = ([0.0, 0.0], [3.0, 4.0]);
/// let mut out = [0.0; 1];
/// triplet_simd::l2_rows(Rows::dense(&a, 1, 2)?, Rows::dense(&b, 1, 2)?, &mut out)?;
/// assert_eq!(out, [5.0]);
/// # Ok::<(), triplet_simd::Error>(())
/// ```
#[inline(always)]
pub fn l2_rows(a: Rows<'_>, b: Rows<'_>, out: &mut [f32]) -> Result<(), Error> {
    Backend::auto().l2_rows(a, b, out)
}

/// [`Backend::sq_l2_one_to_many`] on the detected backend.
///
/// # Errors
/// As [`Backend::sq_l2_one_to_many`].
///
/// # Examples
/// ```
/// use triplet_simd::Rows;
/// let db = [1.0, 1.0, 2.0, 2.0];
/// let mut out = [0.0; 2];
/// triplet_simd::sq_l2_one_to_many(&[1.0, 1.0], Rows::dense(&db, 2, 2)?, &mut out)?;
/// assert_eq!(out, [0.0, 2.0]);
/// # Ok::<(), triplet_simd::Error>(())
/// ```
#[inline(always)]
pub fn sq_l2_one_to_many(query: &[f32], rows: Rows<'_>, out: &mut [f32]) -> Result<(), Error> {
    Backend::auto().sq_l2_one_to_many(query, rows, out)
}

/// [`Backend::l2_one_to_many`] on the detected backend.
///
/// # Errors
/// As [`Backend::l2_one_to_many`].
///
/// # Examples
/// ```
/// use triplet_simd::Rows;
/// let db = [3.0, 4.0];
/// let mut out = [0.0; 1];
/// triplet_simd::l2_one_to_many(&[0.0, 0.0], Rows::dense(&db, 1, 2)?, &mut out)?;
/// assert_eq!(out, [5.0]);
/// # Ok::<(), triplet_simd::Error>(())
/// ```
#[inline(always)]
pub fn l2_one_to_many(query: &[f32], rows: Rows<'_>, out: &mut [f32]) -> Result<(), Error> {
    Backend::auto().l2_one_to_many(query, rows, out)
}
