//! POST /v1/metrics through the router (`oneshot`): OTLP/JSON as the spec writes it and
//! OTLP/protobuf, the hostmetrics mapping, counters turned into rates (resets, deltas),
//! unmapped metrics ignored and counted, and what bad input gets. The OpenTelemetry Python
//! SDK's exporter, a real client, is ops/tests/test_otlp_exporter.py.

use std::io::Write;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use iops_core::engine::EngineConfig;
use iops_core::Timestamp;
use iops_service::http::{Api, IngestedBatch, Route};
use iops_service::Service;
use iops_store::{MetricStore, SqliteStore, StoredMetric};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use prost::Message;
use serde_json::{json, Value};
use tower::ServiceExt;

const T0: u64 = 1_764_000_000;

fn router() -> (Router, Arc<SqliteStore>) {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let service = Service::new(store.clone(), EngineConfig::default());
    (Api::new(Arc::new(service)).router(), store)
}

fn nanos(seconds: u64) -> String {
    (seconds * 1_000_000_000).to_string()
}

/// An export as the hostmetrics receiver's, in OTLP/JSON: two CPUs, memory, one disk and
/// two network devices (one the loopback) at `t` seconds, the counters at `bytes`, and an
/// unmapped metric.
fn export(host: &str, t: u64, bytes: i64, start: u64) -> Value {
    let point = |attrs: Vec<(&str, &str)>, value: Value| {
        let attributes: Vec<Value> = attrs
            .into_iter()
            .map(|(k, v)| json!({"key": k, "value": {"stringValue": v}}))
            .collect();
        let mut p = json!({
            "attributes": attributes,
            "startTimeUnixNano": nanos(start),
            "timeUnixNano": nanos(t),
        });
        match value {
            Value::String(_) => p["asInt"] = value,
            v => p["asDouble"] = v,
        }
        p
    };
    let cpu: Vec<Value> = [
        ("0", "user", 0.2),
        ("0", "idle", 0.8),
        ("1", "user", 0.6),
        ("1", "system", 0.2),
        ("1", "idle", 0.2),
    ]
    .into_iter()
    .map(|(c, s, v)| point(vec![("cpu", c), ("state", s)], json!(v)))
    .collect();
    let counter = |series: Vec<(&str, &str, i64)>| -> Vec<Value> {
        series
            .into_iter()
            .map(|(d, r, v)| point(vec![("device", d), ("direction", r)], json!(v.to_string())))
            .collect()
    };
    json!({
        "resourceMetrics": [{
            "resource": {"attributes": [
                {"key": "host.name", "value": {"stringValue": host}},
                {"key": "os.type", "value": {"stringValue": "linux"}}
            ]},
            "scopeMetrics": [{
                "scope": {"name": "otelcol/hostmetricsreceiver/cpu", "version": "0.118.0"},
                "metrics": [
                    {"name": "system.cpu.utilization", "unit": "1", "gauge": {"dataPoints": cpu}},
                    {"name": "system.memory.utilization", "unit": "1", "gauge": {"dataPoints": [
                        point(vec![("state", "used")], json!(0.5)),
                        point(vec![("state", "free")], json!(0.5))
                    ]}},
                    {"name": "system.disk.io", "unit": "By", "sum": {
                        "aggregationTemporality": 2, "isMonotonic": true,
                        "dataPoints": counter(vec![("sda", "read", bytes), ("sda", "write", 2 * bytes)])
                    }},
                    {"name": "system.network.io", "unit": "By", "sum": {
                        "aggregationTemporality": 2, "isMonotonic": true,
                        "dataPoints": counter(vec![("eth0", "receive", bytes), ("lo", "receive", 1000 * bytes)])
                    }},
                    {"name": "system.filesystem.usage", "unit": "By", "sum": {
                        "aggregationTemporality": 2, "isMonotonic": false,
                        "dataPoints": counter(vec![("sda1", "used", 5)])
                    }}
                ]
            }]
        }]
    })
}

struct Answer {
    status: StatusCode,
    content_type: String,
    body: Vec<u8>,
    route: Option<Route>,
    stored: usize,
}

async fn post(
    router: &Router,
    content_type: &str,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> Answer {
    let mut request = Request::post("/v1/metrics").header("content-type", content_type);
    if let Some(e) = encoding {
        request = request.header("content-encoding", e);
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let route = response.extensions().get::<Route>().copied();
    let stored = response
        .extensions()
        .get::<IngestedBatch>()
        .map_or(0, |b| b.stored.len());
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    Answer {
        status,
        content_type,
        body,
        route,
        stored,
    }
}

async fn post_json(router: &Router, body: &Value) -> (StatusCode, Value) {
    let a = post(
        router,
        "application/json",
        None,
        body.to_string().into_bytes(),
    )
    .await;
    assert_eq!(a.content_type, "application/json");
    (a.status, serde_json::from_slice(&a.body).unwrap())
}

async fn stored(store: &SqliteStore, host: &str) -> Vec<StoredMetric> {
    store.list_metrics(host, Timestamp::MIN, 100).await.unwrap()
}

#[tokio::test]
async fn json_exports_become_samples_with_counter_rates() {
    let (router, store) = router();
    let (status, answer) = post_json(&router, &export("otel-1", T0, 1_000_000, T0 - 60)).await;
    assert_eq!(status, StatusCode::OK);
    let message = answer["partialSuccess"]["errorMessage"].as_str().unwrap();
    assert!(message.contains("system.filesystem.usage"), "{message}");
    assert!(
        message.contains("no sample for otel-1 yet: diskIO, networkIO unknown"),
        "{message}"
    );
    assert!(stored(&store, "otel-1").await.is_empty());

    // 60 s later: 3 MB more disk (read + write), 1 MB more network (eth0; lo ignored)
    let (status, _) = post_json(&router, &export("otel-1", T0 + 60, 2_000_000, T0 - 60)).await;
    assert_eq!(status, StatusCode::OK);
    let s = &stored(&store, "otel-1").await[0].sample;
    assert_eq!(
        s.timestamp,
        Timestamp::from_epoch_seconds((T0 + 60) as f64).unwrap()
    );
    // cpu 0 busy 0.2, cpu 1 busy 0.8
    assert!((s.cpu_usage - 50.0).abs() < 1e-9, "{s:?}");
    assert!((s.memory_usage - 50.0).abs() < 1e-9);
    assert!(
        (s.disk_io - 3_000_000.0 / 60.0 / 1000.0).abs() < 1e-9,
        "{s:?}"
    );
    assert!(
        (s.network_io - 1_000_000.0 / 60.0 / 1000.0).abs() < 1e-9,
        "{s:?}"
    );

    // the exporter retries the same export: nothing new, the same sample again (a duplicate)
    let (status, _) = post_json(&router, &export("otel-1", T0 + 60, 2_000_000, T0 - 60)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stored(&store, "otel-1").await.len(), 1);

    // the host restarted: a new start time and counters from zero; the rate is since the start
    let (_, _) = post_json(&router, &export("otel-1", T0 + 120, 600_000, T0 + 100)).await;
    let all = stored(&store, "otel-1").await;
    assert_eq!(all.len(), 2);
    assert!(
        (all[1].sample.disk_io - 1_800_000.0 / 20.0 / 1000.0).abs() < 1e-9,
        "{:?}",
        all[1]
    );
}

#[tokio::test]
async fn protobuf_and_gzip_answer_in_kind() {
    let (router, store) = router();
    for (t, bytes) in [(T0, 1_000), (T0 + 30, 31_000)] {
        let request: ExportMetricsServiceRequest =
            serde_json::from_value(export("otel-pb", t, bytes, T0 - 30)).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&request.encode_to_vec()).unwrap();
        let a = post(
            &router,
            "application/x-protobuf",
            Some("gzip"),
            gz.finish().unwrap(),
        )
        .await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(a.content_type, "application/x-protobuf");
        assert_eq!(a.route, Some(Route::PostOtlpMetrics));
        let answer = ExportMetricsServiceResponse::decode(a.body.as_slice()).unwrap();
        let partial = answer.partial_success.unwrap();
        assert_eq!(partial.rejected_data_points, 0);
        assert_eq!(a.stored, usize::from(t > T0));
    }
    let s = &stored(&store, "otel-pb").await[0].sample;
    assert!(
        (s.disk_io - 3.0 * 30_000.0 / 30.0 / 1000.0).abs() < 1e-9,
        "{s:?}"
    );
}

#[tokio::test]
async fn delta_sums_give_a_rate_at_once() {
    let (router, store) = router();
    let mut body = export("otel-d", T0 + 10, 5_000, T0);
    for m in body["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
        .as_array_mut()
        .unwrap()
    {
        if m.get("sum").is_some() {
            m["sum"]["aggregationTemporality"] = json!(1);
        }
    }
    let (status, _) = post_json(&router, &body).await;
    assert_eq!(status, StatusCode::OK);
    let s = &stored(&store, "otel-d").await[0].sample;
    assert!((s.disk_io - 15_000.0 / 10.0 / 1000.0).abs() < 1e-9, "{s:?}");
}

#[tokio::test]
async fn bad_exports_are_refused_saying_why() {
    let (router, store) = router();
    // no host.name: its points are rejected, nothing stored
    let mut body = export("x", T0, 1, T0 - 1);
    body["resourceMetrics"][0]["resource"]["attributes"] = json!([]);
    let (status, answer) = post_json(&router, &body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["partialSuccess"]["rejectedDataPoints"], json!(12));
    assert!(answer["partialSuccess"]["errorMessage"]
        .as_str()
        .unwrap()
        .contains("host.name"));
    // a bad hostname
    let (_, answer) = post_json(&router, &export("web 1", T0, 1, T0 - 1)).await;
    assert!(answer["partialSuccess"]["errorMessage"]
        .as_str()
        .unwrap()
        .contains("hostname"));
    assert!(stored(&store, "web 1").await.is_empty());

    // not an export, in either encoding: 400 with a google.rpc.Status
    let (status, answer) = post_json(&router, &json!({"resourceMetrics": 42})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["code"], 3);
    assert!(answer["message"]
        .as_str()
        .unwrap()
        .contains("ExportMetricsServiceRequest"));
    let a = post(
        &router,
        "application/x-protobuf",
        None,
        vec![0xff, 0xff, 0xff],
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.content_type, "application/x-protobuf");
    let a = post(
        &router,
        "application/x-protobuf",
        Some("gzip"),
        b"not gzip".to_vec(),
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    // unknown content type or encoding: 415
    let a = post(&router, "text/plain", None, b"cpu=1".to_vec()).await;
    assert_eq!(a.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let a = post(&router, "application/json", Some("br"), b"{}".to_vec()).await;
    assert_eq!(a.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // GET is not a route of it
    let r = router
        .clone()
        .oneshot(Request::get("/v1/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers()["allow"], "POST");
}

/// Fuzz-like: valid protobuf exports with bytes flipped, cut or appended, and random bytes,
/// as protobuf and as JSON: every answer is 200 or 400 (never a panic, never a 5xx), and
/// whatever is stored is a valid sample.
#[tokio::test]
async fn mangled_exports_get_200_or_400() {
    use rand_chacha::ChaCha8Rng;
    use rand_core::{RngCore, SeedableRng};

    let (router, store) = router();
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let mut valid = Vec::new();
    for (k, t) in [(0, T0), (1, T0 + 60), (2, T0 + 120)] {
        let request: ExportMetricsServiceRequest =
            serde_json::from_value(export(&format!("fz-{k}"), t, 1_000 * k, T0 - 60)).unwrap();
        valid.push(request.encode_to_vec());
    }
    for i in 0..3000 {
        let mut bytes = valid[i % valid.len()].clone();
        match rng.next_u32() % 4 {
            0 => {
                for _ in 0..1 + rng.next_u32() % 8 {
                    let at = rng.next_u32() as usize % bytes.len();
                    bytes[at] ^= 1 << (rng.next_u32() % 8);
                }
            }
            1 => bytes.truncate(rng.next_u32() as usize % bytes.len()),
            2 => bytes.extend((0..rng.next_u32() % 32).map(|_| rng.next_u32() as u8)),
            _ => {
                bytes = (0..rng.next_u32() % 256)
                    .map(|_| rng.next_u32() as u8)
                    .collect();
            }
        }
        let content_type = if i % 5 == 0 {
            "application/json"
        } else {
            "application/x-protobuf"
        };
        let a = post(&router, content_type, None, bytes).await;
        assert!(
            a.status == StatusCode::OK || a.status == StatusCode::BAD_REQUEST,
            "{i}: {}",
            a.status
        );
    }
    for k in 0..3 {
        for m in stored(&store, &format!("fz-{k}")).await {
            m.sample.validate().unwrap();
        }
    }
}
