//! The pipeline on the DynamoDB backend against a real dynalite (issue 6's figure): 1,000
//! posts for 25 hosts (each host's first 16 in order, then 600 at once), through two services sharing the tables as two Lambda
//! instances would, give exactly 1,000 metric items, every sample scored once (most arrive
//! out of order: late ones are learned or, beyond the reorder window, scored on a copy of
//! the state), a per-host state equal to replaying the samples it learned in the order it
//! learned them, and exactly the insights that replay raises — none lost, none duplicated.

#[path = "../../iops-store/tests/support/dynalite.rs"]
mod dynalite;

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dynalite::Dynalite;
use iops_core::engine::{EngineConfig, EngineParams, HostState};
use iops_core::{Incident, MetricSample, Timestamp};
use iops_service::{IngestOutcome, Service};
use iops_store::{
    ids, DynamoOptions, DynamoStore, IncidentStore, InsightStore, MetricStore, StateStore,
    TableNames,
};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../iops-store/tests/dynalite");
const T0: u64 = 1_764_000_000;
const HOSTS: u64 = 25;
const PER_HOST: u64 = 40;
/// Samples per host posted in order before the concurrent burst: the 16 that give the
/// engine the series' cadence.
const WARM: u64 = 16;

/// A quiet host with CPU spikes at samples 30 and 39 (the engine scores once it has learned
/// 16 samples, which tell it the series' cadence; samples that arrive too late are not
/// learned).
fn body(host: u64, i: u64) -> String {
    let cpu = if i == 30 || i == 39 {
        97.0
    } else {
        40.0 + (i % 5) as f64
    };
    format!(
        r#"{{"timestamp":{},"hostname":"h-{host:02}","cpuUsage":{cpu},"memoryUsage":60,"diskIO":100,"networkIO":50}}"#,
        T0 + i * 300
    )
}

/// An engine that is warm after a few samples (of 5 minutes), so 20 samples per host can
/// raise insights.
/// The stored incident `id` is resolved, at `at` (epoch seconds).
async fn assert_resolved_at(store: &DynamoStore, id: &str, at: u64) {
    let stored = store.get_incident(id).await.unwrap().unwrap();
    assert_eq!(stored.status, iops_core::IncidentStatus::Resolved);
    assert_eq!(stored.resolved.map(|t| t.epoch_seconds()), Some(at as f64));
}

fn engine() -> EngineConfig {
    EngineParams {
        window_seconds: 4800.0,
        min_window_samples: 4,
        season_seconds: 0.0,
        level_seconds: 600.0,
        volatility_seconds: 600.0,
        memory_seconds: 7200.0,
        calibration_horizon_seconds: 3600.0,
        warmup_seconds: 600.0,
        min_samples: 4,
        calibration_min_samples: 4,
        suppression_seconds: 600.0,
        cooldown_seconds: 600.0,
        ..EngineParams::default()
    }
    .try_into()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousand_posts_for_twenty_five_hosts_most_at_once() {
    let Some(d) = Dynalite::start(DIR) else {
        return;
    };
    let store = Arc::new(d.store("ingest").await);
    let services = [
        Arc::new(Service::new(store.clone(), engine())),
        Arc::new(Service::new(store.clone(), engine())),
    ];

    let started = Instant::now();
    let mut results = Vec::new();
    // First each host's first WARM samples, in order (the hosts concurrently), so every
    // host's engine is scoring however the scheduler orders the rest; then all the others
    // at once. Interleaved across hosts; each host's samples alternate between the two
    // services.
    let mut warm_up = Vec::new();
    for host in 0..HOSTS {
        let services = services.clone();
        warm_up.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for i in 0..WARM {
                let svc = &services[(i % 2) as usize];
                out.push((host, i, svc.ingest(body(host, i).as_bytes()).await.unwrap()));
            }
            out
        }));
    }
    for t in warm_up {
        results.extend(t.await.unwrap());
    }
    let mut tasks = Vec::new();
    for k in HOSTS * WARM..HOSTS * PER_HOST {
        let (host, i) = (k % HOSTS, k / HOSTS);
        let svc = Arc::clone(&services[(i % 2) as usize]);
        tasks.push(tokio::spawn(async move {
            let r = svc.ingest(body(host, i).as_bytes()).await.unwrap();
            (host, i, r)
        }));
    }
    for t in tasks {
        results.push(t.await.unwrap());
    }
    let elapsed = started.elapsed();
    eprintln!(
        "1,000 posts for 25 hosts (600 concurrent) on dynalite: {:.2} s ({:.0} posts/s)",
        elapsed.as_secs_f64(),
        1000.0 / elapsed.as_secs_f64()
    );

    // exactly 1,000 items in the metrics table (one page: they are small)
    let scan = store
        .client()
        .scan()
        .table_name("ingest-metrics")
        .send()
        .await
        .unwrap();
    assert_eq!(scan.count(), 1000);
    assert!(scan.last_evaluated_key().is_none());

    let config = engine();
    let mut total_insights = 0;
    let mut total_incidents = 0;
    let mut outcomes: HashMap<&'static str, usize> = HashMap::new();
    for (_, _, r) in &results {
        *outcomes.entry(r.outcome.as_str()).or_default() += 1;
    }
    assert_eq!(
        outcomes.get("duplicate"),
        None,
        "every sample was posted once, and so scored once: {outcomes:?}"
    );
    assert!(
        results.iter().all(|(_, _, r)| r.scored_after.is_some()),
        "every sample was scored"
    );
    for host in 0..HOSTS {
        let name = format!("h-{host:02}");
        assert_eq!(
            store.count_metrics(&name, Timestamp::MIN).await.unwrap(),
            PER_HOST
        );
        // (samples the state had learned when it scored this one, sample, learned it?)
        let mut scored: Vec<(u64, u64, bool)> = results
            .iter()
            .filter(|(h, _, _)| *h == host)
            .map(|(_, i, r)| {
                let learned = matches!(
                    r.outcome,
                    IngestOutcome::Scored | IngestOutcome::ScoredLate { learned: true }
                );
                (r.scored_after.unwrap(), *i, learned)
            })
            .collect();
        // at each point of the learned sequence: first what was scored on a copy, then
        // the one sample learned there
        scored.sort_unstable_by_key(|&(after, i, learned)| (after, learned, i));
        let n_learned = scored.iter().filter(|s| s.2).count() as u64;
        let stored = store.load_state(&name).await.unwrap().unwrap();
        let state: HostState = iops_service::decode_state(&stored.state).unwrap();
        assert_eq!(state.n_seen(), n_learned, "{name}");
        assert_eq!(
            stored.last_timestamp.epoch_seconds(),
            (T0 + (PER_HOST - 1) * 300) as f64,
            "{name}: the newest timestamp stays the newest"
        );

        // replay in the order the state learned them: same state, same insights
        let mut replay = HostState::new(&config).unwrap();
        let mut expected = Vec::new();
        // the newest version of each incident the learned samples changed
        let mut incidents: HashMap<String, Incident> = HashMap::new();
        for &(after, i, learned) in &scored {
            assert_eq!(replay.n_seen(), after, "{name}: learned in sequence");
            let s = MetricSample::from_json(body(host, i).as_bytes()).unwrap();
            let a = if learned {
                replay.process(&config, None, &s).unwrap()
            } else {
                // scored on a copy: outside any incident
                let mut a = replay.clone().process(&config, None, &s).unwrap();
                a.incident = None;
                for insight in &mut a.insights {
                    insight.incident_id = None;
                }
                a
            };
            let mut ids_of_incident = Vec::new();
            for (n, insight) in a.insights.into_iter().enumerate() {
                let id = ids::insight_id(&name, s.timestamp, n);
                if insight.incident_id.is_some() {
                    ids_of_incident.push(id.clone());
                }
                expected.push((id, insight));
            }
            if let Some(mut incident) = a.incident {
                // the service adds the ids of its insights to those stored before
                let before = incidents.get(&incident.incident_id);
                incident.insight_ids = before.map(|b| b.insight_ids.clone()).unwrap_or_default();
                incident.insight_ids.extend(ids_of_incident);
                incidents.insert(incident.incident_id.clone(), incident);
            }
        }
        for (id, incident) in &incidents {
            assert_eq!(
                incident.insight_ids.len(),
                incident.insights as usize,
                "{name}"
            );
            assert_eq!(
                store.get_incident(id).await.unwrap().as_ref(),
                Some(incident),
                "{name}: the stored incident is the replay's newest version"
            );
        }
        total_incidents += incidents.len();
        expected.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(state, replay, "{name}");
        let listed = store
            .list_insights(&name, Timestamp::MIN, 1000)
            .await
            .unwrap();
        let listed: Vec<_> = listed
            .into_iter()
            .map(|i| (i.insight_id, i.insight))
            .collect();
        assert_eq!(listed, expected, "{name}: no insight lost or duplicated");
        // and each answer carried exactly the insights stored for its sample
        let answered: HashMap<String, usize> = results
            .iter()
            .filter(|(h, _, _)| *h == host)
            .flat_map(|(_, _, r)| r.insights.iter().map(|i| i.insight_id.clone()))
            .fold(HashMap::new(), |mut m, id| {
                *m.entry(id).or_default() += 1;
                m
            });
        assert_eq!(answered.len(), expected.len(), "{name}");
        assert!(answered.values().all(|n| *n == 1), "{name}: {answered:?}");
        total_insights += expected.len();
    }
    eprintln!("{total_insights} insights, {total_incidents} incidents; outcomes {outcomes:?}");
    assert!(total_insights > 0, "the spikes raised insights");
    assert!(total_incidents > 0, "the spikes opened incidents");
}

/// The silent-host sweep on the DynamoDB backend: the hosts from the state table, the open
/// incidents from the status index, the incident stored and resolved in place.
#[tokio::test]
async fn the_silence_sweep_on_dynamodb_opens_once_and_resolves() {
    let Some(d) = Dynalite::start(DIR) else {
        return;
    };
    let store = Arc::new(d.store("silence").await);
    let service = Service::new(store.clone(), engine());
    // h-01 stops after 20 samples (5-minute cadence: silent after 15 minutes); h-02 goes on
    for i in 0..30 {
        service.ingest(body(2, i).as_bytes()).await.unwrap();
        if i < 20 {
            service.ingest(body(1, i).as_bytes()).await.unwrap();
        }
    }
    let sweep = service.sweep_silent_hosts().await.unwrap();
    assert_eq!(sweep.hosts, 2);
    assert_eq!(sweep.opened.len(), 1, "{sweep:?}");
    let silence = &sweep.opened[0];
    assert_eq!(silence.hostname, "h-01");
    // last sample at 19 × 5 min, silent 15 minutes later
    assert_eq!(silence.opened.epoch_seconds(), (T0 + 22 * 300) as f64);
    assert!(service
        .sweep_silent_hosts()
        .await
        .unwrap()
        .opened
        .is_empty());
    // h-01 is back
    service.ingest(body(1, 30).as_bytes()).await.unwrap();
    let sweep = service.sweep_silent_hosts().await.unwrap();
    assert_eq!(sweep.resolved.len(), 1, "{sweep:?}");
    assert_resolved_at(&store, &silence.incident_id, T0 + 30 * 300).await;
}

/// DynamoDB stopped in the middle of a load and started again (dynalite keeping its tables
/// in a LevelDB on disk): while it is down every request answers 503 (retryable), never 200;
/// once it is back the same requests are stored, and in the end each sample is stored once
/// and learned once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_stopped_and_restarted_mid_load_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dynalite");
    let Some(d) = Dynalite::start_on(DIR, None, Some(&path)) else {
        return;
    };
    let port = d.port;
    let mut options = DynamoOptions::local(TableNames::with_prefix("outage"), &d.endpoint);
    options.max_attempts = 2;
    options.initial_backoff = std::time::Duration::from_millis(5);
    let store = DynamoStore::connect(options).await.unwrap();
    store.create_tables().await.unwrap();
    let store = Arc::new(store);
    let service = Service::new(store.clone(), engine());
    let hosts: Vec<u64> = (0..3).collect();
    let mut acknowledged = 0;
    for i in 0..20 {
        for &h in &hosts {
            service.ingest(body(h, i).as_bytes()).await.unwrap();
            acknowledged += 1;
        }
    }
    drop(d); // DynamoDB goes away
    for i in 20..26 {
        for &h in &hosts {
            let e = service.ingest(body(h, i).as_bytes()).await.unwrap_err();
            assert_eq!(e.status(), 503, "{e}");
            assert!(e.is_retryable());
        }
    }
    let d = Dynalite::start_on(DIR, Some(port), Some(&path)).expect("dynalite again");
    // the client retries what it was refused, then goes on
    for i in 20..PER_HOST {
        for &h in &hosts {
            let r = service.ingest(body(h, i).as_bytes()).await.unwrap();
            assert_ne!(r.outcome, IngestOutcome::Duplicate, "host {h} sample {i}");
            acknowledged += 1;
        }
    }
    assert_eq!(acknowledged, hosts.len() as u64 * PER_HOST);
    for &h in &hosts {
        let host = format!("h-{h:02}");
        assert_eq!(
            store.count_metrics(&host, Timestamp::MIN).await.unwrap(),
            PER_HOST,
            "{host}"
        );
        let state = store.load_state(&host).await.unwrap().unwrap();
        let state: HostState = iops_service::decode_state(&state.state).unwrap();
        assert_eq!(state.n_seen(), PER_HOST, "{host}: each sample learned once");
        let insights = store
            .list_insights(&host, Timestamp::MIN, 1000)
            .await
            .unwrap();
        let mut ids: Vec<&str> = insights.iter().map(|i| i.insight_id.as_str()).collect();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n, "{host}: an insight stored twice");
    }
    drop(d);
}

thread_local! {
    /// The receiving clock, epoch seconds (each test runs on its own current-thread runtime).
    static NOW: Cell<u64> = const { Cell::new(T0) };
}

fn clock() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW.with(Cell::get))
}

/// A fleet that stops as a whole, told by another Lambda instance's sweep: each instance
/// saves when it received the samples (`receivedAt` in the state table), so an instance
/// that received none of them judges the fleet silent on the same schedule, and resolves
/// it when any instance receives samples again.
#[tokio::test]
async fn a_fleet_that_stops_is_told_by_another_instance_from_the_state_table() {
    let Some(d) = Dynalite::start(DIR) else {
        return;
    };
    let store = Arc::new(d.store("fleetquiet").await);
    let ingesting = Service::new(store.clone(), engine()).with_clock(clock);
    let sweeping = Service::new(store.clone(), engine()).with_clock(clock);
    // two hosts every 5 minutes for 100 minutes, each sample received 3 s after its time
    for i in 0..20 {
        NOW.with(|n| n.set(T0 + i * 300 + 3));
        for host in [1, 2] {
            ingesting.ingest(body(host, i).as_bytes()).await.unwrap();
        }
    }
    let last_arrival = T0 + 19 * 300 + 3;
    // silent after 3 intervals (15 minutes) of nothing received
    NOW.with(|n| n.set(last_arrival + 899));
    assert!(sweeping
        .sweep_silent_hosts()
        .await
        .unwrap()
        .opened
        .is_empty());
    NOW.with(|n| n.set(last_arrival + 900));
    let sweep = sweeping.sweep_silent_hosts().await.unwrap();
    assert_eq!(sweep.opened.len(), 1, "{sweep:?}");
    let fleet = &sweep.opened[0];
    assert!(fleet.is_fleet() && fleet.is_silence(), "{fleet:?}");
    assert_eq!(fleet.opened.epoch_seconds(), (last_arrival + 900) as f64);
    NOW.with(|n| n.set(last_arrival + 1800));
    assert!(sweeping
        .sweep_silent_hosts()
        .await
        .unwrap()
        .opened
        .is_empty());
    // back: one sample through the first instance, the second resolves
    NOW.with(|n| n.set(T0 + 40 * 300 + 3));
    ingesting.ingest(body(1, 40).as_bytes()).await.unwrap();
    let sweep = sweeping.sweep_silent_hosts().await.unwrap();
    assert_eq!(sweep.resolved.len(), 1, "{sweep:?}");
    assert_resolved_at(&store, &fleet.incident_id, T0 + 40 * 300 + 3).await;
}
