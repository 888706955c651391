//! Seeded inputs shared by the benches in benches/, so every bench measures the same kind of
//! stream and runs are comparable.

use std::hint::black_box;

use iops_core::engine::{Assessment, EngineConfig, HostForest, HostState};
use iops_core::{MetricSample, Timestamp};

/// Samples that warm a host's state before a stream is measured: a week of 5-minute
/// samples, the history a long-running host has.
pub const WARM_SAMPLES: usize = 2016;

/// A state for `config` warmed on the first [`WARM_SAMPLES`] of `stream` (all of it if
/// shorter), and the rest of the stream, to be measured.
pub fn warm_host<'a>(
    config: &EngineConfig,
    forest: Option<&HostForest>,
    stream: &'a [MetricSample],
) -> (HostState, &'a [MetricSample]) {
    let (warm, rest) = stream.split_at(WARM_SAMPLES.min(stream.len()));
    let mut state = HostState::new(config).expect("a checked config builds a state");
    for s in warm {
        state.process(config, forest, s).expect("valid sample");
    }
    (state, rest)
}

/// Streams `samples` through `state` with one reused `out` buffer, the fastest public path a
/// real caller uses ([`HostState::process_into`]); the loop every engine bench measures.
/// Not inlined, so a profiler can attribute (and `--toggle-collect`) exactly this loop.
#[inline(never)]
pub fn stream_host(
    state: &mut HostState,
    config: &EngineConfig,
    forest: Option<&HostForest>,
    samples: &[MetricSample],
    out: &mut Assessment,
) {
    for s in samples {
        state
            .process_into(config, forest, black_box(s), out)
            .expect("valid sample");
        black_box(&*out);
    }
}

/// Deterministic pseudo-random numbers in [0, 1) (xorshift64*).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` (any value; 0 is mapped to 1).
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    /// The next number in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `n` 5-minute samples of a day-shaped host: diurnal CPU, steady memory, bursty I/O, a CPU
/// spike every 997 samples.
pub fn day_shaped_host(hostname: &str, n: usize, seed: u64) -> Vec<MetricSample> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|i| {
            let day = (i % 288) as f64 / 288.0 * std::f64::consts::TAU;
            let spike = if i % 997 == 500 { 40.0 } else { 0.0 };
            MetricSample {
                timestamp: Timestamp::from_epoch_seconds(1.7e9 + 300.0 * i as f64)
                    .unwrap_or_else(|_| unreachable!("fixed, valid epoch")),
                hostname: hostname.into(),
                cpu_usage: (40.0 + 20.0 * day.sin() + 5.0 * rng.next_f64() + spike).min(100.0),
                memory_usage: 60.0 + 2.0 * rng.next_f64(),
                disk_io: 200.0 * rng.next_f64() * rng.next_f64(),
                network_io: 150.0 + 30.0 * rng.next_f64(),
            }
        })
        .collect()
}

/// Standard normal rows (Box–Muller over xorshift64*), like the peers' `standard_normal`.
pub fn normal_rows(n: usize, d: usize, seed: u64) -> iops_core::ndarray::Array2<f64> {
    let mut s = seed | 1;
    let mut u = move || {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        ((s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    iops_core::ndarray::Array2::from_shape_fn((n, d), |_| {
        (-2.0 * u().ln()).sqrt() * (2.0 * std::f64::consts::PI * u()).cos()
    })
}
