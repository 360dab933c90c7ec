//! The triplet loss: exact agreement of every backend (hinge decisions included), central finite
//! differences of the f64 oracle, PyTorch fixtures, the interleaved and index layouts, and edge cases.

mod common;

use common::{Block, TripletExt, Values, backends, gen_dim, gen_value, same, same_all};
use quickcheck::{Arbitrary, Gen, QuickCheck};
use triplet_simd::{
    Backend, Distance, Error, GradMode, Reduction, Rows, RowsMut, TripletDiagnostics, TripletGrads,
    TripletLoss, TripletStats, Triplets, Upstream, reference,
};

const REDUCTIONS: [Reduction; 4] = [
    Reduction::None,
    Reduction::Sum,
    Reduction::Mean,
    Reduction::MeanActive,
];

fn distances() -> [Distance; 4] {
    [
        Distance::SqL2,
        Distance::EpsOnDiff(1e-6),
        Distance::EpsInSqrt(1e-12),
        Distance::Exact,
    ]
}

#[derive(Clone, Debug)]
struct Case {
    a: Block,
    p: Block,
    n: Block,
    upstream: Vec<f32>,
    margin: f32,
    distance: Distance,
    swap: bool,
    soft: bool,
    reduction: Reduction,
    mode: GradMode,
    per_item: bool,
}

impl Arbitrary for Case {
    fn arbitrary(g: &mut Gen) -> Self {
        let dim = gen_dim(g).min(200);
        let rows = usize::arbitrary(g) % 9;
        let vals = *g
            .choose(&[Values::Unit, Values::Unit, Values::Special, Values::Wide])
            .unwrap();
        let reduction = *g.choose(&REDUCTIONS).unwrap();
        let a = Block::random(g, rows, dim, vals);
        let mut p = Block::random(g, rows, dim, vals);
        // Now and then a positive equal to its anchor (distance 0, swap ties).
        if rows > 0 && u8::arbitrary(g) % 5 == 0 {
            let r = usize::arbitrary(g) % rows;
            let (sa, sp) = (a.offset + r * a.stride, p.offset + r * p.stride);
            p.buf[sp..sp + dim].copy_from_slice(&a.buf[sa..sa + dim]);
        }
        Case {
            a,
            p,
            n: Block::random(g, rows, dim, vals),
            upstream: (0..rows).map(|_| gen_value(g, Values::Unit)).collect(),
            margin: *g.choose(&[0.0, 0.2, 1.0, 5.0, -1.0]).unwrap(),
            distance: *g.choose(&distances()).unwrap(),
            swap: bool::arbitrary(g),
            soft: u8::arbitrary(g) % 4 == 0,
            reduction,
            mode: *g
                .choose(&[GradMode::Overwrite, GradMode::Accumulate])
                .unwrap(),
            per_item: reduction == Reduction::None && bool::arbitrary(g),
        }
    }
}

impl Case {
    fn loss(&self, be: Backend) -> TripletLoss {
        TripletLoss::new(self.margin)
            .distance(self.distance)
            .swap(self.swap)
            .soft_margin(self.soft)
            .reduction(self.reduction)
            .backend(be)
    }
    fn upstream(&self) -> Upstream<'_> {
        if self.per_item {
            Upstream::PerItem(&self.upstream)
        } else {
            Upstream::Scalar(0.75)
        }
    }
}

struct Out {
    stats: TripletStats,
    losses: Vec<f32>,
    ga: Vec<f32>,
    gp: Vec<f32>,
    gn: Vec<f32>,
}

fn stats_same(x: &TripletStats, y: &TripletStats) -> bool {
    same(x.loss, y.loss)
        && x.active == y.active
        && same(x.mean_d_ap, y.mean_d_ap)
        && same(x.mean_d_an, y.mean_d_an)
}

fn out_same(x: &Out, y: &Out) -> bool {
    stats_same(&x.stats, &y.stats)
        && same_all(&x.losses, &y.losses)
        && same_all(&x.ga, &y.ga)
        && same_all(&x.gp, &y.gp)
        && same_all(&x.gn, &y.gn)
}

/// The fused call with separate gradient views (seeded with 0.5, so accumulate mode shows).
fn run(be: Backend, c: &Case) -> Out {
    let (n, d) = (c.a.rows, c.a.dim);
    let mut losses = vec![0.0; n];
    let (mut ga, mut gp, mut gn) = (vec![0.5; n * d], vec![0.5; n * d], vec![0.5; n * d]);
    let stats = c
        .loss(be)
        .fused(
            Triplets::views(c.a.view(), c.p.view(), c.n.view()),
            Some(&mut losses),
            c.upstream(),
            TripletGrads::views(
                Some(RowsMut::dense(&mut ga, n, d).unwrap()),
                Some(RowsMut::dense(&mut gp, n, d).unwrap()),
                Some(RowsMut::dense(&mut gn, n, d).unwrap()),
            ),
            c.mode,
        )
        .unwrap();
    Out {
        stats,
        losses,
        ga,
        gp,
        gn,
    }
}

/// The same call into one interleaved gradient buffer (stride 3·d + 1), split back into three.
fn run_interleaved(be: Backend, c: &Case) -> Out {
    let (n, d) = (c.a.rows, c.a.dim);
    let s = d + 1;
    let mut buf = vec![0.5; 3 * n * s];
    let mut losses = vec![0.0; n];
    let stats = c
        .loss(be)
        .fused(
            Triplets::views(c.a.view(), c.p.view(), c.n.view()),
            Some(&mut losses),
            c.upstream(),
            TripletGrads::interleaved_view(RowsMut::new(&mut buf, 3 * n, d, s).unwrap()),
            c.mode,
        )
        .unwrap();
    let member = |k: usize| -> Vec<f32> {
        (0..n)
            .flat_map(|i| buf[(3 * i + k) * s..(3 * i + k) * s + d].to_vec())
            .collect()
    };
    // The padding between rows was not touched.
    assert!((0..3 * n).all(|r| buf[r * s + d] == 0.5));
    Out {
        stats,
        losses,
        ga: member(0),
        gp: member(1),
        gn: member(2),
    }
}

#[test]
fn every_backend_gives_the_same_bits_hinge_decisions_included() {
    fn prop(c: Case) -> bool {
        let bes = backends();
        let first = run(bes[0], &c);
        let ok = bes[1..].iter().all(|&be| out_same(&first, &run(be, &c)));
        // Forward alone reports the same statistics and losses.
        let mut losses = vec![0.0; c.a.rows];
        let fwd = c
            .loss(bes[0])
            .fwd(
                Triplets::views(c.a.view(), c.p.view(), c.n.view()),
                Some(&mut losses),
            )
            .unwrap();
        ok && stats_same(&fwd, &first.stats) && same_all(&losses, &first.losses)
    }
    QuickCheck::new()
        .tests(400)
        .quickcheck(prop as fn(Case) -> bool);
}

#[test]
fn interleaved_gradients_equal_separate_ones() {
    fn prop(c: Case) -> bool {
        let bes = backends();
        bes.iter()
            .all(|&be| out_same(&run(be, &c), &run_interleaved(be, &c)))
    }
    QuickCheck::new()
        .tests(150)
        .quickcheck(prop as fn(Case) -> bool);
}

/// Index triplets over the concatenation [a rows; p rows; n rows] give the separate views' results.
#[test]
fn index_triplets_equal_views_and_accumulate_in_triplet_order() {
    fn prop(c: Case) -> bool {
        let (n, d) = (c.a.rows, c.a.dim);
        let mut emb = Vec::new();
        for b in [&c.a, &c.p, &c.n] {
            for r in 0..n {
                emb.extend_from_slice(b.row(r));
            }
        }
        let idx: Vec<[u32; 3]> = (0..n as u32)
            .map(|i| [i, n as u32 + i, 2 * n as u32 + i])
            .collect();
        bes_all(&c, &emb, &idx, n, d)
    }
    fn bes_all(c: &Case, emb: &[f32], idx: &[[u32; 3]], n: usize, d: usize) -> bool {
        backends().into_iter().all(|be| {
            let sep = run(be, c);
            let mut g = vec![0.5; 3 * n * d];
            let mut losses = vec![0.0; n];
            let stats = c
                .loss(be)
                .fused(
                    Triplets::indexed(Rows::dense(emb, 3 * n, d).unwrap(), idx),
                    Some(&mut losses),
                    c.upstream(),
                    TripletGrads::matrix_view(RowsMut::dense(&mut g, 3 * n, d).unwrap()),
                    c.mode,
                )
                .unwrap();
            // Overwrite zeroes the matrix, then adds (0 + g): the same values as the views' g, except
            // that a −0 of the views is +0 here. Accumulate adds to 0.5 in both.
            let eq = |x: &[f32], y: &[f32]| {
                x.iter()
                    .zip(y)
                    .all(|(&u, &v)| u == v || (u.is_nan() && v.is_nan()))
            };
            let (ga, gp, gn) = (&g[..n * d], &g[n * d..2 * n * d], &g[2 * n * d..]);
            stats_same(&stats, &sep.stats)
                && same_all(&losses, &sep.losses)
                && eq(ga, &sep.ga)
                && eq(gp, &sep.gp)
                && eq(gn, &sep.gn)
        })
    }
    QuickCheck::new()
        .tests(150)
        .quickcheck(prop as fn(Case) -> bool);
}

#[test]
fn accumulate_adds_the_overwrite_result() {
    let mut g = Gen::new(64);
    for _ in 0..200 {
        let mut c = Case::arbitrary(&mut g);
        c.mode = GradMode::Overwrite;
        let over = run(Backend::detect(), &c);
        c.mode = GradMode::Accumulate;
        let acc = run(Backend::detect(), &c);
        for (o, a) in [
            (&over.ga, &acc.ga),
            (&over.gp, &acc.gp),
            (&over.gn, &acc.gn),
        ] {
            let plus: Vec<f32> = o.iter().map(|x| 0.5 + x).collect();
            assert!(same_all(a, &plus), "{c:?}");
        }
    }
}

#[test]
fn forward_matches_the_f64_oracle() {
    fn prop(c: Case) -> bool {
        let all = [&c.a, &c.p, &c.n];
        if !all
            .iter()
            .all(|b| b.buf.iter().all(|v| v.is_finite() && v.abs() < 1e6))
        {
            return true;
        }
        let loss = c.loss(Backend::detect());
        let mut losses = vec![0.0; c.a.rows];
        let got = loss
            .fwd(
                Triplets::views(c.a.view(), c.p.view(), c.n.view()),
                Some(&mut losses),
            )
            .unwrap();
        let mut exact = vec![0.0; c.a.rows];
        let e =
            reference::triplet_loss(&loss, c.a.view(), c.p.view(), c.n.view(), Some(&mut exact))
                .unwrap();
        // A triplet within rounding of the hinge or of a swap tie may decide the other way than f64:
        // allow a difference of the size of the distances' rounding there.
        let scale: f64 = (0..c.a.rows)
            .map(|r| {
                let d = |x: &[f32], y: &[f32]| reference::sq_l2(x, y).unwrap();
                d(c.a.row(r), c.p.row(r))
                    + d(c.a.row(r), c.n.row(r))
                    + d(c.p.row(r), c.n.row(r))
                    + 1.0
            })
            .fold(1.0, f64::max);
        let tol = 1e-5 * scale * (c.a.rows.max(1) as f64);
        (got.loss as f64 - e).abs() <= tol
            && losses
                .iter()
                .zip(&exact)
                .all(|(&x, &y)| (x as f64 - y).abs() <= 1e-5 * scale)
    }
    QuickCheck::new()
        .tests(300)
        .quickcheck(prop as fn(Case) -> bool);
}

/// Gradients against central differences of the f64 oracle, for every distance, swap, soft margin and
/// reduction, away from the hinge and swap kinks (an element whose +h or −h changes a decision made at
/// the point is skipped).
#[test]
fn gradients_equal_central_differences_of_the_oracle() {
    let (n, d) = (6usize, 5usize);
    let val = |i: usize, k: usize| (((i * 7919 + k * 104_729) % 1000) as f32 / 250.0 - 2.0) * 0.9;
    let (a0, p0, n0): (Vec<f32>, Vec<f32>, Vec<f32>) = (
        (0..n * d).map(|i| val(i, 1)).collect(),
        (0..n * d).map(|i| val(i, 2)).collect(),
        (0..n * d).map(|i| val(i, 3)).collect(),
    );
    let h = 1e-3f32;
    let mut checked = 0;
    for distance in distances() {
        for swap in [false, true] {
            for soft in [false, true] {
                for reduction in REDUCTIONS {
                    let loss = TripletLoss::new(if soft { 0.3 } else { 1.5 })
                        .distance(distance)
                        .swap(swap)
                        .soft_margin(soft)
                        .reduction(reduction);
                    let g = 0.75f32;
                    let mut grads = [vec![0.0; n * d], vec![0.0; n * d], vec![0.0; n * d]];
                    let [ga, gp, gn] = &mut grads;
                    let mut losses = vec![0.0; n];
                    loss.fused(
                        Triplets::views(
                            Rows::dense(&a0, n, d).unwrap(),
                            Rows::dense(&p0, n, d).unwrap(),
                            Rows::dense(&n0, n, d).unwrap(),
                        ),
                        Some(&mut losses),
                        Upstream::Scalar(g),
                        TripletGrads::views(
                            Some(RowsMut::dense(ga, n, d).unwrap()),
                            Some(RowsMut::dense(gp, n, d).unwrap()),
                            Some(RowsMut::dense(gn, n, d).unwrap()),
                        ),
                        GradMode::Overwrite,
                    )
                    .unwrap();
                    // The oracle's per-triplet decisions (active, swap) at a point.
                    let decisions = |x: &[Vec<f32>; 3]| -> Vec<(bool, bool)> {
                        let v = |i: usize| Rows::dense(&x[i], n, d).unwrap();
                        let mut l = vec![0.0; n];
                        reference::triplet_loss(&loss, v(0), v(1), v(2), Some(&mut l)).unwrap();
                        (0..n)
                            .map(|r| {
                                let row = |i: usize| &x[i][r * d..(r + 1) * d];
                                let dist = |u: &[f32], w: &[f32]| reference::sq_l2(u, w).unwrap();
                                (
                                    l[r] > 0.0,
                                    swap && dist(row(1), row(2)) < dist(row(0), row(2)),
                                )
                            })
                            .collect()
                    };
                    let f = |x: &[Vec<f32>; 3]| {
                        let v = |i: usize| Rows::dense(&x[i], n, d).unwrap();
                        g as f64 * reference::triplet_loss(&loss, v(0), v(1), v(2), None).unwrap()
                    };
                    let base = [a0.clone(), p0.clone(), n0.clone()];
                    let at_base = decisions(&base);
                    for m in 0..3 {
                        for i in 0..n * d {
                            let (mut xp, mut xm) = (base.clone(), base.clone());
                            xp[m][i] += h;
                            xm[m][i] -= h;
                            if decisions(&xp) != at_base || decisions(&xm) != at_base {
                                continue;
                            }
                            let fd = (f(&xp) - f(&xm)) / ((xp[m][i] - xm[m][i]) as f64);
                            let got = grads[m][i] as f64;
                            assert!(
                                (got - fd).abs() <= 2e-3 * fd.abs().max(0.05),
                                "{distance:?} swap {swap} soft {soft} {reduction:?} member {m} [{i}]: {got} vs {fd}"
                            );
                            checked += 1;
                        }
                    }
                }
            }
        }
    }
    assert!(
        checked > 2000,
        "only {checked} gradient entries were away from a kink"
    );
}

// ---- PyTorch fixtures ----

struct Fixture {
    name: String,
    cfg: std::collections::HashMap<String, String>,
    n: usize,
    d: usize,
    fields: std::collections::HashMap<String, Vec<f32>>,
}

fn fixtures() -> Vec<Fixture> {
    let Some(text) = common::fixture("triplet_torch.txt") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut cur: Option<Fixture> = None;
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let mut it = line.split_whitespace();
        let key = it.next().unwrap();
        match key {
            "case" => {
                cur = Some(Fixture {
                    name: it.next().unwrap().to_string(),
                    cfg: Default::default(),
                    n: 0,
                    d: 0,
                    fields: Default::default(),
                })
            }
            "config" => {
                let f = cur.as_mut().unwrap();
                for kv in it {
                    let (k, v) = kv.split_once('=').unwrap();
                    f.cfg.insert(k.to_string(), v.to_string());
                }
            }
            "shape" => {
                let f = cur.as_mut().unwrap();
                f.n = it.next().unwrap().parse().unwrap();
                f.d = it.next().unwrap().parse().unwrap();
            }
            "end" => out.push(cur.take().unwrap()),
            _ => {
                let vals = it.map(|v| v.parse::<f32>().unwrap()).collect();
                cur.as_mut().unwrap().fields.insert(key.to_string(), vals);
            }
        }
    }
    out
}

#[test]
fn pytorch_fixtures_losses_and_gradients() {
    let fx = fixtures();
    if fx.is_empty() {
        return; // a packaged crate without its fixtures (see common::fixture)
    }
    assert!(fx.len() >= 60, "{} fixtures", fx.len());
    for f in &fx {
        let c = |k: &str| f.cfg[k].as_str();
        let eps: f32 = c("eps").parse().unwrap();
        let distance = match c("distance") {
            "squared" => Distance::SqL2,
            "eps_on_diff" => Distance::EpsOnDiff(eps),
            "exact" => Distance::Exact,
            other => panic!("unknown distance {other}"),
        };
        let reduction = match c("reduction") {
            "none" => Reduction::None,
            "sum" => Reduction::Sum,
            "mean" => Reduction::Mean,
            other => panic!("unknown reduction {other}"),
        };
        let (n, d) = (f.n, f.d);
        let up = &f.fields["upstream"];
        let upstream = if reduction == Reduction::None {
            Upstream::PerItem(up)
        } else {
            Upstream::Scalar(up[0])
        };
        for be in backends() {
            let loss = TripletLoss::new(c("margin").parse().unwrap())
                .distance(distance)
                .swap(c("swap") == "1")
                .soft_margin(c("soft") == "1")
                .reduction(reduction)
                .backend(be);
            let mut grads = [vec![9.0; n * d], vec![9.0; n * d], vec![9.0; n * d]];
            let [ga, gp, gn] = &mut grads;
            let mut losses = vec![0.0; n];
            let stats = loss
                .fused(
                    Triplets::views(
                        Rows::dense(&f.fields["a"], n, d).unwrap(),
                        Rows::dense(&f.fields["p"], n, d).unwrap(),
                        Rows::dense(&f.fields["n"], n, d).unwrap(),
                    ),
                    Some(&mut losses),
                    upstream,
                    TripletGrads::views(
                        Some(RowsMut::dense(ga, n, d).unwrap()),
                        Some(RowsMut::dense(gp, n, d).unwrap()),
                        Some(RowsMut::dense(gn, n, d).unwrap()),
                    ),
                    GradMode::Overwrite,
                )
                .unwrap();
            let close = |x: f32, y: f32, scale: f32| (x - y).abs() <= 2e-5 * scale.max(1.0);
            let want = &f.fields["loss"];
            if reduction == Reduction::None {
                for (i, (&x, &y)) in losses.iter().zip(want).enumerate() {
                    assert!(
                        close(x, y, y.abs()),
                        "{} loss[{i}]: {x} vs torch {y}",
                        f.name
                    );
                }
            } else {
                assert!(
                    close(stats.loss, want[0], want[0].abs()),
                    "{}: {} vs torch {}",
                    f.name,
                    stats.loss,
                    want[0]
                );
            }
            for (m, key) in ["grad_a", "grad_p", "grad_n"].into_iter().enumerate() {
                for (i, (&x, &y)) in grads[m].iter().zip(&f.fields[key]).enumerate() {
                    assert!(
                        close(x, y, y.abs()),
                        "{} {key}[{i}] on {:?}: {x} vs torch {y}",
                        f.name,
                        be.isa()
                    );
                }
            }
        }
    }
}

// ---- Edge cases ----

fn views<'a>(a: &'a [f32], p: &'a [f32], n: &'a [f32], rows: usize, d: usize) -> [Rows<'a>; 3] {
    [
        Rows::dense(a, rows, d).unwrap(),
        Rows::dense(p, rows, d).unwrap(),
        Rows::dense(n, rows, d).unwrap(),
    ]
}

fn fused(
    loss: TripletLoss,
    v: [Rows<'_>; 3],
    losses: Option<&mut [f32]>,
    seed: f32,
) -> (TripletStats, [Vec<f32>; 3]) {
    let (n, d) = (v[0].rows(), v[0].dim());
    let mut g = [vec![seed; n * d], vec![seed; n * d], vec![seed; n * d]];
    let [ga, gp, gn] = &mut g;
    let s = loss
        .fused(
            Triplets::views(v[0], v[1], v[2]),
            losses,
            Upstream::Scalar(1.0),
            TripletGrads::views(
                Some(RowsMut::dense(ga, n, d).unwrap()),
                Some(RowsMut::dense(gp, n, d).unwrap()),
                Some(RowsMut::dense(gn, n, d).unwrap()),
            ),
            GradMode::Overwrite,
        )
        .unwrap();
    (s, g)
}

#[test]
fn no_triplets_give_zero_for_every_reduction() {
    for reduction in REDUCTIONS {
        for distance in distances() {
            let loss = TripletLoss::new(1.0)
                .distance(distance)
                .reduction(reduction);
            let (s, _) = fused(loss, views(&[], &[], &[], 0, 4), Some(&mut []), 0.0);
            assert_eq!(
                (s.loss.to_bits(), s.active, s.mean_d_ap, s.mean_d_an),
                (0, 0, 0.0, 0.0)
            );
        }
    }
}

#[test]
fn mean_active_with_nothing_active_gives_zero_loss_and_zero_gradients() {
    let (a, p, n) = ([0.0f32, 0.0], [0.1f32, 0.0], [5.0f32, 0.0]);
    let loss = TripletLoss::new(0.2).reduction(Reduction::MeanActive);
    let (s, g) = fused(loss, views(&a, &p, &n, 1, 2), None, 7.0);
    assert_eq!((s.loss, s.active), (0.0, 0));
    assert!(g.iter().all(|r| r.iter().all(|&x| x.to_bits() == 0)));
}

#[test]
fn v_exactly_zero_is_inactive() {
    // d(a, p) = 1, d(a, n) = 4, margin 3: v = 0 exactly.
    let (a, p, n) = ([0.0f32], [1.0f32], [2.0f32]);
    for be in backends() {
        let loss = TripletLoss::new(3.0).reduction(Reduction::Sum).backend(be);
        let (s, g) = fused(loss, views(&a, &p, &n, 1, 1), None, 7.0);
        assert_eq!((s.loss, s.active), (0.0, 0));
        assert_eq!(g, [vec![0.0], vec![0.0], vec![0.0]]);
        // Just above 0 it is active with the design document's gradients.
        let (s, g) = fused(loss.margin(3.5), views(&a, &p, &n, 1, 1), None, 7.0);
        assert_eq!((s.loss, s.active), (0.5, 1));
        assert_eq!(
            g,
            [
                vec![2.0 * (2.0 - 1.0)],
                vec![2.0 * (1.0 - 0.0)],
                vec![2.0 * (0.0 - 2.0)]
            ]
        );
    }
}

#[test]
fn identical_rows_give_no_nan_under_every_eps_convention() {
    let x = [0.5f32, -1.0, 2.0];
    let n = [3.0f32, 1.0, 0.0];
    for distance in distances() {
        for be in backends() {
            let loss = TripletLoss::new(1.0)
                .distance(distance)
                .reduction(Reduction::Sum)
                .backend(be);
            let (s, g) = fused(loss, views(&x, &x, &n, 1, 3), None, 0.0);
            assert!(!s.loss.is_nan(), "{distance:?}");
            assert!(
                g.iter().flatten().all(|v| !v.is_nan()),
                "{distance:?}: {g:?}"
            );
            let d_aa = match distance {
                Distance::SqL2 | Distance::Exact => 0.0,
                // PyTorch: d(x, x) = eps·√D.
                Distance::EpsOnDiff(e) => (3.0 * e * e).sqrt(),
                Distance::EpsInSqrt(e) => e.sqrt(),
            };
            assert!(
                (s.mean_d_ap - d_aa).abs() <= 1e-6 * d_aa.max(1e-30),
                "{distance:?}: {}",
                s.mean_d_ap
            );
        }
    }
}

#[test]
fn swap_is_taken_only_when_strictly_smaller_and_a_tie_keeps_d_an() {
    // p == a: d(p, n) == d(a, n), a tie: the gradient goes through d(a, n) whole.
    let (a, n) = ([0.0f32, 0.0], [1.0f32, 0.0]);
    for be in backends() {
        let loss = TripletLoss::new(2.0)
            .swap(true)
            .reduction(Reduction::Sum)
            .backend(be);
        let (s, g) = fused(loss, views(&a, &a, &n, 1, 2), None, 0.0);
        assert_eq!(s.loss, 1.0);
        // No swap: g_a = 2(n − p), g_p = 2(p − a), g_n = 2(a − n).
        assert_eq!(g, [vec![2.0, 0.0], vec![0.0, 0.0], vec![-2.0, 0.0]]);
        // p closer to n than a is: swap taken, g_a = 2(a − p), g_p = 2(n − a), g_n = 2(p − n).
        let p = [0.5f32, 0.0];
        let (s, g) = fused(loss, views(&a, &p, &n, 1, 2), None, 0.0);
        assert_eq!(s.loss, 0.25 - 0.25 + 2.0);
        assert_eq!(g, [vec![-1.0, 0.0], vec![2.0, 0.0], vec![-1.0, 0.0]]);
    }
}

#[test]
fn nan_in_one_row_poisons_only_its_triplet() {
    let mut a = vec![0.0f32; 3 * 4];
    let p = vec![1.0f32; 3 * 4];
    let n = vec![0.5f32; 3 * 4];
    a[4 + 2] = f32::NAN; // triplet 1's anchor
    for be in backends() {
        let mut losses = [0.0; 3];
        let loss = TripletLoss::new(1.0).reduction(Reduction::None).backend(be);
        let (s, g) = fused(loss, views(&a, &p, &n, 3, 4), Some(&mut losses), 0.0);
        assert!(s.loss.is_nan() && losses[1].is_nan());
        assert!(!losses[0].is_nan() && !losses[2].is_nan());
        assert_eq!(s.active, 2, "a NaN triplet is not active");
        for (m, g) in g.iter().enumerate() {
            assert!(
                g[4..8].iter().all(|x| x.is_nan()),
                "member {m} of the NaN triplet"
            );
            assert!(g[..4].iter().chain(&g[8..]).all(|x| x.is_finite()));
        }
        let mean = TripletLoss::new(1.0).reduction(Reduction::Mean).backend(be);
        assert!(
            mean.fwd(
                Triplets::views(
                    views(&a, &p, &n, 3, 4)[0],
                    views(&a, &p, &n, 3, 4)[1],
                    views(&a, &p, &n, 3, 4)[2]
                ),
                None
            )
            .unwrap()
            .loss
            .is_nan()
        );
    }
}

/// A NaN triplet whose other distance is exactly 0 (a == p) under a Euclidean distance: the zero-distance
/// rule (gradient 0 at d = 0) must not turn its NaN gradient rows into zeros. (Found by fuzzing.)
#[test]
fn nan_triplet_with_a_zero_distance_still_gets_nan_gradients() {
    let (a, n) = ([1.0f32, 2.0], [f32::NAN, 0.0]);
    for distance in distances() {
        for be in backends() {
            let loss = TripletLoss::new(0.5)
                .distance(distance)
                .reduction(Reduction::Sum)
                .backend(be);
            let (s, g) = fused(loss, views(&a, &a, &n, 1, 2), None, 0.0);
            assert!(s.loss.is_nan());
            assert!(
                g.iter().flatten().all(|x| x.is_nan()),
                "{distance:?} on {:?}: {g:?}",
                be.isa()
            );
        }
    }
}

#[test]
fn huge_values_overflow_to_inf_by_ieee_rules() {
    let (a, p, n) = ([3e19f32, 0.0], [-3e19f32, 0.0], [0.0f32, 0.0]);
    for be in backends() {
        let loss = TripletLoss::new(1.0).reduction(Reduction::Sum).backend(be);
        let (s, g) = fused(loss, views(&a, &p, &n, 1, 2), None, 0.0);
        // d(a, p) = inf, d(a, n) = 9e38 = inf too: inf − inf is NaN.
        assert!(s.loss.is_nan());
        assert!(g[0][0].is_nan());
        let n = [3e19f32, 1.0];
        let (s, _) = fused(loss, views(&a, &p, &n, 1, 2), None, 0.0);
        assert_eq!(s.loss, f32::INFINITY, "inf − 1 + 1");
    }
}

#[test]
fn statistics_report_means_and_active_count() {
    let (a, p, n) = (
        [0.0f32, 0.0, 0.0, 0.0],
        [1.0f32, 0.0, 0.0, 2.0],
        [0.0f32, 1.0, 3.0, 0.0],
    );
    let [va, vp, vn] = views(&a, &p, &n, 2, 2);
    let s = TripletLoss::new(0.5)
        .reduction(Reduction::MeanActive)
        .fwd(Triplets::views(va, vp, vn), None)
        .unwrap();
    // Triplet 0: 1 − 1 + 0.5 = 0.5 (active); triplet 1: 4 − 9 + 0.5 < 0.
    assert_eq!(
        (s.loss, s.active, s.mean_d_ap, s.mean_d_an),
        (0.5, 1, 2.5, 5.0)
    );
}

#[test]
fn invalid_settings_and_shapes_are_errors_and_nothing_is_written() {
    let x = [0.0f32; 8];
    let [a, p, n] = views(&x, &x, &x, 2, 4);
    for (loss, name, value) in [
        (TripletLoss::new(f32::NAN), "margin", f32::NAN),
        (TripletLoss::new(f32::INFINITY), "margin", f32::INFINITY),
        (
            TripletLoss::new(1.0).distance(Distance::EpsOnDiff(-1.0)),
            "eps",
            -1.0,
        ),
        (
            TripletLoss::new(1.0).distance(Distance::EpsInSqrt(f32::NAN)),
            "eps",
            f32::NAN,
        ),
    ] {
        match loss.fwd(Triplets::views(a, p, n), None).unwrap_err() {
            e @ Error::InvalidParameter {
                name: got,
                value: v,
                ..
            } => {
                assert_eq!(got, name);
                assert!(same(v, value));
                // Set-up finds the same error as the call.
                assert_eq!(loss.validate().unwrap_err().to_string(), e.to_string());
            }
            e => panic!("{e}"),
        }
    }
    // A negative margin is allowed (and said to be in the margin's rule).
    assert!(TripletLoss::new(-1.0).validate().is_ok());
    assert_eq!(
        TripletLoss::new(f32::NAN)
            .validate()
            .unwrap_err()
            .to_string(),
        "margin = NaN is not allowed: the margin must be finite (it may be negative)"
    );
    assert_eq!(
        TripletLoss::new(-0.0)
            .distance(Distance::EpsInSqrt(-2.0))
            .fwd(Triplets::views(a, p, n), None)
            .unwrap_err()
            .to_string(),
        "eps = -2 is not allowed: the eps of a distance must be finite and not negative"
    );
    // Index out of range: named, and detected before anything is written.
    let mut g = [7.0f32; 8];
    let e = TripletLoss::new(1.0)
        .fused(
            Triplets::indexed(Rows::dense(&x, 2, 4).unwrap(), &[[0, 1, 0], [1, 0, 2]]),
            None,
            Upstream::Scalar(1.0),
            TripletGrads::matrix_view(RowsMut::dense(&mut g, 2, 4).unwrap()),
            GradMode::Overwrite,
        )
        .unwrap_err();
    assert_eq!(
        e,
        Error::IndexOutOfRange {
            triplet: 1,
            index: 2,
            rows: 2
        }
    );
    assert_eq!(
        e.to_string(),
        "triplet 1 names row 2 but the embedding matrix has 2 rows"
    );
    assert_eq!(g, [7.0; 8]);
    // Shapes.
    let [_, p3, _] = views(&x, &x[..6], &x, 2, 3);
    assert_eq!(
        TripletLoss::new(1.0)
            .fwd(Triplets::views(a, p3, n), None)
            .unwrap_err()
            .to_string(),
        "row length of the positives is 3 but must be 4"
    );
    let mut buf = [0.0f32; 16];
    let e = TripletLoss::new(1.0)
        .fused(
            Triplets::views(a, p, n),
            None,
            Upstream::Scalar(1.0),
            TripletGrads::interleaved_view(RowsMut::dense(&mut buf, 4, 4).unwrap()),
            GradMode::Overwrite,
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "row count of the interleaved gradient (3 per triplet) is 4 but must be 6"
    );
    // A per-item upstream is checked before any pass over the triplets (MeanActive makes two).
    assert_eq!(
        TripletLoss::new(1.0)
            .reduction(Reduction::MeanActive)
            .fused(
                Triplets::views(a, p, n),
                None,
                Upstream::PerItem(&[1.0, 1.0]),
                TripletGrads::interleaved_view(RowsMut::dense(&mut [0.0; 24], 6, 4).unwrap()),
                GradMode::Overwrite
            )
            .unwrap_err()
            .to_string(),
        "missing Reduction::None, which a per-item upstream gradient needs"
    );
    assert_eq!(
        TripletLoss::new(1.0)
            .reduction(Reduction::None)
            .fwd(Triplets::views(a, p, n), None)
            .unwrap_err()
            .to_string(),
        "missing a per-triplet loss buffer, which Reduction::None needs"
    );
}

/// Random index triplets with repeated rows: every backend adds the same gradients in the same order.
#[test]
fn index_triplets_with_repeats_are_identical_on_every_backend() {
    fn prop(c: Case, idx: Vec<(u8, u8, u8)>) -> bool {
        let (rows, d) = (c.a.rows.max(1), c.a.dim);
        let emb: Vec<f32> = (0..rows * d)
            .map(|i| c.a.buf.get(i).copied().unwrap_or(0.25))
            .collect();
        let idx: Vec<[u32; 3]> = idx
            .iter()
            .map(|&(x, y, z)| {
                [
                    x as u32 % rows as u32,
                    y as u32 % rows as u32,
                    z as u32 % rows as u32,
                ]
            })
            .collect();
        let up: Vec<f32> = (0..idx.len()).map(|i| 0.5 + i as f32).collect();
        let upstream = if c.reduction == Reduction::None {
            Upstream::PerItem(&up)
        } else {
            Upstream::Scalar(1.25)
        };
        let results: Vec<(TripletStats, Vec<f32>, Vec<f32>)> = backends()
            .into_iter()
            .map(|be| {
                let mut g = vec![0.5; rows * d];
                let mut losses = vec![0.0; idx.len()];
                let s = c
                    .loss(be)
                    .fused(
                        Triplets::indexed(Rows::dense(&emb, rows, d).unwrap(), &idx),
                        Some(&mut losses),
                        upstream,
                        TripletGrads::matrix_view(RowsMut::dense(&mut g, rows, d).unwrap()),
                        c.mode,
                    )
                    .unwrap();
                (s, losses, g)
            })
            .collect();
        results[1..].iter().all(|(s, l, g)| {
            stats_same(s, &results[0].0) && same_all(l, &results[0].1) && same_all(g, &results[0].2)
        })
    }
    QuickCheck::new()
        .tests(200)
        .quickcheck(prop as fn(Case, Vec<(u8, u8, u8)>) -> bool);
}

// ---- Issue 7: NaN never hidden, call forms, diagnostics, weighted loss, rows of length 0 ----

/// N = 1 and N = 3 with one NaN triplet, under every reduction, hinge and soft margin: the reduced loss
/// is NaN (also for MeanActive, where no triplet may be active), the NaN triplet is never active, and
/// its gradient rows are NaN. (MeanActive with only a NaN triplet returned a silent 0 before.)
#[test]
fn one_nan_triplet_gives_a_nan_loss_under_every_reduction() {
    for rows in [1usize, 3] {
        let d = 5;
        let a = vec![0.0f32; rows * d];
        let p = vec![1.0f32; rows * d];
        let mut n = vec![4.0f32; rows * d]; // inactive for the hinge: v = 5 − 80 + 1 < 0
        let bad = rows - 1;
        n[bad * d + 3] = f32::NAN;
        for soft in [false, true] {
            for reduction in REDUCTIONS {
                for be in backends() {
                    let loss = TripletLoss::new(1.0)
                        .soft_margin(soft)
                        .reduction(reduction)
                        .backend(be);
                    let mut losses = vec![0.0f32; rows];
                    let (s, g) = fused(loss, views(&a, &p, &n, rows, d), Some(&mut losses), 0.0);
                    let what = format!("rows {rows} soft {soft} {reduction:?} {}", be.isa());
                    assert!(s.loss.is_nan(), "{what}: loss {}", s.loss);
                    assert!(s.weighted_loss.is_nan(), "{what}");
                    assert!(losses[bad].is_nan(), "{what}");
                    // Soft margin: every non-NaN triplet is active; hinge: none is.
                    let want_active = if soft { rows - 1 } else { 0 };
                    assert_eq!(s.active, want_active, "{what}");
                    for m in &g {
                        assert!(m[bad * d..].iter().all(|x| x.is_nan()), "{what}: {m:?}");
                        assert!(m[..bad * d].iter().all(|x| x.is_finite()), "{what}");
                    }
                    // The oracle agrees: NaN.
                    let [va, vp, vn] = views(&a, &p, &n, rows, d);
                    assert!(
                        reference::triplet_loss(&loss, va, vp, vn, None)
                            .unwrap()
                            .is_nan()
                    );
                }
            }
        }
    }
}

/// The squared-error losses share the reduction rule: a NaN row makes every reduction NaN.
#[test]
fn squared_error_with_a_nan_row_is_nan_under_every_reduction() {
    use triplet_simd::SquaredError;
    let (a, b) = ([0.0f32, f32::NAN, 1.0], [1.0f32, 1.0, 1.0]);
    for reduction in REDUCTIONS {
        let mut per_row = [0.0f32; 3];
        let l = SquaredError::mse()
            .reduction(reduction)
            .forward(
                Rows::dense(&a, 3, 1).unwrap(),
                Rows::dense(&b, 3, 1).unwrap(),
                Some(&mut per_row),
            )
            .unwrap();
        assert!(l.is_nan(), "{reduction:?}");
    }
}

/// One forward + backward call into three fresh separate gradient buffers of `len` values each.
fn separate(loss: &TripletLoss, t: Triplets<'_>, len: usize) -> (TripletStats, [Vec<f32>; 3]) {
    let [mut ga, mut gp, mut gn] = [0; 3].map(|_| vec![0.0f32; len]);
    let s = loss
        .forward_backward(t, TripletGrads::separate(&mut ga, &mut gp, &mut gn))
        .unwrap();
    (s, [ga, gp, gn])
}

/// Dense batches, one interleaved buffer, three views and index triplets are four ways to name the
/// same triplets: the same statistics, losses and gradients to the bit, on every backend.
#[test]
fn every_call_form_gives_the_same_bits() {
    let mut g = Gen::new(40);
    for _ in 0..60 {
        // d ≥ 1: with rows of length 0 an interleaved buffer holds no whole triplet at all.
        let (rows, d) = (usize::arbitrary(&mut g) % 7, 1 + gen_dim(&mut g) % 70);
        let inter: Vec<f32> = (0..3 * rows * d)
            .map(|_| gen_value(&mut g, Values::Unit))
            .collect();
        let member = |k: usize| -> Vec<f32> {
            (0..rows)
                .flat_map(|i| inter[(3 * i + k) * d..(3 * i + k + 1) * d].to_vec())
                .collect()
        };
        let (a, p, n) = (member(0), member(1), member(2));
        let idx: Vec<[u32; 3]> = (0..rows as u32)
            .map(|i| [3 * i, 3 * i + 1, 3 * i + 2])
            .collect();
        for be in backends() {
            let loss = TripletLoss::new(0.7)
                .swap(true)
                .reduction(Reduction::Sum)
                .backend(be);
            let mut gi = vec![0.0f32; 3 * rows * d];
            let si = loss
                .forward_backward(
                    Triplets::interleaved(&inter, d),
                    TripletGrads::interleaved(&mut gi),
                )
                .unwrap();
            let (sd, [ga, gp, gn]) = separate(&loss, Triplets::dense(&a, &p, &n, d), rows * d);
            let [va, vp, vn] = Rows::interleaved::<3>(&inter, d).unwrap();
            let sv = loss.forward(Triplets::views(va, vp, vn)).unwrap();
            let mut gm = vec![0.0f32; 3 * rows * d];
            let sm = loss
                .forward_backward(
                    Triplets::indexed(Rows::dense(&inter, 3 * rows, d).unwrap(), &idx),
                    TripletGrads::matrix(&mut gm),
                )
                .unwrap();
            for s in [&sd, &sv, &sm] {
                assert!(stats_same(&si, s), "{si:?} vs {s:?}");
            }
            // The interleaved gradient, split, is the separate one; the matrix equals it too
            // (0 + g: a −0 becomes +0, so compare by value).
            let split: Vec<f32> = [&ga, &gp, &gn]
                .iter()
                .flat_map(|m| (0..rows).map(move |i| &m[i * d..(i + 1) * d]))
                .flatten()
                .copied()
                .collect();
            let regroup = |k: usize| -> Vec<f32> {
                (0..rows)
                    .flat_map(|i| gi[(3 * i + k) * d..(3 * i + k + 1) * d].to_vec())
                    .collect()
            };
            let gi_split: Vec<f32> = (0..3).flat_map(regroup).collect();
            assert!(same_all(&split, &gi_split));
            assert!(
                gm.iter()
                    .zip(&gi)
                    .all(|(x, y)| x == y || (x.is_nan() && y.is_nan()))
            );
        }
    }
}

/// The rows of one interleaved batch lie side by side, and the kernel reads them row by row (a whole
/// row kept in registers) where they are 2 to 16 vectors long: the same bits as three dense batches,
/// for every row length around those limits on every backend and emulated width, every distance,
/// with and without the swap, on special values, and with padding between the rows.
#[test]
fn rows_side_by_side_give_the_bits_of_dense_rows() {
    let mut g = Gen::new(40);
    let dims = (1..=70).chain([100, 127, 128, 129, 200, 255, 256, 257, 300]);
    for d in dims {
        let rows = 1 + usize::arbitrary(&mut g) % 4;
        let pad = usize::arbitrary(&mut g) % 3;
        let kind = if bool::arbitrary(&mut g) {
            Values::Special
        } else {
            Values::Unit
        };
        // Rows of d values, `pad` values of padding after each.
        let s = d + pad;
        let inter: Vec<f32> = (0..3 * rows * s).map(|_| gen_value(&mut g, kind)).collect();
        let member = |k: usize| -> Vec<f32> {
            (0..rows)
                .flat_map(|i| inter[(3 * i + k) * s..(3 * i + k) * s + d].to_vec())
                .collect()
        };
        let (a, p, n) = (member(0), member(1), member(2));
        // A large eps on the differences too: one added to a padding lane would show.
        let all = distances().into_iter().chain([Distance::EpsOnDiff(0.5)]);
        let all: Vec<Distance> = all.collect();
        for be in backends() {
            for &distance in &all {
                for swap in [false, true] {
                    let loss = TripletLoss::new(0.25)
                        .distance(distance)
                        .swap(swap)
                        .reduction(Reduction::Sum)
                        .backend(be);
                    let (sd, gd) = separate(&loss, Triplets::dense(&a, &p, &n, d), rows * d);
                    let [va, vp, vn] = Rows::interleaved_padded::<3>(&inter, rows, d, s).unwrap();
                    let (si, gi) = separate(&loss, Triplets::views(va, vp, vn), rows * d);
                    let what = format!("{:?} d {d} pad {pad} {distance:?} swap {swap}", be.isa());
                    assert!(stats_same(&sd, &si), "{what}: {sd:?} vs {si:?}");
                    assert!((0..3).all(|k| same_all(&gd[k], &gi[k])), "{what}");
                }
            }
        }
    }
}

/// One-row views may have any stride up to `usize::MAX`: the check whether the rows lie side by side
/// must not overflow (it did, in a debug build: found by the `triplet` fuzz target).
#[test]
fn one_row_views_with_huge_strides_do_not_overflow() {
    let data = [0.0f32, 1.0, 2.0, 3.0, 4.0, 5.0];
    for stride in [usize::MAX, usize::MAX / 2, usize::MAX / 4 + 1] {
        let [a, p, n] = [0, 2, 4].map(|o| Rows::new(&data[o..], 1, 2, stride).unwrap());
        let s = TripletLoss::new(1.0)
            .reduction(Reduction::Sum)
            .forward(Triplets::views(a, p, n))
            .unwrap();
        // d(a, p) = 8, d(a, n) = 32: inactive.
        assert_eq!((s.loss, s.mean_d_ap, s.mean_d_an), (0.0, 8.0, 32.0));
    }
}

/// Per-triplet diagnostics: the same on every backend, consistent with the statistics, the distance
/// functions and the oracle's decisions; they see swap decisions of inactive triplets too.
#[test]
fn diagnostics_report_each_triplets_distances_and_decisions() {
    let mut g = Gen::new(50);
    for _ in 0..150 {
        let c = Case::arbitrary(&mut g);
        let rows = c.a.rows;
        type Diags = (Vec<f32>, Vec<f32>, Vec<f32>, Vec<bool>, Vec<bool>);
        let mut first: Option<Diags> = None;
        for be in backends() {
            let loss = c.loss(be);
            let (mut dap, mut dneg, mut v) = (vec![0.0; rows], vec![0.0; rows], vec![0.0; rows]);
            let (mut act, mut sw) = (vec![false; rows], vec![false; rows]);
            let mut losses = vec![0.0; rows];
            let s = loss
                .call(Triplets::views(c.a.view(), c.p.view(), c.n.view()))
                .losses(&mut losses)
                .diagnostics(TripletDiagnostics {
                    d_ap: Some(&mut dap),
                    d_neg: Some(&mut dneg),
                    violation: Some(&mut v),
                    active: Some(&mut act),
                    swapped: Some(&mut sw),
                })
                .run()
                .unwrap();
            assert_eq!(act.iter().filter(|&&x| x).count(), s.active);
            for i in 0..rows {
                if !c.swap {
                    assert!(!sw[i]);
                }
                if c.distance == Distance::SqL2 {
                    let want = triplet_simd::sq_l2(c.a.row(i), c.p.row(i)).unwrap();
                    assert!(same(dap[i], want));
                    let n_src = if sw[i] { c.p.row(i) } else { c.a.row(i) };
                    let want = triplet_simd::sq_l2(n_src, c.n.row(i)).unwrap();
                    assert!(same(dneg[i], want));
                }
                assert!(same(v[i], (dap[i] - dneg[i]) + c.margin));
                if !c.soft {
                    assert_eq!(act[i], v[i] > 0.0);
                    if act[i] {
                        assert!(same(losses[i], v[i]));
                    }
                }
            }
            match &first {
                None => first = Some((dap, dneg, v, act, sw)),
                Some((d0, n0, v0, a0, s0)) => {
                    assert!(same_all(d0, &dap) && same_all(n0, &dneg) && same_all(v0, &v));
                    assert!(a0 == &act && s0 == &sw);
                }
            }
        }
    }
}

/// `weighted_loss` is the loss the gradients differentiate: `g·loss` for a scalar upstream, `Σ gᵢ·lᵢ`
/// (in f64, in order) for a per-item one.
#[test]
fn weighted_loss_is_the_differentiated_loss() {
    let mut g = Gen::new(40);
    for _ in 0..200 {
        let c = Case::arbitrary(&mut g);
        let rows = c.a.rows;
        let mut losses = vec![0.0; rows];
        let s = c
            .loss(Backend::detect())
            .fused(
                Triplets::views(c.a.view(), c.p.view(), c.n.view()),
                Some(&mut losses),
                c.upstream(),
                TripletGrads::views(None, None, None),
                GradMode::Overwrite,
            )
            .unwrap();
        let want = match c.upstream() {
            Upstream::Scalar(u) => u * s.loss,
            Upstream::PerItem(u) => u
                .iter()
                .zip(&losses)
                .map(|(&u, &l)| f64::from(u) * f64::from(l))
                .fold(0.0f64, |t, x| t + x) as f32,
        };
        assert!(
            same(s.weighted_loss, want),
            "{c:?}: {} vs {want}",
            s.weighted_loss
        );
    }
}

/// Rows of length 0: every triplet has the loss of `v = margin`, and a huge batch is answered at once
/// (it would loop over 2⁶² rows otherwise); a small one equals the oracle.
#[test]
fn rows_of_length_zero_are_answered_in_constant_time() {
    for soft in [false, true] {
        for distance in distances() {
            for reduction in [Reduction::Sum, Reduction::Mean, Reduction::MeanActive] {
                for be in backends() {
                    let loss = TripletLoss::new(0.5)
                        .soft_margin(soft)
                        .distance(distance)
                        .reduction(reduction)
                        .backend(be);
                    let big = Rows::new(&[], 1 << 62, 0, 0).unwrap();
                    let s = loss.forward(Triplets::views(big, big, big)).unwrap();
                    assert_eq!(s.active, 1 << 62);
                    let small = Rows::new(&[], 5, 0, 0).unwrap();
                    let mut per = [0.0f32; 5];
                    let s5 = loss
                        .call(Triplets::views(small, small, small))
                        .losses(&mut per)
                        .grads(TripletGrads::separate(&mut [], &mut [], &mut []))
                        .run()
                        .unwrap();
                    let want = reference::triplet_loss(&loss, small, small, small, None).unwrap();
                    assert!(
                        (f64::from(s5.loss) - want).abs() <= 1e-6 * want.abs(),
                        "{s5:?} {want}"
                    );
                    assert!(per.iter().all(|&l| same(l, per[0])));
                    if reduction != Reduction::Sum {
                        assert!(same(s.loss, s5.loss), "{s:?} vs {s5:?}");
                    }
                    // The per-triplet kernel path (one triplet, v = margin > 0: active) gives the same loss.
                    let one = Rows::new(&[], 1, 0, 0).unwrap();
                    let s1 = loss.forward(Triplets::views(one, one, one)).unwrap();
                    assert!(same(per[0], s1.loss), "{per:?} vs {s1:?}");
                }
            }
        }
    }
}

#[test]
fn backend_all_lists_hardware_then_emulated_backends() {
    use triplet_simd::Isa;
    let all: Vec<Isa> = Backend::all().map(|b| b.isa()).collect();
    let hw: Vec<Isa> = Isa::available().collect();
    assert_eq!(&all[..hw.len()], &hw[..]);
    assert_eq!(
        &all[hw.len()..],
        &[Isa::Emulated128, Isa::Emulated256, Isa::Emulated512]
    );
    assert!(hw.contains(&Isa::Scalar));
}

/// Sums over triplets are taken in f64 in blocks of 256 (each from its first item, folded in order), so
/// a parallel version can repeat them. Here the order shows: triplet 0 has the loss 2⁴⁰, triplet 512 the
/// same loss with upstream −1, the other 766 the loss 2⁻¹⁴ (absorbed when added to ±2⁴⁰ in f64). A plain
/// running sum gives 255·2⁻¹⁴, the blocked sum 2⁻⁶ (block 1's 256 small losses survive).
#[test]
fn reductions_sum_in_blocks_of_256() {
    let n = 768;
    let big = |i: usize| i == 0 || i == 512;
    // a = n = 0, so each loss is d(a, p) = p² (margin 0): 2⁴⁰ for p = 2²⁰, 2⁻¹⁴ for p = 2⁻⁷.
    let p: Vec<f32> = (0..n)
        .map(|i| if big(i) { 1048576.0 } else { 0.0078125 })
        .collect();
    let z = vec![0.0f32; n];
    let up: Vec<f32> = (0..n).map(|i| if i == 512 { -1.0 } else { 1.0 }).collect();
    let plain: f64 = 255.0 * 2f64.powi(-14);
    for be in backends() {
        let loss = TripletLoss::new(0.0).reduction(Reduction::None).backend(be);
        let mut per = vec![0.0f32; n];
        let s = loss
            .call(Triplets::dense(&z, &p, &z, 1))
            .losses(&mut per)
            .upstream(Upstream::PerItem(&up))
            .run()
            .unwrap();
        let weighted = per
            .iter()
            .zip(&up)
            .map(|(&l, &u)| f64::from(l) * f64::from(u));
        let want = common::block_sum(weighted.clone());
        assert_eq!(want, 2f64.powi(-6));
        assert_eq!(weighted.fold(0.0f64, |t, x| t + x), plain); // a plain sum would differ
        assert_eq!(s.weighted_loss, 2f32.powi(-6), "{}", be.isa());
        assert_ne!(s.weighted_loss, plain as f32);
        assert_eq!(
            s.loss,
            common::block_sum(per.iter().map(|&l| f64::from(l))) as f32
        );
    }
}
