//! Silent hosts against the real SQLite store: a host that stops reporting gets one
//! critical incident, judged in event time against the fleet, resolved when it is back;
//! a live fleet from which nothing arrives gets one on the fleet, judged by the receiving
//! clock.

use std::cell::Cell;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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

/// A backfill: samples from a year before the receiving clock (the system's, here) end
/// when the load ends, and the fleet's event time stops with them: neither a host nor the
/// fleet is reported.
#[tokio::test]
async fn a_backfill_that_ends_and_a_host_never_regular_are_not_judged() {
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
    assert!(silences(&store, iops_core::FLEET).await.is_empty());
}

thread_local! {
    /// The receiving clock, seconds after T0 (each test runs on its own current-thread
    /// runtime).
    static NOW: Cell<f64> = const { Cell::new(0.0) };
}

fn clock() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs_f64(T0 + NOW.with(Cell::get))
}

/// Posts every host's sample of `minute`, each arriving 2 s after its timestamp.
async fn post_live(service: &Service, hosts: &[&str], minute: u64) {
    let t = 60.0 * minute as f64;
    NOW.with(|n| n.set(t + 2.0));
    for host in hosts {
        post(service, host, t, minute).await;
    }
}

/// Sweeps with the receiving clock at `now` (seconds after T0).
async fn sweep_at(service: &Service, now: f64) -> iops_service::SilenceSweep {
    NOW.with(|n| n.set(now));
    service.sweep_silent_hosts().await.unwrap()
}

#[tokio::test]
async fn a_live_fleet_that_stops_as_a_whole_is_one_critical_incident_resolved_when_back() {
    let hosts = ["web-1", "web-2", "db-1"];
    for (mode, service, store) in services() {
        let service = service.with_clock(clock);
        for minute in 0..40 {
            post_live(&service, &hosts, minute).await;
        }
        // the last arrival at 39 min 2 s; nothing after: silent 10 minutes later
        let last_arrival = 39.0 * 60.0 + 2.0;
        for now in [last_arrival + 60.0, last_arrival + 599.0] {
            let sweep = sweep_at(&service, now).await;
            assert!(sweep.opened.is_empty(), "{mode} at {now}: {sweep:?}");
        }
        let sweep = sweep_at(&service, last_arrival + 600.0).await;
        assert_eq!(sweep.opened.len(), 1, "{mode}: {sweep:?}");
        let fleet = &sweep.opened[0];
        assert_eq!(fleet.hostname, iops_core::FLEET);
        assert_eq!(fleet.severity, Severity::Critical);
        assert_eq!(fleet.types, [InsightType::HostStoppedReporting]);
        assert_eq!(fleet.opened, at(last_arrival + 600.0));
        assert!(fleet.summary.contains("3 hosts"), "{}", fleet.summary);
        // later sweeps: the same incident, nothing new, and no host judged alone
        for now in [last_arrival + 1200.0, last_arrival + 7200.0] {
            let sweep = sweep_at(&service, now).await;
            assert!(
                sweep.opened.is_empty() && sweep.resolved.is_empty(),
                "{mode}"
            );
        }
        for host in hosts {
            assert!(silences(&store, host).await.is_empty(), "{mode}: {host}");
        }
        // the fleet is back two hours later
        post_live(&service, &hosts, 160).await;
        let sweep = sweep_at(&service, 160.0 * 60.0 + 30.0).await;
        assert_eq!(sweep.resolved.len(), 1, "{mode}: {sweep:?}");
        let stored = silences(&store, iops_core::FLEET).await;
        assert_eq!(stored.len(), 1, "{mode}: {stored:?}");
        assert_eq!(stored[0].incident_id, fleet.incident_id);
        assert_eq!(stored[0].status, IncidentStatus::Resolved);
        assert_eq!(stored[0].resolved, Some(at(160.0 * 60.0 + 2.0)));
    }
}

/// `iops serve` restarted over a live fleet's database: if the fleet does not come back,
/// its silence counts from the restart.
#[tokio::test]
async fn a_restarted_receiver_the_fleet_does_not_come_back_to_reports_it() {
    let (_, service, store) = services().remove(0);
    let service = service.with_clock(clock);
    for minute in 0..40 {
        post_live(&service, &["web-1", "web-2"], minute).await;
    }
    drop(service);
    NOW.with(|n| n.set(3000.0));
    let scorer = Arc::new(BuiltinScorer::new(EngineConfig::default()));
    let restarted = Service::with_scorer(store.clone(), scorer.clone(), ServiceConfig::default())
        .with_clock(clock)
        .watching_from_start();
    // a process that does not watch from its start (a Lambda instance) has no arrivals to
    // go by on SQLite, which keeps none
    let other =
        Service::with_scorer(store.clone(), scorer, ServiceConfig::default()).with_clock(clock);
    assert!(sweep_at(&restarted, 3599.0).await.opened.is_empty());
    assert!(sweep_at(&other, 3600.0).await.opened.is_empty());
    let sweep = sweep_at(&restarted, 3600.0).await;
    assert_eq!(sweep.opened.len(), 1, "{sweep:?}");
    assert_eq!(sweep.opened[0].opened, at(3600.0));
    assert!(sweep.opened[0].is_fleet());
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

/// A host that stops inside its maintenance window (a planned reboot) is not reported.
#[tokio::test]
async fn a_host_in_maintenance_is_not_reported_silent() {
    use iops_core::QuietKind;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let base = (now / 60 * 60 - 3 * 3600) as f64;
    for (mode, service, store) in services() {
        let window = format!(
            r#"{{"hostname":"web-3","start":{},"end":{},"reason":"reboot"}}"#,
            base + 55.0 * 60.0,
            base + 110.0 * 60.0
        );
        service
            .declare_quiet(QuietKind::Maintenance, window.as_bytes())
            .await
            .unwrap();
        for minute in 0..120u64 {
            for host in ["web-1", "web-2", "web-3", "db-1"] {
                if host == "web-3" && (60..100).contains(&minute) {
                    continue;
                }
                let t = base + 60.0 * minute as f64 - T0;
                post(&service, host, t, minute).await;
            }
            let sweep = service.sweep_silent_hosts().await.unwrap();
            assert!(sweep.opened.is_empty(), "{mode} minute {minute}: {sweep:?}");
        }
        assert!(silences(&store, "web-3").await.is_empty(), "{mode}");
    }
}
