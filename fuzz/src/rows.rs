//! Target `rows`: `Rows::new` / `Rows::from_bytes` (and `RowsMut`) with fuzzed shapes, then
//! `sq_l2_rows` / `l2_rows` on every backend and the free functions, with a fuzzed `out` length.
//!
//! Input: header, `size` rows and dim of a, view a (`ViewSpec::decode`), a byte (< 192: b has a's
//! shape, else its own `size` rows and dim), view b (values `related` to a's), the `out` buffer.

use triplet_simd::{Backend, Error, Rows, reference};

use crate::{Input, ViewSpec, check_l2, check_result, check_sq, out_buffer, same, show_rows};

pub fn run(data: &[u8]) {
    let mut inp = Input::new(data);
    let (rows, dim) = (inp.size(), inp.size());
    let sa = ViewSpec::decode(&mut inp, rows, dim, None);
    let (rows_b, dim_b) = if inp.u8() < 192 {
        (rows, dim)
    } else {
        (inp.size(), inp.size())
    };
    let sb = ViewSpec::decode(&mut inp, rows_b, dim_b, Some(&sa.backing));
    let out0 = out_buffer(&mut inp, rows);

    let (Some(a), Some(b)) = (sa.checked_view("view a"), sb.checked_view("view b")) else {
        return;
    };
    let ctx = || format!("a = {sa:?}, b = {sb:?}, out.len() = {}", out0.len());

    let expected = call_violations(a, b, out0.len());
    let mut ref_out = vec![0.0f64; out0.len()];
    check_result(
        "reference::sq_l2_rows",
        &reference::sq_l2_rows(a, b, &mut ref_out),
        &expected,
        ctx,
    );

    let (_, rs0, sq0, _, l20) = &crate::distance_runs(
        ("sq_l2_rows", "l2_rows"),
        &out0,
        &expected,
        ctx,
        |be, sq, l2| match be {
            Some(be) => (be.sq_l2_rows(a, b, sq), be.l2_rows(a, b, l2)),
            None => (
                triplet_simd::sq_l2_rows(a, b, sq),
                triplet_simd::l2_rows(a, b, l2),
            ),
        },
    );
    if rs0.is_err() {
        return;
    }
    let be = Backend::detect();
    for r in 0..rows {
        let (x, y) = (a.row(r).unwrap(), b.row(r).unwrap());
        let what = format!("row {r}");
        // Each row is the pair distance of its two rows, to the bit.
        let pair = be.sq_l2(x, y).unwrap();
        assert!(
            same(pair, sq0[r]),
            "{what}: sq_l2_rows gave {:e} but sq_l2 of the row gives {pair:e}; {}",
            sq0[r],
            show_rows(x, y)
        );
        assert!(
            same_f64(ref_out[r], reference::sq_l2(x, y).unwrap()),
            "{what}: reference::sq_l2_rows"
        );
        check_sq(&what, x, y, sq0[r]);
        check_l2(&what, x, y, sq0[r], l20[r]);
    }
}

/// The errors a row-pair call deserves, given two valid views.
fn call_violations(a: Rows<'_>, b: Rows<'_>, out_len: usize) -> Vec<Error> {
    let mut v = Vec::new();
    let mismatch = |expected, found| Error::LengthMismatch {
        what: "",
        expected,
        found,
    };
    if a.rows() != b.rows() {
        v.push(mismatch(a.rows(), b.rows()));
    }
    if a.dim() != b.dim() {
        v.push(mismatch(a.dim(), b.dim()));
    }
    if out_len != a.rows() {
        v.push(mismatch(a.rows(), out_len));
    }
    v
}

fn same_f64(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}
