//! The crate's one error type.

use core::fmt;

/// Everything that can go wrong in a call. Every public function validates its input and returns one of
/// these instead of panicking; nothing is written to an output buffer when an error is returned.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// A row stride shorter than the row length.
    StrideTooSmall {
        /// The stride that was given.
        stride: usize,
        /// The row length (dimension) it must be at least.
        dim: usize,
    },
    /// `(rows − 1)·stride + dim` does not fit in `usize`.
    SizeOverflow {
        /// Number of rows.
        rows: usize,
        /// Row stride.
        stride: usize,
        /// Row length.
        dim: usize,
    },
    /// A buffer holds fewer `f32` values than its shape needs.
    BufferTooShort {
        /// Which buffer (e.g. `"rows"`, `"out"`).
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
    /// A byte buffer is not aligned to 4 bytes, so it cannot be read as `f32` in place.
    Misaligned {
        /// The buffer's address modulo 4.
        offset: usize,
    },
    /// A byte buffer's length is not a multiple of 4.
    ByteLength {
        /// The length in bytes.
        len: usize,
    },
    /// A backend was chosen explicitly that this CPU (or this build) cannot run.
    UnavailableIsa {
        /// The backend's name.
        isa: &'static str,
    },
    /// A numeric parameter is out of its domain (NaN, infinite, or negative where it must not be).
    InvalidParameter {
        /// The parameter's name.
        name: &'static str,
        /// The value given.
        value: f32,
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

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::StrideTooSmall { stride, dim } => {
                write!(
                    f,
                    "row stride {stride} is smaller than the row length {dim}"
                )
            }
            Error::SizeOverflow { rows, stride, dim } => write!(
                f,
                "{rows} rows of length {dim} with stride {stride} need more elements than usize can count"
            ),
            Error::BufferTooShort { what, needed, len } => {
                write!(f, "{what} holds {len} values but its shape needs {needed}")
            }
            Error::LengthMismatch {
                what,
                expected,
                found,
            } => write!(f, "{what} is {found} but must be {expected}"),
            Error::Misaligned { offset } => write!(
                f,
                "byte buffer starts {offset} bytes past a 4-byte boundary, so it cannot be read as f32"
            ),
            Error::ByteLength { len } => {
                write!(
                    f,
                    "byte buffer of {len} bytes is not a whole number of f32 values"
                )
            }
            Error::UnavailableIsa { isa } => {
                write!(
                    f,
                    "the {isa} backend cannot run on this CPU or was not compiled in"
                )
            }
            Error::Missing { what } => write!(f, "missing {what}"),
            Error::InvalidParameter { name, value } => {
                write!(
                    f,
                    "{name} = {value} is not allowed (it must be finite and not negative)"
                )
            }
            Error::IndexOutOfRange {
                triplet,
                index,
                rows,
            } => write!(
                f,
                "triplet {triplet} names row {index} but the matrix has {rows} rows"
            ),
        }
    }
}

impl core::error::Error for Error {}
