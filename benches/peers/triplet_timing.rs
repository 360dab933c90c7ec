//! The crate's side of `benches/peers/triplet_peers.py`: the peers' workload (squared distance, hinge,
//! margin 0, `Sum`, loss and the three gradients, one thread) on the data the script wrote, timed the
//! way the script times its peers, so that both sides are measured in the same run.
//!
//! `cargo run --release -p triplet-simd-bench --bin triplet_timing -- N D DIR MIN_TIME REPEATS`: reads `DIR/{a,p,n}.f32`
//! (N·D native-endian f32 each), writes the gradients to `DIR/{ga,gp,gn}.f32` and prints one line:
//! `loss median_s min_s max_s iters`.

use std::hint::black_box;
use std::time::Instant;

#[path = "../common/fused.rs"]
mod fused;

use triplet_simd::{Reduction, TripletLoss};

fn read(path: &str) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn write(path: &str, x: &[f32]) {
    let bytes: Vec<u8> = x.iter().flat_map(|v| v.to_ne_bytes()).collect();
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("{path}: {e}"));
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [n, d, dir, min_time, repeats] = &args[..] else {
        panic!("usage: triplet_timing N D DIR MIN_TIME REPEATS");
    };
    let (n, d): (usize, usize) = (n.parse().unwrap(), d.parse().unwrap());
    let (min_time, repeats): (f64, usize) = (min_time.parse().unwrap(), repeats.parse().unwrap());
    let [a, p, neg] = ["a", "p", "n"].map(|k| read(&format!("{dir}/{k}.f32")));
    let (mut ga, mut gp, mut gn) = (vec![0.0; n * d], vec![0.0; n * d], vec![0.0; n * d]);
    let loss = TripletLoss::new(0.0).reduction(Reduction::Sum);
    let mut call = || fused::fused(&loss, [&a, &p, &neg], [&mut ga, &mut gp, &mut gn], d).loss;
    // The script's protocol: two warm-up calls, grow the iteration count until one repeat takes at
    // least `min_time`, then `repeats` repeats in all; report the median, min and max per call.
    let value = call();
    call();
    let mut iters = 1usize;
    let mut times = Vec::new();
    loop {
        let t = Instant::now();
        for _ in 0..iters {
            black_box(call());
        }
        let dt = t.elapsed().as_secs_f64();
        if dt >= min_time {
            times.push(dt / iters as f64);
            break;
        }
        iters = (iters * 2).max((iters as f64 * min_time / dt.max(1e-9) * 1.2) as usize + 1);
    }
    for _ in 1..repeats {
        let t = Instant::now();
        for _ in 0..iters {
            black_box(call());
        }
        times.push(t.elapsed().as_secs_f64() / iters as f64);
    }
    times.sort_by(f64::total_cmp);
    let median = if times.len() % 2 == 1 {
        times[times.len() / 2]
    } else {
        (times[times.len() / 2 - 1] + times[times.len() / 2]) / 2.0
    };
    for (k, g) in [("ga", &ga), ("gp", &gp), ("gn", &gn)] {
        write(&format!("{dir}/{k}.f32"), g);
    }
    println!(
        "{value} {median} {} {} {iters}",
        times[0],
        times[times.len() - 1]
    );
}
