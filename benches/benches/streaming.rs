//! Cost of the streaming path: one 4-metric sample through the whole engine (validation,
//! four series pipelines, insight rules), and one value through one series pipeline.
//!
//! The engine group uses the fastest public path a real caller uses for a stream:
//! [`HostState::process_into`] with one reused [`Assessment`] buffer (what a server's
//! per-host loop or `InsightEngine::process_into` does; a Lambda loads one `HostState`, and
//! calls it per sample of its batch). `HostState::process` costs one `Assessment` more.
//! `engine/fleet_sample_4_metrics` is the same stream through a server's
//! [`InsightEngine::process_into`], which adds the per-host lookup by hostname.
//!
//! Run: `cargo bench -p iops-benches --bench streaming`. `scripts/bench-peers.sh` runs it
//! side by side with river's streaming z-score.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use iops_core::engine::{Assessment, EngineConfig, HostState, InsightEngine, SeriesScorer};
use iops_core::{MetricSample, Timestamp};

/// Deterministic pseudo-random numbers in [0, 1) (xorshift64*), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A day-shaped fleet host: diurnal CPU, steady memory, bursty I/O, a few spikes.
fn samples(n: usize) -> Vec<MetricSample> {
    let mut rng = Rng(0x1057_5eed);
    (0..n)
        .map(|i| {
            let day = (i % 288) as f64 / 288.0 * std::f64::consts::TAU;
            let spike = if i % 997 == 500 { 40.0 } else { 0.0 };
            MetricSample {
                timestamp: Timestamp::from_epoch_seconds(1.7e9 + 300.0 * i as f64)
                    .unwrap_or_else(|_| unreachable!("fixed, valid epoch")),
                hostname: "bench-1".into(),
                cpu_usage: (40.0 + 20.0 * day.sin() + 5.0 * rng.next() + spike).min(100.0),
                memory_usage: 60.0 + 2.0 * rng.next(),
                disk_io: 200.0 * rng.next() * rng.next(),
                network_io: 150.0 + 30.0 * rng.next(),
            }
        })
        .collect()
}

fn engine(c: &mut Criterion) {
    let config = EngineConfig::default();
    let stream = samples(20_000);
    // Warm state: a week of history, as a long-running host has.
    let mut warm = HostState::new(&config).expect("default config is valid");
    for s in &stream[..2016] {
        warm.process(&config, s).expect("valid sample");
    }
    let rest = &stream[2016..];

    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(rest.len() as u64));
    group.bench_function("host_sample_4_metrics", |b| {
        b.iter_batched_ref(
            || (warm.clone(), Assessment::default()),
            |(state, out)| {
                for s in rest {
                    state
                        .process_into(&config, black_box(s), out)
                        .expect("valid sample");
                    black_box(&*out);
                }
            },
            BatchSize::LargeInput,
        )
    });
    let mut fleet = InsightEngine::new(config.clone());
    fleet.restore_host("bench-1", warm.clone());
    group.bench_function("fleet_sample_4_metrics", |b| {
        b.iter_batched_ref(
            || (fleet.clone(), Assessment::default()),
            |(engine, out)| {
                for s in rest {
                    engine
                        .process_into(black_box(s), out)
                        .expect("valid sample");
                    black_box(&*out);
                }
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();

    let values: Vec<f64> = rest.iter().map(|s| s.cpu_usage).collect();
    let mut series = SeriesScorer::new(&config).expect("default config is valid");
    for s in &stream[..2016] {
        series.observe(s.cpu_usage).expect("finite");
    }
    let mut group = c.benchmark_group("series");
    group.throughput(Throughput::Elements(values.len() as u64));
    group.bench_function("observe", |b| {
        b.iter_batched_ref(
            || series.clone(),
            |scorer| {
                for &x in &values {
                    black_box(scorer.observe(black_box(x)).expect("finite"));
                }
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(std::time::Duration::from_secs(3)).warm_up_time(std::time::Duration::from_secs(1));
    targets = engine
}
criterion_main!(benches);
