//! Shared machinery of the fuzz targets: input decoding, strided views built from fuzz bytes, the list of
//! backends, and the oracles every target applies.
//!
//! Each target (`fuzz_targets/*.rs`) calls `run(data)` of its module here. What every target checks:
//! - no panic, whatever the input;
//! - a call returns `Err` exactly when its input is invalid, decided here independently of the crate
//!   (e.g. `(rows − 1)·stride + dim` with our own checked arithmetic), and the error is one of those the
//!   input deserves; on `Err` no output buffer is touched;
//! - every backend of [`Isa::ALL`] that [`Backend::new`] accepts (the three emulated ones always) gives
//!   bit-identical results (two NaNs count as equal);
//! - finite inputs with a finite oracle value give a result within
//!   [`triplet_simd::reference::sq_l2_bound`] of [`triplet_simd::reference::sq_l2`].
//!
//! # Input format (mirrored by `fuzz/gen_seeds.py`)
//! The input is read front to back; a read past its end yields zeros for every integer field and
//! benign pseudo-random values (seeded by the 4-byte header) for floats, so short inputs still make
//! long vectors. All integers are little-endian.
//! - header: `u32` seed.
//! - `size`: tag `u8` + `u16` payload `p`; by `tag % 8`: 0–3 `p % 160`; 4 `p`; 5 `usize::MAX − p`;
//!   6 `1 << (p % 64)`; 7 `usize::MAX / 2 + p`.
//! - `count`: tag `u8` + `u16` `p`; by `tag % 4`: 0–2 `p % 160`; 3 `p % (CAP + 1)`.
//! - `stride(dim)`: tag `u8` + `u16` `p`; by `tag % 4`: 0 `dim`; 1 `dim + p % 64`;
//!   2 `dim − 1 − p % 64` (saturating); 3 a nested `size`.
//! - `len(required)`: tag `u8` + `u16` `p`; by `tag % 4`: 0 `required`; 1 `required + p % 8`;
//!   2 `required − 1 − p % 8`; 3 `p % (CAP + 1)`; whenever the first three fall outside `0..=CAP`
//!   (or `required` overflowed), `p % (CAP + 1)`.
//! - `f32`: tag `u8` + `u32` payload `p`; by `tag % 8`: 0–1 `(p as i16) / 16`; 2 a normal number with
//!   mantissa `p & 0x7fffff`, exponent `(p >> 24) % 61 − 30` and sign `p >> 23 & 1`; 3–4 `from_bits(p)`;
//!   5 `SPECIALS[p % len]`; 6 the previous value's bits plus `p as i8`; 7 the previous value, negated if
//!   `p & 1`.

use triplet_simd::{Backend, Error, Isa, Rows, RowsMut, reference};

pub mod mining;
pub mod normalize;
pub mod one_to_many;
pub mod pair;
pub mod pairwise;
pub mod rows;
pub mod squared_error;
pub mod triplet;
pub mod triplet_indexed;

#[path = "../../tests/common/shared.rs"]
mod shared;
pub use shared::{SquaredErrorExt, TripletExt, block_sum};

/// Whether `FUZZ_DEBUG` is set: the targets then print each decoded case and what the calls returned
/// (e.g. `FUZZ_DEBUG=1 fuzz/target/x86_64-unknown-linux-gnu/release/rows fuzz/seeds/rows/*`).
pub fn debug() -> bool {
    static DEBUG: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *DEBUG.get_or_init(|| std::env::var_os("FUZZ_DEBUG").is_some())
}

/// Prints when [`debug`] is on.
#[macro_export]
macro_rules! debug {
    ($($t:tt)*) => {
        if $crate::debug() {
            eprintln!($($t)*);
        }
    };
}

/// Largest buffer (in `f32` values) a target allocates; keeps every execution fast.
pub const CAP: usize = 1 << 14;

/// Values worth hitting on purpose: signed zeros, NaNs (quiet, signalling, with payload), infinities,
/// subnormals, the overflow and underflow thresholds of a square, and huge magnitudes.
pub const SPECIALS: [f32; 30] = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    f32::INFINITY,
    f32::NEG_INFINITY,
    f32::NAN,
    -f32::NAN,
    f32::from_bits(0x7fc0_0001),
    f32::from_bits(0x7f80_0001),
    f32::MIN_POSITIVE,
    -f32::MIN_POSITIVE,
    f32::from_bits(1),
    -f32::from_bits(1),
    f32::from_bits(0x007f_ffff),
    f32::MAX,
    f32::MIN,
    1.8e19,
    1.85e19,
    -1.85e19,
    1e-20,
    1.084_202_2e-19,
    2.646_978e-23, // 2^-75: its square is subnormal
    f32::EPSILON,
    1.0 + f32::EPSILON,
    3.0e38,
    -3.0e38,
    65504.0,
    1e10,
];

/// A reader over the fuzz input; see the crate docs for the format.
pub struct Input<'a> {
    data: &'a [u8],
    pos: usize,
    rng: u64,
    prev: f32,
}

impl<'a> Input<'a> {
    /// Reads the header.
    pub fn new(data: &'a [u8]) -> Self {
        let mut inp = Input {
            data,
            pos: 0,
            rng: 0,
            prev: 0.0,
        };
        inp.rng = u64::from(inp.u32()) ^ 0x9e37_79b9_7f4a_7c15;
        inp
    }

    /// Whether every byte has been read.
    pub fn exhausted(&self) -> bool {
        self.pos >= self.data.len()
    }

    pub fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos = self.pos.saturating_add(1);
        b
    }
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    fn next_rng(&mut self) -> u64 {
        // splitmix64
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A dimension, row count or stride: usually small, sometimes huge enough to overflow.
    pub fn size(&mut self) -> usize {
        let (tag, p) = (self.u8(), self.u16());
        let p = usize::from(p);
        match tag % 8 {
            0..=3 => p % 160,
            4 => p,
            5 => usize::MAX - p,
            6 => 1 << (p % 64),
            _ => usize::MAX / 2 + p,
        }
    }

    /// A length that can be allocated (at most `cap`), usually small.
    pub fn count(&mut self, cap: usize) -> usize {
        let (tag, p) = (self.u8(), usize::from(self.u16()));
        match tag % 4 {
            0..=2 => (p % 160).min(cap),
            _ => p % (cap + 1),
        }
    }

    /// A stride for rows of `dim`: usually valid, sometimes too small or huge.
    pub fn stride(&mut self, dim: usize) -> usize {
        let (tag, p) = (self.u8(), usize::from(self.u16()));
        match tag % 4 {
            0 => dim,
            1 => dim.saturating_add(p % 64),
            2 => dim.saturating_sub(1 + p % 64),
            _ => self.size(),
        }
    }

    /// A buffer length (at most `CAP`) for a shape that needs `required` values: exact, longer,
    /// shorter or arbitrary.
    pub fn len(&mut self, required: Option<usize>) -> usize {
        let (tag, p) = (self.u8(), usize::from(self.u16()));
        let fallback = p % (CAP + 1);
        let want = match (tag % 4, required) {
            (0, Some(r)) => Some(r),
            (1, Some(r)) => r.checked_add(p % 8),
            (2, Some(r)) => r.checked_sub(1 + p % 8),
            _ => None,
        };
        want.filter(|&n| n <= CAP).unwrap_or(fallback)
    }

    /// One `f32`, any bit pattern possible; benign values once the input is exhausted.
    pub fn f32(&mut self) -> f32 {
        let v = if self.exhausted() {
            let r = self.next_rng();
            ((r % 8193) as f32 - 4096.0) / 64.0
        } else {
            let (tag, p) = (self.u8(), self.u32());
            match tag % 8 {
                0 | 1 => f32::from(p as u16 as i16) / 16.0,
                2 => {
                    let exp = (p >> 24) % 61 + 127 - 30;
                    f32::from_bits((p & 0x0080_0000) << 8 | exp << 23 | (p & 0x007f_ffff))
                }
                3 | 4 => f32::from_bits(p),
                5 => SPECIALS[p as usize % SPECIALS.len()],
                6 => f32::from_bits(
                    self.prev
                        .to_bits()
                        .wrapping_add_signed(i32::from(p as u8 as i8)),
                ),
                _ => {
                    if p & 1 == 1 {
                        -self.prev
                    } else {
                        self.prev
                    }
                }
            }
        };
        self.prev = v;
        v
    }

    /// `n` values.
    pub fn floats(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.f32()).collect()
    }

    /// `n` values related to `src` (for near-equal rows, whose differences cancel): by a mode byte,
    /// independent values, a copy of `src` with a few values replaced, or `src` nudged by a few ulps.
    pub fn related(&mut self, src: &[f32], n: usize) -> Vec<f32> {
        let src_at = |i: usize| {
            if src.is_empty() {
                0.0
            } else {
                src[i % src.len()]
            }
        };
        match self.u8() % 4 {
            0 | 1 => self.floats(n),
            2 => {
                let mut v: Vec<f32> = (0..n).map(src_at).collect();
                let k = self.u8() % 8;
                for _ in 0..k {
                    let i = usize::from(self.u16());
                    let x = self.f32();
                    if n > 0 {
                        v[i % n] = x;
                    }
                }
                v
            }
            _ => (0..n)
                .map(|i| {
                    let k = if self.exhausted() {
                        (self.next_rng() % 7) as i32 - 3
                    } else {
                        i32::from(self.u8() as i8)
                    };
                    f32::from_bits(src_at(i).to_bits().wrapping_add_signed(k))
                })
                .collect(),
        }
    }
}

/// `(rows − 1)·stride + dim` (0 for no rows), or `None` if it overflows.
pub fn required_len(rows: usize, dim: usize, stride: usize) -> Option<usize> {
    if rows == 0 {
        Some(0)
    } else {
        (rows - 1).checked_mul(stride)?.checked_add(dim)
    }
}

/// The errors a `rows × dim` view with `stride` over `len` values deserves (empty: it is valid).
pub fn shape_violations(len: usize, rows: usize, dim: usize, stride: usize) -> Vec<Error> {
    let mut v = Vec::new();
    if stride < dim {
        v.push(Error::StrideTooSmall {
            what: "",
            stride,
            dim,
        });
    }
    match required_len(rows, dim, stride) {
        None => v.push(Error::SizeOverflow {
            what: "",
            rows,
            stride,
            dim,
        }),
        Some(needed) if len < needed => v.push(Error::BufferTooShort {
            what: "",
            needed,
            len,
        }),
        Some(_) => {}
    }
    v
}

/// How a view's values are handed to the crate.
#[derive(Clone, Copy, Debug)]
pub enum Layout {
    /// `Rows::new(&backing[offset..offset + len], …)`.
    Floats { offset: usize, len: usize },
    /// `Rows::from_bytes(&bytes(backing)[byte_offset..byte_offset + byte_len], …)`.
    Bytes { byte_offset: usize, byte_len: usize },
}

/// A fuzzed view: its shape, how it is passed, and its backing values.
#[derive(Clone, Debug)]
pub struct ViewSpec {
    pub rows: usize,
    pub dim: usize,
    pub stride: usize,
    pub layout: Layout,
    pub backing: Vec<f32>,
}

impl ViewSpec {
    /// A view of `rows × dim` with a fuzzed stride, layout and buffer length; its values are `related`
    /// to `src` when given.
    pub fn decode(inp: &mut Input<'_>, rows: usize, dim: usize, src: Option<&[f32]>) -> Self {
        let stride = inp.stride(dim);
        let required = required_len(rows, dim, stride);
        let (layout, n) = match inp.u8() % 4 {
            3 => {
                let byte_offset = usize::from(inp.u8() % 8);
                let extra = inp.u8();
                let extra = if extra < 192 {
                    0
                } else {
                    usize::from(extra % 3) + 1
                };
                let byte_len = inp.len(required) * 4 + extra;
                let n = (byte_offset + byte_len).div_ceil(4);
                (
                    Layout::Bytes {
                        byte_offset,
                        byte_len,
                    },
                    n,
                )
            }
            _ => {
                let offset = usize::from(inp.u8() % 4);
                let len = inp.len(required);
                (Layout::Floats { offset, len }, offset + len)
            }
        };
        let backing = match src {
            Some(s) => inp.related(s, n),
            None => inp.floats(n),
        };
        ViewSpec {
            rows,
            dim,
            stride,
            layout,
            backing,
        }
    }

    /// The errors building this view deserves (empty: it is valid).
    pub fn violations(&self) -> Vec<Error> {
        match self.layout {
            Layout::Floats { len, .. } => shape_violations(len, self.rows, self.dim, self.stride),
            Layout::Bytes {
                byte_offset,
                byte_len,
            } => {
                let mut v = Vec::new();
                // The backing Vec<f32> is 4-aligned, so the address modulo 4 is the byte offset's.
                // An empty buffer holds zero values wherever it starts: never misaligned.
                if byte_offset % 4 != 0 && byte_len > 0 {
                    v.push(Error::Misaligned {
                        offset: byte_offset % 4,
                    });
                }
                if byte_len % 4 != 0 {
                    v.push(Error::ByteLength { len: byte_len });
                }
                if v.is_empty() {
                    v = shape_violations(byte_len / 4, self.rows, self.dim, self.stride);
                } else {
                    // Shape errors are acceptable too (the order of the checks is the crate's choice).
                    v.extend(shape_violations(
                        byte_len / 4,
                        self.rows,
                        self.dim,
                        self.stride,
                    ));
                }
                v
            }
        }
    }

    /// Index in `backing` of the view's first value (where the view is valid).
    pub fn base(&self) -> usize {
        match self.layout {
            Layout::Floats { offset, .. } => offset,
            Layout::Bytes { byte_offset, .. } => byte_offset / 4,
        }
    }

    /// Builds the view over `backing` (a copy of `self.backing`, or it).
    pub fn view<'a>(&self, backing: &'a [f32]) -> Result<Rows<'a>, Error> {
        match self.layout {
            Layout::Floats { offset, len } => Rows::new(
                &backing[offset..offset + len],
                self.rows,
                self.dim,
                self.stride,
            ),
            Layout::Bytes {
                byte_offset,
                byte_len,
            } => {
                let bytes: &[u8] = bytemuck::cast_slice(backing);
                Rows::from_bytes(
                    &bytes[byte_offset..byte_offset + byte_len],
                    self.rows,
                    self.dim,
                    self.stride,
                )
            }
        }
    }

    /// Builds the writable view over `backing`.
    pub fn view_mut<'a>(&self, backing: &'a mut [f32]) -> Result<RowsMut<'a>, Error> {
        match self.layout {
            Layout::Floats { offset, len } => RowsMut::new(
                &mut backing[offset..offset + len],
                self.rows,
                self.dim,
                self.stride,
            ),
            Layout::Bytes {
                byte_offset,
                byte_len,
            } => {
                let bytes: &mut [u8] = bytemuck::cast_slice_mut(backing);
                RowsMut::from_bytes(
                    &mut bytes[byte_offset..byte_offset + byte_len],
                    self.rows,
                    self.dim,
                    self.stride,
                )
            }
        }
    }

    /// Builds the view, checks that it errs exactly when it should, and checks its accessors.
    pub fn checked_view(&self, what: &str) -> Option<Rows<'_>> {
        let expected = self.violations();
        let res = self.view(&self.backing);
        debug!(
            "{what}: rows {} dim {} stride {} {:?} -> {:?}",
            self.rows,
            self.dim,
            self.stride,
            self.layout,
            res.as_ref().map(|_| "Ok")
        );
        check_result(what, &res, &expected, || format!("{self:?}"));
        let mut backing = self.backing.clone();
        let res_mut = self.view_mut(&mut backing);
        check_result(what, &res_mut, &expected, || format!("{self:?} (RowsMut)"));
        if let (Layout::Floats { offset, len }, true) = (self.layout, self.stride == self.dim) {
            // `dense` is `new` with `stride = dim`.
            let d = Rows::dense(&self.backing[offset..offset + len], self.rows, self.dim);
            check_result(what, &d, &expected, || format!("{self:?} (Rows::dense)"));
            let mut backing = self.backing.clone();
            let d = RowsMut::dense(&mut backing[offset..offset + len], self.rows, self.dim);
            check_result(what, &d, &expected, || format!("{self:?} (RowsMut::dense)"));
        }
        if let (Ok(v), Ok(m)) = (&res, &res_mut) {
            assert_eq!(
                (v.rows(), v.dim(), v.stride()),
                (self.rows, self.dim, self.stride)
            );
            assert_eq!(
                (m.rows(), m.dim(), m.stride()),
                (self.rows, self.dim, self.stride)
            );
            // First, last and one-past-the-last rows, read back through both views.
            let base = self.base();
            for r in [0, self.rows.saturating_sub(1), self.rows] {
                let want = (r < self.rows).then(|| {
                    let s = base + r * self.stride;
                    &self.backing[s..s + self.dim]
                });
                assert!(same_opt(v.row(r), want), "{what}: row({r}) of {self:?}");
                assert!(
                    same_opt(m.row(r), want),
                    "{what}: RowsMut::row({r}) of {self:?}"
                );
            }
            let mr = m.as_rows();
            assert_eq!(
                (mr.rows(), mr.dim(), mr.stride()),
                (self.rows, self.dim, self.stride)
            );
            if self.rows <= CAP {
                assert_eq!(v.iter().len(), self.rows);
            }
        }
        res.ok()
    }
}

fn same_opt(a: Option<&[f32]>, b: Option<&[f32]>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => same_slice(a, b),
        _ => false,
    }
}

/// Every backend this machine runs: all of [`Isa::ALL`] that [`Backend::new`] accepts. Also checks that
/// the portable ones are always accepted and that a refusal is `UnavailableIsa`.
pub fn backends() -> Vec<Backend> {
    let mut out = Vec::new();
    for isa in Isa::ALL {
        match Backend::new(isa) {
            Ok(b) => {
                assert_eq!(b.isa(), isa);
                assert!(isa.is_available());
                out.push(b);
            }
            Err(e) => {
                assert_eq!(e, Error::UnavailableIsa { isa: isa.name() });
                assert!(!isa.is_available());
                assert!(
                    !matches!(
                        isa,
                        Isa::Scalar | Isa::Emulated128 | Isa::Emulated256 | Isa::Emulated512
                    ),
                    "portable backend {isa} refused"
                );
            }
        }
    }
    assert!(out.iter().any(|b| b.isa() == Isa::detect()));
    out
}

/// Bit-identical, or both NaN.
pub fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// [`same`] for every element.
pub fn same_slice(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(&x, &y)| same(x, y))
}

/// Whether `got` is the error `want` stands for (message strings ignored; a length mismatch may name
/// its two sizes either way round).
pub fn error_matches(want: &Error, got: &Error) -> bool {
    match (want, got) {
        (
            Error::BufferTooShort { needed, len, .. },
            Error::BufferTooShort {
                needed: n2,
                len: l2,
                ..
            },
        ) => needed == n2 && len == l2,
        (
            Error::LengthMismatch {
                expected, found, ..
            },
            Error::LengthMismatch {
                expected: e2,
                found: f2,
                ..
            },
        ) => (expected, found) == (e2, f2) || (expected, found) == (f2, e2),
        (Error::Missing { .. }, Error::Missing { .. }) => true,
        _ => same_error(&unnamed(*want), &unnamed(*got)),
    }
}

/// The error with the names of its views blanked: the harness predicts the variant and its numbers,
/// the crate's tests check the names.
fn unnamed(e: Error) -> Error {
    match e {
        Error::StrideTooSmall { stride, dim, .. } => Error::StrideTooSmall {
            what: "",
            stride,
            dim,
        },
        Error::SizeOverflow {
            rows, stride, dim, ..
        } => Error::SizeOverflow {
            what: "",
            rows,
            stride,
            dim,
        },
        Error::CountOverflow { count, factor, .. } => Error::CountOverflow {
            what: "",
            count,
            factor,
        },
        e => e,
    }
}

/// `a == b`, except that a NaN parameter value equals any NaN (`Error`'s `PartialEq` compares the `f32`).
pub fn same_error(a: &Error, b: &Error) -> bool {
    match (a, b) {
        (
            Error::InvalidParameter { name, value, .. },
            Error::InvalidParameter {
                name: n2,
                value: v2,
                ..
            },
        ) => name == n2 && same(*value, *v2),
        _ => a == b,
    }
}

/// Asserts that `res` is `Ok` when `expected` is empty and otherwise an error matching one of them.
pub fn check_result<T: std::fmt::Debug>(
    what: &str,
    res: &Result<T, Error>,
    expected: &[Error],
    ctx: impl Fn() -> String,
) {
    match res {
        Ok(v) => assert!(
            expected.is_empty(),
            "{what}: returned Ok({v:?}) but the input is invalid ({expected:?}); {}",
            ctx()
        ),
        Err(e) => assert!(
            expected.iter().any(|w| error_matches(w, e)),
            "{what}: returned Err({e:?}) but expected {}; {}",
            if expected.is_empty() {
                "Ok (the input is valid)".to_string()
            } else {
                format!("one of {expected:?}")
            },
            ctx()
        ),
    }
}

/// Asserts that two results of different backends are identical (bits of every value, or the error).
pub fn check_same_result(
    what: &str,
    a: &Result<f32, Error>,
    b: &Result<f32, Error>,
    ctx: impl Fn() -> String,
) {
    let ok = match (a, b) {
        (Ok(x), Ok(y)) => same(*x, *y),
        (Err(x), Err(y)) => x == y,
        _ => false,
    };
    assert!(ok, "{what}: backends disagree: {a:?} vs {b:?}; {}", ctx());
}

/// Asserts two output buffers of different backends are bit-identical, naming the first difference.
pub fn check_same_slice(what: &str, a: &[f32], b: &[f32], ctx: impl Fn() -> String) {
    assert_eq!(a.len(), b.len(), "{what}: lengths differ");
    if let Some(i) = (0..a.len()).find(|&i| !same(a[i], b[i])) {
        panic!(
            "{what}: backends disagree at [{i}]: {:e} ({:#010x}) vs {:e} ({:#010x}); {}",
            a[i],
            a[i].to_bits(),
            b[i],
            b[i].to_bits(),
            ctx()
        );
    }
}

fn all_finite(x: &[f32]) -> bool {
    x.iter().all(|v| v.is_finite())
}

/// Short description of two rows for a failure message.
pub fn show_rows(x: &[f32], y: &[f32]) -> String {
    const MAX: usize = 64;
    let fmt = |v: &[f32]| {
        let s: Vec<String> = v.iter().take(MAX).map(|x| format!("{x:e}")).collect();
        let more = if v.len() > MAX {
            format!(", … ({} in all)", v.len())
        } else {
            String::new()
        };
        format!("[{}{more}]", s.join(", "))
    };
    format!("x = {}, y = {}", fmt(x), fmt(y))
}

/// The oracle value of `sq_l2(x, y)` and its allowed error, when both are meaningful (finite inputs,
/// finite exact value).
pub fn oracle(x: &[f32], y: &[f32]) -> Option<(f64, f64)> {
    if !all_finite(x) || !all_finite(y) {
        return None;
    }
    let exact = reference::sq_l2(x, y).expect("reference::sq_l2 on equal lengths");
    exact
        .is_finite()
        .then(|| (exact, reference::sq_l2_bound(x.len(), exact)))
}

/// Checks a fast `sq_l2(x, y)` against the oracle and its documented bound.
pub fn check_sq(what: &str, x: &[f32], y: &[f32], got: f32) {
    let Some((exact, bound)) = oracle(x, y) else {
        return;
    };
    let ok = if got.is_infinite() {
        // Infinite only if the exact value, within the bound, reaches f32::MAX.
        got > 0.0 && exact + bound >= f64::from(f32::MAX)
    } else {
        (f64::from(got) - exact).abs() <= bound
    };
    assert!(
        ok,
        "{what}: sq_l2 = {got:e} but exact = {exact:e}, bound = {bound:e} (n = {}); {}",
        x.len(),
        show_rows(x, y)
    );
}

/// Checks a fast `l2(x, y)`: the correctly rounded square root of the fast `sq_l2`, and (implied, but
/// checked on its own) within the bound's square root of the oracle.
pub fn check_l2(what: &str, x: &[f32], y: &[f32], sq: f32, got: f32) {
    assert!(
        same(got, sq.sqrt()),
        "{what}: l2 = {got:e} ({:#010x}) is not sqrt(sq_l2 = {sq:e}) = {:e}; {}",
        got.to_bits(),
        sq.sqrt(),
        show_rows(x, y)
    );
    let Some((exact, bound)) = oracle(x, y) else {
        return;
    };
    let half_ulp = f64::from(f32::EPSILON / 2.0);
    let lo = (exact - bound).max(0.0).sqrt() * (1.0 - half_ulp);
    let hi = (exact + bound).sqrt() * (1.0 + half_ulp);
    let ok = if got.is_infinite() {
        got > 0.0 && exact + bound >= f64::from(f32::MAX)
    } else {
        lo <= f64::from(got) && f64::from(got) <= hi
    };
    assert!(
        ok,
        "{what}: l2 = {got:e} outside [{lo:e}, {hi:e}] (exact sq = {exact:e}, bound = {bound:e}); {}",
        show_rows(x, y)
    );
}

/// One run of a two-output distance call: (label, `sq_l2` result and `out`, `l2` result and `out`).
pub type DistanceRun = (
    &'static str,
    Result<(), Error>,
    Vec<f32>,
    Result<(), Error>,
    Vec<f32>,
);

/// Runs a two-output distance call (`sq`, then `l2`, e.g. `sq_l2_rows`/`l2_rows`) on every backend and
/// through the free functions (`be = None`), each into a copy of `out0`; checks each result against the
/// expected errors, that nothing was written on error, and that all runs agree bit for bit. Returns the
/// first run's results and outputs.
pub fn distance_runs(
    (sq_name, l2_name): (&str, &str),
    out0: &[f32],
    expected: &[Error],
    ctx: impl Fn() -> String + Copy,
    mut call: impl FnMut(
        Option<Backend>,
        &mut [f32],
        &mut [f32],
    ) -> (Result<(), Error>, Result<(), Error>),
) -> DistanceRun {
    let mut runs: Vec<DistanceRun> = Vec::new();
    let names = backends()
        .into_iter()
        .map(|be| (be.isa().name(), Some(be)))
        .chain([("free fn", None)]);
    for (name, be) in names {
        let (mut sq, mut l2) = (out0.to_vec(), out0.to_vec());
        let (rs, rl) = call(be, &mut sq, &mut l2);
        check_result(&format!("{name} {sq_name}"), &rs, expected, ctx);
        check_result(&format!("{name} {l2_name}"), &rl, expected, ctx);
        if rs.is_err() {
            check_same_slice(
                &format!("{name} {sq_name} wrote out on error"),
                out0,
                &sq,
                ctx,
            );
        }
        if rl.is_err() {
            check_same_slice(
                &format!("{name} {l2_name} wrote out on error"),
                out0,
                &l2,
                ctx,
            );
        }
        runs.push((name, rs, sq, rl, l2));
    }
    let (first, rs0, sq0, rl0, l20) = &runs[0];
    crate::debug!(
        "{sq_name}: out.len() = {}, expected errors {expected:?}, got {rs0:?}; sq = {:?}",
        out0.len(),
        &sq0[..sq0.len().min(8)]
    );
    for (name, rs, sq, rl, l2) in &runs[1..] {
        assert_eq!(
            rs0,
            rs,
            "{sq_name} {first} vs {name}: results differ; {}",
            ctx()
        );
        assert_eq!(
            rl0,
            rl,
            "{l2_name} {first} vs {name}: results differ; {}",
            ctx()
        );
        check_same_slice(&format!("{sq_name} {first} vs {name}"), sq0, sq, ctx);
        check_same_slice(&format!("{l2_name} {first} vs {name}"), l20, l2, ctx);
    }
    runs.swap_remove(0)
}

/// An output buffer prefilled with fuzzed values (so that "nothing written on error" is checked).
pub fn out_buffer(inp: &mut Input<'_>, rows: usize) -> Vec<f32> {
    let len = match inp.u8() % 4 {
        0..=2 if rows <= CAP => rows,
        _ => inp.count(CAP),
    };
    let fill = inp.f32();
    vec![fill; len]
}
