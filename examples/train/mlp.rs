//! The network of the training example: a two-layer perceptron (`in → hidden`, ReLU, `hidden → embedding`)
//! in plain Rust, `f32`, no array library, with its backward pass, Adam and SGD with momentum, and a
//! seeded random number generator (splitmix64).
//!
//! The matrix products are plain loops in i-k-j order (`y[i, ..] += x[i, k] · w[k, ..]`): the innermost
//! loop runs over contiguous rows of both operands, so the compiler vectorises it without reassociating
//! any sum. Every element is a sum taken in one fixed order (over `k`, or over the batch rows `i`), so
//! the results are the same bits on every run and every machine that runs this binary. Rows are taken
//! four at a time so that each weight row is read once per four batch rows; zeros of the input (ReLU
//! outputs, black pixels) are skipped (adding `0 · w` changes nothing unless `w` is infinite or NaN).

/// splitmix64 (Steele, Lea and Flood 2014): a seeded generator with no dependency, good enough to
/// initialise weights and shuffle.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`, 24 random bits.
    pub fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; `n` ≤ 2³²).
    pub fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }

    /// Fisher–Yates.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

/// How many batch rows share one pass over a weight matrix.
const BLOCK: usize = 4;

/// `y[i, ..] = b + Σ_k x[i, k] · w[k, ..]` for every row `i` of `x` (`x`: rows × `n_in`, `w`: `n_in` ×
/// `n_out`, `y`: rows × `n_out`, all row-major).
fn matmul_bias(x: &[f32], w: &[f32], b: &[f32], y: &mut [f32], n_in: usize) {
    let n_out = b.len();
    for (xs, ys) in x.chunks(BLOCK * n_in).zip(y.chunks_mut(BLOCK * n_out)) {
        for yr in ys.chunks_exact_mut(n_out) {
            yr.copy_from_slice(b);
        }
        for (k, wk) in w.chunks_exact(n_out).enumerate() {
            for (xr, yr) in xs.chunks_exact(n_in).zip(ys.chunks_exact_mut(n_out)) {
                let xk = xr[k];
                if xk != 0.0 {
                    for (yj, &wj) in yr.iter_mut().zip(wk) {
                        *yj += xk * wj;
                    }
                }
            }
        }
    }
}

/// `dw[k, ..] += Σ_i x[i, k] · dy[i, ..]` (the sum over `i` in row order) and `db += Σ_i dy[i, ..]`.
fn accumulate_weight_grad(x: &[f32], dy: &[f32], dw: &mut [f32], db: &mut [f32], n_in: usize) {
    let n_out = db.len();
    for (xs, dys) in x.chunks(BLOCK * n_in).zip(dy.chunks(BLOCK * n_out)) {
        for (k, dwk) in dw.chunks_exact_mut(n_out).enumerate() {
            for (xr, dyr) in xs.chunks_exact(n_in).zip(dys.chunks_exact(n_out)) {
                let xk = xr[k];
                if xk != 0.0 {
                    for (g, &d) in dwk.iter_mut().zip(dyr) {
                        *g += xk * d;
                    }
                }
            }
        }
        for dyr in dys.chunks_exact(n_out) {
            for (g, &d) in db.iter_mut().zip(dyr) {
                *g += d;
            }
        }
    }
}

/// A fully connected layer: `w` is `inputs × outputs`, row-major (row `k` holds input `k`'s weights).
#[derive(Clone, Debug)]
pub struct Linear {
    pub inputs: usize,
    pub outputs: usize,
    pub w: Vec<f32>,
    pub b: Vec<f32>,
}

impl Linear {
    /// Weights uniform in `±gain·sqrt(3 / inputs)` (variance `gain² / inputs`: He et al. for ReLU with
    /// `gain = √2`), biases 0.
    pub fn new(inputs: usize, outputs: usize, gain: f32, rng: &mut Rng) -> Self {
        let a = gain * (3.0 / inputs as f32).sqrt();
        let w = (0..inputs * outputs)
            .map(|_| (2.0 * rng.uniform() - 1.0) * a)
            .collect();
        Linear {
            inputs,
            outputs,
            w,
            b: vec![0.0; outputs],
        }
    }
}

/// `in → hidden → ReLU → embedding` (the L2-normalisation that follows is the crate's).
#[derive(Clone, Debug)]
pub struct Mlp {
    pub l1: Linear,
    pub l2: Linear,
}

/// What the forward pass keeps for the backward pass.
#[derive(Clone, Debug, Default)]
pub struct Activations {
    /// ReLU outputs, rows × hidden.
    pub hidden: Vec<f32>,
    /// The embeddings before normalisation, rows × embedding.
    pub out: Vec<f32>,
}

/// Gradients, shaped like the network.
#[derive(Clone, Debug)]
pub struct Grads {
    pub w1: Vec<f32>,
    pub b1: Vec<f32>,
    pub w2: Vec<f32>,
    pub b2: Vec<f32>,
    /// Scratch: the gradient at the hidden layer, and `l2.w` transposed.
    d_hidden: Vec<f32>,
    w2_t: Vec<f32>,
}

impl Mlp {
    pub fn new(inputs: usize, hidden: usize, embedding: usize, rng: &mut Rng) -> Self {
        Mlp {
            l1: Linear::new(inputs, hidden, std::f32::consts::SQRT_2, rng),
            l2: Linear::new(hidden, embedding, 1.0, rng),
        }
    }

    pub fn embedding_dim(&self) -> usize {
        self.l2.outputs
    }

    /// The forward pass over `x` (rows × inputs) into `act`.
    pub fn forward(&self, x: &[f32], act: &mut Activations) {
        let rows = x.len() / self.l1.inputs;
        act.hidden.resize(rows * self.l1.outputs, 0.0);
        act.out.resize(rows * self.l2.outputs, 0.0);
        matmul_bias(x, &self.l1.w, &self.l1.b, &mut act.hidden, self.l1.inputs);
        for h in act.hidden.iter_mut() {
            // NaN stays NaN (`f32::max(NaN, 0)` would give 0).
            if *h < 0.0 {
                *h = 0.0;
            }
        }
        matmul_bias(
            &act.hidden,
            &self.l2.w,
            &self.l2.b,
            &mut act.out,
            self.l2.inputs,
        );
    }

    pub fn zero_grads(&self) -> Grads {
        Grads {
            w1: vec![0.0; self.l1.w.len()],
            b1: vec![0.0; self.l1.b.len()],
            w2: vec![0.0; self.l2.w.len()],
            b2: vec![0.0; self.l2.b.len()],
            d_hidden: Vec::new(),
            w2_t: vec![0.0; self.l2.w.len()],
        }
    }

    /// The gradients of the parameters from `d_out`, the gradient at the (unnormalised) outputs, and
    /// the activations of the forward pass over `x`. Overwrites `g`.
    pub fn backward(&self, x: &[f32], act: &Activations, d_out: &[f32], g: &mut Grads) {
        let (n_h, n_e) = (self.l2.inputs, self.l2.outputs);
        for v in [&mut g.w1, &mut g.b1, &mut g.w2, &mut g.b2] {
            v.fill(0.0);
        }
        accumulate_weight_grad(&act.hidden, d_out, &mut g.w2, &mut g.b2, n_h);
        // d_hidden[i, ..] = Σ_j d_out[i, j] · w2[.., j]: w2 transposed, so that this too is i-k-j.
        for (k, row) in self.l2.w.chunks_exact(n_e).enumerate() {
            for (j, &w) in row.iter().enumerate() {
                g.w2_t[j * n_h + k] = w;
            }
        }
        let zero = vec![0.0; n_h];
        g.d_hidden.resize(act.hidden.len(), 0.0);
        matmul_bias(d_out, &g.w2_t, &zero, &mut g.d_hidden, n_e);
        for (d, &h) in g.d_hidden.iter_mut().zip(&act.hidden) {
            if h <= 0.0 {
                *d = 0.0; // ReLU: no gradient where the unit was off (h is 0 there, or NaN upstream)
            }
        }
        accumulate_weight_grad(x, &g.d_hidden, &mut g.w1, &mut g.b1, self.l1.inputs);
    }

    /// Every parameter, in a fixed order.
    pub fn params_mut(&mut self) -> [&mut [f32]; 4] {
        [
            &mut self.l1.w,
            &mut self.l1.b,
            &mut self.l2.w,
            &mut self.l2.b,
        ]
    }

    /// FNV-1a over the bits of every parameter: equal hashes, equal networks.
    pub fn hash(&self) -> u64 {
        let mut h = 0xcbf2_9ce4_8422_2325u64;
        for v in [&self.l1.w, &self.l1.b, &self.l2.w, &self.l2.b] {
            for x in v.iter() {
                for byte in x.to_bits().to_le_bytes() {
                    h = (h ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
                }
            }
        }
        h
    }

    /// Whether every parameter is finite.
    pub fn is_finite(&self) -> bool {
        [&self.l1.w, &self.l1.b, &self.l2.w, &self.l2.b]
            .iter()
            .all(|v| v.iter().all(|x| x.is_finite()))
    }
}

impl Grads {
    pub fn as_slices(&self) -> [&[f32]; 4] {
        [&self.w1, &self.b1, &self.w2, &self.b2]
    }
}

/// The optimisers the example offers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OptimizerKind {
    /// Kingma and Ba 2015, β = (0.9, 0.999), ε = 1e-8, bias-corrected.
    Adam,
    /// SGD with heavy-ball momentum 0.9: `v = 0.9·v + g`, `θ −= lr·v` (PyTorch's form).
    Sgd,
}

/// An optimiser's state for every parameter tensor. The learning rate decays linearly from `lr` at the
/// first step to `lr / steps` at the last (to 0 after `steps`).
pub struct Optimizer {
    kind: OptimizerKind,
    lr: f32,
    steps: usize,
    t: usize,
    m: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
    /// β₁ᵗ and β₂ᵗ, kept as running products (no `powi`).
    b1t: f32,
    b2t: f32,
}

impl Optimizer {
    pub fn new(kind: OptimizerKind, lr: f32, steps: usize, net: &mut Mlp) -> Self {
        let m: Vec<Vec<f32>> = net
            .params_mut()
            .iter()
            .map(|p| vec![0.0; p.len()])
            .collect();
        Optimizer {
            kind,
            lr,
            steps,
            t: 0,
            v: m.clone(),
            m,
            b1t: 1.0,
            b2t: 1.0,
        }
    }

    pub fn step(&mut self, net: &mut Mlp, g: &Grads) {
        let left = self.steps.saturating_sub(self.t);
        let lr = self.lr * left as f32 / self.steps.max(1) as f32;
        self.t += 1;
        let kind = self.kind;
        const B1: f32 = 0.9;
        const B2: f32 = 0.999;
        self.b1t *= B1;
        self.b2t *= B2;
        let (c1, c2) = (1.0 - self.b1t, 1.0 - self.b2t);
        let grads = g.as_slices();
        for (((p, g), m), v) in net
            .params_mut()
            .into_iter()
            .zip(grads)
            .zip(&mut self.m)
            .zip(&mut self.v)
        {
            match kind {
                OptimizerKind::Adam => {
                    for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut())
                    {
                        *m = B1 * *m + (1.0 - B1) * g;
                        *v = B2 * *v + (1.0 - B2) * g * g;
                        *p -= lr * (*m / c1) / ((*v / c2).sqrt() + 1e-8);
                    }
                }
                OptimizerKind::Sgd => {
                    for ((p, &g), m) in p.iter_mut().zip(g).zip(m.iter_mut()) {
                        *m = 0.9 * *m + g;
                        *p -= lr * *m;
                    }
                }
            }
        }
    }
}
