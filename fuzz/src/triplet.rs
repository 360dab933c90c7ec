//! Target `triplet`: `TripletLoss::forward` and `forward_backward` on three strided views, with every
//! option (distance and eps, margin, swap, soft margin, reduction, grad mode, upstream, per-triplet loss
//! buffer) and the gradients as `TripletGrads::Separate` (each optional) or `Interleaved`, on every
//! backend and the detected one. The settings decoding and the oracle checks are shared with
//! `triplet_indexed`.
//!
//! Checks, besides the common ones (fuzz/src/lib.rs): forward's statistics and per-triplet losses are
//! forward_backward's, to the bit; the reduced loss and the active count are exactly those of the
//! per-triplet losses; for finite, moderate rows, each per-triplet loss and the mean distances are
//! within a derived rounding bound of `reference::triplet_loss` (and this crate's own f64 distances);
//! gradient rows of an inactive triplet are `+0` (overwrite) or untouched (accumulate), those of a
//! NaN triplet NaN; other
//! gradients, where the hinge and swap decisions are certain, are within a rounding bound of the f64
//! formulas of SEMANTICS.md; nothing outside the gradient rows is written; the same rows copied side
//! by side into one interleaved batch (padded) give the same bits on every backend.
//!
//! Input: header; the settings (`Settings::decode`); bytes for the grad mode (`& 1`: Overwrite) and the
//! operation (`% 4 != 0`: forward_backward); `size` n and dim; view a; views p and n (each: a byte < 200:
//! a's shape, else its own `size`s; values `related` to a's); the loss buffer (a byte, `% 4 == 0`: none;
//! else `out_buffer`); the upstream (`UpSpec::decode`); then, for forward_backward, a byte (`& 1`:
//! interleaved): interleaved, a byte < 200: `3n × dim` (`size`s if `3n` overflows), else `size`s, then
//! its view; separate, for each of anchor, positive, negative a byte (`& 1`: present), a byte (< 200:
//! `n × dim`, else `size`s) and its view; last, the padding (`u8 % 4`) of a side-by-side copy.

use triplet_simd::{
    Backend, Distance, Error, GradMode, Reduction, Rows, RowsMut, TripletGrads, TripletLoss,
    TripletStats, Triplets, Upstream, reference,
};

use crate::{
    CAP, Input, TripletExt, ViewSpec, backends, check_result, check_same_slice, out_buffer, same,
    same_error,
};

pub(crate) const U: f64 = f32::EPSILON as f64 / 2.0; // unit roundoff of f32
pub(crate) const TINY: f64 = 1.401_298_464_324_817e-45; // 2^-149, the smallest subnormal f32
/// Rows, eps and margins below these magnitudes cannot overflow anywhere in f32 (rows of at most
/// `CAP` values: `(2·1e15 + 1e15)²·CAP < 2e35`).
const MODERATE: f64 = 1e15;
const MODERATE_MARGIN: f64 = 1e30;

/// eps values picked by a table byte (the rest of the time an arbitrary `f32`, often invalid).
pub const EPS_TABLE: [f32; 8] = [1e-6, 1e-12, 0.0, -0.0, 1e-3, 0.5, f32::from_bits(1), 2.0];
/// Margins picked by a table byte.
pub const MARGIN_TABLE: [f32; 8] = [0.2, 1.0, 0.0, -0.0, 0.5, -0.5, 2.0, 100.0];
pub const REDUCTIONS: [Reduction; 4] = [
    Reduction::None,
    Reduction::Sum,
    Reduction::Mean,
    Reduction::MeanActive,
];

/// The loss settings.
///
/// Input: a byte for the distance (`% 4`: SqL2, EpsOnDiff, EpsInSqrt, Exact), for the eps variants a byte
/// (`% 4 == 0`: an `f32`, else `EPS_TABLE[(byte / 4) % 8]`); a byte for the margin (`% 4 == 0`: an `f32`,
/// else `MARGIN_TABLE[(byte / 4) % 8]`); bytes for swap (`& 1`), soft margin (`& 1`) and the reduction
/// (`% 4`: None, Sum, Mean, MeanActive).
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    pub distance: Distance,
    pub margin: f32,
    pub swap: bool,
    pub soft: bool,
    pub reduction: Reduction,
}

impl Settings {
    pub fn decode(inp: &mut Input<'_>) -> Self {
        let kind = inp.u8() % 4;
        let eps = |inp: &mut Input<'_>| {
            let b = inp.u8();
            if b.is_multiple_of(4) {
                inp.f32()
            } else {
                EPS_TABLE[usize::from(b / 4) % EPS_TABLE.len()]
            }
        };
        let distance = match kind {
            0 => Distance::SqL2,
            1 => Distance::EpsOnDiff(eps(inp)),
            2 => Distance::EpsInSqrt(eps(inp)),
            _ => Distance::Exact,
        };
        let b = inp.u8();
        let margin = if b.is_multiple_of(4) {
            inp.f32()
        } else {
            MARGIN_TABLE[usize::from(b / 4) % MARGIN_TABLE.len()]
        };
        let swap = inp.bool();
        let soft = inp.bool();
        let reduction = REDUCTIONS[usize::from(inp.u8() % 4)];
        Settings {
            distance,
            margin,
            swap,
            soft,
            reduction,
        }
    }

    /// The loss with these settings but `reduction`, on `backend` (or the detected one).
    pub fn loss(&self, reduction: Reduction, backend: Option<Backend>) -> TripletLoss {
        let l = TripletLoss::new(self.margin)
            .distance(self.distance)
            .swap(self.swap)
            .soft_margin(self.soft)
            .reduction(reduction);
        match backend {
            Some(b) => l.backend(b),
            None => l,
        }
    }

    /// The errors these settings deserve: a margin that is not finite, an eps not finite and ≥ 0.
    pub fn violations(&self) -> Vec<Error> {
        let mut v = Vec::new();
        if !self.margin.is_finite() {
            v.push(Error::InvalidParameter {
                name: "margin",
                value: self.margin,
                rule: "",
            });
        }
        if let Distance::EpsOnDiff(e) | Distance::EpsInSqrt(e) = self.distance
            && !(e.is_finite() && e >= 0.0)
        {
            v.push(Error::InvalidParameter {
                name: "eps",
                value: e,
                rule: "",
            });
        }
        v
    }

    /// The eps added to every difference (EpsOnDiff), else 0.
    fn eps_on_diff(&self) -> f64 {
        match self.distance {
            Distance::EpsOnDiff(e) => f64::from(e),
            _ => 0.0,
        }
    }

    fn euclid(&self) -> bool {
        self.distance != Distance::SqL2
    }
}

/// An upstream gradient.
#[derive(Clone, Debug)]
pub enum UpSpec {
    Scalar(f32),
    PerItem(Vec<f32>),
}

impl UpSpec {
    /// A byte (`% 4 == 0`: per item, with a byte < 192: `n` values if `n ≤ CAP`, else a `count`; else
    /// `Scalar(f32)`).
    pub fn decode(inp: &mut Input<'_>, n: usize) -> Self {
        if inp.u8().is_multiple_of(4) {
            let len = if inp.u8() < 192 && n <= CAP {
                n
            } else {
                inp.count(CAP)
            };
            UpSpec::PerItem(inp.floats(len))
        } else {
            UpSpec::Scalar(inp.f32())
        }
    }

    pub fn get(&self) -> Upstream<'_> {
        match self {
            UpSpec::Scalar(g) => Upstream::Scalar(*g),
            UpSpec::PerItem(g) => Upstream::PerItem(g),
        }
    }

    /// The errors a forward_backward with `n` triplets and `reduction` deserves for this upstream.
    pub fn violations(&self, n: usize, reduction: Reduction) -> Vec<Error> {
        match self {
            UpSpec::PerItem(_) if reduction != Reduction::None => vec![Error::Missing { what: "" }],
            UpSpec::PerItem(g) if g.len() != n => vec![mismatch(n, g.len())],
            _ => Vec::new(),
        }
    }

    /// The `f32` weight of triplet `i`'s gradient, as SEMANTICS.md's table gives it (`active`: the count
    /// MeanActive divides by).
    pub fn weight(&self, i: usize, reduction: Reduction, n: usize, active: usize) -> f32 {
        let div = |g: f32, c: usize| if c == 0 { 0.0 } else { g / c as f32 };
        match (self, reduction) {
            (UpSpec::PerItem(g), _) => g[i],
            (UpSpec::Scalar(g), Reduction::None | Reduction::Sum) => *g,
            (UpSpec::Scalar(g), Reduction::Mean) => div(*g, n),
            (UpSpec::Scalar(g), Reduction::MeanActive) => div(*g, active),
        }
    }

    pub fn show(&self) -> String {
        match self {
            UpSpec::Scalar(g) => format!("Scalar({g:e})"),
            UpSpec::PerItem(g) => format!("PerItem(len {})", g.len()),
        }
    }
}

pub(crate) fn mismatch(expected: usize, found: usize) -> Error {
    Error::LengthMismatch {
        what: "",
        expected,
        found,
    }
}

/// The errors a view of `rows × dim` deserves where `want` is needed.
pub(crate) fn shape_mismatch(want: (usize, usize), rows: usize, dim: usize) -> Vec<Error> {
    let mut v = Vec::new();
    if rows != want.0 {
        v.push(mismatch(want.0, rows));
    }
    if dim != want.1 {
        v.push(mismatch(want.1, dim));
    }
    v
}

/// Statistics of two calls are identical (bits, or both NaN).
pub fn same_stats(a: &TripletStats, b: &TripletStats) -> bool {
    same(a.loss, b.loss)
        && a.active == b.active
        && same(a.mean_d_ap, b.mean_d_ap)
        && same(a.mean_d_an, b.mean_d_an)
}

pub fn same_res(a: &Result<TripletStats, Error>, b: &Result<TripletStats, Error>) -> bool {
    match (a, b) {
        (Ok(x), Ok(y)) => same_stats(x, y),
        (Err(x), Err(y)) => same_error(x, y),
        _ => false,
    }
}

/// Two buffers hold the same bits (NaN payloads included): "nothing was written".
pub fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

fn same_opt_bits(a: &Option<Vec<f32>>, b: &Option<Vec<f32>>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => same_bits(a, b),
        _ => false,
    }
}

/// What one call produced: its result, the loss buffer and the gradient buffers after it.
pub struct Outcome {
    pub name: &'static str,
    pub res: Result<TripletStats, Error>,
    pub losses: Option<Vec<f32>>,
    pub grads: Vec<Option<Vec<f32>>>,
}

/// Asserts that two outcomes are bit-identical (two NaNs equal).
pub fn check_same_outcome(what: &str, x: &Outcome, y: &Outcome, ctx: &dyn Fn() -> String) {
    assert!(
        same_res(&x.res, &y.res),
        "{what}: {} gave {:?} but {} gave {:?}; {}",
        x.name,
        x.res,
        y.name,
        y.res,
        ctx()
    );
    let pairs = std::iter::once(("losses", &x.losses, &y.losses)).chain(
        x.grads
            .iter()
            .zip(&y.grads)
            .map(|(p, q)| ("gradient buffer", p, q)),
    );
    for (label, p, q) in pairs {
        match (p, q) {
            (Some(p), Some(q)) => check_same_slice(
                &format!("{what}: {label} of {} vs {}", x.name, y.name),
                p,
                q,
                ctx,
            ),
            (None, None) => {}
            _ => panic!("{what}: {label} present in one outcome only"),
        }
    }
}

/// Asserts that an erring call wrote nothing.
pub fn check_untouched(
    what: &str,
    o: &Outcome,
    losses0: &Option<Vec<f32>>,
    grads0: &[Option<Vec<f32>>],
    ctx: &dyn Fn() -> String,
) {
    let untouched = same_opt_bits(&o.losses, losses0)
        && o.grads.len() == grads0.len()
        && o.grads.iter().zip(grads0).all(|(p, q)| same_opt_bits(p, q));
    assert!(
        untouched,
        "{what}: returned {:?} but wrote to an output; {}",
        o.res,
        ctx()
    );
}

/// The gradients of a case.
#[derive(Clone, Debug)]
enum GradSpec {
    Separate([Option<ViewSpec>; 3]),
    Interleaved(ViewSpec),
}

impl GradSpec {
    fn specs(&self) -> Vec<Option<&ViewSpec>> {
        match self {
            GradSpec::Separate(s) => s.iter().map(|s| s.as_ref()).collect(),
            GradSpec::Interleaved(s) => vec![Some(s)],
        }
    }
    fn backings(&self) -> Vec<Option<Vec<f32>>> {
        self.specs()
            .into_iter()
            .map(|s| s.map(|s| s.backing.clone()))
            .collect()
    }
    /// Buffer and row of member `k` of triplet `i`.
    fn at(&self, i: usize, k: usize) -> (usize, usize) {
        match self {
            GradSpec::Separate(_) => (k, i),
            GradSpec::Interleaved(_) => (0, 3 * i + k),
        }
    }
}

struct Case {
    settings: Settings,
    mode: GradMode,
    backward: bool,
    n: usize,
    dim: usize,
    sa: ViewSpec,
    sp: ViewSpec,
    sn: ViewSpec,
    losses: Option<Vec<f32>>,
    upstream: UpSpec,
    grads: GradSpec,
}

impl Case {
    fn call(
        &self,
        name: &'static str,
        loss: TripletLoss,
        v: [Rows<'_>; 3],
        backward: bool,
    ) -> Outcome {
        let mut losses = self.losses.clone();
        let mut bufs = if backward {
            self.grads.backings()
        } else {
            Vec::new()
        };
        let res = if backward {
            let specs = self.grads.specs();
            let mut views: Vec<Option<RowsMut<'_>>> = specs
                .iter()
                .zip(bufs.iter_mut())
                .map(|(s, b)| s.zip(b.as_mut()).map(|(s, b)| s.view_mut(b).unwrap()))
                .collect();
            let grads = match self.grads {
                GradSpec::Separate(_) => {
                    let negative = views.pop().unwrap();
                    let positive = views.pop().unwrap();
                    let anchor = views.pop().unwrap();
                    TripletGrads::views(anchor, positive, negative)
                }
                GradSpec::Interleaved(_) => {
                    TripletGrads::interleaved_view(views.pop().unwrap().unwrap())
                }
            };
            loss.fused(
                Triplets::views(v[0], v[1], v[2]),
                losses.as_deref_mut(),
                self.upstream.get(),
                grads,
                self.mode,
            )
        } else {
            loss.fwd(Triplets::views(v[0], v[1], v[2]), losses.as_deref_mut())
        };
        Outcome {
            name,
            res,
            losses,
            grads: bufs,
        }
    }

    /// The errors the call deserves, decided here.
    fn violations(&self) -> Vec<Error> {
        let (n, dim) = (self.n, self.dim);
        let mut e = self.settings.violations();
        e.extend(shape_mismatch((n, dim), self.sp.rows, self.sp.dim));
        e.extend(shape_mismatch((n, dim), self.sn.rows, self.sn.dim));
        e.extend(loss_buffer_violations(
            self.losses.as_ref(),
            n,
            self.settings.reduction,
        ));
        if self.backward {
            match &self.grads {
                GradSpec::Separate(s) => {
                    for g in s.iter().flatten() {
                        e.extend(shape_mismatch((n, dim), g.rows, g.dim));
                    }
                }
                GradSpec::Interleaved(g) => match n.checked_mul(3) {
                    None => e.push(Error::CountOverflow {
                        what: "",
                        count: n,
                        factor: 3,
                    }),
                    Some(three) => e.extend(shape_mismatch((three, dim), g.rows, g.dim)),
                },
            }
            e.extend(self.upstream.violations(n, self.settings.reduction));
        }
        e
    }
}

/// The errors a per-triplet loss buffer deserves.
pub(crate) fn loss_buffer_violations(
    losses: Option<&Vec<f32>>,
    n: usize,
    reduction: Reduction,
) -> Vec<Error> {
    match losses {
        Some(l) if l.len() != n => vec![mismatch(n, l.len())],
        None if reduction == Reduction::None => vec![Error::Missing { what: "" }],
        _ => Vec::new(),
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
    let (n, dim) = (inp.size(), inp.size());
    let sa = ViewSpec::decode(&mut inp, n, dim, None);
    let shape = |inp: &mut Input<'_>, want: (usize, usize)| {
        if inp.u8() < 200 {
            want
        } else {
            (inp.size(), inp.size())
        }
    };
    let (r, d) = shape(&mut inp, (n, dim));
    let sp = ViewSpec::decode(&mut inp, r, d, Some(&sa.backing));
    let (r, d) = shape(&mut inp, (n, dim));
    let sn = ViewSpec::decode(&mut inp, r, d, Some(&sa.backing));
    let losses = (!inp.u8().is_multiple_of(4)).then(|| out_buffer(&mut inp, n));
    let upstream = UpSpec::decode(&mut inp, n);
    let grads = if !backward {
        GradSpec::Separate([None, None, None])
    } else if inp.bool() {
        let want = match n.checked_mul(3) {
            Some(t) => (t, dim),
            None => (inp.size(), inp.size()),
        };
        let (r, d) = shape(&mut inp, want);
        GradSpec::Interleaved(ViewSpec::decode(&mut inp, r, d, None))
    } else {
        let one = |inp: &mut Input<'_>| {
            inp.bool().then(|| {
                let (r, d) = shape(inp, (n, dim));
                ViewSpec::decode(inp, r, d, None)
            })
        };
        let ga = one(&mut inp);
        let gp = one(&mut inp);
        let gn = one(&mut inp);
        GradSpec::Separate([ga, gp, gn])
    };
    // Padding after each row of the side-by-side copy (see the end).
    let pad = usize::from(inp.u8() % 4);
    let case = Case {
        settings,
        mode,
        backward,
        n,
        dim,
        sa,
        sp,
        sn,
        losses,
        upstream,
        grads,
    };

    let (Some(a), Some(p), Some(nv)) = (
        case.sa.checked_view("view a"),
        case.sp.checked_view("view p"),
        case.sn.checked_view("view n"),
    ) else {
        return;
    };
    let mut grads_ok = true;
    for g in case.grads.specs().into_iter().flatten() {
        grads_ok &= g.checked_view("gradient view").is_some();
    }
    if !grads_ok {
        return;
    }
    let views = [a, p, nv];
    let ctx = || {
        format!(
            "settings = {:?}, mode = {:?}, backward = {}, a = {:?}, p = {:?}, n = {:?}, losses = {:?}, \
             upstream = {:?}, grads = {:?}",
            case.settings,
            case.mode,
            case.backward,
            case.sa,
            case.sp,
            case.sn,
            case.losses,
            case.upstream,
            case.grads
        )
    };

    let expected = case.violations();
    if expected.is_empty() && n > 4 * CAP {
        // A valid call over this many (empty) rows would only be slow.
        return;
    }

    // The f64 oracle validates the settings and shapes too.
    let mut ref_expected = settings.violations();
    ref_expected.extend(shape_mismatch((n, dim), case.sp.rows, case.sp.dim));
    ref_expected.extend(shape_mismatch((n, dim), case.sn.rows, case.sn.dim));
    let mut ref_losses = (n <= 4 * CAP).then(|| vec![-1.0f64; n]);
    let ref_res = if !ref_expected.is_empty() || n <= 4 * CAP {
        let r = reference::triplet_loss(
            &settings.loss(settings.reduction, None),
            a,
            p,
            nv,
            ref_losses.as_deref_mut(),
        );
        check_result("reference::triplet_loss", &r, &ref_expected, ctx);
        r.ok()
    } else {
        None
    };

    let bes = backends();
    let mut outcomes = Vec::new();
    for be in &bes {
        let l = settings.loss(settings.reduction, Some(*be));
        outcomes.push(case.call(be.isa().name(), l, views, backward));
    }
    let l = settings.loss(settings.reduction, None);
    outcomes.push(case.call("detected", l, views, backward));
    let grads0 = if backward {
        case.grads.backings()
    } else {
        Vec::new()
    };
    let op = if backward {
        "forward_backward"
    } else {
        "forward"
    };
    for o in &outcomes {
        let what = format!("{} {op}", o.name);
        check_result(&what, &o.res, &expected, ctx);
        if o.res.is_err() {
            check_untouched(&what, o, &case.losses, &grads0, &ctx);
        }
    }
    crate::debug!(
        "triplet: {:?} {:?} {op} n {n} dim {dim} losses {:?} upstream {} grads {}: expected errors {expected:?}, \
         got {:?}",
        case.settings,
        case.mode,
        case.losses.as_ref().map(|l| l.len()),
        case.upstream.show(),
        match &case.grads {
            GradSpec::Separate(s) => format!("separate {:?}", s.each_ref().map(|g| g.is_some())),
            GradSpec::Interleaved(_) => "interleaved".to_string(),
        },
        outcomes[0].res
    );
    for o in &outcomes[1..] {
        check_same_outcome("backends disagree", &outcomes[0], o, &ctx);
    }
    let first = &outcomes[0];
    let Ok(stats) = first.res else {
        return;
    };
    let be = bes[0]; // the backend of `first`

    // forward_backward's statistics and losses are forward's, to the bit.
    if backward {
        let fwd = case.call(
            "forward",
            settings.loss(settings.reduction, Some(be)),
            views,
            false,
        );
        check_same_outcome(
            "forward vs forward_backward",
            &fwd,
            &Outcome {
                name: "forward_backward",
                res: first.res,
                losses: first.losses.clone(),
                grads: Vec::new(),
            },
            &ctx,
        );
    }

    // The per-triplet losses: the call's own, or those of a Reduction::None forward.
    let per = match &first.losses {
        Some(l) => l.clone(),
        None => {
            let mut l = vec![f32::NAN; n];
            let r = settings
                .loss(Reduction::None, Some(be))
                .fwd(Triplets::views(a, p, nv), Some(&mut l));
            assert!(
                r.is_ok(),
                "Reduction::None forward failed: {r:?}; {}",
                ctx()
            );
            l
        }
    };
    check_reduction(&settings, &stats, &per, &ctx);
    let exact = check_oracle(
        &settings,
        views,
        &stats,
        &per,
        ref_res.zip(ref_losses.as_deref()),
        &ctx,
    );

    if backward {
        check_grads(&case, views, &stats, &per, &exact, &first.grads, &ctx);
    }

    // The same rows side by side, as one interleaved batch `[a p n]` with `pad` values after each
    // row (the kernel reads such rows in another order): the same bits on every backend.
    let len = dim
        .checked_add(pad)
        .and_then(|s| s.checked_mul(3 * n))
        .filter(|&l| n > 0 && dim > 0 && l <= 64 * CAP);
    if let Some(len) = len {
        let s = dim + pad;
        let mut inter = vec![f32::NAN; len];
        for i in 0..n {
            for (k, v) in views.iter().enumerate() {
                inter[(3 * i + k) * s..][..dim].copy_from_slice(v.row(i).unwrap());
            }
        }
        let side = Rows::interleaved_padded::<3>(&inter, n, dim, s).unwrap();
        for be in &bes {
            let l = settings.loss(settings.reduction, Some(*be));
            let o = case.call("side by side", l, side, backward);
            check_same_outcome("rows side by side vs the views", first, &o, &ctx);
        }
    }
}

/// Exact checks of the statistics against the per-triplet losses `per`: the active count, the reduced
/// loss (the f64 sum in triplet order, divided and rounded as SEMANTICS.md's table says), zeros for
/// no triplets.
pub fn check_reduction(
    settings: &Settings,
    stats: &TripletStats,
    per: &[f32],
    ctx: &dyn Fn() -> String,
) {
    let n = per.len();
    let active = per
        .iter()
        .filter(|&&l| if settings.soft { !l.is_nan() } else { l > 0.0 })
        .count();
    assert_eq!(
        stats.active,
        active,
        "active count {} but {active} per-triplet losses are active; {}",
        stats.active,
        ctx()
    );
    let total = crate::block_sum(per.iter().map(|&l| f64::from(l)));
    let want = match settings.reduction {
        Reduction::None | Reduction::Sum => total as f32,
        // NaN in, NaN out, also when no triplet counts (a NaN triplet is never active).
        _ if total.is_nan() => f32::NAN,
        Reduction::Mean if n > 0 => (total / n as f64) as f32,
        Reduction::MeanActive if active > 0 => (total / active as f64) as f32,
        _ => 0.0,
    };
    assert!(
        same(stats.loss, want),
        "reduced loss {:e} but the per-triplet losses give {want:e} ({:?}); {}",
        stats.loss,
        settings.reduction,
        ctx()
    );
    if n == 0 {
        assert!(
            stats.loss == 0.0 && stats.mean_d_ap == 0.0 && stats.mean_d_an == 0.0,
            "no triplets gave {stats:?}; {}",
            ctx()
        );
    }
    // The hinge is ≥ 0, and so is softplus (which may underflow to +0).
    assert!(
        per.iter().all(|&l| l.is_nan() || l >= 0.0),
        "a negative per-triplet loss; {}",
        ctx()
    );
}

/// One distance of a triplet in f64, with the bound on the fast path's error.
#[derive(Clone, Copy, Debug)]
pub struct Dist {
    /// The exact distance (f64).
    pub d: f64,
    /// A bound on `|fast − d|`.
    pub err: f64,
}

/// The f64 facts about one triplet with finite, moderate rows.
#[derive(Clone, Copy, Debug)]
pub struct Exact {
    pub ap: Dist,
    pub an: Dist,
    /// `d(p, n)` (computed whether or not swap is on).
    pub pn: Dist,
    /// `v` and the bound on the fast path's `v`.
    pub v: f64,
    pub v_err: f64,
    /// Whether swap is taken, when that is certain (`None`: too close to call, or swap off: Some(false)).
    pub swapped: Option<bool>,
}

fn dist(settings: &Settings, x: &[f32], y: &[f32]) -> Dist {
    let e = settings.eps_on_diff();
    let (mut s, mut scale) = (0.0f64, 0.0f64);
    for (&x, &y) in x.iter().zip(y) {
        let t = f64::from(x) - f64::from(y);
        s += (t + e) * (t + e);
        scale += (t.abs() + e.abs()) * (t.abs() + e.abs());
    }
    let len = x.len();
    // sq_l2's documented bound, with slack for the eps addition (two roundings per difference).
    let err_s = 2.0 * (((len.div_ceil(64) + 12) as f64) * U * scale + len as f64 * TINY);
    let root = |s: f64, err_s: f64| {
        let d = s.sqrt();
        Dist {
            d,
            err: (s + err_s).sqrt() - (s - err_s).max(0.0).sqrt() + 2.0 * U * d,
        }
    };
    match settings.distance {
        Distance::SqL2 => Dist { d: s, err: err_s },
        Distance::Exact | Distance::EpsOnDiff(_) => root(s, err_s),
        Distance::EpsInSqrt(eps) => {
            let s2 = s + f64::from(eps);
            root(s2, err_s + 2.0 * U * s2)
        }
    }
}

fn moderate(x: &[f32]) -> bool {
    x.iter().all(|v| f64::from(v.abs()) <= MODERATE)
}

/// The f64 facts of a triplet, if its rows and the settings are finite and moderate.
fn exact_triplet(settings: &Settings, rows: [&[f32]; 3]) -> Option<Exact> {
    let m = f64::from(settings.margin);
    if !(rows.iter().all(|r| moderate(r))
        && settings.eps_on_diff().abs() <= MODERATE
        && m.abs() <= MODERATE_MARGIN)
    {
        return None;
    }
    if let Distance::EpsInSqrt(e) = settings.distance
        && f64::from(e) > MODERATE
    {
        return None;
    }
    let [x, y, z] = rows;
    let (ap, an, pn) = (
        dist(settings, x, y),
        dist(settings, x, z),
        dist(settings, y, z),
    );
    let (neg, swapped) = if !settings.swap {
        (an, Some(false))
    } else {
        // min is 1-Lipschitz: the fast min is within max(err) of the exact one.
        let neg = Dist {
            d: an.d.min(pn.d),
            err: an.err.max(pn.err),
        };
        // p == a (bit for bit) makes d(p, n) and d(a, n) the same computation: a tie, never swapped.
        let tie = x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits());
        let certain = (an.d - pn.d).abs() > an.err + pn.err;
        let swapped = if tie {
            Some(false)
        } else {
            certain.then_some(pn.d < an.d)
        };
        (neg, swapped)
    };
    let v = ap.d - neg.d + m;
    let v_err = ap.err + neg.err + 2.0 * U * (ap.d.abs() + neg.d.abs() + m.abs()) + TINY;
    Some(Exact {
        ap,
        an,
        pn,
        v,
        v_err,
        swapped,
    })
}

/// Rows of triplet `i` of three views.
pub(crate) fn triplet_rows<'a>(v: &[Rows<'a>; 3], i: usize) -> [&'a [f32]; 3] {
    [
        v[0].row(i).unwrap(),
        v[1].row(i).unwrap(),
        v[2].row(i).unwrap(),
    ]
}

fn softplus(v: f64) -> f64 {
    v.max(0.0) + (-v.abs()).exp().ln_1p()
}

/// Compares the per-triplet losses `per` and the statistics with the f64 oracle wherever a triplet's
/// rows are finite and moderate; `reference` is `reference::triplet_loss`'s reduced value and
/// per-triplet losses, when it was called. Returns each triplet's f64 facts.
pub fn check_oracle(
    settings: &Settings,
    v: [Rows<'_>; 3],
    stats: &TripletStats,
    per: &[f32],
    reference: Option<(f64, &[f64])>,
    ctx: &dyn Fn() -> String,
) -> Vec<Option<Exact>> {
    let n = per.len();
    let mut all = true;
    let (mut sum_ap, mut err_ap, mut sum_an, mut err_an) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    let (mut total, mut total_err, mut active_exact) = (0.0f64, 0.0f64, 0usize);
    let mut out = Vec::with_capacity(n);
    for (i, &got) in per.iter().enumerate() {
        let rows = triplet_rows(&v, i);
        let Some(ex) = exact_triplet(settings, rows) else {
            all = false;
            out.push(None);
            continue;
        };
        out.push(Some(ex));
        let want = if settings.soft {
            softplus(ex.v)
        } else {
            ex.v.max(0.0)
        };
        // hinge and softplus are 1-Lipschitz; softplus adds libm's and the sum's roundings.
        let tol = 2.0 * ex.v_err + 8.0 * U * want + 2.0 * TINY;
        if let Some((_, r)) = reference {
            assert!(
                (r[i] - want).abs()
                    <= 1e-12 * (ex.ap.d + ex.an.d + ex.pn.d + ex.v.abs() + want) + TINY,
                "triplet {i}: reference::triplet_loss gives {:e}, the f64 distances {want:e}; {}",
                r[i],
                ctx()
            );
        }
        assert!(
            got.is_finite() && (f64::from(got) - want).abs() <= tol,
            "triplet {i}: loss {got:e} but the f64 oracle gives {want:e} (tolerance {tol:e}, v = {:e} ± {:e}, \
             d_ap = {:e}, d_an = {:e}, d_pn = {:e}); rows {:?}; {}",
            ex.v,
            ex.v_err,
            ex.ap.d,
            ex.an.d,
            ex.pn.d,
            rows,
            ctx()
        );
        sum_ap += ex.ap.d;
        err_ap += ex.ap.err;
        sum_an += ex.an.d;
        err_an += ex.an.err;
        total += want;
        total_err += tol;
        active_exact += usize::from(settings.soft || ex.v > 0.0);
    }
    crate::debug!(
        "losses compared with the f64 oracle for {} of {n} triplets",
        out.iter().filter(|e| e.is_some()).count()
    );
    if !all || n == 0 {
        return out;
    }
    let nf = n as f64;
    for (label, got, want, err) in [
        ("mean_d_ap", stats.mean_d_ap, sum_ap / nf, err_ap / nf),
        ("mean_d_an", stats.mean_d_an, sum_an / nf, err_an / nf),
    ] {
        let tol = 2.0 * err + 4.0 * U * want.abs() + 2.0 * TINY;
        assert!(
            (f64::from(got) - want).abs() <= tol,
            "{label} = {got:e} but the f64 oracle gives {want:e} (tolerance {tol:e}); {}",
            ctx()
        );
    }
    // The reduced loss against reference::triplet_loss. MeanActive's count may differ from the exact
    // one where a hinge decision is within rounding: compare only when the counts agree (a triplet
    // counted by one side only has a loss within its tolerance of 0 on both).
    let count = match settings.reduction {
        Reduction::None | Reduction::Sum => Some(1.0),
        Reduction::Mean => Some(nf),
        Reduction::MeanActive if stats.active == active_exact => Some(active_exact.max(1) as f64),
        Reduction::MeanActive => None,
    };
    if let (Some((r, _)), Some(c)) = (reference, count) {
        assert!(
            (r - total / c).abs() <= 1e-12 * (total_err + total / c) + TINY,
            "reference::triplet_loss reduced {r:e}, the f64 oracle {:e}; {}",
            total / c,
            ctx()
        );
        let tol = 2.0 * total_err / c + 4.0 * U * r.abs() + 2.0 * TINY;
        assert!(
            (f64::from(stats.loss) - r).abs() <= tol,
            "reduced loss {:e} but reference::triplet_loss gives {r:e} (tolerance {tol:e}); {}",
            stats.loss,
            ctx()
        );
    }
    out
}

/// The gradient rows of triplet `i` as SEMANTICS.md defines them, in f64, with a bound on the fast
/// path's error per element: `None` where a decision or a distance is too close to call.
pub fn expected_grads(
    settings: &Settings,
    rows: [&[f32]; 3],
    ex: &Exact,
    weight: f32,
) -> Option<[Vec<(f64, f64)>; 3]> {
    let w = f64::from(weight);
    if !w.is_finite() || w.abs() > 1e30 {
        return None;
    }
    let swapped = ex.swapped?;
    // The slope ∂loss/∂v and its relative error.
    let (slope, slope_rel) = if settings.soft {
        if ex.v_err > 0.01 {
            return None;
        }
        let sig = 1.0 / (1.0 + (-ex.v).exp());
        (sig, 2.0 * ex.v_err + 8.0 * U)
    } else {
        if ex.v.abs() <= ex.v_err {
            return None;
        }
        (if ex.v > 0.0 { 1.0 } else { 0.0 }, 0.0)
    };
    // s = slope·w in f32: one rounding.
    let s = slope * w;
    let s_rel = slope_rel + U;
    let [a, p, n] = rows;
    let e = settings.eps_on_diff();
    let neg = if swapped { ex.pn } else { ex.an };
    // The coefficients c1 (of the a–p difference) and c2 (of the negative one), with relative errors.
    let (c1, r1, c2, r2) = if settings.euclid() {
        // c = s / d, 0 at d = 0: skip distances whose fast value could be 0 or far off in relative terms.
        let coef = |d: &Dist| {
            if d.d == 0.0 {
                // Every `x − y + eps` is exactly 0 (eps is an f32, so the f32 difference is exact too): the
                // fast distance is exactly 0, and so is its coefficient.
                Some((0.0, 0.0))
            } else if d.d <= 8.0 * d.err {
                None
            } else {
                Some((s / d.d, s_rel + 1.5 * d.err / d.d + 2.0 * U))
            }
        };
        let (c1, r1) = coef(&ex.ap)?;
        let (c2, r2) = coef(&neg)?;
        (c1, r1, c2, r2)
    } else {
        (2.0 * s, s_rel, 2.0 * s, s_rel)
    };
    if c1.abs() > 1e30 || c2.abs() > 1e30 {
        return None;
    }
    let dim = a.len();
    let mut out = [
        Vec::with_capacity(dim),
        Vec::with_capacity(dim),
        Vec::with_capacity(dim),
    ];
    for j in 0..dim {
        let (x, y, z) = (f64::from(a[j]), f64::from(p[j]), f64::from(n[j]));
        // One term `c·(u − v [+ e])`: its value and error (the f32 difference, the eps addition and the
        // product each round once; c carries its relative error; subnormal c or products add TINY).
        let term = |c: f64, r: f64, u: f64, v: f64, e: f64| {
            let t = u - v + e;
            let val = c * t;
            let err = c.abs() * (t.abs() * r + 2.0 * U * ((u - v).abs() + e.abs()))
                + U * val.abs()
                + 2.0 * TINY * (t.abs() + 1.0);
            (val, err)
        };
        let g = if !settings.euclid() {
            // Squared: one coefficient c, g = c·(difference).
            let (ga, gp, gn) = if swapped {
                (
                    term(c1, r1, x, y, 0.0),
                    term(c1, r1, z, x, 0.0),
                    term(c1, r1, y, z, 0.0),
                )
            } else {
                (
                    term(c1, r1, z, y, 0.0),
                    term(c1, r1, y, x, 0.0),
                    term(c1, r1, x, z, 0.0),
                )
            };
            [ga, gp, gn]
        } else if swapped {
            // t1 = a − p + e, t3 = p − n + e: g_a = c1·t1, g_p = −c1·t1 − c2·t3, g_n = c2·t3.
            let (u1, e1) = term(c1, r1, x, y, e);
            let (u3, e3) = term(c2, r2, y, z, e);
            let gp = -u1 - u3;
            [(u1, e1), (gp, e1 + e3 + U * gp.abs()), (u3, e3)]
        } else {
            // t1 = a − p + e, t2 = a − n + e: g_a = c1·t1 − c2·t2, g_p = −c1·t1, g_n = c2·t2.
            let (u1, e1) = term(c1, r1, x, y, e);
            let (u2, e2) = term(c2, r2, x, z, e);
            let ga = u1 - u2;
            [(ga, e1 + e2 + U * ga.abs()), (-u1, e1), (u2, e2)]
        };
        for k in 0..3 {
            out[k].push(g[k]);
        }
    }
    Some(out)
}

/// Gradient checks of the `triplet` target: rows of inactive triplets, values where certain, padding.
fn check_grads(
    case: &Case,
    v: [Rows<'_>; 3],
    stats: &TripletStats,
    per: &[f32],
    exact: &[Option<Exact>],
    got: &[Option<Vec<f32>>],
    ctx: &dyn Fn() -> String,
) {
    let specs = case.grads.specs();
    let mut written: Vec<Vec<bool>> = got
        .iter()
        .map(|g| vec![false; g.as_ref().map_or(0, |g| g.len())])
        .collect();
    let settings = &case.settings;
    // Triplets whose gradient values could not / could be compared with the f64 formulas.
    let mut checked = [0usize; 2];
    for i in 0..case.n {
        let rows = triplet_rows(&v, i);
        let weight = case
            .upstream
            .weight(i, settings.reduction, case.n, stats.active);
        let want = exact[i]
            .as_ref()
            .and_then(|ex| expected_grads(settings, rows, ex, weight));
        checked[usize::from(want.is_some())] += 1;
        for k in 0..3 {
            let (b, r) = case.grads.at(i, k);
            let (Some(spec), Some(g)) = (specs[b], got[b].as_ref()) else {
                continue;
            };
            let start = spec.base() + r * spec.stride;
            for j in 0..case.dim {
                written[b][start + j] = true;
            }
            let (row, old) = (
                &g[start..start + case.dim],
                &spec.backing[start..start + case.dim],
            );
            if per[i].is_nan() {
                // SEMANTICS.md: a NaN triplet's three gradient rows are NaN, never a silent 0 (in
                // accumulate mode too: old + NaN).
                assert!(
                    row.iter().all(|x| x.is_nan()),
                    "triplet {i} has a NaN loss but its gradient row (member {k}) is {row:?} ({:?}); {}",
                    case.mode,
                    ctx()
                );
                continue;
            }
            if per[i] == 0.0 {
                // Inactive: written as +0, or left alone when accumulating.
                let ok = match case.mode {
                    GradMode::Overwrite => row.iter().all(|x| x.to_bits() == 0),
                    GradMode::Accumulate => same_bits(row, old),
                };
                assert!(
                    ok,
                    "triplet {i} is inactive but its gradient row (member {k}) is {row:?} ({:?}, before: {old:?}); {}",
                    case.mode,
                    ctx()
                );
                continue;
            }
            let Some(want) = &want else {
                continue;
            };
            for j in 0..case.dim {
                let (e, tol) = want[k][j];
                let (w, tol) = match case.mode {
                    GradMode::Overwrite => (e, tol),
                    GradMode::Accumulate => {
                        let o = f64::from(old[j]);
                        if !o.is_finite() {
                            continue;
                        }
                        (o + e, tol + 2.0 * U * (o + e).abs() + TINY)
                    }
                };
                if w.abs() > 1e37 || e.abs() > 1e37 {
                    continue;
                }
                let x = row[j];
                assert!(
                    x.is_finite() && (f64::from(x) - w).abs() <= 1.5 * tol,
                    "triplet {i} member {k} gradient [{j}] = {x:e} but the f64 formula gives {w:e} (tolerance {:e}; \
                     weight {weight:e}, {:?}, rows {rows:?}); {}",
                    1.5 * tol,
                    exact[i],
                    ctx()
                );
            }
        }
    }
    for (b, w) in written.iter().enumerate() {
        let (Some(spec), Some(g)) = (specs[b], got[b].as_ref()) else {
            continue;
        };
        for (i, &wr) in w.iter().enumerate() {
            assert!(
                wr || g[i].to_bits() == spec.backing[i].to_bits(),
                "gradient buffer {b}: [{i}] outside every row was written: {:e} -> {:e}; {}",
                spec.backing[i],
                g[i],
                ctx()
            );
        }
    }
    crate::debug!(
        "gradient values compared with the f64 formulas for {} of {} triplets",
        checked[1],
        checked[0] + checked[1]
    );
}
