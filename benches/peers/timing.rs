//! The peer scripts' timing protocol on the crate's side, shared by `triplet_timing` and
//! `mining_timing`: two warm-up calls, an iteration count grown until one repeat takes at least
//! `min_time` seconds, then `repeats` repeats in all; the median, min and max time per call. Also the
//! raw native-endian files the scripts exchange with the binaries.

use std::hint::black_box;
use std::time::Instant;

/// What one timed call returned first, and `(median, min, max)` seconds per call with the iteration
/// count of a repeat.
pub struct Timing<T> {
    pub value: T,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub iters: usize,
}

impl<T: std::fmt::Display> Timing<T> {
    /// The line the scripts read: `value median min max iters`.
    pub fn line(&self) -> String {
        format!(
            "{} {} {} {} {}",
            self.value, self.median, self.min, self.max, self.iters
        )
    }
}

/// Times `call` by the scripts' protocol.
pub fn time<T>(min_time: f64, repeats: usize, mut call: impl FnMut() -> T) -> Timing<T> {
    let value = call();
    black_box(call());
    let mut iters = 1usize;
    let mut times = Vec::new();
    loop {
        let t = Instant::now();
        for _ in 0..iters {
            black_box(call());
        }
        let dt = t.elapsed().as_secs_f64();
        if dt >= min_time {
            times.push(dt / iters as f64);
            break;
        }
        iters = (iters * 2).max((iters as f64 * min_time / dt.max(1e-9) * 1.2) as usize + 1);
    }
    for _ in 1..repeats {
        let t = Instant::now();
        for _ in 0..iters {
            black_box(call());
        }
        times.push(t.elapsed().as_secs_f64() / iters as f64);
    }
    times.sort_by(f64::total_cmp);
    let k = times.len();
    let median = if k % 2 == 1 {
        times[k / 2]
    } else {
        (times[k / 2 - 1] + times[k / 2]) / 2.0
    };
    Timing {
        value,
        median,
        min: times[0],
        max: times[k - 1],
        iters,
    }
}

/// Native-endian 4-byte values from `path`.
pub fn read<T: bytemuck::Pod>(path: &str) -> Vec<T> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    bytes
        .chunks_exact(std::mem::size_of::<T>())
        .map(bytemuck::pod_read_unaligned)
        .collect()
}

/// Writes `x` to `path` as native-endian values.
pub fn write<T: bytemuck::Pod>(path: &str, x: &[T]) {
    std::fs::write(path, bytemuck::cast_slice(x)).unwrap_or_else(|e| panic!("{path}: {e}"));
}
