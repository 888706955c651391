//! Silent hosts against the real SQLite store: a host that stops reporting gets one
//! critical incident, judged in event time against the fleet, resolved when it is back.

use std::sync::Arc;

use iops_core::engine::EngineConfig;
use iops_core::{Incident, IncidentStatus, InsightType, Severity, SilencePolicy, Timestamp};
use iops_service::{BuiltinScorer, Service, ServiceConfig, SnapshotPolicy};
use iops_store::{IncidentQuery, IncidentStore, SqliteStore};

const T0: f64 = 1_764_000_000.0;

fn at(seconds: f64) -> Timestamp {
    Timestamp::from_epoch_seconds(T0 + seconds).unwrap()
}

fn body(host: &str, seconds: f64, i: u64) -> String {
    format!(
        r#"{{"timestamp":{},"hostname":"{host}","cpuUsage":{},"memoryUsage":60,"diskIO":100,"networkIO":50}}"#,
        T0 + seconds,
        40 + i % 7
    )
}

/// Ingests [`body`]'s sample (it must be accepted).
async fn post(service: &Service, host: &str, seconds: f64, i: u64) {
    service
        .ingest(body(host, seconds, i).as_bytes())
        .await
        .unwrap();
}

/// Both ways a service keeps host states: saved with every sample (the Lambda), or in
/// memory with snapshots (`iops serve`).
fn services() -> Vec<(&'static str, Service, Arc<SqliteStore>)> {
    [
        ("per-sample saves", None),
        ("snapshots", Some(SnapshotPolicy::default())),
    ]
    .into_iter()
    .map(|(name, snapshots)| {
        let store = Arc::new(SqliteStore::open_in_memory().unwrap());
        let config = ServiceConfig {
            snapshots,
            ..ServiceConfig::default()
        };
        let scorer = Arc::new(BuiltinScorer::new(EngineConfig::default()));
        (
            name,
            Service::with_scorer(store.clone(), scorer, config),
            store,
        )
    })
    .collect()
}

async fn silences(store: &SqliteStore, host: &str) -> Vec<Incident> {
    let mut found = store
        .list_incidents(&IncidentQuery {
            status: None,
            hostname: Some(host.to_owned()),
            since: None,
            limit: 100,
        })
        .await
        .unwrap();
    found.retain(Incident::is_silence);
    found
}

#[tokio::test]
async fn a_host_that_stops_is_reported_once_within_two_intervals_and_resolved_when_back() {
    for (mode, service, store) in services() {
        let hosts = ["web-1", "web-2", "web-3", "db-1"];
        let mut detected = None;
        for minute in 0..120u64 {
            let t = 60.0 * minute as f64;
            for host in hosts {
                // web-3 stops after minute 59 and is back at minute 100
                if host == "web-3" && (60..100).contains(&minute) {
                    continue;
                }
                post(&service, host, t, minute).await;
            }
            // the sweep, once a minute as the timer and the scheduled rule run it
            let sweep = service.sweep_silent_hosts().await.unwrap();
            assert_eq!(sweep.hosts, 4, "{mode}");
            assert_eq!(sweep.fleet_now, Some(at(t)), "{mode}");
            for opened in &sweep.opened {
                assert_eq!(opened.hostname, "web-3", "{mode} minute {minute}");
                assert!(detected.is_none(), "{mode}: opened twice");
                detected = Some((minute, opened.clone()));
            }
            for resolved in &sweep.resolved {
                assert_eq!(minute, 100, "{mode}: resolved at minute {minute}");
                assert_eq!(resolved.resolved, Some(at(6000.0)), "{mode}");
            }
        }
        let (minute, opened) = detected.unwrap_or_else(|| panic!("{mode}: never reported"));
        // last sample at minute 59; silent after 10 minutes (3 intervals are 3 minutes)
        assert_eq!(opened.opened, at(69.0 * 60.0), "{mode}");
        let late_by = 60.0 * minute as f64 - (69.0 * 60.0);
        assert!(
            (0.0..=120.0).contains(&late_by),
            "{mode}: reported {late_by} s after the threshold"
        );
        assert_eq!(opened.severity, Severity::Critical);
        assert_eq!(opened.types, [InsightType::HostStoppedReporting]);
        let stored = silences(&store, "web-3").await;
        assert_eq!(stored.len(), 1, "{mode}: {stored:?}");
        assert_eq!(stored[0].incident_id, opened.incident_id);
        assert_eq!(stored[0].status, IncidentStatus::Resolved, "{mode}");
        assert_eq!(stored[0].resolved, Some(at(6000.0)));
        for host in ["web-1", "web-2", "db-1"] {
            assert!(silences(&store, host).await.is_empty(), "{mode}: {host}");
        }
        // by id, as GET /incidents/{id} answers it
        let by_id = service.get_incident(&opened.incident_id).await.unwrap();
        assert_eq!(by_id, stored[0]);
    }
}

#[tokio::test]
async fn a_second_sweep_and_a_concurrent_one_store_nothing_new() {
    let (_, service, store) = services().remove(0);
    for minute in 0..40u64 {
        let t = 60.0 * minute as f64;
        post(&service, "web-1", t, minute).await;
        if minute < 20 {
            post(&service, "web-2", t, minute).await;
        }
    }
    // another process's sweep with the same store: the same incident, by the same id
    let scorer = Arc::new(BuiltinScorer::new(EngineConfig::default()));
    let other = Service::with_scorer(store.clone(), scorer, ServiceConfig::default());
    let (a, b) = tokio::join!(service.sweep_silent_hosts(), other.sweep_silent_hosts());
    let opened: Vec<Incident> = a
        .unwrap()
        .opened
        .into_iter()
        .chain(b.unwrap().opened)
        .collect();
    // one of them opened it (or both, the same record: the second write changes nothing)
    assert!(!opened.is_empty());
    assert!(opened.iter().all(|i| *i == opened[0]), "{opened:?}");
    assert!(service
        .sweep_silent_hosts()
        .await
        .unwrap()
        .opened
        .is_empty());
    assert_eq!(silences(&store, "web-2").await, [opened[0].clone()]);
}

#[tokio::test]
async fn a_whole_fleet_that_stops_and_a_host_never_regular_are_not_judged() {
    let (_, service, store) = services().remove(0);
    // web-1 regular for 40 minutes; web-2 sent 5 samples (its interval is not known yet)
    for minute in 0..40u64 {
        let t = 60.0 * minute as f64;
        post(&service, "web-1", t, minute).await;
        if minute < 5 {
            post(&service, "web-2", t, minute).await;
        }
    }
    let sweep = service.sweep_silent_hosts().await.unwrap();
    assert!(sweep.opened.is_empty(), "{sweep:?}");
    // then everything stops: event time stands still, so nobody is late against it
    for _ in 0..3 {
        assert!(service
            .sweep_silent_hosts()
            .await
            .unwrap()
            .opened
            .is_empty());
    }
    assert!(silences(&store, "web-1").await.is_empty());
}

#[tokio::test]
async fn an_hourly_host_is_silent_after_three_of_its_hours_not_ten_minutes() {
    let (_, service, store) = services().remove(0);
    for hour in 0..30u64 {
        post(&service, "batch-1", 3600.0 * hour as f64, hour).await;
    }
    // a minute-cadence host carries the fleet's clock on
    let last_hourly = 3600.0 * 29.0;
    let mut opened_at = None;
    for minute in 0..240u64 {
        let t = last_hourly + 60.0 * minute as f64;
        post(&service, "web-1", t, minute).await;
        let sweep = service.sweep_silent_hosts().await.unwrap();
        if let Some(i) = sweep.opened.iter().find(|i| i.hostname == "batch-1") {
            opened_at.get_or_insert((minute, i.opened));
        }
    }
    let (minute, opened) = opened_at.expect("batch-1 never reported");
    assert_eq!(minute, 180);
    assert_eq!(opened, at(last_hourly + 3.0 * 3600.0));
    assert_eq!(silences(&store, "batch-1").await.len(), 1);
}

#[tokio::test]
async fn the_policy_is_the_services() {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let config = ServiceConfig {
        silence: SilencePolicy {
            intervals: 3.0,
            min_seconds: 1800.0,
        },
        ..ServiceConfig::default()
    };
    let scorer = Arc::new(BuiltinScorer::new(EngineConfig::default()));
    let service = Service::with_scorer(store.clone(), scorer, config);
    let mut first = None;
    for minute in 0..80u64 {
        let t = 60.0 * minute as f64;
        post(&service, "web-1", t, minute).await;
        if minute < 30 {
            post(&service, "web-2", t, minute).await;
        }
        let sweep = service.sweep_silent_hosts().await.unwrap();
        if !sweep.opened.is_empty() && first.is_none() {
            first = Some(minute);
        }
    }
    // last sample at minute 29, silent 30 minutes later
    assert_eq!(first, Some(59));
}
