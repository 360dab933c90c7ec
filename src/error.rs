//! The crate's one error type.

use core::fmt;

/// Everything that can go wrong in a call. Every public function validates its input and returns one of
/// these instead of panicking; nothing is written to an output buffer when an error is returned.
///
/// Every message names the argument it is about by the name the caller used (`data` of
/// [`Rows::new`](crate::Rows::new), `out`, the anchors of a triplet batch, the positive gradient, …).
///
/// # Examples
/// ```
/// use triplet_simd::{Error, Rows};
/// let e = Rows::new(&[1.0, 2.0, 3.0], 2, 2, 1).unwrap_err();
/// assert_eq!(e, Error::StrideTooSmall { what: "data", stride: 1, dim: 2 });
/// assert_eq!(e.to_string(), "data: row stride 1 is smaller than the row length 2");
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// A row stride shorter than the row length.
    StrideTooSmall {
        /// The view (the caller's name for it).
        what: &'static str,
        /// The stride that was given.
        stride: usize,
        /// The row length (dimension) it must be at least.
        dim: usize,
    },
    /// `(rows − 1)·stride + dim` does not fit in `usize`.
    SizeOverflow {
        /// The view (the caller's name for it).
        what: &'static str,
        /// Number of rows.
        rows: usize,
        /// Row stride.
        stride: usize,
        /// Row length.
        dim: usize,
    },
    /// A count derived from the input (`count × factor`) does not fit in `usize`.
    CountOverflow {
        /// What is being counted.
        what: &'static str,
        /// The count from the input.
        count: usize,
        /// What it is multiplied by.
        factor: usize,
    },
    /// A buffer holds fewer `f32` values than its shape needs.
    BufferTooShort {
        /// Which buffer (the caller's name for it).
        what: &'static str,
        /// How many values the shape needs.
        needed: usize,
        /// How many the buffer holds.
        len: usize,
    },
    /// Two things that must have the same size do not.
    LengthMismatch {
        /// What is being compared (e.g. `"row length of b"`).
        what: &'static str,
        /// The size that was expected.
        expected: usize,
        /// The size that was found.
        found: usize,
    },
    /// The `bytes` given to a `from_bytes` constructor do not start on a 4-byte boundary, so they cannot
    /// be read as `f32` in place.
    Misaligned {
        /// The buffer's address modulo 4.
        offset: usize,
    },
    /// The length of the `bytes` given to a `from_bytes` constructor is not a multiple of 4.
    ByteLength {
        /// The length in bytes.
        len: usize,
    },
    /// A backend was chosen explicitly that this CPU (or this build) cannot run.
    UnavailableIsa {
        /// The backend's name.
        isa: &'static str,
    },
    /// A numeric parameter is out of its domain.
    InvalidParameter {
        /// The parameter's name.
        name: &'static str,
        /// The value given.
        value: f32,
        /// The rule it breaks, as a sentence (e.g. `"the margin must be finite"`).
        rule: &'static str,
    },
    /// A row index of an index triplet is not below the number of rows.
    IndexOutOfRange {
        /// Which triplet holds the index.
        triplet: usize,
        /// The index.
        index: u32,
        /// The number of rows it must be below.
        rows: usize,
    },
    /// A configuration needs a buffer or setting that was not given.
    Missing {
        /// What is missing and why.
        what: &'static str,
    },
}

/// `"1 byte"`, `"2 bytes"`.
struct Count(usize, &'static str);

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = if self.0 == 1 { "" } else { "s" };
        write!(f, "{} {}{s}", self.0, self.1)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::StrideTooSmall { what, stride, dim } => {
                write!(
                    f,
                    "{what}: row stride {stride} is smaller than the row length {dim}"
                )
            }
            Error::SizeOverflow {
                what,
                rows,
                stride,
                dim,
            } => write!(
                f,
                "{what}: {} of length {dim} with stride {stride} need more elements than usize can count",
                Count(rows, "row")
            ),
            Error::CountOverflow {
                what,
                count,
                factor,
            } => write!(f, "{what}: {count} × {factor} does not fit in usize"),
            Error::BufferTooShort { what, needed, len } => {
                write!(
                    f,
                    "{what} holds {} but its shape needs {needed}",
                    Count(len, "value")
                )
            }
            Error::LengthMismatch {
                what,
                expected,
                found,
            } => write!(f, "{what} is {found} but must be {expected}"),
            Error::Misaligned { offset } => write!(
                f,
                "bytes: the buffer starts {} past a 4-byte boundary, so it cannot be read as f32 in place",
                Count(offset, "byte")
            ),
            Error::ByteLength { len } => {
                write!(
                    f,
                    "bytes: {} is not a whole number of f32 values (a multiple of 4)",
                    Count(len, "byte")
                )
            }
            Error::UnavailableIsa { isa } => {
                write!(
                    f,
                    "the {isa} backend cannot run on this CPU or was not compiled in"
                )
            }
            Error::Missing { what } => write!(f, "missing {what}"),
            Error::InvalidParameter { name, value, rule } => {
                write!(f, "{name} = {value} is not allowed: {rule}")
            }
            Error::IndexOutOfRange {
                triplet,
                index,
                rows,
            } => write!(
                f,
                "triplet {triplet} names row {index} but the embedding matrix has {}",
                Count(rows, "row")
            ),
        }
    }
}

impl core::error::Error for Error {}
