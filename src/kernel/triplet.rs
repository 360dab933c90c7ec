//! The triplet loss: per-triplet distances in one pass over the three rows, the hinge or soft margin,
//! and the three gradient rows in a second pass over the same (cached) rows.

use pulp::{Simd, WithSimd};

use super::distance::{sums, sums_in_order};
use super::loss::Weights;
use super::sum::BlockSums;
use super::{combine, load};
use crate::options::{Distance, GradMode};
use crate::rows::{Rows, RowsMut};

/// The validated loss settings the kernel needs.
#[derive(Clone, Copy)]
pub(crate) struct Config {
    pub margin: f32,
    pub distance: Distance,
    pub swap: bool,
    pub soft: bool,
}

/// Where the triplets' rows come from.
#[derive(Clone, Copy)]
pub(crate) enum Source<'a> {
    /// Three views of the same shape.
    Views([Rows<'a>; 3]),
    /// `[a, p, n]` row indices into one matrix (checked to be in range).
    Indexed(Rows<'a>, &'a [[u32; 3]]),
}

impl<'a> Source<'a> {
    /// Whether every triplet's three rows lie side by side in memory, `[a p n]` (one interleaved
    /// batch, with equal padding after each row or none), rather than in three places.
    fn side_by_side(&self) -> bool {
        let Source::Views(v) = self else {
            return false;
        };
        let (dim, stride) = (v[0].dim(), v[0].stride());
        let at = |r: &Rows<'_>| r.data().as_ptr() as usize;
        // In bytes; a view's stride may be near `usize::MAX` values (one row), so compare in values.
        let gap = at(&v[1]).wrapping_sub(at(&v[0]));
        let values = gap / size_of::<f32>();
        v.iter().all(|r| r.stride() == stride)
            && at(&v[2]).wrapping_sub(at(&v[1])) == gap
            && gap % size_of::<f32>() == 0
            && values >= dim
            && values <= stride
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Source::Views(v) => v[0].rows(),
            Source::Indexed(_, t) => t.len(),
        }
    }
    /// The row length.
    pub(crate) fn dim(&self) -> usize {
        match self {
            Source::Views(v) => v[0].dim(),
            Source::Indexed(m, _) => m.dim(),
        }
    }
    #[inline(always)]
    fn rows(&self, i: usize) -> [&'a [f32]; 3] {
        match self {
            Source::Views(v) => [
                v[0].row_unchecked(i),
                v[1].row_unchecked(i),
                v[2].row_unchecked(i),
            ],
            Source::Indexed(m, t) => [
                m.row_unchecked(t[i][0] as usize),
                m.row_unchecked(t[i][1] as usize),
                m.row_unchecked(t[i][2] as usize),
            ],
        }
    }
}

/// Where the gradients go.
pub(crate) enum Sink<'g> {
    /// No gradients (forward only).
    None,
    /// One view per member, each optional.
    Separate([Option<RowsMut<'g>>; 3]),
    /// One view of `3N` rows: row `3i + k` is member `k` of triplet `i`.
    Interleaved(RowsMut<'g>),
    /// One matrix, indexed like the source's embedding matrix; gradients are added in triplet order.
    Indexed(RowsMut<'g>),
}

/// One triplet's forward result.
#[derive(Clone, Copy)]
struct Eval {
    d_ap: f32,
    d_an: f32,
    /// The negative distance used: `d(a, n)`, or `d(p, n)` when the swap was taken.
    d_neg: f32,
    /// The violation `d_ap − d_neg + margin`.
    v: f32,
    swapped: bool,
    /// The triplet's loss (NaN for a NaN triplet).
    loss: f32,
    active: bool,
    /// `∂loss/∂v`: 1 (active hinge), 0 (inactive), `sigmoid(v)` (soft margin), NaN (NaN triplet).
    slope: f32,
}

/// One triplet's distances and loss; `in_order`: its rows lie side by side (see [`sums_in_order`]).
#[inline(always)]
fn evaluate<S: Simd>(simd: S, cfg: &Config, x: [&[f32]; 3], in_order: bool) -> Eval {
    let eps_on_diff = match cfg.distance {
        Distance::EpsOnDiff(e) => Some(e),
        _ => None,
    };
    let root = |s: f32| match cfg.distance {
        Distance::SqL2 => s,
        Distance::EpsInSqrt(e) => super::sqrt(s + e),
        Distance::EpsOnDiff(_) | Distance::Exact => super::sqrt(s),
    };
    let in_order = in_order && x[0].len() > S::F32_LANES;
    let (d_ap, d_an, d_pn) = if cfg.swap {
        let pairs = [(0, 1), (0, 2), (1, 2)];
        let [ap, an, pn] = if in_order {
            sums_in_order::<S, 3>(simd, x, pairs, eps_on_diff)
        } else {
            sums::<S, 3, 3>(simd, x, pairs, eps_on_diff)
        };
        (root(ap), root(an), root(pn))
    } else {
        let pairs = [(0, 1), (0, 2)];
        let [ap, an] = if in_order {
            sums_in_order::<S, 2>(simd, x, pairs, eps_on_diff)
        } else {
            sums::<S, 3, 2>(simd, x, pairs, eps_on_diff)
        };
        (root(ap), root(an), f32::NAN)
    };
    // A tie keeps d(a, n); a NaN d(p, n) never swaps.
    let swapped = cfg.swap && d_pn < d_an;
    let d_neg = if swapped { d_pn } else { d_an };
    let v = (d_ap - d_neg) + cfg.margin;
    let (loss, active, slope) = if v.is_nan() {
        (f32::NAN, false, f32::NAN)
    } else if cfg.soft {
        (softplus(v), true, sigmoid(v))
    } else if v > 0.0 {
        (v, true, 1.0)
    } else {
        (0.0, false, 0.0)
    };
    Eval {
        d_ap,
        d_an,
        d_neg,
        v,
        swapped,
        loss,
        active,
        slope,
    }
}

/// `ln(1 + e^v)` computed stably as `max(v, 0) + ln(1 + e^(−|v|))` (v not NaN). libm's functions give the
/// same bits on every platform, with or without `std`.
pub(super) fn softplus(v: f32) -> f32 {
    v.max(0.0) + libm::log1pf(libm::expf(-v.abs()))
}

/// `1 / (1 + e^(−v))` without overflow for either sign.
pub(super) fn sigmoid(v: f32) -> f32 {
    if v >= 0.0 {
        1.0 / (1.0 + libm::expf(-v))
    } else {
        let e = libm::expf(v);
        e / (1.0 + e)
    }
}

/// The elementwise gradient formula of one triplet (a const parameter of the gradient kernel).
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Formula {
    /// Squared distance: `g_a = c(n − p)`, `g_p = c(p − a)`, `g_n = c(a − n)`.
    Squared = 0,
    /// Squared distance, swap taken: `g_a = c(a − p)`, `g_p = c(n − a)`, `g_n = c(p − n)`.
    SquaredSwap = 1,
    /// Euclidean: `t1 = a − p + e`, `t2 = a − n + e`; `g_a = c1·t1 − c2·t2`, `g_p = −(c1·t1)`,
    /// `g_n = c2·t2`.
    Euclid = 2,
    /// Euclidean, swap taken: `t1 = a − p + e`, `t3 = p − n + e`; `g_a = c1·t1`,
    /// `g_p = −(c1·t1) − c2·t3`, `g_n = c2·t3`.
    EuclidSwap = 3,
}

/// The three gradient values of one vector position, for formula `F`.
#[inline(always)]
fn grads<S: Simd, const F: u8>(
    simd: S,
    [a, p, n]: [S::f32s; 3],
    c1: S::f32s,
    c2: S::f32s,
    e: S::f32s,
) -> [S::f32s; 3] {
    if F == Formula::Squared as u8 {
        [
            simd.mul_f32s(c1, simd.sub_f32s(n, p)),
            simd.mul_f32s(c1, simd.sub_f32s(p, a)),
            simd.mul_f32s(c1, simd.sub_f32s(a, n)),
        ]
    } else if F == Formula::SquaredSwap as u8 {
        [
            simd.mul_f32s(c1, simd.sub_f32s(a, p)),
            simd.mul_f32s(c1, simd.sub_f32s(n, a)),
            simd.mul_f32s(c1, simd.sub_f32s(p, n)),
        ]
    } else if F == Formula::Euclid as u8 {
        let u = simd.mul_f32s(c1, simd.add_f32s(simd.sub_f32s(a, p), e));
        let w = simd.mul_f32s(c2, simd.add_f32s(simd.sub_f32s(a, n), e));
        [simd.sub_f32s(u, w), simd.neg_f32s(u), w]
    } else {
        let u = simd.mul_f32s(c1, simd.add_f32s(simd.sub_f32s(a, p), e));
        let w = simd.mul_f32s(c2, simd.add_f32s(simd.sub_f32s(p, n), e));
        [u, simd.sub_f32s(simd.neg_f32s(u), w), w]
    }
}

/// Writes the gradient rows that are `Some` (`g`, or `old + g` in accumulate mode), one row after
/// another (anchor, positive, negative): one output stream at a time measured faster than writing the
/// three rows interleaved vector by vector.
#[inline(always)]
fn write_grads<S: Simd>(
    simd: S,
    f: Formula,
    mode: GradMode,
    x: [&[f32]; 3],
    out: [Option<&mut [f32]>; 3],
    c: [f32; 3],
) {
    match f {
        Formula::Squared => by_mode::<S, 0>(simd, mode, x, out, c),
        Formula::SquaredSwap => by_mode::<S, 1>(simd, mode, x, out, c),
        Formula::Euclid => by_mode::<S, 2>(simd, mode, x, out, c),
        Formula::EuclidSwap => by_mode::<S, 3>(simd, mode, x, out, c),
    }
}

#[inline(always)]
fn by_mode<S: Simd, const F: u8>(
    simd: S,
    mode: GradMode,
    x: [&[f32]; 3],
    out: [Option<&mut [f32]>; 3],
    c: [f32; 3],
) {
    match mode {
        GradMode::Overwrite => by_member::<S, F, false>(simd, x, out, c),
        GradMode::Accumulate => by_member::<S, F, true>(simd, x, out, c),
    }
}

#[inline(always)]
fn by_member<S: Simd, const F: u8, const ACC: bool>(
    simd: S,
    x: [&[f32]; 3],
    [ga, gp, gn]: [Option<&mut [f32]>; 3],
    c: [f32; 3],
) {
    if let Some(g) = ga {
        grad_row::<S, F, ACC, 0>(simd, x, g, c);
    }
    if let Some(g) = gp {
        grad_row::<S, F, ACC, 1>(simd, x, g, c);
    }
    if let Some(g) = gn {
        grad_row::<S, F, ACC, 2>(simd, x, g, c);
    }
}

/// The gradient kernel: writes member `K`'s gradient row (the other two members' values are not
/// computed: they are dead code after inlining).
#[inline(always)]
fn grad_row<S: Simd, const F: u8, const ACC: bool, const K: usize>(
    simd: S,
    x: [&[f32]; 3],
    out: &mut [f32],
    [c1, c2, e]: [f32; 3],
) {
    let (c1, c2, e) = (simd.splat_f32s(c1), simd.splat_f32s(c2), simd.splat_f32s(e));
    let mode = if ACC {
        GradMode::Accumulate
    } else {
        GradMode::Overwrite
    };
    let len = x[0].len();
    let full = len / S::F32_LANES;
    let xs = [
        &S::as_simd_f32s(x[0]).0[..full],
        &S::as_simd_f32s(x[1]).0[..full],
        &S::as_simd_f32s(x[2]).0[..full],
    ];
    let (head, tail) = S::as_mut_simd_f32s(&mut out[..len]);
    let head = &mut head[..full];
    for v in 0..full {
        let g = grads::<S, F>(simd, [xs[0][v], xs[1][v], xs[2][v]], c1, c2, e);
        head[v] = combine(simd, mode, head[v], g[K]);
    }
    if !tail.is_empty() {
        let s = full * S::F32_LANES;
        let xv = [
            load(simd, &x[0][s..]),
            load(simd, &x[1][s..]),
            load(simd, &x[2][s..]),
        ];
        let g = grads::<S, F>(simd, xv, c1, c2, e);
        let old = simd.partial_load_f32s(tail);
        simd.partial_store_f32s(tail, combine(simd, mode, old, g[K]));
    }
}

/// The gradient formula and its coefficients for a triplet with `∂loss/∂v = s`.
fn plan(cfg: &Config, ev: &Eval, s: f32) -> (Formula, [f32; 3]) {
    // The l2 gradient `(x − y [+ eps]) / d` is 0 at d = 0 (PyTorch's norm_backward rule), never NaN,
    // unless the triplet itself is NaN (s is NaN): then its gradient rows are NaN, never a silent 0.
    let over = |d: f32| if d == 0.0 && !s.is_nan() { 0.0 } else { s / d };
    match (cfg.distance, ev.swapped) {
        (Distance::SqL2, false) => (Formula::Squared, [2.0 * s, 0.0, 0.0]),
        (Distance::SqL2, true) => (Formula::SquaredSwap, [2.0 * s, 0.0, 0.0]),
        (d, swapped) => {
            let e = match d {
                Distance::EpsOnDiff(e) => e,
                _ => 0.0,
            };
            let f = if swapped {
                Formula::EuclidSwap
            } else {
                Formula::Euclid
            };
            (f, [over(ev.d_ap), over(ev.d_neg), e])
        }
    }
}

/// Forward and (with a sink) backward over every triplet. Returns the statistics' raw sums.
pub(crate) struct Triplet<'a, 'g> {
    pub cfg: Config,
    pub src: Source<'a>,
    pub losses: Option<&'g mut [f32]>,
    /// The weight of each triplet's gradient (the reduction's factor times the upstream gradient).
    pub weight: Weights<'a>,
    pub sink: Sink<'g>,
    pub mode: GradMode,
    pub diag: Diag<'g>,
}

/// Optional per-triplet outputs: `d(a, p)`, the negative distance used and `v` (`f32`), then whether
/// the triplet was active and whether its swap was taken.
#[derive(Default)]
pub(crate) struct Diag<'g> {
    pub values: [Option<&'g mut [f32]>; 3],
    pub flags: [Option<&'g mut [bool]>; 2],
}

/// Raw sums of one pass.
#[derive(Clone, Copy, Default)]
pub(crate) struct Totals {
    pub loss: f64,
    /// `Σ wᵢ·lossᵢ`, only for per-item weights (0 otherwise).
    pub weighted: f64,
    pub active: usize,
    pub d_ap: f64,
    pub d_an: f64,
}

impl WithSimd for Triplet<'_, '_> {
    type Output = Totals;
    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> Totals {
        let Self {
            cfg,
            src,
            mut losses,
            weight,
            mut sink,
            mode,
            mut diag,
        } = self;
        let mut t = Totals::default();
        // loss, Σ wᵢ·lossᵢ, d(a, p), d(a, n): in f64, in blocks of triplets (see `sum`).
        let mut sums = BlockSums::<4>::default();
        if let Sink::Indexed(g) = &mut sink
            && mode == GradMode::Overwrite
            && g.dim() > 0
        {
            for r in 0..g.rows() {
                g.row_mut_unchecked(r).fill(0.0);
            }
        }
        // Software pipelining: triplet i's gradient rows are written after triplet i + 1's distances
        // are computed, so the next rows' loads are in flight while the stores drain, and the branch on
        // i's activity is resolved by the time it is reached. Gradients still go out in triplet order.
        let mut pending: Option<(usize, [&[f32]; 3], Eval)> = None;
        let in_order = src.side_by_side();
        for i in 0..=src.len() {
            let next = if i < src.len() {
                let x = src.rows(i);
                let ev = evaluate(simd, &cfg, x, in_order);
                t.active += usize::from(ev.active);
                let weighted = match weight {
                    Weights::Each(w) => f64::from(w[i]) * f64::from(ev.loss),
                    Weights::All(_) => 0.0,
                };
                sums.add([
                    f64::from(ev.loss),
                    weighted,
                    f64::from(ev.d_ap),
                    f64::from(ev.d_an),
                ]);
                if let Some(l) = losses.as_deref_mut() {
                    l[i] = ev.loss;
                }
                let [dap, dneg, v] = &mut diag.values;
                for (out, x) in [(dap, ev.d_ap), (dneg, ev.d_neg), (v, ev.v)] {
                    if let Some(o) = out.as_deref_mut() {
                        o[i] = x;
                    }
                }
                let [act, sw] = &mut diag.flags;
                for (out, x) in [(act, ev.active), (sw, ev.swapped)] {
                    if let Some(o) = out.as_deref_mut() {
                        o[i] = x;
                    }
                }
                Some((i, x, ev))
            } else {
                None
            };
            if let Some((j, x, ev)) = pending {
                backward(simd, &cfg, &src, &mut sink, mode, weight.get(j), j, x, &ev);
            }
            pending = next;
        }
        [t.loss, t.weighted, t.d_ap, t.d_an] = sums.totals();
        t
    }
}

/// Writes triplet `i`'s gradient rows into the sink (`w`: the weight of its gradient).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn backward<S: Simd>(
    simd: S,
    cfg: &Config,
    src: &Source<'_>,
    sink: &mut Sink<'_>,
    mode: GradMode,
    w: f32,
    i: usize,
    x: [&[f32]; 3],
    ev: &Eval,
) {
    if let Sink::None = sink {
        return;
    }
    let s = ev.slope * w;
    // An inactive triplet's gradient is exactly 0: written as 0, or left alone when accumulating.
    let zero = ev.slope == 0.0;
    let (f, c) = plan(cfg, ev, s);
    match sink {
        Sink::None => {}
        Sink::Separate(views) => {
            let [ga, gp, gn] = views;
            let out = [
                ga.as_mut().map(|g| g.row_mut_unchecked(i)),
                gp.as_mut().map(|g| g.row_mut_unchecked(i)),
                gn.as_mut().map(|g| g.row_mut_unchecked(i)),
            ];
            emit(simd, f, x, out, c, mode, zero);
        }
        Sink::Interleaved(g) => {
            let [r0, r1, r2] = g.three_rows_mut(3 * i);
            emit(simd, f, x, [Some(r0), Some(r1), Some(r2)], c, mode, zero);
        }
        Sink::Indexed(g) => {
            let Source::Indexed(_, idx) = src else {
                return;
            };
            if zero {
                return;
            }
            // Member by member, so that repeated indices add up in a fixed order.
            for k in 0..3 {
                let row = g.row_mut_unchecked(idx[i][k] as usize);
                let mut out = [None, None, None];
                out[k] = Some(row);
                write_grads(simd, f, GradMode::Accumulate, x, out, c);
            }
        }
    }
}

/// Writes one triplet's gradient rows, or zeros (overwrite) / nothing (accumulate) when it is inactive.
#[inline(always)]
fn emit<S: Simd>(
    simd: S,
    f: Formula,
    x: [&[f32]; 3],
    out: [Option<&mut [f32]>; 3],
    c: [f32; 3],
    mode: GradMode,
    zero: bool,
) {
    if zero {
        if mode == GradMode::Overwrite {
            for o in out.into_iter().flatten() {
                o.fill(0.0);
            }
        }
        return;
    }
    write_grads(simd, f, mode, x, out, c);
}
