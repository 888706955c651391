//! The canary against the real iops-sagemaker server on 127.0.0.1 (started and stopped here),
//! called through aws-sdk-sagemakerruntime with the endpoint URL overridden.

mod common;
/// The SageMaker server's own test model and starter.
#[path = "../../iops-sagemaker/tests/common/mod.rs"]
mod sagemaker;

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{app_from_vars, aws_env, json_of, quiet, v2, T0};
use iops_lambda::canary::routes_to_canary;
use iops_lambda::{json_subscriber, App};
use iops_store::ModelSource;
use sagemaker::{artifact, start_server, NORMAL, OUTLIER};
use tokio::net::TcpListener;

fn sample(host: &str, i: u64, v: [f64; 4]) -> String {
    format!(
        r#"{{"timestamp":{},"hostname":"{host}","cpuUsage":{},"memoryUsage":{},"diskIO":{},"networkIO":{}}}"#,
        T0 + i * 300,
        v[0],
        v[1],
        v[2],
        v[3]
    )
}

async fn canary_app(url: &str, percentage: &str, timeout_ms: &str) -> App {
    aws_env();
    let vars = [
        ("IOPS_STORE", "memory"),
        ("USE_SAGEMAKER", "true"),
        ("SAGEMAKER_ENDPOINT", "iops-canary"),
        ("CANARY_PERCENTAGE", percentage),
        ("SAGEMAKER_TIMEOUT_MS", timeout_ms),
        ("SAGEMAKER_ENDPOINT_URL", url),
    ];
    app_from_vars(&vars).await
}

/// Log lines written while the guard lives (this thread: the tests run on a current-thread
/// runtime).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines(&self) -> Vec<serde_json::Value> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

#[tokio::test]
async fn full_canary_is_scored_by_the_sagemaker_server() {
    let server = start_server().await;
    let app = canary_app(&format!("http://{}", server.addr), "100", "2000").await;

    // A normal sample: scored by SageMaker, not anomalous, no insight.
    let r = app
        .service()
        .ingest(sample("edge-1", 0, NORMAL).as_bytes())
        .await
        .unwrap();
    assert_eq!(r.scored_by, Some(ModelSource::Sagemaker));
    assert!(!r.fallback);
    assert!(r.insights.is_empty());

    // An outlier: one insight from the endpoint, with the server's score and model version.
    let resp = app
        .handle(v2(
            "POST",
            "/metrics",
            &[],
            Some(&sample("edge-1", 1, OUTLIER)),
        ))
        .await;
    assert_eq!(resp.status(), 200);
    let answer = json_of(&resp);
    let insights = answer["insights"].as_array().unwrap();
    assert_eq!(insights.len(), 1, "{answer}");
    let i = &insights[0];
    assert_eq!(i["modelSource"], "sagemaker");
    assert_eq!(i["modelVersion"], "test-version");
    assert_eq!(i["detector"], "sagemaker");
    assert_eq!(i["type"], "multi_metric_anomaly");
    let want = artifact().forest().score_one(&OUTLIER).unwrap();
    assert!(want > artifact().forest().threshold());
    assert_eq!(i["score"].as_f64().unwrap(), want);
    // Stored like any insight.
    let listed = app
        .handle(v2("GET", "/insights", &[("hostname", "edge-1")], None))
        .await;
    assert_eq!(json_of(&listed)["insights"][0]["modelSource"], "sagemaker");
    server.stop().await;
}

#[tokio::test]
async fn stopped_server_falls_back_to_builtin_with_an_error_line() {
    let server = start_server().await;
    let url = format!("http://{}", server.addr);
    let app = canary_app(&url, "100", "2000").await;
    let r = app
        .service()
        .ingest(quiet("web-7", 0).as_bytes())
        .await
        .unwrap();
    assert_eq!(r.scored_by, Some(ModelSource::Sagemaker));
    server.stop().await;

    let logs = Captured::default();
    let writer = logs.clone();
    let _guard = tracing::subscriber::set_default(json_subscriber(
        move || writer.clone(),
        tracing::Level::INFO,
    ));
    let r = app
        .service()
        .ingest(quiet("web-7", 1).as_bytes())
        .await
        .unwrap();
    assert_eq!(r.scored_by, Some(ModelSource::Builtin));
    assert!(r.fallback);
    // Over HTTP too: still 200.
    let resp = app
        .handle(v2("POST", "/metrics", &[], Some(&quiet("web-7", 2))))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(json_of(&resp)["message"], "Metric stored successfully");
    let errors: Vec<_> = logs
        .lines()
        .into_iter()
        .filter(|l| l["level"] == "ERROR")
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(
        errors[0]["fields"]["message"],
        "sagemaker canary failed; scored by the built-in model"
    );
    assert_eq!(errors[0]["fields"]["endpoint"], "iops-canary");
    assert_eq!(errors[0]["fields"]["hostname"], "web-7");
    let reason = errors[0]["fields"]["error"].as_str().unwrap();
    assert!(reason.contains("iops-canary"), "{reason}");
    // The host's built-in state saw every sample, canary or not.
    let state = app
        .service()
        .store()
        .load_state("web-7")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.version, 3);
}

#[tokio::test]
async fn endpoint_that_never_answers_times_out_and_falls_back() {
    // Accepts connections and reads, never answers.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let app = canary_app(&format!("http://{addr}"), "100", "200").await;
    let start = std::time::Instant::now();
    let r = app
        .service()
        .ingest(quiet("web-8", 0).as_bytes())
        .await
        .unwrap();
    let took = start.elapsed();
    assert!(r.fallback);
    assert_eq!(r.scored_by, Some(ModelSource::Builtin));
    assert!(took >= Duration::from_millis(200), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    hold.abort();
}

#[tokio::test]
async fn zero_percent_and_rollback_never_call_the_endpoint() {
    // A listener that counts connections: any call would show.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let count = tokio::spawn(async move {
        while let Ok((_socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    let app = canary_app(&format!("http://{addr}"), "0", "200").await;
    for i in 0..30 {
        let r = app
            .service()
            .ingest(quiet("web-3", i).as_bytes())
            .await
            .unwrap();
        assert_eq!(r.scored_by, Some(ModelSource::Builtin));
        assert!(!r.fallback);
    }
    // USE_SAGEMAKER=false with a 100 % share configured: the rollback switch.
    aws_env();
    let vars = [
        ("IOPS_STORE", "memory"),
        ("USE_SAGEMAKER", "false"),
        ("SAGEMAKER_ENDPOINT", "iops-canary"),
        ("CANARY_PERCENTAGE", "100"),
    ];
    let rolled_back = app_from_vars(&vars).await;
    for i in 0..10 {
        let r = rolled_back
            .service()
            .ingest(quiet("web-3", i).as_bytes())
            .await
            .unwrap();
        assert_eq!(r.scored_by, Some(ModelSource::Builtin));
    }
    tokio::task::yield_now().await;
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    count.abort();
}

#[tokio::test]
async fn partial_canary_routes_exactly_the_hashed_share() {
    let server = start_server().await;
    let app = canary_app(&format!("http://{}", server.addr), "30", "2000").await;
    let mut routed = 0;
    for i in 0..40 {
        let r = app
            .service()
            .ingest(quiet("web-5", i).as_bytes())
            .await
            .unwrap();
        let nanos = i128::from(T0 + i * 300) * 1_000_000_000;
        let want = if routes_to_canary("web-5", nanos, 30.0) {
            routed += 1;
            ModelSource::Sagemaker
        } else {
            ModelSource::Builtin
        };
        assert_eq!(r.scored_by, Some(want), "sample {i}");
        assert!(!r.fallback);
    }
    assert!((4..=20).contains(&routed), "{routed} of 40 routed at 30 %");
    server.stop().await;
}
