//! Handler work per POST /metrics, excluding DynamoDB round trips: an API Gateway v2 event's
//! JSON → lambda_http Request → route → validate → store → load/decode state → score →
//! encode/save state → response JSON (→ EMF line formatting is off). Two stores: a HashMap
//! (`mem`: no storage cost at all, the figure to hold against ≤ 200 µs) and in-memory
//! SQLite (`sqlite`: its writer thread and transaction included). Also cold start: `build`
//! with a 100-tree fleet forest from MODEL_PATH. `mem_batch100`: one event posting a batch of
//! 100 samples, 10 for each of 10 hosts (issue 17's figure: <= 1 ms, 10x cheaper per sample
//! than `mem`).
//!
//! Run: `cargo bench -p iops-lambda --bench handler -- --noplot`. Besides criterion's mean,
//! the `*_percentiles` runs time every request and print p50 / p99 / max to stderr.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkGroup, Criterion};
use iops_core::artifact::{ModelArtifact, OffsetDateTime};
use iops_core::engine::{EngineConfig, HostState, HOST_FEATURES};
use iops_core::forest::IsolationForestParams;
use iops_core::ndarray::Array2;
use iops_core::{Incident, MetricSample, ParamGuard, Timestamp};
use iops_lambda::{build, App, Config, MetricsSink};
use iops_service::{BuiltinScorer, Service, ServiceConfig};
use iops_store::{
    ids, IncidentQuery, IncidentStore, InsightStore, MetricStore, PutMetric, SqliteStore,
    StateStore, StateUpdate, Store, StoreError, StoredInsight, StoredMetric, StoredState,
};
use lambda_http::{Body, Response};
use tokio::runtime::Runtime;

/// A store that keeps everything in maps: the handler's own work, no storage. Each host's
/// metrics are its last [`RECENT_METRICS`] (the benches only post new samples): one map of
/// every sample a run posts (millions) made each put dearer as the run went on, its
/// rehashing alone a tenth of the batch bench's time, which a DynamoDB put is not.
#[derive(Debug, Default)]
struct MemStore {
    metrics: Mutex<HashMap<String, std::collections::BTreeMap<i128, StoredMetric>>>,
    insights: Mutex<Vec<StoredInsight>>,
    states: Mutex<HashMap<String, StoredState>>,
    incidents: Mutex<HashMap<String, Incident>>,
    outbox: Mutex<HashMap<String, iops_store::OutboxEntry>>,
}

/// Metrics kept per host in [`MemStore`].
const RECENT_METRICS: usize = 10_000;

#[async_trait]
impl MetricStore for MemStore {
    async fn put_metric(&self, sample: &MetricSample) -> iops_store::Result<PutMetric> {
        let mut all = self.metrics.lock().unwrap();
        let host = match all.get_mut(&sample.hostname) {
            Some(host) => host,
            None => all.entry(sample.hostname.clone()).or_default(),
        };
        let key = sample.timestamp.epoch_nanos();
        if let Some(existing) = host.get(&key) {
            return Ok(PutMetric {
                metric_id: existing.metric_id.clone(),
                inserted: false,
            });
        }
        let metric_id = ids::metric_id(&sample.hostname, sample.timestamp);
        host.insert(
            key,
            StoredMetric {
                metric_id: metric_id.clone(),
                sample: sample.clone(),
            },
        );
        if host.len() > RECENT_METRICS {
            host.pop_first();
        }
        Ok(PutMetric {
            metric_id,
            inserted: true,
        })
    }
    async fn list_metrics(
        &self,
        _: &str,
        _: Timestamp,
        _: usize,
    ) -> iops_store::Result<Vec<StoredMetric>> {
        Ok(Vec::new())
    }
    async fn count_metrics(&self, _: &str, _: Timestamp) -> iops_store::Result<u64> {
        Ok(self
            .metrics
            .lock()
            .unwrap()
            .values()
            .map(|h| h.len() as u64)
            .sum())
    }
    async fn list_hosts(&self) -> iops_store::Result<Vec<iops_store::HostEntry>> {
        let all = self.metrics.lock().unwrap();
        let mut out: Vec<iops_store::HostEntry> = all
            .iter()
            .filter_map(|(hostname, metrics)| {
                metrics
                    .last_key_value()
                    .map(|(_, m)| iops_store::HostEntry {
                        hostname: hostname.clone(),
                        last_timestamp: m.sample.timestamp,
                        last_received: None,
                    })
            })
            .collect();
        out.sort_by(|a, b| a.hostname.cmp(&b.hostname));
        Ok(out)
    }
}

#[async_trait]
impl InsightStore for MemStore {
    async fn put_insights(&self, insights: &[StoredInsight]) -> iops_store::Result<()> {
        self.insights.lock().unwrap().extend_from_slice(insights);
        Ok(())
    }
    async fn list_insights(
        &self,
        hostname: &str,
        since: Timestamp,
        limit: usize,
    ) -> iops_store::Result<Vec<StoredInsight>> {
        Ok(self
            .insights
            .lock()
            .unwrap()
            .iter()
            .filter(|i| i.insight.hostname == hostname && i.insight.timestamp >= since)
            .take(limit)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl StateStore for MemStore {
    async fn load_state(&self, hostname: &str) -> iops_store::Result<Option<StoredState>> {
        Ok(self.states.lock().unwrap().get(hostname).cloned())
    }
    async fn save_state(&self, update: StateUpdate) -> iops_store::Result<u64> {
        let mut states = self.states.lock().unwrap();
        let found = states.get(&update.hostname).map_or(0, |s| s.version);
        if found != update.expected_version {
            return Err(StoreError::Conflict {
                hostname: update.hostname,
                expected: update.expected_version,
                found,
            });
        }
        self.insights
            .lock()
            .unwrap()
            .extend_from_slice(&update.insights);
        states.insert(
            update.hostname,
            StoredState {
                version: found + 1,
                last_timestamp: update.last_timestamp,
                state: update.state,
            },
        );
        Ok(found + 1)
    }
}

#[async_trait]
impl iops_store::OutboxStore for MemStore {
    async fn put_outbox(
        &self,
        created: Timestamp,
        notification: &iops_core::Notification,
    ) -> iops_store::Result<()> {
        self.outbox
            .lock()
            .unwrap()
            .entry(notification.idempotency_key.clone())
            .or_insert_with(|| iops_store::OutboxEntry {
                created,
                notification: notification.clone(),
            });
        Ok(())
    }
    async fn list_outbox(
        &self,
        before: Timestamp,
        limit: usize,
    ) -> iops_store::Result<Vec<iops_store::OutboxEntry>> {
        let mut out: Vec<_> = self
            .outbox
            .lock()
            .unwrap()
            .values()
            .filter(|e| e.created < before)
            .cloned()
            .collect();
        out.sort_by_key(|e| e.created);
        out.truncate(limit);
        Ok(out)
    }
    async fn delete_outbox(&self, key: &str) -> iops_store::Result<()> {
        self.outbox.lock().unwrap().remove(key);
        Ok(())
    }
}

#[async_trait]
impl IncidentStore for MemStore {
    async fn put_incidents(&self, incidents: &[Incident]) -> iops_store::Result<()> {
        let mut stored = self.incidents.lock().unwrap();
        for i in incidents {
            let newer = stored.get(&i.incident_id).is_none_or(|old| {
                iops_store::incident_revision(i) > iops_store::incident_revision(old)
            });
            if newer {
                stored.insert(i.incident_id.clone(), i.clone());
            }
        }
        Ok(())
    }
    async fn get_incident(&self, id: &str) -> iops_store::Result<Option<Incident>> {
        Ok(self.incidents.lock().unwrap().get(id).cloned())
    }
    async fn list_incidents(&self, q: &IncidentQuery) -> iops_store::Result<Vec<Incident>> {
        let mut out: Vec<Incident> = self
            .incidents
            .lock()
            .unwrap()
            .values()
            .filter(|i| q.status.is_none_or(|s| s == i.status))
            .filter(|i| q.hostname.as_ref().is_none_or(|h| *h == i.hostname))
            .filter(|i| q.since.is_none_or(|t| i.updated >= t))
            .cloned()
            .collect();
        out.sort_by(|a, b| b.incident_id.cmp(&a.incident_id));
        out.truncate(q.limit);
        Ok(out)
    }
}

/// The benches declare no maintenance windows or mutes.
#[async_trait]
impl iops_store::QuietStore for MemStore {
    async fn put_quiet(&self, _: &iops_core::QuietWindow) -> iops_store::Result<()> {
        Ok(())
    }
    async fn list_quiet(
        &self,
        _: iops_core::QuietKind,
        _: Timestamp,
        _: usize,
    ) -> iops_store::Result<Vec<iops_core::QuietWindow>> {
        Ok(Vec::new())
    }
    async fn delete_quiet(&self, _: iops_core::QuietKind, _: &str) -> iops_store::Result<bool> {
        Ok(false)
    }
}

/// Nor labels.
#[async_trait]
impl iops_store::LabelStore for MemStore {
    async fn put_label(&self, _: &iops_core::Label) -> iops_store::Result<()> {
        Ok(())
    }
    async fn list_labels(&self, _: usize) -> iops_store::Result<Vec<iops_core::Label>> {
        Ok(Vec::new())
    }
}

impl iops_store::Store for MemStore {}

/// Hosts the benched requests rotate over.
const HOSTS: u64 = 10;
/// Requests before measuring: 2,500 per host, past the engine's 2,016-sample baseline, so
/// every state is at its steady-state (largest) size.
const WARM: u64 = 2_500 * HOSTS;

/// Sample `i` of the stream: the hosts in turn, a minute apart.
fn sample_json(i: u64) -> String {
    let host = format!("web-{}", i % HOSTS);
    format!(
        r#"{{"timestamp":{},"hostname":"{host}","cpuUsage":{},"memoryUsage":60.5,"diskIO":{},"networkIO":150.2}}"#,
        1_764_000_000 + i * 60,
        40.0 + (i % 13) as f64,
        200.0 + (i % 29) as f64
    )
}

/// Samples per batch in the `*_batch100` benches: 10 for each of the [`HOSTS`].
const BATCH: u64 = 100;

fn event(i: u64) -> String {
    api_event(sample_json(i))
}

/// Batch `r` of the same stream: samples `r * BATCH ..` as one JSON array.
fn batch_event(r: u64) -> String {
    let items: Vec<String> = (r * BATCH..(r + 1) * BATCH).map(sample_json).collect();
    api_event(format!("[{}]", items.join(",")))
}

/// An API Gateway (HTTP API, v2) event posting `body` to /metrics.
fn api_event(body: String) -> String {
    serde_json::json!({
        "version": "2.0", "routeKey": "POST /metrics", "rawPath": "/metrics", "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "abcdef1234.execute-api.us-east-1.amazonaws.com"},
        "requestContext": {"accountId": "123456789012", "apiId": "abcdef1234",
            "domainName": "abcdef1234.execute-api.us-east-1.amazonaws.com", "domainPrefix": "abcdef1234",
            "http": {"method": "POST", "path": "/metrics", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.10", "userAgent": "agent"},
            "requestId": "r", "routeKey": "POST /metrics", "stage": "$default",
            "time": "26/Nov/2026:17:00:02 +0000", "timeEpoch": 1795712402000u64},
        "body": body, "isBase64Encoded": false
    })
    .to_string()
}

fn host_forest_file(dir: &std::path::Path) -> std::path::PathBuf {
    let x = Array2::from_shape_fn((2048, 4), |(i, j)| {
        ((i as f64 * (0.37 + j as f64 * 0.11)).sin() * 1.5).clamp(-4.0, 4.0)
    });
    let params = IsolationForestParams::new()
        .n_trees(100)
        .max_samples(256)
        .contamination(0.01)
        .seed(42)
        .check()
        .unwrap();
    let names = HOST_FEATURES.map(String::from).to_vec();
    let artifact =
        ModelArtifact::train(&params, x.view(), names, OffsetDateTime::UNIX_EPOCH).unwrap();
    let path = dir.join("model.json");
    std::fs::write(&path, artifact.to_json().unwrap()).unwrap();
    path
}

fn app_on(store: Arc<dyn Store>, model: Option<&std::path::Path>) -> App {
    let scorer = BuiltinScorer::new(EngineConfig::default())
        .with_forest(iops_lambda::load_forest(model).unwrap());
    let service = Service::with_scorer(store, Arc::new(scorer), ServiceConfig::default())
        .with_clock(far_ahead);
    App::new(Arc::new(service), MetricsSink::Off)
}

/// The receiving clock of the benches' service: the year 2200. Their samples are a
/// minute apart from November 2025 on and a run posts millions of them (a batch is 100
/// minutes of a fleet), so they overtake the wall clock: against it the clock-skew check
/// (samples at most 15 minutes ahead) would refuse them, and the benches would time the
/// refusal instead of the ingest.
fn far_ahead() -> std::time::SystemTime {
    std::time::UNIX_EPOCH + Duration::from_secs(7_258_118_400)
}

/// One POST /metrics: the event's JSON → lambda_http Request → the handler's response.
async fn post(app: &App, event: String) -> Response<Body> {
    let request = lambda_http::request::from_str(&event).unwrap();
    app.handle(request).await
}

/// Criterion's figure for `app` answering POST /metrics, each iteration the next event
/// after `*i` (built outside the timing).
fn bench_posts(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &Runtime,
    name: &str,
    app: &App,
    i: &mut u64,
) {
    group.bench_function(name, |b| {
        b.to_async(rt).iter_batched(
            || {
                *i += 1;
                event(*i)
            },
            |e| async move { black_box(post(app, e).await) },
            BatchSize::SmallInput,
        )
    });
}

fn percentiles(name: &str, mut d: Vec<Duration>) {
    d.sort();
    let at = |q: f64| d[((d.len() - 1) as f64 * q) as usize];
    eprintln!(
        "{name}: n={} p50={:?} p90={:?} p99={:?} max={:?}",
        d.len(),
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    );
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let model = host_forest_file(dir.path());

    let mut group = c.benchmark_group("post_metrics");
    for (name, forest) in [("mem", None), ("mem_forest100", Some(model.as_path()))] {
        let app = app_on(Arc::new(MemStore::default()), forest);
        // Warm every host to its steady state, so the measured path is the steady one.
        let mut i = 0u64;
        rt.block_on(async {
            for _ in 0..WARM {
                post(&app, event(i)).await;
                i += 1;
            }
        });
        bench_posts(&mut group, &rt, name, &app, &mut i);
        let mut times = Vec::with_capacity(20_000);
        rt.block_on(async {
            for _ in 0..20_000 {
                i += 1;
                let e = event(i);
                let t = Instant::now();
                black_box(post(&app, e).await);
                times.push(t.elapsed());
            }
        });
        percentiles(&format!("post_metrics/{name}_percentiles"), times);
    }
    {
        let app = app_on(Arc::new(SqliteStore::open_in_memory().unwrap()), None);
        bench_posts(&mut group, &rt, "sqlite", &app, &mut 0);
    }
    // A batch of 100 samples, 10 for each of 10 hosts: one state write per host. Per sample,
    // against `mem`: criterion's time divided by 100 (its throughput line says it).
    {
        let app = app_on(Arc::new(MemStore::default()), None);
        let mut r = 0u64;
        rt.block_on(async {
            for _ in 0..WARM / BATCH {
                let answer = post(&app, batch_event(r)).await;
                assert_eq!(answer.status(), 200);
                r += 1;
            }
        });
        let app = &app;
        group.throughput(criterion::Throughput::Elements(BATCH));
        group.bench_function("mem_batch100", |b| {
            b.to_async(&rt).iter_batched(
                || {
                    r += 1;
                    batch_event(r)
                },
                |e| async move { black_box(post(app, e).await) },
                BatchSize::SmallInput,
            )
        });
        // what was timed was ingest: the next batch is stored whole
        rt.block_on(async {
            r += 1;
            let answer = post(app, batch_event(r)).await;
            let body = String::from_utf8(answer.body().to_vec()).unwrap();
            assert!(body.contains(r#""stored":100,"failed":0"#), "{body}");
        });
        group.throughput(criterion::Throughput::Elements(1));
    }
    // What `bootstrap` runs since it also takes scheduled events: the event as JSON →
    // App::invoke (LambdaRequest from the JSON, the same router, the response as JSON),
    // against `mem` (lambda_http's own request parsing, App::handle).
    {
        let app = app_on(Arc::new(MemStore::default()), None);
        let mut i = 0u64;
        rt.block_on(async {
            for _ in 0..WARM {
                post(&app, event(i)).await;
                i += 1;
            }
        });
        let app = &app;
        group.bench_function("mem_invoke", |b| {
            b.to_async(&rt).iter(|| {
                i += 1;
                let e = event(i);
                async move {
                    let payload: serde_json::Value = serde_json::from_str(&e).unwrap();
                    let event =
                        lambda_http::LambdaEvent::new(payload, lambda_http::Context::default());
                    black_box(serde_json::to_vec(&app.invoke(event).await.unwrap()).unwrap())
                }
            })
        });
    }
    group.finish();

    // The share of the handler that is the host state's JSON codec (iops-service stores the
    // state as serde JSON; a compact codec is its planned next step).
    {
        let engine = EngineConfig::default();
        let mut state = HostState::new(&engine).unwrap();
        for i in (0..WARM).step_by(HOSTS as usize) {
            let e: serde_json::Value = serde_json::from_str(&event(i)).unwrap();
            let sample = MetricSample::from_json(e["body"].as_str().unwrap().as_bytes()).unwrap();
            state.process(&engine, None, &sample).unwrap();
        }
        let bytes = serde_json::to_vec(&state).unwrap();
        eprintln!(
            "state_codec: warm host state is {} bytes of JSON",
            bytes.len()
        );
        let mut group = c.benchmark_group("state_codec");
        group.bench_function("decode_encode_json", |b| {
            b.iter(|| {
                let s: HostState = serde_json::from_slice(black_box(&bytes)).unwrap();
                black_box(serde_json::to_vec(&s).unwrap())
            })
        });
        group.finish();
    }

    let mut group = c.benchmark_group("cold_start");
    group.sample_size(20);
    let config = Config::from_lookup(|k| match k {
        "IOPS_STORE" => Some("memory".into()),
        "MODEL_PATH" => Some(model.display().to_string()),
        _ => None,
    })
    .unwrap();
    group.bench_function("build_with_forest100", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(build(&config, MetricsSink::Off).await.unwrap()) })
    });
    group.finish();
    // For the process-level measurement (scripts, hyperfine): keep a copy of the model.
    if let Ok(out) = std::env::var("IOPS_BENCH_MODEL_OUT") {
        let _ = std::fs::copy(&model, out);
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
