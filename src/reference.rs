//! The oracle: the plainest loops that could be right, accumulating in `f64`.
//!
//! Never used by the fast path. Tests, fuzz targets and users who want to check a result compare
//! against these functions with the documented bound, [`sq_l2_bound`].

use pulp::Simd;

use crate::{Error, Rows};

/// `Σ (a_i − b_i)²` with every operation in `f64`.
///
/// # Errors
/// [`Error::LengthMismatch`] if the slices differ in length.
pub fn sq_l2(a: &[f32], b: &[f32]) -> Result<f64, Error> {
    crate::loss::check_len("length of b", a.len(), b.len())?;
    let mut s = 0.0f64;
    for i in 0..a.len() {
        let d = f64::from(a[i]) - f64::from(b[i]);
        s += d * d;
    }
    Ok(s)
}

/// `sqrt(Σ (a_i − b_i)²)` in `f64`.
///
/// # Errors
/// [`Error::LengthMismatch`] if the slices differ in length.
pub fn l2(a: &[f32], b: &[f32]) -> Result<f64, Error> {
    sq_l2(a, b).map(|s| pulp::Scalar::new().sqrt_f64s(s))
}

/// `out[r] = sq_l2(a_r, b_r)` in `f64`.
///
/// # Errors
/// [`Error::LengthMismatch`] if the views differ in shape or `out` is not one value a row.
pub fn sq_l2_rows(a: Rows<'_>, b: Rows<'_>, out: &mut [f64]) -> Result<(), Error> {
    crate::loss::check_same_shape(crate::loss::B, a.rows(), a.dim(), b.rows(), b.dim())?;
    crate::loss::check_len("length of out", a.rows(), out.len())?;
    for (r, o) in out.iter_mut().enumerate() {
        *o = sq_l2(a.row_unchecked(r), b.row_unchecked(r))?;
    }
    Ok(())
}

/// The bound on `|fast − exact|` for a `sq_l2` of `n` elements whose exact value is `exact`:
///
/// `(⌈n/64⌉ + 9) · 2⁻²⁴ · exact + n · 2⁻¹⁴⁹`.
///
/// Each of the 64 lanes adds at most `⌈n/64⌉` terms with one rounding each, the fold adds 6 levels,
/// and each term carries the rounding of `x − y` (squared: 2 units); the second part covers squares
/// that underflow into the subnormal range. The fast result is `inf` only if `exact` (within this bound)
/// reaches `f32::MAX`. The `l2` of the fast path is within half this relative bound plus half an ulp.
pub fn sq_l2_bound(n: usize, exact: f64) -> f64 {
    let terms = n.div_ceil(64) as f64 + 9.0;
    terms * f64::from(f32::EPSILON / 2.0) * exact.abs() + n as f64 * f64::from(f32::from_bits(1))
}

/// The squared-error loss in `f64`: per row `Σ(a − b)²` (or `/ D` for the MSE; `D = 0` gives 0),
/// reduced over the rows ([`Reduction::None`](crate::Reduction::None) returns the sum), with the
/// optional per-row losses.
///
/// # Errors
/// [`Error::LengthMismatch`] if the views differ in shape or `per_row` is not one value a row.
pub fn squared_error(
    kind: crate::SquaredErrorKind,
    reduction: crate::Reduction,
    a: Rows<'_>,
    b: Rows<'_>,
    per_row: Option<&mut [f64]>,
) -> Result<f64, Error> {
    crate::loss::check_same_shape(crate::loss::B, a.rows(), a.dim(), b.rows(), b.dim())?;
    let mut losses = per_row;
    if let Some(p) = losses.as_deref() {
        crate::loss::check_len(crate::loss::PER_ROW.0, a.rows(), p.len())?;
    }
    let divisor = match kind {
        crate::SquaredErrorKind::SumOfSquares => 1.0,
        crate::SquaredErrorKind::Mse => a.dim().max(1) as f64,
    };
    let mut total = 0.0;
    for r in 0..a.rows() {
        let l = sq_l2(a.row_unchecked(r), b.row_unchecked(r))? / divisor;
        if let Some(p) = losses.as_deref_mut() {
            p[r] = l;
        }
        total += l;
    }
    Ok(match reduction {
        crate::Reduction::None | crate::Reduction::Sum => total,
        _ if a.rows() == 0 => 0.0,
        _ => total / a.rows() as f64,
    })
}

/// The triplet loss of [`TripletLoss`](crate::TripletLoss) in `f64`, by its definition (SEMANTICS.md):
/// per triplet `v = d(a, p) − d_neg + margin` with the configured distance and swap, then the hinge or
/// the soft margin, then the reduction ([`Reduction::None`](crate::Reduction::None) returns the sum).
/// Fills `per_triplet` if given.
///
/// # Errors
/// As [`TripletLoss::forward`](crate::TripletLoss::forward).
pub fn triplet_loss(
    loss: &crate::TripletLoss,
    a: Rows<'_>,
    p: Rows<'_>,
    n: Rows<'_>,
    per_triplet: Option<&mut [f64]>,
) -> Result<f64, Error> {
    let (margin, distance, swap, soft, reduction) = loss.settings()?;
    crate::triplet::check_views(a, p, n)?;
    let mut per = per_triplet;
    if let Some(l) = per.as_deref() {
        crate::loss::check_len(crate::triplet::PER_TRIPLET.0, a.rows(), l.len())?;
    }
    let sqrt = |x: f64| pulp::Scalar::new().sqrt_f64s(x);
    let d = |x: &[f32], y: &[f32]| -> f64 {
        let mut s = 0.0f64;
        for i in 0..x.len() {
            let mut t = f64::from(x[i]) - f64::from(y[i]);
            if let crate::Distance::EpsOnDiff(e) = distance {
                t += f64::from(e);
            }
            s += t * t;
        }
        match distance {
            crate::Distance::SqL2 => s,
            crate::Distance::EpsOnDiff(_) | crate::Distance::Exact => sqrt(s),
            crate::Distance::EpsInSqrt(e) => sqrt(s + f64::from(e)),
        }
    };
    let (mut total, mut active) = (0.0f64, 0usize);
    for r in 0..a.rows() {
        let (x, y, z) = (a.row_unchecked(r), p.row_unchecked(r), n.row_unchecked(r));
        let (d_ap, d_an) = (d(x, y), d(x, z));
        let d_neg = if swap { d_an.min(d(y, z)) } else { d_an };
        let v = d_ap - d_neg + f64::from(margin);
        let l = if v.is_nan() {
            f64::NAN
        } else if soft {
            active += 1;
            v.max(0.0) + libm::log1p(libm::exp(-v.abs()))
        } else if v > 0.0 {
            active += 1;
            v
        } else {
            0.0
        };
        if let Some(out) = per.as_deref_mut() {
            out[r] = l;
        }
        total += l;
    }
    Ok(match reduction {
        crate::Reduction::None | crate::Reduction::Sum => total,
        crate::Reduction::Mean if a.rows() > 0 => total / a.rows() as f64,
        crate::Reduction::MeanActive if active > 0 => total / active as f64,
        _ => 0.0,
    })
}

/// What [`mined_loss`] reports (the `f64` counterpart of [`MiningStats`](crate::MiningStats)).
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct MinedLoss {
    /// The reduced loss.
    pub loss: f64,
    /// Triplets mined.
    pub mined: u64,
    /// Active triplets.
    pub active: u64,
    /// Mean `d(a, p)` over the mined triplets.
    pub mean_d_ap: f64,
    /// Mean `d(a, n)` over the mined triplets.
    pub mean_d_an: f64,
    /// The fraction of anchors with a positive and a negative.
    pub anchors_with_both: f64,
}

/// The rows, labels and `f64` distance table of a brute-force mining call.
struct MineCase<'a> {
    x: Rows<'a>,
    labels: &'a [u32],
    r: Option<(Rows<'a>, &'a [u32])>,
    s: crate::mining::Settings,
    /// `d[a·L + j]`.
    d: &'a [f64],
}

impl MineCase<'_> {
    fn l(&self) -> usize {
        self.x.rows() + self.r.map_or(0, |r| r.0.rows())
    }
    fn col(&self, j: usize) -> &[f32] {
        let n = self.x.rows();
        if j < n {
            self.x.row_unchecked(j)
        } else {
            self.r.expect("reference rows").0.row_unchecked(j - n)
        }
    }
    fn label(&self, j: usize) -> u32 {
        let n = self.x.rows();
        if j < n {
            self.labels[j]
        } else {
            self.r.expect("reference rows").1[j - n]
        }
    }
    fn dist(&self, a: usize, j: usize) -> f64 {
        self.d[a * self.l() + j]
    }
    fn is_pos(&self, a: usize, j: usize) -> bool {
        j != a && self.label(j) == self.label(a)
    }
    fn is_neg(&self, a: usize, j: usize) -> bool {
        self.label(j) != self.label(a)
    }
    /// The first `j` (in row order) of `set` that `better` prefers over every other: NaN first.
    fn pick(&self, a: usize, set: &dyn Fn(usize) -> bool, max: bool) -> Option<usize> {
        let mut best: Option<usize> = None;
        for j in 0..self.l() {
            if !set(j) {
                continue;
            }
            let d = self.dist(a, j);
            let take = match best {
                None => true,
                Some(b) => {
                    let e = self.dist(a, b);
                    !e.is_nan() && (d.is_nan() || if max { d > e } else { d < e })
                }
            };
            if take {
                best = Some(j);
            }
        }
        best
    }
    /// Whether `(a, p, n)` is one of the miner's triplets (before the cap).
    fn candidate(&self, a: usize, p: usize, n: usize) -> bool {
        use crate::mining::{Miner, SemiHardRule};
        if !self.is_pos(a, p) || !self.is_neg(a, n) {
            return false;
        }
        let (d_ap, d_an) = (self.dist(a, p), self.dist(a, n));
        let further = |j: usize| {
            let d = self.dist(a, j);
            self.is_neg(a, j) && (d.is_nan() || d_ap.is_nan() || d > d_ap)
        };
        match self.s.miner {
            Miner::BatchAll => true,
            Miner::BatchHard => {
                self.pick(a, &|j| self.is_pos(a, j), true) == Some(p)
                    && self.pick(a, &|j| self.is_neg(a, j), false) == Some(n)
            }
            Miner::SemiHard(SemiHardRule::TfAddons) => {
                let choice = self
                    .pick(a, &further, false)
                    .or_else(|| self.pick(a, &|j| self.is_neg(a, j), true));
                choice == Some(n)
            }
            Miner::SemiHard(SemiHardRule::PmlTripletMargin) => {
                if d_ap.is_nan() || d_an.is_nan() {
                    return true;
                }
                let t = d_an - d_ap;
                0.0 < t && t <= f64::from(self.s.margin)
            }
            Miner::SemiHard(SemiHardRule::PmlEasyHard) => {
                self.pick(a, &|j| self.is_pos(a, j), false) == Some(p)
                    && self.pick(a, &further, false) == Some(n)
            }
        }
    }
    fn v(&self, a: usize, p: usize, n: usize) -> f64 {
        self.dist(a, p) - self.dist(a, n) + f64::from(self.s.margin)
    }
    /// Whether `(a, p, n)` is mined: a candidate, and (with a cap `k`) fewer than `k` candidates of the
    /// anchor are harder (larger `v`, NaN largest, ties by lower `(p, n)`).
    fn mined(&self, a: usize, p: usize, n: usize) -> bool {
        if !self.candidate(a, p, n) {
            return false;
        }
        let Some(k) = self.s.cap else { return true };
        let v = self.v(a, p, n);
        let mut harder = 0usize;
        for p2 in 0..self.l() {
            for n2 in 0..self.l() {
                if (p2, n2) == (p, n) || !self.candidate(a, p2, n2) {
                    continue;
                }
                let v2 = self.v(a, p2, n2);
                let h = match (v2.is_nan(), v.is_nan()) {
                    (true, false) => true,
                    (false, true) => false,
                    _ if v2 == v || (v2.is_nan() && v.is_nan()) => (p2, n2) < (p, n),
                    _ => v2 > v,
                };
                harder += usize::from(h);
            }
        }
        harder < k
    }
}

fn mine_case<'a>(
    miner: &crate::TripletMiner,
    x: Rows<'a>,
    labels: &'a [u32],
    reference: Option<crate::Reference<'a>>,
    scratch: &'a mut [f64],
) -> Result<MineCase<'a>, Error> {
    let s = miner.settings()?;
    crate::loss::check_len("number of labels", x.rows(), labels.len())?;
    let r = reference.map(|r| r.parts());
    if let Some((rows, _)) = r {
        crate::loss::check_len("row length of the reference rows", x.dim(), rows.dim())?;
    }
    let l = x.rows() + r.map_or(0, |r| r.0.rows());
    crate::loss::check_len(
        "length of the f64 scratch (N·L)",
        x.rows() * l,
        scratch.len(),
    )?;
    let eps = match s.distance {
        crate::Distance::EpsInSqrt(e) => f64::from(e),
        _ => 0.0,
    };
    let sqrt = |v: f64| pulp::Scalar::new().sqrt_f64s(v);
    {
        let case = MineCase {
            x,
            labels,
            r,
            s: miner.settings()?,
            d: &[],
        };
        for a in 0..x.rows() {
            for j in 0..l {
                let q = sq_l2(x.row_unchecked(a), case.col(j))?;
                scratch[a * l + j] = match s.distance {
                    crate::Distance::SqL2 => q,
                    _ => sqrt(q + eps),
                };
            }
        }
    }
    Ok(MineCase {
        x,
        labels,
        r,
        s,
        d: scratch,
    })
}

/// The triplets a [`TripletMiner`](crate::TripletMiner) mines, by brute force in `f64`: every
/// `(a, p, n)` is tested against the definition of SEMANTICS.md (with the cap: ranked against every
/// other candidate of its anchor). Written in `(a, p, n)` row order (the fast path orders each
/// positive's negatives by distance: compare the sets). `scratch` holds the `N × L` distances.
/// Returns how many were mined (only the first `out.len()` are written).
///
/// # Errors
/// As [`TripletMiner::forward`](crate::TripletMiner::forward) for the settings and labels;
/// [`Error::LengthMismatch`] if `scratch` is not `N·L` values.
pub fn mine_triplets(
    miner: &crate::TripletMiner,
    x: Rows<'_>,
    labels: &[u32],
    reference: Option<crate::Reference<'_>>,
    scratch: &mut [f64],
    out: &mut [[u32; 3]],
) -> Result<usize, Error> {
    let c = mine_case(miner, x, labels, reference, scratch)?;
    let mut k = 0;
    for a in 0..x.rows() {
        for p in 0..c.l() {
            for n in 0..c.l() {
                if c.mined(a, p, n) {
                    if k < out.len() {
                        out[k] = [a as u32, p as u32, n as u32];
                    }
                    k += 1;
                }
            }
        }
    }
    Ok(k)
}

/// The mined loss of a [`TripletMiner`](crate::TripletMiner) in `f64` by brute force, and with `grad`
/// (`N × dim`, dense, overwritten) its gradient with respect to the batch rows for the scalar
/// `upstream`: per mined triplet `v = d_ap − d_an + margin`, the hinge or softplus, slope 1 /
/// `sigmoid(v)`, and `∂d/∂x_a = 2(x_a − y)` or `(x_a − y)/d` (0 at `d = 0`).
///
/// # Errors
/// As [`mine_triplets`]; [`Error::LengthMismatch`] if `grad` is not `N·dim` values.
pub fn mined_loss(
    miner: &crate::TripletMiner,
    x: Rows<'_>,
    labels: &[u32],
    reference: Option<crate::Reference<'_>>,
    scratch: &mut [f64],
    upstream: f64,
    grad: Option<&mut [f64]>,
) -> Result<MinedLoss, Error> {
    let c = mine_case(miner, x, labels, reference, scratch)?;
    let (n_rows, dim, l) = (x.rows(), x.dim(), c.l());
    let mut grad = grad;
    if let Some(g) = grad.as_deref_mut() {
        crate::loss::check_len("length of the f64 gradient", n_rows * dim, g.len())?;
        g.fill(0.0);
    }
    let (m, soft) = (f64::from(c.s.margin), c.s.soft);
    let mut out = MinedLoss::default();
    let (mut both, mut total) = (0usize, 0.0f64);
    // First pass: losses and counts; second pass: gradients with the reduction's weight.
    for pass in 0..2 {
        let w = match c.s.reduction {
            crate::Reduction::Mean if out.mined > 0 => upstream / out.mined as f64,
            crate::Reduction::MeanActive if out.active > 0 => upstream / out.active as f64,
            crate::Reduction::Sum | crate::Reduction::None => upstream,
            _ => 0.0,
        };
        for a in 0..n_rows {
            if pass == 0 && (0..l).any(|j| c.is_pos(a, j)) && (0..l).any(|j| c.is_neg(a, j)) {
                both += 1;
            }
            for p in 0..l {
                for n in 0..l {
                    if !c.mined(a, p, n) {
                        continue;
                    }
                    let (d_ap, d_an) = (c.dist(a, p), c.dist(a, n));
                    let v = d_ap - d_an + m;
                    let (loss, active, slope) = if v.is_nan() {
                        (f64::NAN, false, f64::NAN)
                    } else if soft {
                        let sig = if v >= 0.0 {
                            1.0 / (1.0 + libm::exp(-v))
                        } else {
                            libm::exp(v) / (1.0 + libm::exp(v))
                        };
                        (v.max(0.0) + libm::log1p(libm::exp(-v.abs())), true, sig)
                    } else if v > 0.0 {
                        (v, true, 1.0)
                    } else {
                        (0.0, false, 0.0)
                    };
                    if pass == 0 {
                        out.mined += 1;
                        out.active += u64::from(active);
                        total += loss;
                        out.mean_d_ap += d_ap;
                        out.mean_d_an += d_an;
                        continue;
                    }
                    let Some(g) = grad.as_deref_mut() else {
                        continue;
                    };
                    if slope == 0.0 {
                        continue;
                    }
                    let xa = x.row_unchecked(a);
                    for (j, sign) in [(p, 1.0), (n, -1.0)] {
                        let d = c.dist(a, j);
                        let k = match c.s.distance {
                            crate::Distance::SqL2 => 2.0,
                            _ if d == 0.0 && !slope.is_nan() => 0.0,
                            _ => 1.0 / d,
                        };
                        let y = c.col(j);
                        for e in 0..dim {
                            let t = w * slope * sign * k * (f64::from(xa[e]) - f64::from(y[e]));
                            g[a * dim + e] += t;
                            if j < n_rows {
                                g[j * dim + e] -= t;
                            }
                        }
                    }
                }
            }
        }
    }
    let divisor = match c.s.reduction {
        crate::Reduction::Mean => out.mined,
        crate::Reduction::MeanActive => out.active,
        _ => 1,
    };
    out.loss = if divisor == 0 {
        if total.is_nan() { f64::NAN } else { 0.0 }
    } else {
        total / divisor as f64
    };
    if out.mined > 0 {
        out.mean_d_ap /= out.mined as f64;
        out.mean_d_an /= out.mined as f64;
    }
    out.anchors_with_both = if n_rows == 0 {
        0.0
    } else {
        both as f64 / n_rows as f64
    };
    Ok(out)
}
