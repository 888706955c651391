//! `Service::ingest` on a SQLite file store: ingests per second for 50 warm hosts, each host
//! posting its samples in time order on its own task (as 50 agents would), two tokio
//! workers (the 2-core target of issue 7), `synchronous = NORMAL` and `FULL`.
//!
//! `cargo bench -p iops-service --bench ingest -- --noplot`

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use iops_core::engine::EngineConfig;
use iops_service::Service;
use iops_store::{SqliteOptions, SqliteStore, Synchronous};

const HOSTS: usize = 50;
/// Samples per host before measuring, so states are warm (full windows).
const WARM: u64 = 400;
const T0: u64 = 1_764_000_000;

/// A deterministic, slightly noisy sample `i` of host `h`.
fn body(h: usize, i: u64) -> String {
    let x = (i.wrapping_mul(2_654_435_761).wrapping_add(h as u64 * 97)) % 1000;
    let n = x as f64 / 1000.0;
    format!(
        r#"{{"timestamp":{},"hostname":"host-{h:02}","cpuUsage":{},"memoryUsage":{},"diskIO":{},"networkIO":{}}}"#,
        T0 + i * 60,
        40.0 + 10.0 * n,
        60.0 + 5.0 * n,
        100.0 + 50.0 * n,
        50.0 + 20.0 * n
    )
}

/// Every host ingests `per_host` samples, hosts concurrently; returns the elapsed time.
async fn run(service: &Arc<Service>, next: &Arc<AtomicU64>, per_host: u64) -> Duration {
    let start_i = next.fetch_add(per_host, Ordering::Relaxed);
    let t = Instant::now();
    let tasks: Vec<_> = (0..HOSTS)
        .map(|h| {
            let service = Arc::clone(service);
            tokio::spawn(async move {
                for i in start_i..start_i + per_host {
                    let r = service.ingest(body(h, i).as_bytes()).await;
                    assert!(r.is_ok(), "{r:?}");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    t.elapsed()
}

fn bench_ingest(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("service_ingest_50_hosts");
    group.throughput(Throughput::Elements(HOSTS as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    for (name, synchronous) in [("normal", Synchronous::Normal), ("full", Synchronous::Full)] {
        let dir = tempfile::tempdir().expect("tempdir");
        let options = SqliteOptions {
            synchronous,
            ..SqliteOptions::default()
        };
        let store = SqliteStore::open_with(dir.path().join("bench.db"), options).expect("open");
        let service = Arc::new(Service::new(Arc::new(store), EngineConfig::default()));
        let next = Arc::new(AtomicU64::new(0));
        let warm = rt.block_on(run(&service, &next, WARM));
        eprintln!(
            "{name}: warm-up {} ingests in {warm:?} ({:.0}/s)",
            HOSTS as u64 * WARM,
            (HOSTS as u64 * WARM) as f64 / warm.as_secs_f64()
        );
        group.bench_function(name, |b| {
            b.iter_custom(|iters| rt.block_on(run(&service, &next, iters)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_ingest);
criterion_main!(benches);
