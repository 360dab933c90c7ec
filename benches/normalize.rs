//! Row L2-normalisation throughput, forward and backward: triplet-simd on every backend of this CPU
//! against the naive loops (iterator sums, one division per element), N rows in cache.
//!
//! `cargo bench --bench normalize`; ids name the backend, so two CPUs' outputs can be put side by side.

use std::hint::black_box;

mod common;
#[path = "common/naive.rs"]
mod naive;

use common::data;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use triplet_simd::{Backend, GradMode, Isa, L2_NORMALIZE_EPS, Rows, RowsMut};

const N: usize = 256;
const DIMS: [usize; 3] = [16, 128, 512];

fn forward(c: &mut Criterion) {
    let mut g = c.benchmark_group("l2_normalize_rows");
    for dim in DIMS {
        let x = data(N * dim, 1);
        let (mut y, mut norms) = (vec![0.0; N * dim], vec![0.0; N]);
        g.throughput(Throughput::Elements((N * dim) as u64));
        let id = format!("N{N}_D{dim}");
        for isa in Isa::available() {
            let be = Backend::new(isa).expect("listed as available");
            g.bench_function(BenchmarkId::new(isa.name(), &id), |b| {
                b.iter(|| {
                    be.l2_normalize_rows(
                        Rows::dense(black_box(&x), N, dim).unwrap(),
                        RowsMut::dense(&mut y, N, dim).unwrap(),
                        Some(&mut norms),
                        L2_NORMALIZE_EPS,
                    )
                    .unwrap();
                    black_box(&y);
                })
            });
        }
        g.bench_function(BenchmarkId::new("naive", &id), |b| {
            b.iter(|| {
                naive::normalize_forward(black_box(&x), &mut y, &mut norms, dim);
                black_box(&y);
            })
        });
    }
    g.finish();
}

fn backward(c: &mut Criterion) {
    let mut g = c.benchmark_group("l2_normalize_rows_backward");
    for dim in DIMS {
        let x = data(N * dim, 2);
        let dy = data(N * dim, 3);
        let (mut y, mut norms, mut dx) = (vec![0.0; N * dim], vec![0.0; N], vec![0.0; N * dim]);
        naive::normalize_forward(&x, &mut y, &mut norms, dim);
        g.throughput(Throughput::Elements((N * dim) as u64));
        let id = format!("N{N}_D{dim}");
        for isa in Isa::available() {
            let be = Backend::new(isa).expect("listed as available");
            g.bench_function(BenchmarkId::new(isa.name(), &id), |b| {
                b.iter(|| {
                    be.l2_normalize_rows_backward(
                        Rows::dense(black_box(&y), N, dim).unwrap(),
                        &norms,
                        Rows::dense(black_box(&dy), N, dim).unwrap(),
                        RowsMut::dense(&mut dx, N, dim).unwrap(),
                        L2_NORMALIZE_EPS,
                        GradMode::Overwrite,
                    )
                    .unwrap();
                    black_box(&dx);
                })
            });
        }
        g.bench_function(BenchmarkId::new("naive", &id), |b| {
            b.iter(|| {
                naive::normalize_backward(black_box(&y), &norms, black_box(&dy), &mut dx, dim);
                black_box(&dx);
            })
        });
    }
    g.finish();
}

criterion_group!(benches, forward, backward);
criterion_main!(benches);
