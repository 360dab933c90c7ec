//! Squared L2 distances and distance-based losses over `f32` rows, forward and backward, SIMD-fast and
//! bit-for-bit the same on every CPU.
//!
//! # Quick start
//! ```
//! use triplet_simd::{sq_l2, l2, sq_l2_rows, Rows};
//!
//! // The design document's worked example.
//! let (x, y) = ([1.0, 2.0, 3.0], [1.1, 2.0, 3.3]);
//! assert!((sq_l2(&x, &y)? - 0.10).abs() < 1e-6);
//! assert!((l2(&x, &y)? - 0.316_227_766).abs() < 1e-6);
//!
//! // Batched rows read through strided views: no copy of padded or interleaved data.
//! let a = [1.0, 2.0, 3.0, /* pad */ 0.0, 4.0, 5.0, 6.0];
//! let b = [1.0, 2.0, 3.0, 4.0, 5.0, 8.0];
//! let mut out = [0.0; 2];
//! sq_l2_rows(Rows::new(&a, 2, 3, 4)?, Rows::dense(&b, 2, 3)?, &mut out)?;
//! assert_eq!(out, [0.0, 4.0]);
//! # Ok::<(), triplet_simd::Error>(())
//! ```
//!
//! # Losses
//! [`TripletLoss`] is the triplet loss `Σ max(0, d(a, p) − d(a, n) + margin)` with its three gradients in
//! one fused call, with the options of PyTorch, pytorch-metric-learning, TF Addons and Hermans et al.
//! (its docs have the table of which option matches which peer), on three strided views, an interleaved
//! gradient buffer ([`TripletGrads::interleaved`]) or index triplets ([`Triplets`] names every layout). [`SquaredError`] is the
//! sum-of-squares and MSE loss over rows with both gradients. Both report through [`Reduction`],
//! [`Upstream`] and [`GradMode`] the way a framework's `backward` does.
//!
//! # Normalisation
//! [`l2_normalize_rows`] is PyTorch's `F.normalize(x, p=2, dim=1, eps)` over strided rows, with the
//! norms it divided by; [`l2_normalize_rows_backward`] takes those outputs and the upstream gradient
//! back to the input's, so embeddings can be normalised before the triplet loss without hand-written
//! loops. Both have in-place forms and are methods of [`Backend`] too.
//!
//! # Online mining
//! [`TripletMiner`] mines triplets from labels (one `u32` per row) inside a batch, optionally with
//! [`Reference`] rows from earlier batches: batch-hard, batch-all and three semi-hard rules
//! ([`Miner`], [`SemiHardRule`]), either as index triplets for
//! [`TripletLoss`] on [`Triplets::indexed`] or fused with the reduced loss and its gradient, with
//! [`MiningStats`]. The caller passes the scratch ([`TripletMiner::scratch_len`], [`Scratch`]).
//!
//! # Backends and dispatch
//! Kernels are written once over [`pulp::Simd`] and run with AVX-512, AVX2+FMA, NEON or scalar code.
//! [`Isa::detect`] picks the widest one this CPU runs (once, cached); the free functions use it.
//! [`Backend::new`] forces one ([`Error::UnavailableIsa`] if the CPU lacks it, never undefined behaviour),
//! and every operation is a method of [`Backend`]. Each call dispatches once, then loops over its rows.
//!
//! # Determinism
//! Every result is bit-identical on every backend, including pulp's emulated 4-, 8- and 16-lane vectors.
//! Every row sum uses 64 logical lanes (element `i` goes to lane `i mod 64`), one fused multiply-add per
//! element everywhere (`acc = fma(d, d, acc)` with `d = x − y`), zero-filled tails, and one fixed tree
//! that folds the 64 lanes (`lane i += lane i + h` for `h = 32, 16, …, 1`). A backend with `W` lanes keeps
//! `64 / W` vector accumulators, so the lane width changes the speed and never the rounding. Square roots
//! are IEEE (correctly rounded). Sums over rows, triplets and anchors (losses, mean distances) are taken in
//! `f64` in fixed blocks of 256 items, each block summed in item order and the block sums folded in block
//! order: a multi-core version that gives each thread whole blocks repeats the same bits for any number
//! of threads.
//!
//! # Definitions
//! The [`semantics`] page is the definition of record: the formulas, the edge cases and which peer each
//! option matches (the same text as `docs/SEMANTICS.md` in the package).
//!
//! # Accuracy
//! The [`reference`](mod@reference) module is the `f64` oracle; [`reference::sq_l2_bound`] states how
//! far the fast path may be from it.
//!
//! # `no_std`
//! The crate is `#![no_std]`; the default `std` feature only switches CPU detection to `std`'s cached
//! detection (without it, pulp reads CPUID itself). Nothing allocates.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(any(feature = "std", test))]
extern crate std;

mod distance;
mod error;
mod isa;
mod kernel;
mod loss;
mod mining;
mod normalize;
mod options;
mod pairwise;
pub mod reference;
mod rows;
mod triplet;

#[doc = include_str!("../docs/SEMANTICS.md")]
pub mod semantics {}

pub use distance::{l2, l2_one_to_many, l2_rows, sq_l2, sq_l2_one_to_many, sq_l2_rows};
pub use error::Error;
pub use isa::{Backend, Isa};
pub use loss::{Reduction, SquaredError, SquaredErrorCall, SquaredErrorKind, Upstream};
pub use mining::{
    Miner, MiningCall, MiningStats, Reference, Scratch, ScratchLen, SemiHardRule, TripletMiner,
};
pub use normalize::{
    L2_NORMALIZE_EPS, l2_normalize_rows, l2_normalize_rows_backward,
    l2_normalize_rows_backward_in_place, l2_normalize_rows_in_place,
};
pub use options::{Distance, GradMode};
pub use pairwise::{
    distance_pairwise, distance_pairwise_self, l2_pairwise, l2_pairwise_self, sq_l2_pairwise,
    sq_l2_pairwise_self,
};
pub use rows::{Rows, RowsMut};
pub use triplet::{
    TripletCall, TripletDiagnostics, TripletGrads, TripletLoss, TripletStats, Triplets,
};

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
