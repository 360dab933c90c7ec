//! Validated strided views of `f32` rows.
//!
//! Row `r` of a view is `data[r·stride .. r·stride + dim]`. The shape is checked once, when the view is
//! built (overflow-checked: the buffer must hold `(rows − 1)·stride + dim` values, the last row needs no
//! padding after it); every kernel afterwards can index rows without further checks.

use crate::Error;

/// Elements a `rows × dim` view with `stride` needs: `(rows − 1)·stride + dim`, or 0 for no rows.
fn required_len(
    what: &'static str,
    rows: usize,
    dim: usize,
    stride: usize,
) -> Result<usize, Error> {
    if stride < dim {
        return Err(Error::StrideTooSmall { what, stride, dim });
    }
    if rows == 0 {
        return Ok(0);
    }
    (rows - 1)
        .checked_mul(stride)
        .and_then(|n| n.checked_add(dim))
        .ok_or(Error::SizeOverflow {
            what,
            rows,
            stride,
            dim,
        })
}

/// Checks that a buffer of `len` values (named `what` in errors) holds the shape.
pub(crate) fn check(
    what: &'static str,
    len: usize,
    rows: usize,
    dim: usize,
    stride: usize,
) -> Result<(), Error> {
    let needed = required_len(what, rows, dim, stride)?;
    if len < needed {
        return Err(Error::BufferTooShort { what, needed, len });
    }
    Ok(())
}

fn cast_bytes(bytes: &[u8]) -> Result<&[f32], Error> {
    // An empty buffer (an empty `Vec`'s pointer is dangling, often odd) holds zero values wherever it is.
    if bytes.is_empty() {
        return Ok(&[]);
    }
    bytemuck::try_cast_slice(bytes).map_err(|e| byte_error(e, bytes.as_ptr() as usize, bytes.len()))
}

fn cast_bytes_mut(bytes: &mut [u8]) -> Result<&mut [f32], Error> {
    if bytes.is_empty() {
        return Ok(&mut []);
    }
    let (addr, len) = (bytes.as_ptr() as usize, bytes.len());
    bytemuck::try_cast_slice_mut(bytes).map_err(|e| byte_error(e, addr, len))
}

fn byte_error(e: bytemuck::PodCastError, addr: usize, len: usize) -> Error {
    match e {
        bytemuck::PodCastError::TargetAlignmentGreaterAndInputNotAligned => {
            Error::Misaligned { offset: addr % 4 }
        }
        _ => Error::ByteLength { len },
    }
}

/// The name of an interleaved buffer's length in errors.
fn interleaved_len_name(what: &'static str) -> &'static str {
    match what {
        "data" => "length of data (whole groups of K rows of dim values)",
        _ => "length of the interleaved triplets (whole triplets of 3 rows of dim values)",
    }
}

/// A read-only strided view: `rows` rows of `dim` values, `stride` values apart.
/// # Examples
/// ```
/// use triplet_simd::Rows;
/// // Rows of 3 padded to a stride of 4 (the last row needs no padding).
/// let data = [1.0, 2.0, 3.0, -1.0, 4.0, 5.0, 6.0];
/// let v = Rows::new(&data, 2, 3, 4)?;
/// assert_eq!(v.iter().collect::<Vec<_>>(), [&[1.0, 2.0, 3.0][..], &[4.0, 5.0, 6.0][..]]);
/// # Ok::<(), triplet_simd::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Rows<'a> {
    data: &'a [f32],
    rows: usize,
    dim: usize,
    stride: usize,
}

impl<'a> Rows<'a> {
    /// A view of `rows` rows of length `dim`, row `r` starting at `data[r·stride]`.
    ///
    /// To view every third row of an interleaved `[a0 p0 n0 a1 …]` buffer, pass `&data[dim..]` with
    /// `stride = 3·dim`.
    ///
    /// # Errors
    /// [`Error::StrideTooSmall`] if `stride < dim`, [`Error::SizeOverflow`] if the shape's size overflows,
    /// [`Error::BufferTooShort`] if `data` holds fewer than `(rows − 1)·stride + dim` values.
    ///
    /// # Examples
    /// ```
    /// use triplet_simd::Rows;
    /// let data = [1.0, 2.0, 0.0, 3.0, 4.0]; // two rows of 2, stride 3, no padding after the last
    /// let v = Rows::new(&data, 2, 2, 3)?;
    /// assert_eq!(v.row(1), Some(&[3.0, 4.0][..]));
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    pub fn new(data: &'a [f32], rows: usize, dim: usize, stride: usize) -> Result<Self, Error> {
        Self::named("data", data, rows, dim, stride)
    }

    /// [`Rows::new`], with `what` as the view's name in errors.
    pub(crate) fn named(
        what: &'static str,
        data: &'a [f32],
        rows: usize,
        dim: usize,
        stride: usize,
    ) -> Result<Self, Error> {
        check(what, data.len(), rows, dim, stride)?;
        Ok(Self {
            data,
            rows,
            dim,
            stride,
        })
    }

    /// A view of `rows` densely packed rows (`stride = dim`).
    ///
    /// # Errors
    /// As [`Rows::new`].
    ///
    /// # Examples
    /// ```
    /// use triplet_simd::Rows;
    /// let v = Rows::dense(&[1.0, 2.0, 3.0, 4.0], 2, 2)?;
    /// assert_eq!(v.row(1), Some(&[3.0, 4.0][..]));
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    pub fn dense(data: &'a [f32], rows: usize, dim: usize) -> Result<Self, Error> {
        Self::new(data, rows, dim, dim)
    }

    /// The `K` member views of a dense interleaved buffer `[m0₀ m1₀ … m(K−1)₀ m0₁ m1₁ …]` of rows of
    /// length `dim`: a network's `[anchor, positive, negative]` output is `interleaved::<3>`. The number
    /// of groups is `data.len() / (K·dim)` (0 when `dim` is 0).
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] if `data` is not a whole number of groups (or `dim` is 0 and `data` is
    /// not empty); [`Error::CountOverflow`] if `K·dim` overflows.
    ///
    /// # Examples
    /// ```
    /// use triplet_simd::Rows;
    /// let out = [0.0, 0.0,  1.0, 0.0,  0.5, 0.0,   // a0 p0 n0
    ///            0.0, 1.0,  0.1, 0.0,  3.0, 0.0];  // a1 p1 n1
    /// let [a, p, n] = Rows::interleaved::<3>(&out, 2)?;
    /// assert_eq!((a.rows(), a.stride()), (2, 6));
    /// assert_eq!(p.row(0), Some(&[1.0, 0.0][..]));
    /// assert_eq!(a.row(1), Some(&[0.0, 1.0][..]));
    /// assert_eq!(n.row(1), Some(&[3.0, 0.0][..]));
    /// // Not a whole number of triplets: an error, not a panic.
    /// assert!(Rows::interleaved::<3>(&out[..10], 2).is_err());
    /// assert_eq!(Rows::interleaved::<3>(&[], 2)?[0].rows(), 0);
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    pub fn interleaved<const K: usize>(data: &'a [f32], dim: usize) -> Result<[Self; K], Error> {
        Self::interleaved_named("data", data, dim)
    }

    /// [`Rows::interleaved`], with `what` as the buffer's name in errors.
    pub(crate) fn interleaved_named<const K: usize>(
        what: &'static str,
        data: &'a [f32],
        dim: usize,
    ) -> Result<[Self; K], Error> {
        let group = K.checked_mul(dim).ok_or(Error::CountOverflow {
            what,
            count: dim,
            factor: K,
        })?;
        let groups = data.len().checked_div(group).unwrap_or(0);
        if groups * group != data.len() {
            return Err(Error::LengthMismatch {
                what: interleaved_len_name(what),
                expected: groups * group,
                found: data.len(),
            });
        }
        Self::interleaved_padded_named(what, data, groups, dim, dim)
    }

    /// The `K` member views of an interleaved buffer of `groups` groups whose member rows are `stride`
    /// values apart (so a group is `K·stride` values; padding after each row is allowed, and none is
    /// needed after the last).
    ///
    /// # Errors
    /// [`Error::StrideTooSmall`], [`Error::CountOverflow`] or [`Error::SizeOverflow`] for a shape that
    /// cannot exist, [`Error::BufferTooShort`] if `data` is shorter than the last member's last row's end.
    ///
    /// # Examples
    /// ```
    /// use triplet_simd::Rows;
    /// // Two groups of (query, key), rows of 2 padded to 3.
    /// let data = [1.0, 2.0, 0.0,  3.0, 4.0, 0.0,  5.0, 6.0, 0.0,  7.0, 8.0];
    /// let [q, k] = Rows::interleaved_padded::<2>(&data, 2, 2, 3)?;
    /// assert_eq!(k.row(1), Some(&[7.0, 8.0][..]));
    /// assert_eq!(q.stride(), 6);
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    pub fn interleaved_padded<const K: usize>(
        data: &'a [f32],
        groups: usize,
        dim: usize,
        stride: usize,
    ) -> Result<[Self; K], Error> {
        Self::interleaved_padded_named("data", data, groups, dim, stride)
    }

    fn interleaved_padded_named<const K: usize>(
        what: &'static str,
        data: &'a [f32],
        groups: usize,
        dim: usize,
        stride: usize,
    ) -> Result<[Self; K], Error> {
        if stride < dim {
            return Err(Error::StrideTooSmall { what, stride, dim });
        }
        let group = K.checked_mul(stride).ok_or(Error::CountOverflow {
            what,
            count: stride,
            factor: K,
        })?;
        // The last member's view covers the furthest element: check it, the others end before it.
        let last_start = (K.saturating_sub(1)).checked_mul(stride);
        let empty = Self {
            data: &[],
            rows: groups,
            dim,
            stride: group,
        };
        let mut views = [empty; K];
        if groups == 0 || K == 0 {
            return Ok(views.map(|v| Self { rows: 0, ..v }));
        }
        let needed = last_start
            .and_then(|s| {
                (groups - 1)
                    .checked_mul(group)
                    .and_then(|n| n.checked_add(dim))
                    .and_then(|n| n.checked_add(s))
            })
            .ok_or(Error::SizeOverflow {
                what,
                rows: groups.saturating_mul(K),
                stride,
                dim,
            })?;
        if data.len() < needed {
            return Err(Error::BufferTooShort {
                what,
                needed,
                len: data.len(),
            });
        }
        for (k, v) in views.iter_mut().enumerate() {
            v.data = &data[k * stride..];
        }
        Ok(views)
    }

    /// A view over raw bytes (native-endian `f32`), read in place.
    ///
    /// # Errors
    /// [`Error::Misaligned`] if `bytes` does not start on a 4-byte boundary, [`Error::ByteLength`] if its
    /// length is not a multiple of 4, then as [`Rows::new`]. An empty `bytes` is never misaligned.
    ///
    /// # Examples
    /// ```
    /// use triplet_simd::Rows;
    /// let values = [1.5f32, -2.0, 0.25];
    /// let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_ne_bytes()).collect();
    /// // A Vec<u8> is not guaranteed to be 4-byte aligned; copy into f32s if this fails.
    /// if let Ok(v) = Rows::from_bytes(&bytes, 1, 3, 3) {
    ///     assert_eq!(v.row(0), Some(&values[..]));
    /// }
    /// assert_eq!(Rows::from_bytes(&[], 0, 3, 3)?.rows(), 0);
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    pub fn from_bytes(
        bytes: &'a [u8],
        rows: usize,
        dim: usize,
        stride: usize,
    ) -> Result<Self, Error> {
        Self::new(cast_bytes(bytes)?, rows, dim, stride)
    }

    /// Number of rows.
    ///
    /// # Examples
    /// ```
    /// let v = triplet_simd::Rows::new(&[0.0; 7], 3, 1, 3)?;
    /// assert_eq!((v.rows(), v.dim(), v.stride()), (3, 1, 3));
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Row length.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(triplet_simd::Rows::dense(&[0.0; 6], 2, 3)?.dim(), 3);
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    pub fn dim(&self) -> usize {
        self.dim
    }
    /// Distance in values between the starts of consecutive rows.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(triplet_simd::Rows::new(&[0.0; 5], 2, 2, 3)?.stride(), 3);
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    pub fn stride(&self) -> usize {
        self.stride
    }
    /// Row `r`, or `None` past the last row.
    ///
    /// # Examples
    /// ```
    /// let v = triplet_simd::Rows::dense(&[1.0, 2.0], 2, 1)?;
    /// assert_eq!((v.row(1), v.row(2)), (Some(&[2.0][..]), None));
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    pub fn row(&self, r: usize) -> Option<&'a [f32]> {
        if r < self.rows {
            Some(self.row_unchecked(r))
        } else {
            None
        }
    }
    /// Every row, in order.
    ///
    /// # Examples
    /// ```
    /// let v = triplet_simd::Rows::new(&[1.0, 9.0, 2.0], 2, 1, 2)?;
    /// assert_eq!(v.iter().collect::<Vec<_>>(), [&[1.0][..], &[2.0][..]]);
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'a [f32]> + '_ {
        (0..self.rows).map(|r| self.row_unchecked(r))
    }

    /// Row `r` for `r < rows` (the shape was validated at construction, so this slice is in bounds).
    #[inline(always)]
    pub(crate) fn row_unchecked(&self, r: usize) -> &'a [f32] {
        let s = r * self.stride;
        &self.data[s..s + self.dim]
    }

    /// The values from row 0's first on (what the view was made from, less any skipped start).
    pub(crate) fn data(&self) -> &'a [f32] {
        self.data
    }
}

/// A writable strided view: `rows` rows of `dim` values, `stride` values apart. Values between rows
/// (padding, or other rows of an interleaved buffer) are never written.
///
/// # Examples
/// ```
/// use triplet_simd::{Backend, Rows, RowsMut};
/// let mut buf = [9.0f32; 5]; // two rows of 2 with a pad value between them
/// let mut out = RowsMut::new(&mut buf, 2, 2, 3)?;
/// assert_eq!((out.rows(), out.dim(), out.stride()), (2, 2, 3));
/// assert_eq!(out.row(1), Some(&[9.0, 9.0][..]));
/// assert_eq!(out.as_rows().rows(), 2);
/// # Ok::<(), triplet_simd::Error>(())
/// ```
#[derive(Debug)]
pub struct RowsMut<'a> {
    data: &'a mut [f32],
    rows: usize,
    dim: usize,
    stride: usize,
}

impl<'a> RowsMut<'a> {
    /// A writable view of `rows` rows of length `dim`, row `r` starting at `data[r·stride]`.
    ///
    /// # Errors
    /// As [`Rows::new`].
    /// See the example of [`RowsMut`].
    pub fn new(data: &'a mut [f32], rows: usize, dim: usize, stride: usize) -> Result<Self, Error> {
        Self::named("data", data, rows, dim, stride)
    }

    /// [`RowsMut::new`], with `what` as the view's name in errors.
    pub(crate) fn named(
        what: &'static str,
        data: &'a mut [f32],
        rows: usize,
        dim: usize,
        stride: usize,
    ) -> Result<Self, Error> {
        check(what, data.len(), rows, dim, stride)?;
        Ok(Self {
            data,
            rows,
            dim,
            stride,
        })
    }

    /// A writable view of densely packed rows (`stride = dim`).
    ///
    /// # Errors
    /// As [`Rows::new`].
    ///
    /// # Examples
    /// ```
    /// let mut g = [0.0f32; 6];
    /// assert_eq!(triplet_simd::RowsMut::dense(&mut g, 3, 2)?.rows(), 3);
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    pub fn dense(data: &'a mut [f32], rows: usize, dim: usize) -> Result<Self, Error> {
        Self::new(data, rows, dim, dim)
    }

    /// A writable view over raw bytes (native-endian `f32`), written in place.
    ///
    /// # Errors
    /// As [`Rows::from_bytes`].
    ///
    /// # Examples
    /// ```
    /// let mut words = [0u32; 4]; // 4-byte aligned storage, viewed as bytes
    /// let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut words);
    /// let v = triplet_simd::RowsMut::from_bytes(bytes, 2, 2, 2)?;
    /// assert_eq!(v.rows(), 2);
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    pub fn from_bytes(
        bytes: &'a mut [u8],
        rows: usize,
        dim: usize,
        stride: usize,
    ) -> Result<Self, Error> {
        Self::new(cast_bytes_mut(bytes)?, rows, dim, stride)
    }

    /// Number of rows (see the type's example).
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Row length (see the type's example).
    pub fn dim(&self) -> usize {
        self.dim
    }
    /// Distance in values between the starts of consecutive rows (see the type's example).
    pub fn stride(&self) -> usize {
        self.stride
    }
    /// Row `r`, or `None` past the last row (see the type's example).
    pub fn row(&self, r: usize) -> Option<&[f32]> {
        if r < self.rows {
            let s = r * self.stride;
            Some(&self.data[s..s + self.dim])
        } else {
            None
        }
    }
    /// A read-only view of the same rows (see the type's example).
    pub fn as_rows(&self) -> Rows<'_> {
        Rows {
            data: self.data,
            rows: self.rows,
            dim: self.dim,
            stride: self.stride,
        }
    }

    /// Rows `r`, `r + 1`, `r + 2` (all `< rows`), writable at once.
    #[inline(always)]
    pub(crate) fn three_rows_mut(&mut self, r: usize) -> [&mut [f32]; 3] {
        let (dim, stride) = (self.dim, self.stride);
        let (head, rest) = self.data[r * stride..].split_at_mut(stride);
        let (mid, tail) = rest.split_at_mut(stride);
        [&mut head[..dim], &mut mid[..dim], &mut tail[..dim]]
    }

    /// Row `r` for `r < rows`, writable.
    #[inline(always)]
    pub(crate) fn row_mut_unchecked(&mut self, r: usize) -> &mut [f32] {
        let s = r * self.stride;
        &mut self.data[s..s + self.dim]
    }
}

impl<'a> Rows<'a> {
    /// `rows` copies of one row (stride 0): lets a one-to-many call reuse the row-pair kernel.
    pub(crate) fn broadcast(row: &'a [f32], rows: usize) -> Self {
        Self {
            data: row,
            rows,
            dim: row.len(),
            stride: 0,
        }
    }
}

impl<'a> RowsMut<'a> {
    /// The whole buffer (row `r` at `[r·stride ..][.. dim]`), for kernels that write by index.
    pub(crate) fn into_data(self) -> &'a mut [f32] {
        self.data
    }
}
