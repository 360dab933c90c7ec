//! The paired-comparison harness of `cargo bench --bench compare` (see `compare.rs` for the workloads).
//!
//! # Method
//! A *workload* has contenders that compute the same thing on the same inputs, and one or more
//! *baselines* (the first is the reference every ratio is taken against; later ones add a column of
//! ratios for the non-baseline contenders). Each contender is calibrated to a round of about
//! [`ROUND`] (a whole number of calls, at least one), warmed up the same way (calibration, then one
//! untimed round), and then all contenders run **alternately**: in each of [`Bench::rounds`] rounds every
//! contender runs once, in an order shuffled anew for that round. A round gives each contender its time
//! per call, and so its speed ratio to each baseline *in that round* (`t_baseline / t_contender`: > 1 is
//! faster). A change of the machine's speed state between rounds moves both sides of a ratio alike;
//! between two criterion measurements seconds apart it does not. The table gives, per contender, the
//! median of its per-round ratios with a distribution-free 95% interval for that median (order
//! statistics of the binomial(n, ½) law, see [`median_interval`]) and its throughput at its median time.
//! The process is pinned to one core first (`TRIPLET_BENCH_CORE`, default the last core).
//!
//! # Adding a workload
//! ```ignore
//! fn my_op(b: &mut Bench) {
//!     let (x, y) = (data(1024, 1), data(1024, 2));
//!     let mut w = b.workload("my_op", "D = 1024", Unit::Elements(1024));
//!     w.baseline("naive", || naive(black_box(&x), black_box(&y)));
//!     w.contender("default", || triplet_simd::my_op(black_box(&x), black_box(&y)));
//!     w.run();
//! }
//! ```
//! and list `my_op` in `compare.rs`'s `GROUPS`. A contender is any `FnMut() -> R`: the harness times a
//! loop of calls with the closure inlined into it and passes each result to `black_box`; pass the inputs
//! through `black_box` inside the closure so that nothing is hoisted out of the loop. Contenders that
//! write into shared buffers can share them through a `RefCell`.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// The target length of one contender's part of a round (a whole number of calls, at least one).
pub const ROUND: Duration = Duration::from_millis(2);

/// What one call processes, for the throughput column.
#[derive(Clone, Copy)]
pub enum Unit {
    /// Elements per call (reported in Gelem/s).
    Elements(u64),
    /// Bytes moved per call (reported in GiB/s).
    Bytes(u64),
}

impl Unit {
    fn rate(self, secs: f64) -> String {
        match self {
            Unit::Elements(n) => format!("{:.2} Gelem/s", n as f64 / secs / 1e9),
            Unit::Bytes(n) => format!("{:.1} GiB/s", n as f64 / secs / (1u64 << 30) as f64),
        }
    }
}

/// One line of the table.
pub struct Row {
    pub workload: String,
    pub size: String,
    pub contender: String,
    pub versus: String,
    /// Median per-round ratio `t_versus / t_contender`, and its 95% interval; `None` for a reference row.
    pub ratio: Option<(f64, f64, f64)>,
    pub throughput: String,
}

/// The harness: settings, and the rows measured so far.
pub struct Bench {
    /// Rounds per workload (`TRIPLET_BENCH_ROUNDS`, default 41; at least 31 is advised).
    pub rounds: usize,
    /// Substrings selecting workloads (`"<workload> <size>"`), from the command line; empty: all.
    pub filters: Vec<String>,
    /// The core the process is pinned to, if pinning succeeded.
    pub core: Option<usize>,
    pub rows: Vec<Row>,
    rng: u64,
}

impl Bench {
    /// Reads the command line (`cargo bench --bench compare -- [FILTER…]`) and the environment, and
    /// pins the process to one core.
    pub fn from_env() -> Bench {
        let filters = std::env::args()
            .skip(1)
            .filter(|a| !a.starts_with("--"))
            .collect();
        let rounds = std::env::var("TRIPLET_BENCH_ROUNDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(41);
        Bench {
            rounds,
            filters,
            core: pin(),
            rows: Vec::new(),
            rng: 0x9e37_79b9_7f4a_7c15,
        }
    }

    /// Whether a workload whose name or size contains `key` is selected (for skipping set-up).
    pub fn wants(&self, key: &str) -> bool {
        self.filters.is_empty()
            || self
                .filters
                .iter()
                .any(|f| key.contains(f.as_str()) || f.contains(key))
    }

    /// A new workload; add its baselines and contenders, then call [`Workload::run`].
    pub fn workload<'b, 'f>(
        &'b mut self,
        name: &str,
        size: impl Into<String>,
        unit: Unit,
    ) -> Workload<'b, 'f> {
        Workload {
            bench: self,
            name: name.to_string(),
            size: size.into(),
            unit,
            entries: Vec::new(),
        }
    }

    fn shuffle(&mut self, v: &mut [usize]) {
        for i in (1..v.len()).rev() {
            // xorshift64*
            self.rng ^= self.rng >> 12;
            self.rng ^= self.rng << 25;
            self.rng ^= self.rng >> 27;
            let r = self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d);
            v.swap(i, (r % (i as u64 + 1)) as usize);
        }
    }
}

type Timed<'f> = Box<dyn FnMut(u64) -> Duration + 'f>;

struct Entry<'f> {
    name: String,
    baseline: bool,
    run: Timed<'f>,
}

/// The contenders of one workload (see the module docs).
pub struct Workload<'b, 'f> {
    bench: &'b mut Bench,
    name: String,
    size: String,
    unit: Unit,
    entries: Vec<Entry<'f>>,
}

/// A loop of `iters` calls of `f`, timed; `f` is inlined into the loop.
fn timed<'f, R>(mut f: impl FnMut() -> R + 'f) -> Timed<'f> {
    Box::new(move |iters| {
        let t = Instant::now();
        for _ in 0..iters {
            black_box(f());
        }
        t.elapsed()
    })
}

impl<'f> Workload<'_, 'f> {
    /// A baseline: the first one is the reference of every ratio; each later one adds ratios of the
    /// non-baseline contenders against it.
    pub fn baseline<R>(&mut self, name: &str, f: impl FnMut() -> R + 'f) -> &mut Self {
        self.entries.push(Entry {
            name: name.to_string(),
            baseline: true,
            run: timed(f),
        });
        self
    }

    /// A contender, compared with every baseline.
    pub fn contender<R>(&mut self, name: &str, f: impl FnMut() -> R + 'f) -> &mut Self {
        self.entries.push(Entry {
            name: name.to_string(),
            baseline: false,
            run: timed(f),
        });
        self
    }

    /// Calibrates, warms up and runs the rounds; appends the workload's rows to the bench and prints
    /// them. Does nothing if the workload is filtered out.
    pub fn run(self) {
        let Workload {
            bench,
            name,
            size,
            unit,
            mut entries,
        } = self;
        let key = format!("{name} {size}");
        if !bench.wants(&key) || entries.is_empty() {
            return;
        }
        assert!(
            entries[0].baseline,
            "{key}: the first entry must be a baseline"
        );
        eprint!("{key}: calibrating…");
        // Calibration (also the first part of the warm-up): double the calls until a loop takes at
        // least a quarter of a round, then size the round from that loop's time per call.
        let mut iters = Vec::new();
        for e in &mut entries {
            let mut n = 1u64;
            loop {
                let t = (e.run)(n);
                if t >= ROUND / 4 || n >= 1 << 40 {
                    // The fastest of three loops of that size: a loop that was preempted would make
                    // the rounds far too short (timer-dominated) for the rest of the run.
                    let t = t.min((e.run)(n)).min((e.run)(n));
                    let per = t.as_secs_f64() / n as f64;
                    iters.push(((ROUND.as_secs_f64() / per).round() as u64).max(1));
                    break;
                }
                n *= 2;
            }
        }
        let k = entries.len();
        let mut order: Vec<usize> = (0..k).collect();
        // One untimed round in a shuffled order: the rest of the warm-up, the same for everyone.
        bench.shuffle(&mut order);
        for &i in &order {
            (entries[i].run)(iters[i]);
        }
        eprint!(" {} rounds…", bench.rounds);
        let mut per_call = vec![Vec::with_capacity(bench.rounds); k];
        for _ in 0..bench.rounds {
            bench.shuffle(&mut order);
            for &i in &order {
                let t = (entries[i].run)(iters[i]);
                per_call[i].push(t.as_secs_f64() / iters[i] as f64);
            }
        }
        eprintln!(" done");
        let median_time = |i: usize| median(&mut per_call[i].clone());
        let baselines: Vec<usize> = (0..k).filter(|&i| entries[i].baseline).collect();
        let reference = baselines[0];
        let mut row = |i: usize, v: usize| {
            let ratio = (i != v).then(|| {
                let mut r: Vec<f64> = (0..bench.rounds)
                    .map(|j| per_call[v][j] / per_call[i][j])
                    .collect();
                let (lo, hi) = median_interval(&mut r);
                (median(&mut r), lo, hi)
            });
            let r = Row {
                workload: name.clone(),
                size: size.clone(),
                contender: entries[i].name.clone(),
                versus: entries[v].name.clone(),
                ratio,
                throughput: unit.rate(median_time(i)),
            };
            println!("{}", markdown_row(&r));
            bench.rows.push(r);
        };
        // Every entry against the reference (the reference's own row carries its throughput only), then
        // the non-baseline contenders against each further baseline.
        for i in 0..k {
            row(i, reference);
        }
        for &v in &baselines[1..] {
            for i in (0..k).filter(|&i| !entries[i].baseline) {
                row(i, v);
            }
        }
    }
}

/// The median (sorts `x`).
pub fn median(x: &mut [f64]) -> f64 {
    x.sort_by(f64::total_cmp);
    let n = x.len();
    if n % 2 == 1 {
        x[n / 2]
    } else {
        (x[n / 2 - 1] + x[n / 2]) / 2.0
    }
}

/// The 0-based ranks `(k, n − 1 − k)` of the distribution-free confidence interval for the median of
/// `n` samples: the largest `k` with `P(B ≤ k) ≤ 2.5%` for `B ~ binomial(n, ½)`, so that the interval
/// `[x₍ₖ₎, x₍ₙ₋₁₋ₖ₎]` covers the true median with probability `1 − 2·P(B ≤ k) ≥ 95%` (for n = 41:
/// ranks 13 and 27, the 14th and 28th smallest, coverage 97.2%; n = 31: the 10th and 22nd, 97.1%).
/// Returns also the coverage.
pub fn median_ranks(n: usize) -> (usize, usize, f64) {
    // P(B ≤ j) accumulated term by term: C(n, j) / 2ⁿ, in logs to stay finite for large n.
    let ln_half_n = -(n as f64) * std::f64::consts::LN_2;
    let mut ln_c = 0.0; // ln C(n, 0)
    let mut cdf = 0.0;
    let mut k = None;
    for j in 0..n {
        cdf += (ln_c + ln_half_n).exp();
        if cdf <= 0.025 {
            k = Some(j);
        } else {
            break;
        }
        ln_c += ((n - j) as f64).ln() - ((j + 1) as f64).ln();
    }
    match k {
        // Fewer than 6 samples: no 95% interval exists; the whole range is the honest answer.
        None => (0, n.saturating_sub(1), 1.0 - 2.0 * 0.5f64.powi(n as i32)),
        Some(k) => {
            let mut p = 0.0;
            let mut ln_c = 0.0;
            for j in 0..=k {
                p += (ln_c + ln_half_n).exp();
                ln_c += ((n - j) as f64).ln() - ((j + 1) as f64).ln();
            }
            (k, n - 1 - k, 1.0 - 2.0 * p)
        }
    }
}

/// The 95% interval of the median of `x` by order statistics ([`median_ranks`]); sorts `x`.
pub fn median_interval(x: &mut [f64]) -> (f64, f64) {
    x.sort_by(f64::total_cmp);
    let (lo, hi, _) = median_ranks(x.len());
    (x[lo], x[hi])
}

/// Pins the process to `TRIPLET_BENCH_CORE` or the last core; `None` if that is not possible here.
fn pin() -> Option<usize> {
    let cores = core_affinity::get_core_ids()?;
    let want = std::env::var("TRIPLET_BENCH_CORE")
        .ok()
        .and_then(|v| v.parse::<usize>().ok());
    let core = match want {
        Some(id) => *cores.iter().find(|c| c.id == id)?,
        None => *cores.last()?,
    };
    core_affinity::set_for_current(core).then_some(core.id)
}

pub const TABLE_HEADER: &str = "| workload | size | contender | versus | × (median ratio) | 95% interval | throughput |\n|---|---|---|---|---:|---|---:|";

/// One table line; the format `tables.rs` parses.
pub fn markdown_row(r: &Row) -> String {
    let (ratio, interval) = match r.ratio {
        Some((m, lo, hi)) => (format!("{m:.2}"), format!("{lo:.2}–{hi:.2}")),
        None => ("1".to_string(), "reference".to_string()),
    };
    format!(
        "| {} | {} | {} | {} | {} | {} | {} |",
        r.workload, r.size, r.contender, r.versus, ratio, interval, r.throughput
    )
}

/// What the table says about the machine and the run.
pub struct Machine {
    pub cpu: String,
    pub slug: String,
    pub cores: usize,
    pub backend: String,
    pub features: String,
    pub load: String,
    pub date: String,
}

impl Machine {
    pub fn here() -> Machine {
        let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let field = |k: &str| {
            info.lines()
                .find(|l| l.split(':').next().is_some_and(|h| h.trim() == k))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        };
        let brand = field("model name")
            .or_else(|| field("Model"))
            .unwrap_or_else(|| format!("unknown {} CPU", std::env::consts::ARCH));
        let cpu = match (field("cpu family"), field("model")) {
            (Some(f), Some(m)) => format!("{brand} (family {f}, model {m})"),
            _ => brand.clone(),
        };
        let flags = field("flags")
            .or_else(|| field("Features"))
            .unwrap_or_default();
        let features: Vec<&str> = ["avx2", "fma", "avx512f", "avx512bw", "asimd"]
            .into_iter()
            .filter(|f| flags.split_whitespace().any(|x| x == *f))
            .collect();
        let backend = triplet_simd::Isa::detect().name().to_string();
        let mut slug = String::new();
        for c in format!("{brand} {backend}").chars() {
            if c.is_ascii_alphanumeric() {
                slug.push(c.to_ascii_lowercase());
            } else if !slug.ends_with('-') && !slug.is_empty() {
                slug.push('-');
            }
        }
        let slug = slug.trim_end_matches('-').to_string();
        Machine {
            cpu,
            slug,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            backend,
            features: features.join(" "),
            load: std::fs::read_to_string("/proc/loadavg")
                .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
                .unwrap_or_else(|_| "?".into()),
            date: utc_now(),
        }
    }
}

/// `YYYY-MM-DD HH:MM UTC` from the system clock (civil-from-days, no date crate needed).
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// The results file of one CPU: a header the merge command reads (`- key: value` lines) and the table.
pub fn results_markdown(m: &Machine, b: &Bench) -> String {
    let (lo, hi, cover) = median_ranks(b.rounds);
    let mut s = String::new();
    let _ = writeln!(s, "# Paired comparisons on {}\n", m.cpu);
    let _ = writeln!(
        s,
        "Written by `cargo bench --bench compare`; `cargo run -p triplet-simd-bench --bin tables` merges \
         every file of this folder into the README. Do not edit by hand.\n"
    );
    let _ = writeln!(s, "- cpu: {}", m.cpu);
    let _ = writeln!(s, "- cores: {}", m.cores);
    let _ = writeln!(s, "- backend: {}", m.backend);
    let _ = writeln!(s, "- features: {}", m.features);
    let _ = writeln!(
        s,
        "- pinned: {}",
        b.core.map_or("no".to_string(), |c| format!("core {c}"))
    );
    let _ = writeln!(s, "- date: {}", m.date);
    let _ = writeln!(s, "- load average at start: {}", m.load);
    let _ = writeln!(
        s,
        "- method: {} rounds per workload, each contender about {} ms per round, order shuffled every \
         round; ratio = baseline time / contender time in the same round; median of the rounds, 95% \
         interval = order statistics {} and {} of {} (coverage {:.1}%)",
        b.rounds,
        ROUND.as_millis(),
        lo + 1,
        hi + 1,
        b.rounds,
        cover * 100.0
    );
    let _ = writeln!(s, "\n{TABLE_HEADER}");
    for r in &b.rows {
        let _ = writeln!(s, "{}", markdown_row(r));
    }
    s
}
