//! Peer groups: the cost of fitting them (KMeans for 2..8 groups and their silhouettes, the
//! groups' baselines) on 1,000 hosts × a day of 5-minute samples; of a new host's samples
//! while it is compared with its group (placement, then the group's baseline beside its own
//! models); and of a warm host's sample with and without groups in the model (the streaming
//! path a warm host takes must not pay for them).
//!
//! Run: `cargo bench -p iops-benches --bench peers`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use iops_benches::{day_shaped_host, stream_host, warm_host};
use iops_core::artifact::{ModelArtifact, OffsetDateTime};
use iops_core::engine::{
    training_features, Assessment, EngineConfig, HostForest, HostState, HOST_FEATURES,
};
use iops_core::forest::IsolationForestParams;
use iops_core::ndarray::Array2;
use iops_core::peers::{PeerGroups, PeerParams};
use iops_core::{MetricSample, ParamGuard};

/// Host `h` of a fleet of four roles: the day-shaped host with its levels scaled by role.
fn role_host(h: usize, n: usize) -> Vec<MetricSample> {
    let scale = [
        [1.0, 1.0, 1.0, 1.0],
        [0.5, 1.2, 3.0, 0.6],
        [0.3, 0.7, 0.5, 0.2],
        [1.4, 0.9, 1.5, 2.0],
    ][h % 4];
    day_shaped_host(&format!("h-{h}"), n, 7 + h as u64)
        .into_iter()
        .map(|mut s| {
            s.cpu_usage = (s.cpu_usage * scale[0]).min(100.0);
            s.memory_usage = (s.memory_usage * scale[1]).min(100.0);
            s.disk_io *= scale[2];
            s.network_io *= scale[3];
            s
        })
        .collect()
}

fn fit(c: &mut Criterion) {
    let fleet: Vec<MetricSample> = (0..1000).flat_map(|h| role_host(h, 289)).collect();
    let mut group = c.benchmark_group("peers");
    group.sample_size(10);
    group.throughput(Throughput::Elements(1000));
    group.bench_function("fit_1000_hosts_one_day", |b| {
        b.iter(|| PeerGroups::fit(&fleet, &PeerParams::default()).expect("fits"))
    });
    group.finish();
}

/// The fleet model of 16 hosts' 2 days: forest and peer groups.
fn model() -> ModelArtifact {
    let config = EngineConfig::default();
    let history: Vec<MetricSample> = (0..16).flat_map(|h| role_host(h, 2 * 288 + 1)).collect();
    let rows = training_features(&config, &history).expect("valid samples");
    let x = Array2::from_shape_vec((rows.len(), 4), rows.concat()).expect("n x 4");
    let params = IsolationForestParams::new()
        .contamination(0.001)
        .check()
        .expect("valid params");
    let names = HOST_FEATURES.map(str::to_owned).to_vec();
    let mut model =
        ModelArtifact::train(&params, x.view(), names, OffsetDateTime::UNIX_EPOCH).expect("fits");
    model.set_peer_groups(Some(
        PeerGroups::fit(&history, &PeerParams::default()).expect("groups"),
    ));
    model
}

fn streaming(c: &mut Criterion) {
    let config = EngineConfig::default();
    let with = model();
    let mut without = with.clone();
    without.set_peer_groups(None);
    let (with, without) = (
        HostForest::new(with).expect("host model"),
        HostForest::new(without).expect("host model"),
    );
    let mut group = c.benchmark_group("peers");
    // a new host's first 100 samples: placed after 3, then scored against its group
    let newcomer = role_host(1001, 100);
    group.throughput(Throughput::Elements(newcomer.len() as u64));
    for (name, forest) in [
        ("new_host_sample_with_groups", &with),
        ("new_host_sample_without_groups", &without),
    ] {
        group.bench_function(name, |b| {
            b.iter_batched_ref(
                || {
                    (
                        HostState::new(&config).expect("state"),
                        Assessment::default(),
                    )
                },
                |(state, out)| stream_host(state, &config, Some(forest), &newcomer, out),
                BatchSize::LargeInput,
            )
        });
    }
    // a warm host (4 days in), the model with and without groups
    let stream = role_host(1002, 4 * 288 + 2000);
    for (name, forest) in [
        ("warm_host_sample_with_groups", &with),
        ("warm_host_sample_without_groups", &without),
    ] {
        let (warm, rest) = warm_host(&config, Some(forest), &stream);
        let rest = &rest[rest.len().saturating_sub(2000)..];
        group.throughput(Throughput::Elements(rest.len() as u64));
        group.bench_function(name, |b| {
            b.iter_batched_ref(
                || (warm.clone(), Assessment::default()),
                |(state, out)| stream_host(state, &config, Some(forest), rest, out),
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(std::time::Duration::from_secs(3)).warm_up_time(std::time::Duration::from_secs(1));
    targets = fit, streaming
}
criterion_main!(benches);
