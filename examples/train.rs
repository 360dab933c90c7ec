//! Trains an embedding network with the triplet loss on real images, end to end, on one CPU core:
//! a two-layer perceptron in plain Rust, L2-normalised outputs (the crate's `l2_normalize_rows` and its
//! backward), P×K batches, the crate's miner fused with the loss and its gradient (batch-hard by
//! default), Adam. It measures recall@1 of nearest-neighbour retrieval on the held-out split (the
//! crate's distances) for raw pixels, for the untrained network, after every epoch, and writes a
//! picture (loss, recall, a PCA projection of the held-out embeddings).
//!
//! ```sh
//! cargo run --release --example train                     # Fashion-MNIST subset, the defaults
//! cargo run --release --example train -- --help           # every flag
//! cargo run --release --example train -- --quick --check  # CI: short run on two backends, asserts
//! ```
//!
//! Every number is the same on every backend for a given seed: the crate's results are bit-identical
//! across backends, and the example's own sums run in a fixed order.

#[path = "train/args.rs"]
mod args;
#[path = "train/calls.rs"]
mod calls;
#[path = "common/data.rs"]
mod data;
#[path = "train/mlp.rs"]
mod mlp;
#[path = "train/plot.rs"]
mod plot;

use args::{Options, Parsed};
use data::{Dataset, Split};
use mlp::{Activations, Mlp, Optimizer, Rng};
use std::error::Error;
use std::io::{IsTerminal, Write};
use std::time::Instant;
use triplet_simd::{Backend, Isa};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// P×K batches: `p` distinct classes, `k` images of each, every class's images drawn in a shuffled
/// order (reshuffled when used up), so an epoch sees about every image once.
struct Sampler {
    by_class: Vec<Vec<usize>>,
    next: Vec<usize>,
}

impl Sampler {
    fn new(labels: &[u32], rng: &mut Rng) -> Self {
        let classes = labels.iter().max().map_or(0, |&m| m as usize + 1);
        let mut by_class = vec![Vec::new(); classes];
        for (i, &l) in labels.iter().enumerate() {
            by_class[l as usize].push(i);
        }
        by_class.retain(|c| !c.is_empty());
        for c in &mut by_class {
            rng.shuffle(c);
        }
        let next = vec![0; by_class.len()];
        Sampler { by_class, next }
    }

    fn batch(&mut self, p: usize, k: usize, rng: &mut Rng, out: &mut Vec<usize>) {
        out.clear();
        let mut classes: Vec<usize> = (0..self.by_class.len()).collect();
        rng.shuffle(&mut classes);
        for &c in &classes[..p] {
            for _ in 0..k {
                if self.next[c] == self.by_class[c].len() {
                    rng.shuffle(&mut self.by_class[c]);
                    self.next[c] = 0;
                }
                out.push(self.by_class[c][self.next[c]]);
                self.next[c] += 1;
            }
        }
    }
}

/// The L2-normalised embeddings of every row of `split`, rows × embedding.
fn embed(net: &Mlp, backend: Backend, split: &Split) -> Result<Vec<f32>> {
    let (dim, e) = (split.dim(), net.embedding_dim());
    let mut out = vec![0.0; split.rows * e];
    let mut act = Activations::default();
    let mut norms = Vec::new();
    for (x, y) in split.images.chunks(256 * dim).zip(out.chunks_mut(256 * e)) {
        net.forward(x, &mut act);
        norms.resize(y.len() / e, 0.0);
        calls::normalize(backend, &act.out, e, y, &mut norms)?;
    }
    Ok(out)
}

/// What one training run measured.
struct Outcome {
    isa: Isa,
    untrained: f64,
    /// Held-out recall@1 after each epoch.
    recall: Vec<f64>,
    epoch_losses: Vec<f32>,
    /// (epoch as a fraction, loss) for every batch.
    batch_losses: Vec<(f32, f32)>,
    hash: u64,
    embeddings: Vec<f32>,
    finite: bool,
    collapsed: bool,
    seconds: f64,
}

/// `[#####.....]`
fn bar(done: usize, total: usize, width: usize) -> String {
    let full = (done * width).checked_div(total).unwrap_or(width);
    format!("[{}{}]", "#".repeat(full), ".".repeat(width - full))
}

fn fit(opts: &Options, data: &Dataset, backend: Backend, verbose: bool) -> Result<Outcome> {
    let t0 = Instant::now();
    let (train, test) = (&data.train, &data.test);
    let (dim, e) = (train.dim(), opts.embedding_dim);
    let mut rng = Rng::new(opts.seed);
    let mut net = Mlp::new(dim, opts.hidden, e, &mut rng);
    let mut opt = Optimizer::new(opts.optimizer, opts.lr, &mut net);
    let mut sampler = Sampler::new(&train.labels, &mut rng);
    let settings = calls::MinerSettings {
        miner: opts.miner,
        margin: opts.margin,
        soft: opts.soft,
        distance: opts.distance,
    };

    let untrained = calls::recall_at_1(backend, &embed(&net, backend, test)?, e, &test.labels)?;
    if verbose {
        println!(
            "untrained network: held-out recall@1 {untrained:.3} ({:.1} s)",
            t0.elapsed().as_secs_f64()
        );
    }

    let b = opts.p * opts.k;
    let batches = (train.rows / b).max(1);
    let (mut xb, mut lb, mut idx) = (vec![0.0f32; b * dim], vec![0u32; b], Vec::new());
    let (mut y, mut gy, mut gz, mut norms) = (
        vec![0.0; b * e],
        vec![0.0; b * e],
        vec![0.0; b * e],
        vec![0.0; b],
    );
    let mut scratch = (Vec::new(), Vec::new());
    let mut act = Activations::default();
    let mut grads = net.zero_grads();
    let mut out = Outcome {
        isa: backend.isa(),
        untrained,
        recall: Vec::new(),
        epoch_losses: Vec::new(),
        batch_losses: Vec::new(),
        hash: 0,
        embeddings: Vec::new(),
        finite: true,
        collapsed: false,
        seconds: 0.0,
    };
    let tty = verbose && std::io::stdout().is_terminal();
    for epoch in 1..=opts.epochs {
        let te = Instant::now();
        let (mut loss, mut mined, mut active, mut d_ap, mut d_an) = (0.0f64, 0u64, 0u64, 0.0, 0.0);
        for step in 0..batches {
            sampler.batch(opts.p, opts.k, &mut rng, &mut idx);
            for ((row, l), &i) in xb.chunks_exact_mut(dim).zip(&mut lb).zip(&idx) {
                row.copy_from_slice(train.image(i));
                *l = train.labels[i];
            }
            net.forward(&xb, &mut act);
            calls::normalize(backend, &act.out, e, &mut y, &mut norms)?;
            let st = calls::mined_loss(backend, settings, &y, &lb, e, &mut scratch, &mut gy)?;
            calls::normalize_backward(backend, &y, &norms, &gy, &mut gz, e)?;
            net.backward(&xb, &act, &gz, &mut grads);
            opt.step(&mut net, &grads);

            loss += f64::from(st.loss);
            mined += st.mined;
            active += st.active;
            d_ap += f64::from(st.mean_d_ap) * st.mined as f64;
            d_an += f64::from(st.mean_d_an) * st.mined as f64;
            let at = (epoch - 1) as f32 + (step + 1) as f32 / batches as f32;
            out.batch_losses.push((at, st.loss));
            if tty && (step % 4 == 0 || step + 1 == batches) {
                print!(
                    "\repoch {epoch:>3}/{} {} {:>4}/{batches}",
                    opts.epochs,
                    bar(step + 1, batches, 20),
                    step + 1
                );
                std::io::stdout().flush()?;
            }
        }
        let loss = (loss / batches as f64) as f32;
        let per = |s: f64| if mined == 0 { 0.0 } else { s / mined as f64 };
        let (d_ap, d_an) = (per(d_ap), per(d_an));
        let emb = embed(&net, backend, test)?;
        let recall = calls::recall_at_1(backend, &emb, e, &test.labels)?;
        out.epoch_losses.push(loss);
        out.recall.push(recall);
        out.embeddings = emb;
        if verbose {
            print!("{}", if tty { "\r" } else { "" });
            println!(
                "epoch {epoch:>3}/{} {} loss {loss:.4}  active {:5.1}%  d(a,p) {d_ap:.3}  d(a,n) {d_an:.3}  recall@1 {recall:.3}  {:.1} s",
                opts.epochs,
                bar(batches, batches, 20),
                100.0 * per(active as f64),
                te.elapsed().as_secs_f64(),
            );
        }
        if !loss.is_finite() || !net.is_finite() {
            out.finite = false;
            println!(
                "error: the loss or the weights are no longer finite (loss {loss}); try a lower --lr"
            );
            break;
        }
        // Squared distances between unit vectors lie in [0, 4]; unrelated ones are about 2 apart.
        if d_an < 0.01 && d_ap < 0.01 && !out.collapsed {
            out.collapsed = true;
            println!(
                "warning: the embedding has collapsed: mean d(a,p) {d_ap:.2e} and d(a,n) {d_an:.2e} are near 0 \
                 and the loss ({loss:.4}) is stuck near its value at the margin ({}); try a lower --lr, a \
                 larger --k or --miner semi-hard",
                opts.margin
            );
        }
    }
    out.hash = net.hash();
    out.seconds = t0.elapsed().as_secs_f64();
    Ok(out)
}

/// Pixels minus the train split's mean image, over the standard deviation of all those values (the
/// held-out split with the train split's statistics). Sums in row order, in `f64`.
fn standardize(mut data: Dataset) -> Dataset {
    let (rows, dim) = (data.train.rows, data.train.dim());
    let mut mean = vec![0.0f64; dim];
    for r in data.train.images.chunks_exact(dim) {
        for (m, &v) in mean.iter_mut().zip(r) {
            *m += f64::from(v);
        }
    }
    let mean: Vec<f32> = mean.iter().map(|m| (m / rows as f64) as f32).collect();
    let mut var = 0.0f64;
    for r in data.train.images.chunks_exact(dim) {
        for (&m, &v) in mean.iter().zip(r) {
            var += f64::from(v - m) * f64::from(v - m);
        }
    }
    let inv = (1.0 / (var / (rows * dim) as f64).sqrt()) as f32;
    for split in [&mut data.train, &mut data.test] {
        for r in split.images.chunks_exact_mut(dim) {
            for (v, &m) in r.iter_mut().zip(&mean) {
                *v = (*v - m) * inv;
            }
        }
    }
    data
}

fn other_backend(first: Isa) -> Result<Backend> {
    let isa = if first == Isa::Scalar {
        Isa::Emulated256
    } else {
        Isa::Scalar
    };
    Ok(Backend::new(isa)?)
}

/// The same bits, both runs.
fn same(a: &Outcome, b: &Outcome) -> bool {
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    a.hash == b.hash
        && bits(&a.epoch_losses) == bits(&b.epoch_losses)
        && a.recall
            .iter()
            .map(|r| r.to_bits())
            .eq(b.recall.iter().map(|r| r.to_bits()))
        && a.untrained.to_bits() == b.untrained.to_bits()
}

fn run(opts: &Options) -> Result<bool> {
    let t0 = Instant::now();
    let data = data::load(opts.dataset)?;
    if opts.p > 10 {
        return Err(format!("--p {}: the data sets have 10 classes", opts.p).into());
    }
    let backend =
        Backend::new(opts.backend).map_err(|e| format!("--backend {}: {e}", opts.backend))?;
    let (train, test) = (&data.train, &data.test);
    println!(
        "data: {} ({} train / {} held-out images of {}×{} pixels, 10 classes), loaded in {:.2} s",
        opts.dataset.name(),
        train.rows,
        test.rows,
        train.height,
        train.width,
        t0.elapsed().as_secs_f64()
    );
    println!(
        "network: {} → {} (ReLU) → {}, L2-normalised; {} batches of P×K = {}×{}; {} miner, {} margin {}; \
         {:?} lr {}; seed {}; backend {}{}",
        train.dim(),
        opts.hidden,
        opts.embedding_dim,
        (train.rows / (opts.p * opts.k)).max(1),
        opts.p,
        opts.k,
        args::miner_name(opts.miner),
        if opts.soft { "soft" } else { "hinge" },
        opts.margin,
        opts.optimizer,
        opts.lr,
        opts.seed,
        backend.isa(),
        if opts.quick { " (--quick)" } else { "" }
    );
    println!(
        "recall@1: each held-out image queries the other {} held-out images (leave-one-out, squared L2)",
        test.rows.saturating_sub(1)
    );
    let tr = Instant::now();
    let raw = calls::recall_at_1(backend, &test.images, test.dim(), &test.labels)?;
    println!(
        "raw pixels: held-out recall@1 {raw:.3} ({:.1} s)",
        tr.elapsed().as_secs_f64()
    );

    // The network sees standardised pixels: minus the train split's mean image, over the train split's
    // standard deviation. (Raw non-negative pixels put every untrained embedding in one narrow cone,
    // from which batch-hard mining collapses.)
    let net_data = standardize(data.clone());
    let first = fit(opts, &net_data, backend, true)?;
    let last = *first.recall.last().unwrap_or(&f64::NAN);
    println!(
        "held-out recall@1: raw pixels {raw:.3}, untrained network {:.3}, trained {last:.3} ({} epochs, {:.1} s training)",
        first.untrained,
        first.recall.len(),
        first.seconds
    );
    println!(
        "weights hash {:016x}, final epoch loss {:.6} (bits {:08x}): the same on every backend for seed {}",
        first.hash,
        first.epoch_losses.last().copied().unwrap_or(f32::NAN),
        first.epoch_losses.last().map_or(0, |l| l.to_bits()),
        opts.seed
    );

    let epochs: Vec<(f32, f32)> = first
        .epoch_losses
        .iter()
        .enumerate()
        .map(|(i, &l)| (i as f32 + 1.0, l))
        .collect();
    let recall: Vec<(f32, f32)> = std::iter::once(first.untrained)
        .chain(first.recall.iter().copied())
        .enumerate()
        .map(|(i, r)| (i as f32, r as f32))
        .collect();
    let points = plot::pca_2d(&first.embeddings, opts.embedding_dim);
    plot::write_svg(
        &opts.svg,
        &plot::Picture {
            title: format!(
                "triplet-simd: {} miner, {} {}-d embedding, {} held-out {} images (recall@1 raw {raw:.3}, untrained {:.3}, trained {last:.3})",
                args::miner_name(opts.miner),
                if opts.soft { "soft margin," } else { "hinge," },
                opts.embedding_dim,
                test.rows,
                opts.dataset.name(),
                first.untrained,
            ),
            batch_losses: &first.batch_losses,
            epoch_losses: &epochs,
            recall: &recall,
            raw_recall: raw as f32,
            points: &points,
            labels: &test.labels,
            class_names: opts.dataset.class_names(),
        },
    )?;
    println!("picture: {}", opts.svg.display());
    println!("total {:.1} s", t0.elapsed().as_secs_f64());

    if !opts.check {
        return Ok(first.finite);
    }
    let second_backend = other_backend(first.isa)?;
    println!(
        "check: the same run on the {} backend",
        second_backend.isa()
    );
    let second = fit(opts, &net_data, second_backend, false)?;
    println!(
        "check: {} backend: weights hash {:016x}, final loss {:.6}, recall@1 {:.3} ({:.1} s)",
        second.isa,
        second.hash,
        second.epoch_losses.last().copied().unwrap_or(f32::NAN),
        second.recall.last().copied().unwrap_or(f64::NAN),
        second.seconds
    );
    let mut ok = true;
    let mut expect = |cond: bool, what: String| {
        println!("check: {} {what}", if cond { "ok  " } else { "FAIL" });
        ok &= cond;
    };
    let finite = first.finite
        && first.epoch_losses.iter().all(|l| l.is_finite())
        && first.recall.iter().all(|r| r.is_finite())
        && first.embeddings.iter().all(|v| v.is_finite());
    expect(
        finite,
        "no NaN or infinity in the losses, recalls, weights or embeddings".into(),
    );
    expect(
        last >= first.untrained + MIN_GAIN,
        format!(
            "recall@1 after training {last:.3} ≥ the untrained network's {:.3} + {MIN_GAIN}",
            first.untrained
        ),
    );
    expect(!first.collapsed, "the embedding did not collapse".into());
    expect(
        same(&first, &second),
        format!(
            "{} and {} give the same bits (every epoch's loss and recall, the weights' hash)",
            first.isa, second.isa
        ),
    );
    Ok(ok)
}

/// How far above the untrained network `--check` wants the trained one.
const MIN_GAIN: f64 = 0.03;

fn main() {
    let result = match args::parse(std::env::args().skip(1)) {
        Ok(Parsed::Help) => {
            print!("{}", args::HELP);
            return;
        }
        Ok(Parsed::Run(opts)) => run(&opts),
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(true) => {}
        Ok(false) => {
            eprintln!("train: failed");
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("train: {e}");
            std::process::exit(2);
        }
    }
}
