//! All-pairs distances: every entry bit-identical to the one-pair functions on every backend and
//! emulated width, the self form exactly symmetric with an exact zero diagonal, padding untouched, the
//! f64 oracle within its bound, and the errors.

mod common;

use common::{Block, Values, backends, gen_dim, same, within_bound};
use quickcheck::{Arbitrary, Gen, QuickCheck, TestResult};
use triplet_simd::{Backend, Distance, Error, Rows, RowsMut, reference};

/// The value the output buffer is filled with before a call: a NaN with a payload of its own, compared
/// by its bits, so any write to the padding shows.
const SENTINEL: u32 = 0x7fc0_1234;

/// An output buffer for an `n × m` matrix with row stride `m + pad`, filled with the sentinel.
fn out_buf(n: usize, m: usize, pad: usize) -> Vec<f32> {
    let len = if n == 0 { 0 } else { (n - 1) * (m + pad) + m };
    vec![f32::from_bits(SENTINEL); len + pad]
}

/// Runs one pairwise call (`y = None`: the self form) into a fresh sentinel-filled buffer.
fn run(
    be: &Backend,
    x: Rows<'_>,
    y: Option<Rows<'_>>,
    root: bool,
    pad: usize,
) -> Result<Vec<f32>, Error> {
    let m = y.map_or(x.rows(), |y| y.rows());
    let mut buf = out_buf(x.rows(), m, pad);
    let out = RowsMut::new(&mut buf, x.rows(), m, m + pad).unwrap();
    match (y, root) {
        (Some(y), false) => be.sq_l2_pairwise(x, y, out),
        (Some(y), true) => be.l2_pairwise(x, y, out),
        (None, false) => be.sq_l2_pairwise_self(x, out),
        (None, true) => be.l2_pairwise_self(x, out),
    }
    .map(|()| buf)
}

/// Checks every entry of one call against the one-pair function of the same backend, and that the
/// padding still holds the sentinel; returns the entries (row-major, no padding).
fn check_call(be: &Backend, x: Rows<'_>, y: Option<Rows<'_>>, root: bool, pad: usize) -> Vec<f32> {
    let yy = y.unwrap_or(x);
    let (n, m) = (x.rows(), yy.rows());
    let buf = run(be, x, y, root, pad).expect("valid shapes");
    let stride = m + pad;
    let mut entries = Vec::with_capacity(n * m);
    for (k, v) in buf.iter().enumerate() {
        let (i, j) = (k / stride, k % stride);
        if i < n && j < m {
            let (xi, yj) = (x.row(i).unwrap(), yy.row(j).unwrap());
            let one = if root {
                be.l2(xi, yj)
            } else {
                be.sq_l2(xi, yj)
            }
            .unwrap();
            assert!(
                same(*v, one),
                "{:?} {} [{i}][{j}] of {n}×{m}, dim {}: {v:e} but the one-pair function gives {one:e}",
                be.isa(),
                if root { "l2" } else { "sq_l2" },
                x.dim()
            );
            entries.push(*v);
        } else {
            assert_eq!(
                v.to_bits(),
                SENTINEL,
                "{:?}: padding at {k} written (row {i}, column {j}, {n}×{m}, stride {stride})",
                be.isa()
            );
        }
    }
    if y.is_none() {
        for i in 0..n {
            let diag = entries[i * n + i];
            if x.row(i).unwrap().iter().all(|v| v.is_finite()) {
                assert_eq!(diag.to_bits(), 0, "diagonal [{i}] = {diag:e}, not +0");
            } else {
                assert!(
                    diag.is_nan(),
                    "diagonal [{i}] of a non-finite row = {diag:e}"
                );
            }
            for j in 0..i {
                assert!(
                    same(entries[i * n + j], entries[j * n + i]),
                    "[{i}][{j}] not symmetric"
                );
            }
        }
    }
    entries
}

/// Every backend, both forms (two views, and `x` against itself), both metrics: each entry equals the
/// one-pair function, and every backend gives the same bits as the first.
fn check_all(x: Rows<'_>, y: Rows<'_>, pad: usize) {
    let bes = backends();
    for root in [false, true] {
        let first = check_call(&bes[0], x, Some(y), root, pad);
        let first_self = check_call(&bes[0], x, None, root, pad);
        for be in &bes[1..] {
            let e = check_call(be, x, Some(y), root, pad);
            let s = check_call(be, x, None, root, pad);
            assert!(
                common::same_all(&e, &first),
                "{:?} vs {:?}",
                be.isa(),
                bes[0].isa()
            );
            assert!(
                common::same_all(&s, &first_self),
                "self: {:?} vs {:?}",
                be.isa(),
                bes[0].isa()
            );
        }
    }
}

fn values(n: usize, seed: u32) -> Vec<f32> {
    (0..n)
        .map(|i| (((i as u32).wrapping_mul(2_654_435_761) ^ seed) as f32 * 1e-9).sin() * 3.0 + 0.25)
        .collect()
}

/// Every dim 0..=70 (all tails of 1, 4, 8, 16 lanes and past one 64-lane block) and the block
/// boundaries above, with row counts that are not multiples of the tile, odd strides and padding.
#[test]
fn every_entry_is_the_one_pair_function_on_every_backend() {
    let dims = (0..=70).chain([127, 128, 129, 191, 192, 193, 255, 256, 257, 1000]);
    for dim in dims {
        for &(n, m) in &[
            (0, 0),
            (0, 3),
            (3, 0),
            (1, 1),
            (2, 5),
            (5, 3),
            (7, 9),
            (9, 4),
        ] {
            let (sx, sy) = (dim + dim % 3, dim + 1);
            let bx = values(n.max(1) * sx + 2, dim as u32);
            let by = values(m.max(1) * sy + 1, !(dim as u32));
            let x = Rows::new(&bx[2..], n, dim, sx).unwrap();
            let y = Rows::new(&by[1..], m, dim, sy).unwrap();
            check_all(x, y, (n + m) % 3);
        }
    }
}

/// Larger matrices: many full tiles, every edge tile shape, and (at dim 300: 12 rows a chunk) several
/// chunks of y with a partial last one.
#[test]
fn larger_matrices_agree_across_backends() {
    for &(n, m, dim) in &[
        (33, 17, 64),
        (18, 31, 100),
        (40, 40, 9),
        (13, 26, 130),
        (37, 23, 300),
    ] {
        let (bx, by) = (values(n * dim, 1), values(m * dim, 2));
        check_all(
            Rows::dense(&bx, n, dim).unwrap(),
            Rows::dense(&by, m, dim).unwrap(),
            1,
        );
    }
}

#[test]
fn nan_and_infinite_rows_give_nan_and_inf_entries() {
    let dim = 37;
    let mut bx = values(6 * dim, 5);
    bx[2 * dim + 20] = f32::NAN; // row 2: NaN
    bx[4 * dim + 3] = f32::INFINITY; // row 4: +inf
    let by = values(3 * dim, 6);
    let (x, y) = (
        Rows::dense(&bx, 6, dim).unwrap(),
        Rows::dense(&by, 3, dim).unwrap(),
    );
    check_all(x, y, 2);
    for be in backends() {
        let d = run(&be, x, Some(y), false, 0).unwrap();
        for j in 0..3 {
            assert!(d[2 * 3 + j].is_nan(), "NaN row gave {}", d[2 * 3 + j]);
            assert_eq!(d[4 * 3 + j], f32::INFINITY);
            assert!(d[j].is_finite());
        }
        let s = run(&be, x, None, false, 0).unwrap();
        // inf − inf is NaN: the infinite row's own diagonal is NaN, as sq_l2 of the row with itself.
        assert!(s[4 * 6 + 4].is_nan() && s[2 * 6 + 2].is_nan());
        assert_eq!(s[4 * 6 + 1], f32::INFINITY);
        assert!((0..6).all(|j| s[2 * 6 + j].is_nan() && s[j * 6 + 2].is_nan()));
    }
}

/// Near-equal unit vectors, which the matmul form `‖x‖² + ‖y‖² − 2x·y` cancels to 0 (pytorch#42479):
/// here the exact value comes out, and exact duplicates give exactly 0 off the diagonal too.
#[test]
fn close_rows_do_not_cancel() {
    let dim = 128;
    let mut bx = vec![0.0f32; 3 * dim];
    for k in 0..dim {
        bx[k] = 1.0 / (dim as f32).sqrt();
        bx[dim + k] = bx[k];
        bx[2 * dim + k] = bx[k];
    }
    bx[2 * dim] += 1e-3;
    let x = Rows::dense(&bx, 3, dim).unwrap();
    for be in backends() {
        let s = run(&be, x, None, false, 0).unwrap();
        assert_eq!(s[1].to_bits(), 0);
        let exact = reference::sq_l2(x.row(0).unwrap(), x.row(2).unwrap()).unwrap();
        assert!(
            exact > 9e-7 && within_bound(s[2], exact, dim),
            "{} vs {exact}",
            s[2]
        );
    }
}

#[test]
fn the_oracle_matrix_is_within_the_bound() {
    for &(n, m, dim) in &[(5, 7, 3), (9, 4, 65), (3, 3, 300), (0, 2, 4), (2, 0, 4)] {
        let (bx, by) = (values(n * dim, 7), values(m * dim, 8));
        let (x, y) = (
            Rows::dense(&bx, n, dim).unwrap(),
            Rows::dense(&by, m, dim).unwrap(),
        );
        let mut exact = vec![0.0f64; n * m];
        reference::sq_l2_pairwise(x, y, &mut exact).unwrap();
        let fast = run(&Backend::detect(), x, Some(y), false, 0).unwrap();
        for k in 0..n * m {
            let (i, j) = (k / m, k % m);
            assert_eq!(
                exact[k],
                reference::sq_l2(x.row(i).unwrap(), y.row(j).unwrap()).unwrap()
            );
            assert!(
                within_bound(fast[k], exact[k], dim),
                "[{i}][{j}]: {} vs {}",
                fast[k],
                exact[k]
            );
        }
    }
}

#[test]
fn the_free_functions_are_the_detected_backend() {
    let (bx, by) = (values(5 * 20, 9), values(3 * 20, 10));
    let (x, y) = (
        Rows::dense(&bx, 5, 20).unwrap(),
        Rows::dense(&by, 3, 20).unwrap(),
    );
    let be = Backend::detect();
    let mut d = vec![0.0; 15];
    triplet_simd::sq_l2_pairwise(x, y, RowsMut::dense(&mut d, 5, 3).unwrap()).unwrap();
    assert!(common::same_all(
        &d,
        &run(&be, x, Some(y), false, 0).unwrap()
    ));
    triplet_simd::l2_pairwise(x, y, RowsMut::dense(&mut d, 5, 3).unwrap()).unwrap();
    assert!(common::same_all(
        &d,
        &run(&be, x, Some(y), true, 0).unwrap()
    ));
    let mut s = vec![0.0; 25];
    triplet_simd::sq_l2_pairwise_self(x, RowsMut::dense(&mut s, 5, 5).unwrap()).unwrap();
    assert!(common::same_all(&s, &run(&be, x, None, false, 0).unwrap()));
    triplet_simd::l2_pairwise_self(x, RowsMut::dense(&mut s, 5, 5).unwrap()).unwrap();
    assert!(common::same_all(&s, &run(&be, x, None, true, 0).unwrap()));
}

#[test]
fn bad_shapes_are_errors_and_nothing_is_written() {
    let (bx, by) = (values(4 * 6, 11), values(3 * 5, 12));
    let x = Rows::dense(&bx, 4, 6).unwrap();
    let y = Rows::dense(&by[..12], 3, 4).unwrap();
    let y_dim5 = Rows::dense(&by, 3, 5).unwrap();
    let mismatch = |what, expected, found| Error::LengthMismatch {
        what,
        expected,
        found,
    };
    for be in backends() {
        let mut buf = vec![f32::from_bits(SENTINEL); 40];
        let untouched = |b: &[f32]| b.iter().all(|v| v.to_bits() == SENTINEL);
        // y's rows are not as long as x's.
        let e = be
            .sq_l2_pairwise(x, y, RowsMut::dense(&mut buf, 4, 3).unwrap())
            .unwrap_err();
        assert_eq!(e, mismatch("row length of y", 6, 4));
        assert_eq!(e.to_string(), "row length of y is 4 but must be 6");
        let x5 = Rows::dense(&bx, 4, 5).unwrap();
        // out has the wrong number of rows / columns.
        let e = be
            .l2_pairwise(x5, y_dim5, RowsMut::dense(&mut buf, 3, 3).unwrap())
            .unwrap_err();
        assert_eq!(e, mismatch("row count of out", 4, 3));
        let e = be
            .sq_l2_pairwise(x5, y_dim5, RowsMut::new(&mut buf, 4, 4, 5).unwrap())
            .unwrap_err();
        assert_eq!(e, mismatch("row length of out", 3, 4));
        assert_eq!(e.to_string(), "row length of out is 4 but must be 3");
        // The self form needs x.rows() × x.rows().
        let e = be
            .sq_l2_pairwise_self(x, RowsMut::dense(&mut buf, 4, 3).unwrap())
            .unwrap_err();
        assert_eq!(e, mismatch("row length of out", 4, 3));
        let e = be
            .l2_pairwise_self(x, RowsMut::dense(&mut buf, 3, 4).unwrap())
            .unwrap_err();
        assert_eq!(e, mismatch("row count of out", 4, 3));
        assert!(untouched(&buf), "{:?} wrote on error", be.isa());
    }
    // Shapes that cannot be built: a stride below the row length, a size that overflows usize.
    let mut buf = [0.0f32; 8];
    assert_eq!(
        RowsMut::new(&mut buf, 2, 4, 3).unwrap_err(),
        Error::StrideTooSmall {
            what: "data",
            stride: 3,
            dim: 4
        }
    );
    assert!(matches!(
        RowsMut::new(&mut buf, usize::MAX, 2, 2),
        Err(Error::SizeOverflow { .. })
    ));
    // The oracle takes a dense buffer of n·m values; its product overflows for these views.
    let huge = Rows::new(&[], usize::MAX, 0, 0).unwrap();
    assert_eq!(
        reference::sq_l2_pairwise(huge, huge, &mut []).unwrap_err(),
        Error::CountOverflow {
            what: "entries of the distance matrix (rows of x × rows of y)",
            count: usize::MAX,
            factor: usize::MAX
        }
    );
}

/// `usize::MAX` rows of dim 0 against no rows: a valid, empty matrix, returned at once (no loop over
/// the rows); and against one row, an `out` that cannot exist.
#[test]
fn huge_empty_matrices_return_at_once() {
    let huge = Rows::new(&[], usize::MAX, 0, 0).unwrap();
    let none = Rows::new(&[], 0, 0, 0).unwrap();
    for be in backends() {
        be.sq_l2_pairwise(huge, none, RowsMut::new(&mut [], usize::MAX, 0, 0).unwrap())
            .unwrap();
        be.l2_pairwise(
            none,
            huge,
            RowsMut::new(&mut [], 0, usize::MAX, usize::MAX).unwrap(),
        )
        .unwrap();
    }
    assert!(matches!(
        RowsMut::new(&mut [], usize::MAX, 1, 1),
        Err(Error::SizeOverflow { .. } | Error::BufferTooShort { .. })
    ));
}

/// A random case: x, y with their own strides and offsets, the output's padding.
#[derive(Clone, Debug)]
struct Case {
    x: Block,
    y: Block,
    pad: usize,
}

impl Arbitrary for Case {
    fn arbitrary(g: &mut Gen) -> Self {
        let dim = gen_dim(g);
        let max_rows = if dim > 300 { 4 } else { 11 };
        let kind = *g
            .choose(&[Values::Wide, Values::Special, Values::Unit])
            .unwrap();
        let (n, m) = (
            usize::arbitrary(g) % max_rows,
            usize::arbitrary(g) % max_rows,
        );
        Case {
            x: Block::random(g, n, dim, kind),
            y: Block::random(g, m, dim, kind),
            pad: usize::arbitrary(g) % 4,
        }
    }
}

#[test]
fn quickcheck_every_backend_every_entry() {
    fn prop(c: Case) -> TestResult {
        check_all(c.x.view(), c.y.view(), c.pad);
        // The oracle bound on the finite entries.
        let (x, y) = (c.x.view(), c.y.view());
        let d = run(&Backend::detect(), x, Some(y), false, 0).unwrap();
        let mut exact = vec![0.0f64; x.rows() * y.rows()];
        reference::sq_l2_pairwise(x, y, &mut exact).unwrap();
        for (k, (&f, &e)) in d.iter().zip(&exact).enumerate() {
            if e.is_finite() && !within_bound(f, e, x.dim()) {
                return TestResult::error(format!("entry {k}: {f:e} vs {e:e}"));
            }
        }
        TestResult::passed()
    }
    QuickCheck::new()
        .tests(150)
        .quickcheck(prop as fn(Case) -> TestResult);
}

/// Every backend's `distance_pairwise` (both forms): `SqL2` and `Exact` are the bits of the named
/// functions, and `EpsInSqrt(eps)` is `sqrt(sq_l2(x_i, y_j) + eps)` in `f32` (the sum rounded, then the
/// correctly rounded root), entry by entry; padding untouched.
fn check_distance_forms(x: Rows<'_>, y: Rows<'_>, pad: usize, eps: f32) {
    for be in backends() {
        for (other, self_form) in [(Some(y), false), (None, true)] {
            let yy = other.unwrap_or(x);
            let (n, m) = (x.rows(), yy.rows());
            for distance in [Distance::SqL2, Distance::Exact, Distance::EpsInSqrt(eps)] {
                let mut buf = out_buf(n, m, pad);
                let out = RowsMut::new(&mut buf, n, m, m + pad).unwrap();
                if self_form {
                    be.distance_pairwise_self(x, out, distance).unwrap();
                } else {
                    be.distance_pairwise(x, yy, out, distance).unwrap();
                }
                for (k, v) in buf.iter().enumerate() {
                    let (i, j) = (k / (m + pad), k % (m + pad));
                    let want = if i < n && j < m {
                        let s = be.sq_l2(x.row(i).unwrap(), yy.row(j).unwrap()).unwrap();
                        match distance {
                            Distance::SqL2 => s,
                            Distance::Exact => s.sqrt(),
                            _ => (s + eps).sqrt(),
                        }
                    } else {
                        f32::from_bits(SENTINEL)
                    };
                    assert!(
                        same(*v, want),
                        "{:?} {distance:?} self {self_form}: entry ({i}, {j}) {v:e} vs {want:e}",
                        be.isa()
                    );
                }
                // The named functions give the same bits for their distances.
                let named = match distance {
                    Distance::SqL2 => Some(run(&be, x, other, false, pad).unwrap()),
                    Distance::Exact => Some(run(&be, x, other, true, pad).unwrap()),
                    _ => None,
                };
                if let Some(named) = named {
                    assert!(common::same_all(&named, &buf), "{distance:?}");
                }
            }
        }
    }
}

#[test]
fn every_symmetric_distance_has_an_all_pairs_form() {
    fn prop(c: Case, e: u8) -> bool {
        // eps 0, a tiny one, the Hermans et al. 1e-12, and large ones that dominate the sum.
        let eps = [0.0, 1e-12, f32::from_bits(1), 0.25, 3.0][usize::from(e) % 5];
        check_distance_forms(c.x.view(), c.y.view(), c.pad, eps);
        true
    }
    QuickCheck::new()
        .tests(100)
        .quickcheck(prop as fn(Case, u8) -> bool);
    // Every tail of the widest lane counts, past one 64-lane block.
    for dim in [1, 7, 16, 17, 63, 64, 65, 130] {
        let (bx, by) = (values(7 * dim, 3), values(5 * dim, 4));
        let x = Rows::dense(&bx, 7, dim).unwrap();
        check_distance_forms(x, Rows::dense(&by, 5, dim).unwrap(), 2, 1e-12);
    }
    // The free functions are the detected backend.
    let (bx, by) = (values(4 * 9, 5), values(3 * 9, 6));
    let (x, y) = (
        Rows::dense(&bx, 4, 9).unwrap(),
        Rows::dense(&by, 3, 9).unwrap(),
    );
    let be = Backend::detect();
    let eps = Distance::EpsInSqrt(1e-12);
    let (mut a, mut b) = (vec![0.0; 12], vec![0.0; 12]);
    triplet_simd::distance_pairwise(x, y, RowsMut::dense(&mut a, 4, 3).unwrap(), eps).unwrap();
    be.distance_pairwise(x, y, RowsMut::dense(&mut b, 4, 3).unwrap(), eps)
        .unwrap();
    assert!(common::same_all(&a, &b));
    let (mut a, mut b) = (vec![0.0; 16], vec![0.0; 16]);
    triplet_simd::distance_pairwise_self(x, RowsMut::dense(&mut a, 4, 4).unwrap(), eps).unwrap();
    be.distance_pairwise_self(x, RowsMut::dense(&mut b, 4, 4).unwrap(), eps)
        .unwrap();
    assert!(common::same_all(&a, &b));
}

#[test]
fn a_distance_without_an_all_pairs_form_is_an_error() {
    let x = [1.0f32, 2.0];
    let be = Backend::detect();
    for (distance, text) in [
        (
            Distance::EpsOnDiff(1e-6),
            "missing a symmetric distance: SqL2, Exact or EpsInSqrt (EpsOnDiff is not symmetric)",
        ),
        (
            Distance::EpsInSqrt(-1.0),
            "eps = -1 is not allowed: the eps of a distance must be finite and not negative",
        ),
        (
            Distance::EpsInSqrt(f32::NAN),
            "eps = NaN is not allowed: the eps of a distance must be finite and not negative",
        ),
        (
            Distance::EpsInSqrt(f32::INFINITY),
            "eps = inf is not allowed: the eps of a distance must be finite and not negative",
        ),
    ] {
        let mut d = [f32::from_bits(SENTINEL); 4];
        let x = Rows::dense(&x, 2, 1).unwrap();
        let e = be
            .distance_pairwise(x, x, RowsMut::dense(&mut d, 2, 2).unwrap(), distance)
            .unwrap_err();
        assert_eq!(e.to_string(), text);
        let e = be
            .distance_pairwise_self(x, RowsMut::dense(&mut d, 2, 2).unwrap(), distance)
            .unwrap_err();
        assert_eq!(e.to_string(), text);
        assert!(d.iter().all(|v| v.to_bits() == SENTINEL), "nothing written");
    }
}

/// Speed of the self form against the one-pair function in a loop over the same pairs (`N²/2` calls),
/// N = 1024, D = 128 (or the dims in `PAIRWISE_DIMS`, e.g. `16,32,128`), alternated; prints the medians
/// and minima. No assertion on time.
/// `cargo test --release --test pairwise -- --ignored --nocapture timing`
#[test]
#[ignore]
fn timing_self_form_against_one_pair_calls() {
    // D = 128 is the workload; the smaller dims show the share of the fold.
    let dims: Vec<usize> = match std::env::var("PAIRWISE_DIMS") {
        Ok(v) => v.split(',').map(|d| d.trim().parse().unwrap()).collect(),
        Err(_) => vec![128],
    };
    for dim in dims {
        time_self_form(1024, dim);
    }
}

fn time_self_form(n: usize, dim: usize) {
    use std::time::Instant;
    let bx = values(n * dim, 42);
    let x = Rows::dense(&bx, n, dim).unwrap();
    let be = Backend::detect();
    let mut out = vec![0.0f32; n * n];
    let mut loop_out = vec![0.0f32; n * n];
    let pairs = (n * (n - 1) / 2) as f64;
    let (mut fast, mut naive, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    let mut two_views = Vec::new();
    for round in 0..31 {
        let t = Instant::now();
        be.sq_l2_pairwise_self(x, RowsMut::dense(&mut out, n, n).unwrap())
            .unwrap();
        let tf = t.elapsed().as_secs_f64();
        // The two-view form on the same rows: all n² pairs, no mirrored writes.
        let t = Instant::now();
        be.sq_l2_pairwise(x, x, RowsMut::dense(&mut loop_out, n, n).unwrap())
            .unwrap();
        let tt = t.elapsed().as_secs_f64();
        let t = Instant::now();
        for i in 0..n {
            let xi = x.row(i).unwrap();
            for j in i + 1..n {
                loop_out[i * n + j] = be.sq_l2(xi, x.row(j).unwrap()).unwrap();
            }
        }
        let tn = t.elapsed().as_secs_f64();
        std::hint::black_box((&out, &loop_out));
        if round > 0 {
            fast.push(tf * 1e9 / pairs);
            naive.push(tn * 1e9 / pairs);
            ratio.push(tn / tf);
            two_views.push(tt * 1e9 / (n * n) as f64);
        }
    }
    for i in 0..n {
        for j in i + 1..n {
            assert!(same(out[i * n + j], loop_out[i * n + j]));
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let (fast_min, naive_min) = (min(&fast), min(&naive));
    println!(
        "{:?}, N = {n}, D = {dim}, {} rounds: sq_l2_pairwise_self median {:.3} ns/pair ({:.3} ms), \
         min {fast_min:.3}; sq_l2 loop median {:.3} ns/pair, min {naive_min:.3}; \
         median ratio loop/pairwise {:.2}x, ratio of the minima {:.2}x; two-view form sq_l2_pairwise(x, x) \
         median {:.3} ns per computed pair",
        be.isa(),
        ratio.len(),
        median(&mut fast),
        median(&mut fast) * pairs * 1e-6,
        median(&mut naive),
        median(&mut ratio),
        naive_min / fast_min,
        median(&mut two_views)
    );
}
