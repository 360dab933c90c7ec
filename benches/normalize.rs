//! Row L2-normalisation throughput, forward and backward: triplet-simd on every backend of this CPU
//! against the naive loops (iterator sums, one division per element), N rows in cache.
//!
//! `cargo bench --bench normalize`; ids name the backend, so two CPUs' outputs can be put side by side.

use std::hint::black_box;

mod common;

use common::data;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use triplet_simd::{Backend, GradMode, Isa, L2_NORMALIZE_EPS, Rows, RowsMut};

const N: usize = 256;
const DIMS: [usize; 3] = [16, 128, 512];

fn naive_forward(x: &[f32], y: &mut [f32], norms: &mut [f32], dim: usize) {
    for ((xr, yr), n) in x.chunks_exact(dim).zip(y.chunks_exact_mut(dim)).zip(norms) {
        *n = xr.iter().map(|v| v * v).sum::<f32>().sqrt();
        let c = n.max(L2_NORMALIZE_EPS);
        for (o, v) in yr.iter_mut().zip(xr) {
            *o = v / c;
        }
    }
}

fn naive_backward(y: &[f32], norms: &[f32], dy: &[f32], dx: &mut [f32], dim: usize) {
    let rows = y.chunks_exact(dim).zip(dy.chunks_exact(dim));
    for (((yr, gr), o), &n) in rows.zip(dx.chunks_exact_mut(dim)).zip(norms) {
        if n <= L2_NORMALIZE_EPS {
            for (o, g) in o.iter_mut().zip(gr) {
                *o = g / L2_NORMALIZE_EPS;
            }
            continue;
        }
        let t: f32 = yr.iter().zip(gr).map(|(a, b)| a * b).sum();
        for ((o, a), g) in o.iter_mut().zip(yr).zip(gr) {
            *o = (g - a * t) / n;
        }
    }
}

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
                naive_forward(black_box(&x), &mut y, &mut norms, dim);
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
        naive_forward(&x, &mut y, &mut norms, dim);
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
                naive_backward(black_box(&y), &norms, black_box(&dy), &mut dx, dim);
                black_box(&dx);
            })
        });
    }
    g.finish();
}

criterion_group!(benches, forward, backward);
criterion_main!(benches);
