//! Target `one_to_many`: `sq_l2_one_to_many` / `l2_one_to_many` (methods and free functions) with a
//! fuzzed query length, view shape and `out` length.
//!
//! Input: header, `size` rows and dim, the view (`ViewSpec::decode`), a byte (< 192: the query has the
//! view's dim when that is at most `CAP`, else its own `count`), the query's values (`related` to the
//! view's), the `out` buffer.

use triplet_simd::{Backend, Error, reference};

use crate::{CAP, Input, ViewSpec, check_l2, check_sq, out_buffer, same, show_rows};

pub fn run(data: &[u8]) {
    let mut inp = Input::new(data);
    let (rows, dim) = (inp.size(), inp.size());
    let spec = ViewSpec::decode(&mut inp, rows, dim, None);
    let qlen = if inp.u8() < 192 && dim <= CAP {
        dim
    } else {
        inp.count(CAP)
    };
    let query = inp.related(&spec.backing[spec.base().min(spec.backing.len())..], qlen);
    let out0 = out_buffer(&mut inp, rows);

    let Some(view) = spec.checked_view("view") else {
        return;
    };
    let ctx = || {
        format!(
            "view = {spec:?}, query = {query:?}, out.len() = {}",
            out0.len()
        )
    };

    let mut expected = Vec::new();
    if qlen != dim {
        expected.push(Error::LengthMismatch {
            what: "",
            expected: dim,
            found: qlen,
        });
    }
    if out0.len() != rows {
        expected.push(Error::LengthMismatch {
            what: "",
            expected: rows,
            found: out0.len(),
        });
    }

    let (_, rs0, sq0, _, l20) = &crate::distance_runs(
        ("sq_l2_one_to_many", "l2_one_to_many"),
        &out0,
        &expected,
        ctx,
        |be, sq, l2| match be {
            Some(be) => (
                be.sq_l2_one_to_many(&query, view, sq),
                be.l2_one_to_many(&query, view, l2),
            ),
            None => (
                triplet_simd::sq_l2_one_to_many(&query, view, sq),
                triplet_simd::l2_one_to_many(&query, view, l2),
            ),
        },
    );
    if rs0.is_err() {
        return;
    }
    let be = Backend::detect();
    for r in 0..rows {
        let row = view.row(r).unwrap();
        let what = format!("row {r}");
        let pair = be.sq_l2(&query, row).unwrap();
        assert!(
            same(pair, sq0[r]),
            "{what}: sq_l2_one_to_many gave {:e} but sq_l2(query, row) gives {pair:e}; {}",
            sq0[r],
            show_rows(&query, row)
        );
        check_sq(&what, &query, row, sq0[r]);
        check_l2(&what, &query, row, sq0[r], l20[r]);
        let _ = reference::l2(&query, row).unwrap();
    }
}
