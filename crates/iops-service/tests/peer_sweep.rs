//! The peer sweep: a host whose CPU doubles while its group's stays has the deviation
//! joined to its own incident about the jump while that is open, and one `peer_deviation`
//! incident once it is over, however often the sweep runs, resolved once it is back with
//! its group; the sweep runs on its minutes of the receiving clock only, and not at all
//! without peer groups.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use iops_core::artifact::OffsetDateTime;
use iops_core::engine::{EngineConfig, HostForest};
use iops_core::forest::IsolationForestParams;
use iops_core::{IncidentStatus, InsightType, Metric, MetricSample, ParamGuard};
use iops_service::{BuiltinScorer, Service, ServiceConfig};
use iops_store::{IncidentQuery, IncidentStore, SqliteStore};
use iops_synth::{Fleet, FleetParams};

/// 8 quiet hosts (web-1..4, db-1..2, batch-1..2), 5-minute samples.
fn fleet(days: f64) -> Fleet {
    Fleet::new(FleetParams {
        hosts: 8,
        days,
        seed: 21,
        incident_rate: 0.0,
        ..FleetParams::default()
    })
    .unwrap()
}

fn model(fleet: &Fleet) -> HostForest {
    let two_days = fleet.start_secs() as f64 + 2.0 * 86_400.0;
    let history: Vec<MetricSample> = fleet
        .samples()
        .map(|(s, _)| s)
        .filter(|s| s.timestamp.epoch_seconds() < two_days)
        .collect();
    let params = IsolationForestParams::new()
        .n_trees(20)
        .seed(2)
        .contamination(0.001)
        .check()
        .unwrap();
    let m = HostForest::fit(
        &EngineConfig::default(),
        &history,
        &params,
        OffsetDateTime::UNIX_EPOCH,
    )
    .unwrap();
    HostForest::new(m).unwrap()
}

fn service(
    store: Arc<SqliteStore>,
    forest: Option<HostForest>,
    clock: fn() -> SystemTime,
) -> Service {
    let scorer = BuiltinScorer::new(EngineConfig::default()).with_forest(forest);
    Service::with_scorer(store, Arc::new(scorer), ServiceConfig::default()).with_clock(clock)
}

fn at_quarter_past() -> SystemTime {
    // 2026-12-03T10:15:00Z: a sweep minute (a multiple of 15)
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_292_900)
}

fn at_seven_past() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_292_420)
}

#[tokio::test]
async fn a_host_that_doubles_its_cpu_alone_is_reported_once_and_resolved_when_back() {
    let fleet = fleet(4.0);
    let forest = model(&fleet);
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let live = service(store.clone(), Some(forest), at_quarter_past);
    let start = fleet.start_secs() as f64;
    let (day3, day3_noon) = (start + 2.0 * 86_400.0, start + 2.5 * 86_400.0);
    let mut sweeps = Vec::new();
    let mut last_hour = i64::MIN;
    for (mut s, _) in fleet.samples() {
        let t = s.timestamp.epoch_seconds();
        // web-3 at twice its CPU for the first half of day 3, then itself again
        if s.hostname == "web-3" && (day3..day3_noon).contains(&t) {
            s.cpu_usage = (2.0 * s.cpu_usage).min(100.0);
        }
        live.ingest(s.to_json().as_bytes()).await.unwrap();
        let hour = t as i64 / 3600;
        if t >= day3 && hour != last_hour && s.hostname == "web-1" {
            last_hour = hour;
            sweeps.push((t, live.sweep_peer_deviations().await.unwrap()));
        }
    }
    // (db and batch have 2 hosts each: too few to say what their group does)
    assert!(
        sweeps.iter().all(|(_, s)| s.ran && s.hosts == 4),
        "every sweep judges the 4 web hosts"
    );
    let opened: Vec<_> = sweeps
        .iter()
        .flat_map(|(t, s)| s.opened.iter().map(move |i| (*t, i)))
        .collect();
    assert_eq!(opened.len(), 1, "{opened:#?}");
    let (when, incident) = opened[0];
    assert_eq!(incident.hostname, "web-3");
    assert_eq!(
        (incident.types.as_slice(), incident.metrics.as_slice()),
        (
            [InsightType::PeerDeviation].as_slice(),
            [Metric::Cpu].as_slice()
        )
    );
    // the doubling is news to web-3's own models first (their incident); once they have
    // taken the new level as its normal and that incident resolved, the group still says
    // it is off: the peer deviation, within the 12 hours of the doubling
    assert!(
        when - day3 <= 12.0 * 3600.0,
        "reported {} h into the doubling",
        (when - day3) / 3600.0
    );
    assert!(
        incident.summary.contains("its peer group web's"),
        "{}",
        incident.summary
    );
    let resolved: Vec<_> = sweeps
        .iter()
        .flat_map(|(t, s)| s.resolved.iter().map(move |i| (*t, i)))
        .collect();
    assert_eq!(resolved.len(), 1, "{resolved:#?}");
    assert!(resolved[0].0 > day3_noon);
    // stored: the incident is resolved in the store too
    let stored = store
        .list_incidents(&IncidentQuery {
            status: None,
            hostname: Some("web-3".into()),
            since: None,
            limit: 100,
        })
        .await
        .unwrap();
    let own = stored
        .iter()
        .find(|i| !i.is_peer_deviation() && i.metrics.contains(&Metric::Cpu))
        .expect("web-3's own models reported the doubling");
    assert!(own.opened.epoch_seconds() < when);
    assert!(own.resolved.is_some_and(|r| r.epoch_seconds() <= when));
    // while it was open, the group's view joined it: once, before the deviation of its own,
    // and kept through the engine's later versions of the incident (its resolution)
    let folded: Vec<_> = sweeps
        .iter()
        .flat_map(|(t, s)| s.folded.iter().map(move |i| (*t, i)))
        .collect();
    assert_eq!(folded.len(), 1, "{folded:#?}");
    assert_eq!(folded[0].1.incident_id, own.incident_id);
    assert!(folded[0].0 < when);
    assert!(
        own.has_peer_deviation(Metric::Cpu) && own.status == IncidentStatus::Resolved,
        "{own:#?}"
    );
    assert!(
        own.summary
            .contains(" — from its peer group: cpuUsage on web-3 is "),
        "{}",
        own.summary
    );
    let peer: Vec<_> = stored.iter().filter(|i| i.is_peer_deviation()).collect();
    assert_eq!(peer.len(), 1);
    assert_eq!(peer[0].status, IncidentStatus::Resolved);

    // off its minutes the sweep does not run; without peer groups it never does
    let off = service(store.clone(), Some(model(&fleet)), at_seven_past);
    assert!(!off.sweep_peer_deviations().await.unwrap().ran);
    let plain = service(store, None, at_quarter_past);
    assert!(!plain.sweep_peer_deviations().await.unwrap().ran);
}
