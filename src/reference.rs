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
/// # Examples
/// ```
/// // The design document's example, exactly: 0.1² + 0.3² in f64 from the f32 inputs.
/// let d = triplet_simd::reference::sq_l2(&[1.0, 2.0, 3.0], &[1.1, 2.0, 3.3])?;
/// assert!((d - 0.1).abs() < 1e-6);
/// # Ok::<(), triplet_simd::Error>(())
/// ```
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
/// # Examples
/// ```
/// assert_eq!(triplet_simd::reference::l2(&[0.0, 0.0], &[3.0, 4.0])?, 5.0);
/// # Ok::<(), triplet_simd::Error>(())
/// ```
pub fn l2(a: &[f32], b: &[f32]) -> Result<f64, Error> {
    sq_l2(a, b).map(|s| pulp::Scalar::new().sqrt_f64s(s))
}

/// `out[r] = sq_l2(a_r, b_r)` in `f64`.
///
/// # Errors
/// [`Error::LengthMismatch`] if the views differ in shape or `out` is not one value a row.
/// # Examples
/// ```
/// use triplet_simd::{Rows, reference};
/// let (a, b) = ([0.0, 1.0], [2.0, 1.0]);
/// let mut out = [0.0f64; 2];
/// reference::sq_l2_rows(Rows::dense(&a, 2, 1)?, Rows::dense(&b, 2, 1)?, &mut out)?;
/// assert_eq!(out, [4.0, 0.0]);
/// # Ok::<(), triplet_simd::Error>(())
/// ```
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
/// # Examples
/// ```
/// use triplet_simd::reference;
/// let (x, y) = (vec![0.1f32; 1000], vec![0.3f32; 1000]);
/// let exact = reference::sq_l2(&x, &y)?;
/// let fast = triplet_simd::sq_l2(&x, &y)?;
/// assert!((f64::from(fast) - exact).abs() <= reference::sq_l2_bound(x.len(), exact));
/// # Ok::<(), triplet_simd::Error>(())
/// ```
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
/// # Examples
/// ```
/// use triplet_simd::{Reduction, Rows, SquaredErrorKind, reference};
/// let (a, b) = (Rows::dense(&[1.0, 2.0, 3.0], 1, 3)?, Rows::dense(&[1.1, 2.0, 3.3], 1, 3)?);
/// let mse = reference::squared_error(SquaredErrorKind::Mse, Reduction::Mean, a, b, None)?;
/// assert!((mse - 0.1 / 3.0).abs() < 1e-7);
/// # Ok::<(), triplet_simd::Error>(())
/// ```
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

/// The triplet loss of [`TripletLoss`](crate::TripletLoss) in `f64`, by its [definition](crate::semantics):
/// per triplet `v = d(a, p) − d_neg + margin` with the configured distance and swap, then the hinge or
/// the soft margin, then the reduction ([`Reduction::None`](crate::Reduction::None) returns the sum).
/// Fills `per_triplet` if given.
///
/// # Errors
/// As [`TripletLoss::forward`](crate::TripletLoss::forward).
/// # Examples
/// ```
/// use triplet_simd::{Rows, TripletLoss, Triplets, reference};
/// let (a, p, n) = ([1.0, 2.0, 3.0], [1.1, 2.0, 3.3], [1.0, 2.1, 3.1]);
/// let loss = TripletLoss::new(0.2);
/// let exact = reference::triplet_loss(&loss, Rows::dense(&a, 1, 3)?, Rows::dense(&p, 1, 3)?,
///     Rows::dense(&n, 1, 3)?, None)?;
/// let fast = loss.forward(Triplets::dense(&a, &p, &n, 3))?.loss;
/// assert!((f64::from(fast) - exact).abs() < 1e-6 && (exact - 0.28).abs() < 1e-6);
/// # Ok::<(), triplet_simd::Error>(())
/// ```
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
        // NaN in, NaN out: also when no triplet counts (a NaN triplet is never active).
        _ if total.is_nan() => f64::NAN,
        crate::Reduction::Mean if a.rows() > 0 => total / a.rows() as f64,
        crate::Reduction::MeanActive if active > 0 => total / active as f64,
        _ => 0.0,
    })
}

/// Row L2-normalisation in `f64`: `y_r = x_r / max(‖x_r‖, eps)` into `y` (`rows × dim`, dense), and
/// `norms[r] = ‖x_r‖` if given; a NaN norm stays NaN (as in [`l2_normalize_rows`](crate::l2_normalize_rows)).
///
/// # Errors
/// [`Error::InvalidParameter`] for an `eps` that is NaN, infinite or negative; [`Error::LengthMismatch`]
/// if `y` is not `rows × dim` values or `norms` not one value a row.
/// # Examples
/// ```
/// use triplet_simd::{Rows, reference};
/// let mut y = [0.0f64; 2];
/// reference::l2_normalize_rows(Rows::dense(&[3.0, 4.0], 1, 2)?, 1e-12, &mut y, None)?;
/// assert_eq!(y, [0.6, 0.8]);
/// # Ok::<(), triplet_simd::Error>(())
/// ```
pub fn l2_normalize_rows(
    x: Rows<'_>,
    eps: f32,
    y: &mut [f64],
    norms: Option<&mut [f64]>,
) -> Result<(), Error> {
    use crate::normalize::{NORMS, check_eps, check_len};
    check_eps(eps)?;
    let (n, dim) = (x.rows(), x.dim());
    check_len("length of y", n * dim, y.len())?;
    let mut norms = norms;
    if let Some(out) = norms.as_deref() {
        check_len(NORMS, n, out.len())?;
    }
    for r in 0..n {
        let row = x.row_unchecked(r);
        let norm =
            pulp::Scalar::new().sqrt_f64s(row.iter().map(|&v| f64::from(v) * f64::from(v)).sum());
        if let Some(out) = norms.as_deref_mut() {
            out[r] = norm;
        }
        let c = if norm <= f64::from(eps) {
            f64::from(eps)
        } else {
            norm
        };
        for (o, &v) in y[r * dim..(r + 1) * dim].iter_mut().zip(row) {
            *o = f64::from(v) / c;
        }
    }
    Ok(())
}

/// The relative bound on each `y_i` (and on the norm) of [`l2_normalize_rows`](crate::l2_normalize_rows)
/// for a row of `dim` values whose exact sum of squares is `sum_of_squares` (`s`):
///
/// `|fast − exact| ≤ bound · |exact| + 2⁻¹⁴⁹`, with `bound = (e / 2 + 2·2⁻²⁴)·1.003`, `e = sq_l2_bound(dim, s) / s`
///
/// (the sum of squares is within [`sq_l2_bound`] of `s`, the square root halves its relative error and
/// adds half an ulp, the division another half; the factor covers the second-order terms, and `2⁻¹⁴⁹`
/// a subnormal result). A zero row is exact (`y = 0`). Where underflow makes the fast sum of squares
/// meaningless (`e > 10⁻³`, a norm below about `10⁻²¹·√dim`: with the default eps such rows are
/// clamped), no bound is claimed: the result is `inf`. It holds while `s < f32::MAX` (beyond, the fast
/// norm is `inf` and `y` is 0).
/// # Examples
/// ```
/// // Rows of 128 with a sum of squares of 1: a few units in the last place of f32.
/// let b = triplet_simd::reference::l2_normalize_bound(128, 1.0);
/// assert!(b > 0.0 && b < 1e-6);
/// # Ok::<(), triplet_simd::Error>(())
/// ```
pub fn l2_normalize_bound(dim: usize, sum_of_squares: f64) -> f64 {
    let u = f64::from(f32::EPSILON / 2.0);
    if sum_of_squares == 0.0 {
        return 2.0 * u;
    }
    let e = sq_l2_bound(dim, sum_of_squares) / sum_of_squares;
    if e > 1e-3 {
        return f64::INFINITY;
    }
    (e / 2.0 + 2.0 * u) * 1.003
}

/// The gradient of row L2-normalisation in `f64`, from the same `f32` inputs as
/// [`l2_normalize_rows_backward`](crate::l2_normalize_rows_backward): per row, `dx = dy / eps` where
/// `norms[r] ≤ eps`, else `dx = (dy − y·(y·dy)) / norms[r]`, into `grad_x` (`rows × dim`, dense).
///
/// With `bound`, also the bound on `|fast − exact|` of each element: with `u = 2⁻²⁴`,
/// `γ = (⌈D/64⌉ + 9)·u` (the fixed-order dot product `t = y·dy`), `T = Σ_j |y_j·dy_j|` and
/// `c = max(norm, eps)`,
///
/// `(|y_i|·γ·T + 3u·(|dy_i| + |y_i|·(|t| + γ·T)) + D·2⁻¹⁴⁹·|y_i| + 2⁻¹⁴⁹) / c + 2⁻¹⁴⁹`
///
/// (the error of `t` carried by `y_i`, then the roundings of the fused `dy_i − y_i·t` and of the
/// division; the `2⁻¹⁴⁹` terms cover underflow in the dot product, the fused step and the division).
/// On a clamped row (`norms[r] ≤ eps`) `y` is not read, so a NaN or infinite `y` there still gives
/// `dy / eps`, and the bound is `(3u·|dy_i| + 2⁻¹⁴⁹) / eps + 2⁻¹⁴⁹`.
/// It holds while `T`, `|y_i·t|` and the results stay below `f32::MAX`: for a `y` that the forward
/// wrote (`|y_i| ≤ 1`), unless `dy` comes near `f32::MAX`. Where `y_i·t` nearly cancels `dy_i` the
/// bound is absolute, not relative: such elements are small.
///
/// # Errors
/// As [`l2_normalize_rows_backward`](crate::l2_normalize_rows_backward); also
/// [`Error::LengthMismatch`] if `grad_x` or `bound` is not `rows × dim` values.
/// # Examples
/// ```
/// use triplet_simd::{Rows, reference};
/// // y = (0.6, 0.8) from ‖x‖ = 5; dy along y has no component that changes the direction.
/// let mut dx = [0.0f64; 2];
/// reference::l2_normalize_rows_backward(Rows::dense(&[0.6, 0.8], 1, 2)?, &[5.0],
///     Rows::dense(&[0.6, 0.8], 1, 2)?, 1e-12, &mut dx, None)?;
/// assert!(dx.iter().all(|v| v.abs() < 1e-8));
/// # Ok::<(), triplet_simd::Error>(())
/// ```
pub fn l2_normalize_rows_backward(
    y: Rows<'_>,
    norms: &[f32],
    grad_y: Rows<'_>,
    eps: f32,
    grad_x: &mut [f64],
    bound: Option<&mut [f64]>,
) -> Result<(), Error> {
    use crate::normalize::{GRAD_Y, NORMS, check_eps, check_len, check_shape};
    check_eps(eps)?;
    let (n, dim) = (y.rows(), y.dim());
    check_len(NORMS, n, norms.len())?;
    check_shape(GRAD_Y, n, dim, (grad_y.rows(), grad_y.dim()))?;
    check_len("length of grad_x", n * dim, grad_x.len())?;
    let mut bound = bound;
    if let Some(b) = bound.as_deref() {
        check_len("length of bound", n * dim, b.len())?;
    }
    let u = f64::from(f32::EPSILON / 2.0);
    let tiny = f64::from(f32::from_bits(1));
    let gamma = (dim.div_ceil(64) as f64 + 9.0) * u;
    for r in 0..n {
        let (yr, g) = (y.row_unchecked(r), grad_y.row_unchecked(r));
        let clamped = norms[r] <= eps;
        let c = f64::from(if clamped { eps } else { norms[r] });
        let (mut t, mut t_abs) = (0.0f64, 0.0f64);
        if !clamped {
            for (&a, &b) in yr.iter().zip(g) {
                t += f64::from(a) * f64::from(b);
                t_abs += (f64::from(a) * f64::from(b)).abs();
            }
        }
        for i in 0..dim {
            let (yi, gi) = (f64::from(yr[i]), f64::from(g[i]));
            if clamped {
                // `y` takes no part here (it may be NaN or inf, as the forward of a zero row with
                // `eps = 0` writes): one rounding, of the division.
                grad_x[r * dim + i] = gi / c;
                if let Some(b) = bound.as_deref_mut() {
                    b[r * dim + i] = (3.0 * u * gi.abs() + tiny) / c * (1.0 + 1e-6) + tiny;
                }
                continue;
            }
            grad_x[r * dim + i] = (gi - yi * t) / c;
            if let Some(b) = bound.as_deref_mut() {
                let e = yi.abs() * gamma * t_abs
                    + 3.0 * u * (gi.abs() + yi.abs() * (t.abs() + gamma * t_abs))
                    + dim as f64 * tiny * yi.abs()
                    + tiny;
                b[r * dim + i] = e / c * (1.0 + 1e-6) + tiny;
            }
        }
    }
    Ok(())
}

/// What [`mined_loss`] reports (the `f64` counterpart of [`MiningStats`](crate::MiningStats)).
/// # Examples
/// See [`mined_loss`].
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
    /// How many anchors had a positive and a negative.
    pub valid_anchors: u64,
    /// `valid_anchors / N` (0 for `N = 0`).
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
/// `(a, p, n)` is tested against the [definition](crate::semantics) (with the cap: ranked against every
/// other candidate of its anchor). Written in `(a, p, n)` row order (the fast path orders each
/// positive's negatives by distance: compare the sets). `scratch` holds the `N × L` distances.
/// Returns how many were mined (only the first `out.len()` are written).
///
/// # Errors
/// As [`TripletMiner::mine`](crate::TripletMiner::mine) for the settings and labels (any
/// reduction); [`Error::LengthMismatch`] if `scratch` is not `N·L` values.
/// # Examples
/// ```
/// use triplet_simd::{Miner, Rows, TripletMiner, reference};
/// let x = [0.0f32, 1.0, 1.5, 3.0];
/// let miner = TripletMiner::new(Miner::BatchHard, 1.0);
/// let mut d = [0.0f64; 16]; // N × L distances
/// let mut out = [[0u32; 3]; 4];
/// let k = reference::mine_triplets(&miner, Rows::dense(&x, 4, 1)?, &[0, 0, 1, 1], None, &mut d, &mut out)?;
/// assert_eq!(&out[..k], &[[0, 1, 2], [1, 0, 2], [2, 3, 1], [3, 2, 1]]);
/// # Ok::<(), triplet_simd::Error>(())
/// ```
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
/// As [`mine_triplets`], and [`Error::Missing`] for [`Reduction::None`](crate::Reduction::None) (as
/// [`TripletMiner::forward`](crate::TripletMiner::forward)); [`Error::LengthMismatch`] if `grad` is
/// not `N·dim` values.
/// # Examples
/// ```
/// use triplet_simd::{Miner, Reduction, Rows, TripletMiner, reference};
/// let x = [0.0f32, 1.0, 1.5, 3.0];
/// let miner = TripletMiner::new(Miner::BatchHard, 1.0).reduction(Reduction::Sum);
/// let mut d = [0.0f64; 16];
/// let l = reference::mined_loss(&miner, Rows::dense(&x, 4, 1)?, &[0, 0, 1, 1], None, &mut d, 1.0, None)?;
/// assert_eq!((l.mined, l.active), (4, 2));
/// assert!((l.loss - 4.75).abs() < 1e-12); // the TripletMiner example's loss, in f64
/// # Ok::<(), triplet_simd::Error>(())
/// ```
pub fn mined_loss(
    miner: &crate::TripletMiner,
    x: Rows<'_>,
    labels: &[u32],
    reference: Option<crate::Reference<'_>>,
    scratch: &mut [f64],
    upstream: f64,
    grad: Option<&mut [f64]>,
) -> Result<MinedLoss, Error> {
    miner.red()?;
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
            crate::Reduction::Sum => upstream,
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
    out.valid_anchors = both as u64;
    out.anchors_with_both = if n_rows == 0 {
        0.0
    } else {
        both as f64 / n_rows as f64
    };
    Ok(out)
}

/// The all-pairs matrix in `f64`: `out[i·m + j] = sq_l2(x_i, y_j)` for every row `i` of `x` and `j` of
/// `y`, `m = y.rows()` (dense, row-major). Each entry of the fast
/// [`sq_l2_pairwise`](crate::sq_l2_pairwise) is within [`sq_l2_bound`] of the entry here (it has the
/// bits of the fast `sq_l2` of the two rows).
///
/// # Errors
/// [`Error::LengthMismatch`] if the rows of `x` and `y` differ in length or `out` does not hold
/// `x.rows() · y.rows()` values; [`Error::CountOverflow`] if that product overflows `usize`.
/// # Examples
/// ```
/// use triplet_simd::{Rows, reference};
/// let x = [0.0f32, 3.0];
/// let mut d = [0.0f64; 4];
/// reference::sq_l2_pairwise(Rows::dense(&x, 2, 1)?, Rows::dense(&x, 2, 1)?, &mut d)?;
/// assert_eq!(d, [0.0, 9.0, 9.0, 0.0]);
/// # Ok::<(), triplet_simd::Error>(())
/// ```
pub fn sq_l2_pairwise(x: Rows<'_>, y: Rows<'_>, out: &mut [f64]) -> Result<(), Error> {
    crate::loss::check_len("row length of y", x.dim(), y.dim())?;
    let (n, m) = (x.rows(), y.rows());
    let len = n.checked_mul(m).ok_or(Error::CountOverflow {
        what: "entries of the distance matrix (rows of x × rows of y)",
        count: n,
        factor: m,
    })?;
    crate::loss::check_len("length of out (rows of x × rows of y)", len, out.len())?;
    if len == 0 {
        // No loop over the rows of an `n × 0` matrix (n may be huge for rows of length 0).
        return Ok(());
    }
    for i in 0..n {
        for j in 0..m {
            out[i * m + j] = sq_l2(x.row_unchecked(i), y.row_unchecked(j))?;
        }
    }
    Ok(())
}
