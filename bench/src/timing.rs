//! A small timing harness: warm up, size a batch, then take the median of several batches.

use std::hint::black_box;
use std::time::{Duration, Instant};

/// How long to measure.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// Warm-up time before measuring (at least one run).
    pub warmup: Duration,
    /// Target duration of one batch (at least one run per batch).
    pub batch: Duration,
    /// Number of batches; the median batch is reported.
    pub batches: usize,
}

impl Timing {
    /// The default of the `bench-table` binary: 200 ms warm-up, 11 batches of 20 ms.
    pub const STANDARD: Timing = Timing {
        warmup: Duration::from_millis(200),
        batch: Duration::from_millis(20),
        batches: 11,
    };
    /// A faster, noisier setting.
    pub const QUICK: Timing = Timing {
        warmup: Duration::from_millis(20),
        batch: Duration::from_millis(5),
        batches: 5,
    };
}

/// The result of [`measure`].
#[derive(Clone, Copy, Debug)]
pub struct Measurement {
    /// Median time of one run, in nanoseconds.
    pub ns_per_run: f64,
    /// Fastest and slowest batch, in nanoseconds per run.
    pub min: f64,
    /// Slowest batch, in nanoseconds per run.
    pub max: f64,
    /// Runs per batch.
    pub runs_per_batch: u64,
}

/// Times `f`: warm-up, then `timing.batches` batches of equal run counts; returns the median.
pub fn measure<F: FnMut() -> u64>(timing: &Timing, mut f: F) -> Measurement {
    let start = Instant::now();
    let mut warm = 0u64;
    while warm == 0 || start.elapsed() < timing.warmup {
        black_box(f());
        warm += 1;
    }
    let per_run = start.elapsed().as_secs_f64() / warm as f64;
    let runs = ((timing.batch.as_secs_f64() / per_run) as u64).max(1);
    let mut samples: Vec<f64> = (0..timing.batches.max(1))
        .map(|_| {
            let t = Instant::now();
            for _ in 0..runs {
                black_box(f());
            }
            t.elapsed().as_secs_f64() * 1e9 / runs as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    Measurement {
        ns_per_run: samples[samples.len() / 2],
        min: samples[0],
        max: samples[samples.len() - 1],
        runs_per_batch: runs,
    }
}

/// The geometric mean of positive values (NaN for none).
pub fn geomean(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    (values.iter().map(|v| v.ln()).sum::<f64>() / values.len() as f64).exp()
}
