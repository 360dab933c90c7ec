//! Online triplet mining from labels (batch-hard, batch-all, semi-hard), as index triplets or fused with
//! the reduced loss and its gradient (the [definitions](crate::semantics), "Pairwise distances and online
//! mining").

use crate::error::Error;
use crate::isa::Backend;
use crate::kernel::mining::{Batch, Dist, Fused, Mine, Params, Red, Rule, layout};
use crate::kernel::pairwise::Metric;
use crate::loss::{Reduction, check_len, check_same_shape};
use crate::options::{Distance, GradMode};
use crate::pairwise::symmetric_metric;
use crate::rows::{Rows, RowsMut};

const GRAD: (&str, &str) = ("row count of grad (the rows of x)", "row length of grad");

/// Which triplets a miner keeps, per anchor (an anchor is a batch row; its positives share its label,
/// its own row excluded; its negatives have another label).
///
/// Ties between equal distances go to the lowest row; a NaN distance wins every selection and passes
/// every window test, so a NaN row gives NaN losses and gradients, never a silently dropped triplet.
///
/// # Examples
/// ```
/// use triplet_simd::{Miner, SemiHardRule, TripletMiner};
/// let hard = TripletMiner::new(Miner::BatchHard, 0.2);
/// let semi = TripletMiner::new(Miner::SemiHard(SemiHardRule::TfAddons), 0.2);
/// # let _ = (hard, semi);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Miner {
    /// Hermans et al. 2017 (pytorch-metric-learning `BatchHardMiner`): the furthest positive and the
    /// closest negative; an anchor lacking either is skipped. One triplet per anchor.
    BatchHard,
    /// Every `(a, p, n)`. Its peer is pytorch-metric-learning's `TripletMarginLoss` with no miner (not
    /// `TripletMarginMiner("all")`, which keeps only `v ≥ 0`). The hinge is computed per positive through
    /// the sorted negative distances: `O(N² log N + N²·D)` time and `O(N)` memory besides the `N × L`
    /// matrix; the soft margin has no prefix form and takes `O(N³)` time (still `O(N)` memory).
    BatchAll,
    /// Semi-hard negatives, under one of the rules users mean by the name.
    SemiHard(SemiHardRule),
}

/// The three semi-hard rules, each named after its peer.
///
/// # Examples
/// ```
/// use triplet_simd::{Miner, SemiHardRule};
/// let m = Miner::SemiHard(SemiHardRule::PmlTripletMargin);
/// # let _ = m;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SemiHardRule {
    /// TF Addons `triplet_semihard_loss`: per positive pair, the closest negative with `d_an > d_ap`,
    /// else the furthest negative. A pair whose anchor has no negative is skipped (TF uses distance 0
    /// there); at `v = 0` the gradient is 0 (TF passes one); ties go to the lowest row (TF splits).
    TfAddons,
    /// pytorch-metric-learning `TripletMarginMiner("semihard")`: every `(a, p, n)` with
    /// `0 < d_an − d_ap ≤ margin` (the difference formed first), the loss's margin. A NaN distance
    /// passes the window here (PML drops it).
    PmlTripletMargin,
    /// pytorch-metric-learning `BatchEasyHardMiner` with its defaults: the closest positive, then the
    /// closest negative with `d_an > d_ap`; no fallback (the anchor is skipped).
    PmlEasyHard,
}

/// Reference rows with their labels (pytorch-metric-learning's `CrossBatchMemory`): rows numbered
/// `N … N + M − 1` after the batch's `N` rows. They serve as positives and negatives, never as anchors,
/// and receive no gradient; a copy of the anchor among them is a valid positive (distance 0). On ties a
/// batch row wins over a reference row (the lower number).
///
/// # Examples
/// ```
/// use triplet_simd::{Reference, Rows};
/// let memory = [0.0, 1.0, 2.0, 3.0];
/// let r = Reference::new(Rows::dense(&memory, 2, 2)?, &[7, 8])?;
/// # let _ = r;
/// # Ok::<(), triplet_simd::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Reference<'a> {
    rows: Rows<'a>,
    labels: &'a [u32],
}

impl<'a> Reference<'a> {
    /// The reference rows.
    /// See the example of [`Reference::new`].
    pub fn rows(&self) -> Rows<'a> {
        self.rows
    }
    /// Their labels.
    /// See the example of [`Reference::new`].
    pub fn labels(&self) -> &'a [u32] {
        self.labels
    }
    /// Reference rows and one label per row.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] if `labels` is not one label per row.
    /// # Examples
    /// ```
    /// use triplet_simd::{Reference, Rows};
    /// let mem = [0.0, 1.0, 5.0]; // three earlier embeddings of one value
    /// let r = Reference::new(Rows::dense(&mem, 3, 1)?, &[7, 7, 8])?;
    /// assert_eq!((r.rows().rows(), r.labels()), (3, &[7, 7, 8][..]));
    /// assert!(Reference::new(Rows::dense(&mem, 3, 1)?, &[7]).is_err());
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    pub fn new(rows: Rows<'a>, labels: &'a [u32]) -> Result<Self, Error> {
        if labels.len() != rows.rows() {
            return Err(error(Problem::Labels(
                "number of reference labels",
                rows.rows(),
                labels.len(),
            )));
        }
        Ok(Self { rows, labels })
    }
}

/// How much scratch a mining call needs, in elements (see [`TripletMiner::scratch_len`]).
///
/// # Examples
/// ```
/// use triplet_simd::{Miner, TripletMiner};
/// let need = TripletMiner::new(Miner::BatchHard, 0.2).block_rows(Some(16)).scratch_len(1024, 0)?;
/// assert_eq!(need.f32s, 16 * 1024 + 2 * 1024); // one block of distance rows, two values per anchor
/// # Ok::<(), triplet_simd::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScratchLen {
    /// `f32` elements.
    pub f32s: usize,
    /// `u32` elements.
    pub u32s: usize,
}

/// The caller's scratch for one call (its contents on entry do not matter; they are overwritten).
///
/// # Examples
/// ```
/// use triplet_simd::{Miner, Scratch, TripletMiner};
/// let need = TripletMiner::new(Miner::BatchAll, 0.2).scratch_len(8, 0)?;
/// let (mut f, mut u) = (vec![0.0f32; need.f32s], vec![0u32; need.u32s]);
/// let scratch = Scratch { f32s: &mut f, u32s: &mut u };
/// # let _ = scratch;
/// # Ok::<(), triplet_simd::Error>(())
/// ```
#[derive(Debug)]
pub struct Scratch<'s> {
    /// At least [`ScratchLen::f32s`] values.
    pub f32s: &'s mut [f32],
    /// At least [`ScratchLen::u32s`] values.
    pub u32s: &'s mut [u32],
}

/// What a mined loss call reports.
///
/// # Examples
/// See [`TripletMiner::forward_backward`].
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct MiningStats {
    /// The reduced loss over the mined triplets (0 when none was mined, NaN if one is NaN).
    pub loss: f32,
    /// Triplets mined.
    pub mined: u64,
    /// Mined triplets with a nonzero gradient: `v > 0` (hinge), every non-NaN one (soft margin).
    pub active: u64,
    /// Mean `d(a, p)` over the mined triplets (0 for none).
    pub mean_d_ap: f32,
    /// Mean `d(a, n)` over the mined triplets (0 for none).
    pub mean_d_an: f32,
    /// How many of the batch's anchors had both a positive and a negative (among the batch and
    /// reference rows): the anchors a miner can use.
    pub valid_anchors: u64,
    /// `valid_anchors / N`, the fraction of the batch's anchors with both (0 for `N = 0`), rounded to
    /// `f32`: use [`MiningStats::valid_anchors`] for the exact count.
    pub anchors_with_both: f32,
}

/// A triplet miner with its loss: which triplets, the margin, the distance, hinge or soft margin, the
/// reduction, an optional cap per anchor, and the backend.
///
/// Defaults: squared L2 distance, hinge, [`Reduction::MeanActive`] (pytorch-metric-learning's
/// `AvgNonZeroReducer`), no cap, the whole `N × L` distance matrix at once, detected backend.
///
/// # Loss and gradient
/// Per mined triplet `v = (d_ap − d_an) + margin` in `f32` decides activity (`v > 0`) as in
/// [`TripletLoss`](crate::TripletLoss); an active hinge triplet's loss is `d_ap − d_an + margin` taken in
/// `f64` (so batch-all can sum it through prefix counts), the soft margin's is `softplus(v)`.
/// [`Reduction::Mean`] divides by the number mined, [`Reduction::MeanActive`] by the number active
/// (0 when none is, unless a triplet is NaN); the loss calls refuse [`Reduction::None`]: per-triplet
/// losses come from [`TripletMiner::mine`] (which accepts any reduction, since mining does not use it)
/// and [`TripletLoss`](crate::TripletLoss) with [`Triplets::indexed`](crate::Triplets::indexed).
/// The gradient is assembled from one coefficient per pair (anchor `a`, column `j`):
/// `c_aj = (sum of the slopes of the triplets using the pair, + for positives, − for negatives) · k`,
/// `k = 2` (squared) or `1/d` (Euclidean; 0 at `d = 0` unless NaN), and `w`, the upstream gradient over
/// the reduction's count. Batch-hard (at most two pairs per anchor) adds per pair, in anchor order:
/// `grad_a += w·c·(x_a − y_j)`, `grad_j += w·c·(y_j − x_a)`. The other miners gather per row:
/// `grad_k (⊕)= Σ_j m_kj·(x_k − y_j)` over the columns in order, one `f32` FMA per pair and element
/// from `+0`, with `m_kj = w·(c_kj + c_jk)` for batch columns and `w·c_kj` for reference columns,
/// then added to (or written into) `grad_k` once. (The same values as mining index triplets and
/// calling the indexed triplet loss, to rounding.)
///
/// # Matching a peer
/// | peer | configuration |
/// |---|---|
/// | PML `BatchHardMiner` + `TripletMarginLoss(m)` | [`Miner::BatchHard`], `.distance(Distance::Exact)`, [`Reduction::MeanActive`] |
/// | PML `TripletMarginLoss(m)` with no miner | [`Miner::BatchAll`], `Exact`, `MeanActive` |
/// | PML `TripletMarginMiner(m, "semihard")` + `TripletMarginLoss(m)` | [`SemiHardRule::PmlTripletMargin`], `Exact`, `MeanActive` |
/// | PML `BatchEasyHardMiner()` + `TripletMarginLoss(m)` | [`SemiHardRule::PmlEasyHard`], `Exact`, `MeanActive` |
/// | TF Addons `triplet_semihard_loss(margin, "L2")` / `"squared-L2"` | [`SemiHardRule::TfAddons`], `Exact` / `SqL2`, [`Reduction::Mean`] |
/// | Hermans et al. batch-hard soft margin | [`Miner::BatchHard`], margin 0, `.soft_margin(true)`, `EpsInSqrt(1e-12)`, `Mean` |
///
/// PML's `LpDistance` normalizes the embeddings by default (`normalize_embeddings=True`): normalize
/// the rows first to match it. PML computes distances with `torch.cdist` (a matmul form that cancels)
/// and squared distances as `(√s)²`; this crate uses the difference form. PML's `smooth_loss` keeps the
/// margin. The differences listed in the [definitions](crate::semantics) apply: ties go to the lowest row (TF splits the gradient), NaN
/// is never dropped, TF's pairs without a negative are skipped (TF uses distance 0), no gradient at
/// `v = 0`. `tests/data/mining_peers.txt` (from `tools/mining_fixtures.py`) checks the table's peers.
///
/// # Determinism
/// Bit-identical on every backend. Sums over anchors (loss, mean distances) are taken in `f64` in fixed
/// blocks of 256 anchors summed in order, the block sums folded in order, so a multi-core version can
/// repeat them for any number of threads.
///
/// # Examples
/// ```
/// use triplet_simd::{Miner, Reduction, Rows, Scratch, TripletMiner};
/// // Two classes of two rows on a line.
/// let x = [0.0f32, 1.0, 1.5, 3.0];
/// let labels = [0, 0, 1, 1];
/// let miner = TripletMiner::new(Miner::BatchHard, 1.0).reduction(Reduction::Sum);
/// let need = miner.scratch_len(4, 0)?;
/// let (mut f, mut u) = (vec![0.0; need.f32s], vec![0; need.u32s]);
/// let mut grad = [0.0f32; 4];
/// let stats = miner.forward_backward(Rows::dense(&x, 4, 1)?, &labels,
///     Scratch { f32s: &mut f, u32s: &mut u }, &mut grad)?;
/// // Anchor 0: d_ap = 1, d_an = 2.25, v = -0.25; anchor 1: d_ap = 1, d_an = 0.25, v = 1.75;
/// // anchor 2: d_ap = 2.25, d_an = 0.25, v = 3; anchor 3: d_ap = 2.25, d_an = 4, v = -0.75.
/// assert_eq!((stats.mined, stats.active), (4, 2));
/// assert!((stats.loss - 4.75).abs() < 1e-6);
/// # Ok::<(), triplet_simd::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct TripletMiner {
    miner: Miner,
    margin: f32,
    distance: Distance,
    soft: bool,
    reduction: Reduction,
    cap: Option<usize>,
    block_rows: Option<usize>,
    backend: Backend,
}

impl TripletMiner {
    /// A miner with the hinge of `margin` (also the window of [`SemiHardRule::PmlTripletMargin`]).
    ///
    /// # Examples
    /// ```
    /// use triplet_simd::{Miner, TripletMiner};
    /// let m = TripletMiner::new(Miner::BatchAll, 0.2);
    /// # let _ = m;
    /// ```
    pub fn new(miner: Miner, margin: f32) -> Self {
        Self {
            miner,
            margin,
            distance: Distance::SqL2,
            soft: false,
            reduction: Reduction::MeanActive,
            cap: None,
            block_rows: None,
            backend: Backend::detect(),
        }
    }
    /// The margin (finite).
    /// See the examples of [`TripletMiner`] and [`TripletMiner::scratch_len`].
    pub fn margin(self, margin: f32) -> Self {
        Self { margin, ..self }
    }
    /// The distance: [`Distance::SqL2`], [`Distance::Exact`] or [`Distance::EpsInSqrt`]
    /// ([`Distance::EpsOnDiff`] is not symmetric and is refused).
    /// See the examples of [`TripletMiner`] and [`TripletMiner::scratch_len`].
    pub fn distance(self, distance: Distance) -> Self {
        Self { distance, ..self }
    }
    /// `softplus(v)` instead of the hinge.
    /// See the examples of [`TripletMiner`] and [`TripletMiner::scratch_len`].
    pub fn soft_margin(self, soft: bool) -> Self {
        Self { soft, ..self }
    }
    /// [`Reduction::Sum`], [`Reduction::Mean`] (over the mined triplets) or [`Reduction::MeanActive`].
    /// See the examples of [`TripletMiner`] and [`TripletMiner::scratch_len`].
    pub fn reduction(self, reduction: Reduction) -> Self {
        Self { reduction, ..self }
    }
    /// Keep at most `k` triplets per anchor: the hardest (largest `v`, NaN largest), ties by the lowest
    /// `(p, n)` rows (pytorch-metric-learning #645, #193).
    /// See the examples of [`TripletMiner`] and [`TripletMiner::scratch_len`].
    pub fn cap(self, cap: Option<usize>) -> Self {
        Self { cap, ..self }
    }
    /// Batch-hard only: compute the distance matrix in blocks of this many rows, so that no `N × L`
    /// matrix exists (`O(block · L)` scratch); the results are the same bits for every block size.
    /// `None` (the default) is one block of all rows. The other miners always keep the whole matrix.
    /// See the examples of [`TripletMiner`] and [`TripletMiner::scratch_len`].
    pub fn block_rows(self, block_rows: Option<usize>) -> Self {
        Self { block_rows, ..self }
    }
    /// Runs on this backend instead of the detected one.
    /// See the examples of [`TripletMiner`] and [`TripletMiner::scratch_len`].
    pub fn backend(self, backend: Backend) -> Self {
        Self { backend, ..self }
    }

    /// The validated settings of a mining call (the reduction is checked by `red`: mining index
    /// triplets does not use it).
    fn params(&self, n: usize) -> Result<Params, Error> {
        if !self.margin.is_finite() {
            return Err(error(Problem::Margin(self.margin)));
        }
        let dist = match symmetric_metric(self.distance)? {
            Metric::SqL2 => Dist::Sq,
            Metric::L2 => Dist::Exact,
            Metric::L2EpsInSqrt(e) => Dist::EpsInSqrt(e),
        };
        let rule = match self.miner {
            Miner::BatchHard => Rule::BatchHard,
            Miner::BatchAll => Rule::BatchAll,
            Miner::SemiHard(SemiHardRule::TfAddons) => Rule::TfSemiHard,
            Miner::SemiHard(SemiHardRule::PmlTripletMargin) => Rule::PmlSemiHard,
            Miner::SemiHard(SemiHardRule::PmlEasyHard) => Rule::EasyHard,
        };
        let block = match self.block_rows {
            Some(0) => return Err(error(Problem::ZeroBlock)),
            Some(b) => b,
            None => n.max(1),
        };
        Ok(Params {
            rule,
            dist,
            margin: self.margin,
            soft: self.soft,
            cap: self.cap,
            block,
        })
    }

    /// The reduction of a loss call (the oracle's too).
    pub(crate) fn red(&self) -> Result<Red, Error> {
        match self.reduction {
            Reduction::Sum => Ok(Red::Sum),
            Reduction::Mean => Ok(Red::Mean),
            Reduction::MeanActive => Ok(Red::MeanActive),
            Reduction::None => Err(error(Problem::NoneReduction)),
        }
    }

    /// The scratch a call over `n` batch rows and `m` reference rows needs (`L = n + m`): batch-hard
    /// `block·L + 2n` `f32` and `2n` `u32` (`block` = [`TripletMiner::block_rows`], or `n`); the other
    /// miners `n·L + L (+ h)` `f32` and `5L + 2 (+ 2h)` `u32`, `h = min(cap, L²)` with a cap.
    ///
    /// # Errors
    /// [`Error::CountOverflow`] if a length overflows `usize` or `n + m` rows cannot be numbered in `u32`;
    /// otherwise as [`TripletMiner::mine`] for the settings (any reduction is accepted here).
    ///
    /// # Examples
    /// ```
    /// use triplet_simd::{Miner, TripletMiner};
    /// let need = TripletMiner::new(Miner::BatchAll, 0.2).scratch_len(100, 20)?;
    /// assert_eq!((need.f32s, need.u32s), (100 * 120 + 120, 5 * 120 + 2));
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    pub fn scratch_len(&self, n: usize, m: usize) -> Result<ScratchLen, Error> {
        let p = self.params(n)?;
        let l = layout(&p, n, m).ok_or(error(Problem::Overflow(n, m)))?;
        Ok(ScratchLen {
            f32s: l.f32s,
            u32s: l.u32s,
        })
    }

    fn prepare<'a>(
        &self,
        x: Rows<'a>,
        labels: &'a [u32],
        reference: Option<Reference<'a>>,
        scratch: &Scratch<'_>,
    ) -> Result<(Params, Batch<'a>), Error> {
        let n = x.rows();
        let p = self.params(n)?;
        if labels.len() != n {
            return Err(error(Problem::Labels("number of labels", n, labels.len())));
        }
        let (reference, ref_labels) = match reference {
            Some(r) => {
                if r.rows.dim() != x.dim() {
                    return Err(error(Problem::Labels(
                        "row length of the reference rows",
                        x.dim(),
                        r.rows.dim(),
                    )));
                }
                (r.rows, r.labels)
            }
            None => (Rows::broadcast(&[], 0), &[][..]),
        };
        let need =
            layout(&p, n, reference.rows()).ok_or(error(Problem::Overflow(n, reference.rows())))?;
        if scratch.f32s.len() < need.f32s {
            return Err(error(Problem::Scratch(
                "f32 scratch",
                need.f32s,
                scratch.f32s.len(),
            )));
        }
        if scratch.u32s.len() < need.u32s {
            return Err(error(Problem::Scratch(
                "u32 scratch",
                need.u32s,
                scratch.u32s.len(),
            )));
        }
        let b = Batch {
            x,
            labels,
            reference,
            ref_labels,
        };
        Ok((p, b))
    }

    /// A call over the batch rows `x` with one label per row, using `scratch` (at least
    /// [`TripletMiner::scratch_len`]): add reference rows, an upstream gradient, a gradient buffer and
    /// its mode as steps, then [`MiningCall::run`] it for the reduced loss (and the gradient), or
    /// [`MiningCall::mine`] it for index triplets. [`TripletMiner::forward`],
    /// [`TripletMiner::forward_backward`] and [`TripletMiner::mine`] are its short forms.
    ///
    /// # Examples
    /// ```
    /// use triplet_simd::{GradMode, Miner, Reference, Rows, Scratch, TripletMiner};
    /// // Two batch rows of class 0 and 1; a memory of two earlier rows of class 1 and 0.
    /// let (x, memory) = ([0.0f32, 2.0], [1.5f32, 0.5]);
    /// let miner = TripletMiner::new(Miner::BatchHard, 2.5); // squared distances by default
    /// let need = miner.scratch_len(2, 2)?;
    /// let (mut f, mut u) = (vec![0.0; need.f32s], vec![0; need.u32s]);
    /// let mut grad = [0.0f32; 2];
    /// let stats = miner
    ///     .call(Rows::dense(&x, 2, 1)?, &[0, 1], Scratch { f32s: &mut f, u32s: &mut u })
    ///     .reference(Reference::new(Rows::dense(&memory, 2, 1)?, &[1, 0])?)
    ///     .upstream(0.5)
    ///     .grad(&mut grad)
    ///     .mode(GradMode::Accumulate)
    ///     .run()?;
    /// // Anchor 0: positive 0.5 (memory, d = 0.25), closest negative 1.5 (memory, d = 2.25); anchor 1:
    /// // positive 1.5, negative 0.5, the same distances. v = 0.25 − 2.25 + 2.5 = 0.5 for both.
    /// assert_eq!((stats.mined, stats.active, stats.loss), (2, 2, 0.5));
    /// // d v / d x0 = 2(x0 − 0.5) − 2(x0 − 1.5) = 2, over 2 active triplets, times the upstream 0.5.
    /// assert_eq!(grad, [0.5, -0.5]);
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    pub fn call<'a>(&self, x: Rows<'a>, labels: &'a [u32], scratch: Scratch<'a>) -> MiningCall<'a> {
        MiningCall {
            miner: *self,
            x,
            labels,
            reference: None,
            scratch,
            upstream: 1.0,
            grad: None,
            mode: GradMode::Overwrite,
        }
    }

    /// Mines index triplets `[a, p, n]` of the batch into `out` and returns how many: the short form of
    /// [`MiningCall::mine`] without reference rows.
    ///
    /// # Errors
    /// As [`MiningCall::mine`].
    ///
    /// # Examples
    /// ```
    /// use triplet_simd::{Miner, Rows, Scratch, TripletMiner};
    /// let x = [0.0f32, 1.0, 1.5, 3.0];
    /// let miner = TripletMiner::new(Miner::BatchHard, 1.0);
    /// let need = miner.scratch_len(4, 0)?;
    /// let (mut f, mut u) = (vec![0.0; need.f32s], vec![0; need.u32s]);
    /// let mut out = [[0u32; 3]; 4];
    /// let k = miner.mine(Rows::dense(&x, 4, 1)?, &[0, 0, 1, 1],
    ///     Scratch { f32s: &mut f, u32s: &mut u }, &mut out)?;
    /// assert_eq!(&out[..k], &[[0, 1, 2], [1, 0, 2], [2, 3, 1], [3, 2, 1]]);
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    pub fn mine(
        &self,
        x: Rows<'_>,
        labels: &[u32],
        scratch: Scratch<'_>,
        out: &mut [[u32; 3]],
    ) -> Result<usize, Error> {
        self.call(x, labels, scratch).mine(out)
    }

    /// The reduced loss over the mined triplets and the statistics, without gradients: the short form
    /// of [`MiningCall::run`] without reference rows.
    ///
    /// # Errors
    /// As [`MiningCall::run`].
    ///
    /// # Examples
    /// ```
    /// use triplet_simd::{Miner, Rows, Scratch, SemiHardRule, TripletMiner};
    /// let x = [0.0f32, 1.0, 1.5, 3.0];
    /// let miner = TripletMiner::new(Miner::SemiHard(SemiHardRule::TfAddons), 1.0);
    /// let need = miner.scratch_len(4, 0)?;
    /// let (mut f, mut u) = (vec![0.0; need.f32s], vec![0; need.u32s]);
    /// let s = miner.forward(Rows::dense(&x, 4, 1)?, &[0, 0, 1, 1],
    ///     Scratch { f32s: &mut f, u32s: &mut u })?;
    /// assert_eq!(s.mined, 4); // one triplet per positive pair
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    pub fn forward(
        &self,
        x: Rows<'_>,
        labels: &[u32],
        scratch: Scratch<'_>,
    ) -> Result<MiningStats, Error> {
        self.call(x, labels, scratch).run()
    }

    /// The reduced loss over the mined triplets and, in the same call, its gradient with respect to the
    /// batch rows into `grad` (dense, shaped like `x`: `rows × dim` values), overwritten: the short form
    /// of [`MiningCall::run`] with [`MiningCall::grad`], without reference rows.
    ///
    /// # Errors
    /// As [`MiningCall::run`].
    ///
    /// # Examples
    /// See [`TripletMiner`].
    pub fn forward_backward(
        &self,
        x: Rows<'_>,
        labels: &[u32],
        scratch: Scratch<'_>,
        grad: &mut [f32],
    ) -> Result<MiningStats, Error> {
        self.call(x, labels, scratch).grad(grad).run()
    }

    fn run(
        &self,
        x: Rows<'_>,
        labels: &[u32],
        reference: Option<Reference<'_>>,
        scratch: Scratch<'_>,
        upstream: f32,
        grad: Option<(RowsMut<'_>, GradMode)>,
    ) -> Result<MiningStats, Error> {
        let red = self.red()?;
        let (p, b) = self.prepare(x, labels, reference, &scratch)?;
        let t = self.backend.run(Fused {
            p,
            b,
            red,
            upstream,
            f32s: scratch.f32s,
            u32s: scratch.u32s,
            grad,
        });
        let divisor = match red {
            Red::Sum => 1,
            Red::Mean => t.mined,
            Red::MeanActive => t.active,
        };
        let loss = if divisor == 0 {
            if t.loss.is_nan() { f32::NAN } else { 0.0 }
        } else {
            (t.loss / divisor as f64) as f32
        };
        let mean = |s: f64| {
            if t.mined == 0 {
                0.0
            } else {
                (s / t.mined as f64) as f32
            }
        };
        let n = x.rows();
        Ok(MiningStats {
            loss,
            mined: t.mined,
            active: t.active,
            mean_d_ap: mean(t.d_ap),
            mean_d_an: mean(t.d_an),
            valid_anchors: t.both as u64,
            anchors_with_both: if n == 0 {
                0.0
            } else {
                (t.both as f64 / n as f64) as f32
            },
        })
    }
}

/// One mining call over a batch (built by [`TripletMiner::call`]); every step is optional.
///
/// # Examples
/// See [`TripletMiner::call`].
#[derive(Debug)]
#[must_use = "a call does nothing until it is run"]
pub struct MiningCall<'a> {
    miner: TripletMiner,
    x: Rows<'a>,
    labels: &'a [u32],
    reference: Option<Reference<'a>>,
    scratch: Scratch<'a>,
    upstream: f32,
    grad: Option<MiningGrad<'a>>,
    mode: GradMode,
}

#[derive(Debug)]
enum MiningGrad<'a> {
    Dense(&'a mut [f32]),
    View(RowsMut<'a>),
}

impl<'a> MiningCall<'a> {
    /// Mines positives and negatives also among `reference` (rows `N …` of the mined triplets).
    /// See the example of [`TripletMiner::call`].
    pub fn reference(self, reference: Reference<'a>) -> Self {
        Self {
            reference: Some(reference),
            ..self
        }
    }
    /// Scales the gradient by `upstream` (PyTorch's `grad_output` of the reduced loss; default 1).
    /// See the example of [`TripletMiner::call`].
    pub fn upstream(self, upstream: f32) -> Self {
        Self { upstream, ..self }
    }
    /// Computes the gradient with respect to the batch rows into `grad`, dense and shaped like `x`
    /// (`rows × dim` values). Reference rows get no gradient.
    /// See the example of [`TripletMiner::call`].
    pub fn grad(self, grad: &'a mut [f32]) -> Self {
        Self {
            grad: Some(MiningGrad::Dense(grad)),
            ..self
        }
    }
    /// Computes the gradient into a strided view of `x`'s shape.
    ///
    /// # Examples
    /// ```
    /// use triplet_simd::{Miner, Rows, RowsMut, Scratch, TripletMiner};
    /// let x = [0.0f32, 1.0, 1.5, 3.0];
    /// let miner = TripletMiner::new(Miner::BatchHard, 1.0);
    /// let need = miner.scratch_len(4, 0)?;
    /// let (mut f, mut u) = (vec![0.0; need.f32s], vec![0; need.u32s]);
    /// let mut g = [9.0f32; 8]; // rows of 1 at a stride of 2: the padding is left alone
    /// miner
    ///     .call(Rows::dense(&x, 4, 1)?, &[0, 0, 1, 1], Scratch { f32s: &mut f, u32s: &mut u })
    ///     .grad_view(RowsMut::new(&mut g, 4, 1, 2)?)
    ///     .run()?;
    /// assert!(g.iter().skip(1).step_by(2).all(|&p| p == 9.0));
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    pub fn grad_view(self, grad: RowsMut<'a>) -> Self {
        Self {
            grad: Some(MiningGrad::View(grad)),
            ..self
        }
    }
    /// Overwrite (default: the gradient buffer is zeroed first) or add to the gradient buffer.
    /// See the example of [`TripletMiner::call`].
    pub fn mode(self, mode: GradMode) -> Self {
        Self { mode, ..self }
    }

    /// Runs the call: the reduced loss over the mined triplets, the statistics and, with a gradient
    /// buffer, the gradient with respect to the batch rows, in the same call.
    ///
    /// # Errors
    /// Nothing is written when an error is returned.
    /// - [`Error::InvalidParameter`] for a NaN or infinite margin or a bad eps;
    /// - [`Error::Missing`] for [`Distance::EpsOnDiff`], [`Reduction::None`] or zero block rows;
    /// - [`Error::LengthMismatch`] for labels that are not one per row, reference rows of another
    ///   length, or a gradient not shaped like `x`;
    /// - [`Error::CountOverflow`] as in [`TripletMiner::scratch_len`];
    /// - [`Error::BufferTooShort`] for scratch shorter than it needs.
    ///
    /// # Examples
    /// See [`TripletMiner::call`].
    pub fn run(self) -> Result<MiningStats, Error> {
        let Self {
            miner,
            x,
            labels,
            reference,
            scratch,
            upstream,
            grad,
            mode,
        } = self;
        let grad = match grad {
            None => None,
            Some(g) => Some((grad_view(g, x)?, mode)),
        };
        miner.run(x, labels, reference, scratch, upstream, grad)
    }

    /// Mines index triplets `[a, p, n]` into `out` and returns how many (the upstream gradient and the
    /// gradient buffer, if set, are not used). Rows `N …` are the reference rows. Order: anchors in row
    /// order; per anchor, positives in row order; per positive, negatives in the anchor's order of
    /// negatives (NaN distances first, then increasing distance, ties by row). Feed them to
    /// [`TripletLoss`](crate::TripletLoss) with [`Triplets::indexed`](crate::Triplets::indexed) (over the
    /// batch rows followed by the reference rows) for per-triplet losses.
    ///
    /// Any reduction is accepted, [`Reduction::None`] included: mining does not use it.
    ///
    /// # Errors
    /// [`Error::BufferTooShort`] naming how many triplets were mined when `out` holds fewer (nothing is
    /// written); otherwise as [`MiningCall::run`], except that the reduction is never an error.
    ///
    /// # Examples
    /// See [`TripletMiner::mine`].
    pub fn mine(self, out: &mut [[u32; 3]]) -> Result<usize, Error> {
        let Self {
            miner,
            x,
            labels,
            reference,
            scratch,
            ..
        } = self;
        let (p, b) = miner.prepare(x, labels, reference, &scratch)?;
        let len = out.len();
        let count = miner.backend.run(Mine {
            p,
            b,
            f32s: scratch.f32s,
            u32s: scratch.u32s,
            out,
        });
        if count > len as u64 {
            return Err(error(Problem::Triplets(count, len)));
        }
        Ok(count as usize)
    }
}

/// The gradient buffer as a view of `x`'s shape.
fn grad_view<'g>(g: MiningGrad<'g>, x: Rows<'_>) -> Result<RowsMut<'g>, Error> {
    match g {
        MiningGrad::View(g) => {
            check_same_shape(GRAD, x.rows(), x.dim(), g.rows(), g.dim())?;
            Ok(g)
        }
        MiningGrad::Dense(g) => {
            let need = x
                .rows()
                .checked_mul(x.dim())
                .ok_or(error(Problem::GradOverflow(x.rows(), x.dim())))?;
            check_len("length of grad (rows × row length of x)", need, g.len())?;
            RowsMut::dense(g, x.rows(), x.dim())
        }
    }
}

/// What went wrong (turned into an [`Error`] in one place).
enum Problem {
    Margin(f32),
    NoneReduction,
    ZeroBlock,
    /// (what, expected, found)
    Labels(&'static str, usize, usize),
    /// (batch rows, reference rows)
    Overflow(usize, usize),
    /// (which, needed, len)
    Scratch(&'static str, usize, usize),
    /// (mined, buffer length)
    Triplets(u64, usize),
    /// (rows, dim) of a dense gradient
    GradOverflow(usize, usize),
}

fn error(p: Problem) -> Error {
    match p {
        Problem::Margin(value) => Error::InvalidParameter {
            name: "margin",
            value,
            rule: "the margin must be finite (it may be negative)",
        },
        Problem::NoneReduction => Error::Missing {
            what: "a reduction for a mined loss (Sum, Mean or MeanActive); for per-triplet losses, \
                   mine index triplets (MiningCall::mine, which takes any reduction) and pass them to \
                   the triplet loss on Triplets::indexed",
        },
        Problem::ZeroBlock => Error::Missing {
            what: "at least one row per block (block_rows is Some(0))",
        },
        Problem::Labels(what, expected, found) => Error::LengthMismatch {
            what,
            expected,
            found,
        },
        Problem::Overflow(n, m) => Error::CountOverflow {
            what: "distances of the batch rows to the batch and reference rows",
            count: n,
            factor: n.saturating_add(m),
        },
        Problem::Scratch(what, needed, len) => Error::BufferTooShort { what, needed, len },
        Problem::GradOverflow(count, factor) => Error::CountOverflow {
            what: "values of grad (rows × row length of x)",
            count,
            factor,
        },
        Problem::Triplets(needed, len) => Error::BufferTooShort {
            what: "triplet buffer (in triplets mined)",
            needed: usize::try_from(needed).unwrap_or(usize::MAX),
            len,
        },
    }
}

/// The validated settings, for the oracle in `reference`.
pub(crate) struct Settings {
    pub miner: Miner,
    pub margin: f32,
    pub distance: Distance,
    pub soft: bool,
    pub reduction: Reduction,
    pub cap: Option<usize>,
}

impl TripletMiner {
    pub(crate) fn settings(&self) -> Result<Settings, Error> {
        self.params(1)?;
        Ok(Settings {
            miner: self.miner,
            margin: self.margin,
            distance: self.distance,
            soft: self.soft,
            reduction: self.reduction,
            cap: self.cap,
        })
    }
}

impl<'a> Reference<'a> {
    pub(crate) fn parts(&self) -> (Rows<'a>, &'a [u32]) {
        (self.rows, self.labels)
    }
}
