//! Target `normalize`: `l2_normalize_rows`, `l2_normalize_rows_in_place`, `l2_normalize_rows_backward`
//! (both `GradMode`s) and `l2_normalize_rows_backward_in_place`, with fuzzed shapes, `eps` (any bits) and
//! `norms` lengths, on every backend and the free functions; against the f64 oracles and their bounds.
//!
//! Input: header; an operation byte (`% 4`: forward, forward in place, backward, backward in place); a
//! grad-mode byte (`& 1`: Overwrite); an eps byte (`% 4`: 1e-12, 0, 0.5, else an `f32`); `size` rows
//! and dim; view x (the input, or for the backward the forward's output y); for the backward a byte
//! (even: y and the norms are the crate's forward of x, made dense; else x itself and fuzzed norms);
//! the norms buffer (forward: a byte `% 4 == 0`: none, else `out_buffer`; backward: a byte < 200 and
//! n ≤ CAP: n values, else a `count`, then its values); then the second view (forward: y; backward:
//! dy) and for the out-of-place backward a third (dx), each with a byte (< 200: x's shape, else its
//! own `size`s) before it.

use triplet_simd::{Backend, Error, GradMode, Rows, reference};

use crate::{CAP, Input, ViewSpec, backends, check_result, check_same_slice, out_buffer};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Forward,
    ForwardInPlace,
    Backward,
    BackwardInPlace,
}

/// What a call wrote: the result, the norms buffer, and the backing of the view it wrote.
struct Outcome {
    name: String,
    res: Result<(), Error>,
    norms: Option<Vec<f32>>,
    written: Vec<f32>,
}

struct Case {
    op: Op,
    mode: GradMode,
    eps: f32,
    x: ViewSpec,
    /// Dense y and its norms, for a backward on the crate's own forward.
    y_dense: Option<(Vec<f32>, Vec<f32>)>,
    norms: Option<Vec<f32>>,
    second: Option<ViewSpec>,
    third: Option<ViewSpec>,
}

impl Case {
    fn y<'a>(&'a self, x: Rows<'a>) -> Rows<'a> {
        match &self.y_dense {
            Some((y, _)) => Rows::dense(y, x.rows(), x.dim()).unwrap(),
            None => x,
        }
    }

    fn call(&self, name: String, be: Option<Backend>, x: Rows<'_>) -> Outcome {
        let mut norms = self.norms.clone();
        let (eps, mode) = (self.eps, self.mode);
        let (res, written) = match self.op {
            Op::Forward => {
                let s = self.second.as_ref().unwrap();
                let mut w = s.backing.clone();
                let y = s.view_mut(&mut w).unwrap();
                let n = norms.as_deref_mut();
                let res = match be {
                    Some(be) => be.l2_normalize_rows(x, y, n, eps),
                    None => triplet_simd::l2_normalize_rows(x, y, n, eps),
                };
                (res, w)
            }
            Op::ForwardInPlace => {
                let mut w = self.x.backing.clone();
                let v = self.x.view_mut(&mut w).unwrap();
                let n = norms.as_deref_mut();
                let res = match be {
                    Some(be) => be.l2_normalize_rows_in_place(v, n, eps),
                    None => triplet_simd::l2_normalize_rows_in_place(v, n, eps),
                };
                (res, w)
            }
            Op::Backward => {
                let s = self.third.as_ref().unwrap();
                let mut w = s.backing.clone();
                let dx = s.view_mut(&mut w).unwrap();
                let dy = self
                    .second
                    .as_ref()
                    .unwrap()
                    .view(&self.second.as_ref().unwrap().backing)
                    .unwrap();
                let n = norms.as_deref().unwrap();
                let y = self.y(x);
                let res = match be {
                    Some(be) => be.l2_normalize_rows_backward(y, n, dy, dx, eps, mode),
                    None => triplet_simd::l2_normalize_rows_backward(y, n, dy, dx, eps, mode),
                };
                (res, w)
            }
            Op::BackwardInPlace => {
                let s = self.second.as_ref().unwrap();
                let mut w = s.backing.clone();
                let g = s.view_mut(&mut w).unwrap();
                let n = norms.as_deref().unwrap();
                let y = self.y(x);
                let res = match be {
                    Some(be) => be.l2_normalize_rows_backward_in_place(y, n, g, eps),
                    None => triplet_simd::l2_normalize_rows_backward_in_place(y, n, g, eps),
                };
                (res, w)
            }
        };
        Outcome {
            name,
            res,
            norms,
            written,
        }
    }

    /// The backing the call writes to, before the call.
    fn target(&self) -> &[f32] {
        match self.op {
            Op::Forward | Op::BackwardInPlace => &self.second.as_ref().unwrap().backing,
            Op::ForwardInPlace => &self.x.backing,
            Op::Backward => &self.third.as_ref().unwrap().backing,
        }
    }
}

pub fn run(data: &[u8]) {
    let mut inp = Input::new(data);
    let op = [
        Op::Forward,
        Op::ForwardInPlace,
        Op::Backward,
        Op::BackwardInPlace,
    ][usize::from(inp.u8() % 4)];
    let mode = if inp.bool() {
        GradMode::Overwrite
    } else {
        GradMode::Accumulate
    };
    let eps = match inp.u8() % 4 {
        0 => 1e-12,
        1 => 0.0,
        2 => 0.5,
        _ => inp.f32(),
    };
    let (n, dim) = (inp.size(), inp.size());
    let x_spec = ViewSpec::decode(&mut inp, n, dim, None);
    let backward = matches!(op, Op::Backward | Op::BackwardInPlace);
    let consistent = backward && inp.u8().is_multiple_of(2);
    let norms = if backward {
        let len = if inp.u8() < 200 && n <= CAP {
            n
        } else {
            inp.count(CAP)
        };
        Some(inp.floats(len))
    } else {
        (!inp.u8().is_multiple_of(4)).then(|| out_buffer(&mut inp, n))
    };
    let shape = |inp: &mut Input<'_>| {
        if inp.u8() < 200 {
            (n, dim)
        } else {
            (inp.size(), inp.size())
        }
    };
    let second = (op != Op::ForwardInPlace).then(|| {
        let (r, d) = shape(&mut inp);
        ViewSpec::decode(&mut inp, r, d, Some(&x_spec.backing))
    });
    let third = (op == Op::Backward).then(|| {
        let (r, d) = shape(&mut inp);
        ViewSpec::decode(&mut inp, r, d, None)
    });

    let Some(x) = x_spec.checked_view("view x") else {
        return;
    };
    for (what, s) in [("second view", &second), ("third view", &third)] {
        if let Some(s) = s
            && s.checked_view(what).is_none()
        {
            return;
        }
    }
    let mut case = Case {
        op,
        mode,
        eps,
        x: x_spec.clone(),
        y_dense: None,
        norms,
        second,
        third,
    };
    if consistent && eps.is_finite() && eps >= 0.0 && n <= CAP && n * dim <= CAP {
        let mut y = vec![0.0; n * dim];
        let mut nr = vec![0.0; n];
        Backend::detect()
            .l2_normalize_rows(
                x,
                triplet_simd::RowsMut::dense(&mut y, n, dim).unwrap(),
                Some(&mut nr),
                eps,
            )
            .unwrap();
        if case.norms.as_ref().is_some_and(|v| v.len() == n) {
            case.norms = Some(nr.clone());
        }
        case.y_dense = Some((y, nr));
    }
    let ctx = || {
        format!(
            "op = {:?}, mode = {:?}, eps = {:e}, x = {:?}, norms = {:?}, second = {:?}, third = {:?}",
            case.op, case.mode, case.eps, case.x, case.norms, case.second, case.third
        )
    };

    // Which errors the call deserves, decided here.
    let mut expected = Vec::new();
    if !(eps.is_finite() && eps >= 0.0) {
        expected.push(Error::InvalidParameter {
            name: "eps",
            value: eps,
            rule: "",
        });
    }
    let mismatch = |expected, found| Error::LengthMismatch {
        what: "",
        expected,
        found,
    };
    for s in [case.second.as_ref(), case.third.as_ref()]
        .into_iter()
        .flatten()
    {
        if s.rows != n {
            expected.push(mismatch(n, s.rows));
        }
        if s.dim != dim {
            expected.push(mismatch(dim, s.dim));
        }
    }
    if let Some(v) = &case.norms
        && v.len() != n
    {
        expected.push(mismatch(n, v.len()));
    }
    if expected.is_empty() && n > 4 * CAP {
        // A valid call over this many (empty) rows would only be slow.
        return;
    }

    let mut outcomes = Vec::new();
    for be in backends() {
        outcomes.push(case.call(be.isa().name().to_string(), Some(be), x));
    }
    outcomes.push(case.call("detected".into(), None, x));
    for o in &outcomes {
        check_result(&o.name, &o.res, &expected, ctx);
        if o.res.is_err() {
            // Nothing is written when an error is returned.
            let norms_same = match (&o.norms, &case.norms) {
                (Some(a), Some(b)) => crate::same_slice(a, b),
                (a, b) => a.is_none() && b.is_none(),
            };
            assert!(
                norms_same && crate::same_slice(&o.written, case.target()),
                "{}: returned {:?} but wrote to an output; {}",
                o.name,
                o.res,
                ctx()
            );
        }
    }
    let first = &outcomes[0];
    for o in &outcomes[1..] {
        assert!(
            match (&first.res, &o.res) {
                (Ok(()), Ok(())) => true,
                (Err(a), Err(b)) => crate::same_error(a, b),
                _ => false,
            },
            "{} gave {:?}, {} gave {:?}; {}",
            first.name,
            first.res,
            o.name,
            o.res,
            ctx()
        );
        check_same_slice(
            &format!("{} vs {}", first.name, o.name),
            &first.written,
            &o.written,
            ctx,
        );
        if let (Some(a), Some(b)) = (&first.norms, &o.norms) {
            check_same_slice(&format!("norms of {} vs {}", first.name, o.name), a, b, ctx);
        }
    }
    crate::debug!(
        "normalize: {:?} n {n} dim {dim} eps {eps:e}: expected {expected:?}, got {:?}",
        op,
        first.res
    );
    if first.res.is_err() {
        return;
    }
    check_oracle(&case, x, first);
}

/// The written rows against the f64 oracles, within their bounds, where those apply.
fn check_oracle(case: &Case, x: Rows<'_>, o: &Outcome) {
    let (n, dim, eps) = (x.rows(), x.dim(), case.eps);
    let tiny = f64::from(f32::from_bits(1));
    // The written rows, densely.
    let spec = match case.op {
        Op::Forward | Op::BackwardInPlace => case.second.as_ref().unwrap(),
        Op::ForwardInPlace => &case.x,
        Op::Backward => case.third.as_ref().unwrap(),
    };
    let out = spec.view(&o.written).unwrap();
    match case.op {
        Op::Forward | Op::ForwardInPlace => {
            let mut exact = vec![0.0f64; n * dim];
            let mut norms = vec![0.0f64; n];
            reference::l2_normalize_rows(x, eps, &mut exact, Some(&mut norms)).unwrap();
            for r in 0..n {
                let (row, got) = (x.row(r).unwrap(), out.row(r).unwrap());
                let s = norms[r] * norms[r];
                let b = reference::l2_normalize_bound(dim, s);
                if !row.iter().all(|v| v.is_finite()) || s >= f64::from(f32::MAX) || b.is_infinite()
                {
                    continue;
                }
                if eps == 0.0 && s == 0.0 {
                    continue; // 0 / 0
                }
                if let Some(nv) = &o.norms {
                    let f = f64::from(nv[r]);
                    assert!(
                        (f - norms[r]).abs() <= b * norms[r] + tiny,
                        "row {r}: norm {f:e} vs exact {:e} (bound {b:e})",
                        norms[r]
                    );
                }
                for i in 0..dim {
                    let (f, e) = (f64::from(got[i]), exact[r * dim + i]);
                    assert!(
                        (f - e).abs() <= b * e.abs() + tiny,
                        "row {r}[{i}]: y = {f:e} vs exact {e:e} (bound {b:e}, eps {eps:e})"
                    );
                }
            }
        }
        Op::Backward | Op::BackwardInPlace => {
            let y = case.y(x);
            let dy_spec = case.second.as_ref().unwrap();
            let dy = dy_spec.view(&dy_spec.backing).unwrap();
            let norms = case.norms.as_deref().unwrap();
            let mut exact = vec![0.0f64; n * dim];
            let mut bound = vec![0.0f64; n * dim];
            reference::l2_normalize_rows_backward(y, norms, dy, eps, &mut exact, Some(&mut bound))
                .unwrap();
            let init = spec.view(case.target()).unwrap();
            for r in 0..n {
                let (got, before) = (out.row(r).unwrap(), init.row(r).unwrap());
                let inputs_finite = y
                    .row(r)
                    .unwrap()
                    .iter()
                    .chain(dy.row(r).unwrap())
                    .all(|v| v.is_finite())
                    && norms[r].is_finite()
                    && norms[r] != 0.0
                    && (eps > 0.0 || norms[r] > eps)
                    // The bound holds while the f32 dot product y·dy cannot overflow (documented).
                    && y.row(r)
                        .unwrap()
                        .iter()
                        .zip(dy.row(r).unwrap())
                        .map(|(&a, &b)| (f64::from(a) * f64::from(b)).abs())
                        .sum::<f64>()
                        < f64::from(f32::MAX) / 2.0;
                for i in 0..dim {
                    let e = exact[r * dim + i];
                    // Nor while the fused dy_i − y_i·t can overflow (possible only for |y_i| > 1, which
                    // the forward never writes).
                    let t: f64 = y
                        .row(r)
                        .unwrap()
                        .iter()
                        .zip(dy.row(r).unwrap())
                        .map(|(&a, &b)| f64::from(a) * f64::from(b))
                        .sum();
                    if (f64::from(y.row(r).unwrap()[i]) * t).abs() >= f64::from(f32::MAX) / 2.0 {
                        continue;
                    }
                    let g = if case.op == Op::Backward && case.mode == GradMode::Accumulate {
                        // Accumulate adds the overwritten value: check that part through the difference
                        // only where it is exact enough to say; the cross-backend check covers the bits.
                        if !before[i].is_finite() {
                            continue;
                        }
                        f64::from(got[i]) - f64::from(before[i])
                    } else {
                        f64::from(got[i])
                    };
                    if !inputs_finite || !e.is_finite() || e.abs() > f64::from(f32::MAX) / 4.0 {
                        continue;
                    }
                    let slack = if case.op == Op::Backward && case.mode == GradMode::Accumulate {
                        // one more rounding, of the sum
                        f64::from(f32::EPSILON)
                            * (f64::from(got[i]).abs() + f64::from(before[i]).abs())
                            + tiny
                    } else {
                        0.0
                    };
                    assert!(
                        (g - e).abs() <= bound[r * dim + i] + slack,
                        "row {r}[{i}]: dx = {g:e} vs exact {e:e} (bound {:e}, eps {eps:e}); y {:?}, dy {:?}, norm {:e}",
                        bound[r * dim + i],
                        y.row(r).unwrap(),
                        dy.row(r).unwrap(),
                        norms[r]
                    );
                }
            }
        }
    }
}
