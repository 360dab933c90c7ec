//! Online triplet mining from labels: the distance rows, the per-anchor selection (batch-hard, batch-all,
//! the three semi-hard rules), the reduced loss and its gradient through per-pair coefficients.
//!
//! Every miner needs only the anchor's own distance row `d(x_a, y_j)` (`j` over the batch rows, then the
//! reference rows). Batch-hard keeps two selections per anchor and streams the rows in blocks; the other
//! miners keep the `N × L` matrix and overwrite each anchor's row, once it is mined, with its gradient
//! coefficients, so the gradient pass needs no other memory.
//!
//! The gradient of a mined loss is a sum over pairs: `∂/∂x_a Σ w·s·(d_ap − d_an)` is
//! `Σ_j c_aj·(x_a − y_j)` with `c_aj = w · (Σ of the slopes s of the triplets that use (a, j), positive
//! pairs counted +, negative pairs −) · k(d_aj)`, `k = 2` for the squared distance and `1/d` for the
//! Euclidean ones (0 at `d = 0`, PyTorch's rule, unless the slope is NaN); `y_j` gets the negation.

use pulp::{Simd, WithSimd};

use super::loss::write_scaled_diff;
use super::pair_grad::{PairGrad, all_finite};
use super::pairwise::{Block, Metric};
use super::sum::BlockSum;
use super::triplet::{sigmoid, softplus};
use crate::options::GradMode;
use crate::rows::{Rows, RowsMut};

/// The distance of a miner (the symmetric ones).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Dist {
    /// `Σ (x − y)²`.
    Sq,
    /// `sqrt(Σ (x − y)²)`.
    Exact,
    /// `sqrt(Σ (x − y)² + eps)`.
    EpsInSqrt(f32),
}

/// Which triplets an anchor keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rule {
    /// Furthest positive, closest negative.
    BatchHard,
    /// Every positive with every negative.
    BatchAll,
    /// TF Addons: per positive, the closest negative further than it, else the furthest negative.
    TfSemiHard,
    /// PML `TripletMarginMiner("semihard")`: every `(p, n)` with `0 < d_an − d_ap ≤ margin`.
    PmlSemiHard,
    /// PML `BatchEasyHardMiner`: the closest positive, then the closest negative further than it.
    EasyHard,
}

impl Rule {
    /// Whether the anchor's negatives are sorted by distance.
    fn sorted(self) -> bool {
        matches!(self, Rule::BatchAll | Rule::TfSemiHard | Rule::PmlSemiHard)
    }
    /// Whether one positive gives a range of negatives.
    fn ranged(self) -> bool {
        matches!(self, Rule::BatchAll | Rule::PmlSemiHard)
    }
}

/// The reduction of a mined loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Red {
    Sum,
    /// Over the mined triplets.
    Mean,
    /// Over the active triplets.
    MeanActive,
}

/// The validated settings.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Params {
    pub rule: Rule,
    pub dist: Dist,
    pub margin: f32,
    pub soft: bool,
    /// At most this many triplets per anchor (the hardest).
    pub cap: Option<usize>,
    /// Batch-hard: rows per block of the distance matrix (`≥ 1`).
    pub block: usize,
}

/// The rows and labels: batch rows `0 … N − 1`, then reference rows `N … N + M − 1`.
#[derive(Clone, Copy)]
pub(crate) struct Batch<'a> {
    pub x: Rows<'a>,
    pub labels: &'a [u32],
    /// The reference rows (0 rows when there are none), same dim as `x`.
    pub reference: Rows<'a>,
    pub ref_labels: &'a [u32],
}

impl<'a> Batch<'a> {
    fn n(&self) -> usize {
        self.x.rows()
    }
    fn len(&self) -> usize {
        self.x.rows() + self.reference.rows()
    }
    #[inline(always)]
    fn col(&self, j: usize) -> &'a [f32] {
        let n = self.n();
        if j < n {
            self.x.row_unchecked(j)
        } else {
            self.reference.row_unchecked(j - n)
        }
    }
    #[inline(always)]
    fn label(&self, j: usize) -> u32 {
        let n = self.n();
        if j < n {
            self.labels[j]
        } else {
            self.ref_labels[j - n]
        }
    }
}

/// Scratch a call needs, in elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    pub f32s: usize,
    pub u32s: usize,
}

/// The scratch of a call over `n` batch rows and `m` reference rows, `None` on overflow (or when
/// `n + m` row numbers do not fit in `u32`).
pub(crate) fn layout(p: &Params, n: usize, m: usize) -> Option<Layout> {
    let l = n.checked_add(m)?;
    if l > u32::MAX as usize {
        return None;
    }
    if p.rule == Rule::BatchHard {
        let rows = p.block.min(n);
        let f32s = rows.checked_mul(l)?.checked_add(n.checked_mul(2)?)?;
        return Some(Layout {
            f32s,
            u32s: n.checked_mul(2)?,
        });
    }
    let heap = heap_len(p, l);
    let f32s = n.checked_mul(l)?.checked_add(l)?.checked_add(heap)?;
    let u32s = l
        .checked_mul(5)?
        .checked_add(2)?
        .checked_add(heap.checked_mul(2)?)?;
    Some(Layout { f32s, u32s })
}

/// Entries of the cap's heap: `min(k, L²)` (an anchor has fewer than `L²` candidates).
fn heap_len(p: &Params, l: usize) -> usize {
    match p.cap {
        Some(k) => k.min(l.saturating_mul(l)),
        None => 0,
    }
}

/// The raw sums of a call.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Totals {
    pub mined: u64,
    pub active: u64,
    /// The sum of the mined triplets' losses (blocked over anchors, see `sum`).
    pub loss: f64,
    pub d_ap: f64,
    pub d_an: f64,
    /// Anchors with at least one positive and one negative.
    pub both: usize,
}

/// What one anchor contributed.
#[derive(Clone, Copy, Default)]
struct AnchorSums {
    mined: u64,
    active: u64,
    loss: f64,
    d_ap: f64,
    d_an: f64,
    both: bool,
}

/// The running totals over anchors.
#[derive(Default)]
struct Acc {
    mined: u64,
    active: u64,
    loss: BlockSum,
    d_ap: BlockSum,
    d_an: BlockSum,
    both: usize,
}

impl Acc {
    fn add(&mut self, s: &AnchorSums) {
        self.mined += s.mined;
        self.active += s.active;
        self.loss.add(s.loss);
        self.d_ap.add(s.d_ap);
        self.d_an.add(s.d_an);
        self.both += usize::from(s.both);
    }
    fn totals(self) -> Totals {
        Totals {
            mined: self.mined,
            active: self.active,
            loss: self.loss.total(),
            d_ap: self.d_ap.total(),
            d_an: self.d_an.total(),
            both: self.both,
        }
    }
}

/// `out[(r − r0)·L + j] = d(x_r, y_j)` for the batch rows `r0 .. r1` and every column `j` (batch rows,
/// then reference rows): the one place the miners compute distances, through the all-pairs kernel
/// (register-blocked tiles, each entry the bits of `sq_l2`, then the root).
#[inline(always)]
fn fill_rows<S: Simd>(simd: S, b: &Batch<'_>, dist: Dist, r0: usize, r1: usize, out: &mut [f32]) {
    let metric = match dist {
        Dist::Sq => Metric::SqL2,
        Dist::Exact => Metric::L2,
        Dist::EpsInSqrt(e) => Metric::L2EpsInSqrt(e),
    };
    let (n, l) = (b.n(), b.len());
    if r0 >= r1 || l == 0 {
        return;
    }
    // A target-feature function of its own (pulp's `vectorize`), so that the distance loop does not
    // share its registers with the miners' large body. The batch columns, then the reference columns.
    simd.vectorize(Block {
        x: b.x,
        y: b.x,
        rows: r0..r1,
        metric,
        out: &mut out[..],
        stride: l,
    });
    if b.reference.rows() > 0 {
        simd.vectorize(Block {
            x: b.x,
            y: b.reference,
            rows: r0..r1,
            metric,
            out: &mut out[n..],
            stride: l,
        });
    }
}

/// One triplet: `v = (d_ap − d_an) + m` in `f32` decides activity; the hinge loss of an active triplet
/// is `d_ap − d_an + m` in `f64`; the soft margin's is `softplus(v)`. Returns (loss, active, slope).
#[inline(always)]
fn eval(margin: f32, soft: bool, d_ap: f32, d_an: f32) -> (f64, bool, f32) {
    let v = (d_ap - d_an) + margin;
    if v.is_nan() {
        (f64::NAN, false, f32::NAN)
    } else if soft {
        (f64::from(softplus(v)), true, sigmoid(v))
    } else if v > 0.0 {
        (
            (f64::from(d_ap) - f64::from(d_an)) + f64::from(margin),
            true,
            1.0,
        )
    } else {
        (0.0, false, 0.0)
    }
}

/// A distance as an integer key for an anchor's order of negatives, `[key, row]` sorted as integers:
/// NaN first (key 0), then increasing distance, ties by row. Distances are never negative (sums of
/// squares and their roots); `−0` counts as `+0`.
#[inline(always)]
fn sort_key(d: f32) -> u32 {
    if d.is_nan() {
        0
    } else if d == 0.0 {
        1
    } else {
        // Positive floats (inf included) order as their bit patterns, all below 0x7f80_0001.
        d.to_bits() + 1
    }
}

/// `d` beats `best` for a maximum: NaN wins, ties keep the earlier (lower) row.
#[inline(always)]
fn beats_max(d: f32, best: Option<(u32, f32)>) -> bool {
    match best {
        None => true,
        Some((_, b)) => !b.is_nan() && (d.is_nan() || d > b),
    }
}

/// `d` beats `best` for a minimum: NaN wins, ties keep the earlier (lower) row.
#[inline(always)]
fn beats_min(d: f32, best: Option<(u32, f32)>) -> bool {
    match best {
        None => true,
        Some((_, b)) => !b.is_nan() && (d.is_nan() || d < b),
    }
}

/// Whether candidate 1 is harder than candidate 2 for the cap: larger `v` (NaN largest), ties by lower
/// `(p, n)` rows.
fn harder(c1: (f32, u32, u32), c2: (f32, u32, u32)) -> bool {
    let (v1, v2) = (c1.0, c2.0);
    match (v1.is_nan(), v2.is_nan()) {
        (true, false) => true,
        (false, true) => false,
        _ if v1 == v2 || (v1.is_nan() && v2.is_nan()) => (c1.1, c1.2) < (c2.1, c2.2),
        _ => v1 > v2,
    }
}

/// Batch-hard on one anchor's row: (hardest positive, hardest negative), if both exist.
#[inline(always)]
fn batch_hard(b: &Batch<'_>, a: usize, row: &[f32]) -> Option<(u32, u32)> {
    let la = b.labels[a];
    let (mut hp, mut hn) = (None, None);
    for (j, &d) in row.iter().enumerate() {
        if j == a {
            continue;
        }
        if b.label(j) == la {
            if beats_max(d, hp) {
                hp = Some((j as u32, d));
            }
        } else if beats_min(d, hn) {
            hn = Some((j as u32, d));
        }
    }
    Some((hp?.0, hn?.0))
}

/// The reusable per-anchor scratch of the full-matrix miners.
struct Work<'s> {
    /// The anchor's positives, in row order.
    pos: &'s mut [u32],
    /// The anchor's negatives, in row order or (sorted rules) in the order of `order`.
    neg: &'s mut [u32],
    /// Two difference arrays over the sorted negatives (active and mined counts), `L + 1` values each;
    /// before them, the same space holds the sort keys of the negatives.
    diffs: &'s mut [u32],
    /// `L` more values for the radix sort.
    spare: &'s mut [u32],
    /// Slope sums per column.
    acc: &'s mut [f32],
    /// The cap's heap: `[p, key]` pairs and their `v`.
    heap: &'s mut [[u32; 2]],
    heap_v: &'s mut [f32],
}

/// What a pass over an anchor does.
enum Act<'o> {
    /// Counts the mined triplets.
    Count,
    /// Writes them from `out[at]` on.
    Write(&'o mut [[u32; 3]], usize),
    /// Losses and statistics; with `coef`, the row is overwritten with its gradient coefficients.
    Loss { coef: bool },
}

/// The per-anchor context: the anchor's distance row and its positives and negatives.
struct Anchor<'r> {
    row: &'r [f32],
    np: usize,
    nn: usize,
    /// NaN distances at the front of the sorted negatives.
    k_nan: usize,
}

/// Splits the columns into positives and negatives (sorting the negatives for the sorted rules).
fn split(
    p: &Params,
    b: &Batch<'_>,
    a: usize,
    row: &[f32],
    w: &mut Work<'_>,
) -> (usize, usize, usize) {
    let la = b.labels[a];
    let (mut np, mut nn) = (0, 0);
    for (j, _) in row.iter().enumerate() {
        if j == a {
            continue;
        }
        if b.label(j) == la {
            w.pos[np] = j as u32;
            np += 1;
        } else {
            w.neg[nn] = j as u32;
            nn += 1;
        }
    }
    let mut k_nan = 0;
    if p.rule.sorted() && np > 0 {
        k_nan = sort_negatives(row, &mut w.neg[..nn], w.diffs, w.spare);
    }
    (np, nn, k_nan)
}

/// Below this many negatives a comparison sort beats the radix sort's histograms.
const RADIX_MIN: usize = 256;

/// Sorts the negatives `neg` (in row order) by `sort_key` of their distance, ties by row, and returns
/// how many are NaN (they come first). The keys need `2·len` values of `keys`, the radix sort `len` of
/// `spare` as well. Both sorts give the one order of distinct `(key, row)` pairs.
fn sort_negatives(row: &[f32], neg: &mut [u32], keys: &mut [u32], spare: &mut [u32]) -> usize {
    let nn = neg.len();
    if nn < RADIX_MIN {
        // `[key, row]` pairs: plain integer comparisons, no lookups into the row.
        let pairs = &mut keys.as_chunks_mut::<2>().0[..nn];
        for (k, &j) in pairs.iter_mut().zip(neg.iter()) {
            *k = [sort_key(row[j as usize]), j];
        }
        pairs.sort_unstable();
        for (j, k) in neg.iter_mut().zip(pairs.iter()) {
            *j = k[1];
        }
        return pairs.partition_point(|k| k[0] == 0);
    }
    // A least-significant-digit radix sort by bytes: each pass is stable and the rows start in
    // increasing order, so ties stay by row. A byte that every key shares takes no pass.
    let (ka, rest) = keys.split_at_mut(nn);
    let kb = &mut rest[..nn];
    let rb = &mut spare[..nn];
    let mut hist = [[0u32; 256]; 4];
    for (k, &j) in ka.iter_mut().zip(neg.iter()) {
        *k = sort_key(row[j as usize]);
        for (b, h) in hist.iter_mut().enumerate() {
            h[((*k >> (8 * b)) & 0xff) as usize] += 1;
        }
    }
    let mut in_a = true;
    for (b, h) in hist.iter_mut().enumerate() {
        if h.contains(&(nn as u32)) {
            continue;
        }
        let mut at = 0u32;
        for c in h.iter_mut() {
            let n = *c;
            *c = at;
            at += n;
        }
        let shift = 8 * b;
        let (ks, rs, kd, rd) = if in_a {
            (&*ka, &*neg, &mut *kb, &mut *rb)
        } else {
            (&*kb, &*rb, &mut *ka, &mut *neg)
        };
        for (&k, &r) in ks.iter().zip(rs.iter()) {
            let c = &mut h[((k >> shift) & 0xff) as usize];
            kd[*c as usize] = k;
            rd[*c as usize] = r;
            *c += 1;
        }
        in_a = !in_a;
    }
    if !in_a {
        neg.copy_from_slice(rb);
        ka.copy_from_slice(kb);
    }
    ka.partition_point(|&k| k == 0)
}

/// For a ranged rule and one positive at distance `d_ap`: the mined sorted positions are `0 .. pre`
/// (NaN negatives, or every negative when `d_ap` is NaN) and `lo .. hi`.
fn window(p: &Params, an: &Anchor<'_>, neg: &[u32], d_ap: f32) -> (usize, usize, usize) {
    let nn = an.nn;
    if d_ap.is_nan() {
        return (nn, nn, nn);
    }
    let k = an.k_nan;
    match p.rule {
        Rule::BatchAll => (k, k, nn),
        _ => {
            // t = d_an − d_ap is monotone in d_an (rounding is monotone), so each window bound is a
            // partition point of the sorted negatives.
            let s = &neg[k..nn];
            let row = an.row;
            let lo = k + s.partition_point(|&j| {
                let t = row[j as usize] - d_ap;
                t <= 0.0 || t.is_nan()
            });
            let hi = k + s.partition_point(|&j| row[j as usize] - d_ap <= p.margin);
            (k, lo, hi.max(lo))
        }
    }
}

/// TF Addons' choice for one positive: the first sorted negative with `d_an > d_ap` (NaN first and
/// passing), else the furthest (lowest row among equals).
fn tf_choice(an: &Anchor<'_>, neg: &[u32], d_ap: f32) -> usize {
    if d_ap.is_nan() || an.k_nan > 0 {
        return 0;
    }
    let row = an.row;
    let s = &neg[..an.nn];
    let ub = s.partition_point(|&j| row[j as usize] <= d_ap);
    if ub < an.nn {
        return ub;
    }
    let max = row[s[an.nn - 1] as usize];
    s.partition_point(|&j| row[j as usize] < max)
}

/// Calls `f(p_row, n_row, key)` for every candidate triplet of the anchor in its canonical order
/// (positives in row order; per positive, negatives in the sorted order; `key` orders the negatives).
fn for_each_candidate(
    p: &Params,
    an: &Anchor<'_>,
    pos: &[u32],
    neg: &[u32],
    f: &mut dyn FnMut(u32, u32, u32),
) {
    let row = an.row;
    let (pos, neg) = (&pos[..an.np], &neg[..an.nn]);
    match p.rule {
        Rule::BatchHard => {
            let (mut hp, mut hn) = (None, None);
            for &j in pos {
                if beats_max(row[j as usize], hp) {
                    hp = Some((j, row[j as usize]));
                }
            }
            for &j in neg {
                if beats_min(row[j as usize], hn) {
                    hn = Some((j, row[j as usize]));
                }
            }
            if let (Some(hp), Some(hn)) = (hp, hn) {
                f(hp.0, hn.0, 0);
            }
        }
        Rule::EasyHard => {
            let mut cp = None;
            for &j in pos {
                if beats_min(row[j as usize], cp) {
                    cp = Some((j, row[j as usize]));
                }
            }
            let Some((pj, d_ap)) = cp else { return };
            let mut cn = None;
            for &j in neg {
                let d = row[j as usize];
                let passes = d_ap.is_nan() || d.is_nan() || d > d_ap;
                if passes && beats_min(d, cn) {
                    cn = Some((j, d));
                }
            }
            if let Some((nj, _)) = cn {
                f(pj, nj, 0);
            }
        }
        Rule::TfSemiHard => {
            for &pj in pos {
                let i = tf_choice(an, neg, row[pj as usize]);
                f(pj, neg[i], i as u32);
            }
        }
        Rule::BatchAll | Rule::PmlSemiHard => {
            for &pj in pos {
                let (pre, lo, hi) = window(p, an, neg, row[pj as usize]);
                for i in (0..pre).chain(lo..hi) {
                    f(pj, neg[i], i as u32);
                }
            }
        }
    }
}

/// The number of candidates of the anchor (without enumerating the ranges).
fn count_candidates(p: &Params, an: &Anchor<'_>, pos: &[u32], neg: &[u32]) -> u64 {
    if p.rule.ranged() {
        let mut c = 0u64;
        for &pj in &pos[..an.np] {
            let (pre, lo, hi) = window(p, an, neg, an.row[pj as usize]);
            c += (pre + hi - lo) as u64;
        }
        c
    } else if p.rule == Rule::TfSemiHard {
        an.np as u64
    } else {
        let mut c = 0u64;
        for_each_candidate(p, an, pos, neg, &mut |_, _, _| c += 1);
        c
    }
}

/// Keeps the `k` hardest candidates in `heap` (a min-heap by hardness), then sorts them into the
/// canonical order. Returns how many were kept.
fn fill_heap(p: &Params, an: &Anchor<'_>, w: &mut Work<'_>, k: usize) -> usize {
    let row = an.row;
    let margin = p.margin;
    let Work {
        pos,
        neg,
        heap,
        heap_v,
        ..
    } = w;
    let (heap, heap_v) = (&mut heap[..k], &mut heap_v[..k]);
    let neg_ro: &[u32] = neg;
    let mut len = 0usize;
    let cand = |h: &[u32; 2], v: f32| (v, h[0], neg_ro[h[1] as usize]);
    for_each_candidate(p, an, pos, neg_ro, &mut |pj, nj, key| {
        let v = (row[pj as usize] - row[nj as usize]) + margin;
        let c = (v, pj, nj);
        if len < k {
            // Sift up: a parent is never harder than its children.
            let mut i = len;
            heap[i] = [pj, key];
            heap_v[i] = v;
            len += 1;
            while i > 0 {
                let parent = (i - 1) / 2;
                if harder(
                    cand(&heap[parent], heap_v[parent]),
                    cand(&heap[i], heap_v[i]),
                ) {
                    heap.swap(i, parent);
                    heap_v.swap(i, parent);
                    i = parent;
                } else {
                    break;
                }
            }
        } else if k > 0 && harder(c, cand(&heap[0], heap_v[0])) {
            heap[0] = [pj, key];
            heap_v[0] = v;
            let mut i = 0;
            loop {
                let (l, r) = (2 * i + 1, 2 * i + 2);
                let mut weakest = i;
                for ch in [l, r] {
                    if ch < len
                        && harder(
                            cand(&heap[weakest], heap_v[weakest]),
                            cand(&heap[ch], heap_v[ch]),
                        )
                    {
                        weakest = ch;
                    }
                }
                if weakest == i {
                    break;
                }
                heap.swap(i, weakest);
                heap_v.swap(i, weakest);
                i = weakest;
            }
        }
    });
    // The canonical order: positive row, then the negative's key (unique pairs: an unstable sort is
    // deterministic).
    heap[..len].sort_unstable();
    len
}

/// One anchor of a full-matrix miner under `act`. The row is overwritten with coefficients for
/// `Act::Loss { coef: true }` (and zeroed when the anchor mines nothing).
fn anchor(
    p: &Params,
    b: &Batch<'_>,
    a: usize,
    row: &mut [f32],
    w: &mut Work<'_>,
    act: &mut Act<'_>,
) -> AnchorSums {
    let mut s = AnchorSums::default();
    let (np, nn, k_nan) = split(p, b, a, row, w);
    let coef = matches!(act, Act::Loss { coef: true });
    if np == 0 || nn == 0 || p.cap == Some(0) {
        s.both = np > 0 && nn > 0;
        if coef {
            row.fill(0.0);
        }
        return s;
    }
    s.both = true;
    let an = Anchor { row, np, nn, k_nan };
    let capped = match p.cap {
        Some(k) if (k as u64) < count_candidates(p, &an, w.pos, w.neg) => Some(k),
        _ => None,
    };
    match act {
        Act::Count => {
            s.mined = match capped {
                Some(k) => k as u64,
                None => count_candidates(p, &an, w.pos, w.neg),
            };
        }
        Act::Write(out, at) => {
            let a32 = a as u32;
            if let Some(k) = capped {
                let kept = fill_heap(p, &an, w, k);
                for h in &w.heap[..kept] {
                    out[*at] = [a32, h[0], w.neg[h[1] as usize]];
                    *at += 1;
                }
            } else {
                for_each_candidate(p, &an, w.pos, w.neg, &mut |pj, nj, _| {
                    out[*at] = [a32, pj, nj];
                    *at += 1;
                });
            }
            s.mined = 0;
        }
        Act::Loss { .. } => {
            w.acc.fill(0.0);
            if let Some(k) = capped {
                let kept = fill_heap(p, &an, w, k);
                for i in 0..kept {
                    let [pj, key] = w.heap[i];
                    let nj = w.neg[key as usize];
                    one(p, &an, w.acc, &mut s, pj, nj);
                }
            } else if p.rule.ranged() && !p.soft {
                ranged_hinge(p, &an, w, &mut s);
            } else {
                let Work { pos, neg, acc, .. } = w;
                for_each_candidate(p, &an, pos, neg, &mut |pj, nj, _| {
                    one(p, &an, acc, &mut s, pj, nj);
                });
            }
            if coef {
                write_coefficients(p.dist, a, row, w.acc);
            }
        }
    }
    s
}

/// Evaluates one triplet: statistics, loss, slope sums.
#[inline(always)]
fn one(p: &Params, an: &Anchor<'_>, acc: &mut [f32], s: &mut AnchorSums, pj: u32, nj: u32) {
    let (d_ap, d_an) = (an.row[pj as usize], an.row[nj as usize]);
    let (loss, active, slope) = eval(p.margin, p.soft, d_ap, d_an);
    s.mined += 1;
    s.active += u64::from(active);
    s.loss += loss;
    s.d_ap += f64::from(d_ap);
    s.d_an += f64::from(d_an);
    if slope != 0.0 {
        acc[pj as usize] += slope;
        acc[nj as usize] -= slope;
    }
}

/// The hinge over ranges without enumerating them: per positive, the active negatives are a prefix
/// `lo .. act` of its window in the sorted order (`v` is monotone in `d_an`); the negatives' counts come
/// from difference arrays, the loss from `Σ_p k_p·(d_ap + m) − Σ_n c_n·d_an`. Positives at an infinite or
/// NaN distance, and NaN negatives, are evaluated one triplet at a time.
fn ranged_hinge(p: &Params, an: &Anchor<'_>, w: &mut Work<'_>, s: &mut AnchorSums) {
    let (row, nn, m) = (an.row, an.nn, p.margin);
    let Work {
        pos,
        neg,
        diffs,
        acc,
        ..
    } = w;
    let (diff_a, diff_m) = diffs.split_at_mut(diffs.len() / 2);
    let (diff_a, diff_m) = (&mut diff_a[..=nn], &mut diff_m[..=nn]);
    diff_a.fill(0);
    diff_m.fill(0);
    let (mut loss_p, mut d_ap_sum) = (0.0f64, 0.0f64);
    for &pj in &pos[..an.np] {
        let d_ap = row[pj as usize];
        let (pre, lo, hi) = window(p, an, neg, d_ap);
        if !d_ap.is_finite() {
            for i in (0..pre).chain(lo..hi) {
                one(p, an, acc, s, pj, neg[i]);
            }
            continue;
        }
        for &nj in &neg[..pre] {
            one(p, an, acc, s, pj, nj);
        }
        // d_ap is finite and so is m: v is −inf or finite, never NaN, on lo .. hi.
        let act = lo + neg[lo..hi].partition_point(|&j| (d_ap - row[j as usize]) + m > 0.0);
        let (k_act, k_mined) = (act - lo, hi - lo);
        if k_mined == 0 {
            continue;
        }
        s.mined += k_mined as u64;
        s.active += k_act as u64;
        d_ap_sum += k_mined as f64 * f64::from(d_ap);
        diff_m[lo] = diff_m[lo].wrapping_add(1);
        diff_m[hi] = diff_m[hi].wrapping_sub(1);
        if k_act > 0 {
            loss_p += k_act as f64 * (f64::from(d_ap) + f64::from(m));
            acc[pj as usize] += k_act as f32;
            diff_a[lo] = diff_a[lo].wrapping_add(1);
            diff_a[act] = diff_a[act].wrapping_sub(1);
        }
    }
    let (mut ca, mut cm) = (0u32, 0u32);
    let (mut loss_n, mut d_an_sum) = (0.0f64, 0.0f64);
    for i in 0..nn {
        ca = ca.wrapping_add(diff_a[i]);
        cm = cm.wrapping_add(diff_m[i]);
        let nj = neg[i] as usize;
        if cm > 0 {
            d_an_sum += f64::from(cm) * f64::from(row[nj]);
        }
        if ca > 0 {
            loss_n += f64::from(ca) * f64::from(row[nj]);
            acc[nj] -= ca as f32;
        }
    }
    s.loss += loss_p - loss_n;
    s.d_ap += d_ap_sum;
    s.d_an += d_an_sum;
}

/// The gradient coefficient of a pair at distance `d` whose slopes sum to `acc`.
#[inline(always)]
fn coefficient(dist: Dist, acc: f32, d: f32) -> f32 {
    match dist {
        Dist::Sq => 2.0 * acc,
        _ => {
            if acc == 0.0 || (d == 0.0 && !acc.is_nan()) {
                0.0
            } else {
                acc / d
            }
        }
    }
}

/// Overwrites the anchor's distance row with its coefficients (0 for its own row).
fn write_coefficients(dist: Dist, a: usize, row: &mut [f32], acc: &[f32]) {
    for (j, r) in row.iter_mut().enumerate() {
        *r = if j == a {
            0.0
        } else {
            coefficient(dist, acc[j], *r)
        };
    }
}

/// `grad_a += c·(x_a − y_j)` and, for a batch row `j`, `grad_j += c·(y_j − x_a)`.
#[inline(always)]
fn apply<S: Simd>(simd: S, b: &Batch<'_>, grad: &mut RowsMut<'_>, a: usize, j: usize, c: f32) {
    let (xa, yj) = (b.x.row_unchecked(a), b.col(j));
    write_scaled_diff(
        simd,
        grad.row_mut_unchecked(a),
        xa,
        yj,
        c,
        GradMode::Accumulate,
    );
    if j < b.n() {
        write_scaled_diff(
            simd,
            grad.row_mut_unchecked(j),
            yj,
            xa,
            c,
            GradMode::Accumulate,
        );
    }
}

/// Turns the coefficients `c_aj` of the anchors' rows into each batch row's gather coefficients
/// `m_kj = w·(c_kj + c_jk)` for batch columns (`k` takes `c_kj·(x_k − y_j)` as an anchor and
/// `c_jk·(x_k − x_j)` as anchor `j`'s column) and `w·c_kj` for reference columns (which take no
/// gradient). Blocked so that the transposed reads stay in cache.
fn symmetrise(mat: &mut [f32], n: usize, l: usize, w: f32) {
    const B: usize = 32;
    for a0 in (0..n).step_by(B) {
        let a1 = (a0 + B).min(n);
        for j0 in (a0..n).step_by(B) {
            let j1 = (j0 + B).min(n);
            for a in a0..a1 {
                for j in j0.max(a + 1)..j1 {
                    let m = w * (mat[a * l + j] + mat[j * l + a]);
                    mat[a * l + j] = m;
                    mat[j * l + a] = m;
                }
            }
        }
        for a in a0..a1 {
            // A row's own column carries nothing (`x_k − x_k`).
            mat[a * l + a] = 0.0;
            for c in &mut mat[a * l + n..(a + 1) * l] {
                *c *= w;
            }
        }
    }
}

/// The gradient weight `w` of every mined triplet: the upstream gradient over the reduction's count.
fn weight(red: Red, upstream: f32, mined: u64, active: u64) -> f32 {
    let count = match red {
        Red::Sum => return upstream,
        Red::Mean => mined,
        Red::MeanActive => active,
    };
    if count == 0 {
        0.0
    } else {
        upstream / count as f32
    }
}

/// Splits the scratch of a full-matrix miner.
fn full_work<'s>(
    p: &Params,
    b: &Batch<'_>,
    f32s: &'s mut [f32],
    u32s: &'s mut [u32],
) -> (&'s mut [f32], Work<'s>) {
    let (n, l) = (b.n(), b.len());
    let h = heap_len(p, l);
    let (mat, rest) = f32s.split_at_mut(n * l);
    let (acc, rest) = rest.split_at_mut(l);
    let heap_v = &mut rest[..h];
    let (pos, rest) = u32s.split_at_mut(l);
    let (neg, rest) = rest.split_at_mut(l);
    let (diffs, rest) = rest.split_at_mut(2 * (l + 1));
    let (spare, rest) = rest.split_at_mut(l);
    let heap = &mut rest[..2 * h].as_chunks_mut::<2>().0[..h];
    (
        mat,
        Work {
            pos,
            neg,
            diffs,
            spare,
            acc,
            heap,
            heap_v,
        },
    )
}

/// Mines into `out` if every triplet fits. Returns the number mined (nothing is written when it
/// exceeds `out.len()`).
pub(crate) struct Mine<'a, 's, 'o> {
    pub p: Params,
    pub b: Batch<'a>,
    pub f32s: &'s mut [f32],
    pub u32s: &'s mut [u32],
    pub out: &'o mut [[u32; 3]],
}

impl WithSimd for Mine<'_, '_, '_> {
    type Output = u64;
    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> u64 {
        let Self {
            p,
            b,
            f32s,
            u32s,
            out,
        } = self;
        let (n, l) = (b.n(), b.len());
        if p.rule == Rule::BatchHard {
            // Every anchor with a positive and a negative mines one triplet, whatever the distances.
            let mut count = 0u64;
            if p.cap != Some(0) {
                for a in 0..n {
                    let la = b.labels[a];
                    let (mut pos, mut neg) = (false, false);
                    for j in 0..l {
                        if j != a {
                            if b.label(j) == la {
                                pos = true;
                            } else {
                                neg = true;
                            }
                        }
                    }
                    count += u64::from(pos && neg);
                }
            }
            if count > out.len() as u64 || count == 0 {
                return count;
            }
            let mut at = 0;
            let rows = p.block.min(n);
            let buf = &mut f32s[..rows * l];
            for r0 in (0..n).step_by(rows) {
                let r1 = (r0 + rows).min(n);
                fill_rows(simd, &b, p.dist, r0, r1, buf);
                for a in r0..r1 {
                    let row = &buf[(a - r0) * l..(a - r0 + 1) * l];
                    if let Some((hp, hn)) = batch_hard(&b, a, row) {
                        out[at] = [a as u32, hp, hn];
                        at += 1;
                    }
                }
            }
            return count;
        }
        let (mat, mut w) = full_work(&p, &b, f32s, u32s);
        if n > 0 && l > 0 {
            fill_rows(simd, &b, p.dist, 0, n, mat);
        }
        let mut count = 0u64;
        for a in 0..n {
            let row = &mut mat[a * l..(a + 1) * l];
            count += anchor(&p, &b, a, row, &mut w, &mut Act::Count).mined;
        }
        if count > out.len() as u64 {
            return count;
        }
        let mut act = Act::Write(out, 0);
        for a in 0..n {
            let row = &mut mat[a * l..(a + 1) * l];
            anchor(&p, &b, a, row, &mut w, &mut act);
        }
        count
    }
}

/// The mined loss and statistics and, with `grad`, the gradient with respect to the batch rows.
pub(crate) struct Fused<'a, 's, 'g> {
    pub p: Params,
    pub b: Batch<'a>,
    pub red: Red,
    pub upstream: f32,
    pub f32s: &'s mut [f32],
    pub u32s: &'s mut [u32],
    pub grad: Option<(RowsMut<'g>, GradMode)>,
}

impl WithSimd for Fused<'_, '_, '_> {
    type Output = Totals;
    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> Totals {
        let Self {
            p,
            b,
            red,
            upstream,
            f32s,
            u32s,
            mut grad,
        } = self;
        let (n, l) = (b.n(), b.len());
        let dim = b.x.dim();
        let mut acc = Acc::default();
        if p.rule == Rule::BatchHard {
            if let Some((g, GradMode::Overwrite)) = grad.as_mut()
                && dim > 0
            {
                for r in 0..n {
                    g.row_mut_unchecked(r).fill(0.0);
                }
            }
            let rows = p.block.min(n).max(1);
            let (buf, rest) = f32s.split_at_mut(p.block.min(n) * l);
            let (cp, rest) = rest.split_at_mut(n);
            let cn = &mut rest[..n];
            let (hp, rest) = u32s.split_at_mut(n);
            let hn = &mut rest[..n];
            for r0 in (0..n).step_by(rows) {
                let r1 = (r0 + rows).min(n);
                fill_rows(simd, &b, p.dist, r0, r1, buf);
                for a in r0..r1 {
                    let row = &buf[(a - r0) * l..(a - r0 + 1) * l];
                    let mut s = AnchorSums::default();
                    hp[a] = u32::MAX;
                    if let Some((pj, nj)) = batch_hard(&b, a, row) {
                        s.both = true;
                        if p.cap != Some(0) {
                            let (d_ap, d_an) = (row[pj as usize], row[nj as usize]);
                            let (loss, active, slope) = eval(p.margin, p.soft, d_ap, d_an);
                            s.mined = 1;
                            s.active = u64::from(active);
                            s.loss = loss;
                            s.d_ap = f64::from(d_ap);
                            s.d_an = f64::from(d_an);
                            (hp[a], hn[a]) = (pj, nj);
                            cp[a] = coefficient(p.dist, slope, d_ap);
                            cn[a] = coefficient(p.dist, -slope, d_an);
                        }
                    }
                    acc.add(&s);
                }
            }
            let w = weight(red, upstream, acc.mined, acc.active);
            if let Some((g, _)) = grad.as_mut()
                && dim > 0
            {
                for a in 0..n {
                    if hp[a] == u32::MAX {
                        continue;
                    }
                    // The positive, then the negative (a zero coefficient adds nothing).
                    for (j, c) in [(hp[a], cp[a]), (hn[a], cn[a])] {
                        if c != 0.0 {
                            apply(simd, &b, g, a, j as usize, w * c);
                        }
                    }
                }
            }
            return acc.totals();
        }
        let (mat, mut work) = full_work(&p, &b, f32s, u32s);
        if n > 0 && l > 0 {
            fill_rows(simd, &b, p.dist, 0, n, mat);
        }
        let coef = grad.is_some();
        for a in 0..n {
            let row = &mut mat[a * l..(a + 1) * l];
            let s = anchor(&p, &b, a, row, &mut work, &mut Act::Loss { coef });
            acc.add(&s);
        }
        let w = weight(red, upstream, acc.mined, acc.active);
        if let Some((g, mode)) = grad.as_mut()
            && dim > 0
        {
            symmetrise(mat, n, l, w);
            let exact_zeros = !(all_finite(simd, b.x) && all_finite(simd, b.reference));
            PairGrad {
                x: b.x,
                cols: [b.x, b.reference],
                m: mat,
                m_stride: l,
                mode: *mode,
                exact_zeros,
            }
            .run(simd, g);
        }
        acc.totals()
    }
}

#[cfg(test)]
mod tests {
    use super::{RADIX_MIN, sort_key, sort_negatives};
    use std::{vec, vec::Vec};

    /// The radix sort gives the comparison sort's order of `(key, row)` pairs and the NaN count, for
    /// rows with ties, NaN, ±0, inf, subnormals and keys that share their high bytes (skipped passes).
    #[test]
    fn radix_sort_gives_the_comparison_order() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for &len in &[RADIX_MIN, RADIX_MIN + 1, 300, 1000, 2049] {
            for kind in 0..5 {
                let row: Vec<f32> = (0..len + 7)
                    .map(|_| {
                        let r = next();
                        match kind {
                            // Few distinct values: long runs of ties.
                            0 => (r % 5) as f32 * 0.25,
                            // Keys that share their top two bytes.
                            1 => 16.0 + (r % 1000) as f32 * 1e-4,
                            2 => match r % 11 {
                                0 => f32::NAN,
                                1 => f32::INFINITY,
                                2 => -0.0,
                                3 => 0.0,
                                4 => f32::from_bits(1 + (r >> 40) as u32 % 1000),
                                _ => (r >> 11) as f32 / (1u64 << 53) as f32 * 100.0,
                            },
                            // One value only: every pass skipped.
                            3 => 2.5,
                            _ => f32::from_bits((r >> 33) as u32 & 0x7f7f_ffff),
                        }
                    })
                    .collect();
                // The negatives: every row but a few, in increasing order.
                let mut neg: Vec<u32> = (0..row.len() as u32).filter(|j| j % 9 != 4).collect();
                neg.truncate(len);
                let mut want: Vec<[u32; 2]> = neg
                    .iter()
                    .map(|&j| [sort_key(row[j as usize]), j])
                    .collect();
                want.sort_unstable();
                let (mut keys, mut spare) = (vec![7u32; 2 * len + 2], vec![9u32; len]);
                let k_nan = sort_negatives(&row, &mut neg, &mut keys, &mut spare);
                let got: Vec<u32> = want.iter().map(|k| k[1]).collect();
                assert_eq!(neg, got, "len {len}, kind {kind}");
                assert_eq!(
                    k_nan,
                    want.iter().filter(|k| k[0] == 0).count(),
                    "len {len}, kind {kind}"
                );
            }
        }
    }
}
