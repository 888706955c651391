//! Cost of a 4-metric sample through the engine with a fleet isolation forest configured
//! (100 trees × 256, host-standardised features): the per-metric pipelines plus one forest
//! score per sample. Compare with `streaming`'s `engine/host_sample_4_metrics` (no forest).
//!
//! Run: `cargo bench -p iops-benches --bench engine_forest`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use iops_benches::{day_shaped_host, stream_host, warm_host};
use iops_core::artifact::{ModelArtifact, OffsetDateTime};
use iops_core::engine::{training_features, Assessment, EngineConfig, HostForest, HOST_FEATURES};
use iops_core::forest::IsolationForestParams;
use iops_core::ndarray::Array2;
use iops_core::{MetricSample, ParamGuard};

fn engine_with_forest(c: &mut Criterion) {
    let plain = EngineConfig::default();
    // The fleet model: fitted on other hosts' history, as `iops train` does.
    let history: Vec<MetricSample> = (0..4)
        .flat_map(|h| day_shaped_host(&format!("train-{h}"), 4032, 100 + h))
        .collect();
    let rows = training_features(&plain, &history).expect("valid samples");
    let x = Array2::from_shape_vec((rows.len(), 4), rows.concat()).expect("n x 4");
    let params = IsolationForestParams::new()
        .contamination(0.001)
        .check()
        .expect("valid params");
    let names = HOST_FEATURES.map(str::to_owned).to_vec();
    let model =
        ModelArtifact::train(&params, x.view(), names, OffsetDateTime::UNIX_EPOCH).expect("fits");
    let forest = HostForest::new(model).expect("host features");

    let stream = day_shaped_host("bench-1", 20_000, 0x1057_5eed);
    let (warm, rest) = warm_host(&plain, Some(&forest), &stream);
    let mut group = c.benchmark_group("engine_forest");
    group.throughput(Throughput::Elements(rest.len() as u64));
    group.bench_function("host_sample_4_metrics", |b| {
        b.iter_batched_ref(
            || (warm.clone(), Assessment::default()),
            |(state, out)| stream_host(state, &plain, Some(&forest), rest, out),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(std::time::Duration::from_secs(3)).warm_up_time(std::time::Duration::from_secs(1));
    targets = engine_with_forest
}
criterion_main!(benches);
