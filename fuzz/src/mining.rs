//! Target `mining`: `TripletMiner::mine`, `forward` and `forward_backward` with fuzzed settings (every
//! miner, distance, soft margin, reduction, cap, block rows), batch rows, labels, reference rows, scratch
//! and output buffers, on every backend.
//!
//! Checks: no panic; `Err` exactly when the input is invalid (decided here: margin, eps, `EpsOnDiff`,
//! `Reduction::None` (for the loss calls only: `mine` takes any reduction), zero block rows, label
//! counts, reference row length, scratch lengths against `scratch_len`, the triplet buffer against the
//! count), and then nothing written to the gradient or the triplet buffer; every backend gives the same triplets, statistics and gradient bits; `forward`
//! reports what `forward_backward` does and `mine` finds `mined` triplets; on "grid" inputs (values and
//! margin multiples of 1/16 of magnitude at most 16, the squared distance, so that every f32 distance and
//! decision is exact) the f64 oracle of `reference` mines the same triplets with the same counts, a loss
//! within 1e-5 of its scale and a gradient within 1e-4 of its largest element.
//!
//! Input: header; miner `u8 % 5`; margin (`u8 % 4 == 0`: an `f32`, else a table); distance `u8 % 4`
//! (SqL2, Exact, EpsInSqrt with a table eps or an `f32`, EpsOnDiff); soft `bool`; reduction `u8 % 4`;
//! cap (`u8 % 3 == 0`: `Some(u8 % 6)`); block (`u8 % 3 == 0`: `Some(u8 % 6)`); rows `u8 % 20`, dim
//! `u8 % 34`, classes `1 + u8 % 5`; a labels tag (`u8 % 16 == 0`: one label too many); labels `u8`
//! each; reference rows `u8 % 6` (0: none) and their labels; the rows' floats; the reference floats;
//! scratch tags (`u8 % 8 == 0`: one f32 short, `== 1`: one u32 short); triplet buffer (`u8 % 4`: 0 exact,
//! 1 one short, 2 one more, 3 empty); grad mode `bool`; upstream `f32`.

use triplet_simd::{
    Distance, Error, GradMode, Miner, MiningStats, Reduction, Reference, Rows, Scratch,
    SemiHardRule, TripletMiner, reference,
};

use crate::{Input, backends, same, same_error, same_slice};

const MARGINS: [f32; 6] = [0.0, 0.25, 0.5, 1.0, 2.0, -0.5];
const EPS: [f32; 3] = [0.0, 1e-12, 1e-3];
const MINERS: [Miner; 5] = [
    Miner::BatchHard,
    Miner::BatchAll,
    Miner::SemiHard(SemiHardRule::TfAddons),
    Miner::SemiHard(SemiHardRule::PmlTripletMargin),
    Miner::SemiHard(SemiHardRule::PmlEasyHard),
];

#[derive(Debug)]
struct Case {
    miner: Miner,
    margin: f32,
    distance: Distance,
    soft: bool,
    reduction: Reduction,
    cap: Option<usize>,
    block: Option<usize>,
    n: usize,
    dim: usize,
    labels: Vec<u32>,
    x: Vec<f32>,
    m: usize,
    r: Vec<f32>,
    r_labels: Vec<u32>,
    short_f32: bool,
    short_u32: bool,
    out_tag: u8,
    mode: GradMode,
    upstream: f32,
}

fn decode(data: &[u8]) -> Case {
    let mut inp = Input::new(data);
    let miner = MINERS[usize::from(inp.u8() % 5)];
    let b = inp.u8();
    let margin = if b.is_multiple_of(4) {
        inp.f32()
    } else {
        MARGINS[usize::from(b / 4) % MARGINS.len()]
    };
    let distance = match inp.u8() % 4 {
        0 => Distance::SqL2,
        1 => Distance::Exact,
        2 => {
            let b = inp.u8();
            Distance::EpsInSqrt(if b.is_multiple_of(4) {
                inp.f32()
            } else {
                EPS[usize::from(b) % EPS.len()]
            })
        }
        _ => Distance::EpsOnDiff(1e-6),
    };
    let soft = inp.bool();
    let reduction = [
        Reduction::Sum,
        Reduction::Mean,
        Reduction::MeanActive,
        Reduction::None,
    ][usize::from(inp.u8() % 4)];
    let opt = |inp: &mut Input<'_>| {
        let t = inp.u8();
        (t.is_multiple_of(3)).then(|| usize::from(inp.u8() % 6))
    };
    let cap = opt(&mut inp);
    let block = opt(&mut inp);
    let (n, dim) = (usize::from(inp.u8() % 20), usize::from(inp.u8() % 34));
    let classes = 1 + u32::from(inp.u8() % 5);
    let extra = usize::from(inp.u8().is_multiple_of(16));
    let labels = (0..n + extra)
        .map(|_| u32::from(inp.u8()) % classes)
        .collect();
    let m = usize::from(inp.u8() % 6);
    let r_labels = (0..m).map(|_| u32::from(inp.u8()) % classes).collect();
    let x = inp.floats(n * dim);
    let r = inp.floats(m * dim);
    let t = inp.u8() % 8;
    Case {
        miner,
        margin,
        distance,
        soft,
        reduction,
        cap,
        block,
        n,
        dim,
        labels,
        x,
        m,
        r,
        r_labels,
        short_f32: t == 0,
        short_u32: t == 1,
        out_tag: inp.u8() % 4,
        mode: if inp.bool() {
            GradMode::Overwrite
        } else {
            GradMode::Accumulate
        },
        upstream: inp.f32(),
    }
}

impl Case {
    fn miner(&self, be: triplet_simd::Backend) -> TripletMiner {
        TripletMiner::new(self.miner, self.margin)
            .distance(self.distance)
            .soft_margin(self.soft)
            .reduction(self.reduction)
            .cap(self.cap)
            .block_rows(self.block)
            .backend(be)
    }
    /// The settings of a loss call: those of `mine` and a reduction.
    fn settings_valid(&self) -> bool {
        self.mine_settings_valid() && self.reduction != Reduction::None
    }
    /// The settings of `mine` (and `scratch_len`), which takes any reduction.
    fn mine_settings_valid(&self) -> bool {
        let eps_ok = match self.distance {
            Distance::EpsInSqrt(e) => e.is_finite() && e >= 0.0,
            Distance::EpsOnDiff(_) => false,
            _ => true,
        };
        self.margin.is_finite() && eps_ok && self.block != Some(0)
    }
    fn reference(&self) -> Option<Reference<'_>> {
        (self.m > 0).then(|| {
            Reference::new(
                Rows::dense(&self.r, self.m, self.dim).unwrap(),
                &self.r_labels,
            )
            .unwrap()
        })
    }
    fn grid(&self) -> bool {
        let g = |v: f32| v.abs() <= 16.0 && (v * 16.0).fract() == 0.0;
        self.distance == Distance::SqL2
            && g(self.margin)
            && self.x.iter().chain(&self.r).all(|&v| g(v))
    }
}

struct Run {
    res: Result<MiningStats, Error>,
    fwd: Result<MiningStats, Error>,
    grad: Vec<f32>,
    mined: Result<usize, Error>,
    out: Vec<[u32; 3]>,
}

fn stats_same(a: &MiningStats, b: &MiningStats) -> bool {
    same(a.loss, b.loss)
        && a.mined == b.mined
        && a.active == b.active
        && same(a.mean_d_ap, b.mean_d_ap)
        && same(a.mean_d_an, b.mean_d_an)
        && a.valid_anchors == b.valid_anchors
        && same(a.anchors_with_both, b.anchors_with_both)
}

fn res_same(a: &Result<MiningStats, Error>, b: &Result<MiningStats, Error>) -> bool {
    match (a, b) {
        (Ok(x), Ok(y)) => stats_same(x, y),
        (Err(x), Err(y)) => same_error(x, y),
        _ => false,
    }
}

fn call(c: &Case, be: triplet_simd::Backend, out_len: usize) -> Run {
    let miner = c.miner(be);
    let need = miner
        .scratch_len(c.n, c.m)
        .unwrap_or(triplet_simd::ScratchLen { f32s: 0, u32s: 0 });
    let (mut f, mut u) = (
        vec![f32::NAN; need.f32s.saturating_sub(usize::from(c.short_f32))],
        vec![7u32; need.u32s.saturating_sub(usize::from(c.short_u32))],
    );
    let x = Rows::dense(&c.x, c.n, c.dim).unwrap();
    let init: Vec<f32> = (0..c.n * c.dim).map(|i| i as f32 * 0.5).collect();
    let mut grad = init.clone();
    // The call object with every step, its short forms where there are no reference rows.
    macro_rules! s {
        () => {
            Scratch {
                f32s: &mut f,
                u32s: &mut u,
            }
        };
    }
    let mut call = miner.call(x, &c.labels, s!());
    if let Some(r) = c.reference() {
        call = call.reference(r);
    }
    let res = call.upstream(c.upstream).grad(&mut grad).mode(c.mode).run();
    if res.is_err() {
        assert!(same_slice(&grad, &init), "gradient written on error");
    }
    let fwd = match c.reference() {
        Some(r) => miner.call(x, &c.labels, s!()).reference(r).run(),
        None => miner.forward(x, &c.labels, s!()),
    };
    let mut out = vec![[u32::MAX; 3]; out_len];
    let mined = match c.reference() {
        Some(r) => miner.call(x, &c.labels, s!()).reference(r).mine(&mut out),
        None => miner.mine(x, &c.labels, s!(), &mut out),
    };
    if mined.is_err() {
        assert!(
            out.iter().all(|t| *t == [u32::MAX; 3]),
            "triplets written on error"
        );
    }
    Run {
        res,
        fwd,
        grad,
        mined,
        out,
    }
}

/// Runs the target on one input.
pub fn run(data: &[u8]) {
    let c = decode(data);
    crate::debug!("{c:?}");
    // A scratch buffer is short only if it needs at least one element.
    let need = if c.mine_settings_valid() {
        c.miner(triplet_simd::Backend::detect())
            .scratch_len(c.n, c.m)
            .expect("no overflow at these sizes")
    } else {
        triplet_simd::ScratchLen { f32s: 0, u32s: 0 }
    };
    let short = (c.short_f32 && need.f32s > 0) || (c.short_u32 && need.u32s > 0);
    let mine_valid = c.mine_settings_valid() && c.labels.len() == c.n && !short;
    let valid = mine_valid && c.settings_valid();
    let bes = backends();
    // The count, from a first call with a buffer large enough for any batch here.
    let l = c.n + c.m;
    let first = call(&c, bes[0], l * l * l + 1);
    let count = match &first.mined {
        Ok(k) => *k,
        Err(_) => 0,
    };
    let out_len = match c.out_tag {
        0 => count,
        1 => count.saturating_sub(1),
        2 => count + 1,
        _ => 0,
    };
    let runs: Vec<Run> = bes.iter().map(|&b| call(&c, b, out_len)).collect();
    let r0 = &runs[0];
    assert_eq!(r0.res.is_ok(), valid, "validity: {:?} {c:?}", r0.res);
    assert_eq!(first.res.is_ok(), valid);
    assert_eq!(first.mined.is_ok(), mine_valid, "{:?}", first.mined);
    if valid {
        let s = r0.res.as_ref().unwrap();
        assert!(stats_same(s, r0.fwd.as_ref().unwrap()), "forward differs");
        assert_eq!(s.mined, count as u64);
    }
    if mine_valid {
        assert_eq!(r0.mined.is_ok(), out_len >= count, "{:?}", r0.mined);
        if let Err(e) = &r0.mined {
            assert!(
                matches!(e, Error::BufferTooShort { needed, len, .. } if *needed == count && *len == out_len),
                "{e:?}"
            );
        }
        if r0.mined.is_ok() {
            assert_eq!(&r0.out[..count], &first.out[..count]);
        }
    }
    for (b, r) in bes.iter().zip(&runs).skip(1) {
        assert!(
            res_same(&r.res, &r0.res),
            "{:?}: {:?} vs {:?}",
            b.isa(),
            r.res,
            r0.res
        );
        assert!(res_same(&r.fwd, &r0.fwd));
        assert!(
            same_slice(&r.grad, &r0.grad),
            "{:?}: gradients differ",
            b.isa()
        );
        let mined_same = match (&r.mined, &r0.mined) {
            (Ok(x), Ok(y)) => x == y,
            (Err(x), Err(y)) => same_error(x, y),
            _ => false,
        };
        assert!(mined_same, "{:?}: {:?} vs {:?}", b.isa(), r.mined, r0.mined);
        assert_eq!(r.out, r0.out);
    }
    if valid && c.grid() {
        oracle(&c, &first);
    }
}

fn oracle(c: &Case, first: &Run) {
    let miner = c.miner(triplet_simd::Backend::detect());
    let l = c.n + c.m;
    let x = Rows::dense(&c.x, c.n, c.dim).unwrap();
    let mut d = vec![0.0f64; c.n * l];
    let mut want = vec![[0u32; 3]; l * l * l + 1];
    let k =
        reference::mine_triplets(&miner, x, &c.labels, c.reference(), &mut d, &mut want).unwrap();
    want.truncate(k);
    want.sort();
    let mut got = first.out[..*first.mined.as_ref().unwrap()].to_vec();
    got.sort();
    assert_eq!(got, want, "oracle triplets");
    let mut g_ref = vec![0.0f64; c.n * c.dim];
    let r = reference::mined_loss(
        &miner,
        x,
        &c.labels,
        c.reference(),
        &mut d,
        f64::from(c.upstream),
        Some(&mut g_ref),
    )
    .unwrap();
    let s = first.res.as_ref().unwrap();
    assert_eq!(
        (s.mined, s.active, s.valid_anchors),
        (r.mined, r.active, r.valid_anchors),
        "oracle counts"
    );
    if !(c.upstream.is_finite() && c.upstream.abs() <= 1e6) {
        return;
    }
    let divisor = match c.reduction {
        Reduction::Mean => r.mined.max(1),
        Reduction::MeanActive => r.active.max(1),
        _ => 1,
    } as f64;
    let scale =
        (r.mean_d_ap + r.mean_d_an + f64::from(c.margin.abs()) + 1.0) * r.mined as f64 / divisor;
    assert!(
        (f64::from(s.loss) - r.loss).abs() <= 1e-5 * scale + 1e-30,
        "oracle loss {} vs {}",
        s.loss,
        r.loss
    );
    if c.mode == GradMode::Overwrite {
        let gmax = g_ref.iter().fold(1.0f64, |a, &b| a.max(b.abs()))
            * f64::from(c.upstream.abs().max(1.0));
        for (i, (&a, &b)) in first.grad.iter().zip(&g_ref).enumerate() {
            assert!(
                (f64::from(a) - b).abs() <= 1e-4 * gmax,
                "oracle grad[{i}] {a} vs {b}"
            );
        }
    }
}
