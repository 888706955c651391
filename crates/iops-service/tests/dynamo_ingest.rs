//! The pipeline on the DynamoDB backend against a real dynalite (issue 6's figure): 1,000
//! concurrent posts for 50 hosts, through two services sharing the tables as two Lambda
//! instances would, give exactly 1,000 metric items, every sample scored once (most arrive
//! out of order: late ones are learned or, beyond the reorder window, scored on a copy of
//! the state), a per-host state equal to replaying the samples it learned in the order it
//! learned them, and exactly the insights that replay raises — none lost, none duplicated.

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
        for &(after, i, learned) in &scored {
            assert_eq!(replay.n_seen(), after, "{name}: learned in sequence");
            let s = MetricSample::from_json(body(host, i).as_bytes()).unwrap();
            let a = if learned {
                replay.process(&config, &s).unwrap()
            } else {
                replay.clone().process(&config, &s).unwrap()
            };
            for (n, insight) in a.insights.into_iter().enumerate() {
                expected.push((ids::insight_id(&name, s.timestamp, n), insight));
            }
        }
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
    eprintln!("{total_insights} insights; outcomes {outcomes:?}");
    assert!(total_insights > 0, "the spikes raised insights");
}
