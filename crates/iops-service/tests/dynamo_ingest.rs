//! The pipeline on the DynamoDB backend against a real dynalite (issue 6's figure): 1,000
//! concurrent posts for 50 hosts, through two services sharing the tables as two Lambda
//! instances would, give exactly 1,000 metric items, a per-host state equal to replaying
//! the samples it scored, and exactly the insights that replay raises — none lost, none
//! duplicated.

#[path = "../../iops-store/tests/support/dynalite.rs"]
mod dynalite;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use dynalite::Dynalite;
use iops_core::engine::{EngineConfig, EngineParams, HostState};
use iops_core::{MetricSample, Timestamp};
use iops_service::{IngestOutcome, Service};
use iops_store::{
    ids, DynamoOptions, DynamoStore, InsightStore, MetricStore, StateStore, TableNames,
};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../iops-store/tests/dynalite");
const T0: u64 = 1_764_000_000;
const HOSTS: u64 = 50;
const PER_HOST: u64 = 20;

/// A quiet host with a CPU spike at samples 12 and 19.
fn body(host: u64, i: u64) -> String {
    let cpu = if i == 12 || i == 19 {
        97.0
    } else {
        40.0 + (i % 5) as f64
    };
    format!(
        r#"{{"timestamp":{},"hostname":"h-{host:02}","cpuUsage":{cpu},"memoryUsage":60,"diskIO":100,"networkIO":50}}"#,
        T0 + i * 300
    )
}

/// An engine that is warm after a few samples, so 20 samples per host can raise insights.
fn engine() -> EngineConfig {
    EngineParams {
        window: 16,
        season: 0,
        season_jitter: 0,
        short_mean: 2,
        baseline: 8,
        min_samples: 4,
        calibration_min_samples: 4,
        suppression: 2,
        cooldown: 2,
        ..EngineParams::default()
    }
    .try_into()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousand_concurrent_posts_for_fifty_hosts() {
    let Some(d) = Dynalite::start(DIR) else {
        return;
    };
    let store = Arc::new(
        DynamoStore::connect(DynamoOptions::local(
            TableNames::with_prefix("ingest"),
            &d.endpoint,
        ))
        .await
        .unwrap(),
    );
    store.create_tables().await.unwrap();
    let services = [
        Arc::new(Service::new(store.clone(), engine())),
        Arc::new(Service::new(store.clone(), engine())),
    ];

    let started = Instant::now();
    let mut tasks = Vec::new();
    // interleaved across hosts; each host's samples alternate between the two services
    for k in 0..HOSTS * PER_HOST {
        let (host, i) = (k % HOSTS, k / HOSTS);
        let svc = Arc::clone(&services[(i % 2) as usize]);
        tasks.push(tokio::spawn(async move {
            let r = svc.ingest(body(host, i).as_bytes()).await.unwrap();
            (host, i, r)
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    let elapsed = started.elapsed();
    eprintln!(
        "1,000 concurrent posts for 50 hosts on dynalite: {:.2} s ({:.0} posts/s)",
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
    let mut late = 0;
    for host in 0..HOSTS {
        let name = format!("h-{host:02}");
        assert_eq!(
            store.count_metrics(&name, Timestamp::MIN).await.unwrap(),
            PER_HOST
        );
        let mut scored: Vec<u64> = results
            .iter()
            .filter(|(h, _, r)| *h == host && r.outcome == IngestOutcome::Scored)
            .map(|(_, i, _)| *i)
            .collect();
        late += results
            .iter()
            .filter(|(h, _, r)| *h == host && r.outcome == IngestOutcome::Late)
            .count();
        assert!(
            results
                .iter()
                .all(|(_, _, r)| r.outcome != IngestOutcome::Duplicate),
            "every sample was posted once"
        );
        scored.sort_unstable();
        let stored = store.load_state(&name).await.unwrap().unwrap();
        let state: HostState = iops_service::decode_state(&stored.state).unwrap();
        assert_eq!(state.n_seen(), scored.len() as u64, "{name}");

        // replay the scored samples in time order: same state, same insights
        let mut replay = HostState::new(&config).unwrap();
        let mut expected = Vec::new();
        for i in &scored {
            let s = MetricSample::from_json(body(host, *i).as_bytes()).unwrap();
            let a = replay.process(&config, &s).unwrap();
            for (n, insight) in a.insights.into_iter().enumerate() {
                expected.push((ids::insight_id(&name, s.timestamp, n), insight));
            }
        }
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
    eprintln!("{total_insights} insights, {late} late samples (stored, not scored)");
    assert!(total_insights > 0, "the spikes raised insights");
}
