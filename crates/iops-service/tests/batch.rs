//! Batches (a JSON array on POST /metrics): each item answers what the single-sample form
//! would have, one bad item fails alone, and a host's samples cost one state write per
//! batch, in both modes (state saved with every ingest, and snapshot mode).

use std::sync::Arc;
use std::time::Duration;

use iops_core::engine::EngineConfig;
use iops_core::Timestamp;
use iops_service::{
    decode_state, encode_state, BatchResponse, IngestOutcome, IngestResponse, Service,
    ServiceConfig, SnapshotPolicy,
};
use iops_store::{InsightStore, MetricStore, SqliteStore, StateStore, StoredInsight};
use iops_synth::{Fleet, FleetParams};
use serde_json::Value;

const T0: u64 = 1_764_000_000;

fn body(host: &str, i: u64, cpu: f64) -> String {
    format!(
        r#"{{"timestamp":{},"hostname":"{host}","cpuUsage":{cpu},"memoryUsage":60,"diskIO":100,"networkIO":50}}"#,
        T0 + i * 300
    )
}

fn quiet(host: &str, i: u64) -> String {
    body(host, i, 40.0 + (i % 7) as f64)
}

fn array<S: AsRef<str>>(items: &[S]) -> Vec<u8> {
    let items: Vec<&str> = items.iter().map(AsRef::as_ref).collect();
    format!("[{}]", items.join(",")).into_bytes()
}

/// Three hosts over four days with incidents: a stream that raises insights.
fn stream() -> (Vec<String>, Vec<String>) {
    let fleet = Fleet::new(FleetParams {
        hosts: 3,
        days: 4.0,
        incident_rate: 1.5,
        calm_days: 1.0,
        seed: 7,
        ..FleetParams::default()
    })
    .unwrap();
    let bodies = fleet
        .samples()
        .map(|(s, _)| serde_json::to_string(&s).unwrap())
        .collect();
    let hosts = fleet.hosts().iter().map(|h| h.hostname.clone()).collect();
    (bodies, hosts)
}

fn snapshots() -> Option<SnapshotPolicy> {
    Some(SnapshotPolicy {
        every_samples: 100,
        max_dirty: Duration::from_secs(3600),
    })
}

fn service(store: &Arc<SqliteStore>, snapshots: Option<SnapshotPolicy>) -> Service {
    let scorer = Arc::new(iops_service::BuiltinScorer::new(EngineConfig::default()));
    let config = ServiceConfig {
        snapshots,
        ..ServiceConfig::default()
    };
    Service::with_scorer(store.clone(), scorer, config)
}

fn new_store() -> Arc<SqliteStore> {
    Arc::new(SqliteStore::open_in_memory().unwrap())
}

/// What a client sees of an answer: metric id, insights, and what happened.
fn seen(r: &IngestResponse) -> (String, Vec<StoredInsight>, IngestOutcome) {
    (r.metric_id.clone(), r.insights.clone(), r.outcome)
}

/// Each host's insights and state (decoded and encoded again, without the ledger).
async fn stored(store: &SqliteStore, hosts: &[String]) -> Vec<(Vec<StoredInsight>, Vec<u8>)> {
    let mut out = Vec::new();
    for h in hosts {
        let insights = store
            .list_insights(h, Timestamp::MIN, 100_000)
            .await
            .unwrap();
        let bytes = store.load_state(h).await.unwrap().unwrap().state;
        out.push((
            insights,
            encode_state(&decode_state(&bytes).unwrap()).unwrap(),
        ));
    }
    out
}

fn ok_items(answer: &BatchResponse) -> Vec<&IngestResponse> {
    answer
        .items
        .iter()
        .map(|i| i.as_ref().expect("every item stored"))
        .collect()
}

#[tokio::test]
async fn batches_answer_and_store_what_single_samples_do() {
    let (bodies, hosts) = stream();
    for mode in [None, snapshots()] {
        let reference_store = new_store();
        let reference = service(&reference_store, mode);
        let mut want = Vec::new();
        for b in &bodies {
            want.push(seen(&reference.ingest(b.as_bytes()).await.unwrap()));
        }
        reference.flush_snapshots().await.unwrap();
        let want_stored = stored(&reference_store, &hosts).await;
        let raised: usize = want_stored.iter().map(|(i, _)| i.len()).sum();
        assert!(raised >= 5, "the stream must raise insights, got {raised}");

        let store = new_store();
        let svc = service(&store, mode);
        let mut got = vec![None; bodies.len()];
        let (mut start, mut size) = (0, 1);
        while start < bodies.len() {
            let end = (start + size).min(bodies.len());
            // each batch in reverse: a host's samples are applied in time order anyway
            let chunk: Vec<&String> = bodies[start..end].iter().rev().collect();
            let answer = svc.ingest_batch(&array(&chunk)).await.unwrap();
            assert_eq!(answer.status(), 200);
            for (k, r) in ok_items(&answer).into_iter().enumerate() {
                got[end - 1 - k] = Some(seen(r));
            }
            start = end;
            size = size % 97 + 13;
        }
        let got: Vec<_> = got.into_iter().map(Option::unwrap).collect();
        assert_eq!(got, want, "answers, snapshots: {mode:?}");
        svc.flush_snapshots().await.unwrap();
        assert_eq!(
            stored(&store, &hosts).await,
            want_stored,
            "stored, snapshots: {mode:?}"
        );
    }
}

#[tokio::test]
async fn a_host_costs_one_state_write_per_batch() {
    let store = new_store();
    let svc = service(&store, None);
    let mut items = Vec::new();
    for i in 0..20 {
        items.push(quiet("bw-1", i));
        items.push(quiet("bw-2", i));
    }
    let answer = svc.ingest_batch(&array(&items)).await.unwrap();
    assert_eq!(answer.stored(), 40);
    for host in ["bw-1", "bw-2"] {
        let state = store.load_state(host).await.unwrap().unwrap();
        assert_eq!(state.version, 1, "{host}: one save for its 20 samples");
        assert_eq!(decode_state(&state.state).unwrap().n_seen(), 20);
    }
    let more: Vec<String> = (20..30).map(|i| quiet("bw-1", i)).collect();
    svc.ingest_batch(&array(&more)).await.unwrap();
    assert_eq!(store.load_state("bw-1").await.unwrap().unwrap().version, 2);
}

#[tokio::test]
async fn a_bad_item_fails_alone_and_repeats_are_duplicates() {
    for mode in [None, snapshots()] {
        let store = new_store();
        let svc = service(&store, mode);
        let items = [
            quiet("bi-1", 0),
            quiet("bi-1", 1).replace("\"cpuUsage\":41", "\"cpuUsage\":141"),
            r#"{"timestamp":"9999-12-31T23:59:59Z","hostname":"bi-1","cpuUsage":1,"memoryUsage":1,"diskIO":1,"networkIO":1}"#.to_owned(),
            "42".to_owned(),
            quiet("bi-1", 2),
            quiet("bi-1", 0),
        ];
        let answer = svc.ingest_batch(&array(&items)).await.unwrap();
        assert_eq!(
            answer.status(),
            200,
            "a client's mistake does not fail the batch"
        );
        let errors: Vec<_> = answer
            .items
            .iter()
            .map(|i| {
                i.as_ref()
                    .err()
                    .map(|e| (e.status, e.field.clone().unwrap()))
            })
            .collect();
        assert_eq!(
            errors,
            [
                None,
                Some((400, "cpuUsage".to_owned())),
                Some((400, "timestamp".to_owned())),
                Some((400, "body".to_owned())),
                None,
                None
            ],
            "{mode:?}"
        );
        let first = answer.items[0].as_ref().unwrap();
        let repeat = answer.items[5].as_ref().unwrap();
        assert_eq!(first.outcome, IngestOutcome::Scored);
        assert_eq!(repeat.outcome, IngestOutcome::Duplicate);
        assert_eq!(repeat.metric_id, first.metric_id);
        assert_eq!(
            store.count_metrics("bi-1", Timestamp::MIN).await.unwrap(),
            2
        );

        let wire: Value = serde_json::from_str(&answer.to_json()).unwrap();
        assert_eq!(wire["message"], "Batch processed");
        assert_eq!(
            (wire["stored"].as_u64(), wire["failed"].as_u64()),
            (Some(3), Some(3))
        );
        assert_eq!(wire["items"][0]["status"], 200);
        assert_eq!(wire["items"][0]["metricId"], first.metric_id.as_str());
        assert_eq!(wire["items"][1]["field"], "cpuUsage");
        assert!(wire["items"][1]["error"]
            .as_str()
            .unwrap()
            .contains("cpuUsage"));

        // the same batch again: every stored item is a duplicate, with the same id
        let again = svc.ingest_batch(&array(&items)).await.unwrap();
        assert_eq!(
            again.items[4].as_ref().unwrap().outcome,
            IngestOutcome::Duplicate
        );
        assert_eq!(
            again.items[4].as_ref().unwrap().metric_id,
            answer.items[4].as_ref().unwrap().metric_id
        );
        assert_eq!(
            store.count_metrics("bi-1", Timestamp::MIN).await.unwrap(),
            2
        );
    }
}

#[tokio::test]
async fn a_late_sample_in_a_batch_is_judged_as_it_would_be_alone() {
    for mode in [None, snapshots()] {
        let (single_store, batch_store) = (new_store(), new_store());
        let (single, batched) = (service(&single_store, mode), service(&batch_store, mode));
        for svc in [&single, &batched] {
            for i in (0..40).chain([41]) {
                svc.ingest(quiet("bl-1", i).as_bytes()).await.unwrap();
            }
        }
        // 40 arrives after 41 (one interval late), then 42, and a repeat of 41
        let late = [quiet("bl-1", 42), quiet("bl-1", 40), quiet("bl-1", 41)];
        let mut want = Vec::new();
        for b in [&late[1], &late[0], &late[2]] {
            want.push(seen(&single.ingest(b.as_bytes()).await.unwrap()));
        }
        let answer = batched.ingest_batch(&array(&late)).await.unwrap();
        let got: Vec<_> = ok_items(&answer).into_iter().map(seen).collect();
        assert_eq!(
            got,
            [want[1].clone(), want[0].clone(), want[2].clone()],
            "{mode:?}"
        );
        let late_outcome = match mode {
            None => IngestOutcome::ScoredLate { learned: true },
            Some(_) => IngestOutcome::ScoredLate { learned: false },
        };
        assert_eq!(got[1].2, late_outcome);
        assert_eq!(got[2].2, IngestOutcome::Duplicate);
        single.flush_snapshots().await.unwrap();
        batched.flush_snapshots().await.unwrap();
        let host = ["bl-1".to_owned()];
        assert_eq!(
            stored(&batch_store, &host).await,
            stored(&single_store, &host).await
        );
    }
}

#[tokio::test]
async fn oversized_batches_are_refused_whole() {
    let store = new_store();
    let svc = service(&store, None);
    let limit = ServiceConfig::default().max_batch_samples;
    let items: Vec<String> = (0..=limit as u64).map(|i| quiet("bo-1", i)).collect();
    let e = svc.ingest_batch(&array(&items)).await.unwrap_err();
    assert_eq!(e.status(), 413);
    assert!(e.to_string().contains(&format!("limit of {limit}")), "{e}");
    let padded = format!("[{}{}]", quiet("bo-1", 0), " ".repeat(1 << 20));
    let e = svc.ingest_batch(padded.as_bytes()).await.unwrap_err();
    assert_eq!(e.status(), 413);
    let e = svc.ingest_batch(b"[1,").await.unwrap_err();
    assert_eq!((e.status(), e.field()), (400, Some("body")));
    assert_eq!(
        store.count_metrics("bo-1", Timestamp::MIN).await.unwrap(),
        0
    );
    // at the limit, every item is stored
    let answer = svc.ingest_batch(&array(&items[..limit])).await.unwrap();
    assert_eq!(answer.stored(), limit);
}
