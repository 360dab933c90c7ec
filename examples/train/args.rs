//! The training example's command line, parsed by hand (no dependency).

use crate::data::Set;
use crate::mlp::OptimizerKind;
use std::path::PathBuf;
use triplet_simd::{Distance, Isa, Miner, SemiHardRule};

pub const HELP: &str = "\
Trains an embedding network (a two-layer perceptron, L2-normalised outputs) with the triplet loss
on real images, and measures recall@1 of nearest-neighbour retrieval on the held-out split before
and after.

USAGE:
    cargo run --release --example train -- [OPTIONS]

OPTIONS (defaults in brackets; fashion's first, then digits' where they differ):
    --dataset NAME        fashion (5,000/1,000 Fashion-MNIST images, 28x28) or digits (UCI, 8x8)
                          [fashion]
    --epochs N            passes over the training split [20; digits 30]
    --p N                 classes per batch [10]
    --k N                 images per class in a batch [4]
    --margin M            triplet margin, in the units of --distance (unit vectors: Euclidean
                          distances 0..2, squared 0..4) [0.2]
    --miner NAME          batch-hard, batch-all, semi-hard (TF Addons' rule), semi-hard-pml
                          (pytorch-metric-learning's TripletMarginMiner), easy-hard [batch-hard]
    --distance NAME       euclidean or squared (squared L2) [euclidean: with squared distances
                          batch-hard shrinks the embedding towards a collapse]
    --soft                the soft margin softplus(d(a,p) - d(a,n) + margin) instead of the hinge
    --optimizer NAME      adam or sgd (momentum 0.9) [adam]
    --lr X                learning rate at the start, decayed linearly to 0 over the run
                          [1e-3 for adam, 0.05 for sgd]
    --seed N              seeds the weights and the batches [1]
    --embedding-dim N     embedding size [64; digits 32]
    --hidden N            hidden units [256; digits 128]
    --backend NAME        the crate's backend: avx512, avx2, neon, scalar, emulated128,
                          emulated256, emulated512 [the widest this CPU runs]
    --quick               a short run: 3 epochs, 128 hidden units (digits: 8 epochs)
    --check               CI mode: trains twice, on the backend above and on a second one (scalar,
                          or emulated256 where the first is scalar), and fails unless recall@1 after
                          training is clearly above the untrained network's, nothing is NaN and
                          both runs give the same bits (losses, recall, a hash of the weights)
    --svg PATH            where to write the picture [target/train-<dataset>.svg]
    --help                this text
";

/// Which miner, by its command-line name.
pub fn miner_from_name(name: &str) -> Option<Miner> {
    Some(match name {
        "batch-hard" => Miner::BatchHard,
        "batch-all" => Miner::BatchAll,
        "semi-hard" => Miner::SemiHard(SemiHardRule::TfAddons),
        "semi-hard-pml" => Miner::SemiHard(SemiHardRule::PmlTripletMargin),
        "easy-hard" => Miner::SemiHard(SemiHardRule::PmlEasyHard),
        _ => return None,
    })
}

pub fn miner_name(m: Miner) -> &'static str {
    match m {
        Miner::BatchHard => "batch-hard",
        Miner::BatchAll => "batch-all",
        Miner::SemiHard(SemiHardRule::TfAddons) => "semi-hard",
        Miner::SemiHard(SemiHardRule::PmlTripletMargin) => "semi-hard-pml",
        Miner::SemiHard(SemiHardRule::PmlEasyHard) => "easy-hard",
    }
}

/// The settings of one run, every default resolved.
#[derive(Clone, Debug)]
pub struct Options {
    pub dataset: Set,
    pub epochs: usize,
    pub p: usize,
    pub k: usize,
    pub margin: f32,
    pub miner: Miner,
    pub soft: bool,
    pub distance: Distance,
    pub optimizer: OptimizerKind,
    pub lr: f32,
    pub seed: u64,
    pub embedding_dim: usize,
    pub hidden: usize,
    pub backend: Isa,
    pub quick: bool,
    pub check: bool,
    pub svg: PathBuf,
}

/// What the command line asked for: options, or `--help`.
pub enum Parsed {
    Run(Box<Options>),
    Help,
}

fn value<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, String> {
    v.parse()
        .map_err(|_| format!("{flag}: cannot read '{v}' (see --help)"))
}

pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Parsed, String> {
    let mut args = args.into_iter();
    let mut dataset = Set::Fashion;
    let (mut epochs, mut p, mut k, mut lr, mut emb, mut hidden) =
        (None, None, None, None, None, None);
    let mut margin = 0.2f32;
    let mut miner = Miner::BatchHard;
    let mut soft = false;
    let mut distance = Distance::Exact;
    let mut optimizer = OptimizerKind::Adam;
    let mut seed = 1u64;
    let mut backend = Isa::detect();
    let (mut quick, mut check) = (false, false);
    let mut svg = None;
    while let Some(arg) = args.next() {
        // `--flag value` or `--flag=value`.
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            None => (arg.clone(), None),
        };
        let mut val = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value (see --help)"))
        };
        match flag.as_str() {
            "--help" | "-h" => return Ok(Parsed::Help),
            "--dataset" => {
                let v = val()?;
                dataset = Set::from_name(&v)
                    .ok_or_else(|| format!("--dataset: '{v}' is not fashion or digits"))?;
            }
            "--epochs" => epochs = Some(value(&flag, &val()?)?),
            "--p" => p = Some(value(&flag, &val()?)?),
            "--k" => k = Some(value(&flag, &val()?)?),
            "--margin" => margin = value(&flag, &val()?)?,
            "--miner" => {
                let v = val()?;
                miner = miner_from_name(&v).ok_or_else(|| {
                    format!(
                        "--miner: '{v}' is not batch-hard, batch-all, semi-hard, semi-hard-pml or easy-hard"
                    )
                })?;
            }
            "--soft" => soft = true,
            "--distance" => {
                distance = match val()?.as_str() {
                    "squared" => Distance::SqL2,
                    "euclidean" => Distance::Exact,
                    v => return Err(format!("--distance: '{v}' is not squared or euclidean")),
                }
            }
            "--optimizer" => {
                optimizer = match val()?.as_str() {
                    "adam" => OptimizerKind::Adam,
                    "sgd" => OptimizerKind::Sgd,
                    v => return Err(format!("--optimizer: '{v}' is not adam or sgd")),
                }
            }
            "--lr" => lr = Some(value(&flag, &val()?)?),
            "--seed" => seed = value(&flag, &val()?)?,
            "--embedding-dim" => emb = Some(value(&flag, &val()?)?),
            "--hidden" => hidden = Some(value(&flag, &val()?)?),
            "--backend" => {
                let v = val()?;
                backend = Isa::ALL
                    .into_iter()
                    .find(|i| i.name() == v)
                    .ok_or_else(|| {
                        let names: Vec<_> = Isa::ALL.iter().map(|i| i.name()).collect();
                        format!("--backend: '{v}' is not one of {}", names.join(", "))
                    })?;
            }
            "--quick" => quick = true,
            "--check" => check = true,
            "--svg" => svg = Some(PathBuf::from(val()?)),
            _ => return Err(format!("unknown argument '{arg}' (see --help)")),
        }
        if inline.is_some() && matches!(flag.as_str(), "--soft" | "--quick" | "--check") {
            return Err(format!("{flag} takes no value"));
        }
    }
    let digits = dataset == Set::Digits;
    let opts = Options {
        dataset,
        epochs: epochs.unwrap_or(match (digits, quick) {
            (false, false) => 20,
            (false, true) => 3,
            (true, false) => 30,
            (true, true) => 8,
        }),
        p: p.unwrap_or(10),
        k: k.unwrap_or(4),
        margin,
        miner,
        soft,
        distance,
        optimizer,
        lr: lr.unwrap_or(match optimizer {
            OptimizerKind::Adam => 1e-3,
            OptimizerKind::Sgd => 0.05,
        }),
        seed,
        embedding_dim: emb.unwrap_or(if digits { 32 } else { 64 }),
        hidden: hidden.unwrap_or(match (digits, quick) {
            (false, false) => 256,
            _ => 128,
        }),
        backend,
        quick,
        check,
        svg: svg.unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("target")
                .join(format!("train-{}.svg", dataset.name()))
        }),
    };
    if opts.p < 2 || opts.k < 2 {
        return Err(
            "--p and --k must be at least 2 (a triplet needs two classes and two images of one)"
                .into(),
        );
    }
    if opts.epochs == 0 || opts.embedding_dim == 0 || opts.hidden == 0 {
        return Err("--epochs, --embedding-dim and --hidden must be at least 1".into());
    }
    if !(opts.lr.is_finite() && opts.lr > 0.0) {
        return Err(format!("--lr: {} is not a positive number", opts.lr));
    }
    if !opts.margin.is_finite() {
        return Err(format!("--margin: {} is not finite", opts.margin));
    }
    Ok(Parsed::Run(Box::new(opts)))
}
