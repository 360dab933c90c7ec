//! Target `one_to_many`: `sq_l2_one_to_many` / `l2_one_to_many` (methods and free functions) with a
//! fuzzed query length, view shape and `out` length.
//!
//! Input: header, `size` rows and dim, the view (`ViewSpec::decode`), a byte (< 192: the query has the
//! view's dim when that is at most `CAP`, else its own `count`), the query's values (`related` to the
//! view's), the `out` buffer.

use triplet_simd::{Backend, Error, reference};

use crate::{
    CAP, Input, ViewSpec, backends, check_l2, check_result, check_same_slice, check_sq, out_buffer,
    same, show_rows,
};

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

    let mut runs: Vec<crate::DistanceRun> = Vec::new();
    let mut run_one = |name: &'static str, be: Option<Backend>| {
        let (mut sq, mut l2) = (out0.clone(), out0.clone());
        let (rs, rl) = match be {
            Some(be) => (
                be.sq_l2_one_to_many(&query, view, &mut sq),
                be.l2_one_to_many(&query, view, &mut l2),
            ),
            None => (
                triplet_simd::sq_l2_one_to_many(&query, view, &mut sq),
                triplet_simd::l2_one_to_many(&query, view, &mut l2),
            ),
        };
        check_result(&format!("{name} sq_l2_one_to_many"), &rs, &expected, ctx);
        check_result(&format!("{name} l2_one_to_many"), &rl, &expected, ctx);
        if rs.is_err() {
            check_same_slice(
                &format!("{name} sq_l2_one_to_many wrote out on error"),
                &out0,
                &sq,
                ctx,
            );
        }
        if rl.is_err() {
            check_same_slice(
                &format!("{name} l2_one_to_many wrote out on error"),
                &out0,
                &l2,
                ctx,
            );
        }
        runs.push((name, rs, sq, rl, l2));
    };
    for be in backends() {
        run_one(be.isa().name(), Some(be));
    }
    run_one("free fn", None);

    let (first, rs0, sq0, rl0, l20) = &runs[0];
    crate::debug!(
        "sq_l2_one_to_many: out.len() = {}, expected errors {expected:?}, got {rs0:?}; sq = {:?}",
        out0.len(),
        &sq0[..sq0.len().min(8)]
    );
    for (name, rs, sq, rl, l2) in &runs[1..] {
        assert_eq!(
            rs0,
            rs,
            "sq_l2_one_to_many {first} vs {name}: results differ; {}",
            ctx()
        );
        assert_eq!(
            rl0,
            rl,
            "l2_one_to_many {first} vs {name}: results differ; {}",
            ctx()
        );
        check_same_slice(
            &format!("sq_l2_one_to_many {first} vs {name}"),
            sq0,
            sq,
            ctx,
        );
        check_same_slice(&format!("l2_one_to_many {first} vs {name}"), l20, l2, ctx);
    }
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
