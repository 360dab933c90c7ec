//! The loops a user would write without this crate (the "naive" contenders).

// Each bench uses some of these.
#![allow(dead_code)]

/// `Σ (x − y)²` by an iterator sum.
pub fn sq_l2(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// The triplet loss (squared distance, hinge, `Sum`) and its gradients: distances by iterator sums,
/// then the three gradient rows.
pub fn triplet(
    [a, p, n]: [&[f32]; 3],
    [ga, gp, gn]: [&mut [f32]; 3],
    d: usize,
    margin: f32,
) -> f32 {
    let mut loss = 0.0;
    for i in 0..a.len() / d {
        let r = i * d..(i + 1) * d;
        let (ar, pr, nr) = (&a[r.clone()], &p[r.clone()], &n[r.clone()]);
        let v = sq_l2(ar, pr) - sq_l2(ar, nr) + margin;
        let (ga, gp, gn) = (&mut ga[r.clone()], &mut gp[r.clone()], &mut gn[r]);
        if v > 0.0 {
            loss += v;
            for k in 0..d {
                ga[k] = 2.0 * (nr[k] - pr[k]);
                gp[k] = 2.0 * (pr[k] - ar[k]);
                gn[k] = 2.0 * (ar[k] - nr[k]);
            }
        } else {
            ga.fill(0.0);
            gp.fill(0.0);
            gn.fill(0.0);
        }
    }
    loss
}
