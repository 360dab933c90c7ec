//! Target `squared_error`: `SquaredError::{sum_of_squares, mse}` with every `Reduction`, `forward` and
//! `forward_backward` (optional gradient views, both `GradMode`s, `Upstream::Scalar` / `PerItem` of any
//! length), on every backend and the detected one.
//!
//! Input: header; bytes for the kind (`& 1`: MSE), reduction (`% 4`: None, Sum, Mean, MeanActive), grad
//! mode (`& 1`: Overwrite) and operation (`% 4 != 0`: forward_backward); `size` rows and dim; view a;
//! view b (a byte < 200: a's shape, else its own `size`s; values `related` to a's); the per-row buffer
//! (a byte, `% 4 == 0`: none; else `out_buffer`); the upstream (a byte, `% 4 == 0`: per item, with a
//! byte < 192: n values if n ≤ CAP, else a `count`; else `Scalar(f32)`); then, for forward_backward,
//! for each of grad_a and grad_b a byte (`& 1`: present) and its view (shape as b's).

use triplet_simd::{
    Backend, Error, GradMode, Reduction, Rows, SquaredError, SquaredErrorKind, Upstream, reference,
};

use crate::{
    CAP, Input, SquaredErrorExt, ViewSpec, backends, check_result, check_same_slice, oracle,
    out_buffer, same, show_rows,
};

const HALF_ULP: f64 = f32::EPSILON as f64 / 2.0;
const TINY: f64 = 1.401_298_464_324_817e-45; // 2^-149, the smallest subnormal f32
const MAX: f64 = f32::MAX as f64;

#[derive(Clone, Debug)]
enum UpSpec {
    Scalar(f32),
    PerItem(Vec<f32>),
}

impl UpSpec {
    fn get(&self) -> Upstream<'_> {
        match self {
            UpSpec::Scalar(g) => Upstream::Scalar(*g),
            UpSpec::PerItem(g) => Upstream::PerItem(g),
        }
    }
}

/// What one call produced.
struct Outcome {
    name: &'static str,
    res: Result<f32, Error>,
    per_row: Option<Vec<f32>>,
    grad_a: Option<Vec<f32>>,
    grad_b: Option<Vec<f32>>,
}

struct Case {
    kind: SquaredErrorKind,
    reduction: Reduction,
    mode: GradMode,
    backward: bool,
    sa: ViewSpec,
    sb: ViewSpec,
    per_row: Option<Vec<f32>>,
    upstream: UpSpec,
    ga: Option<ViewSpec>,
    gb: Option<ViewSpec>,
}

impl Case {
    fn call(
        &self,
        name: &'static str,
        loss: SquaredError,
        a: Rows<'_>,
        b: Rows<'_>,
        backward: bool,
    ) -> Outcome {
        let mut per_row = self.per_row.clone();
        let mut ga = self.ga.as_ref().map(|s| s.backing.clone());
        let mut gb = self.gb.as_ref().map(|s| s.backing.clone());
        let res = if backward {
            let ga_view = self
                .ga
                .as_ref()
                .zip(ga.as_mut())
                .map(|(s, g)| s.view_mut(g).unwrap());
            let gb_view = self
                .gb
                .as_ref()
                .zip(gb.as_mut())
                .map(|(s, g)| s.view_mut(g).unwrap());
            loss.fused(
                a,
                b,
                per_row.as_deref_mut(),
                self.upstream.get(),
                ga_view,
                gb_view,
                self.mode,
            )
        } else {
            loss.forward(a, b, per_row.as_deref_mut())
        };
        Outcome {
            name,
            res,
            per_row,
            grad_a: ga,
            grad_b: gb,
        }
    }

    fn loss(&self, reduction: Reduction, backend: Option<Backend>) -> SquaredError {
        match backend {
            Some(b) => SquaredError::new(self.kind).reduction(reduction).backend(b),
            None => match self.kind {
                SquaredErrorKind::SumOfSquares => SquaredError::sum_of_squares(),
                SquaredErrorKind::Mse => SquaredError::mse(),
            }
            .reduction(reduction),
        }
    }
}

fn same_opt_vec(a: &Option<Vec<f32>>, b: &Option<Vec<f32>>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => crate::same_slice(a, b),
        _ => false,
    }
}

fn check_same_outcome(what: &str, x: &Outcome, y: &Outcome, ctx: &dyn Fn() -> String) {
    let res_same = match (&x.res, &y.res) {
        (Ok(p), Ok(q)) => same(*p, *q),
        (Err(p), Err(q)) => p == q,
        _ => false,
    };
    assert!(
        res_same,
        "{what}: {} gave {:?} but {} gave {:?}; {}",
        x.name,
        x.res,
        y.name,
        y.res,
        ctx()
    );
    for (label, p, q) in [
        ("per_row", &x.per_row, &y.per_row),
        ("grad_a", &x.grad_a, &y.grad_a),
        ("grad_b", &x.grad_b, &y.grad_b),
    ] {
        match (p, q) {
            (Some(p), Some(q)) => check_same_slice(
                &format!("{what}: {label} of {} vs {}", x.name, y.name),
                p,
                q,
                ctx,
            ),
            _ => assert!(
                same_opt_vec(p, q),
                "{what}: {label} present in one outcome only"
            ),
        }
    }
}

pub fn run(data: &[u8]) {
    let mut inp = Input::new(data);
    let kind = if inp.bool() {
        SquaredErrorKind::Mse
    } else {
        SquaredErrorKind::SumOfSquares
    };
    let reduction = [
        Reduction::None,
        Reduction::Sum,
        Reduction::Mean,
        Reduction::MeanActive,
    ][usize::from(inp.u8() % 4)];
    let mode = if inp.bool() {
        GradMode::Overwrite
    } else {
        GradMode::Accumulate
    };
    let backward = !inp.u8().is_multiple_of(4);
    let (n, dim) = (inp.size(), inp.size());
    let sa = ViewSpec::decode(&mut inp, n, dim, None);
    let shape = |inp: &mut Input<'_>| {
        if inp.u8() < 200 {
            (n, dim)
        } else {
            (inp.size(), inp.size())
        }
    };
    let (rb, db) = shape(&mut inp);
    let sb = ViewSpec::decode(&mut inp, rb, db, Some(&sa.backing));
    let per_row = (!inp.u8().is_multiple_of(4)).then(|| out_buffer(&mut inp, n));
    let upstream = if inp.u8().is_multiple_of(4) {
        let len = if inp.u8() < 192 && n <= CAP {
            n
        } else {
            inp.count(CAP)
        };
        UpSpec::PerItem(inp.floats(len))
    } else {
        UpSpec::Scalar(inp.f32())
    };
    let grad = |inp: &mut Input<'_>| {
        (backward && inp.bool()).then(|| {
            let (r, d) = shape(inp);
            ViewSpec::decode(inp, r, d, None)
        })
    };
    let ga = grad(&mut inp);
    let gb = grad(&mut inp);
    let case = Case {
        kind,
        reduction,
        mode,
        backward,
        sa,
        sb,
        per_row,
        upstream,
        ga,
        gb,
    };

    let (Some(a), Some(b)) = (
        case.sa.checked_view("view a"),
        case.sb.checked_view("view b"),
    ) else {
        return;
    };
    let mut grads_ok = true;
    for (what, g) in [("grad_a", &case.ga), ("grad_b", &case.gb)] {
        if let Some(g) = g {
            grads_ok &= g.checked_view(what).is_some();
        }
    }
    if !grads_ok {
        return;
    }
    let ctx = || {
        format!(
            "kind = {:?}, reduction = {:?}, mode = {:?}, backward = {}, a = {:?}, b = {:?}, per_row = {:?}, \
             upstream = {:?}, grad_a = {:?}, grad_b = {:?}",
            case.kind,
            case.reduction,
            case.mode,
            case.backward,
            case.sa,
            case.sb,
            case.per_row,
            case.upstream,
            case.ga,
            case.gb
        )
    };

    // Which errors the call deserves, decided here.
    let mismatch = |expected, found| Error::LengthMismatch {
        what: "",
        expected,
        found,
    };
    let mut expected = Vec::new();
    let shapes = [Some(&case.sb), case.ga.as_ref(), case.gb.as_ref()];
    for s in shapes.into_iter().flatten() {
        if s.rows != n {
            expected.push(mismatch(n, s.rows));
        }
        if s.dim != dim {
            expected.push(mismatch(dim, s.dim));
        }
    }
    match &case.per_row {
        Some(p) if p.len() != n => expected.push(mismatch(n, p.len())),
        None if reduction == Reduction::None => expected.push(Error::Missing { what: "" }),
        _ => {}
    }
    if backward && let UpSpec::PerItem(g) = &case.upstream {
        if reduction != Reduction::None {
            expected.push(Error::Missing { what: "" });
        } else if g.len() != n {
            expected.push(mismatch(n, g.len()));
        }
    }
    if expected.is_empty() && n > 4 * CAP {
        // A valid call over this many (empty) rows would only be slow.
        return;
    }

    // The f64 oracle validates shapes too (it needs no per-row buffer, and takes no upstream).
    let mut ref_expected: Vec<Error> = Vec::new();
    if case.sb.rows != n {
        ref_expected.push(mismatch(n, case.sb.rows));
    }
    if case.sb.dim != dim {
        ref_expected.push(mismatch(dim, case.sb.dim));
    }
    if let Some(p) = &case.per_row
        && p.len() != n
    {
        ref_expected.push(mismatch(n, p.len()));
    }
    let mut ref_per_row = case.per_row.as_ref().map(|p| vec![-1.0f64; p.len()]);
    if !ref_expected.is_empty() || n <= 4 * CAP {
        let r = reference::squared_error(kind, reduction, a, b, ref_per_row.as_deref_mut());
        check_result("reference::squared_error", &r, &ref_expected, ctx);
    }

    let mut outcomes = Vec::new();
    for be in backends() {
        outcomes.push(case.call(
            be.isa().name(),
            case.loss(reduction, Some(be)),
            a,
            b,
            backward,
        ));
    }
    outcomes.push(case.call("detected", case.loss(reduction, None), a, b, backward));
    for o in &outcomes {
        let what = format!(
            "{} {}",
            o.name,
            if backward {
                "forward_backward"
            } else {
                "forward"
            }
        );
        check_result(&what, &o.res, &expected, ctx);
        if o.res.is_err() {
            // Nothing is written when an error is returned.
            let untouched = same_opt_vec(&o.per_row, &case.per_row)
                && same_opt_vec(&o.grad_a, &case.ga.as_ref().map(|s| s.backing.clone()))
                && same_opt_vec(&o.grad_b, &case.gb.as_ref().map(|s| s.backing.clone()));
            assert!(
                untouched,
                "{what}: returned {:?} but wrote to an output; {}",
                o.res,
                ctx()
            );
        }
    }
    crate::debug!(
        "squared_error: {:?} {:?} {:?} backward {} n {n} dim {dim} per_row {:?} upstream {} grads {} {}: expected \
         errors {expected:?}, got {:?}",
        case.kind,
        case.reduction,
        case.mode,
        backward,
        case.per_row.as_ref().map(|p| p.len()),
        match &case.upstream {
            UpSpec::Scalar(g) => format!("Scalar({g:e})"),
            UpSpec::PerItem(g) => format!("PerItem(len {})", g.len()),
        },
        case.ga.is_some(),
        case.gb.is_some(),
        outcomes[0].res
    );
    for o in &outcomes[1..] {
        check_same_outcome("backends disagree", &outcomes[0], o, &ctx);
    }
    let first = &outcomes[0];
    let Ok(loss) = first.res else {
        return;
    };
    let be = backends()[0]; // the backend of `first`

    // forward_backward's loss and per-row losses are forward's, to the bit.
    if backward {
        let fwd = case.call("forward", case.loss(reduction, Some(be)), a, b, false);
        assert!(
            fwd.res.is_ok(),
            "forward failed ({:?}) where forward_backward succeeded; {}",
            fwd.res,
            ctx()
        );
        assert!(
            same(fwd.res.unwrap(), loss),
            "forward gave {:?}, forward_backward {loss:e}; {}",
            fwd.res,
            ctx()
        );
        assert!(
            same_opt_vec(&fwd.per_row, &first.per_row),
            "forward's per-row losses differ; {}",
            ctx()
        );
    }
    // MeanActive is Mean for these losses (every row is active).
    if reduction == Reduction::MeanActive {
        let mean = case.call("mean", case.loss(Reduction::Mean, Some(be)), a, b, backward);
        check_same_outcome("MeanActive vs Mean", first, &mean, &ctx);
    }

    let divisor = match kind {
        SquaredErrorKind::SumOfSquares => 1.0,
        SquaredErrorKind::Mse => dim.max(1) as f64,
    };
    let mean = matches!(reduction, Reduction::Mean | Reduction::MeanActive);

    // Per-row losses against the oracle; the reduced loss against the per-row ones or the oracle.
    let mut total_exact = Some((0.0f64, 0.0f64));
    for r in 0..n {
        let (x, y) = (a.row(r).unwrap(), b.row(r).unwrap());
        let Some((exact, bound)) = oracle(x, y) else {
            total_exact = None;
            continue;
        };
        let e = exact / divisor;
        // sq_l2's bound, scaled, plus the division's rounding (and slack for the f64 arithmetic here).
        let tol = (bound / divisor + HALF_ULP * e) * (1.0 + 1e-6) + TINY;
        // sq_l2 may round up to inf near f32::MAX (documented); the loss divides that inf.
        let may_overflow = exact + bound >= MAX;
        if may_overflow {
            total_exact = None;
        }
        if let Some(t) = total_exact.as_mut() {
            t.0 += e;
            t.1 += tol;
        }
        if let Some(p) = &ref_per_row {
            assert!(
                p[r] == e || (p[r] - e).abs() <= 1e-12 * e,
                "row {r}: reference::squared_error per-row {:e} but reference::sq_l2 / D = {e:e}",
                p[r]
            );
        }
        if let Some(p) = &first.per_row {
            let got = p[r];
            let ok = if got.is_infinite() {
                got > 0.0 && may_overflow
            } else {
                (f64::from(got) - e).abs() <= tol
            };
            assert!(
                ok,
                "row {r}: per-row loss {got:e} but exact {e:e} (tolerance {tol:e}, divisor {divisor}); {}",
                show_rows(x, y)
            );
        }
    }
    let count = if mean { n as f64 } else { 1.0 };
    if let Some(p) = &first.per_row {
        // The sum over rows is taken in f64, in row order.
        let t: f64 = crate::block_sum(p.iter().map(|&v| f64::from(v)));
        if !mean {
            assert!(
                same(loss, t as f32),
                "reduced loss {loss:e} is not the f64 sum of the per-row losses {t:e}; {}",
                ctx()
            );
        } else if n == 0 {
            assert!(loss == 0.0, "mean of no rows is {loss:e}, not 0; {}", ctx());
        } else {
            check_close(
                "mean loss vs per-row losses",
                loss,
                t / count,
                2.0 * HALF_ULP * (t / count).abs() + TINY,
                &ctx,
            );
        }
    } else if n == 0 {
        assert!(
            loss == 0.0,
            "loss over no rows is {loss:e}, not 0; {}",
            ctx()
        );
    }
    if let Some((e, tol)) = total_exact
        && n > 0
    {
        let (e, tol) = (e / count, tol / count);
        check_close(
            "reduced loss vs oracle",
            loss,
            e,
            (tol + 2.0 * HALF_ULP * e) * (1.0 + 1e-6) + TINY,
            &ctx,
        );
    }

    if !backward || n == 0 || dim == 0 {
        return;
    }
    // Gradients: grad_a = 2·w·(a − b)/D, grad_b its negation; padding never written.
    let weight = |r: usize| -> f64 {
        match &case.upstream {
            UpSpec::PerItem(g) => f64::from(g[r]),
            UpSpec::Scalar(g) if mean => f64::from(*g) / n as f64,
            UpSpec::Scalar(g) => f64::from(*g),
        }
    };
    for (label, sign, spec, got) in [
        ("grad_a", 1.0f64, &case.ga, &first.grad_a),
        ("grad_b", -1.0, &case.gb, &first.grad_b),
    ] {
        let (Some(spec), Some(got)) = (spec, got) else {
            continue;
        };
        let base = spec.base();
        let mut written = vec![false; got.len()];
        for r in 0..n {
            let (x, y) = (a.row(r).unwrap(), b.row(r).unwrap());
            let w = weight(r);
            for j in 0..dim {
                let i = base + r * spec.stride + j;
                written[i] = true;
                let (xv, yv, old, g) = (
                    f64::from(x[j]),
                    f64::from(y[j]),
                    f64::from(spec.backing[i]),
                    got[i],
                );
                let d = xv - yv;
                let c = 2.0 * w.abs() / divisor;
                if !(xv.is_finite() && yv.is_finite() && w.is_finite() && old.is_finite())
                    || d.abs() > MAX
                    || 2.0 * w.abs() > MAX
                {
                    continue;
                }
                let e = sign * 2.0 * w * d / divisor;
                // Relative: a few roundings (w, c, x − y, the product); absolute: subnormal results, and a
                // scale c or w in the subnormal range times |x − y|.
                let mut tol = 8.0 * HALF_ULP * e.abs() + 4.0 * TINY;
                if c.min(w.abs()) < 4.0 * f64::from(f32::MIN_POSITIVE) {
                    tol += 4.0 * TINY * d.abs();
                }
                let (want, tol) = match case.mode {
                    GradMode::Overwrite => (e, tol),
                    GradMode::Accumulate => {
                        (old + e, tol + 2.0 * HALF_ULP * (old + e).abs() + TINY)
                    }
                };
                if e.abs() > MAX / 2.0 || want.abs() > MAX / 2.0 {
                    continue;
                }
                assert!(
                    g.is_finite() && (f64::from(g) - want).abs() <= tol,
                    "{label}[{r}][{j}] = {g:e} but expected {want:e} (tolerance {tol:e}; a = {:e}, b = {:e}, w = {w:e}, \
                     old = {old:e}); {}",
                    x[j],
                    y[j],
                    ctx()
                );
            }
        }
        for (i, &wr) in written.iter().enumerate() {
            if !wr {
                assert!(
                    same(got[i], spec.backing[i]) && got[i].to_bits() == spec.backing[i].to_bits(),
                    "{label}: backing[{i}] outside every row was written: {:e} -> {:e}; {}",
                    spec.backing[i],
                    got[i],
                    ctx()
                );
            }
        }
    }
    if let (GradMode::Overwrite, Some(spec_a), Some(spec_b), Some(ga), Some(gb)) =
        (case.mode, &case.ga, &case.gb, &first.grad_a, &first.grad_b)
    {
        for r in 0..n {
            for j in 0..dim {
                let p = ga[spec_a.base() + r * spec_a.stride + j];
                let q = gb[spec_b.base() + r * spec_b.stride + j];
                assert!(
                    same(p, -q),
                    "grad_b[{r}][{j}] = {q:e} is not -grad_a = {:e}; {}",
                    -p,
                    ctx()
                );
            }
        }
    }
}

fn check_close(what: &str, got: f32, want: f64, tol: f64, ctx: &dyn Fn() -> String) {
    let ok = if want.is_nan() {
        got.is_nan()
    } else if want.is_infinite() {
        f64::from(got) == want
    } else if got.is_infinite() {
        (got > 0.0) == (want > 0.0) && want.abs() + tol >= MAX
    } else {
        (f64::from(got) - want).abs() <= tol
    };
    assert!(
        ok,
        "{what}: got {got:e}, want {want:e} (tolerance {tol:e}); {}",
        ctx()
    );
}
