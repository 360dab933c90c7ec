//! The one place the benches call the fused triplet loss (forward + backward into three separate
//! gradient buffers), shared by `triplet.rs`, `compare.rs` and `peers/triplet_timing.rs`: a change of
//! the call's form is made here once.

use std::hint::black_box;

use triplet_simd::{Rows, RowsMut, TripletGrads, TripletLoss, TripletStats, Upstream};

/// One fused call: rows of `d` floats, as many triplets as `x[0]` holds, gradients overwritten.
pub fn fused(
    loss: &TripletLoss,
    x: [&[f32]; 3],
    [ga, gp, gn]: [&mut [f32]; 3],
    d: usize,
) -> TripletStats {
    let n = x[0].len() / d;
    let v = |x| Rows::dense(black_box(x), n, d).unwrap();
    loss.forward_backward(
        v(x[0]),
        v(x[1]),
        v(x[2]),
        None,
        Upstream::Scalar(1.0),
        TripletGrads::Separate {
            anchor: Some(RowsMut::dense(ga, n, d).unwrap()),
            positive: Some(RowsMut::dense(gp, n, d).unwrap()),
            negative: Some(RowsMut::dense(gn, n, d).unwrap()),
        },
        triplet_simd::GradMode::Overwrite,
    )
    .unwrap()
}

/// The loss alone (no gradients): reads the rows once, writes nothing.
#[allow(dead_code)] // only the paired bench's analysis group calls it
pub fn forward(loss: &TripletLoss, x: [&[f32]; 3], d: usize) -> TripletStats {
    let n = x[0].len() / d;
    let v = |x| Rows::dense(black_box(x), n, d).unwrap();
    loss.forward(v(x[0]), v(x[1]), v(x[2]), None).unwrap()
}
