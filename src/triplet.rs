//! The triplet loss `Σ max(0, d(a, p) − d(a, n) + margin)`, forward and fused backward, with the options
//! of PyTorch, pytorch-metric-learning, TF Addons and Hermans et al. (the [definitions](crate::semantics)).

use crate::error::Error;
use crate::isa::{Backend, Isa};
use crate::kernel::loss::Weights;
use crate::kernel::triplet::{Config, Diag, Sink, Source, Totals, Triplet};
use crate::loss::{
    Reduction, Upstream, Which, check_len, check_per_item, check_same_shape, weights,
};
use crate::options::{Distance, GradMode};
use crate::rows::{Rows, RowsMut};

/// What a forward (or fused) call reports besides the per-triplet outputs.
///
/// # Examples
/// ```
/// use triplet_simd::{Reduction, Triplets, TripletLoss, Upstream};
/// let (a, p, n) = ([0.0, 0.0], [1.0, 2.0], [0.0, 1.0]); // two triplets of one value
/// let mut per = [0.0; 2];
/// let s = TripletLoss::new(0.5).reduction(Reduction::None)
///     .call(Triplets::dense(&a, &p, &n, 1)).losses(&mut per)
///     .upstream(Upstream::PerItem(&[1.0, 0.5])).run()?;
/// assert_eq!(per, [1.5, 3.5]);             // v = 1 − 0 + 0.5 and 4 − 1 + 0.5
/// assert_eq!(s.loss, 5.0);                 // Σ lᵢ
/// assert_eq!(s.weighted_loss, 3.25);       // Σ gᵢ·lᵢ: what the gradients differentiate
/// assert_eq!((s.active, s.mean_d_ap, s.mean_d_an), (2, 2.5, 0.5));
/// # Ok::<(), triplet_simd::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct TripletStats {
    /// The reduced loss (for [`Reduction::None`]: the sum of the per-triplet losses, unweighted).
    pub loss: f32,
    /// The loss whose gradient the call computes, the upstream gradient included: `g·loss` for
    /// [`Upstream::Scalar`]`(g)`, and `Σ gᵢ·lᵢ` for [`Upstream::PerItem`] (with [`Reduction::None`]).
    pub weighted_loss: f32,
    /// Triplets with a nonzero loss gradient: `v > 0` for the hinge, every non-NaN triplet for the soft
    /// margin. NaN triplets never count.
    pub active: usize,
    /// Mean `d(a, p)` over all triplets (0 for none; NaN if a triplet is NaN).
    pub mean_d_ap: f32,
    /// Mean `d(a, n)` over all triplets: a loss stuck at the margin with both means near 0 is the
    /// classic sign of collapsed embeddings.
    pub mean_d_an: f32,
}

/// The triplets of a call: where each triplet's anchor, positive and negative rows come from. Building
/// one never fails; its shapes are checked when the call runs, and errors name the anchors, the
/// positives, the negatives or the interleaved triplets.
///
/// # Examples
/// ```
/// use triplet_simd::{Rows, Triplets, TripletLoss};
/// let loss = TripletLoss::new(0.2);
/// // Three dense batches with rows of 2.
/// let (a, p, n) = ([0.0, 0.0], [1.0, 0.0], [0.5, 0.0]);
/// let dense = loss.forward(Triplets::dense(&a, &p, &n, 2))?;
/// // The same triplet as one interleaved network output [a0 p0 n0 …].
/// let out = [0.0, 0.0, 1.0, 0.0, 0.5, 0.0];
/// let inter = loss.forward(Triplets::interleaved(&out, 2))?;
/// // Index triplets into one embedding matrix.
/// let emb = Rows::dense(&out, 3, 2)?;
/// let idx = loss.forward(Triplets::indexed(emb, &[[0, 1, 2]]))?;
/// // Three strided views.
/// let [va, vp, vn] = Rows::interleaved::<3>(&out, 2)?;
/// let views = loss.forward(Triplets::views(va, vp, vn))?;
/// assert!([inter, idx, views].iter().all(|s| *s == dense));
/// assert!((dense.loss - 0.95).abs() < 1e-6);
/// # Ok::<(), triplet_simd::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Triplets<'a>(Input<'a>);

#[derive(Clone, Copy, Debug)]
enum Input<'a> {
    Views([Rows<'a>; 3]),
    Dense([&'a [f32]; 3], usize),
    Interleaved(&'a [f32], usize),
    Indexed(Rows<'a>, &'a [[u32; 3]]),
}

impl<'a> Triplets<'a> {
    /// Triplet `i` is row `i` of each view (the three views must have the same shape).
    /// See the example of [`Triplets`].
    pub fn views(anchors: Rows<'a>, positives: Rows<'a>, negatives: Rows<'a>) -> Self {
        Self(Input::Views([anchors, positives, negatives]))
    }
    /// Three densely packed batches of rows of length `dim` (the same length, a whole number of rows).
    /// See the example of [`Triplets`].
    pub fn dense(
        anchors: &'a [f32],
        positives: &'a [f32],
        negatives: &'a [f32],
        dim: usize,
    ) -> Self {
        Self(Input::Dense([anchors, positives, negatives], dim))
    }
    /// One dense interleaved buffer `[a0 p0 n0 a1 p1 n1 …]` of rows of length `dim`, as one network
    /// produces it for a batch of triplets (see [`Rows::interleaved`] for other group sizes).
    /// See the example of [`Triplets`].
    pub fn interleaved(triplets: &'a [f32], dim: usize) -> Self {
        Self(Input::Interleaved(triplets, dim))
    }
    /// Index triplets `[a, p, n]` into the rows of one embedding matrix, as a miner produces them.
    /// See the example of [`Triplets`].
    pub fn indexed(embeddings: Rows<'a>, triplets: &'a [[u32; 3]]) -> Self {
        Self(Input::Indexed(embeddings, triplets))
    }

    /// The validated source, with the rows and row length of one member.
    fn source(self) -> Result<Source<'a>, Error> {
        match self.0 {
            Input::Views([a, p, n]) => {
                check_views(a, p, n)?;
                Ok(Source::Views([a, p, n]))
            }
            Input::Dense([a, p, n], dim) => {
                let rows = a.len().checked_div(dim).unwrap_or(0);
                check_len(
                    "length of the anchors (whole rows of dim values)",
                    rows * dim,
                    a.len(),
                )?;
                check_len("length of the positives", a.len(), p.len())?;
                check_len("length of the negatives", a.len(), n.len())?;
                Ok(Source::Views([
                    Rows::named(MEMBERS[0], a, rows, dim, dim)?,
                    Rows::named(MEMBERS[1], p, rows, dim, dim)?,
                    Rows::named(MEMBERS[2], n, rows, dim, dim)?,
                ]))
            }
            Input::Interleaved(data, dim) => Ok(Source::Views(Rows::interleaved_named::<3>(
                "the interleaved triplets",
                data,
                dim,
            )?)),
            Input::Indexed(m, t) => {
                check_indices(m.rows(), t)?;
                Ok(Source::Indexed(m, t))
            }
        }
    }
}

const MEMBERS: [&str; 3] = ["the anchors", "the positives", "the negatives"];
const GRAD_NAMES: [&str; 3] = [
    "the anchor gradient",
    "the positive gradient",
    "the negative gradient",
];

/// Where a fused call writes the three gradients. Dense buffers are shaped from the call's triplets;
/// views keep their own strides. Errors name the anchor, positive or negative gradient, the interleaved
/// gradient or the gradient matrix.
///
/// # Examples
/// ```
/// use triplet_simd::{RowsMut, Triplets, TripletGrads, TripletLoss};
/// let (a, p, n) = ([0.0, 0.0], [1.0, 0.0], [0.5, 0.0]);
/// let loss = TripletLoss::new(0.2);
/// // Three dense gradient buffers shaped like the inputs.
/// let (mut ga, mut gp, mut gn) = ([0.0; 2], [0.0; 2], [0.0; 2]);
/// loss.forward_backward(Triplets::dense(&a, &p, &n, 2), TripletGrads::separate(&mut ga, &mut gp, &mut gn))?;
/// assert_eq!((ga, gp, gn), ([-1.0, 0.0], [2.0, 0.0], [-1.0, 0.0]));
/// // Only the anchor's gradient, into a padded view (stride 3).
/// let mut g = [7.0; 2 + 1];
/// loss.forward_backward(Triplets::dense(&a, &p, &n, 2),
///     TripletGrads::views(Some(RowsMut::new(&mut g, 1, 2, 3)?), None, None))?;
/// assert_eq!(g, [-1.0, 0.0, 7.0]);
/// // One buffer shaped like an interleaved batch.
/// let out = [0.0, 0.0, 1.0, 0.0, 0.5, 0.0];
/// let mut gi = [0.0; 6];
/// loss.forward_backward(Triplets::interleaved(&out, 2), TripletGrads::interleaved(&mut gi))?;
/// assert_eq!(gi, [-1.0, 0.0, 2.0, 0.0, -1.0, 0.0]);
/// # Ok::<(), triplet_simd::Error>(())
/// ```
#[derive(Debug)]
pub struct TripletGrads<'g>(GradsInner<'g>);

#[derive(Debug)]
enum GradsInner<'g> {
    Views([Option<RowsMut<'g>>; 3]),
    Dense([&'g mut [f32]; 3]),
    Interleaved(RowsMut<'g>),
    InterleavedDense(&'g mut [f32]),
    Matrix(RowsMut<'g>),
    MatrixDense(&'g mut [f32]),
}

impl<'g> TripletGrads<'g> {
    /// Three dense buffers, one per member, each shaped like the call's anchors (`N × dim`).
    /// See the example of [`TripletGrads`].
    pub fn separate(
        anchor: &'g mut [f32],
        positive: &'g mut [f32],
        negative: &'g mut [f32],
    ) -> Self {
        Self(GradsInner::Dense([anchor, positive, negative]))
    }
    /// One view per member, each with its own stride; `None` skips that gradient.
    /// See the example of [`TripletGrads`].
    pub fn views(
        anchor: Option<RowsMut<'g>>,
        positive: Option<RowsMut<'g>>,
        negative: Option<RowsMut<'g>>,
    ) -> Self {
        Self(GradsInner::Views([anchor, positive, negative]))
    }
    /// One dense buffer of `3N` rows shaped like an interleaved batch `[a0 p0 n0 a1 …]`: row `3i + k`
    /// receives member `k` of triplet `i`.
    /// See the example of [`TripletGrads`].
    pub fn interleaved(grad: &'g mut [f32]) -> Self {
        Self(GradsInner::InterleavedDense(grad))
    }
    /// [`TripletGrads::interleaved`] into a view of `3N` rows (its own stride).
    /// # Examples
    /// ```
    /// use triplet_simd::{Rows, RowsMut, Triplets, TripletGrads, TripletLoss};
    /// let out = [0.0, 0.0, 1.0, 0.0, 0.5, 0.0];
    /// let mut g = [9.0f32; 3 * 3]; // 3 rows of 2, padded to 3: the pads stay untouched
    /// TripletLoss::new(0.2).forward_backward(Triplets::interleaved(&out, 2),
    ///     TripletGrads::interleaved_view(RowsMut::new(&mut g, 3, 2, 3)?))?;
    /// assert_eq!(g, [-1.0, 0.0, 9.0, 2.0, 0.0, 9.0, -1.0, 0.0, 9.0]);
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    pub fn interleaved_view(grad: RowsMut<'g>) -> Self {
        Self(GradsInner::Interleaved(grad))
    }
    /// For [`Triplets::indexed`]: one dense matrix shaped like the embedding matrix, gradients added
    /// triplet by triplet (anchor, positive, negative) in triplet order, so a row used by several
    /// triplets gets the same sum on every run and backend. [`GradMode::Overwrite`] zeroes the matrix
    /// first; [`GradMode::Accumulate`] adds to it.
    ///
    /// # Examples
    /// ```
    /// use triplet_simd::{Reduction, Rows, Triplets, TripletGrads, TripletLoss};
    /// let emb = [0.0, 0.0,  1.0, 0.0,  0.5, 0.0];
    /// let x = Rows::dense(&emb, 3, 2)?;
    /// let mut grad = [0.0f32; 6];
    /// let stats = TripletLoss::new(0.2).reduction(Reduction::Sum).forward_backward(
    ///     Triplets::indexed(x, &[[0, 1, 2], [1, 0, 2]]), TripletGrads::matrix(&mut grad))?;
    /// // Both triplets have d(a, p) = 1, d(a, n) = 0.25: v = 0.95 each.
    /// assert_eq!(stats.active, 2);
    /// assert!((stats.loss - 1.9).abs() < 1e-6);
    /// // Row 0 is the anchor of one triplet and the positive of the other: 2(n − p) + 2(p − a).
    /// assert_eq!(grad, [-3.0, 0.0, 3.0, 0.0, 0.0, 0.0]);
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    pub fn matrix(grad: &'g mut [f32]) -> Self {
        Self(GradsInner::MatrixDense(grad))
    }
    /// [`TripletGrads::matrix`] into a view with its own stride.
    /// # Examples
    /// ```
    /// use triplet_simd::{Rows, RowsMut, Triplets, TripletGrads, TripletLoss};
    /// let emb = [0.0, 0.0, 1.0, 0.0, 0.5, 0.0];
    /// let mut g = [9.0f32; 3 * 3 - 1]; // 3 rows of 2 with stride 3
    /// TripletLoss::new(0.2).forward_backward(Triplets::indexed(Rows::dense(&emb, 3, 2)?, &[[0, 1, 2]]),
    ///     TripletGrads::matrix_view(RowsMut::new(&mut g, 3, 2, 3)?))?;
    /// assert_eq!(g, [-1.0, 0.0, 9.0, 2.0, 0.0, 9.0, -1.0, 0.0]);
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    pub fn matrix_view(grad: RowsMut<'g>) -> Self {
        Self(GradsInner::Matrix(grad))
    }

    /// The validated sink for `src` (`rows` triplets of `dim` values).
    fn sink(self, src: &Source<'_>) -> Result<Sink<'g>, Error> {
        let (rows, dim) = (src.len(), src.dim());
        let three = || {
            rows.checked_mul(3).ok_or(Error::CountOverflow {
                what: "rows of the interleaved gradient (3 per triplet)",
                count: rows,
                factor: 3,
            })
        };
        let dense = |what: &'static str, g: &'g mut [f32], rows: usize| {
            check_len(dense_len_name(what), rows * dim, g.len())?;
            RowsMut::named(what, g, rows, dim, dim)
        };
        Ok(match self.0 {
            GradsInner::Views(views) => {
                for (g, what) in views.iter().zip(GRAD_SHAPES) {
                    if let Some(g) = g {
                        check_same_shape(what, rows, dim, g.rows(), g.dim())?;
                    }
                }
                Sink::Separate(views)
            }
            GradsInner::Dense([ga, gp, gn]) => Sink::Separate([
                Some(dense(GRAD_NAMES[0], ga, rows)?),
                Some(dense(GRAD_NAMES[1], gp, rows)?),
                Some(dense(GRAD_NAMES[2], gn, rows)?),
            ]),
            GradsInner::Interleaved(g) => {
                check_same_shape(INTERLEAVED, three()?, dim, g.rows(), g.dim())?;
                Sink::Interleaved(g)
            }
            GradsInner::InterleavedDense(g) => {
                let three = three()?;
                // 3N·dim values fit: N·dim do (a view holds them), and the buffer is the proof.
                let needed = three.checked_mul(dim).ok_or(Error::CountOverflow {
                    what: "values of the interleaved gradient",
                    count: three,
                    factor: dim,
                })?;
                check_len(dense_len_name("the interleaved gradient"), needed, g.len())?;
                Sink::Interleaved(RowsMut::named(
                    "the interleaved gradient",
                    g,
                    three,
                    dim,
                    dim,
                )?)
            }
            GradsInner::Matrix(g) => {
                let Source::Indexed(m, _) = src else {
                    return Err(Error::Missing {
                        what: MATRIX_NEEDS_INDICES,
                    });
                };
                check_same_shape(MATRIX, m.rows(), m.dim(), g.rows(), g.dim())?;
                Sink::Indexed(g)
            }
            GradsInner::MatrixDense(g) => {
                let Source::Indexed(m, _) = src else {
                    return Err(Error::Missing {
                        what: MATRIX_NEEDS_INDICES,
                    });
                };
                Sink::Indexed(dense("the gradient matrix", g, m.rows())?)
            }
        })
    }
}

const MATRIX_NEEDS_INDICES: &str =
    "index triplets (Triplets::indexed), which a gradient matrix (TripletGrads::matrix) needs";
const MATRIX: Which = (
    "row count of the gradient matrix (the embeddings' row count)",
    "row length of the gradient matrix",
);
const GRAD_SHAPES: [Which; 3] = [
    (
        "row count of the anchor gradient",
        "row length of the anchor gradient",
    ),
    (
        "row count of the positive gradient",
        "row length of the positive gradient",
    ),
    (
        "row count of the negative gradient",
        "row length of the negative gradient",
    ),
];

/// The name of a dense gradient buffer's length in errors.
fn dense_len_name(what: &'static str) -> &'static str {
    match what {
        "the anchor gradient" => "length of the anchor gradient (rows × dim of the anchors)",
        "the positive gradient" => "length of the positive gradient (rows × dim of the anchors)",
        "the negative gradient" => "length of the negative gradient (rows × dim of the anchors)",
        "the interleaved gradient" => "length of the interleaved gradient (3 × rows × dim)",
        _ => "length of the gradient matrix (rows × dim of the embeddings)",
    }
}

/// Optional per-triplet outputs of a call, each one value per triplet: for debugging, mining and
/// collapse checks. Set the fields you want.
///
/// # Examples
/// ```
/// use triplet_simd::{Triplets, TripletDiagnostics, TripletLoss};
/// let (a, p, n) = ([0.0, 0.0], [1.0, 0.1], [3.0, 0.0]); // rows of 1
/// let (mut d_ap, mut d_neg, mut active, mut swapped) = ([0.0; 2], [0.0; 2], [false; 2], [false; 2]);
/// TripletLoss::new(1.0).swap(true).call(Triplets::dense(&a, &p, &n, 1))
///     .diagnostics(TripletDiagnostics {
///         d_ap: Some(&mut d_ap), d_neg: Some(&mut d_neg), active: Some(&mut active),
///         swapped: Some(&mut swapped), ..Default::default()
///     })
///     .run()?;
/// assert_eq!(d_ap, [1.0, 0.010000001]);
/// assert_eq!(d_neg, [4.0, 0.0]);       // triplet 1 swapped: d(p, n) = 0 < d(a, n) = 0
/// assert_eq!(swapped, [true, false]);  // triplet 1: a tie keeps d(a, n)
/// assert_eq!(active, [false, true]);
/// # Ok::<(), triplet_simd::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct TripletDiagnostics<'o> {
    /// `d(a, p)` of each triplet.
    pub d_ap: Option<&'o mut [f32]>,
    /// The negative distance used: `d(a, n)`, or `d(p, n)` where the swap was taken.
    pub d_neg: Option<&'o mut [f32]>,
    /// The violation `v = d(a, p) − d_neg + margin`.
    pub violation: Option<&'o mut [f32]>,
    /// Whether the triplet is active (its loss has a nonzero gradient).
    pub active: Option<&'o mut [bool]>,
    /// Whether the swap was taken (always `false` without swap).
    pub swapped: Option<&'o mut [bool]>,
}

impl<'o> TripletDiagnostics<'o> {
    fn check(&self, n: usize) -> Result<(), Error> {
        let f = [&self.d_ap, &self.d_neg, &self.violation];
        let names = [
            "length of the d_ap diagnostics",
            "length of the d_neg diagnostics",
            "length of the violation diagnostics",
        ];
        for (b, what) in f.iter().zip(names) {
            if let Some(b) = b {
                check_len(what, n, b.len())?;
            }
        }
        let b = [&self.active, &self.swapped];
        let names = [
            "length of the active diagnostics",
            "length of the swapped diagnostics",
        ];
        for (b, what) in b.iter().zip(names) {
            if let Some(b) = b {
                check_len(what, n, b.len())?;
            }
        }
        Ok(())
    }

    fn into_kernel(self) -> Diag<'o> {
        Diag {
            values: [self.d_ap, self.d_neg, self.violation],
            flags: [self.active, self.swapped],
        }
    }
}

/// The triplet loss configuration. Built with the builder methods; [`TripletLoss::validate`] checks it
/// at set-up, and every call checks it again.
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
/// A training step on an interleaved network output `[a0 p0 n0 a1 p1 n1]`, rows of 2, with its
/// gradient into one buffer shaped like the output:
/// ```
/// use triplet_simd::{Reduction, Triplets, TripletGrads, TripletLoss};
/// let out = [0.0, 0.0,  1.0, 0.0,  0.5, 0.0,   // triplet 0: d(a,p) = 1, d(a,n) = 0.25: active
///            0.0, 0.0,  0.1, 0.0,  3.0, 0.0];  // triplet 1: d(a,p) = 0.01, d(a,n) = 9: inactive
/// let mut grad = [0.0f32; 12];
/// let loss = TripletLoss::new(0.2).reduction(Reduction::Sum);
/// let stats = loss.forward_backward(Triplets::interleaved(&out, 2), TripletGrads::interleaved(&mut grad))?;
/// assert!((stats.loss - 0.95).abs() < 1e-6);
/// assert_eq!(stats.active, 1);
/// // g_a = 2(n − p), g_p = 2(p − a), g_n = 2(a − n) for the active triplet, zeros for the other.
/// assert_eq!(grad, [-1.0, 0.0, 2.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
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
    ///
    /// # Examples
    /// ```
    /// use triplet_simd::{Triplets, TripletLoss};
    /// // The design document's example: d(a,p) = 0.10, d(a,n) = 0.02, margin 0.2: v = 0.28.
    /// let (a, p, n) = ([1.0, 2.0, 3.0], [1.1, 2.0, 3.3], [1.0, 2.1, 3.1]);
    /// let s = TripletLoss::new(0.2).forward(Triplets::dense(&a, &p, &n, 3))?;
    /// assert!((s.loss - 0.28).abs() < 1e-6);
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
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
    ///
    /// # Examples
    /// ```
    /// use triplet_simd::{Triplets, TripletLoss};
    /// // torch.nn.functional.triplet_margin_loss(a, p, n) for a = p = n: d = 1e-6·√2 each, loss 1.
    /// let x = [0.5, -0.5];
    /// assert_eq!(TripletLoss::pytorch().forward(Triplets::dense(&x, &x, &x, 2))?.loss, 1.0);
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    pub fn pytorch() -> Self {
        Self::new(1.0).distance(Distance::EpsOnDiff(1e-6))
    }
    /// The soft margin of Hermans et al. (and TF Addons' `soft=True`): `softplus(d_ap − d_an)` with
    /// `EpsInSqrt(1e-12)`, margin 0, mean.
    ///
    /// # Examples
    /// ```
    /// use triplet_simd::{Triplets, TripletLoss};
    /// let x = [1.0];
    /// // d_ap = d_an (= 1e-6): softplus(0) = ln 2.
    /// let s = TripletLoss::soft().forward(Triplets::dense(&x, &x, &x, 1))?;
    /// assert!((s.loss - std::f32::consts::LN_2).abs() < 1e-7);
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    pub fn soft() -> Self {
        Self::new(0.0)
            .distance(Distance::EpsInSqrt(1e-12))
            .soft_margin(true)
    }
    /// The margin `m` of `v = d(a, p) − d(a, n) + m`; must be finite (it may be negative).
    ///
    /// # Examples
    /// ```
    /// use triplet_simd::TripletLoss;
    /// assert!(TripletLoss::new(0.2).margin(-0.1).validate().is_ok());
    /// assert!(TripletLoss::new(0.2).margin(f32::NAN).validate().is_err());
    /// ```
    pub fn margin(self, margin: f32) -> Self {
        Self { margin, ..self }
    }
    /// The distance; an eps must be finite and not negative.
    ///
    /// # Examples
    /// ```
    /// use triplet_simd::{Distance, TripletLoss};
    /// assert!(TripletLoss::new(1.0).distance(Distance::EpsInSqrt(1e-12)).validate().is_ok());
    /// assert!(TripletLoss::new(1.0).distance(Distance::EpsOnDiff(-1e-6)).validate().is_err());
    /// ```
    pub fn distance(self, distance: Distance) -> Self {
        Self { distance, ..self }
    }
    /// Balntas et al.'s swap (PyTorch `swap=True`): use `d(p, n)` when it is strictly smaller than `d(a, n)`.
    ///
    /// # Examples
    /// ```
    /// use triplet_simd::{Triplets, TripletLoss};
    /// let (a, p, n) = ([0.0], [1.0], [1.5]); // d(a, n) = 2.25, d(p, n) = 0.25
    /// let t = Triplets::dense(&a, &p, &n, 1);
    /// assert_eq!(TripletLoss::new(1.0).forward(t)?.loss, 0.0);         // 1 − 2.25 + 1 < 0
    /// assert_eq!(TripletLoss::new(1.0).swap(true).forward(t)?.loss, 1.75); // 1 − 0.25 + 1
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    pub fn swap(self, swap: bool) -> Self {
        Self { swap, ..self }
    }
    /// `softplus(v)` instead of the hinge (every triplet active, gradient weight `sigmoid(v)`).
    ///
    /// # Examples
    /// ```
    /// use triplet_simd::{Triplets, TripletLoss};
    /// let (a, p, n) = ([0.0], [0.0], [3.0]); // v = 0 − 9 + 1 = −8: inactive for the hinge
    /// let t = Triplets::dense(&a, &p, &n, 1);
    /// assert_eq!(TripletLoss::new(1.0).forward(t)?.active, 0);
    /// let s = TripletLoss::new(1.0).soft_margin(true).forward(t)?;
    /// assert_eq!(s.active, 1);
    /// assert!((s.loss - 3.3534e-4).abs() < 1e-7); // ln(1 + e⁻⁸)
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    pub fn soft_margin(self, soft: bool) -> Self {
        Self { soft, ..self }
    }
    /// How per-triplet losses are combined.
    ///
    /// # Examples
    /// ```
    /// use triplet_simd::{Reduction, Triplets, TripletLoss};
    /// let (a, p, n) = ([0.0, 0.0], [1.0, 0.0], [0.0, 5.0]); // losses 2 and 0 (margin 1)
    /// let t = Triplets::dense(&a, &p, &n, 1);
    /// let l = |r| TripletLoss::new(1.0).reduction(r).forward(t).map(|s| s.loss);
    /// assert_eq!((l(Reduction::Sum)?, l(Reduction::Mean)?, l(Reduction::MeanActive)?), (2.0, 1.0, 2.0));
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    pub fn reduction(self, reduction: Reduction) -> Self {
        Self { reduction, ..self }
    }
    /// Runs on this backend instead of the detected one.
    ///
    /// # Examples
    /// ```
    /// use triplet_simd::{Backend, Triplets, TripletLoss};
    /// let (a, p, n) = ([0.1, 0.2], [0.3, 0.1], [0.0, 0.9]);
    /// let t = Triplets::dense(&a, &p, &n, 2);
    /// let fast = TripletLoss::new(0.5).forward(t)?;
    /// for b in Backend::all() {
    ///     assert_eq!(TripletLoss::new(0.5).backend(b).forward(t)?, fast); // the same bits everywhere
    /// }
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    pub fn backend(self, backend: Backend) -> Self {
        Self { backend, ..self }
    }
    /// Runs on this instruction set ([`TripletLoss::backend`] of [`Backend::new`]`(isa)`).
    ///
    /// # Errors
    /// [`Error::UnavailableIsa`] when this CPU cannot run it.
    ///
    /// # Examples
    /// ```
    /// use triplet_simd::{Isa, TripletLoss};
    /// let loss = TripletLoss::new(0.2).with_isa(Isa::Emulated256)?; // runs everywhere
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    pub fn with_isa(self, isa: Isa) -> Result<Self, Error> {
        Ok(self.backend(Backend::new(isa)?))
    }

    /// Checks the configuration at set-up (a training loop can fail before its first epoch); every call
    /// checks it again.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a NaN or infinite margin, or an eps that is NaN, infinite or
    /// negative.
    ///
    /// # Examples
    /// ```
    /// use triplet_simd::{Distance, Error, TripletLoss};
    /// let e = TripletLoss::new(f32::INFINITY).validate().unwrap_err();
    /// assert_eq!(e.to_string(), "margin = inf is not allowed: the margin must be finite (it may be negative)");
    /// let e = TripletLoss::new(1.0).distance(Distance::EpsOnDiff(f32::NAN)).validate().unwrap_err();
    /// assert_eq!(e.to_string(), "eps = NaN is not allowed: the eps of a distance must be finite and not negative");
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        self.config().map(|_| ())
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
                rule: "the margin must be finite (it may be negative)",
            });
        }
        if let Distance::EpsOnDiff(e) | Distance::EpsInSqrt(e) = self.distance
            && !(e.is_finite() && e >= 0.0)
        {
            return Err(Error::InvalidParameter {
                name: "eps",
                value: e,
                rule: "the eps of a distance must be finite and not negative",
            });
        }
        Ok(Config {
            margin: self.margin,
            distance: self.distance,
            swap: self.swap,
            soft: self.soft,
        })
    }

    /// A call on `triplets`, to be given optional outputs and then [run](TripletCall::run).
    ///
    /// # Examples
    /// ```
    /// use triplet_simd::{GradMode, Reduction, Triplets, TripletGrads, TripletLoss, Upstream};
    /// let (a, p, n) = ([0.0, 0.0], [1.0, 0.0], [0.0, 3.0]); // two triplets of one value
    /// let (mut ga, mut gp, mut gn) = ([1.0; 2], [1.0; 2], [1.0; 2]);
    /// let mut losses = [0.0; 2];
    /// let stats = TripletLoss::new(0.5).reduction(Reduction::None)
    ///     .call(Triplets::dense(&a, &p, &n, 1))
    ///     .losses(&mut losses)
    ///     .upstream(Upstream::PerItem(&[2.0, 1.0]))
    ///     .grads(TripletGrads::separate(&mut ga, &mut gp, &mut gn))
    ///     .mode(GradMode::Accumulate)
    ///     .run()?;
    /// assert_eq!(losses, [1.5, 0.0]);
    /// assert_eq!(stats.weighted_loss, 3.0);
    /// assert_eq!(ga, [1.0 + 2.0 * 2.0 * (0.0 - 1.0), 1.0]); // 1 + g·2(n − p); triplet 1 inactive
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    pub fn call<'a, 'o>(&self, triplets: Triplets<'a>) -> TripletCall<'a, 'o> {
        TripletCall {
            loss: *self,
            triplets,
            losses: None,
            upstream: Upstream::Scalar(1.0),
            grads: None,
            mode: GradMode::Overwrite,
            diagnostics: TripletDiagnostics::default(),
        }
    }

    /// The loss of `triplets` and its statistics ([`TripletLoss::call`] for per-triplet outputs).
    ///
    /// # Errors
    /// As [`TripletCall::run`].
    ///
    /// # Examples
    /// See [`TripletLoss::new`].
    pub fn forward(&self, triplets: Triplets<'_>) -> Result<TripletStats, Error> {
        self.call(triplets).run()
    }

    /// The loss and, in the same pass, its gradients, overwriting `grads`, for an upstream gradient of
    /// 1 ([`TripletLoss::call`] for the other options).
    ///
    /// # Errors
    /// As [`TripletCall::run`].
    ///
    /// # Examples
    /// See the type's example and [`TripletGrads`].
    pub fn forward_backward(
        &self,
        triplets: Triplets<'_>,
        grads: TripletGrads<'_>,
    ) -> Result<TripletStats, Error> {
        self.call(triplets).grads(grads).run()
    }
}

/// One call of a [`TripletLoss`] with its optional outputs; built by [`TripletLoss::call`], run by
/// [`TripletCall::run`]. Defaults: no per-triplet losses, upstream gradient 1, no gradients (a forward
/// call), [`GradMode::Overwrite`], no diagnostics.
///
/// # Examples
/// See [`TripletLoss::call`].
#[derive(Debug)]
#[must_use = "a call does nothing until it is run"]
pub struct TripletCall<'a, 'o> {
    loss: TripletLoss,
    triplets: Triplets<'a>,
    losses: Option<&'o mut [f32]>,
    upstream: Upstream<'o>,
    grads: Option<TripletGrads<'o>>,
    mode: GradMode,
    diagnostics: TripletDiagnostics<'o>,
}

impl<'a, 'o> TripletCall<'a, 'o> {
    /// Writes each triplet's loss (required for [`Reduction::None`]).
    /// See the example of [`TripletLoss::call`].
    pub fn losses(self, losses: &'o mut [f32]) -> Self {
        Self {
            losses: Some(losses),
            ..self
        }
    }
    /// The upstream gradient (PyTorch's `grad_output`; default `Scalar(1.0)`). A per-item one needs
    /// [`Reduction::None`].
    /// See the example of [`TripletLoss::call`].
    pub fn upstream(self, upstream: Upstream<'o>) -> Self {
        Self { upstream, ..self }
    }
    /// Computes the gradients into `grads` in the same pass as the loss.
    /// See the example of [`TripletLoss::call`].
    pub fn grads(self, grads: TripletGrads<'o>) -> Self {
        Self {
            grads: Some(grads),
            ..self
        }
    }
    /// Overwrite (default) or add to the gradient buffers.
    /// See the example of [`TripletLoss::call`].
    pub fn mode(self, mode: GradMode) -> Self {
        Self { mode, ..self }
    }
    /// Writes the per-triplet diagnostics that are set.
    /// See the example of [`TripletLoss::call`].
    pub fn diagnostics(self, diagnostics: TripletDiagnostics<'o>) -> Self {
        Self {
            diagnostics,
            ..self
        }
    }

    /// Runs the call. Each triplet's rows are read once for its distances; its gradient rows are then
    /// written from the same (cached) rows. [`GradMode::Overwrite`] writes every gradient row (zeros for
    /// inactive triplets); [`GradMode::Accumulate`] adds to what is there. With [`Reduction::MeanActive`]
    /// the weight `1/#active` is known only after every distance, so a call with gradients computes the
    /// distances twice (a forward pass first). Rows of length 0 are answered in O(1) (beyond filling
    /// per-triplet buffers): every such triplet has the same loss.
    ///
    /// # Errors
    /// Nothing is written when an error is returned.
    /// - [`Error::InvalidParameter`] for the configuration (see [`TripletLoss::validate`]);
    /// - [`Error::LengthMismatch`] if the positives or negatives differ from the anchors in rows or dim, a
    ///   dense batch is not a whole number of rows, a gradient has another shape than its triplets need,
    ///   or a per-triplet buffer (losses, diagnostics, per-item upstream) is not one value per triplet;
    /// - [`Error::StrideTooSmall`], [`Error::SizeOverflow`], [`Error::BufferTooShort`],
    ///   [`Error::CountOverflow`] for dense buffers whose shape cannot hold their rows;
    /// - [`Error::IndexOutOfRange`] (naming the first bad triplet and index) for index triplets;
    /// - [`Error::Missing`] for [`Reduction::None`] without per-triplet losses, a per-item upstream
    ///   without [`Reduction::None`], or a gradient matrix without index triplets.
    ///
    /// # Examples
    /// See [`TripletLoss::call`].
    pub fn run(self) -> Result<TripletStats, Error> {
        let Self {
            loss,
            triplets,
            losses,
            upstream,
            grads,
            mode,
            diagnostics,
        } = self;
        let cfg = loss.config()?;
        let src = triplets.source()?;
        let sink = match grads {
            Some(g) => g.sink(&src)?,
            None => Sink::None,
        };
        let n = src.len();
        check_per_item(losses.as_deref(), n, loss.reduction, PER_TRIPLET)?;
        diagnostics.check(n)?;
        // Check the upstream gradient before any pass over the triplets.
        weights(upstream, loss.reduction, n, n)?;
        let diag = diagnostics.into_kernel();
        let t = if src.dim() == 0 && n > 1 {
            loss.zero_dim(cfg, n, losses, upstream, diag)?
        } else {
            loss.kernel(cfg, src, losses, upstream, sink, mode, diag)?
        };
        let divisor = match loss.reduction {
            Reduction::MeanActive => t.active,
            _ => n,
        };
        let mean = |s: f64| if n == 0 { 0.0 } else { (s / n as f64) as f32 };
        let reduced = crate::loss::reduce(t.loss, loss.reduction, divisor);
        let weighted_loss = match upstream {
            Upstream::Scalar(g) => g * reduced,
            Upstream::PerItem(_) => t.weighted as f32,
        };
        Ok(TripletStats {
            loss: reduced,
            weighted_loss,
            active: t.active,
            mean_d_ap: mean(t.d_ap),
            mean_d_an: mean(t.d_an),
        })
    }
}

impl TripletLoss {
    /// Runs the kernel (twice for [`Reduction::MeanActive`] with gradients).
    #[allow(clippy::too_many_arguments)]
    fn kernel(
        &self,
        cfg: Config,
        src: Source<'_>,
        losses: Option<&mut [f32]>,
        upstream: Upstream<'_>,
        sink: Sink<'_>,
        mode: GradMode,
        diag: Diag<'_>,
    ) -> Result<Totals, Error> {
        let n = src.len();
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
                diag: Diag::default(),
            });
            t.active
        } else {
            n
        };
        let weight = weights(upstream, self.reduction, n, count)?;
        Ok(self.backend.run(Triplet {
            cfg,
            src,
            losses,
            weight,
            sink,
            mode,
            diag,
        }))
    }

    /// `n > 1` triplets of rows of length 0: all have the loss of one, computed once. Their gradient rows
    /// are empty, so only the per-triplet buffers are filled.
    fn zero_dim(
        &self,
        cfg: Config,
        n: usize,
        losses: Option<&mut [f32]>,
        upstream: Upstream<'_>,
        diag: Diag<'_>,
    ) -> Result<Totals, Error> {
        let (mut l, mut v, mut b) = ([0.0f32], [[0.0f32]; 3], [[false]; 2]);
        let [v0, v1, v2] = &mut v;
        let [b0, b1] = &mut b;
        let one = self.backend.run(Triplet {
            cfg,
            src: Source::Views([Rows::broadcast(&[], 1); 3]),
            losses: Some(&mut l),
            weight: Weights::All(0.0),
            sink: Sink::None,
            mode: GradMode::Accumulate,
            diag: Diag {
                values: [Some(v0), Some(v1), Some(v2)],
                flags: [Some(b0), Some(b1)],
            },
        });
        if let Some(out) = losses {
            out.fill(l[0]);
        }
        for (out, x) in diag.values.into_iter().zip(v) {
            if let Some(o) = out {
                o.fill(x[0]);
            }
        }
        for (out, x) in diag.flags.into_iter().zip(b) {
            if let Some(o) = out {
                o.fill(x[0]);
            }
        }
        let weighted = match upstream {
            Upstream::PerItem(g) => g.iter().map(|&g| f64::from(g) * one.loss).sum(),
            Upstream::Scalar(_) => 0.0,
        };
        // n copies of one f32 value add up exactly in f64 (for n < 2²⁹), so the product is the sum.
        let times = n as f64;
        Ok(Totals {
            loss: one.loss * times,
            weighted,
            active: one.active * n,
            d_ap: one.d_ap * times,
            d_an: one.d_an * times,
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
