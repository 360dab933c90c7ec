//! Dispatch: which backend the default path picks, that forcing a missing one is an error, and that every
//! backend this CPU runs (plus pulp's emulated 4-, 8- and 16-lane ones) computes the same bits.
//!
//! CI also runs this file under `qemu-x86_64 -cpu Nehalem` / `-cpu Haswell…` with `TRIPLET_SIMD_EXPECT_ISA`
//! set, and for aarch64 under `qemu-aarch64`, so it stays small: emulated AVX2 is ~500× slower than native.

use triplet_simd::{Backend, Error, Isa, Rows};

/// Every hardware backend this CPU runs, then the emulated ones (which run everywhere).
fn backends() -> Vec<Backend> {
    Isa::available()
        .chain([Isa::Emulated128, Isa::Emulated256, Isa::Emulated512])
        .map(|isa| Backend::new(isa).unwrap_or_else(|e| panic!("{isa}: {e}")))
        .collect()
}

#[test]
fn detected_isa_is_the_expected_one() {
    let detected = Isa::detect();
    assert_eq!(Backend::detect().isa(), detected);
    assert_eq!(Backend::default().isa(), detected);
    assert_eq!(
        Isa::available().next(),
        Some(detected),
        "detect() is the widest available backend"
    );
    match std::env::var("TRIPLET_SIMD_EXPECT_ISA") {
        Ok(expected) => assert_eq!(
            detected.name(),
            expected,
            "TRIPLET_SIMD_EXPECT_ISA={expected} but Isa::detect() picked {detected}"
        ),
        Err(std::env::VarError::NotPresent) => {}
        Err(e) => panic!("TRIPLET_SIMD_EXPECT_ISA: {e}"),
    }
}

#[test]
fn aarch64_runs_neon() {
    let neon = Backend::new(Isa::Neon);
    if cfg!(target_arch = "aarch64") {
        // NEON is part of the aarch64 base ISA: this is the proof that the NEON backend ran (under QEMU in CI).
        assert_eq!(Isa::detect(), Isa::Neon);
        let neon = neon.expect("NEON is always available on aarch64");
        assert_eq!(neon.isa(), Isa::Neon);
        let x: Vec<f32> = (0..37).map(|i| i as f32).collect();
        let y: Vec<f32> = (0..37).map(|i| i as f32 + 2.0).collect();
        assert_eq!(neon.sq_l2(&x, &y), Ok(4.0 * 37.0));
        assert_eq!(neon.l2(&[0.0, 0.0], &[3.0, 4.0]), Ok(5.0));
    } else {
        assert_ne!(Isa::detect(), Isa::Neon);
        assert!(neon.is_err());
    }
}

#[test]
fn unavailable_backend_is_an_error() {
    // One backend that can never run on this architecture.
    let foreign = if cfg!(target_arch = "aarch64") {
        Isa::Avx512
    } else {
        Isa::Neon
    };
    let err = Backend::new(foreign).expect_err("a foreign instruction set must be refused");
    assert_eq!(
        err,
        Error::UnavailableIsa {
            isa: foreign.name()
        }
    );
    let msg = err.to_string();
    assert!(
        msg.contains(foreign.name()) && msg.contains("cannot run on this CPU"),
        "unexpected message: {msg}"
    );
    assert!(!foreign.is_available());

    // Every backend: `new`, `is_available` and `available` agree, and a refusal names the backend.
    let available: Vec<Isa> = Isa::available().collect();
    assert_eq!(available.last(), Some(&Isa::Scalar));
    for isa in Isa::ALL {
        match Backend::new(isa) {
            Ok(b) => {
                assert_eq!(b.isa(), isa);
                assert!(isa.is_available());
            }
            Err(e) => {
                assert_eq!(e, Error::UnavailableIsa { isa: isa.name() });
                assert!(!isa.is_available());
                assert!(!available.contains(&isa));
            }
        }
    }
    for isa in [
        Isa::Scalar,
        Isa::Emulated128,
        Isa::Emulated256,
        Isa::Emulated512,
    ] {
        assert!(isa.is_available(), "{isa} must run everywhere");
    }
}

const DIMS: [usize; 19] = [
    0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 127, 129, 1000,
];

/// A small deterministic generator (xorshift64*), so every backend and every machine sees the same inputs.
struct Gen(u64);

impl Gen {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// A value in [-scale, scale), with the low mantissa bits random so that rounding matters.
    fn value(&mut self, scale: f32) -> f32 {
        let u = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        (2.0 * u - 1.0) * scale
    }
    fn vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.value(scale)).collect()
    }
}

/// The input pairs for one dim: plain values of several magnitudes, then special values spliced in.
fn pairs(g: &mut Gen, dim: usize) -> Vec<(Vec<f32>, Vec<f32>)> {
    let mut out = vec![
        (g.vec(dim, 1.0), g.vec(dim, 1.0)),
        (g.vec(dim, 1e3), g.vec(dim, 1e-3)),
        (vec![0.0; dim], vec![-0.0; dim]),
    ];
    if dim == 0 {
        return out;
    }
    let last = dim - 1;
    let mid = dim / 2;
    let specials: [(usize, f32, f32); 7] = [
        (last, f32::NAN, 1.0),                // NaN in the tail
        (mid, 1.0, f32::NAN),                 // NaN in b
        (0, f32::INFINITY, 0.0),              // +inf
        (last, f32::NEG_INFINITY, 5.0),       // -inf in the tail
        (mid, f32::INFINITY, f32::INFINITY),  // inf − inf = NaN
        (0, 1e20, -1e20),                     // finite inputs, the square overflows
        (last, f32::MIN_POSITIVE / 8.0, 0.0), // subnormal
    ];
    for (at, x, y) in specials {
        let (mut a, mut b) = (g.vec(dim, 2.0), g.vec(dim, 2.0));
        a[at] = x;
        b[at] = y;
        out.push((a, b));
    }
    out
}

/// Equal bits, or both NaN (SEMANTICS.md: "NaN compares as both NaN").
fn same(x: f32, y: f32) -> bool {
    x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
}

fn assert_same(what: &str, isa: Isa, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len());
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            same(g, w),
            "{what}[{i}]: {isa} gives {g:e} ({:#010x}), {} gives {w:e} ({:#010x})",
            g.to_bits(),
            Isa::Scalar,
            w.to_bits()
        );
    }
}

/// Everything one backend computes on the shared inputs, flattened in a fixed order.
fn run_all(
    b: Backend,
    dim: usize,
    pairs: &[(Vec<f32>, Vec<f32>)],
    rows_data: &[RowsCase],
) -> Vec<f32> {
    let mut out = Vec::new();
    for (x, y) in pairs {
        out.push(b.sq_l2(x, y).unwrap());
        out.push(b.l2(x, y).unwrap());
    }
    for case in rows_data {
        let a = Rows::new(&case.a, case.rows, dim, case.stride_a).unwrap();
        let c = Rows::new(&case.b, case.rows, dim, case.stride_b).unwrap();
        let mut buf = vec![f32::from_bits(0x7fc0_dead); case.rows];
        b.sq_l2_rows(a, c, &mut buf).unwrap();
        out.extend_from_slice(&buf);
        b.l2_rows(a, c, &mut buf).unwrap();
        out.extend_from_slice(&buf);
        b.sq_l2_one_to_many(&case.b[..dim], a, &mut buf).unwrap();
        out.extend_from_slice(&buf);
    }
    out
}

struct RowsCase {
    rows: usize,
    stride_a: usize,
    stride_b: usize,
    a: Vec<f32>,
    b: Vec<f32>,
}

fn rows_cases(g: &mut Gen, dim: usize) -> Vec<RowsCase> {
    let mut cases = Vec::new();
    for (rows, stride_a, stride_b) in [
        (0, dim, dim + 3),
        (1, dim + 1, dim),
        (3, dim, dim),
        (3, dim + 1, dim + 7),
        (4, 3 * dim + 2, dim + 16),
    ] {
        let len = |stride: usize| {
            if rows == 0 {
                dim
            } else {
                (rows - 1) * stride + dim
            }
        };
        let mut a = g.vec(len(stride_a), 4.0);
        let mut b = g.vec(len(stride_b), 4.0);
        if rows == 4 && dim > 0 {
            // Specials in the padding must not matter; specials in a row must show up in that row only.
            a[dim] = f32::NAN; // padding after row 0 (stride > dim)
            a[3 * dim + 2 + dim - 1] = f32::INFINITY; // last element of row 1
            b[2 * (dim + 16) + dim / 2] = f32::NAN; // middle of row 2
        }
        cases.push(RowsCase {
            rows,
            stride_a,
            stride_b,
            a,
            b,
        });
    }
    cases
}

#[test]
fn every_backend_gives_the_same_bits() {
    let backends = backends();
    assert_eq!(backends[0].isa(), Isa::detect());
    let scalar = Backend::new(Isa::Scalar).unwrap();
    let mut g = Gen(0x9e37_79b9_7f4a_7c15);
    for dim in DIMS {
        let pairs = pairs(&mut g, dim);
        let rows = rows_cases(&mut g, dim);
        let want = run_all(scalar, dim, &pairs, &rows);
        for &b in &backends {
            let got = run_all(b, dim, &pairs, &rows);
            assert_same(&format!("dim {dim}"), b.isa(), &got, &want);
        }
        // The default path is the detected backend.
        for (x, y) in &pairs {
            let d = Backend::detect();
            assert!(same(
                triplet_simd::sq_l2(x, y).unwrap(),
                d.sq_l2(x, y).unwrap()
            ));
            assert!(same(triplet_simd::l2(x, y).unwrap(), d.l2(x, y).unwrap()));
        }
    }
}

#[test]
fn specials_give_the_ieee_answer_on_every_backend() {
    for b in backends() {
        let isa = b.isa();
        for dim in [1, 17, 65] {
            let mut x = vec![1.0f32; dim];
            let y = vec![1.0f32; dim];
            assert_eq!(b.sq_l2(&x, &y), Ok(0.0), "{isa} dim {dim}");
            x[dim - 1] = f32::NAN;
            assert!(b.sq_l2(&x, &y).unwrap().is_nan(), "{isa} dim {dim}: NaN");
            x[dim - 1] = f32::INFINITY;
            assert_eq!(b.sq_l2(&x, &y), Ok(f32::INFINITY), "{isa} dim {dim}: inf");
            assert_eq!(b.l2(&x, &y), Ok(f32::INFINITY), "{isa} dim {dim}: inf");
            x[0] = 1e20;
            assert_eq!(
                b.sq_l2(&x, &y),
                Ok(f32::INFINITY),
                "{isa} dim {dim}: overflow"
            );
        }
        // The design document's worked example.
        let (x, y) = ([1.0, 2.0, 3.0], [1.1, 2.0, 3.3]);
        assert!((b.sq_l2(&x, &y).unwrap() - 0.10).abs() < 1e-6, "{isa}");
        assert!((b.l2(&x, &y).unwrap() - 0.316_227_77).abs() < 1e-6, "{isa}");
    }
}
