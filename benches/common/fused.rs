//! The one place the benches call the fused triplet loss (forward + backward into three separate
//! gradient buffers), shared by `triplet.rs`, `compare.rs` and `peers/triplet_timing.rs`: a change of
//! the call's form is made here once.

use std::hint::black_box;

use triplet_simd::{TripletGrads, TripletLoss, TripletStats, Triplets};

/// One fused call: rows of `d` floats, as many triplets as `x[0]` holds, gradients overwritten.
pub fn fused(
    loss: &TripletLoss,
    x: [&[f32]; 3],
    [ga, gp, gn]: [&mut [f32]; 3],
    d: usize,
) -> TripletStats {
    let t = Triplets::dense(black_box(x[0]), black_box(x[1]), black_box(x[2]), d);
    loss.forward_backward(t, TripletGrads::separate(ga, gp, gn))
        .unwrap()
}

/// The loss alone (no gradients): reads the rows once, writes nothing.
#[allow(dead_code)] // only the paired bench's analysis group calls it
pub fn forward(loss: &TripletLoss, x: [&[f32]; 3], d: usize) -> TripletStats {
    let t = Triplets::dense(black_box(x[0]), black_box(x[1]), black_box(x[2]), d);
    loss.forward(t).unwrap()
}

/// One fused call on one interleaved batch `[a0 p0 n0 a1 …]` (rows of `d` floats), gradients
/// overwritten into one interleaved buffer of the same shape: one network's output, no copy.
#[allow(dead_code)] // the paired bench calls it; the criterion bench and the peer timing do not
pub fn fused_interleaved(loss: &TripletLoss, x: &[f32], g: &mut [f32], d: usize) -> TripletStats {
    let t = Triplets::interleaved(black_box(x), d);
    loss.forward_backward(t, TripletGrads::interleaved(g))
        .unwrap()
}
