//! A sender's wrong clock cannot freeze its host: a sample stamped too far ahead of the
//! receiving clock is refused (400 naming `timestamp`, nothing stored), and no single sample
//! that is accepted, whatever its timestamp, stops the host from learning.

use std::cell::Cell;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use iops_core::engine::EngineConfig;
use iops_core::Timestamp;
use iops_service::{
    BuiltinScorer, IngestOutcome, Service, ServiceConfig, ServiceError, SnapshotPolicy,
};
use iops_store::{MetricStore, SqliteStore};

const T0: u64 = 1_764_000_000;
const STEP: u64 = 300;

thread_local! {
    /// The receiving clock, epoch seconds (each test runs on its own current-thread runtime).
    static NOW: Cell<u64> = const { Cell::new(T0) };
}

fn clock() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW.with(Cell::get))
}

fn body(t: &str, cpu: f64) -> String {
    format!(
        r#"{{"timestamp":{t},"hostname":"web-1","cpuUsage":{cpu},"memoryUsage":60,"diskIO":100,"networkIO":50}}"#
    )
}

/// Sample `i` of a host whose CPU moves from 30% to 60% at sample `moved`.
fn cpu(i: u64, moved: u64) -> f64 {
    let level = if i >= moved { 60.0 } else { 30.0 };
    level + (i * 7919 % 13) as f64 / 4.0
}

fn service(snapshots: bool) -> (Service, Arc<SqliteStore>) {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let config = ServiceConfig {
        snapshots: snapshots.then(SnapshotPolicy::default),
        ..ServiceConfig::default()
    };
    let scorer = Arc::new(BuiltinScorer::new(EngineConfig::default()));
    let svc = Service::with_scorer(store.clone(), scorer, config).with_clock(clock);
    (svc, store)
}

/// Posts sample `i` at its time with the receiving clock there; its outcome and how many
/// insights it raised.
async fn post(svc: &Service, i: u64, moved: u64) -> (IngestOutcome, usize) {
    let t = T0 + i * STEP;
    NOW.with(|n| n.set(t + 1));
    let r = svc
        .ingest(body(&t.to_string(), cpu(i, moved)).as_bytes())
        .await
        .unwrap();
    (r.outcome, r.insights.len())
}

#[tokio::test]
async fn a_sample_far_ahead_is_refused_naming_timestamp_and_nothing_is_stored() {
    for snapshots in [false, true] {
        let (svc, store) = service(snapshots);
        for i in 0..400 {
            post(&svc, i, u64::MAX).await;
        }
        let err = svc
            .ingest(body("\"9999-12-31T23:59:59Z\"", 30.0).as_bytes())
            .await
            .unwrap_err();
        let ServiceError::Invalid { field, reason } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(field, "timestamp");
        assert!(
            reason.contains("years ahead of this server's clock"),
            "{reason}"
        );
        assert!(reason.contains("at most 15 min ahead"), "{reason}");
        // just past the limit too; nothing of either is stored
        let t = T0 + 399 * STEP + 1 + 15 * 60 + 1;
        assert!(svc
            .ingest(body(&t.to_string(), 30.0).as_bytes())
            .await
            .is_err());
        let stored = store
            .list_metrics("web-1", Timestamp::MIN, 1000)
            .await
            .unwrap();
        assert_eq!(stored.len(), 400);
    }
}

#[tokio::test]
async fn no_accepted_sample_stops_a_host_from_learning() {
    // after 400 samples, one odd timestamp (as far ahead as accepted, or far in the past),
    // then CPU moves from 30% to 60% for two days: the host learns again and adapts
    let odd = [
        ("as far ahead as accepted", 15 * 60),
        ("far in the past", -(T0 as i64) + 86_400),
    ];
    for snapshots in [false, true] {
        for (what, offset) in odd {
            let (svc, _) = service(snapshots);
            for i in 0..400 {
                post(&svc, i, 400).await;
            }
            let now = T0 + 399 * STEP + 1;
            let t = now.checked_add_signed(offset).unwrap();
            let r = svc
                .ingest(body(&t.to_string(), 30.0).as_bytes())
                .await
                .unwrap();
            assert_ne!(r.outcome, IngestOutcome::Duplicate, "{what}");
            let mut outcomes = Vec::new();
            let mut insights = Vec::new();
            for i in 400..400 + 2 * 288 {
                let (outcome, raised) = post(&svc, i, 400).await;
                outcomes.push(outcome);
                insights.push(raised);
            }
            // learning again within the accepted skew (ahead) or at once (past)
            let first_learned = outcomes
                .iter()
                .position(|o| *o == IngestOutcome::Scored)
                .unwrap_or(usize::MAX);
            assert!(
                first_learned <= 4,
                "{what} (snapshots {snapshots}): {outcomes:?}"
            );
            assert!(
                outcomes[first_learned..]
                    .iter()
                    .all(|o| *o == IngestOutcome::Scored),
                "{what} (snapshots {snapshots})"
            );
            // and the new level is learned: the second day raises nothing
            let second_day: usize = insights[288..].iter().sum();
            let total: usize = insights.iter().sum();
            assert_eq!(
                second_day, 0,
                "{what} (snapshots {snapshots}): {total} insights"
            );
            assert!(
                total < 50,
                "{what} (snapshots {snapshots}): {total} insights"
            );
        }
    }
}
