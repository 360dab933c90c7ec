//! Distance throughput: triplet-simd on every backend of this CPU against simsimd's f32 sqeuclidean and a
//! naive iterator loop (one pair of rows in cache), and batched rows out of cache against the read
//! bandwidth of a wrapping u64 sum over the same bytes, all in one run.
//!
//! `cargo bench --bench distance`; ids name the backend, so two CPUs' outputs can be put side by side.

use std::hint::black_box;

mod common;
#[path = "common/naive.rs"]
mod naive;

use common::data;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use simsimd::SpatialSimilarity;
use triplet_simd::{Backend, Isa, Rows};

/// `n` values starting on a 64-byte boundary (like a framework's tensor storage), inside `buf`.
fn aligned(buf: &mut Vec<f32>, n: usize, seed: u32) -> &[f32] {
    *buf = vec![0.0; n + 16];
    let off = (buf.as_ptr() as usize / 4).wrapping_neg() % 16;
    buf[off..off + n].copy_from_slice(&data(n, seed));
    &buf[off..off + n]
}

fn pair(c: &mut Criterion) {
    let mut g = c.benchmark_group("sq_l2_pair");
    let (mut abuf, mut bbuf) = (Vec::new(), Vec::new());
    for dim in [16usize, 128, 768, 4096] {
        // Both rows 64-byte aligned, for every contender alike.
        let (a, b) = (aligned(&mut abuf, dim, 1), aligned(&mut bbuf, dim, 2));
        g.throughput(Throughput::Elements(dim as u64));
        g.bench_with_input(BenchmarkId::new("default", dim), &dim, |bch, _| {
            bch.iter(|| triplet_simd::sq_l2(black_box(a), black_box(b)).unwrap())
        });
        for isa in Isa::available() {
            let be = Backend::new(isa).expect("listed as available");
            g.bench_with_input(BenchmarkId::new(isa.name(), dim), &dim, |bch, _| {
                bch.iter(|| be.sq_l2(black_box(a), black_box(b)).unwrap())
            });
        }
        g.bench_with_input(BenchmarkId::new("simsimd", dim), &dim, |bch, _| {
            bch.iter(|| f32::sqeuclidean(black_box(a), black_box(b)).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("naive", dim), &dim, |bch, _| {
            bch.iter(|| naive::sq_l2(black_box(a), black_box(b)))
        });
    }
    g.finish();
}

fn rows_out_of_cache(c: &mut Criterion) {
    let (n, dim) = (65_536usize, 256usize);
    let (a, b) = (data(n * dim, 3), data(n * dim, 4));
    let mut out = vec![0.0f32; n];
    let mut g = c.benchmark_group("sq_l2_rows_out_of_cache");
    g.sample_size(20);
    g.throughput(Throughput::Bytes((2 * n * dim * 4) as u64));
    let id = format!("N{n}_D{dim}");
    g.bench_function(BenchmarkId::new("default", &id), |bch| {
        bch.iter(|| {
            let (va, vb) = (
                Rows::dense(&a, n, dim).unwrap(),
                Rows::dense(&b, n, dim).unwrap(),
            );
            triplet_simd::sq_l2_rows(va, vb, &mut out).unwrap();
            black_box(&out);
        })
    });
    let (ua, ub): (&[u64], &[u64]) = (bytemuck::cast_slice(&a), bytemuck::cast_slice(&b));
    g.bench_function(BenchmarkId::new("u64_wrapping_sum", &id), |bch| {
        bch.iter(|| {
            let s = black_box(ua).iter().fold(0u64, |s, &x| s.wrapping_add(x));
            black_box(ub).iter().fold(s, |s, &x| s.wrapping_add(x))
        })
    });
    g.finish();
}

criterion_group!(benches, pair, rows_out_of_cache);
criterion_main!(benches);
