//! The pipeline against the real SQLite store.

use std::sync::Arc;

use iops_core::engine::{EngineConfig, HostState};
use iops_core::{MetricSample, Timestamp};
use iops_service::{IngestOutcome, Service, ServiceConfig, ServiceError, STORED_MESSAGE};
use iops_store::{
    InsightStore, MetricStore, PutMetric, SqliteStore, StateStore, StateUpdate, Store, StoreError,
    StoredInsight, StoredMetric, StoredState,
};

const T0: u64 = 1_764_000_000;

/// The engine doctest's quiet host: CPU 40% plus a little, one minute apart by 300 s.
fn body(host: &str, i: u64, cpu: f64) -> String {
    format!(
        r#"{{"timestamp":{},"hostname":"{host}","cpuUsage":{cpu},"memoryUsage":60,"diskIO":100,"networkIO":50}}"#,
        T0 + i * 300
    )
}

fn quiet(host: &str, i: u64) -> String {
    body(host, i, 40.0 + (i % 7) as f64)
}

fn service() -> (Service, Arc<SqliteStore>) {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    (Service::new(store.clone(), EngineConfig::default()), store)
}

async fn stored_state(store: &SqliteStore, host: &str) -> HostState {
    let s = store.load_state(host).await.unwrap().unwrap();
    iops_service::decode_state(&s.state).unwrap()
}

#[tokio::test]
async fn valid_metric_is_stored_with_its_id() {
    let (svc, store) = service();
    let r = svc.ingest(quiet("web-1", 0).as_bytes()).await.unwrap();
    assert_eq!(r.outcome, IngestOutcome::Scored);
    let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(json["message"], STORED_MESSAGE);
    assert_eq!(json["metricId"], r.metric_id.as_str());
    assert_eq!(json["insights"], serde_json::json!([]));
    let listed = store
        .list_metrics("web-1", Timestamp::MIN, 10)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].metric_id, r.metric_id);
    assert_eq!(stored_state(&store, "web-1").await.n_seen(), 1);
}

#[tokio::test]
async fn invalid_metric_answers_400_naming_the_field_and_stores_nothing() {
    let (svc, store) = service();
    let cases = [
        (
            quiet("web-1", 0).replace("\"cpuUsage\":40", "\"cpuUsage\":140"),
            "cpuUsage",
        ),
        (
            quiet("web-1", 0).replace("\"hostname\":\"web-1\",", ""),
            "hostname",
        ),
        (
            quiet("web-1", 0).replace("\"diskIO\":100", "\"diskIO\":-1"),
            "diskIO",
        ),
        ("{\"timestamp\":".to_owned(), "body"),
        (quiet("web 1", 0), "hostname"),
    ];
    for (body, field) in &cases {
        let e = svc.ingest(body.as_bytes()).await.unwrap_err();
        assert_eq!((e.status(), e.field()), (400, Some(*field)), "{body}");
        let answer: serde_json::Value = serde_json::from_str(&e.body()).unwrap();
        assert_eq!(answer["field"], *field);
        assert!(answer["error"].as_str().unwrap().contains(*field));
    }
    // The field is named once, not once by the service and again by the core error.
    let e = svc.ingest(cases[0].0.as_bytes()).await.unwrap_err();
    assert_eq!(
        e.body(),
        r#"{"error":"invalid `cpuUsage`: must be between 0 and 100, got 140","field":"cpuUsage"}"#
    );
    for host in ["web-1", "web 1"] {
        assert_eq!(store.count_metrics(host, Timestamp::MIN).await.unwrap(), 0);
        assert!(store.load_state(host).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn oversized_body_is_413() {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let config = ServiceConfig {
        max_body_bytes: 64,
        ..ServiceConfig::default()
    };
    let svc = Service::with_scorer(
        store.clone(),
        Arc::new(iops_service::BuiltinScorer::new(EngineConfig::default())),
        config,
    );
    let e = svc.ingest(quiet("web-1", 0).as_bytes()).await.unwrap_err();
    assert_eq!(e.status(), 413);
    assert_eq!(
        store.count_metrics("web-1", Timestamp::MIN).await.unwrap(),
        0
    );
}

/// Quiet for 550 samples, then a spike: one insight, stored and answered; posting the
/// spike again repeats it without storing another or re-scoring.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spike_after_quiet_stretch_raises_one_insight_and_duplicates_repeat_it() {
    let (svc, store) = service();
    for i in 0..550 {
        let r = svc.ingest(quiet("web-1", i).as_bytes()).await.unwrap();
        assert!(
            r.insights.is_empty(),
            "quiet sample {i} raised {:?}",
            r.insights
        );
    }
    let spike = body("web-1", 550, 97.0);
    let r = svc.ingest(spike.as_bytes()).await.unwrap();
    assert_eq!(r.insights.len(), 1, "{:?}", r.insights);
    let raised = &r.insights[0];
    assert_eq!(raised.insight.kind.as_str(), "cpu_spike");
    assert_eq!(raised.model_source.as_str(), "builtin");
    assert!(raised.model_version.starts_with("builtin-"));
    let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(json["insights"][0]["insightId"], raised.insight_id.as_str());
    assert_eq!(json["insights"][0]["modelSource"], "builtin");
    assert_eq!(json["insights"][0]["type"], "cpu_spike");
    let stored = store
        .list_insights("web-1", Timestamp::MIN, 10)
        .await
        .unwrap();
    assert_eq!(stored, r.insights);

    let again = svc.ingest(spike.as_bytes()).await.unwrap();
    assert_eq!(again.outcome, IngestOutcome::Duplicate);
    assert_eq!(again.metric_id, r.metric_id);
    assert_eq!(again.insights, r.insights);
    // other values under the same key: still the same record, first write wins
    let changed = svc
        .ingest(body("web-1", 550, 12.0).as_bytes())
        .await
        .unwrap();
    assert_eq!(
        (changed.outcome, &changed.metric_id),
        (IngestOutcome::Duplicate, &r.metric_id)
    );
    assert_eq!(
        store
            .list_insights("web-1", Timestamp::MIN, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store.count_metrics("web-1", Timestamp::MIN).await.unwrap(),
        551
    );
    assert_eq!(stored_state(&store, "web-1").await.n_seen(), 551);
}

#[tokio::test]
async fn late_samples_are_stored_but_not_scored() {
    let (svc, store) = service();
    for i in [0, 1, 2, 5] {
        svc.ingest(quiet("web-1", i).as_bytes()).await.unwrap();
    }
    let before = store.load_state("web-1").await.unwrap().unwrap();
    let late = svc.ingest(quiet("web-1", 3).as_bytes()).await.unwrap();
    assert_eq!(late.outcome, IngestOutcome::Late);
    assert!(late.insights.is_empty());
    assert_eq!(
        store.count_metrics("web-1", Timestamp::MIN).await.unwrap(),
        5
    );
    let after = store.load_state("web-1").await.unwrap().unwrap();
    assert_eq!(after, before, "the state did not learn the late sample");
    // and the stream goes on from where it was
    let next = svc.ingest(quiet("web-1", 6).as_bytes()).await.unwrap();
    assert_eq!(next.outcome, IngestOutcome::Scored);
    assert_eq!(stored_state(&store, "web-1").await.n_seen(), 5);
}

#[tokio::test]
async fn a_sample_stored_but_never_scored_is_scored_when_posted_again() {
    // as if the process died after storing the metric and before saving the state
    let (svc, store) = service();
    svc.ingest(quiet("web-1", 0).as_bytes()).await.unwrap();
    let sample = MetricSample::from_json(quiet("web-1", 1).as_bytes()).unwrap();
    assert!(store.put_metric(&sample).await.unwrap().inserted);
    let retry = svc.ingest(quiet("web-1", 1).as_bytes()).await.unwrap();
    assert_eq!(retry.outcome, IngestOutcome::Scored);
    assert_eq!(stored_state(&store, "web-1").await.n_seen(), 2);
}

/// Many tasks post one host's samples, each twice, out of order, through `n_services`
/// services sharing one store (two services: as two Lambda instances would): every distinct
/// sample is stored once, none is scored twice, and the stored state equals replaying the
/// scored samples in time order. Returns how many were scored, late and duplicate.
async fn concurrent_ingest(n_services: usize) -> [usize; 3] {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let services: Vec<Arc<Service>> = (0..n_services)
        .map(|_| Arc::new(Service::new(store.clone(), EngineConfig::default())))
        .collect();
    const N: u64 = 120;
    // a fixed interleaving: 8 tasks take samples in strides, so arrivals are out of order
    let mut tasks = Vec::new();
    for t in 0..8u64 {
        let svc = Arc::clone(&services[t as usize % n_services]);
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for k in 0..N / 4 {
                let i = (k * 4 + t) % N;
                let r = svc.ingest(quiet("web-1", i).as_bytes()).await.unwrap();
                out.push((i, r.outcome));
            }
            out
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.extend(t.await.unwrap());
    }
    assert_eq!(results.len() as u64, 2 * N, "each sample posted twice");
    let count = |o| results.iter().filter(|(_, x)| *x == o).count();
    let mut scored: Vec<u64> = results
        .iter()
        .filter(|(_, o)| *o == IngestOutcome::Scored)
        .map(|(i, _)| *i)
        .collect();
    scored.sort_unstable();
    let mut distinct = scored.clone();
    distinct.dedup();
    assert_eq!(distinct, scored, "no sample scored twice");
    assert_eq!(
        store.count_metrics("web-1", Timestamp::MIN).await.unwrap(),
        N
    );

    let state = stored_state(&store, "web-1").await;
    assert_eq!(state.n_seen(), scored.len() as u64);
    let config = EngineConfig::default();
    let mut replay = HostState::new(&config).unwrap();
    for i in &scored {
        let s = MetricSample::from_json(quiet("web-1", *i).as_bytes()).unwrap();
        replay.process(&config, &s).unwrap();
    }
    assert_eq!(state, replay);
    [
        count(IngestOutcome::Scored),
        count(IngestOutcome::Late),
        count(IngestOutcome::Duplicate),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_ingest_in_one_process_scores_every_sample_once_or_calls_it_late() {
    let [scored, late, duplicate] = concurrent_ingest(1).await;
    assert_eq!(scored + late, 120);
    assert_eq!(duplicate, 120);
    assert!(scored > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_ingest_across_processes_keeps_state_consistent() {
    // a racing duplicate may score a sample whose first post then answers late, so only
    // the totals are exact here; consistency is checked inside
    let [scored, late, duplicate] = concurrent_ingest(2).await;
    assert_eq!(scored + late + duplicate, 240);
    assert!(scored > 0 && scored <= 120);
}

/// A store whose state always moved on: the service gives up with a retryable 503.
#[derive(Debug)]
struct AlwaysConflicts(SqliteStore);

#[async_trait::async_trait]
impl MetricStore for AlwaysConflicts {
    async fn put_metric(&self, s: &MetricSample) -> iops_store::Result<PutMetric> {
        self.0.put_metric(s).await
    }
    async fn list_metrics(
        &self,
        h: &str,
        since: Timestamp,
        limit: usize,
    ) -> iops_store::Result<Vec<StoredMetric>> {
        self.0.list_metrics(h, since, limit).await
    }
    async fn count_metrics(&self, h: &str, since: Timestamp) -> iops_store::Result<u64> {
        self.0.count_metrics(h, since).await
    }
    async fn list_hosts(&self) -> iops_store::Result<Vec<iops_store::HostEntry>> {
        self.0.list_hosts().await
    }
}

#[async_trait::async_trait]
impl InsightStore for AlwaysConflicts {
    async fn put_insights(&self, i: &[StoredInsight]) -> iops_store::Result<()> {
        self.0.put_insights(i).await
    }
    async fn list_insights(
        &self,
        h: &str,
        since: Timestamp,
        limit: usize,
    ) -> iops_store::Result<Vec<StoredInsight>> {
        self.0.list_insights(h, since, limit).await
    }
}

#[async_trait::async_trait]
impl StateStore for AlwaysConflicts {
    async fn load_state(&self, h: &str) -> iops_store::Result<Option<StoredState>> {
        self.0.load_state(h).await
    }
    async fn save_state(&self, u: StateUpdate) -> iops_store::Result<u64> {
        Err(StoreError::Conflict {
            hostname: u.hostname,
            expected: u.expected_version,
            found: u.expected_version + 1,
        })
    }
}

impl Store for AlwaysConflicts {}

#[tokio::test]
async fn endless_conflicts_answer_503_and_keep_the_metric() {
    let store: Arc<dyn Store> = Arc::new(AlwaysConflicts(SqliteStore::open_in_memory().unwrap()));
    let svc = Service::new(store.clone(), EngineConfig::default());
    let e = svc.ingest(quiet("web-1", 0).as_bytes()).await.unwrap_err();
    assert!(
        matches!(e, ServiceError::Contention { attempts: 16, .. }),
        "{e:?}"
    );
    assert_eq!((e.status(), e.is_retryable()), (503, true));
    assert_eq!(e.body(), r#"{"error":"service busy, retry the request"}"#);
    assert_eq!(
        store.count_metrics("web-1", Timestamp::MIN).await.unwrap(),
        1
    );
}

#[tokio::test]
async fn list_queries_are_parsed_and_answered() {
    let (svc, _store) = service();
    for i in 0..5 {
        svc.ingest(quiet("web-1", i).as_bytes()).await.unwrap();
    }
    let since = (T0 + 2 * 300).to_string();
    let q = svc
        .parse_query(Some("web-1"), Some(&since), Some("2"))
        .unwrap();
    let got = svc.list_metrics(&q).await.unwrap();
    assert_eq!(got.metrics.len(), 2);
    assert_eq!(
        got.metrics[0].sample.timestamp.epoch_seconds(),
        (T0 + 600) as f64
    );
    let q = svc
        .parse_query(Some("web-1"), Some("2025-11-24T16:10:00Z"), None)
        .unwrap();
    assert_eq!(svc.list_metrics(&q).await.unwrap().metrics.len(), 3);
    assert!(svc.list_insights(&q).await.unwrap().insights.is_empty());
    for (h, s, l, field) in [
        (None, None, None, "hostname"),
        (Some("a b"), None, None, "hostname"),
        (Some("web-1"), Some("yesterday"), None, "since"),
        (Some("web-1"), None, Some("0"), "limit"),
        (Some("web-1"), None, Some("100001"), "limit"),
    ] {
        let e = svc.parse_query(h, s, l).unwrap_err();
        assert_eq!((e.status(), e.field()), (400, Some(field)));
    }
}

/// A service with the decoded-state cache of `hosts` entries (0: none, every ingest decodes
/// the stored state).
fn service_with_cache(hosts: usize) -> (Service, Arc<SqliteStore>) {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let config = ServiceConfig {
        state_cache_hosts: hosts,
        ..ServiceConfig::default()
    };
    let scorer = Arc::new(iops_service::BuiltinScorer::new(EngineConfig::default()));
    (Service::with_scorer(store.clone(), scorer, config), store)
}

#[tokio::test]
async fn cached_and_decoded_states_give_the_same_answers_and_stored_bytes() {
    // Without the cache every step decodes what the previous one encoded, so any bit the
    // codec lost would change later scores, insights or the stored bytes.
    let (cached, cached_store) = service_with_cache(4096);
    let (decoded, decoded_store) = service_with_cache(0);
    // a cache of one entry for two hosts: entries are evicted and reloaded all the time
    let (tiny, tiny_store) = service_with_cache(1);
    let mut raised = 0;
    for i in 0..700 {
        for host in ["web-1", "web-2"] {
            let cpu = if i % 150 == 149 {
                97.0
            } else {
                40.0 + (i % 7) as f64
            };
            let b = body(host, i, cpu);
            let a = cached.ingest(b.as_bytes()).await.unwrap();
            let d = decoded.ingest(b.as_bytes()).await.unwrap();
            let t = tiny.ingest(b.as_bytes()).await.unwrap();
            assert_eq!(a, d, "sample {i} of {host}");
            assert_eq!(a, t, "sample {i} of {host}");
            raised += a.insights.len();
        }
    }
    assert!(raised > 0, "the spikes raised insights");
    for host in ["web-1", "web-2"] {
        let a = cached_store.load_state(host).await.unwrap().unwrap();
        let d = decoded_store.load_state(host).await.unwrap().unwrap();
        let t = tiny_store.load_state(host).await.unwrap().unwrap();
        assert_eq!(a, d);
        assert_eq!(a, t);
        assert_eq!(a.state.first(), Some(&1u8), "postcard tag");
    }
}

#[tokio::test]
async fn a_state_written_by_another_process_wins_over_the_cache() {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let a = Service::new(store.clone(), EngineConfig::default());
    let b = Service::new(store.clone(), EngineConfig::default());
    for i in 0..10 {
        a.ingest(quiet("web-1", i).as_bytes()).await.unwrap();
    }
    for i in 10..20 {
        b.ingest(quiet("web-1", i).as_bytes()).await.unwrap();
    }
    // a's cache holds version 10; the store is at 20: a's save conflicts, it reloads
    let r = a.ingest(quiet("web-1", 20).as_bytes()).await.unwrap();
    assert_eq!(r.outcome, IngestOutcome::Scored);
    // and a sample b scored is a duplicate for a, though a's cache had not seen it
    let r = a.ingest(quiet("web-1", 15).as_bytes()).await.unwrap();
    assert_eq!(r.outcome, IngestOutcome::Duplicate);
    let config = EngineConfig::default();
    let mut replay = HostState::new(&config).unwrap();
    for i in 0..21 {
        let s = MetricSample::from_json(quiet("web-1", i).as_bytes()).unwrap();
        replay.process(&config, &s).unwrap();
    }
    assert_eq!(stored_state(&store, "web-1").await, replay);
    assert_eq!(
        store.load_state("web-1").await.unwrap().unwrap().version,
        21
    );
}

#[tokio::test]
async fn a_json_state_of_an_earlier_version_still_decodes() {
    let (svc, store) = service();
    let config = EngineConfig::default();
    let mut state = HostState::new(&config).unwrap();
    for i in 0..5 {
        let s = MetricSample::from_json(quiet("web-1", i).as_bytes()).unwrap();
        state.process(&config, &s).unwrap();
    }
    store
        .save_state(StateUpdate {
            hostname: "web-1".into(),
            expected_version: 0,
            last_timestamp: Timestamp::from_epoch_seconds((T0 + 4 * 300) as f64).unwrap(),
            state: serde_json::to_vec(&state).unwrap(),
            insights: vec![],
        })
        .await
        .unwrap();
    let r = svc.ingest(quiet("web-1", 5).as_bytes()).await.unwrap();
    assert_eq!((r.outcome, r.state_reset), (IngestOutcome::Scored, false));
    let s = MetricSample::from_json(quiet("web-1", 5).as_bytes()).unwrap();
    state.process(&config, &s).unwrap();
    assert_eq!(stored_state(&store, "web-1").await, state);
    assert_eq!(iops_service::decode_state(b"\x02junk"), None);
    assert_eq!(iops_service::decode_state(b""), None);
}

/// The stored form of a warm host, forest incident and all, decodes to the same state: the
/// codec is positional (postcard), so every field HostState writes must be one it reads.
#[test]
fn a_warm_host_state_round_trips_through_the_stored_encoding() {
    let config = EngineConfig::default();
    let mut state = HostState::new(&config).unwrap();
    for i in 0..700 {
        let cpu = if i == 650 {
            99.0
        } else {
            30.0 + (i % 7) as f64
        };
        let s = MetricSample::from_json(body("web-1", i, cpu).as_bytes()).unwrap();
        state.process(&config, &s).unwrap();
    }
    let bytes = iops_service::encode_state(&state).unwrap();
    assert_eq!(iops_service::decode_state(&bytes), Some(state.clone()));
    let json = serde_json::to_vec(&state).unwrap();
    assert_eq!(iops_service::decode_state(&json), Some(state));
    assert_eq!(iops_service::decode_state(&bytes[..bytes.len() - 1]), None);
}
