//! ns per `score_and_update` for the streaming detectors, over a pregenerated seeded series.
//!
//! Run: `cargo bench -p iops-benches --bench detectors`

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use iops_benches::Rng;
use iops_core::detector::{Ewma, StreamingDetector, ZScore};

const SERIES_LEN: usize = 10_000;

/// Seeded xorshift64* series: a noisy level with rare spikes, so the robust path's sorted
/// window sees realistic insert positions.
fn series(seed: u64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    let mut next = move || rng.next_f64();
    (0..SERIES_LEN)
        .map(|i| {
            let spike = if next() < 0.01 { 50.0 } else { 0.0 };
            60.0 + 10.0 * (i as f64 / 288.0).sin() + 5.0 * next() + spike
        })
        .collect()
}

/// Benchmarks one detector: each iteration feeds the whole series to a warm clone.
fn bench_one<D: StreamingDetector + Clone>(c: &mut Criterion, name: &str, warm: D, xs: &[f64]) {
    let mut group = c.benchmark_group("detectors");
    group.throughput(Throughput::Elements(xs.len() as u64));
    group.bench_function(name, |b| {
        b.iter_batched_ref(
            || warm.clone(),
            |d| {
                for &x in xs {
                    black_box(d.score_and_update(black_box(x)).ok());
                }
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn warmed<D: StreamingDetector>(mut d: D, xs: &[f64]) -> D {
    for &x in xs.iter().take(500) {
        let _ = d.update(x);
    }
    d
}

fn detectors(c: &mut Criterion) {
    let xs = series(42);
    let build = |robust| {
        ZScore::params()
            .window(100)
            .robust(robust)
            .build()
            .map(|d| warmed(d, &xs))
    };
    match (
        build(false),
        build(true),
        Ewma::params().half_life(30.0).build(),
    ) {
        (Ok(z), Ok(r), Ok(e)) => {
            bench_one(c, "zscore_mean_w100", z, &xs);
            bench_one(c, "zscore_robust_w100", r, &xs);
            bench_one(c, "ewma_hl30", warmed(e, &xs), &xs);
        }
        _ => eprintln!("invalid detector parameters"),
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(30);
    targets = detectors
}
criterion_main!(benches);
