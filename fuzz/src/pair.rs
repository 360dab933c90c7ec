//! Target `pair`: `Backend::sq_l2` / `Backend::l2` and the free `sq_l2` / `l2` on two slices.
//!
//! Input: header, `count` (length of a), a byte (≥ 224: b gets its own `count`, else a's length),
//! a's values, then b's values `related` to a's.

use triplet_simd::{Error, reference};

use crate::{
    CAP, Input, backends, check_l2, check_result, check_same_result, check_sq, same, show_rows,
};

pub fn run(data: &[u8]) {
    let mut inp = Input::new(data);
    let la = inp.count(CAP);
    let lb = if inp.u8() >= 224 { inp.count(CAP) } else { la };
    let a = inp.floats(la);
    let b = inp.related(&a, lb);
    let ctx = || show_rows(&a, &b);
    crate::debug!("pair: {}", ctx());

    let expected: Vec<Error> = if la == lb {
        vec![]
    } else {
        vec![Error::LengthMismatch {
            what: "",
            expected: la,
            found: lb,
        }]
    };
    check_result(
        "reference::sq_l2",
        &reference::sq_l2(&a, &b),
        &expected,
        ctx,
    );
    check_result("reference::l2", &reference::l2(&a, &b), &expected, ctx);

    let mut results = Vec::new();
    for be in backends() {
        let name = be.isa().name();
        let sq = be.sq_l2(&a, &b);
        let l2 = be.l2(&a, &b);
        check_result(&format!("{name} sq_l2"), &sq, &expected, ctx);
        check_result(&format!("{name} l2"), &l2, &expected, ctx);
        if let Ok(sq) = sq {
            // Symmetric to the bit: a − b and b − a differ only in sign.
            let swapped = be.sq_l2(&b, &a).expect("swapped sq_l2");
            assert!(
                same(sq, swapped),
                "{name}: sq_l2(a, b) = {sq:e} but sq_l2(b, a) = {swapped:e}; {}",
                ctx()
            );
            if a.iter().all(|v| v.is_finite()) {
                let zero = be.sq_l2(&a, &a).expect("sq_l2(a, a)");
                assert_eq!(
                    zero.to_bits(),
                    0,
                    "{name}: sq_l2(a, a) = {zero:e} for finite a; {}",
                    ctx()
                );
            }
        }
        results.push((name, sq, l2));
    }
    results.push((
        "free fn",
        triplet_simd::sq_l2(&a, &b),
        triplet_simd::l2(&a, &b),
    ));

    let (first, sq0, l20) = results[0];
    crate::debug!("pair: sq_l2 = {sq0:?}, l2 = {l20:?}");
    for &(name, sq, l2) in &results[1..] {
        check_same_result(&format!("sq_l2 {first} vs {name}"), &sq0, &sq, ctx);
        check_same_result(&format!("l2 {first} vs {name}"), &l20, &l2, ctx);
    }
    if let (Ok(sq), Ok(l2)) = (sq0, l20) {
        check_sq("sq_l2", &a, &b, sq);
        check_l2("l2", &a, &b, sq, l2);
    }
}
