//! Paired, interleaved comparisons: `cargo bench --bench compare [-- FILTER…]`.
//!
//! Every workload's contenders run alternately in short rounds on the same inputs, pinned to one core,
//! and each is reported as the median of its per-round speed ratios to the workload's baseline, with a
//! 95% interval (method: `paired.rs`). Writes the table to `target/compare/<cpu>.md` and, for a full
//! run (no filter), to `benches/results/<cpu>.md` (`<cpu>-run<k>.md` with `TRIPLET_BENCH_RUN=k`), or
//! for `-- triplet-analysis` to `benches/results/analysis/`, which `cargo run -p triplet-simd-bench
//! --bin tables` merges into the README. Environment: `TRIPLET_BENCH_ROUNDS` (default 41),
//! `TRIPLET_BENCH_CORE`, `TRIPLET_BENCH_RUN`.
//!
//! To add a workload: write a function like the ones below (inputs, then `b.workload(..)`, its
//! baselines and contenders, `.run()`) and list it in [`GROUPS`].

use std::cell::RefCell;
use std::hint::black_box;

mod common;
#[path = "common/fused.rs"]
mod fused;
#[path = "common/naive.rs"]
mod naive;
mod paired;

use common::data;
use paired::{Bench, Machine, Unit};
use simsimd::SpatialSimilarity;
use triplet_simd::{
    Backend, Distance, GradMode, Isa, Miner, Reduction, Rows, RowsMut, Scratch, SemiHardRule,
    TripletLoss, TripletMiner,
};

/// A function that sets up and runs some workloads.
type Group = fn(&mut Bench);

/// The workload groups, in the order they run.
const GROUPS: &[Group] = &[
    sq_l2_pair,
    sq_l2_rows,
    sq_l2_one_to_many,
    triplet,
    normalize,
    pairwise,
    mining,
];

/// Groups that run only when a filter names them (`cargo bench --bench compare -- triplet-analysis`):
/// experiments that explain a figure, kept out of the README's table.
const ANALYSIS: &[(&str, Group)] = &[("triplet-analysis", triplet_analysis)];

/// `n` values starting on a 64-byte boundary (as a framework's tensor storage does), inside `buf`.
fn aligned(buf: &mut Vec<f32>, n: usize, seed: u32) -> &[f32] {
    *buf = vec![0.0; n + 16];
    let off = (buf.as_ptr() as usize / 4).wrapping_neg() % 16;
    buf[off..off + n].copy_from_slice(&data(n, seed));
    &buf[off..off + n]
}

/// A wrapping sum of the bytes as `u64`s: the read bandwidth bound of a kernel that reads them once.
fn u64_sum(x: &[f32], s: u64) -> u64 {
    let x: &[u64] = bytemuck::cast_slice(x);
    x.iter().fold(s, |s, &v| s.wrapping_add(v))
}

/// One pair of rows in L1 (both 64-byte aligned), against simsimd's f32 `sqeuclidean`.
fn sq_l2_pair(b: &mut Bench) {
    for d in [16usize, 128, 768, 4096] {
        let size = format!("D = {d}");
        if !b.wants(&format!("sq_l2 {size}")) {
            continue;
        }
        let (mut abuf, mut bbuf) = (Vec::new(), Vec::new());
        let (x, y) = (aligned(&mut abuf, d, 1), aligned(&mut bbuf, d, 2));
        let mut w = b.workload("sq_l2", size, Unit::Elements(d as u64));
        w.baseline("simsimd", || {
            f32::sqeuclidean(black_box(x), black_box(y)).unwrap()
        });
        w.contender("default", || {
            triplet_simd::sq_l2(black_box(x), black_box(y)).unwrap()
        });
        let held = Backend::detect();
        w.contender("Backend held", move || {
            held.sq_l2(black_box(x), black_box(y)).unwrap()
        });
        for isa in Isa::available() {
            let be = Backend::new(isa).expect("listed as available");
            w.contender(isa.name(), move || {
                be.sq_l2(black_box(x), black_box(y)).unwrap()
            });
        }
        w.contender("naive", || naive::sq_l2(black_box(x), black_box(y)));
        w.run();
    }
}

/// Rows out of cache.
const ROWS: (usize, usize) = (65_536, 256);

/// `sq_l2_rows` over two 64 MiB views, against a u64 sum over the same bytes.
fn sq_l2_rows(b: &mut Bench) {
    let (n, d) = ROWS;
    let size = format!("N = {n}, D = {d}");
    if !b.wants(&format!("sq_l2_rows {size}")) {
        return;
    }
    let (x, y) = (data(n * d, 3), data(n * d, 4));
    let mut out = vec![0.0f32; n];
    let mut w = b.workload("sq_l2_rows", size, Unit::Bytes((2 * n * d * 4) as u64));
    w.baseline("u64 sum", || {
        u64_sum(black_box(&y), u64_sum(black_box(&x), 0))
    });
    w.contender("default", || {
        let (va, vb) = (
            Rows::dense(&x, n, d).unwrap(),
            Rows::dense(&y, n, d).unwrap(),
        );
        triplet_simd::sq_l2_rows(black_box(va), black_box(vb), &mut out).unwrap();
        black_box(out[0])
    });
    w.run();
}

/// `sq_l2_one_to_many` of one query against 64 MiB of rows, against a u64 sum over the rows.
fn sq_l2_one_to_many(b: &mut Bench) {
    let (n, d) = ROWS;
    let size = format!("N = {n}, D = {d}");
    if !b.wants(&format!("sq_l2_one_to_many {size}")) {
        return;
    }
    let (q, x) = (data(d, 5), data(n * d, 6));
    let mut out = vec![0.0f32; n];
    let mut w = b.workload("sq_l2_one_to_many", size, Unit::Bytes((n * d * 4) as u64));
    w.baseline("u64 sum", || u64_sum(black_box(&x), 0));
    w.contender("default", || {
        let rows = Rows::dense(&x, n, d).unwrap();
        triplet_simd::sq_l2_one_to_many(black_box(&q), black_box(rows), &mut out).unwrap();
        black_box(out[0])
    });
    w.run();
}

/// `out[i] = 2·in[i]` for three inputs into three outputs, one buffer after another, with the CPU's
/// widest vectors and ordinary stores: the write bound of a safe kernel (unlike `copy_from_slice`,
/// which may become `rep movsb`, whose large copies can skip the read-for-ownership of the stores).
struct Double<'a> {
    x: [&'a [f32]; 3],
    y: [&'a mut [f32]; 3],
}

impl pulp::WithSimd for Double<'_> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) {
        let two = simd.splat_f32s(2.0);
        for (x, y) in self.x.into_iter().zip(self.y) {
            let (xv, xt) = S::as_simd_f32s(x);
            let (yv, yt) = S::as_mut_simd_f32s(y);
            for (o, i) in yv.iter_mut().zip(xv) {
                *o = simd.mul_f32s(two, *i);
            }
            for (o, i) in yt.iter_mut().zip(xt) {
                *o = 2.0 * i;
            }
        }
    }
}

/// The fused triplet forward + backward (squared distance, `Sum`, margin 0: about half of the triplets
/// active) against the ordinary-store stream over the same bytes (3·N·D floats read, 3·N·D written),
/// the naive loop, `copy_from_slice` and the same dense call (the interleaved contender's reference).
fn triplet(b: &mut Bench) {
    let arch = pulp::Arch::new();
    for (n, d) in [(1024usize, 128usize), (4096, 256), (65_536, 256)] {
        let size = format!("{n} × {d}");
        if !b.wants(&format!("triplet {size}")) {
            continue;
        }
        let len = n * d;
        let [xa, xp, xn] = [1, 2, 3].map(|s| data(len, s));
        let x = [&xa[..], &xp[..], &xn[..]];
        // The gradient buffers, shared by every contender (the same pages, already faulted in).
        let g = RefCell::new([vec![0.0f32; len], vec![0.0f32; len], vec![0.0f32; len]]);
        let loss = TripletLoss::new(0.0).reduction(Reduction::Sum);
        // The same triplets as one network's interleaved output `[a0 p0 n0 a1 …]`, with the gradients
        // interleaved the same way: the same bytes in one input and one output stream.
        let xi: Vec<f32> = (0..n)
            .flat_map(|i| x.iter().flat_map(move |m| &m[i * d..(i + 1) * d]))
            .copied()
            .collect();
        let gi = RefCell::new(vec![0.0f32; 3 * len]);
        let xd = x.map(|m| m.to_vec());
        let gd = RefCell::new([0; 3].map(|_| vec![0.0f32; len]));
        let mut w = b.workload("triplet", size, Unit::Bytes((6 * len * 4) as u64));
        w.baseline("stream", || {
            let mut g = g.borrow_mut();
            let [ga, gp, gn] = &mut *g;
            arch.dispatch(Double {
                x: x.map(black_box),
                y: [ga, gp, gn],
            })
        });
        w.baseline("naive", || {
            let mut g = g.borrow_mut();
            let [ga, gp, gn] = &mut *g;
            naive::triplet(x.map(black_box), [ga, gp, gn], d, 0.0)
        });
        w.baseline("copy_from_slice", || {
            let mut g = g.borrow_mut();
            let [ga, gp, gn] = &mut *g;
            ga.copy_from_slice(black_box(x[0]));
            gp.copy_from_slice(black_box(x[1]));
            gn.copy_from_slice(black_box(x[2]));
        });
        // The same call as `default`, as a baseline: `interleaved` against it is the price of the
        // layout, paired (and `default` against it, about 1, is the noise of the rounds). It has
        // buffers of its own, as `interleaved` has, so that neither finds more of its bytes left in
        // the last-level cache by the other contenders (at 4096 × 256 one contender's 24 MiB fit in
        // it, two do not).
        w.baseline("dense call", || {
            let mut g = gd.borrow_mut();
            let [ga, gp, gn] = &mut *g;
            fused::fused(&loss, [&xd[0], &xd[1], &xd[2]], [ga, gp, gn], d).loss
        });
        w.contender("default", || {
            let mut g = g.borrow_mut();
            let [ga, gp, gn] = &mut *g;
            fused::fused(&loss, x, [ga, gp, gn], d).loss
        });
        w.contender("interleaved", || {
            fused::fused_interleaved(&loss, &xi, &mut gi.borrow_mut(), d).loss
        });
        w.run();
    }
}

/// A plain fused loop, for comparison with the crate's kernel: per triplet, both distances with four
/// accumulators each (not the crate's order: not bit-identical, and not meant to be), then the three
/// gradient rows of the hinge (or zeros), no pipelining, no per-triplet bookkeeping beyond the loss.
/// Rows of a whole number of vectors only (the analysis sizes).
struct PlainFused<'a> {
    x: [&'a [f32]; 3],
    g: [&'a mut [f32]; 3],
    d: usize,
}

/// `(s0 + s1) + (s2 + s3)`, then across lanes (a function, not a closure: closures do not get the
/// backend's target features).
#[inline(always)]
fn sum4<S: pulp::Simd>(simd: S, s: [S::f32s; 4]) -> f32 {
    simd.reduce_sum_f32s(simd.add_f32s(simd.add_f32s(s[0], s[1]), simd.add_f32s(s[2], s[3])))
}

impl pulp::WithSimd for PlainFused<'_> {
    type Output = f32;
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) -> f32 {
        let PlainFused {
            x,
            g: [ga, gp, gn],
            d,
        } = self;
        let two = simd.splat_f32s(2.0);
        let mut loss = 0.0;
        for ((((a, p), n), ga), (gp, gn)) in x[0]
            .chunks_exact(d)
            .zip(x[1].chunks_exact(d))
            .zip(x[2].chunks_exact(d))
            .zip(ga.chunks_exact_mut(d))
            .zip(gp.chunks_exact_mut(d).zip(gn.chunks_exact_mut(d)))
        {
            let (av, pv, nv) = (
                S::as_simd_f32s(a).0,
                S::as_simd_f32s(p).0,
                S::as_simd_f32s(n).0,
            );
            let z = simd.splat_f32s(0.0);
            let (mut sp, mut sn) = ([z; 4], [z; 4]);
            for k in 0..av.len() {
                let dp = simd.sub_f32s(av[k], pv[k]);
                let dn = simd.sub_f32s(av[k], nv[k]);
                sp[k % 4] = simd.mul_add_f32s(dp, dp, sp[k % 4]);
                sn[k % 4] = simd.mul_add_f32s(dn, dn, sn[k % 4]);
            }
            let v = sum4(simd, sp) - sum4(simd, sn);
            if v > 0.0 {
                loss += v;
                for (o, k) in S::as_mut_simd_f32s(ga).0.iter_mut().zip(0..) {
                    *o = simd.mul_f32s(two, simd.sub_f32s(nv[k], pv[k]));
                }
                for (o, k) in S::as_mut_simd_f32s(gp).0.iter_mut().zip(0..) {
                    *o = simd.mul_f32s(two, simd.sub_f32s(pv[k], av[k]));
                }
                for (o, k) in S::as_mut_simd_f32s(gn).0.iter_mut().zip(0..) {
                    *o = simd.mul_f32s(two, simd.sub_f32s(av[k], nv[k]));
                }
            } else {
                for o in [&mut *ga, &mut *gp, &mut *gn] {
                    for v in S::as_mut_simd_f32s(o).0 {
                        *v = z;
                    }
                }
            }
        }
        loss
    }
}

/// A copy of `x` in 2 MiB-aligned memory that Linux is asked to back with transparent huge pages
/// (`madvise(MADV_HUGEPAGE)`, before the pages are touched): what a caller can do for its buffers when
/// the system's THP mode is `madvise`. Returns the allocation and the copy's range in it.
fn huge_copy(x: &[f32]) -> (Vec<f32>, std::ops::Range<usize>) {
    const HUGE: usize = 2 << 20;
    // Zeroed by calloc: fresh pages, not yet touched.
    // Whole huge pages: the copy's length rounded up to 2 MiB, plus 2 MiB for the alignment.
    let span = (x.len() * 4).div_ceil(HUGE) * HUGE;
    let v = vec![0.0f32; (span + HUGE) / 4];
    let off = (v.as_ptr() as usize).wrapping_neg() % HUGE / 4;
    #[cfg(target_os = "linux")]
    {
        let start = v.as_ptr() as usize + off * 4;
        // SAFETY: [start, start + span) lies inside the allocation `v` owns, and MADV_HUGEPAGE only
        // changes how the kernel backs those pages, never their contents; the call reads and writes no
        // memory.
        let _ = unsafe { libc::madvise(start as *mut libc::c_void, span, libc::MADV_HUGEPAGE) };
    }
    let mut v = v;
    v[off..off + x.len()].copy_from_slice(x);
    (v, off..off + x.len())
}

/// The kernel's transparent huge pages in use (`AnonHugePages` of /proc/meminfo).
fn anon_huge() -> String {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("AnonHugePages"))
                .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        })
        .unwrap_or_else(|| "?".into())
}

/// What holds the fused triplet call back: the same bytes moved in other patterns, the loss without its
/// gradients, and the call with every triplet active or none (no branch to mispredict). The extra size
/// 64 × 128 (192 KiB in all: L2) shows the kernel's speed when memory is not in the way: if it is no
/// faster there than at 1024 × 128, the small size is bound by the core, not by the caches.
fn triplet_analysis(b: &mut Bench) {
    let arch = pulp::Arch::new();
    for (n, d) in [(64usize, 128usize), (1024, 128), (4096, 256), (65_536, 256)] {
        let size = format!("{n} × {d}");
        let len = n * d;
        let [xa, xp, xn] = [1, 2, 3].map(|s| data(len, s));
        let x = [&xa[..], &xp[..], &xn[..]];
        let g = RefCell::new([vec![0.0f32; len], vec![0.0f32; len], vec![0.0f32; len]]);
        let half = TripletLoss::new(0.0).reduction(Reduction::Sum);
        let all = TripletLoss::new(1e9).reduction(Reduction::Sum);
        let none = TripletLoss::new(-1e9).reduction(Reduction::Sum);
        // The same inputs and gradient buffers in huge pages.
        let before = anon_huge();
        let hx = x.map(huge_copy);
        let hg = RefCell::new([&xa, &xa, &xa].map(|z| huge_copy(&vec![0.0; z.len()])));
        eprintln!(
            "AnonHugePages: {before} before the huge buffers, {} after",
            anon_huge()
        );
        let hxs = [
            &hx[0].0[hx[0].1.clone()],
            &hx[1].0[hx[1].1.clone()],
            &hx[2].0[hx[2].1.clone()],
        ];
        let mut w = b.workload("triplet-analysis", size, Unit::Bytes((6 * len * 4) as u64));
        w.baseline("stream", || {
            let mut g = g.borrow_mut();
            let [ga, gp, gn] = &mut *g;
            arch.dispatch(Double {
                x: x.map(black_box),
                y: [ga, gp, gn],
            })
        });
        w.contender("stream, row by row", || {
            let mut g = g.borrow_mut();
            let [ga, gp, gn] = &mut *g;
            let x = x.map(black_box);
            for i in 0..n {
                let r = i * d..(i + 1) * d;
                arch.dispatch(Double {
                    x: x.map(|x| &x[r.clone()]),
                    y: [&mut ga[r.clone()], &mut gp[r.clone()], &mut gn[r.clone()]],
                })
            }
        });
        w.contender("read only (u64 sum)", || {
            x.iter().fold(0, |s, x| u64_sum(black_box(x), s))
        });
        w.contender("forward only", || fused::forward(&half, x, d).loss);
        w.contender("default", || {
            let mut g = g.borrow_mut();
            let [ga, gp, gn] = &mut *g;
            fused::fused(&half, x, [ga, gp, gn], d).loss
        });
        w.contender("all active", || {
            let mut g = g.borrow_mut();
            let [ga, gp, gn] = &mut *g;
            fused::fused(&all, x, [ga, gp, gn], d).loss
        });
        w.contender("none active", || {
            let mut g = g.borrow_mut();
            let [ga, gp, gn] = &mut *g;
            fused::fused(&none, x, [ga, gp, gn], d).loss
        });
        w.contender("plain fused loop", || {
            let mut g = g.borrow_mut();
            let [ga, gp, gn] = &mut *g;
            arch.dispatch(PlainFused {
                x: x.map(black_box),
                g: [ga, gp, gn],
                d,
            })
        });
        w.contender("stream, huge pages", || {
            let mut g = hg.borrow_mut();
            let [(ga, ra), (gp, rp), (gn, rn)] = &mut *g;
            arch.dispatch(Double {
                x: hxs.map(black_box),
                y: [
                    &mut ga[ra.clone()],
                    &mut gp[rp.clone()],
                    &mut gn[rn.clone()],
                ],
            })
        });
        w.contender("default, huge pages", || {
            let mut g = hg.borrow_mut();
            let [(ga, ra), (gp, rp), (gn, rn)] = &mut *g;
            let y = [
                &mut ga[ra.clone()],
                &mut gp[rp.clone()],
                &mut gn[rn.clone()],
            ];
            fused::fused(&half, hxs, y, d).loss
        });
        w.run();
    }
}

/// Row L2-normalisation, forward then backward (256 rows of 128, in L2), against the naive loops.
fn normalize(b: &mut Bench) {
    let (n, d) = (256usize, 128usize);
    let size = format!("N = {n}, D = {d}");
    if !b.wants(&format!("l2_normalize_rows + backward {size}")) {
        return;
    }
    let (x, dy) = (data(n * d, 5), data(n * d, 6));
    let out = RefCell::new((vec![0.0f32; n * d], vec![0.0f32; n], vec![0.0f32; n * d]));
    let mut w = b.workload(
        "l2_normalize_rows + backward",
        size,
        Unit::Elements((n * d) as u64),
    );
    w.baseline("naive", || {
        let (y, norms, dx) = &mut *out.borrow_mut();
        naive::normalize_forward(black_box(&x), y, norms, d);
        naive::normalize_backward(y, norms, black_box(&dy), dx, d);
        black_box(dx[0])
    });
    w.contender("default", || {
        let (y, norms, dx) = &mut *out.borrow_mut();
        let eps = triplet_simd::L2_NORMALIZE_EPS;
        let xv = Rows::dense(black_box(&x), n, d).unwrap();
        triplet_simd::l2_normalize_rows(xv, RowsMut::dense(y, n, d).unwrap(), Some(norms), eps)
            .unwrap();
        let (yv, gv) = (
            Rows::dense(y, n, d).unwrap(),
            Rows::dense(black_box(&dy), n, d).unwrap(),
        );
        let dxv = RowsMut::dense(dx, n, d).unwrap();
        triplet_simd::l2_normalize_rows_backward(yv, norms, gv, dxv, eps, GradMode::Overwrite)
            .unwrap();
        black_box(dx[0])
    });
    w.run();
}

/// All-pairs squared distances d(X, X), N = 1024, D = 128 (one triangle, mirrored), against N(N−1)/2
/// calls of `sq_l2` with a backend held outside the loop (the same bits per entry).
fn pairwise(b: &mut Bench) {
    let (n, d) = (1024usize, 128usize);
    let size = format!("N = {n}, D = {d}");
    if !b.wants(&format!("sq_l2_pairwise_self {size}")) {
        return;
    }
    let x = data(n * d, 7);
    let out = RefCell::new(vec![0.0f32; n * n]);
    let pairs = (n * (n - 1) / 2) as u64;
    let mut w = b.workload(
        "sq_l2_pairwise_self",
        size,
        Unit::Elements(pairs * d as u64),
    );
    let held = Backend::detect();
    w.baseline("sq_l2 loop", || {
        let o = &mut *out.borrow_mut();
        for i in 0..n {
            for j in 0..i {
                let v = held
                    .sq_l2(&x[i * d..(i + 1) * d], &x[j * d..(j + 1) * d])
                    .unwrap();
                o[i * n + j] = v;
                o[j * n + i] = v;
            }
        }
        black_box(o[1])
    });
    w.contender("default", || pairwise_fill(&x, d, &mut out.borrow_mut()));
    w.run();
}

/// `sq_l2_pairwise_self` of the rows of `x` (rows of `d`) into `out` (N × N); returns one entry.
fn pairwise_fill(x: &[f32], d: usize, out: &mut [f32]) -> f32 {
    let n = x.len() / d;
    let xv = Rows::dense(black_box(x), n, d).unwrap();
    triplet_simd::sq_l2_pairwise_self(xv, RowsMut::dense(out, n, n).unwrap()).unwrap();
    black_box(out[1])
}

/// The fused miners (loss + gradient) against the all-pairs fill of their distance matrix, the part
/// every miner pays: how much each miner's selection and gradient cost beyond the distances. N = 256
/// rows in classes of 4, D = 128, margin 0.2, Euclidean, mean over active (TF semi-hard: the mean over
/// positive pairs), as in the peer script.
fn mining(b: &mut Bench) {
    let (n, d) = (256usize, 128usize);
    let size = format!("N = {n}, D = {d}");
    if !b.wants(&format!("mining {size}")) {
        return;
    }
    let x = data(n * d, 8);
    let labels: Vec<u32> = (0..n as u32).map(|i| i / 4).collect();
    let out = RefCell::new(vec![0.0f32; n * n]);
    let mut w = b.workload("mining", size, Unit::Elements((n * n) as u64));
    w.baseline("sq_l2_pairwise_self", || {
        pairwise_fill(&x, d, &mut out.borrow_mut())
    });
    let miners = [
        ("batch-hard", Miner::BatchHard, Reduction::MeanActive),
        ("batch-all", Miner::BatchAll, Reduction::MeanActive),
        (
            "semi-hard (TF)",
            Miner::SemiHard(SemiHardRule::TfAddons),
            Reduction::Mean,
        ),
    ];
    for (name, m, reduction) in miners {
        let miner = TripletMiner::new(m, 0.2)
            .distance(Distance::Exact)
            .reduction(reduction);
        let need = miner.scratch_len(n, 0).unwrap();
        let scratch = RefCell::new((vec![0.0f32; need.f32s], vec![0u32; need.u32s]));
        let grad = RefCell::new(vec![0.0f32; n * d]);
        let (x, labels) = (&x, &labels);
        w.contender(name, move || {
            let (f, u) = &mut *scratch.borrow_mut();
            let s = Scratch { f32s: f, u32s: u };
            let xv = Rows::dense(black_box(x), n, d).unwrap();
            miner
                .forward_backward(xv, labels, s, &mut grad.borrow_mut())
                .unwrap()
                .loss
        });
    }
    w.run();
}

fn main() {
    // The machine first: the core count before pinning.
    let m = Machine::here();
    let mut b = Bench::from_env();
    eprintln!(
        "{} ({} cores, backend {}), pinned: {:?}, {} rounds, load average {}",
        m.cpu, m.cores, m.backend, b.core, b.rounds, m.load
    );
    println!("{}", paired::TABLE_HEADER);
    for group in GROUPS {
        group(&mut b);
    }
    for (name, group) in ANALYSIS {
        if b.filters.iter().any(|f| f.contains(name)) {
            group(&mut b);
        }
    }
    let text = paired::results_markdown(&m, &b);
    let exe = std::env::current_exe().expect("the bench's own path");
    // target/<profile>/deps/compare-<hash>: three levels up is the target folder.
    let target = exe
        .ancestors()
        .nth(3)
        .expect("a target folder")
        .join("compare");
    // A full run goes to `benches/results/<cpu>[-run<k>].md` (`TRIPLET_BENCH_RUN=k` names repeated
    // runs, each a column of the README's table); a run of exactly the analysis groups goes to
    // `benches/results/analysis/`; any other filtered run only to `target/compare/<cpu>-partial.md`.
    let run = std::env::var("TRIPLET_BENCH_RUN")
        .map(|k| format!("-run{k}"))
        .unwrap_or_default();
    let analysis_only = !b.filters.is_empty()
        && b.filters
            .iter()
            .all(|f| ANALYSIS.iter().any(|(name, _)| f == name));
    let partial = if b.filters.is_empty() { "" } else { "-partial" };
    let mut outs = vec![target.join(format!("{}{partial}.md", m.slug))];
    let results = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("results");
    if b.filters.is_empty() {
        outs.push(results.join(format!("{}{run}.md", m.slug)));
    } else if analysis_only {
        outs.push(results.join("analysis").join(format!("{}{run}.md", m.slug)));
    }
    for path in outs {
        std::fs::create_dir_all(path.parent().unwrap()).expect("create the output folder");
        std::fs::write(&path, &text).expect("write the table");
        eprintln!("wrote {}", path.display());
    }
}
