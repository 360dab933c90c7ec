//! The crate's side of `benches/peers/mining_peers.py`: the all-pairs distances and the fused miners
//! on the embeddings the script wrote, timed the way the script times its peers (one thread), so that
//! both sides are measured in the same run.
//!
//! `cargo run --release -p triplet-simd-bench --bin mining_timing -- WORKLOAD N D DIR MIN_TIME REPEATS`
//! reads `DIR/x.f32` (N·D native-endian f32) and, for a miner, `DIR/labels.u32` (N values); writes
//! `DIR/out.f32` (the N × N matrix, or the gradient with respect to x) and prints one line:
//! `value median_s min_s max_s iters` (value: the loss, or the sum of the matrix).
//!
//! Workloads, each configured like its peer (the `TripletMiner` docs' table):
//! - `pairwise`: `sq_l2_pairwise_self`, the N × N squared distances (torch's `cdist(x, x)²`);
//! - `batch-hard`: PML `BatchHardMiner` + `TripletMarginLoss(0.2)`: Euclidean, mean over active;
//! - `batch-all`: PML `TripletMarginLoss(0.2)` with no miner: Euclidean, mean over active;
//! - `semi-hard`: TF Addons `triplet_semihard_loss(margin=0.2)`: Euclidean, mean over positive pairs.

mod timing;

use triplet_simd::{
    Distance, Miner, MiningStats, Reduction, Rows, RowsMut, Scratch, SemiHardRule, TripletMiner,
    sq_l2_pairwise_self,
};

/// The miner and loss settings of a workload's peer.
fn miner(workload: &str) -> TripletMiner {
    let (m, reduction) = match workload {
        "batch-hard" => (Miner::BatchHard, Reduction::MeanActive),
        "batch-all" => (Miner::BatchAll, Reduction::MeanActive),
        "semi-hard" => (Miner::SemiHard(SemiHardRule::TfAddons), Reduction::Mean),
        w => panic!("unknown workload {w}: pairwise, batch-hard, batch-all or semi-hard"),
    };
    TripletMiner::new(m, 0.2)
        .distance(Distance::Exact)
        .reduction(reduction)
}

/// The one call into the crate per miner step: the mined loss and its gradient, overwritten.
fn step(
    miner: &TripletMiner,
    x: &[f32],
    labels: &[u32],
    dim: usize,
    (f, u): (&mut [f32], &mut [u32]),
    grad: &mut [f32],
) -> MiningStats {
    let x = Rows::dense(x, labels.len(), dim).unwrap();
    let scratch = Scratch { f32s: f, u32s: u };
    miner.forward_backward(x, labels, scratch, grad).unwrap()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [workload, n, d, dir, min_time, repeats] = &args[..] else {
        panic!("usage: mining_timing WORKLOAD N D DIR MIN_TIME REPEATS");
    };
    let (n, d): (usize, usize) = (n.parse().unwrap(), d.parse().unwrap());
    let (min_time, repeats): (f64, usize) = (min_time.parse().unwrap(), repeats.parse().unwrap());
    let x = timing::read::<f32>(&format!("{dir}/x.f32"));
    assert_eq!(x.len(), n * d, "x.f32 holds {} values, not N·D", x.len());
    let (line, out) = if workload == "pairwise" {
        let mut out = vec![0.0f32; n * n];
        let t = timing::time(min_time, repeats, || {
            let (xr, o) = (
                Rows::dense(&x, n, d).unwrap(),
                RowsMut::dense(&mut out, n, n).unwrap(),
            );
            sq_l2_pairwise_self(xr, o).unwrap();
            out[1]
        });
        let sum: f64 = out.iter().map(|&v| f64::from(v)).sum();
        let line = format!("{sum} {} {} {} {}", t.median, t.min, t.max, t.iters);
        (line, out)
    } else {
        let labels = timing::read::<u32>(&format!("{dir}/labels.u32"));
        assert_eq!(
            labels.len(),
            n,
            "labels.u32 holds {} values, not N",
            labels.len()
        );
        let miner = miner(workload);
        let need = miner.scratch_len(n, 0).unwrap();
        let (mut f, mut u) = (vec![0.0f32; need.f32s], vec![0u32; need.u32s]);
        let mut grad = vec![0.0f32; n * d];
        let t = timing::time(min_time, repeats, || {
            step(&miner, &x, &labels, d, (&mut f, &mut u), &mut grad).loss
        });
        (t.line(), grad)
    };
    timing::write(&format!("{dir}/out.f32"), &out);
    println!("{line}");
}
