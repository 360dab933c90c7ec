//! Target `pairwise`: `sq_l2_pairwise` / `l2_pairwise` (two views) and `sq_l2_pairwise_self` /
//! `l2_pairwise_self`, methods on every backend and the free functions, with fuzzed shapes of `x`,
//! `y` and the output view.
//!
//! Input: header, a mode byte (< 64: the self form), `size` rows and dim of x, view x
//! (`ViewSpec::decode`); unless the self form: `size` rows of y, a byte (< 192: y has x's dim, else
//! its own `size`), view y (values `related` to x's); then a byte (< 192: the output is
//! `rows(x) × rows(y)`, else its own `size` rows and columns) and the output view (its values are
//! the buffer's prior content, which every call must leave alone outside the matrix, and everywhere
//! on error); last, a distance for `distance_pairwise` / `distance_pairwise_self` (`u8 % 4`: SqL2,
//! Exact, EpsInSqrt with an `f32` eps, EpsOnDiff).
//!
//! Checks, besides those of every target (`distance_runs`): each entry has the bits of the one-pair
//! function of its two rows, is within the oracle's bound, and `l2` is the root of `sq_l2`; the
//! padding and the rest of the buffer keep their bits; the self form is symmetric with a `+0`
//! diagonal for finite rows; `reference::sq_l2_pairwise` agrees with `reference::sq_l2`; the
//! `Distance` forms, on every backend, are the named functions' bits for SqL2 and Exact and
//! `sqrt(sq_l2 + eps)` for EpsInSqrt, and an error that writes nothing for EpsOnDiff or a bad eps.

use triplet_simd::{Backend, Distance, Error, Rows, reference};

use crate::{
    CAP, Input, ViewSpec, backends, check_l2, check_result, check_sq, same, same_slice, show_rows,
};

pub fn run(data: &[u8]) {
    let mut inp = Input::new(data);
    let self_form = inp.u8() < 64;
    let (n, dim) = (inp.size(), inp.size());
    let sx = ViewSpec::decode(&mut inp, n, dim, None);
    let sy = if self_form {
        None
    } else {
        let m = inp.size();
        let dim_y = if inp.u8() < 192 { dim } else { inp.size() };
        Some(ViewSpec::decode(&mut inp, m, dim_y, Some(&sx.backing)))
    };
    let (m, dim_y) = sy.as_ref().map_or((n, dim), |s| (s.rows, s.dim));
    let (out_rows, out_cols) = if inp.u8() < 192 {
        (n, m)
    } else {
        (inp.size(), inp.size())
    };
    let so = ViewSpec::decode(&mut inp, out_rows, out_cols, None);
    let distance = match inp.u8() % 4 {
        0 => Distance::SqL2,
        1 => Distance::Exact,
        2 => Distance::EpsInSqrt(inp.f32()),
        _ => Distance::EpsOnDiff(inp.f32()),
    };

    let Some(x) = sx.checked_view("view x") else {
        return;
    };
    let y = match &sy {
        Some(s) => match s.checked_view("view y") {
            Some(v) => Some(v),
            None => return,
        },
        None => None,
    };
    let out_errors = so.violations();
    if !out_errors.is_empty() {
        // An output view that cannot be built: the error it deserves, and nothing to call.
        let mut b = so.backing.clone();
        check_result("view out", &so.view_mut(&mut b), &out_errors, || {
            format!("{so:?}")
        });
        return;
    }
    let ctx = || format!("self = {self_form}, x = {sx:?}, y = {sy:?}, out = {so:?}");

    let mut expected = Vec::new();
    let mismatch = |expected, found| Error::LengthMismatch {
        what: "",
        expected,
        found,
    };
    if dim_y != dim {
        expected.push(mismatch(dim, dim_y));
    }
    if out_rows != n {
        expected.push(mismatch(n, out_rows));
    }
    if out_cols != m {
        expected.push(mismatch(m, out_cols));
    }

    let (_, rs0, sq0, _, l20) = &crate::distance_runs(
        (
            if self_form {
                "sq_l2_pairwise_self"
            } else {
                "sq_l2_pairwise"
            },
            if self_form {
                "l2_pairwise_self"
            } else {
                "l2_pairwise"
            },
        ),
        &so.backing,
        &expected,
        ctx,
        |be, sq, l2| {
            let (osq, ol2) = (so.view_mut(sq).unwrap(), so.view_mut(l2).unwrap());
            match (be, y) {
                (Some(be), Some(y)) => (be.sq_l2_pairwise(x, y, osq), be.l2_pairwise(x, y, ol2)),
                (Some(be), None) => (be.sq_l2_pairwise_self(x, osq), be.l2_pairwise_self(x, ol2)),
                (None, Some(y)) => (
                    triplet_simd::sq_l2_pairwise(x, y, osq),
                    triplet_simd::l2_pairwise(x, y, ol2),
                ),
                (None, None) => (
                    triplet_simd::sq_l2_pairwise_self(x, osq),
                    triplet_simd::l2_pairwise_self(x, ol2),
                ),
            }
        },
    );
    if rs0.is_err() {
        return;
    }
    let yv = y.unwrap_or(x);
    check_oracle_matrix(x, yv);
    check_distance_forms(x, y, &so, distance, sq0, l20);
    // Every value of the buffer: an entry of the matrix, or untouched.
    let (base, stride) = (so.base(), so.stride);
    let be = Backend::detect();
    for (k, (&got_sq, &got_l2)) in sq0.iter().zip(l20).enumerate() {
        let entry = k
            .checked_sub(base)
            .map(|o| (o / stride.max(1), o % stride.max(1)))
            .filter(|&(i, j)| i < n && j < m && stride > 0);
        let Some((i, j)) = entry else {
            assert_eq!(
                got_sq.to_bits(),
                so.backing[k].to_bits(),
                "value {k} of the output buffer (outside the {n}×{m} matrix) was written; {}",
                ctx()
            );
            assert_eq!(got_l2.to_bits(), so.backing[k].to_bits(), "l2: value {k}");
            continue;
        };
        let (xi, yj) = (x.row(i).unwrap(), yv.row(j).unwrap());
        let what = format!("[{i}][{j}]");
        let pair = be.sq_l2(xi, yj).unwrap();
        assert!(
            same(pair, got_sq),
            "{what}: the matrix has {got_sq:e} but sq_l2 of the rows gives {pair:e}; {}",
            show_rows(xi, yj)
        );
        check_sq(&what, xi, yj, got_sq);
        check_l2(&what, xi, yj, got_sq, got_l2);
        if self_form {
            let t = sq0[base + j * stride + i];
            assert!(
                same(t, got_sq),
                "{what}: not symmetric ({got_sq:e} vs {t:e})"
            );
            if i == j && xi.iter().all(|v| v.is_finite()) {
                assert_eq!(got_sq.to_bits(), 0, "{what}: diagonal of a finite row");
            }
        }
    }
}

/// `distance_pairwise(_self)` on every backend against the checked `sq_l2` / `l2` buffers of the same
/// shapes: the same bits (the root of `sq + eps` for EpsInSqrt), or an error with nothing written.
fn check_distance_forms(
    x: Rows<'_>,
    y: Option<Rows<'_>>,
    so: &ViewSpec,
    distance: Distance,
    sq: &[f32],
    l2: &[f32],
) {
    let eps = match distance {
        Distance::EpsInSqrt(e) if e.is_finite() && e >= 0.0 => Some(e),
        Distance::SqL2 | Distance::Exact => Some(0.0),
        _ => None,
    };
    let (n, m) = (x.rows(), y.map_or(x.rows(), |y| y.rows()));
    let (base, stride) = (so.base(), so.stride.max(1));
    for be in backends() {
        let mut buf = so.backing.clone();
        let out = so.view_mut(&mut buf).unwrap();
        let r = match y {
            Some(y) => be.distance_pairwise(x, y, out, distance),
            None => be.distance_pairwise_self(x, out, distance),
        };
        if eps.is_none() {
            assert!(r.is_err(), "{distance:?} accepted");
            assert!(same_slice(&buf, &so.backing), "written on error");
            continue;
        }
        r.unwrap_or_else(|e| panic!("{distance:?}: {e}"));
        for (k, &got) in buf.iter().enumerate() {
            let inside = k
                .checked_sub(base)
                .map(|o| (o / stride, o % stride))
                .is_some_and(|(i, j)| i < n && j < m && so.stride > 0);
            let want = match distance {
                _ if !inside => so.backing[k],
                Distance::SqL2 => sq[k],
                Distance::Exact => l2[k],
                _ => (sq[k] + eps.unwrap()).sqrt(),
            };
            assert!(
                same(got, want),
                "{:?} {distance:?}: value {k} is {got:e}, not {want:e}",
                be.isa()
            );
        }
    }
}

/// The oracle matrix, where it fits in the cap, is entry by entry the oracle's pair distance.
fn check_oracle_matrix(x: Rows<'_>, y: Rows<'_>) {
    let Some(len) = x.rows().checked_mul(y.rows()).filter(|&l| l <= CAP) else {
        return;
    };
    let mut exact = vec![0.0f64; len];
    reference::sq_l2_pairwise(x, y, &mut exact).expect("valid shapes");
    for (k, e) in exact.iter().enumerate() {
        let (i, j) = (k / y.rows(), k % y.rows());
        let want = reference::sq_l2(x.row(i).unwrap(), y.row(j).unwrap()).unwrap();
        assert!(
            e.to_bits() == want.to_bits() || (e.is_nan() && want.is_nan()),
            "reference::sq_l2_pairwise [{i}][{j}]"
        );
    }
    // A wrong length is an error, never a panic.
    let r = reference::sq_l2_pairwise(x, y, &mut exact[..len.saturating_sub(1)]);
    assert_eq!(
        r.is_err(),
        len > 0,
        "reference::sq_l2_pairwise with a short out"
    );
}
