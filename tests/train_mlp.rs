//! The training example's network (`examples/train/mlp.rs`): its forward pass against an `f64` loop, its
//! backward pass against central differences of that `f64` forward, on batches whose row counts are and
//! are not multiples of the four-row blocks, with zeros in the input (the skipped terms); and the
//! optimisers' first steps (with the linear decay of the learning rate) against their formulas.

#[allow(dead_code)]
#[path = "../examples/train/mlp.rs"]
mod mlp;

use mlp::{Activations, Mlp, Optimizer, OptimizerKind, Rng};

/// The network in `f64`: `out = relu(x·w1 + b1)·w2 + b2`.
fn forward_f64(net: &[Vec<f64>; 4], dims: (usize, usize, usize), x: &[f64]) -> Vec<f64> {
    let (n_in, n_h, n_e) = dims;
    let [w1, b1, w2, b2] = net;
    let mut out = Vec::new();
    for xr in x.chunks_exact(n_in) {
        let h: Vec<f64> = (0..n_h)
            .map(|j| (b1[j] + (0..n_in).map(|k| xr[k] * w1[k * n_h + j]).sum::<f64>()).max(0.0))
            .collect();
        out.extend((0..n_e).map(|j| b2[j] + (0..n_h).map(|k| h[k] * w2[k * n_e + j]).sum::<f64>()));
    }
    out
}

fn params_f64(net: &mut Mlp) -> [Vec<f64>; 4] {
    net.params_mut()
        .map(|p| p.iter().map(|&v| f64::from(v)).collect())
}

#[test]
fn forward_and_backward_match_f64_and_central_differences() {
    let (n_in, n_h, n_e) = (11, 9, 5);
    for rows in [1usize, 4, 7, 9] {
        let mut rng = Rng::new(rows as u64);
        let mut net = Mlp::new(n_in, n_h, n_e, &mut rng);
        // Nonzero biases, so that the bias gradients and the ReLU's off units both occur.
        for b in [&mut net.l1.b, &mut net.l2.b] {
            b.iter_mut().for_each(|v| *v = rng.uniform() - 0.5);
        }
        // A third of the inputs are zero (the matrix products skip them).
        let x: Vec<f32> = (0..rows * n_in)
            .map(|_| {
                let u = rng.uniform();
                if u < 0.33 { 0.0 } else { 2.0 * u - 1.0 }
            })
            .collect();
        let r: Vec<f32> = (0..rows * n_e).map(|_| rng.uniform() - 0.5).collect();
        let mut act = Activations::default();
        net.forward(&x, &mut act);

        let p64 = params_f64(&mut net);
        let x64: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
        let out64 = forward_f64(&p64, (n_in, n_h, n_e), &x64);
        for (a, b) in act.out.iter().zip(&out64) {
            assert!(
                (f64::from(*a) - b).abs() <= 1e-5 * (1.0 + b.abs()),
                "{a} vs {b}"
            );
        }

        // L = Σ r ⊙ out, so the gradient at the outputs is r.
        let mut g = net.zero_grads();
        net.backward(&x, &act, &r, &mut g);
        let loss = |p: &[Vec<f64>; 4]| -> f64 {
            forward_f64(p, (n_in, n_h, n_e), &x64)
                .iter()
                .zip(&r)
                .map(|(o, &r)| o * f64::from(r))
                .sum()
        };
        let h = 1e-6;
        for (t, grad) in g.as_slices().iter().enumerate() {
            for (i, &gi) in grad.iter().enumerate() {
                let mut plus = p64.clone();
                plus[t][i] += h;
                let mut minus = p64.clone();
                minus[t][i] -= h;
                let fd = (loss(&plus) - loss(&minus)) / (2.0 * h);
                assert!(
                    (f64::from(gi) - fd).abs() <= 1e-4 * (1.0 + fd.abs()),
                    "rows {rows}, tensor {t}, element {i}: backward {gi}, central difference {fd}"
                );
            }
        }
    }
}

#[test]
fn optimisers_take_their_first_steps() {
    let mut rng = Rng::new(7);
    let mut net = Mlp::new(3, 2, 2, &mut rng);
    let before: Vec<Vec<f32>> = net.params_mut().iter().map(|p| p.to_vec()).collect();
    let mut g = net.zero_grads();
    g.w1.iter_mut()
        .enumerate()
        .for_each(|(i, v)| *v = i as f32 - 2.0);
    // Adam's first step is lr·sign(g) (bias-corrected m/√v = g/|g|), and nothing where g = 0.
    let mut adam = Optimizer::new(OptimizerKind::Adam, 0.01, 1, &mut net);
    adam.step(&mut net, &g);
    for (i, (&b, &a)) in before[0].iter().zip(&net.l1.w).enumerate() {
        let g = i as f32 - 2.0;
        let want = b - 0.01 * g.signum() * f32::from(g != 0.0);
        assert!((a - want).abs() < 1e-6, "adam w1[{i}]: {a} vs {want}");
    }
    assert_eq!(net.l1.b, before[1]);
    // SGD with momentum: v = g, then v = 0.9·g + g.
    let mut net = Mlp::new(3, 2, 2, &mut Rng::new(7));
    // Two steps of a four-step schedule: lr 0.1, then 0.075.
    let mut sgd = Optimizer::new(OptimizerKind::Sgd, 0.1, 4, &mut net);
    sgd.step(&mut net, &g);
    sgd.step(&mut net, &g);
    for (i, (&b, &a)) in before[0].iter().zip(&net.l1.w).enumerate() {
        let want = b - (i as f32 - 2.0) * (0.1 + 0.075 * 1.9);
        assert!((a - want).abs() < 1e-5, "sgd w1[{i}]: {a} vs {want}");
    }
}

#[test]
fn rng_is_seeded_and_in_range() {
    let (mut a, mut b) = (Rng::new(42), Rng::new(42));
    let xs: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
    assert!(xs.iter().all(|&x| x == b.next_u64()));
    assert_ne!(xs[0], Rng::new(43).next_u64());
    let mut r = Rng::new(1);
    assert!((0..10_000).all(|_| r.below(7) < 7));
    let u: Vec<f32> = (0..10_000).map(|_| r.uniform()).collect();
    assert!(u.iter().all(|&u| (0.0..1.0).contains(&u)));
    let mean = u.iter().map(|&u| f64::from(u)).sum::<f64>() / u.len() as f64;
    assert!((mean - 0.5).abs() < 0.02, "{mean}");
    let mut v: Vec<usize> = (0..50).collect();
    r.shuffle(&mut v);
    let mut s = v.clone();
    s.sort();
    assert_eq!(s, (0..50).collect::<Vec<_>>());
    assert_ne!(v, s);
}
