//! Distances: exact agreement of every backend and emulated width, the f64 oracle within its bound,
//! and the design document's worked example.

mod common;

use common::{PairCase, backends, same, same_all, within_bound};
use quickcheck::{QuickCheck, TestResult};
use triplet_simd::{Backend, Isa, Rows, reference};

fn qc() -> QuickCheck {
    QuickCheck::new().tests(400).max_tests(4000)
}

/// Every distance entry point on one backend, flattened for comparison.
fn all_outputs(be: &Backend, c: &PairCase) -> Vec<f32> {
    let (a, b) = (c.a.view(), c.b.view());
    let n = a.rows();
    let mut out = Vec::new();
    for r in 0..n {
        out.push(be.sq_l2(c.a.row(r), c.b.row(r)).unwrap());
        out.push(be.l2(c.a.row(r), c.b.row(r)).unwrap());
    }
    let mut rows = vec![0.0; n];
    be.sq_l2_rows(a, b, &mut rows).unwrap();
    out.extend_from_slice(&rows);
    be.l2_rows(a, b, &mut rows).unwrap();
    out.extend_from_slice(&rows);
    if n > 0 {
        be.sq_l2_one_to_many(c.b.row(0), a, &mut rows).unwrap();
        out.extend_from_slice(&rows);
        be.l2_one_to_many(c.b.row(0), a, &mut rows).unwrap();
        out.extend_from_slice(&rows);
    }
    out
}

#[test]
fn every_backend_gives_the_same_bits() {
    fn prop(c: PairCase) -> bool {
        let bes = backends();
        let first = all_outputs(&bes[0], &c);
        bes[1..]
            .iter()
            .all(|be| same_all(&first, &all_outputs(be, &c)))
    }
    qc().quickcheck(prop as fn(PairCase) -> bool);
}

#[test]
fn batched_and_one_to_many_equal_the_single_pair() {
    fn prop(c: PairCase) -> bool {
        let be = Backend::detect();
        let (a, n) = (c.a.view(), c.a.rows);
        let mut rows = vec![0.0; n];
        be.sq_l2_rows(a, c.b.view(), &mut rows).unwrap();
        let pairs_ok = (0..n).all(|r| same(rows[r], be.sq_l2(c.a.row(r), c.b.row(r)).unwrap()));
        if n == 0 {
            return pairs_ok;
        }
        be.l2_one_to_many(c.b.row(0), a, &mut rows).unwrap();
        pairs_ok && (0..n).all(|r| same(rows[r], be.l2(c.b.row(0), c.a.row(r)).unwrap()))
    }
    qc().quickcheck(prop as fn(PairCase) -> bool);
}

#[test]
fn fast_path_is_within_the_documented_bound_of_the_oracle() {
    fn prop(c: PairCase) -> TestResult {
        let be = Backend::detect();
        let mut checked = false;
        for r in 0..c.a.rows {
            let (x, y) = (c.a.row(r), c.b.row(r));
            if !x.iter().chain(y).all(|v| v.is_finite()) {
                continue;
            }
            let exact = reference::sq_l2(x, y).unwrap();
            let fast = be.sq_l2(x, y).unwrap();
            if !within_bound(fast, exact, x.len()) {
                return TestResult::error(format!("sq_l2 {fast} vs {exact} (n = {})", x.len()));
            }
            // l2: half the relative bound plus half an ulp of the result.
            let l2 = be.l2(x, y).unwrap() as f64;
            let exact_l2 = reference::l2(x, y).unwrap();
            let rel = reference::sq_l2_bound(x.len(), exact) / exact.max(f64::MIN_POSITIVE);
            let tol = exact_l2 * (rel / 2.0 + f64::from(f32::EPSILON))
                + (x.len() as f64 * f64::from(f32::from_bits(1))).sqrt();
            if l2.is_finite() && (l2 - exact_l2).abs() > tol {
                return TestResult::error(format!("l2 {l2} vs {exact_l2}"));
            }
            checked = true;
        }
        if checked {
            TestResult::passed()
        } else {
            TestResult::discard()
        }
    }
    qc().quickcheck(prop as fn(PairCase) -> TestResult);
}

/// Every dim from 0 to 2048 (all tails of every width), with odd offsets and a stride > dim.
#[test]
fn every_dim_up_to_2048_agrees_across_backends_and_with_the_oracle() {
    let buf: Vec<f32> = (0..2 * 2048 + 16)
        .map(|i| ((i as f32) * 0.618_034).sin() * 3.0 + 1e-3)
        .collect();
    let bes = backends();
    for dim in 0..=2048usize {
        let (x, y) = (&buf[1..1 + dim], &buf[2048 + 7..2048 + 7 + dim]);
        let d0 = bes[0].sq_l2(x, y).unwrap();
        let exact = reference::sq_l2(x, y).unwrap();
        assert!(within_bound(d0, exact, dim), "dim {dim}: {d0} vs {exact}");
        for be in &bes[1..] {
            let d = be.sq_l2(x, y).unwrap();
            assert!(
                same(d, d0),
                "dim {dim}: {:?} gives {d}, {:?} gives {d0}",
                be.isa(),
                bes[0].isa()
            );
        }
        // Two rows with stride dim + 3 out of the same buffer.
        if dim <= 1000 {
            let a = Rows::new(&buf[3..], 2, dim, dim + 3).unwrap();
            let b = Rows::new(&buf[2048 + 1..], 2, dim, dim + 3).unwrap();
            let mut o0 = [0.0; 2];
            bes[0].sq_l2_rows(a, b, &mut o0).unwrap();
            for be in &bes[1..] {
                let mut o = [0.0; 2];
                be.sq_l2_rows(a, b, &mut o).unwrap();
                assert!(same_all(&o, &o0), "rows, dim {dim}, {:?}", be.isa());
            }
        }
    }
}

#[test]
fn worked_example_of_the_design_document() {
    let (x, y) = ([1.0f32, 2.0, 3.0], [1.1f32, 2.0, 3.3]);
    for be in backends() {
        let sq = be.sq_l2(&x, &y).unwrap();
        let l2 = be.l2(&x, &y).unwrap();
        assert!(
            (sq as f64 - 0.10).abs() < 1e-6,
            "{:?}: sq_l2 = {sq}",
            be.isa()
        );
        assert!(
            (l2 as f64 - 0.316_227_766_0).abs() < 1e-6,
            "{:?}: l2 = {l2}",
            be.isa()
        );
    }
    // The oracle gives the f32 inputs' exact values (1.1 and 3.3 are not representable).
    assert!((reference::l2(&x, &y).unwrap() - 0.316_227_766_0).abs() < 1e-7);
}

#[test]
fn nan_in_gives_nan_out_and_inf_follows_ieee() {
    for be in backends() {
        let mut x = [1.0f32; 37];
        x[20] = f32::NAN;
        assert!(be.sq_l2(&x, &[0.0; 37]).unwrap().is_nan());
        assert!(be.l2(&[0.0; 37], &x).unwrap().is_nan());
        x[20] = f32::INFINITY;
        assert_eq!(be.sq_l2(&x, &[0.0; 37]).unwrap(), f32::INFINITY);
        // inf − inf is NaN.
        assert!(be.sq_l2(&x, &x).unwrap().is_nan());
        // Finite values whose squares overflow.
        assert_eq!(be.sq_l2(&[1e20; 5], &[-1e20; 5]).unwrap(), f32::INFINITY);
        // Squares that underflow to zero.
        assert_eq!(be.sq_l2(&[1e-30; 5], &[0.0; 5]).unwrap(), 0.0);
    }
}

#[test]
fn identical_rows_have_distance_exactly_zero() {
    let x: Vec<f32> = (0..777).map(|i| (i as f32).sqrt()).collect();
    for be in backends() {
        assert_eq!(be.sq_l2(&x, &x).unwrap().to_bits(), 0);
        assert_eq!(be.l2(&x, &x).unwrap().to_bits(), 0);
    }
}

#[test]
fn the_detected_backend_is_listed_and_runs() {
    let isa = Isa::detect();
    assert!(Isa::available().any(|i| i == isa));
    assert_eq!(Backend::detect().isa(), isa);
    assert_eq!(Isa::available().last(), Some(Isa::Scalar));
    let x = [1.0, 2.0];
    assert_eq!(triplet_simd::sq_l2(&x, &[0.0, 0.0]).unwrap(), 5.0);
}
