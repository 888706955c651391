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
use iops_benches::{day_shaped_host, stream_host, warm_host, WARM_SAMPLES};
use iops_core::engine::{Assessment, EngineConfig, InsightEngine, SeriesScorer};

fn engine(c: &mut Criterion) {
    let config = EngineConfig::default();
    let stream = day_shaped_host("bench-1", 20_000, 0x1057_5eed);
    // Warm state: a week of history, as a long-running host has.
    let (warm, rest) = warm_host(&config, None, &stream);

    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(rest.len() as u64));
    group.bench_function("host_sample_4_metrics", |b| {
        b.iter_batched_ref(
            || (warm.clone(), Assessment::default()),
            |(state, out)| stream_host(state, &config, None, rest, out),
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

    let values: Vec<(f64, f64)> = rest
        .iter()
        .map(|s| (s.timestamp.epoch_seconds(), s.cpu_usage))
        .collect();
    let mut series = SeriesScorer::new(&config).expect("default config is valid");
    for s in &stream[..WARM_SAMPLES] {
        series
            .observe(s.timestamp.epoch_seconds(), s.cpu_usage)
            .expect("finite");
    }
    let mut group = c.benchmark_group("series");
    group.throughput(Throughput::Elements(values.len() as u64));
    group.bench_function("observe", |b| {
        b.iter_batched_ref(
            || series.clone(),
            |scorer| {
                for &(t, x) in &values {
                    black_box(scorer.observe(black_box(t), black_box(x)).expect("finite"));
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
