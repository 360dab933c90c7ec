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

/// Row L2-normalisation as a user would write it: iterator sums, one division per element
/// (`y = x / max(‖x‖, eps)`, the norms written too).
#[allow(dead_code)] // not every bench that includes this file normalises
pub fn normalize_forward(x: &[f32], y: &mut [f32], norms: &mut [f32], dim: usize) {
    let eps = triplet_simd::L2_NORMALIZE_EPS;
    for ((xr, yr), n) in x.chunks_exact(dim).zip(y.chunks_exact_mut(dim)).zip(norms) {
        *n = xr.iter().map(|v| v * v).sum::<f32>().sqrt();
        let c = n.max(eps);
        for (o, v) in yr.iter_mut().zip(xr) {
            *o = v / c;
        }
    }
}

/// Its backward: `dx = (dy − y·(y·dy)) / ‖x‖`, or `dy / eps` where the clamp is active.
#[allow(dead_code)]
pub fn normalize_backward(y: &[f32], norms: &[f32], dy: &[f32], dx: &mut [f32], dim: usize) {
    let eps = triplet_simd::L2_NORMALIZE_EPS;
    let rows = y.chunks_exact(dim).zip(dy.chunks_exact(dim));
    for (((yr, gr), o), &n) in rows.zip(dx.chunks_exact_mut(dim)).zip(norms) {
        if n <= eps {
            for (o, g) in o.iter_mut().zip(gr) {
                *o = g / eps;
            }
            continue;
        }
        let t: f32 = yr.iter().zip(gr).map(|(a, b)| a * b).sum();
        for ((o, a), g) in o.iter_mut().zip(yr).zip(gr) {
            *o = (g - a * t) / n;
        }
    }
}
