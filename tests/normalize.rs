//! Row L2-normalisation: exact agreement of every backend and emulated width (forward, backward, both
//! grad modes, the in-place forms), strided outputs whose padding stays untouched, the f64 oracle
//! within its stated bounds, gradients against central finite differences, the special values,
//! errors, and PyTorch's `F.normalize` (fixtures from tools/normalize_fixtures.py).

mod common;

use common::{BOUNDARY_DIMS, Block, Values, backends, gen_dim, gen_value, same, same_all};
use quickcheck::{Arbitrary, Gen, QuickCheck};
use triplet_simd::{Backend, Error, GradMode, L2_NORMALIZE_EPS, Rows, RowsMut, reference};

/// A NaN with a payload no computation produces: marks values a call must not write.
const SENTINEL: f32 = f32::from_bits(0x7fc0_5a5a);

/// A strided output: `rows × dim` with `stride`, at `offset` in a buffer whose other values are `fill`.
#[derive(Clone, Debug)]
struct Out {
    buf: Vec<f32>,
    offset: usize,
    rows: usize,
    dim: usize,
    stride: usize,
}

impl Out {
    fn new(g: &mut Gen, rows: usize, dim: usize, fill: f32) -> Out {
        let stride = dim + usize::arbitrary(g) % 3 * (1 + usize::arbitrary(g) % 4);
        let offset = usize::arbitrary(g) % 3;
        let len = offset
            + if rows == 0 {
                0
            } else {
                (rows - 1) * stride + dim
            }
            + 2;
        Out {
            buf: vec![fill; len],
            offset,
            rows,
            dim,
            stride,
        }
    }
    fn view(&mut self) -> RowsMut<'_> {
        let end = self.buf.len() - 2;
        RowsMut::new(
            &mut self.buf[self.offset..end],
            self.rows,
            self.dim,
            self.stride,
        )
        .unwrap()
    }
    fn is_row_value(&self, i: usize) -> bool {
        i >= self.offset
            && (i - self.offset) / self.stride.max(1) < self.rows
            && (i - self.offset) % self.stride.max(1) < self.dim
    }
    /// Every value outside the rows still has the bits of `fill`.
    fn gaps_untouched(&self, fill: f32) -> bool {
        (0..self.buf.len())
            .filter(|&i| !self.is_row_value(i))
            .all(|i| self.buf[i].to_bits() == fill.to_bits())
    }
    fn rows_dense(&self) -> Vec<f32> {
        (0..self.rows)
            .flat_map(|r| {
                let s = self.offset + r * self.stride;
                self.buf[s..s + self.dim].to_vec()
            })
            .collect()
    }
}

fn dense(b: &Block) -> Vec<f32> {
    (0..b.rows).flat_map(|r| b.row(r).to_vec()).collect()
}

#[derive(Clone, Debug)]
struct Case {
    x: Block,
    dy: Block,
    eps: f32,
    y: Out,
    dx: Out,
}

impl Arbitrary for Case {
    fn arbitrary(g: &mut Gen) -> Self {
        let dim = gen_dim(g).min(700);
        let rows = usize::arbitrary(g) % 6;
        let vals = *g
            .choose(&[Values::Unit, Values::Special, Values::Wide])
            .unwrap();
        let eps = *g
            .choose(&[L2_NORMALIZE_EPS, 0.0, 1e-30, 0.5, 2.0, 1e10])
            .unwrap();
        let mut x = Block::random(g, rows, dim, vals);
        // Some all-zero rows and some rows of tiny values (the eps branch).
        for r in 0..rows {
            let s = x.offset + r * x.stride;
            match u8::arbitrary(g) % 8 {
                0 => x.buf[s..s + dim].fill(0.0),
                1 => x.buf[s..s + dim].iter_mut().for_each(|v| *v *= 1e-20),
                _ => {}
            }
        }
        let dy = Block::random(g, rows, dim, Values::Unit);
        let mut dx = Out::new(g, rows, dim, SENTINEL);
        // Accumulate needs defined values in the rows.
        for i in 0..dx.buf.len() {
            if dx.is_row_value(i) {
                dx.buf[i] = gen_value(g, Values::Unit);
            }
        }
        Case {
            x,
            dy,
            eps,
            y: Out::new(g, rows, dim, SENTINEL),
            dx,
        }
    }
}

/// What one backend computed: y and norms (out of place and in place), and the gradient in each form.
struct Outcome {
    y: Out,
    norms: Vec<f32>,
    y_in_place: Vec<f32>,
    norms_in_place: Vec<f32>,
    dx_overwrite: Out,
    dx_accumulate: Out,
    dx_in_place: Vec<f32>,
}

fn run(be: Backend, c: &Case) -> Outcome {
    let (n, d) = (c.x.rows, c.x.dim);
    let mut y = c.y.clone();
    let mut norms = vec![SENTINEL; n];
    be.l2_normalize_rows(c.x.view(), y.view(), Some(&mut norms), c.eps)
        .unwrap();
    let mut x2 = c.x.clone();
    let mut norms_in_place = vec![SENTINEL; n];
    let end = x2.buf.len();
    be.l2_normalize_rows_in_place(
        RowsMut::new(&mut x2.buf[x2.offset..end], n, d, x2.stride).unwrap(),
        Some(&mut norms_in_place),
        c.eps,
    )
    .unwrap();
    let y_dense = y.rows_dense();
    let yv = Rows::dense(&y_dense, n, d).unwrap();
    let mut grads = Vec::new();
    for mode in [GradMode::Overwrite, GradMode::Accumulate] {
        let mut dx = c.dx.clone();
        be.l2_normalize_rows_backward(yv, &norms, c.dy.view(), dx.view(), c.eps, mode)
            .unwrap();
        grads.push(dx);
    }
    let mut g = dense(&c.dy);
    be.l2_normalize_rows_backward_in_place(
        yv,
        &norms,
        RowsMut::dense(&mut g, n, d).unwrap(),
        c.eps,
    )
    .unwrap();
    let dx_accumulate = grads.pop().unwrap();
    Outcome {
        y,
        norms,
        y_in_place: dense(&x2),
        norms_in_place,
        dx_overwrite: grads.pop().unwrap(),
        dx_accumulate,
        dx_in_place: g,
    }
}

#[test]
fn every_backend_gives_the_same_bits_and_the_forms_agree() {
    fn prop(c: Case) -> bool {
        let bes = backends();
        let o0 = run(bes[0], &c);
        // The in-place forms give the out-of-place bits; accumulate adds the overwritten gradient.
        let acc_ok = {
            let (ov, acc, init) = (
                o0.dx_overwrite.rows_dense(),
                o0.dx_accumulate.rows_dense(),
                c.dx.rows_dense(),
            );
            ov.iter()
                .zip(&acc)
                .zip(&init)
                .all(|((&o, &a), &i)| same(a, i + o))
        };
        let forms = same_all(&o0.y_in_place, &o0.y.rows_dense())
            && same_all(&o0.norms_in_place, &o0.norms)
            && same_all(&o0.dx_in_place, &o0.dx_overwrite.rows_dense())
            && acc_ok
            && o0.y.gaps_untouched(SENTINEL)
            && o0.dx_overwrite.gaps_untouched(SENTINEL)
            && o0.dx_accumulate.gaps_untouched(SENTINEL);
        forms
            && bes[1..].iter().all(|&be| {
                let o = run(be, &c);
                same_all(&o.y.buf, &o0.y.buf)
                    && same_all(&o.norms, &o0.norms)
                    && same_all(&o.y_in_place, &o0.y_in_place)
                    && same_all(&o.dx_overwrite.buf, &o0.dx_overwrite.buf)
                    && same_all(&o.dx_accumulate.buf, &o0.dx_accumulate.buf)
                    && same_all(&o.dx_in_place, &o0.dx_in_place)
            })
    }
    QuickCheck::new()
        .tests(300)
        .quickcheck(prop as fn(Case) -> bool);
}

/// Every dim around the lane boundaries, rows that are NaN, zero, tiny, huge: the backends agree.
#[test]
fn every_boundary_dim_and_special_row_agrees_across_backends() {
    let mut g = Gen::new(100);
    for &d in &BOUNDARY_DIMS {
        let rows = [
            (0..d).map(|i| (i as f32 * 0.37).sin()).collect::<Vec<_>>(),
            vec![0.0; d],
            vec![-0.0; d],
            (0..d).map(|i| 1e-25 * (i as f32 - 3.5)).collect(),
            (0..d).map(|i| 3e19 * (i as f32 - 1.5)).collect(),
            (0..d)
                .map(|i| if i == d / 2 { f32::NAN } else { 1.0 })
                .collect(),
            (0..d)
                .map(|i| if i == d / 3 { f32::INFINITY } else { -2.0 })
                .collect(),
        ];
        let x: Vec<f32> = rows.concat();
        let n = rows.len();
        let dy: Vec<f32> = (0..n * d)
            .map(|_| gen_value(&mut g, Values::Unit))
            .collect();
        for eps in [L2_NORMALIZE_EPS, 0.0] {
            let mut first: Option<(Vec<f32>, Vec<f32>, Vec<f32>)> = None;
            for be in backends() {
                let (mut y, mut norms, mut dx) = (vec![0.0; n * d], vec![0.0; n], vec![0.0; n * d]);
                be.l2_normalize_rows(
                    Rows::dense(&x, n, d).unwrap(),
                    RowsMut::dense(&mut y, n, d).unwrap(),
                    Some(&mut norms),
                    eps,
                )
                .unwrap();
                be.l2_normalize_rows_backward(
                    Rows::dense(&y, n, d).unwrap(),
                    &norms,
                    Rows::dense(&dy, n, d).unwrap(),
                    RowsMut::dense(&mut dx, n, d).unwrap(),
                    eps,
                    GradMode::Overwrite,
                )
                .unwrap();
                match &first {
                    None => first = Some((y, norms, dx)),
                    Some((y0, n0, dx0)) => assert!(
                        same_all(&y, y0) && same_all(&norms, n0) && same_all(&dx, dx0),
                        "{} differs from {} at d = {d}, eps = {eps}",
                        be.isa(),
                        backends()[0].isa()
                    ),
                }
            }
        }
    }
}

/// The forward is within `reference::l2_normalize_bound` of the f64 oracle, for every row whose sum of
/// squares stays below `f32::MAX`; the backward within the per-element bound of its oracle.
#[test]
fn forward_and_backward_are_within_the_oracle_bounds() {
    fn prop(c: Case) -> bool {
        let (n, d) = (c.x.rows, c.x.dim);
        let be = Backend::detect();
        let o = run(be, &c);
        let y = o.y.rows_dense();
        let mut exact = vec![0.0f64; n * d];
        let mut exact_norms = vec![0.0f64; n];
        reference::l2_normalize_rows(c.x.view(), c.eps, &mut exact, Some(&mut exact_norms))
            .unwrap();
        let tiny = f64::from(f32::from_bits(1));
        for r in 0..n {
            let row = c.x.row(r);
            if !row.iter().all(|v| v.is_finite()) {
                continue;
            }
            let s = exact_norms[r] * exact_norms[r];
            if s >= f64::from(f32::MAX) {
                // Documented: the norm overflows to inf and y is 0.
                if !(o.norms[r] == f32::INFINITY && y[r * d..(r + 1) * d].iter().all(|&v| v == 0.0))
                {
                    return false;
                }
                continue;
            }
            if c.eps == 0.0 && o.norms[r] == 0.0 {
                // Documented: with eps = 0, a row whose squares all underflow divides by 0.
                if !(0..d).all(|i| same(y[r * d + i], row[i] / 0.0)) {
                    return false;
                }
                continue;
            }
            let b = reference::l2_normalize_bound(d, s);
            if b.is_infinite() {
                continue; // underflow: no bound claimed (documented)
            }
            if (f64::from(o.norms[r]) - exact_norms[r]).abs() > b * exact_norms[r] + tiny {
                eprintln!("norm {} vs {} (d = {d})", o.norms[r], exact_norms[r]);
                return false;
            }
            for i in 0..d {
                let (f, e) = (f64::from(y[r * d + i]), exact[r * d + i]);
                if (f - e).abs() > b * e.abs() + tiny {
                    eprintln!("y {f:e} vs {e:e}, bound {b:e}, d = {d}, eps = {}", c.eps);
                    return false;
                }
            }
        }
        // Backward, from the fast y and norms (finite ones only).
        let yv = Rows::dense(&y, n, d).unwrap();
        let (mut gx, mut bound) = (vec![0.0f64; n * d], vec![0.0f64; n * d]);
        reference::l2_normalize_rows_backward(
            yv,
            &o.norms,
            c.dy.view(),
            c.eps,
            &mut gx,
            Some(&mut bound),
        )
        .unwrap();
        let dx = o.dx_overwrite.rows_dense();
        for i in 0..n * d {
            let r = i / d.max(1);
            // A clamped row (`norm ≤ eps`, eps > 0) is `dy / eps` whatever its y holds.
            let clamped = c.eps > 0.0 && o.norms[r] <= c.eps;
            let finite = clamped
                || (y[r * d..(r + 1) * d].iter().all(|v| v.is_finite())
                    && o.norms[r].is_finite()
                    && (o.norms[r] > c.eps || c.eps > 0.0));
            if !finite || !gx[i].is_finite() || gx[i].abs() > f64::from(f32::MAX) / 2.0 {
                continue;
            }
            if (f64::from(dx[i]) - gx[i]).abs() > bound[i] {
                eprintln!(
                    "dx {:e} vs {:e}, bound {:e}, d = {d}, y {:e}, dy {:e}, norm {:e}, eps {:e}",
                    dx[i],
                    gx[i],
                    bound[i],
                    y[i],
                    dense(&c.dy)[i],
                    o.norms[r],
                    c.eps
                );
                return false;
            }
        }
        true
    }
    QuickCheck::new()
        .tests(300)
        .quickcheck(prop as fn(Case) -> bool);
}

/// `L(x) = Σ w·y(x)` with the f64 oracle's forward; the fast backward against central differences.
#[test]
fn gradients_equal_central_differences_of_the_oracle() {
    let be = Backend::detect();
    for (d, scale, eps) in [
        (1usize, 1.0f32, L2_NORMALIZE_EPS),
        (3, 1.0, L2_NORMALIZE_EPS),
        (17, 0.5, L2_NORMALIZE_EPS),
        (64, 2.0, L2_NORMALIZE_EPS),
        (129, 1.0, 0.0),
        (5, 1e-3, 0.5), // every row below eps: the clamp is active, dx = dy / eps
        (7, 10.0, 1.0),
    ] {
        let n = 3;
        let x: Vec<f32> = (0..n * d)
            .map(|i| scale * (((i * 37 + 11) % 23) as f32 - 11.5) / 8.0)
            .collect();
        let w: Vec<f32> = (0..n * d)
            .map(|i| (((i * 17 + 5) % 29) as f32 - 14.0) / 16.0)
            .collect();
        let (mut y, mut norms, mut dx) = (vec![0.0; n * d], vec![0.0; n], vec![0.0; n * d]);
        be.l2_normalize_rows(
            Rows::dense(&x, n, d).unwrap(),
            RowsMut::dense(&mut y, n, d).unwrap(),
            Some(&mut norms),
            eps,
        )
        .unwrap();
        be.l2_normalize_rows_backward(
            Rows::dense(&y, n, d).unwrap(),
            &norms,
            Rows::dense(&w, n, d).unwrap(),
            RowsMut::dense(&mut dx, n, d).unwrap(),
            eps,
            GradMode::Overwrite,
        )
        .unwrap();
        let loss = |x: &[f64]| -> f64 {
            // The oracle takes f32 rows; the f64 loss is taken directly here, by the same formula.
            let mut total = 0.0;
            for r in 0..n {
                let row = &x[r * d..(r + 1) * d];
                let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
                let c = norm.max(f64::from(eps));
                for i in 0..d {
                    total += f64::from(w[r * d + i]) * row[i] / c;
                }
            }
            total
        };
        let x64: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
        let gmax = dx.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        for i in 0..n * d {
            let h = 1e-6 * x64[i].abs().max(1e-3 * f64::from(scale));
            let (mut p, mut m) = (x64.clone(), x64.clone());
            p[i] += h;
            m[i] -= h;
            let fd = (loss(&p) - loss(&m)) / (2.0 * h);
            assert!(
                (f64::from(dx[i]) - fd).abs() <= 1e-4 * f64::from(gmax) + 1e-6 * fd.abs(),
                "d = {d}, eps = {eps}, i = {i}: dx = {:e}, central difference {fd:e}",
                dx[i]
            );
        }
        // The oracle's gradient from the same inputs, and the documented clamp formula.
        let mut gx = vec![0.0f64; n * d];
        reference::l2_normalize_rows_backward(
            Rows::dense(&y, n, d).unwrap(),
            &norms,
            Rows::dense(&w, n, d).unwrap(),
            eps,
            &mut gx,
            None,
        )
        .unwrap();
        for i in 0..n * d {
            assert!((f64::from(dx[i]) - gx[i]).abs() <= 1e-6 * f64::from(gmax) + 1e-30);
            if norms[i / d] <= eps {
                assert_eq!(dx[i], w[i] / eps);
            }
        }
    }
}

fn forward(x: &[f32], d: usize, eps: f32) -> (Vec<f32>, Vec<f32>) {
    let n = x.len() / d.max(1);
    let (mut y, mut norms) = (vec![SENTINEL; x.len()], vec![SENTINEL; n]);
    triplet_simd::l2_normalize_rows(
        Rows::dense(x, n, d).unwrap(),
        RowsMut::dense(&mut y, n, d).unwrap(),
        Some(&mut norms),
        eps,
    )
    .unwrap();
    (y, norms)
}

fn backward(y: &[f32], norms: &[f32], dy: &[f32], d: usize, eps: f32) -> Vec<f32> {
    let n = norms.len();
    let mut dx = vec![SENTINEL; y.len()];
    triplet_simd::l2_normalize_rows_backward(
        Rows::dense(y, n, d).unwrap(),
        norms,
        Rows::dense(dy, n, d).unwrap(),
        RowsMut::dense(&mut dx, n, d).unwrap(),
        eps,
        GradMode::Overwrite,
    )
    .unwrap();
    dx
}

/// On a clamped row the oracle's backward is `dy / eps`, as documented and as the fast path gives,
/// even where `y` is NaN or infinite (the forward of a zero row with `eps = 0` writes NaN there).
#[test]
fn the_oracle_backward_of_a_clamped_row_ignores_y() {
    for (y, norm, eps) in [
        ([f32::NAN, 1.0], 0.5, 1.0),
        ([f32::INFINITY, f32::NEG_INFINITY], 1.0, 1.0),
        ([f32::NAN, f32::NAN], 0.0, 0.25),
    ] {
        let dy = [2.0f32, -3.0];
        let fast = backward(&y, &[norm], &dy, 2, eps);
        let (mut exact, mut bound) = ([0.0f64; 2], [0.0f64; 2]);
        reference::l2_normalize_rows_backward(
            Rows::dense(&y, 1, 2).unwrap(),
            &[norm],
            Rows::dense(&dy, 1, 2).unwrap(),
            eps,
            &mut exact,
            Some(&mut bound),
        )
        .unwrap();
        let want = [f64::from(dy[0] / eps), f64::from(dy[1] / eps)];
        assert_eq!(exact, want, "y {y:?}, norm {norm}, eps {eps}");
        assert_eq!(fast.iter().map(|&v| f64::from(v)).collect::<Vec<_>>(), want);
        assert!(bound.iter().all(|b| b.is_finite() && *b > 0.0), "{bound:?}");
    }
}

#[test]
fn special_values_follow_the_documented_rules() {
    let e = L2_NORMALIZE_EPS;
    // D = 1: the sign; a zero stays zero.
    assert_eq!(forward(&[-3.0, 0.5, 0.0], 1, e).0, [-1.0, 1.0, 0.0]);
    // D = 0: nothing to write, the norms are 0.
    let mut norms = [SENTINEL; 4];
    triplet_simd::l2_normalize_rows(
        Rows::dense(&[], 4, 0).unwrap(),
        RowsMut::dense(&mut [], 4, 0).unwrap(),
        Some(&mut norms),
        e,
    )
    .unwrap();
    assert_eq!(norms, [0.0; 4]);
    // A zero row: y = 0, dx = dy / eps (the clamp's gradient is 0).
    let (y, n) = forward(&[0.0, -0.0, 0.0], 3, e);
    assert_eq!(n, [0.0]);
    assert!(y.iter().all(|&v| v == 0.0));
    assert_eq!(
        backward(&y, &n, &[1.0, -2.0, 0.5], 3, e),
        [1e12, -2e12, 0.5e12]
    );
    // Tiny values: the norm underflows (1e-30² is below 2^-149) and the clamp divides by eps.
    let (y, n) = forward(&[1e-30, 0.0], 2, e);
    assert_eq!((n[0], y[0]), (0.0, 1e-30 / e));
    // ... and with eps = 0, as PyTorch: x / 0 = inf, 0 / 0 = NaN; the gradient is dy / 0.
    let (y, n) = forward(&[1e-30, 0.0], 2, 0.0);
    assert!(y[0] == f32::INFINITY && y[1].is_nan());
    assert_eq!(
        backward(&[0.0, 0.0], &n, &[1.0, -1.0], 2, 0.0),
        [f32::INFINITY, f32::NEG_INFINITY]
    );
    // The norm exactly at eps: the clamp is active (PyTorch's clamp_min passes no gradient there).
    let (y, n) = forward(&[3.0, 4.0], 2, 5.0);
    assert_eq!((n[0], y[0], y[1]), (5.0, 0.6, 0.8));
    assert_eq!(backward(&y, &n, &[1.0, 2.0], 2, 5.0), [0.2, 0.4]);
    // ... and just above it the full formula: (dy − y·(y·dy)) / ‖x‖.
    let dx = backward(&y, &n, &[1.0, 2.0], 2, 4.999_999_5);
    assert!(
        (dx[0] + 0.064).abs() < 1e-7 && (dx[1] - 0.048).abs() < 1e-7,
        "{dx:?}"
    );
    // Huge rows: the sum of squares overflows, the norm is inf and y = 0, dx = 0 (as PyTorch).
    let (y, n) = forward(&[1e20, 1e20, 3e19, 1.0], 2, e);
    assert_eq!(n, [f32::INFINITY, f32::INFINITY]);
    assert!(y.iter().all(|&v| v == 0.0));
    assert!(
        backward(&y, &n, &[1.0, 2.0, 3.0, 4.0], 2, e)
            .iter()
            .all(|&v| v == 0.0)
    );
    // Just below the overflow: exact to the bound.
    let (y, _) = forward(&[1e19, 1e19], 2, e);
    assert!((y[0] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-7);
    // NaN in a row: the whole row (y and dx) is NaN, other rows are unaffected.
    let (y, n) = forward(&[f32::NAN, 1.0, 3.0, 4.0], 2, e);
    assert!(y[0].is_nan() && y[1].is_nan() && n[0].is_nan());
    assert_eq!(&y[2..], [0.6, 0.8]);
    let dx = backward(&y, &n, &[1.0; 4], 2, e);
    assert!(dx[0].is_nan() && dx[1].is_nan() && dx[2].is_finite());
    // inf: the norm is inf, inf / inf = NaN at that element, 0 elsewhere; the gradient is NaN.
    let (y, n) = forward(&[f32::INFINITY, 1.0], 2, e);
    assert!(n[0] == f32::INFINITY && y[0].is_nan() && y[1] == 0.0);
    assert!(backward(&y, &n, &[1.0; 2], 2, e).iter().all(|v| v.is_nan()));
    // A NaN norm passed to the backward never takes the eps branch.
    assert!(
        backward(&[0.5, 0.5], &[f32::NAN], &[1.0; 2], 2, e)
            .iter()
            .all(|v| v.is_nan())
    );
}

#[test]
fn bad_arguments_are_errors_and_write_nothing() {
    let be = Backend::detect();
    let x = [1.0f32; 6];
    let xv = Rows::dense(&x, 2, 3).unwrap();
    for eps in [f32::NAN, f32::INFINITY, -1e-12, f32::NEG_INFINITY] {
        let mut y = [SENTINEL; 6];
        let r = be.l2_normalize_rows(xv, RowsMut::dense(&mut y, 2, 3).unwrap(), None, eps);
        assert!(
            matches!(r, Err(Error::InvalidParameter { name: "eps", .. })),
            "{r:?}"
        );
        let mut g = [SENTINEL; 6];
        let r = be.l2_normalize_rows_backward_in_place(
            xv,
            &[1.0; 2],
            RowsMut::dense(&mut g, 2, 3).unwrap(),
            eps,
        );
        assert!(matches!(r, Err(Error::InvalidParameter { .. })), "{r:?}");
        let mut xm = x;
        let r = be.l2_normalize_rows_in_place(RowsMut::dense(&mut xm, 2, 3).unwrap(), None, eps);
        assert!(r.is_err() && xm == x);
        assert!(
            y.iter()
                .chain(&g)
                .all(|v| v.to_bits() == SENTINEL.to_bits())
        );
        assert!(reference::l2_normalize_rows(xv, eps, &mut [0.0; 6], None).is_err());
    }
    let mismatch = |r: Result<(), Error>, expected: usize, found: usize| {
        assert!(
            matches!(r, Err(Error::LengthMismatch { expected: e, found: f, .. }) if e == expected && f == found),
            "{r:?}"
        );
    };
    let mut y = [SENTINEL; 9];
    let mut norms = [SENTINEL; 3];
    // y with other rows / dim, norms of the wrong length.
    mismatch(
        be.l2_normalize_rows(xv, RowsMut::dense(&mut y, 3, 3).unwrap(), None, 0.0),
        2,
        3,
    );
    mismatch(
        be.l2_normalize_rows(xv, RowsMut::dense(&mut y[..4], 2, 2).unwrap(), None, 0.0),
        3,
        2,
    );
    mismatch(
        be.l2_normalize_rows(
            xv,
            RowsMut::dense(&mut y[..6], 2, 3).unwrap(),
            Some(&mut norms),
            0.0,
        ),
        2,
        3,
    );
    let mut xm = x;
    mismatch(
        be.l2_normalize_rows_in_place(
            RowsMut::dense(&mut xm, 2, 3).unwrap(),
            Some(&mut norms[..1]),
            0.0,
        ),
        2,
        1,
    );
    assert!(
        y.iter()
            .chain(&norms)
            .all(|v| v.to_bits() == SENTINEL.to_bits())
            && xm == x
    );
    // Backward: norms, grad_y and grad_x shapes.
    let dy = [1.0f32; 9];
    let mut dx = [SENTINEL; 9];
    let dyv = Rows::dense(&dy[..6], 2, 3).unwrap();
    let m = GradMode::Accumulate;
    mismatch(
        be.l2_normalize_rows_backward(
            xv,
            &[1.0; 3],
            dyv,
            RowsMut::dense(&mut dx[..6], 2, 3).unwrap(),
            0.0,
            m,
        ),
        2,
        3,
    );
    mismatch(
        be.l2_normalize_rows_backward(
            xv,
            &[1.0; 2],
            Rows::dense(&dy, 3, 3).unwrap(),
            RowsMut::dense(&mut dx[..6], 2, 3).unwrap(),
            0.0,
            m,
        ),
        2,
        3,
    );
    mismatch(
        be.l2_normalize_rows_backward(
            xv,
            &[1.0; 2],
            dyv,
            RowsMut::dense(&mut dx[..4], 2, 2).unwrap(),
            0.0,
            m,
        ),
        3,
        2,
    );
    mismatch(
        be.l2_normalize_rows_backward_in_place(
            xv,
            &[1.0; 2],
            RowsMut::dense(&mut dx, 3, 3).unwrap(),
            0.0,
        ),
        2,
        3,
    );
    assert!(dx.iter().all(|v| v.to_bits() == SENTINEL.to_bits()));
    // The oracles check their buffers too.
    mismatch(
        reference::l2_normalize_rows(xv, 0.0, &mut [0.0; 5], None),
        6,
        5,
    );
    mismatch(
        reference::l2_normalize_rows_backward(
            xv,
            &[1.0; 2],
            dyv,
            0.0,
            &mut [0.0; 6],
            Some(&mut [0.0; 2]),
        ),
        6,
        2,
    );
}

/// PyTorch `F.normalize(x, p=2, dim=1, eps)` and its autograd gradient (tests/data/normalize_torch.txt,
/// written by tools/normalize_fixtures.py): y within the oracle bound plus a PyTorch-rounding allowance
/// of 4 ulps, dx within 1e-5·max|dy| / max(‖x‖, eps) of its row.
#[test]
fn matches_pytorch_fixtures() {
    let text = include_str!("data/normalize_torch.txt");
    let mut cases = 0;
    let mut it = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .peekable();
    while let Some(line) = it.next() {
        let mut head = line.split_whitespace();
        assert_eq!(head.next(), Some("case"), "{line}");
        let name = head.next().unwrap().to_string();
        let (n, d): (usize, usize) = (
            head.next().unwrap().parse().unwrap(),
            head.next().unwrap().parse().unwrap(),
        );
        let eps: f32 = head.next().unwrap().parse().unwrap();
        let mut field = |key: &str| -> Vec<f32> {
            let l = it.next().unwrap();
            let mut p = l.split_whitespace();
            assert_eq!(p.next(), Some(key), "{name}: {l}");
            p.map(|v| v.parse::<f32>().unwrap()).collect()
        };
        let (x, dy, y_t, dx_t) = (field("x"), field("dy"), field("y"), field("dx"));
        assert!(x.len() == n * d && dy.len() == n * d && y_t.len() == n * d && dx_t.len() == n * d);
        for be in backends() {
            let (mut y, mut norms, mut dx) = (vec![0.0; n * d], vec![0.0; n], vec![0.0; n * d]);
            be.l2_normalize_rows(
                Rows::dense(&x, n, d).unwrap(),
                RowsMut::dense(&mut y, n, d).unwrap(),
                Some(&mut norms),
                eps,
            )
            .unwrap();
            be.l2_normalize_rows_backward(
                Rows::dense(&y, n, d).unwrap(),
                &norms,
                Rows::dense(&dy, n, d).unwrap(),
                RowsMut::dense(&mut dx, n, d).unwrap(),
                eps,
                GradMode::Overwrite,
            )
            .unwrap();
            for r in 0..n {
                let s: f64 = x[r * d..(r + 1) * d]
                    .iter()
                    .map(|&v| f64::from(v).powi(2))
                    .sum();
                let b = reference::l2_normalize_bound(d, s) + 4.0 * f64::from(f32::EPSILON);
                // The gradient's rounding scales with |dy| / max(‖x‖, eps), not with |dx| (which cancels).
                let c = if norms[r] <= eps { eps } else { norms[r] };
                let gmax = dy[r * d..(r + 1) * d]
                    .iter()
                    .fold(0.0f32, |m, v| m.max(v.abs()))
                    / c;
                for i in r * d..(r + 1) * d {
                    let (got, want) = (f64::from(y[i]), f64::from(y_t[i]));
                    let y_ok = same(y[i], y_t[i]) || (got - want).abs() <= b * want.abs() + 1e-45;
                    assert!(
                        y_ok,
                        "{name} on {}: y[{i}] = {} but PyTorch {}",
                        be.isa(),
                        y[i],
                        y_t[i]
                    );
                    let dx_ok = same(dx[i], dx_t[i])
                        || (dx[i] - dx_t[i]).abs() <= 1e-5 * gmax + f32::MIN_POSITIVE;
                    assert!(
                        dx_ok,
                        "{name} on {}: dx[{i}] = {} but PyTorch {}",
                        be.isa(),
                        dx[i],
                        dx_t[i]
                    );
                }
            }
        }
        cases += 1;
    }
    assert!(cases >= 10, "only {cases} fixture cases");
}

/// A dot product `y·dy` whose every term underflows to −0: the zero-filled lanes a wide backend loads
/// past the end turn its −0 lanes into +0 (`fma(0, 0, −0) = +0`), so without care the sign of `t`, and
/// then of `dx`, would depend on the width. It must not.
#[test]
fn zero_signs_do_not_depend_on_the_width() {
    for d in [65usize, 66, 72, 129] {
        let mut y = vec![1e-30f32; d];
        let mut dy = vec![-1e-20f32; d];
        y[64] = 1.0;
        dy[64] = -0.0;
        let mut first: Option<Vec<f32>> = None;
        for be in backends() {
            let mut dx = vec![0.0; d];
            be.l2_normalize_rows_backward(
                Rows::dense(&y, 1, d).unwrap(),
                &[1.0],
                Rows::dense(&dy, 1, d).unwrap(),
                RowsMut::dense(&mut dx, 1, d).unwrap(),
                L2_NORMALIZE_EPS,
                GradMode::Overwrite,
            )
            .unwrap();
            let bits: Vec<u32> = dx.iter().map(|v| v.to_bits()).collect();
            match &first {
                None => first = Some(dx),
                Some(f) => assert_eq!(
                    bits,
                    f.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    "d = {d} on {}",
                    be.isa()
                ),
            }
        }
    }
}
