//! Target `triplet_indexed`: `TripletLoss` forward and fused calls on `Triplets::indexed` with a
//! fuzzed embedding view, index triplets in and out of range, and a gradient matrix of any shape, with
//! every option of the `triplet` target, on every backend and the detected one.
//!
//! Checks, besides the common ones (fuzz/src/lib.rs): forward's statistics and losses are
//! forward_backward's; the indexed call equals `forward` / `forward_backward` (separate gradients) on
//! the gathered rows `A[i] = E[t_i.a]`, `P[i] = E[t_i.p]`, `N[i] = E[t_i.n]`, to the bit; its gradient
//! matrix is exactly the gathered gradients added row by row in triplet order (anchor, positive,
//! negative), skipping inactive triplets, onto zeros (overwrite) or the old values (accumulate); nothing
//! outside the matrix's rows is written; the statistics and losses pass the `triplet` target's exact
//! and f64-oracle checks on the gathered rows.
//!
//! Input: header; the settings (`triplet::Settings::decode`); bytes for the grad mode (`& 1`:
//! Overwrite) and the operation (`% 4 != 0`: forward_backward); `size` rows and dim; the embedding view;
//! a `count` of triplets (at most `4·CAP / dim`); for each triplet three indices (a byte, by `% 8`: 0–5
//! a `u16` modulo the row count; 6 a `u32`; 7 the row count plus a `u8`, saturating); the loss buffer
//! (a byte, `% 4 == 0`: none; else `out_buffer`); the upstream (`UpSpec::decode`); then, for
//! forward_backward, the gradient matrix: a byte (< 200: the embeddings' shape, else `size`s) and its
//! view.

use triplet_simd::{
    Error, GradMode, Reduction, Rows, RowsMut, TripletGrads, TripletLoss, Triplets, reference,
};

use crate::triplet::{
    Outcome, Settings, UpSpec, check_oracle, check_reduction, check_same_outcome, check_untouched,
    loss_buffer_violations, same_res, shape_mismatch,
};
use crate::{
    CAP, Input, TripletExt, ViewSpec, backends, check_result, check_same_slice, out_buffer, same,
};

struct Case {
    settings: Settings,
    mode: GradMode,
    backward: bool,
    se: ViewSpec,
    triplets: Vec<[u32; 3]>,
    losses: Option<Vec<f32>>,
    upstream: UpSpec,
    grad: Option<ViewSpec>,
}

impl Case {
    fn call(&self, name: &'static str, loss: TripletLoss, e: Rows<'_>, backward: bool) -> Outcome {
        let mut losses = self.losses.clone();
        let mut g = match (&self.grad, backward) {
            (Some(s), true) => Some(s.backing.clone()),
            _ => None,
        };
        let res = match (&self.grad, g.as_mut()) {
            (Some(s), Some(g)) => loss.fused(
                Triplets::indexed(e, &self.triplets),
                losses.as_deref_mut(),
                self.upstream.get(),
                TripletGrads::matrix_view(s.view_mut(g).unwrap()),
                self.mode,
            ),
            _ => loss.fwd(Triplets::indexed(e, &self.triplets), losses.as_deref_mut()),
        };
        Outcome {
            name,
            res,
            losses,
            grads: vec![g],
        }
    }

    fn violations(&self) -> Vec<Error> {
        let (rows, dim, t) = (self.se.rows, self.se.dim, self.triplets.len());
        let mut e = self.settings.violations();
        let bad = self.triplets.iter().enumerate().find_map(|(i, idx)| {
            idx.iter()
                .find(|&&r| r as usize >= rows)
                .map(|&index| Error::IndexOutOfRange {
                    triplet: i,
                    index,
                    rows,
                })
        });
        e.extend(bad);
        e.extend(loss_buffer_violations(
            self.losses.as_ref(),
            t,
            self.settings.reduction,
        ));
        if self.backward {
            let g = self.grad.as_ref().unwrap();
            e.extend(shape_mismatch((rows, dim), g.rows, g.dim));
            e.extend(self.upstream.violations(t, self.settings.reduction));
        }
        e
    }
}

fn index(inp: &mut Input<'_>, rows: usize) -> u32 {
    let tag = inp.u8() % 8;
    match tag {
        0..=5 => {
            let p = usize::from(inp.u16());
            (if rows == 0 { p } else { p % rows }) as u32
        }
        6 => inp.u32(),
        _ => u32::try_from(rows.saturating_add(usize::from(inp.u8()))).unwrap_or(u32::MAX),
    }
}

pub fn run(data: &[u8]) {
    let mut inp = Input::new(data);
    let settings = Settings::decode(&mut inp);
    let mode = if inp.bool() {
        GradMode::Overwrite
    } else {
        GradMode::Accumulate
    };
    let backward = !inp.u8().is_multiple_of(4);
    let (rows, dim) = (inp.size(), inp.size());
    let se = ViewSpec::decode(&mut inp, rows, dim, None);
    let t = inp.count(CAP).min(4 * CAP / dim.max(1));
    let triplets: Vec<[u32; 3]> = (0..t)
        .map(|_| {
            [
                index(&mut inp, rows),
                index(&mut inp, rows),
                index(&mut inp, rows),
            ]
        })
        .collect();
    let losses = (!inp.u8().is_multiple_of(4)).then(|| out_buffer(&mut inp, t));
    let upstream = UpSpec::decode(&mut inp, t);
    let grad = backward.then(|| {
        let (r, d) = if inp.u8() < 200 {
            (rows, dim)
        } else {
            (inp.size(), inp.size())
        };
        ViewSpec::decode(&mut inp, r, d, None)
    });
    let case = Case {
        settings,
        mode,
        backward,
        se,
        triplets,
        losses,
        upstream,
        grad,
    };

    let Some(e) = case.se.checked_view("embeddings") else {
        return;
    };
    if let Some(g) = &case.grad
        && g.checked_view("gradient matrix").is_none()
    {
        return;
    }
    let ctx = || {
        format!(
            "settings = {:?}, mode = {:?}, backward = {}, embeddings = {:?}, triplets = {:?}, losses = {:?}, \
             upstream = {:?}, grad = {:?}",
            case.settings,
            case.mode,
            case.backward,
            case.se,
            case.triplets,
            case.losses,
            case.upstream,
            case.grad
        )
    };

    let expected = case.violations();
    // Overwrite zeroes every row of the gradient matrix: a valid call over this many (empty) rows would
    // only be slow.
    if expected.is_empty() && backward && rows > 4 * CAP {
        return;
    }

    let bes = backends();
    let mut outcomes = Vec::new();
    for be in &bes {
        let l = settings.loss(settings.reduction, Some(*be));
        outcomes.push(case.call(be.isa().name(), l, e, backward));
    }
    outcomes.push(case.call(
        "detected",
        settings.loss(settings.reduction, None),
        e,
        backward,
    ));
    let grads0 = vec![
        case.grad
            .as_ref()
            .filter(|_| backward)
            .map(|g| g.backing.clone()),
    ];
    let op = if backward {
        "forward_backward_indexed"
    } else {
        "forward_indexed"
    };
    for o in &outcomes {
        let what = format!("{} {op}", o.name);
        check_result(&what, &o.res, &expected, ctx);
        if o.res.is_err() {
            check_untouched(&what, o, &case.losses, &grads0, &ctx);
        }
    }
    crate::debug!(
        "triplet_indexed: {:?} {:?} {op} rows {rows} dim {dim} triplets {t} losses {:?} upstream {} grad {:?}: \
         expected errors {expected:?}, got {:?}",
        case.settings,
        case.mode,
        case.losses.as_ref().map(|l| l.len()),
        case.upstream.show(),
        case.grad.as_ref().map(|g| (g.rows, g.dim)),
        outcomes[0].res
    );
    for o in &outcomes[1..] {
        check_same_outcome("backends disagree", &outcomes[0], o, &ctx);
    }
    let first = &outcomes[0];
    let Ok(stats) = first.res else {
        return;
    };
    let be = bes[0];

    // forward_backward_indexed's statistics and losses are forward_indexed's.
    if backward {
        let fwd = case.call(
            "forward_indexed",
            settings.loss(settings.reduction, Some(be)),
            e,
            false,
        );
        check_same_outcome(
            "forward_indexed vs forward_backward_indexed",
            &fwd,
            &Outcome {
                name: "forward_backward_indexed",
                res: first.res,
                losses: first.losses.clone(),
                grads: vec![None],
            },
            &ctx,
        );
    }

    // The gathered rows, dense.
    let gather = |k: usize| -> Vec<f32> {
        let mut v = Vec::with_capacity(t * dim);
        for idx in &case.triplets {
            v.extend_from_slice(e.row(idx[k] as usize).unwrap());
        }
        v
    };
    let (ga, gp, gn) = (gather(0), gather(1), gather(2));
    let views = [
        Rows::dense(&ga, t, dim).unwrap(),
        Rows::dense(&gp, t, dim).unwrap(),
        Rows::dense(&gn, t, dim).unwrap(),
    ];
    let loss = settings.loss(settings.reduction, Some(be));
    let mut losses = case.losses.clone();
    let fwd = loss.fwd(
        Triplets::views(views[0], views[1], views[2]),
        losses.as_deref_mut(),
    );
    assert!(
        same_res(&fwd, &first.res) && same_opt(&losses, &first.losses),
        "forward on the gathered rows gave {fwd:?} (losses {losses:?}), the indexed call {:?} (losses {:?}); {}",
        first.res,
        first.losses,
        ctx()
    );

    let per = match &first.losses {
        Some(l) => l.clone(),
        None => {
            let mut l = vec![f32::NAN; t];
            let r = settings
                .loss(Reduction::None, Some(be))
                .fwd(Triplets::views(views[0], views[1], views[2]), Some(&mut l));
            assert!(
                r.is_ok(),
                "Reduction::None forward failed: {r:?}; {}",
                ctx()
            );
            l
        }
    };
    check_reduction(&settings, &stats, &per, &ctx);
    let mut ref_losses = vec![0.0f64; t];
    let r = reference::triplet_loss(
        &settings.loss(settings.reduction, None),
        views[0],
        views[1],
        views[2],
        Some(&mut ref_losses),
    );
    check_result("reference::triplet_loss", &r, &[], ctx);
    check_oracle(
        &settings,
        views,
        &stats,
        &per,
        r.ok().map(|r| (r, &ref_losses[..])),
        &ctx,
    );

    if !backward {
        return;
    }
    // The gathered gradients, then their sum in triplet order.
    let spec = case.grad.as_ref().unwrap();
    let mut sep = [
        vec![0.0f32; t * dim],
        vec![0.0f32; t * dim],
        vec![0.0f32; t * dim],
    ];
    let mut sep_losses = vec![f32::NAN; t];
    let sep_res = {
        let [s0, s1, s2] = &mut sep;
        loss.fused(
            Triplets::views(views[0], views[1], views[2]),
            Some(&mut sep_losses),
            case.upstream.get(),
            TripletGrads::views(
                Some(RowsMut::dense(s0, t, dim).unwrap()),
                Some(RowsMut::dense(s1, t, dim).unwrap()),
                Some(RowsMut::dense(s2, t, dim).unwrap()),
            ),
            GradMode::Overwrite,
        )
    };
    assert!(
        same_res(&sep_res, &first.res) && crate::same_slice(&sep_losses, &per),
        "forward_backward on the gathered rows gave {sep_res:?} (losses {sep_losses:?}), the indexed call {:?} \
         (losses {per:?}); {}",
        first.res,
        ctx()
    );
    let base = spec.base();
    let mut want = spec.backing.clone();
    let mut in_row = vec![false; want.len()];
    for r in 0..rows {
        let s = base + r * spec.stride;
        for j in 0..dim {
            in_row[s + j] = true;
            if mode == GradMode::Overwrite {
                want[s + j] = 0.0;
            }
        }
    }
    for (i, idx) in case.triplets.iter().enumerate() {
        if per[i] == 0.0 {
            continue; // inactive: nothing added
        }
        for k in 0..3 {
            let s = base + idx[k] as usize * spec.stride;
            for j in 0..dim {
                want[s + j] += sep[k][i * dim + j];
            }
        }
    }
    let got = first.grads[0].as_ref().unwrap();
    for (i, (&w, &g)) in want.iter().zip(got).enumerate() {
        if in_row[i] {
            if !same(w, g) {
                check_same_slice(
                    "gradient matrix vs the gathered gradients summed in triplet order",
                    &want,
                    got,
                    ctx,
                );
            }
        } else {
            assert!(
                w.to_bits() == g.to_bits(),
                "gradient matrix: [{i}] outside every row was written: {w:e} -> {g:e}; {}",
                ctx()
            );
        }
    }
}

fn same_opt(a: &Option<Vec<f32>>, b: &Option<Vec<f32>>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => crate::same_slice(a, b),
        _ => false,
    }
}
