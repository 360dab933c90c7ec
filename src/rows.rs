//! Validated strided views of `f32` rows.
//!
//! Row `r` of a view is `data[r·stride .. r·stride + dim]`. The shape is checked once, when the view is
//! built (overflow-checked: the buffer must hold `(rows − 1)·stride + dim` values, the last row needs no
//! padding after it); every kernel afterwards can index rows without further checks.

use crate::Error;

/// Elements a `rows × dim` view with `stride` needs: `(rows − 1)·stride + dim`, or 0 for no rows.
fn required_len(rows: usize, dim: usize, stride: usize) -> Result<usize, Error> {
    if stride < dim {
        return Err(Error::StrideTooSmall { stride, dim });
    }
    if rows == 0 {
        return Ok(0);
    }
    (rows - 1)
        .checked_mul(stride)
        .and_then(|n| n.checked_add(dim))
        .ok_or(Error::SizeOverflow { rows, stride, dim })
}

fn check(len: usize, rows: usize, dim: usize, stride: usize) -> Result<(), Error> {
    let needed = required_len(rows, dim, stride)?;
    if len < needed {
        return Err(Error::BufferTooShort {
            what: "row buffer",
            needed,
            len,
        });
    }
    Ok(())
}

fn cast_bytes(bytes: &[u8]) -> Result<&[f32], Error> {
    bytemuck::try_cast_slice(bytes).map_err(|e| byte_error(e, bytes.as_ptr() as usize, bytes.len()))
}

fn cast_bytes_mut(bytes: &mut [u8]) -> Result<&mut [f32], Error> {
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

/// A read-only strided view: `rows` rows of `dim` values, `stride` values apart.
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
        check(data.len(), rows, dim, stride)?;
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
    pub fn dense(data: &'a [f32], rows: usize, dim: usize) -> Result<Self, Error> {
        Self::new(data, rows, dim, dim)
    }

    /// A view over raw bytes (native-endian `f32`), read in place.
    ///
    /// # Errors
    /// [`Error::Misaligned`] if `bytes` does not start on a 4-byte boundary, [`Error::ByteLength`] if its
    /// length is not a multiple of 4, then as [`Rows::new`].
    pub fn from_bytes(
        bytes: &'a [u8],
        rows: usize,
        dim: usize,
        stride: usize,
    ) -> Result<Self, Error> {
        Self::new(cast_bytes(bytes)?, rows, dim, stride)
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Row length.
    pub fn dim(&self) -> usize {
        self.dim
    }
    /// Distance in values between the starts of consecutive rows.
    pub fn stride(&self) -> usize {
        self.stride
    }
    /// Row `r`, or `None` past the last row.
    pub fn row(&self, r: usize) -> Option<&'a [f32]> {
        if r < self.rows {
            Some(self.row_unchecked(r))
        } else {
            None
        }
    }
    /// Every row, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'a [f32]> + '_ {
        (0..self.rows).map(|r| self.row_unchecked(r))
    }

    /// Row `r` for `r < rows` (the shape was validated at construction, so this slice is in bounds).
    #[inline(always)]
    pub(crate) fn row_unchecked(&self, r: usize) -> &'a [f32] {
        let s = r * self.stride;
        &self.data[s..s + self.dim]
    }
}

/// A writable strided view: `rows` rows of `dim` values, `stride` values apart. Values between rows
/// (padding, or other rows of an interleaved buffer) are never written.
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
    pub fn new(data: &'a mut [f32], rows: usize, dim: usize, stride: usize) -> Result<Self, Error> {
        check(data.len(), rows, dim, stride)?;
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
    pub fn dense(data: &'a mut [f32], rows: usize, dim: usize) -> Result<Self, Error> {
        Self::new(data, rows, dim, dim)
    }

    /// A writable view over raw bytes (native-endian `f32`), written in place.
    ///
    /// # Errors
    /// As [`Rows::from_bytes`].
    pub fn from_bytes(
        bytes: &'a mut [u8],
        rows: usize,
        dim: usize,
        stride: usize,
    ) -> Result<Self, Error> {
        Self::new(cast_bytes_mut(bytes)?, rows, dim, stride)
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Row length.
    pub fn dim(&self) -> usize {
        self.dim
    }
    /// Distance in values between the starts of consecutive rows.
    pub fn stride(&self) -> usize {
        self.stride
    }
    /// Row `r`, or `None` past the last row.
    pub fn row(&self, r: usize) -> Option<&[f32]> {
        if r < self.rows {
            let s = r * self.stride;
            Some(&self.data[s..s + self.dim])
        } else {
            None
        }
    }
    /// A read-only view of the same rows.
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
