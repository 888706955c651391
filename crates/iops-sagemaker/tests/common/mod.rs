//! Shared test helpers: a small model trained here, and the server on it started on
//! 127.0.0.1.
//!
//! Also compiled into crates/iops-lambda/tests/canary.rs (`#[path]`), whose canary calls this
//! server: use only what both crates' tests have (iops-core, iops-sagemaker, tokio with `net`).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use iops_core::artifact::{ModelArtifact, OffsetDateTime};
use iops_core::forest::IsolationForestParams;
use iops_core::ndarray::Array2;
use iops_core::ParamGuard;
use iops_sagemaker::{serve, AppState, LoadedModel};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const NAMES: [&str; 4] = ["cpuUsage", "memoryUsage", "diskIO", "networkIO"];

/// Deterministic, metric-like training rows: cpu and memory in 20–80 %, I/O in 100–300.
pub fn training_rows(n: usize) -> Array2<f64> {
    Array2::from_shape_fn((n, 4), |(i, j)| {
        let t = i as f64;
        match j {
            0 => 50.0 + 20.0 * (t * 0.37).sin(),
            1 => 60.0 + 15.0 * (t * 0.11).cos(),
            2 => 200.0 + 80.0 * (t * 0.23).sin() * (t * 0.05).cos(),
            _ => 150.0 + 50.0 * (t * 0.41).cos(),
        }
    })
}

/// A 20-tree forest on 400 rows, threshold at the 2 % training quantile.
pub fn artifact() -> ModelArtifact {
    let params = IsolationForestParams::new()
        .n_trees(20)
        .max_samples(128)
        .contamination(0.02)
        .seed(7)
        .check()
        .unwrap();
    let names = NAMES.map(String::from).to_vec();
    ModelArtifact::train(
        &params,
        training_rows(400).view(),
        names,
        OffsetDateTime::UNIX_EPOCH,
    )
    .unwrap()
}

/// A row like the training data, and one far outside it.
pub const NORMAL: [f64; 4] = [50.0, 60.0, 200.0, 150.0];
pub const OUTLIER: [f64; 4] = [99.0, 5.0, 5000.0, 9000.0];

/// The server on [`artifact`] (model version `test-version`), on 127.0.0.1 and a free port.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Send to shut it down (it drains requests in flight).
    pub stop: oneshot::Sender<()>,
    /// The server; finishes after the shutdown signal.
    pub task: JoinHandle<std::io::Result<()>>,
}

/// Starts [`TestServer`].
pub async fn start_server() -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, rx) = oneshot::channel::<()>();
    let state = AppState::new(LoadedModel::new(artifact(), "test-version"));
    let task = tokio::spawn(serve(listener, state, async {
        let _ = rx.await;
    }));
    TestServer { addr, stop, task }
}

impl TestServer {
    /// Shuts the server down; it must finish cleanly within 10 s.
    pub async fn stop(self) {
        self.stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("server stops after the shutdown signal")
            .unwrap()
            .unwrap();
    }
}
