//! The triplet loss `Σ max(0, d(a, p) − d(a, n) + margin)`, forward and fused backward, with the options
//! of PyTorch, pytorch-metric-learning, TF Addons and Hermans et al. (SEMANTICS.md is the definition).

use crate::kernel::loss::Weights;
use crate::kernel::triplet::{Config, Sink, Source, Totals, Triplet};
use crate::loss::{
    GRAD, GradMode, Reduction, Upstream, Which, check_per_item, check_same_shape, weights,
};
use crate::{Backend, Error, Rows, RowsMut};

/// The distance inside the loss (SEMANTICS.md, "Distances").
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Distance {
    /// `Σ (x − y)²`: the design document's and FaceNet's distance (the default).
    #[default]
    SqL2,
    /// `‖x − y + eps‖₂`, `eps` added to every component: PyTorch's `pairwise_distance`, used by
    /// `F.triplet_margin_loss` (PyTorch's default eps is `1e-6`). `d(x, x) = eps·√D`.
    EpsOnDiff(f32),
    /// `sqrt(Σ (x − y)² + eps)`: the Hermans et al. reference code (`eps = 1e-12`).
    EpsInSqrt(f32),
    /// `sqrt(Σ (x − y)²)`, with gradient 0 at `d = 0` (PyTorch's `norm` backward rule).
    Exact,
}

/// What a forward (or fused) call reports besides the loss.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct TripletStats {
    /// The reduced loss (for [`Reduction::None`]: the sum of the per-triplet losses).
    pub loss: f32,
    /// Triplets with a nonzero loss gradient: `v > 0` for the hinge, every non-NaN triplet for the soft
    /// margin. NaN triplets never count.
    pub active: usize,
    /// Mean `d(a, p)` over all triplets (0 for none; NaN if a triplet is NaN).
    pub mean_d_ap: f32,
    /// Mean `d(a, n)` over all triplets: a loss stuck at the margin with both means near 0 is the
    /// classic sign of collapsed embeddings.
    pub mean_d_an: f32,
}

/// Where a fused call writes the three gradients.
#[derive(Debug)]
pub enum TripletGrads<'g> {
    /// One view per member (anchor, positive, negative), each with its own stride; `None` skips one.
    Separate {
        /// Gradient with respect to the anchors.
        anchor: Option<RowsMut<'g>>,
        /// Gradient with respect to the positives.
        positive: Option<RowsMut<'g>>,
        /// Gradient with respect to the negatives.
        negative: Option<RowsMut<'g>>,
    },
    /// One view of `3N` rows shaped like an interleaved network output `[a0 p0 n0 a1 p1 n1 …]`:
    /// row `3i + k` receives member `k` of triplet `i`.
    Interleaved(RowsMut<'g>),
}

/// The triplet loss configuration. Built with the builder methods; every entry point validates it.
///
/// Defaults: squared L2 distance, margin as given, no swap, hinge, [`Reduction::Mean`], detected backend.
///
/// # Matching a peer
/// | peer | configuration |
/// |---|---|
/// | design document, FaceNet | [`TripletLoss::new`]`(m)` (squared L2) with [`Reduction::Sum`] or `Mean` |
/// | PyTorch `F.triplet_margin_loss(p=2, eps, swap, reduction)` | [`TripletLoss::pytorch`], `.swap(…)`, `.reduction(…)` |
/// | pytorch-metric-learning `TripletMarginLoss` (`AvgNonZeroReducer`, `smooth_loss`) | `.distance(Distance::Exact)`, [`Reduction::MeanActive`], `.soft_margin(true)` keeps the margin |
/// | Hermans et al. soft margin, TF Addons `soft=True` | [`TripletLoss::soft`]: margin 0, `EpsInSqrt(1e-12)` |
///
/// PyTorch differences, documented: the mean of zero triplets is 0 here, NaN there; on an exact swap
/// tie (e.g. `p == a`) PyTorch's `min` splits the gradient between the two distances, this crate keeps
/// `d(a, n)` whole (the losses agree). NaN inputs give NaN losses and gradients here, where a `relu`
/// written with `max(0, v)` would give 0.
///
/// # Examples
/// An interleaved network output `[a0 p0 n0 a1 p1 n1]`, rows of 2, with its gradient into one buffer:
/// ```
/// use triplet_simd::{GradMode, Reduction, Rows, RowsMut, TripletGrads, TripletLoss, Upstream};
/// let out = [0.0, 0.0,  1.0, 0.0,  0.5, 0.0,   // triplet 0: d(a,p) = 1, d(a,n) = 0.25: active
///            0.0, 0.0,  0.1, 0.0,  3.0, 0.0];  // triplet 1: d(a,p) = 0.01, d(a,n) = 9: inactive
/// let (d, s) = (2, 6);
/// let a = Rows::new(&out, 2, d, s)?;
/// let p = Rows::new(&out[d..], 2, d, s)?;
/// let n = Rows::new(&out[2 * d..], 2, d, s)?;
/// let loss = TripletLoss::new(0.2).reduction(Reduction::Sum);
/// let mut grad = [0.0f32; 12];
/// let stats = loss.forward_backward(a, p, n, None, Upstream::Scalar(1.0),
///     TripletGrads::Interleaved(RowsMut::dense(&mut grad, 6, d)?), GradMode::Overwrite)?;
/// assert!((stats.loss - 0.95).abs() < 1e-6);
/// assert_eq!(stats.active, 1);
/// // g_a = 2(n − p), g_p = 2(p − a), g_n = 2(a − n) for the active triplet, zeros for the other.
/// assert_eq!(grad, [-1.0, 0.0, 2.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
/// # Ok::<(), triplet_simd::Error>(())
/// ```
///
/// Index triplets `[a, p, n]` into one embedding matrix, as a miner produces them:
/// ```
/// use triplet_simd::{GradMode, Reduction, Rows, RowsMut, TripletLoss, Upstream};
/// let emb = [0.0, 0.0,  1.0, 0.0,  0.5, 0.0];
/// let x = Rows::dense(&emb, 3, 2)?;
/// let triplets = [[0, 1, 2], [1, 0, 2]];
/// let mut grad = [0.0f32; 6];
/// let stats = TripletLoss::new(0.2).reduction(Reduction::Sum).forward_backward_indexed(
///     x, &triplets, None, Upstream::Scalar(1.0), RowsMut::dense(&mut grad, 3, 2)?, GradMode::Overwrite)?;
/// // Both triplets have d(a, p) = 1, d(a, n) = 0.25: v = 0.95 each.
/// assert_eq!(stats.active, 2);
/// assert!((stats.loss - 1.9).abs() < 1e-6);
/// // Row 0 is the anchor of one triplet and the positive of the other: 2(n − p) + 2(p − a).
/// assert_eq!(grad, [-3.0, 0.0, 3.0, 0.0, 0.0, 0.0]);
/// # Ok::<(), triplet_simd::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct TripletLoss {
    margin: f32,
    distance: Distance,
    swap: bool,
    soft: bool,
    reduction: Reduction,
    backend: Backend,
}

impl TripletLoss {
    /// Squared L2 distance, hinge with `margin`, no swap, [`Reduction::Mean`], detected backend.
    pub fn new(margin: f32) -> Self {
        Self {
            margin,
            distance: Distance::SqL2,
            swap: false,
            soft: false,
            reduction: Reduction::Mean,
            backend: Backend::detect(),
        }
    }
    /// PyTorch's `F.triplet_margin_loss` defaults: margin 1, `EpsOnDiff(1e-6)`, no swap, mean.
    pub fn pytorch() -> Self {
        Self::new(1.0).distance(Distance::EpsOnDiff(1e-6))
    }
    /// The soft margin of Hermans et al. (and TF Addons' `soft=True`): `softplus(d_ap − d_an)` with
    /// `EpsInSqrt(1e-12)`, margin 0, mean.
    pub fn soft() -> Self {
        Self::new(0.0)
            .distance(Distance::EpsInSqrt(1e-12))
            .soft_margin(true)
    }
    /// The margin `m` of `v = d(a, p) − d(a, n) + m`; must be finite.
    pub fn margin(self, margin: f32) -> Self {
        Self { margin, ..self }
    }
    /// The distance; eps must be finite and ≥ 0.
    pub fn distance(self, distance: Distance) -> Self {
        Self { distance, ..self }
    }
    /// Balntas et al.'s swap (PyTorch `swap=True`): use `d(p, n)` when it is strictly smaller than `d(a, n)`.
    pub fn swap(self, swap: bool) -> Self {
        Self { swap, ..self }
    }
    /// `softplus(v)` instead of the hinge (every triplet active, gradient weight `sigmoid(v)`).
    pub fn soft_margin(self, soft: bool) -> Self {
        Self { soft, ..self }
    }
    /// How per-triplet losses are combined.
    pub fn reduction(self, reduction: Reduction) -> Self {
        Self { reduction, ..self }
    }
    /// Runs on this backend instead of the detected one.
    pub fn backend(self, backend: Backend) -> Self {
        Self { backend, ..self }
    }

    /// The validated settings: margin, distance, swap, soft margin, reduction (for the oracle).
    pub(crate) fn settings(&self) -> Result<(f32, Distance, bool, bool, Reduction), Error> {
        let c = self.config()?;
        Ok((c.margin, c.distance, c.swap, c.soft, self.reduction))
    }

    fn config(&self) -> Result<Config, Error> {
        if !self.margin.is_finite() {
            return Err(Error::InvalidParameter {
                name: "margin",
                value: self.margin,
            });
        }
        if let Distance::EpsOnDiff(e) | Distance::EpsInSqrt(e) = self.distance
            && !(e.is_finite() && e >= 0.0)
        {
            return Err(Error::InvalidParameter {
                name: "eps",
                value: e,
            });
        }
        Ok(Config {
            margin: self.margin,
            distance: self.distance,
            swap: self.swap,
            soft: self.soft,
        })
    }

    /// The loss of the triplets `(a_i, p_i, n_i)`; with `losses`, each triplet's loss too (required for
    /// [`Reduction::None`]).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a NaN or infinite margin or eps, or a negative eps;
    /// [`Error::LengthMismatch`] if `p` or `n` differ from `a` in rows or dim or `losses` is not one
    /// value per triplet; [`Error::Missing`] for [`Reduction::None`] without `losses`.
    pub fn forward(
        &self,
        a: Rows<'_>,
        p: Rows<'_>,
        n: Rows<'_>,
        losses: Option<&mut [f32]>,
    ) -> Result<TripletStats, Error> {
        let cfg = self.config()?;
        check_views(a, p, n)?;
        self.run(
            cfg,
            Source::Views([a, p, n]),
            losses,
            Upstream::Scalar(0.0),
            Sink::None,
            GradMode::Accumulate,
        )
    }

    /// The loss and, in the same pass, its gradients with respect to `a`, `p` and `n`, scaled by
    /// `upstream`. Each triplet's rows are read once for its distances; its three gradient rows are
    /// then written from the same (cached) rows. [`GradMode::Overwrite`] writes every row (zeros for
    /// inactive triplets); [`GradMode::Accumulate`] adds to what is there.
    ///
    /// With [`Reduction::MeanActive`] the weight `1/#active` is known only after every distance, so the
    /// distances are computed twice (a forward pass first).
    ///
    /// # Errors
    /// As [`TripletLoss::forward`]; also [`Error::LengthMismatch`] for a gradient view of another shape
    /// (an interleaved one must have `3N` rows) or a per-item upstream of the wrong length, and
    /// [`Error::Missing`] for a per-item upstream without [`Reduction::None`].
    #[allow(clippy::too_many_arguments)]
    pub fn forward_backward(
        &self,
        a: Rows<'_>,
        p: Rows<'_>,
        n: Rows<'_>,
        losses: Option<&mut [f32]>,
        upstream: Upstream<'_>,
        grads: TripletGrads<'_>,
        mode: GradMode,
    ) -> Result<TripletStats, Error> {
        let cfg = self.config()?;
        check_views(a, p, n)?;
        let (rows, dim) = (a.rows(), a.dim());
        let sink = match grads {
            TripletGrads::Separate {
                anchor,
                positive,
                negative,
            } => {
                for g in [&anchor, &positive, &negative].into_iter().flatten() {
                    check_same_shape(GRAD, rows, dim, g.rows(), g.dim())?;
                }
                Sink::Separate([anchor, positive, negative])
            }
            TripletGrads::Interleaved(g) => {
                let three = rows.checked_mul(3).ok_or(Error::SizeOverflow {
                    rows,
                    stride: 3,
                    dim,
                })?;
                check_same_shape(INTERLEAVED, three, dim, g.rows(), g.dim())?;
                Sink::Interleaved(g)
            }
        };
        self.run(cfg, Source::Views([a, p, n]), losses, upstream, sink, mode)
    }

    /// [`TripletLoss::forward`] for index triplets `[a, p, n]` into the rows of `embeddings`.
    ///
    /// # Errors
    /// [`Error::IndexOutOfRange`] (naming the first bad triplet and index) before anything is computed;
    /// otherwise as [`TripletLoss::forward`].
    pub fn forward_indexed(
        &self,
        embeddings: Rows<'_>,
        triplets: &[[u32; 3]],
        losses: Option<&mut [f32]>,
    ) -> Result<TripletStats, Error> {
        let cfg = self.config()?;
        check_indices(embeddings.rows(), triplets)?;
        let src = Source::Indexed(embeddings, triplets);
        self.run(
            cfg,
            src,
            losses,
            Upstream::Scalar(0.0),
            Sink::None,
            GradMode::Accumulate,
        )
    }

    /// [`TripletLoss::forward_backward`] for index triplets: the gradient goes into one matrix shaped like
    /// `embeddings`, added triplet by triplet (anchor, positive, negative) in triplet order, so a row used
    /// by several triplets gets the same sum on every run and backend. [`GradMode::Overwrite`] zeroes the
    /// matrix first; [`GradMode::Accumulate`] adds to it.
    ///
    /// # Errors
    /// [`Error::IndexOutOfRange`] before anything is written; [`Error::LengthMismatch`] if `grad`'s
    /// shape differs from `embeddings`'; otherwise as [`TripletLoss::forward_backward`].
    #[allow(clippy::too_many_arguments)]
    pub fn forward_backward_indexed(
        &self,
        embeddings: Rows<'_>,
        triplets: &[[u32; 3]],
        losses: Option<&mut [f32]>,
        upstream: Upstream<'_>,
        grad: RowsMut<'_>,
        mode: GradMode,
    ) -> Result<TripletStats, Error> {
        let cfg = self.config()?;
        check_indices(embeddings.rows(), triplets)?;
        check_same_shape(
            GRAD,
            embeddings.rows(),
            embeddings.dim(),
            grad.rows(),
            grad.dim(),
        )?;
        let src = Source::Indexed(embeddings, triplets);
        self.run(cfg, src, losses, upstream, Sink::Indexed(grad), mode)
    }

    fn run(
        &self,
        cfg: Config,
        src: Source<'_>,
        losses: Option<&mut [f32]>,
        upstream: Upstream<'_>,
        sink: Sink<'_>,
        mode: GradMode,
    ) -> Result<TripletStats, Error> {
        let n = src.len();
        check_per_item(losses.as_deref(), n, self.reduction, PER_TRIPLET)?;
        // Check the upstream gradient before any pass over the triplets.
        weights(upstream, self.reduction, n, n)?;
        let has_grads = !matches!(sink, Sink::None);
        // MeanActive needs #active before the gradients' weight is known: count it in a forward pass.
        let count = if self.reduction == Reduction::MeanActive && has_grads {
            let t = self.backend.run(Triplet {
                cfg,
                src,
                losses: None,
                weight: Weights::All(0.0),
                sink: Sink::None,
                mode,
            });
            t.active
        } else {
            n
        };
        let weight = weights(upstream, self.reduction, n, count)?;
        let t: Totals = self.backend.run(Triplet {
            cfg,
            src,
            losses,
            weight,
            sink,
            mode,
        });
        let divisor = match self.reduction {
            Reduction::MeanActive => t.active,
            _ => n,
        };
        let mean = |s: f64| if n == 0 { 0.0 } else { (s / n as f64) as f32 };
        Ok(TripletStats {
            loss: crate::loss::reduce(t.loss, self.reduction, divisor),
            active: t.active,
            mean_d_ap: mean(t.d_ap),
            mean_d_an: mean(t.d_an),
        })
    }
}

const INTERLEAVED: Which = (
    "row count of the interleaved gradient (3 per triplet)",
    "row length of the interleaved gradient",
);
const N: Which = ("row count of the negatives", "row length of the negatives");
pub(crate) const PER_TRIPLET: (&str, &str) = (
    "length of the per-triplet loss buffer",
    "a per-triplet loss buffer, which Reduction::None needs",
);

pub(crate) fn check_views(a: Rows<'_>, p: Rows<'_>, n: Rows<'_>) -> Result<(), Error> {
    const P: Which = ("row count of the positives", "row length of the positives");
    check_same_shape(P, a.rows(), a.dim(), p.rows(), p.dim())?;
    check_same_shape(N, a.rows(), a.dim(), n.rows(), n.dim())
}

fn check_indices(rows: usize, triplets: &[[u32; 3]]) -> Result<(), Error> {
    for (t, idx) in triplets.iter().enumerate() {
        for &i in idx {
            if i as usize >= rows {
                return Err(Error::IndexOutOfRange {
                    triplet: t,
                    index: i,
                    rows,
                });
            }
        }
    }
    Ok(())
}
