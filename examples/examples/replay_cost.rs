//! What `iops replay` costs on a fleet's week: writes N hosts (default 1,000) x 7 days of
//! 5-minute samples to a fresh SQLite database, then replays the last 7 days with a 2-day
//! warm-up budget (the whole history) and prints the time, the samples per second and the
//! process's peak memory (VmHWM) before and after the replay.
//!
//! ```text
//! cargo run --release -p iops-examples --example replay_cost -- 1000
//! ```

use std::sync::Arc;
use std::time::Instant;

use iops_core::engine::{EngineConfig, EngineParams};
use iops_core::{MetricSample, Timestamp};
use iops_service::{ReplayRequest, Service};
use iops_store::{MetricStore, SqliteStore};

const DAYS: u64 = 7;
const STEP: u64 = 300;
const T0: u64 = 1_764_000_000;

/// The process's peak resident memory (kB), from /proc (0 where there is none).
fn peak_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let hosts: u64 = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("N: a number of hosts"))
        .unwrap_or(1000);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = Arc::new(SqliteStore::open(dir.path().join("fleet.db")).expect("a database"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let per_host = DAYS * 86_400 / STEP;
    let written = Instant::now();
    runtime.block_on(async {
        for h in 0..hosts {
            let host = format!("host-{h:04}");
            let samples: Vec<MetricSample> = (0..per_host)
                .map(|i| {
                    let day = (i % 288) as f64 / 288.0 * std::f64::consts::TAU;
                    let spike = if (i + 37 * h) % 1500 == 700 {
                        45.0
                    } else {
                        0.0
                    };
                    MetricSample {
                        timestamp: Timestamp::from_epoch_seconds((T0 + i * STEP) as f64)
                            .expect("a valid time"),
                        hostname: host.clone(),
                        cpu_usage: (40.0 + 15.0 * day.sin() + ((i * 7 + h) % 5) as f64 + spike)
                            .min(100.0),
                        memory_usage: 60.0 + ((i + h) % 3) as f64,
                        disk_io: 100.0 + ((i * 13 + h) % 11) as f64,
                        network_io: 50.0 + ((i * 3 + h) % 7) as f64,
                    }
                })
                .collect();
            for chunk in samples.chunks(1000) {
                store.put_metrics_batch(chunk).await.expect("stored");
            }
        }
    });
    println!(
        "wrote {hosts} hosts x {per_host} samples in {:.1} s; peak memory {} MiB",
        written.elapsed().as_secs_f64(),
        peak_kb() / 1024
    );
    let service = Service::new(store, EngineConfig::default());
    let at = |i: u64| Timestamp::from_epoch_seconds((T0 + i * STEP) as f64).expect("valid");
    let request = ReplayRequest {
        since: at(0),
        until: at(per_host),
        warm_seconds: 2.0 * 86_400.0,
        hostnames: None,
        params: EngineParams::default(),
    };
    let started = Instant::now();
    let report = runtime
        .block_on(service.replay(&request, None))
        .expect("replayed");
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "replayed {} hosts, {} samples in {seconds:.1} s ({:.0} samples/s); {} incidents; peak memory {} MiB",
        report.hosts_replayed,
        report.samples,
        report.samples as f64 / seconds,
        report.total.replayed,
        peak_kb() / 1024
    );
}
