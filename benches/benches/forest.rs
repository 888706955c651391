//! Isolation forest costs: fit 100 trees × 256 samples and batch scoring, each on 10k / 100k /
//! 1M rows × 4, one-row latency, and loading a 100-tree model.json.
//! Run: `cargo bench -p iops-benches --bench forest`; side by side with scikit-learn:
//! `scripts/bench-forest-peers.sh`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use iops_benches::normal_rows;
use iops_core::artifact::{ModelArtifact, OffsetDateTime};
use iops_core::forest::IsolationForestParams;
use iops_core::ndarray::{Axis, Slice};
use iops_core::ParamGuard;

fn bench_forest(c: &mut Criterion) {
    let big = normal_rows(1_000_000, 4, 42);
    let train = big.slice_axis(Axis(0), Slice::from(..100_000));
    let params = IsolationForestParams::new().seed(0).check().unwrap();

    // 100 trees × 256 samples whatever n: fit cost is sampling plus growing, so it should
    // barely depend on n (scikit-learn's grows with n: it converts and weights all rows).
    let mut g = c.benchmark_group("forest_fit");
    g.sample_size(30);
    for n in [10_000usize, 100_000, 1_000_000] {
        let x = big.slice_axis(Axis(0), Slice::from(..n));
        g.bench_with_input(BenchmarkId::from_parameter(n), &x, |b, x| {
            b.iter(|| params.fit(black_box(*x)).unwrap())
        });
    }
    g.finish();

    let forest = params.fit(train).unwrap();
    let mut g = c.benchmark_group("forest_score_samples");
    g.sample_size(10);
    for n in [10_000usize, 100_000, 1_000_000] {
        let x = big.slice_axis(Axis(0), Slice::from(..n));
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &x, |b, x| {
            b.iter(|| forest.score_samples(black_box(*x)).unwrap())
        });
    }
    g.finish();

    let row = [0.3, -1.2, 0.8, 2.5];
    c.bench_function("forest_score_one", |b| {
        b.iter(|| forest.score_one(black_box(&row)).unwrap())
    });

    let names = ["cpuUsage", "memoryUsage", "diskIO", "networkIO"]
        .map(String::from)
        .to_vec();
    let model = ModelArtifact::train(&params, train, names, OffsetDateTime::UNIX_EPOCH).unwrap();
    let json = model.to_json().unwrap();
    let mut g = c.benchmark_group("forest_artifact");
    g.sample_size(30);
    g.throughput(Throughput::Bytes(json.len() as u64));
    g.bench_function("load_100_trees", |b| {
        b.iter(|| ModelArtifact::from_str(black_box(&json)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench_forest);
criterion_main!(benches);
