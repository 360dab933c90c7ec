//! The crate's side of `benches/peers/triplet_peers.py`: the peers' workload (squared distance, hinge,
//! margin 0, `Sum`, loss and the three gradients, one thread) on the data the script wrote, timed the
//! way the script times its peers, so that both sides are measured in the same run.
//!
//! `cargo run --release -p triplet-simd-bench --bin triplet_timing -- N D DIR MIN_TIME REPEATS`: reads `DIR/{a,p,n}.f32`
//! (N·D native-endian f32 each), writes the gradients to `DIR/{ga,gp,gn}.f32` and prints one line:
//! `loss median_s min_s max_s iters`.

#[path = "../common/fused.rs"]
mod fused;
mod timing;

use triplet_simd::{Reduction, TripletLoss};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [n, d, dir, min_time, repeats] = &args[..] else {
        panic!("usage: triplet_timing N D DIR MIN_TIME REPEATS");
    };
    let (n, d): (usize, usize) = (n.parse().unwrap(), d.parse().unwrap());
    let (min_time, repeats): (f64, usize) = (min_time.parse().unwrap(), repeats.parse().unwrap());
    let [a, p, neg] = ["a", "p", "n"].map(|k| timing::read::<f32>(&format!("{dir}/{k}.f32")));
    let (mut ga, mut gp, mut gn) = (vec![0.0; n * d], vec![0.0; n * d], vec![0.0; n * d]);
    let loss = TripletLoss::new(0.0).reduction(Reduction::Sum);
    let t = timing::time(min_time, repeats, || {
        fused::fused(&loss, [&a, &p, &neg], [&mut ga, &mut gp, &mut gn], d).loss
    });
    for (k, g) in [("ga", &ga), ("gp", &gp), ("gn", &gn)] {
        timing::write(&format!("{dir}/{k}.f32"), g);
    }
    println!("{}", t.line());
}
