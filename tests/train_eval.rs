//! The training example's evaluation (`examples/train/calls.rs`, `examples/train/plot.rs`): recall@1 on
//! made-up rows (leave-one-out, against a gallery, ties, NaN, gallery blocks), the same on every backend,
//! and the PCA projection on points with known principal axes.

#[allow(dead_code)]
#[path = "../examples/train/calls.rs"]
mod calls;
#[allow(dead_code)]
#[path = "../examples/train/plot.rs"]
mod plot;

use triplet_simd::Backend;

#[test]
fn recall_at_1_leave_one_out_and_against_a_gallery() {
    let b = Backend::detect();
    // Four points on a line: 0 and 1 close (class 0), 5 and 9 (class 1, but 5 is nearer to 1 than to 9).
    let x = [0.0f32, 1.0, 5.0, 9.0];
    let labels = [0u32, 0, 1, 1];
    // 0 → 1 hit, 1 → 0 hit, 5 → 1 (4 < 4? no: |5−1|² = 16, |5−9|² = 16, tie: the lowest row, 1) miss,
    // 9 → 5 hit.
    let r = calls::recall_at_1(b, 1, (&x, &labels), None).unwrap();
    assert_eq!(r, 0.75);
    // Against a gallery, a query's own value is allowed (nothing is left out).
    let g = [0.0f32, 9.0];
    let gl = [1u32, 0];
    let r = calls::recall_at_1(b, 1, (&x, &labels), Some((&g, &gl))).unwrap();
    // 0 → g0 (label 1) miss, 1 → g0 miss, 5 → g0 (25 < 16? no) g1 (16) label 0 miss, 9 → g1 miss.
    assert_eq!(r, 0.0);
    // A NaN query is a miss; a NaN gallery row is never the nearest.
    let x = [0.0f32, f32::NAN, 0.5];
    let r = calls::recall_at_1(b, 1, (&x, &[0, 0, 0]), None).unwrap();
    assert_eq!(r, 2.0 / 3.0);
    // No queries: 0.
    assert_eq!(calls::recall_at_1(b, 3, (&[], &[]), None).unwrap(), 0.0);
    // Wrong lengths are the crate's errors, not panics.
    assert!(calls::recall_at_1(b, 2, (&[0.0; 3], &[0, 1]), None).is_err());
}

#[test]
fn recall_at_1_spans_gallery_blocks_and_is_the_same_on_every_backend() {
    // 300 rows of 5 (more than four blocks of 64), labels by row mod 7, values from a small LCG.
    let mut s = 12345u32;
    let x: Vec<f32> = (0..300 * 5)
        .map(|_| {
            s = s.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (s >> 16) as f32 / 65536.0
        })
        .collect();
    let labels: Vec<u32> = (0..300).map(|i| i % 7).collect();
    // The brute-force answer in f64.
    let mut hits = 0;
    for i in 0..300 {
        let d = |j: usize| -> f64 {
            (0..5)
                .map(|k| f64::from(x[i * 5 + k] - x[j * 5 + k]).powi(2))
                .sum()
        };
        let nn = (0..300)
            .filter(|&j| j != i)
            .min_by(|&a, &b| d(a).total_cmp(&d(b)))
            .unwrap();
        hits += usize::from(labels[nn] == labels[i]);
    }
    let want = hits as f64 / 300.0;
    for b in Backend::all() {
        let r = calls::recall_at_1(b, 5, (&x, &labels), None).unwrap();
        assert_eq!(r, want, "{}", b.isa());
    }
}

#[test]
fn pca_finds_the_two_leading_axes() {
    // An 8×8 grid: spread 10 along (1, 1, 0)/√2, 3 along (0, 0, 1) and a ±0.1 checkerboard along
    // (1, −1, 0)/√2, around (5, 5, 5). The three coordinates are exactly uncorrelated, so the principal
    // axes are those three directions, in that order.
    let h = std::f32::consts::FRAC_1_SQRT_2;
    let (mut pts, mut want) = (Vec::new(), Vec::new());
    for i in 0..8 {
        for j in 0..8 {
            let a = 10.0 * (i as f32 - 3.5) / 3.5;
            let b = 3.0 * (j as f32 - 3.5) / 3.5;
            let c = if (i + j) % 2 == 0 { 0.1 } else { -0.1 };
            pts.extend([5.0 + h * a + h * c, 5.0 + h * a - h * c, 5.0 + b]);
            want.push((a, b));
        }
    }
    let p = plot::pca_2d(&pts, 3);
    assert_eq!(p.len(), 64);
    // Each axis's sign is arbitrary: compare with the sign of the first point's.
    let s1 = (p[0].0 / want[0].0).signum();
    let s2 = (p[0].1 / want[0].1).signum();
    for (i, (&(p1, p2), &(a, b))) in p.iter().zip(&want).enumerate() {
        assert!((s1 * p1 - a).abs() < 1e-3, "point {i}: {p1} vs {a}");
        assert!((s2 * p2 - b).abs() < 1e-3, "point {i}: {p2} vs {b}");
    }
}
