//! Triplet loss forward + backward (squared distance, `Sum`, about half of the triplets active, one
//! thread) against a naive Rust loop in the same run, and every size against the bandwidth of
//! `copy_from_slice` over as many bytes as the loss reads and writes.
//!
//! `cargo bench --bench triplet`. PyTorch and JAX are measured by `benches/peers/triplet_peers.py`;
//! the paired ratios (against the naive loop, a copy and an ordinary-store stream) by `--bench compare`.

use std::hint::black_box;

mod common;
#[path = "common/fused.rs"]
mod fused;
#[path = "common/naive.rs"]
mod naive;

use common::data;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use fused::fused;
use triplet_simd::{Backend, Isa, Reduction, TripletLoss};

/// The benched sizes, N triplets × D: in L2/L3, in L3, out of cache.
const SIZES: [(usize, usize); 3] = [(1024, 128), (4096, 256), (65_536, 256)];

/// Criterion samples per benchmark: fewer for the out-of-cache size (tens of ms a call).
fn samples(n: usize) -> usize {
    if n >= 65_536 { 10 } else { 30 }
}

/// The anchor, positive and negative rows of one size, and three gradient buffers.
fn buffers(n: usize, d: usize) -> ([Vec<f32>; 3], [Vec<f32>; 3]) {
    let len = n * d;
    (
        [data(len, 1), data(len, 2), data(len, 3)],
        [vec![0.0; len], vec![0.0; len], vec![0.0; len]],
    )
}

fn triplet(c: &mut Criterion) {
    let mut g = c.benchmark_group("triplet_fwd_bwd");
    for (n, d) in SIZES {
        g.sample_size(samples(n));
        let ([a, p, neg], [mut ga, mut gp, mut gn]) = buffers(n, d);
        let id = format!("N{n}_D{d}");
        g.throughput(Throughput::Elements(n as u64));
        let mut backends: Vec<(String, Backend)> = vec![("default".into(), Backend::detect())];
        if n == 1024 {
            backends
                .extend(Isa::available().map(|i| (i.name().to_string(), Backend::new(i).unwrap())));
        }
        for (name, be) in backends {
            let loss = TripletLoss::new(0.0).reduction(Reduction::Sum).backend(be);
            g.bench_function(BenchmarkId::new(name, &id), |b| {
                b.iter(|| black_box(fused(&loss, [&a, &p, &neg], [&mut ga, &mut gp, &mut gn], d)))
            });
        }
        g.bench_function(BenchmarkId::new("naive", &id), |b| {
            b.iter(|| {
                naive::triplet(
                    [black_box(&a), black_box(&p), black_box(&neg)],
                    [&mut ga, &mut gp, &mut gn],
                    d,
                    0.0,
                )
            })
        });
    }
    g.finish();

    // Bytes moved: 3·N·D floats read, 3·N·D written. `copy_from_slice` over the same bytes (three
    // input buffers into three output buffers) bounds what any fused loss + gradient can reach, at every
    // size: in L2/L3 as well as out of cache.
    let mut g = c.benchmark_group("triplet_bandwidth");
    for (n, d) in SIZES {
        g.sample_size(samples(n));
        g.throughput(Throughput::Bytes((2 * 3 * n * d * 4) as u64));
        let ([a, p, neg], [mut ga, mut gp, mut gn]) = buffers(n, d);
        let id = format!("N{n}_D{d}");
        let loss = TripletLoss::new(0.0).reduction(Reduction::Sum);
        g.bench_function(BenchmarkId::new("triplet_default", &id), |b| {
            b.iter(|| fused(&loss, [&a, &p, &neg], [&mut ga, &mut gp, &mut gn], d))
        });
        g.bench_function(BenchmarkId::new("copy_from_slice", &id), |b| {
            b.iter(|| {
                ga.copy_from_slice(black_box(&a));
                gp.copy_from_slice(black_box(&p));
                gn.copy_from_slice(black_box(&neg));
            })
        });
    }
    g.finish();
}

criterion_group!(benches, triplet);
criterion_main!(benches);
