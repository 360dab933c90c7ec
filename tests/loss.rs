//! The squared-error losses: exact agreement of every backend, the f64 oracle, gradients against
//! central finite differences of the oracle, reductions, modes and edge cases.

mod common;

use common::{Block, SquaredErrorExt, Values, backends, gen_dim, same, same_all};
use quickcheck::{Arbitrary, Gen, QuickCheck};
use triplet_simd::{
    Backend, GradMode, Reduction, Rows, RowsMut, SquaredError, SquaredErrorKind, Upstream,
    reference,
};

const REDUCTIONS: [Reduction; 4] = [
    Reduction::None,
    Reduction::Sum,
    Reduction::Mean,
    Reduction::MeanActive,
];
const KINDS: [SquaredErrorKind; 2] = [SquaredErrorKind::SumOfSquares, SquaredErrorKind::Mse];

#[derive(Clone, Debug)]
struct Case {
    a: Block,
    b: Block,
    upstream: Vec<f32>,
    reduction: Reduction,
    kind: SquaredErrorKind,
    mode: GradMode,
    per_item: bool,
}

impl Arbitrary for Case {
    fn arbitrary(g: &mut Gen) -> Self {
        let dim = gen_dim(g).min(300);
        let rows = usize::arbitrary(g) % 7;
        let vals = *g
            .choose(&[Values::Unit, Values::Special, Values::Wide])
            .unwrap();
        let reduction = *g.choose(&REDUCTIONS).unwrap();
        Case {
            a: Block::random(g, rows, dim, vals),
            b: Block::random(g, rows, dim, vals),
            upstream: (0..rows)
                .map(|_| common::gen_value(g, Values::Unit))
                .collect(),
            reduction,
            kind: *g.choose(&KINDS).unwrap(),
            mode: *g
                .choose(&[GradMode::Overwrite, GradMode::Accumulate])
                .unwrap(),
            per_item: reduction == Reduction::None && bool::arbitrary(g),
        }
    }
}

/// Runs the fused call; returns the loss, per-row losses and both gradient buffers (seeded with 0.5).
fn run(be: Backend, c: &Case) -> (f32, Vec<f32>, Vec<f32>, Vec<f32>) {
    let (n, d) = (c.a.rows, c.a.dim);
    let mut per_row = vec![0.0; n];
    let (mut ga, mut gb) = (vec![0.5; n * d], vec![0.5; n * d]);
    let up = if c.per_item {
        Upstream::PerItem(&c.upstream)
    } else {
        Upstream::Scalar(0.75)
    };
    let loss = SquaredError::new(c.kind)
        .reduction(c.reduction)
        .backend(be)
        .fused(
            c.a.view(),
            c.b.view(),
            Some(&mut per_row),
            up,
            Some(RowsMut::dense(&mut ga, n, d).unwrap()),
            Some(RowsMut::dense(&mut gb, n, d).unwrap()),
            c.mode,
        )
        .unwrap();
    (loss, per_row, ga, gb)
}

#[test]
fn every_backend_gives_the_same_loss_and_gradient_bits() {
    fn prop(c: Case) -> bool {
        let bes = backends();
        let (l0, p0, a0, b0) = run(bes[0], &c);
        bes[1..].iter().all(|&be| {
            let (l, p, a, b) = run(be, &c);
            same(l, l0) && same_all(&p, &p0) && same_all(&a, &a0) && same_all(&b, &b0)
        })
    }
    QuickCheck::new()
        .tests(300)
        .quickcheck(prop as fn(Case) -> bool);
}

#[test]
fn forward_matches_the_oracle_and_the_fused_call() {
    fn prop(c: Case) -> bool {
        if !c
            .a
            .buf
            .iter()
            .chain(&c.b.buf)
            .all(|v| v.is_finite() && v.abs() < 1e15)
        {
            return true;
        }
        let be = Backend::detect();
        let n = c.a.rows;
        let mut per_row = vec![0.0; n];
        let loss = SquaredError::new(c.kind)
            .reduction(c.reduction)
            .forward(c.a.view(), c.b.view(), Some(&mut per_row))
            .unwrap();
        let mut exact_rows = vec![0.0; n];
        let exact = reference::squared_error(
            c.kind,
            c.reduction,
            c.a.view(),
            c.b.view(),
            Some(&mut exact_rows),
        )
        .unwrap();
        let close = |x: f32, e: f64| ((x as f64) - e).abs() <= 1e-5 * e.abs() + 1e-30;
        let (fused, fused_rows, _, _) = run(be, &c);
        close(loss, exact)
            && per_row.iter().zip(&exact_rows).all(|(&x, &e)| close(x, e))
            && same(fused, loss)
            && same_all(&fused_rows, &per_row)
    }
    QuickCheck::new()
        .tests(300)
        .quickcheck(prop as fn(Case) -> bool);
}

/// d loss / d a[r][i] and d loss / d b[r][i] against central differences of the f64 oracle. The loss is
/// quadratic, so the central difference is exact up to rounding.
#[test]
fn gradients_equal_central_differences_of_the_oracle() {
    let (n, d) = (3usize, 19usize);
    let a0: Vec<f32> = (0..n * d)
        .map(|i| ((i * 37 % 23) as f32 - 11.0) / 8.0)
        .collect();
    let b0: Vec<f32> = (0..n * d)
        .map(|i| ((i * 17 % 29) as f32 - 14.0) / 16.0)
        .collect();
    let g = 0.75f32;
    for kind in KINDS {
        for reduction in [
            Reduction::Sum,
            Reduction::Mean,
            Reduction::MeanActive,
            Reduction::None,
        ] {
            let (mut ga, mut gb) = (vec![0.0; n * d], vec![0.0; n * d]);
            let mut per_row = vec![0.0; n];
            SquaredError::new(kind)
                .reduction(reduction)
                .fused(
                    Rows::dense(&a0, n, d).unwrap(),
                    Rows::dense(&b0, n, d).unwrap(),
                    Some(&mut per_row),
                    Upstream::Scalar(g),
                    Some(RowsMut::dense(&mut ga, n, d).unwrap()),
                    Some(RowsMut::dense(&mut gb, n, d).unwrap()),
                    GradMode::Overwrite,
                )
                .unwrap();
            let oracle = |a: &[f32], b: &[f32]| {
                g as f64
                    * reference::squared_error(
                        kind,
                        reduction,
                        Rows::dense(a, n, d).unwrap(),
                        Rows::dense(b, n, d).unwrap(),
                        None,
                    )
                    .unwrap()
            };
            let h = 1.0 / 64.0;
            for i in 0..n * d {
                for (which, grad) in [(0, &ga), (1, &gb)] {
                    let (mut ap, mut am, mut bp, mut bm) =
                        (a0.clone(), a0.clone(), b0.clone(), b0.clone());
                    if which == 0 {
                        ap[i] += h;
                        am[i] -= h;
                    } else {
                        bp[i] += h;
                        bm[i] -= h;
                    }
                    let fd = if which == 0 {
                        (oracle(&ap, &b0) - oracle(&am, &b0)) / (2.0 * h as f64)
                    } else {
                        (oracle(&a0, &bp) - oracle(&a0, &bm)) / (2.0 * h as f64)
                    };
                    let got = grad[i] as f64;
                    assert!(
                        (got - fd).abs() <= 1e-6 * fd.abs().max(1.0),
                        "{kind:?} {reduction:?} grad {which} [{i}]: {got} vs {fd}"
                    );
                }
            }
        }
    }
}

#[test]
fn accumulate_adds_the_overwrite_result() {
    let mut g = Gen::new(64);
    for _ in 0..100 {
        let mut c = Case::arbitrary(&mut g);
        c.mode = GradMode::Overwrite;
        let (.., ga_over, gb_over) = run(Backend::detect(), &c);
        c.mode = GradMode::Accumulate;
        let (.., ga_acc, gb_acc) = run(Backend::detect(), &c);
        // The overwrite run started from 0.5 too, so the accumulated value is 0.5 + overwrite.
        let plus: Vec<f32> = ga_over.iter().map(|x| 0.5 + x).collect();
        assert!(same_all(&ga_acc, &plus));
        let plus: Vec<f32> = gb_over.iter().map(|x| 0.5 + x).collect();
        assert!(same_all(&gb_acc, &plus));
    }
}

#[test]
fn worked_example_mse_and_reductions() {
    let (x, y) = (
        [1.0f32, 2.0, 3.0, 1.1, 2.0, 3.3],
        [1.1f32, 2.0, 3.3, 1.0, 2.0, 3.0],
    );
    let (a, b) = (
        Rows::dense(&x, 2, 3).unwrap(),
        Rows::dense(&y, 2, 3).unwrap(),
    );
    for be in backends() {
        let mse = SquaredError::mse().backend(be);
        let sos = SquaredError::sum_of_squares().backend(be);
        let mut per_row = [0.0; 2];
        let sum = mse
            .reduction(Reduction::None)
            .forward(a, b, Some(&mut per_row))
            .unwrap();
        for p in per_row {
            assert!((p as f64 - 0.1 / 3.0).abs() < 1e-7, "{p}");
        }
        assert!((sum as f64 - 0.2 / 3.0).abs() < 1e-7);
        assert!(
            (mse.reduction(Reduction::Mean).forward(a, b, None).unwrap() as f64 - 0.1 / 3.0).abs()
                < 1e-7
        );
        assert!(
            (sos.reduction(Reduction::Sum).forward(a, b, None).unwrap() as f64 - 0.2).abs() < 1e-6
        );
        assert_eq!(
            mse.reduction(Reduction::MeanActive)
                .forward(a, b, None)
                .unwrap(),
            mse.reduction(Reduction::Mean).forward(a, b, None).unwrap()
        );
    }
}

#[test]
fn empty_batches_and_empty_rows_give_zero() {
    for reduction in REDUCTIONS {
        for kind in KINDS {
            let loss = SquaredError::new(kind).reduction(reduction);
            let e = Rows::dense(&[], 0, 5).unwrap();
            assert_eq!(loss.forward(e, e, Some(&mut [])).unwrap().to_bits(), 0);
            let z = Rows::dense(&[], 3, 0).unwrap();
            let mut per_row = [1.0; 3];
            assert_eq!(loss.forward(z, z, Some(&mut per_row)).unwrap().to_bits(), 0);
            assert_eq!(per_row, [0.0; 3]);
        }
    }
}

#[test]
fn nan_row_gives_nan_loss_and_gradient_for_that_row_only() {
    let mut x = vec![1.0f32; 2 * 20];
    x[25] = f32::NAN;
    let y = vec![0.5f32; 2 * 20];
    for be in backends() {
        let (mut ga, mut per_row) = (vec![0.0; 40], [0.0; 2]);
        let loss = SquaredError::mse()
            .reduction(Reduction::None)
            .backend(be)
            .fused(
                Rows::dense(&x, 2, 20).unwrap(),
                Rows::dense(&y, 2, 20).unwrap(),
                Some(&mut per_row),
                Upstream::Scalar(1.0),
                Some(RowsMut::dense(&mut ga, 2, 20).unwrap()),
                None,
                GradMode::Overwrite,
            )
            .unwrap();
        assert!(loss.is_nan() && per_row[1].is_nan() && !per_row[0].is_nan());
        assert!(ga[..20].iter().all(|g| *g == 2.0 * 0.5 / 20.0));
        assert!(ga[25].is_nan());
    }
}
