//! Shared test helpers: the backends to compare, generators weighted towards lane boundaries, and
//! bit-exact comparison.
#![allow(dead_code)]

use quickcheck::{Arbitrary, Gen};
use triplet_simd::{Backend, Isa};

mod shared;
#[allow(unused_imports)] // not every test file uses both
pub use shared::{SquaredErrorExt, TripletExt, block_sum};

/// Every backend this CPU runs plus the three emulated widths.
pub fn backends() -> Vec<Backend> {
    let mut v: Vec<Backend> = Isa::available()
        .map(|i| Backend::new(i).expect("available"))
        .collect();
    for isa in [Isa::Emulated128, Isa::Emulated256, Isa::Emulated512] {
        v.push(Backend::new(isa).expect("emulated backends run everywhere"));
    }
    v
}

/// Bit-identical, with any two NaNs equal.
pub fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

pub fn same_all(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(&x, &y)| same(x, y))
}

/// Dims weighted towards the lane boundaries of every width (4, 8, 16 lanes, 64 logical lanes).
pub const BOUNDARY_DIMS: [usize; 24] = [
    0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257,
];

pub fn gen_dim(g: &mut Gen) -> usize {
    match u8::arbitrary(g) % 4 {
        0 | 1 => *g.choose(&BOUNDARY_DIMS).unwrap(),
        2 => usize::arbitrary(g) % 300,
        _ => usize::arbitrary(g) % 2049,
    }
}

/// How values are drawn.
#[derive(Clone, Copy, Debug)]
pub enum Values {
    /// Magnitudes from 1e-30 to 1e18, both signs, some exact zeros.
    Wide,
    /// Like `Wide`, plus NaN and ±inf now and then.
    Special,
    /// Moderate values (|x| < 4), for loss and gradient checks.
    Unit,
}

pub fn gen_value(g: &mut Gen, kind: Values) -> f32 {
    let r = u32::arbitrary(g);
    if let Values::Special = kind {
        match r % 97 {
            0 => return f32::NAN,
            1 => return f32::INFINITY,
            2 => return f32::NEG_INFINITY,
            _ => {}
        }
    }
    let sign = if r & 1 == 0 { 1.0 } else { -1.0 };
    let frac = (u32::arbitrary(g) >> 8) as f64 / (1u32 << 24) as f64;
    match kind {
        Values::Unit => (sign * 4.0 * frac) as f32,
        _ => {
            if r % 53 == 3 {
                return 0.0;
            }
            let exp = -30.0 + 48.0 * ((u32::arbitrary(g) >> 8) as f64 / (1u32 << 24) as f64);
            (sign * (1.0 + frac) * 10f64.powf(exp)) as f32
        }
    }
}

/// A block of `rows` rows of `dim` values with `stride`, starting at `offset` in its buffer.
#[derive(Clone, Debug)]
pub struct Block {
    pub buf: Vec<f32>,
    pub offset: usize,
    pub rows: usize,
    pub dim: usize,
    pub stride: usize,
}

impl Block {
    pub fn random(g: &mut Gen, rows: usize, dim: usize, kind: Values) -> Block {
        let stride = dim + usize::arbitrary(g) % 3 * (1 + usize::arbitrary(g) % 5);
        let offset = usize::arbitrary(g) % 5;
        let len = offset
            + if rows == 0 {
                0
            } else {
                (rows - 1) * stride + dim
            };
        let buf = (0..len).map(|_| gen_value(g, kind)).collect();
        Block {
            buf,
            offset,
            rows,
            dim,
            stride,
        }
    }
    pub fn view(&self) -> triplet_simd::Rows<'_> {
        triplet_simd::Rows::new(&self.buf[self.offset..], self.rows, self.dim, self.stride)
            .expect("generated shapes are valid")
    }
    pub fn row(&self, r: usize) -> &[f32] {
        let s = self.offset + r * self.stride;
        &self.buf[s..s + self.dim]
    }
}

/// Two blocks of the same shape (rows, dim) with their own strides and offsets.
#[derive(Clone, Debug)]
pub struct PairCase {
    pub a: Block,
    pub b: Block,
    pub kind: Values,
}

impl Arbitrary for PairCase {
    fn arbitrary(g: &mut Gen) -> Self {
        let dim = gen_dim(g);
        let max_rows = if dim > 512 { 3 } else { 9 };
        let rows = usize::arbitrary(g) % max_rows;
        let kind = *g
            .choose(&[Values::Wide, Values::Special, Values::Unit])
            .unwrap();
        PairCase {
            a: Block::random(g, rows, dim, kind),
            b: Block::random(g, rows, dim, kind),
            kind,
        }
    }
}

/// Is `fast` within the documented bound of the f64 oracle `exact` for `n` elements?
pub fn within_bound(fast: f32, exact: f64, n: usize) -> bool {
    let bound = triplet_simd::reference::sq_l2_bound(n, exact);
    if fast.is_infinite() {
        return exact + bound >= f32::MAX as f64;
    }
    ((fast as f64) - exact).abs() <= bound
}

/// A committed fixture from `tests/data/`. The published package leaves the fixtures out (they are most
/// of its size): there, and only there (a packaged crate has `.cargo_vcs_info.json`), `None` skips the
/// test; in the repository a missing fixture is a failure.
pub fn fixture(name: &str) -> Option<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    match std::fs::read_to_string(dir.join("tests/data").join(name)) {
        Ok(t) => Some(t),
        Err(_) if dir.join(".cargo_vcs_info.json").exists() => {
            eprintln!("fixture {name} is not in the package: skipped");
            None
        }
        Err(e) => panic!("tests/data/{name}: {e}"),
    }
}
