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
use triplet_simd::{Backend, Distance, Isa};

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

/// Recall@1 of the held-out embeddings within the held-out split (leave-one-out) and against the
/// train split's embeddings.
fn both_recalls(net: &Mlp, backend: Backend, data: &Dataset) -> Result<[f64; 2]> {
    let e = net.embedding_dim();
    let (test, train) = (
        embed(net, backend, &data.test)?,
        embed(net, backend, &data.train)?,
    );
    let queries = (&test[..], &data.test.labels[..]);
    Ok([
        calls::recall_at_1(backend, e, queries, None)?,
        calls::recall_at_1(backend, e, queries, Some((&train, &data.train.labels)))?,
    ])
}

/// What one training run measured.
struct Outcome {
    isa: Isa,
    /// Held-out recall@1 within the held-out split and against the train split, before and after.
    untrained: [f64; 2],
    trained: [f64; 2],
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
    let b = opts.p * opts.k;
    let batches = (train.rows / b).max(1);
    let mut opt = Optimizer::new(opts.optimizer, opts.lr, batches * opts.epochs, &mut net);
    let mut sampler = Sampler::new(&train.labels, &mut rng);
    let settings = calls::MinerSettings {
        miner: opts.miner,
        margin: opts.margin,
        soft: opts.soft,
        distance: opts.distance,
    };

    let untrained = both_recalls(&net, backend, data)?;
    if verbose {
        println!(
            "untrained network: recall@1 {:.3} within the held-out split, {:.3} against the train split ({:.1} s)",
            untrained[0],
            untrained[1],
            t0.elapsed().as_secs_f64()
        );
    }

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
        trained: [f64::NAN; 2],
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
        let recall = calls::recall_at_1(backend, e, (&emb, &test.labels), None)?;
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
        // Unit vectors lie 0..2 apart (squared: 0..4); unrelated ones about √2 (squared: 2).
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
    out.trained = both_recalls(&net, backend, data)?;
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

fn distance_name(d: Distance) -> &'static str {
    if d == Distance::Exact {
        "euclidean"
    } else {
        "squared"
    }
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
        && a.untrained.map(f64::to_bits) == b.untrained.map(f64::to_bits)
        && a.trained.map(f64::to_bits) == b.trained.map(f64::to_bits)
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
        "network: {} → {} (ReLU) → {}, L2-normalised; {} batches of P×K = {}×{}; {} miner, {} distance, {} \
         margin {}; {:?} lr {} (linear decay); seed {}; backend {}{}",
        train.dim(),
        opts.hidden,
        opts.embedding_dim,
        (train.rows / (opts.p * opts.k)).max(1),
        opts.p,
        opts.k,
        args::miner_name(opts.miner),
        distance_name(opts.distance),
        if opts.soft { "soft" } else { "hinge" },
        opts.margin,
        opts.optimizer,
        opts.lr,
        opts.seed,
        backend.isa(),
        if opts.quick { " (--quick)" } else { "" }
    );
    println!(
        "recall@1: each held-out image queries the other {} held-out images (leave-one-out), or the {} train \
         images; squared L2, the crate's sq_l2_one_to_many",
        test.rows.saturating_sub(1),
        train.rows
    );
    let tr = Instant::now();
    let queries = (&test.images[..], &test.labels[..]);
    let raw = calls::recall_at_1(backend, test.dim(), queries, None)?;
    let raw_train = calls::recall_at_1(
        backend,
        test.dim(),
        queries,
        Some((&train.images, &train.labels)),
    )?;
    println!(
        "raw pixels: recall@1 {raw:.3} within the held-out split, {raw_train:.3} against the train split ({:.1} s)",
        tr.elapsed().as_secs_f64()
    );

    // The network sees standardised pixels: minus the train split's mean image, over the train split's
    // standard deviation. (Raw non-negative pixels put every untrained embedding in one narrow cone,
    // from which batch-hard mining collapses.)
    let net_data = standardize(data.clone());
    let first = fit(opts, &net_data, backend, true)?;
    let last = first.trained[0];
    println!(
        "held-out recall@1 within the held-out split: raw pixels {raw:.3}, untrained network {:.3}, trained {last:.3}",
        first.untrained[0]
    );
    println!(
        "held-out recall@1 against the train split:   raw pixels {raw_train:.3}, untrained network {:.3}, trained {:.3}",
        first.untrained[1], first.trained[1]
    );
    println!(
        "{} epochs, {:.1} s training (the evaluations included)",
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
    let recall: Vec<(f32, f32)> = std::iter::once(first.untrained[0])
        .chain(first.recall.iter().copied())
        .enumerate()
        .map(|(i, r)| (i as f32, r as f32))
        .collect();
    let points = plot::pca_2d(&first.embeddings, opts.embedding_dim);
    plot::write_svg(
        &opts.svg,
        &plot::Picture {
            title: format!(
                "triplet-simd: {} miner, {} {} {}, {}-d embedding; {} held-out {} images: recall@1 raw pixels {raw:.3}, untrained {:.3}, trained {last:.3}",
                args::miner_name(opts.miner),
                distance_name(opts.distance),
                if opts.soft {
                    "soft margin"
                } else {
                    "hinge, margin"
                },
                opts.margin,
                opts.embedding_dim,
                test.rows,
                opts.dataset.name(),
                first.untrained[0],
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
    let cwd = std::env::current_dir().unwrap_or_default();
    let shown = opts.svg.strip_prefix(&cwd).unwrap_or(&opts.svg);
    println!("picture: {}", shown.display());
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
        "check: {} backend: weights hash {:016x}, final loss {:.6}, recall@1 {:.3} / {:.3} ({:.1} s)",
        second.isa,
        second.hash,
        second.epoch_losses.last().copied().unwrap_or(f32::NAN),
        second.trained[0],
        second.trained[1],
        second.seconds
    );
    let mut ok = true;
    let mut expect = |cond: bool, what: String| {
        println!("check: {} {what}", if cond { "ok  " } else { "FAIL" });
        ok &= cond;
    };
    let finite = first.finite
        && first.epoch_losses.iter().all(|l| l.is_finite())
        && first
            .recall
            .iter()
            .chain(&first.trained)
            .all(|r| r.is_finite())
        && first.embeddings.iter().all(|v| v.is_finite());
    expect(
        finite,
        "no NaN or infinity in the losses, recalls, weights or embeddings".into(),
    );
    let (before, after) = (1.0 - first.untrained[0], 1.0 - last);
    expect(
        after <= (1.0 - MIN_GAIN) * before,
        format!(
            "recall@1 after training {last:.3} is clearly above the untrained network's {:.3}: \
             misses {after:.3} ≤ {:.2} × {before:.3}",
            first.untrained[0],
            1.0 - MIN_GAIN
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

/// `--check` wants training to remove at least this fraction of the untrained network's misses
/// (held-out recall@1 within the held-out split).
const MIN_GAIN: f64 = 0.25;

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
