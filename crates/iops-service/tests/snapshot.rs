//! Snapshot mode: host states kept in memory and snapshotted every N samples; after a
//! restart the stored metrics newer than the snapshot are replayed. The insights and the
//! states must equal those of the per-ingest mode, interrupted or not.

use std::sync::Arc;
use std::time::Duration;

use iops_core::engine::EngineConfig;
use iops_core::Timestamp;
use iops_service::{
    decode_state, encode_state, IngestOutcome, Service, ServiceConfig, SnapshotPolicy,
};
use iops_store::{InsightStore, SqliteStore, StateStore, StoredInsight};
use iops_synth::{Fleet, FleetParams};

const EVERY: u32 = 100;

fn stream() -> (Vec<Vec<u8>>, Vec<String>) {
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
        .map(|(s, _)| serde_json::to_vec(&s).unwrap())
        .collect();
    let hosts = fleet.hosts().iter().map(|h| h.hostname.clone()).collect();
    (bodies, hosts)
}

fn service(store: &Arc<SqliteStore>, snapshots: Option<SnapshotPolicy>) -> Service {
    service_keeping(store, snapshots, ServiceConfig::default().state_cache_hosts)
}

/// A service keeping at most `hosts` host states in memory.
fn service_keeping(
    store: &Arc<SqliteStore>,
    snapshots: Option<SnapshotPolicy>,
    hosts: usize,
) -> Service {
    let scorer = Arc::new(iops_service::BuiltinScorer::new(EngineConfig::default()));
    let config = ServiceConfig {
        snapshots,
        state_cache_hosts: hosts,
        ..ServiceConfig::default()
    };
    Service::with_scorer(store.clone(), scorer, config)
}

fn policy() -> Option<SnapshotPolicy> {
    Some(SnapshotPolicy {
        every_samples: EVERY,
        // only the count decides, so the test does not depend on the machine's speed
        max_dirty: Duration::from_secs(3600),
    })
}

/// Every ingest's answered insights, in order.
async fn ingest_all(svc: &Service, bodies: &[Vec<u8>]) -> Vec<Vec<StoredInsight>> {
    let mut answered = Vec::new();
    for b in bodies {
        let r = svc.ingest(b).await.unwrap();
        assert_eq!(r.outcome, IngestOutcome::Scored);
        answered.push(r.insights);
    }
    answered
}

/// What the store ends with: each host's insights and state (decoded and encoded again:
/// the per-ingest mode stores its state behind a ledger of learned timestamps, the
/// snapshot mode without one).
async fn stored(store: &SqliteStore, hosts: &[String]) -> Vec<(Vec<StoredInsight>, Vec<u8>)> {
    let mut out = Vec::new();
    for h in hosts {
        let insights = store
            .list_insights(h, Timestamp::MIN, 100_000)
            .await
            .unwrap();
        let bytes = store.load_state(h).await.unwrap().unwrap().state;
        let state = encode_state(&decode_state(&bytes).unwrap()).unwrap();
        out.push((insights, state));
    }
    out
}

#[tokio::test]
async fn snapshot_mode_interrupted_midway_equals_an_uninterrupted_run() {
    let (bodies, hosts) = stream();
    // reference: the per-ingest mode (state saved with every sample)
    let reference_store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let reference = service(&reference_store, None);
    let reference_answers = ingest_all(&reference, &bodies).await;
    let reference_stored = stored(&reference_store, &hosts).await;
    let raised: usize = reference_stored.iter().map(|(i, _)| i.len()).sum();
    assert!(raised >= 5, "the stream must raise insights, got {raised}");

    // uninterrupted, snapshot mode
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let svc = service(&store, policy());
    assert_eq!(ingest_all(&svc, &bodies).await, reference_answers);
    assert!(svc.flush_snapshots().await.unwrap() > 0);
    assert_eq!(stored(&store, &hosts).await, reference_stored);

    // interrupted twice, off the snapshot boundaries, without a flush (as a SIGKILL)
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let cuts = [
        0,
        bodies.len() / 3 + 17,
        2 * bodies.len() / 3 + 5,
        bodies.len(),
    ];
    let mut answers = Vec::new();
    for w in cuts.windows(2) {
        let svc = service(&store, policy());
        answers.extend(ingest_all(&svc, &bodies[w[0]..w[1]]).await);
        if w[1] < bodies.len() {
            // the snapshots are behind what was ingested: a restart must replay
            let last: serde_json::Value = serde_json::from_slice(&bodies[w[1] - 1]).unwrap();
            let host = last["hostname"].as_str().unwrap();
            let snap = store.load_state(host).await.unwrap().unwrap();
            let at = Timestamp::parse_rfc3339(last["timestamp"].as_str().unwrap()).unwrap();
            assert!(snap.last_timestamp < at, "no samples to replay");
        }
        drop(svc);
    }
    assert_eq!(answers, reference_answers);
    let svc = service(&store, policy());
    // the last service has not seen the hosts: flushing saves nothing; a duplicate of the
    // last sample restores (replays) its host and answers the same insights
    assert_eq!(svc.flush_snapshots().await.unwrap(), 0);
    let last = bodies.last().unwrap();
    let again = svc.ingest(last).await.unwrap();
    assert_eq!(again.outcome, IngestOutcome::Duplicate);
    assert_eq!(&again.insights, reference_answers.last().unwrap());
    // restore every host, then save: the states equal the reference's
    for b in &bodies[bodies.len() - hosts.len()..] {
        svc.ingest(b).await.unwrap();
    }
    svc.flush_snapshots().await.unwrap();
    assert_eq!(stored(&store, &hosts).await, reference_stored);
}

#[tokio::test]
async fn snapshot_mode_with_room_for_one_host_state_loses_nothing() {
    // three hosts, one state in memory: each host's state is dropped whenever another posts,
    // and restored from its snapshot and the stored metrics when it posts again
    let (bodies, hosts) = stream();
    let reference_store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let reference_answers = ingest_all(&service(&reference_store, None), &bodies).await;
    let reference_stored = stored(&reference_store, &hosts).await;
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let svc = service_keeping(&store, policy(), 1);
    assert_eq!(ingest_all(&svc, &bodies).await, reference_answers);
    // the one state held is saved; the others were restored from what was stored
    svc.flush_snapshots().await.unwrap();
    for b in &bodies[bodies.len() - hosts.len()..] {
        assert_eq!(
            svc.ingest(b).await.unwrap().outcome,
            IngestOutcome::Duplicate
        );
    }
    let one = service_keeping(&store, policy(), hosts.len());
    for b in &bodies[bodies.len() - hosts.len()..] {
        one.ingest(b).await.unwrap();
    }
    one.flush_snapshots().await.unwrap();
    assert_eq!(stored(&store, &hosts).await, reference_stored);
}

#[tokio::test]
async fn snapshot_mode_writes_the_state_every_n_samples_only() {
    let (bodies, hosts) = stream();
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let svc = service(&store, policy());
    // each host has seen EVERY + 1 samples: one snapshot each, at its EVERY-th sample
    let n = (EVERY as usize + 1) * hosts.len();
    ingest_all(&svc, &bodies[..n]).await;
    for h in &hosts {
        let s = store.load_state(h).await.unwrap().unwrap();
        assert_eq!(s.version, 1, "{h}");
        let state = iops_service::decode_state(&s.state).unwrap();
        assert_eq!(state.n_seen(), u64::from(EVERY), "{h}");
    }
    assert_eq!(svc.flush_snapshots().await.unwrap(), hosts.len());
    for h in &hosts {
        let s = store.load_state(h).await.unwrap().unwrap();
        assert_eq!(s.version, 2, "{h}");
    }
}

#[tokio::test]
async fn snapshot_mode_scores_a_late_sample_without_learning_it() {
    let (bodies, hosts) = stream();
    let late = bodies.len() / 2;
    let mut on_time = bodies.clone();
    let late_body = on_time.remove(late);

    // reference: the same stream without the late sample
    let reference_store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let reference = service(&reference_store, policy());
    ingest_all(&reference, &on_time).await;
    reference.flush_snapshots().await.unwrap();
    let reference_states: Vec<Vec<u8>> = stored(&reference_store, &hosts)
        .await
        .into_iter()
        .map(|(_, state)| state)
        .collect();

    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let svc = service(&store, policy());
    ingest_all(&svc, &on_time).await;
    let first = svc.ingest(&late_body).await.unwrap();
    assert_eq!(first.outcome, IngestOutcome::ScoredLate { learned: false });
    assert!(first.scored_by.is_some(), "a late sample is scored");
    let again = svc.ingest(&late_body).await.unwrap();
    assert_eq!(again.outcome, IngestOutcome::Duplicate);
    assert_eq!(again.insights, first.insights);
    svc.flush_snapshots().await.unwrap();
    let states: Vec<Vec<u8>> = stored(&store, &hosts)
        .await
        .into_iter()
        .map(|(_, state)| state)
        .collect();
    assert_eq!(
        states, reference_states,
        "the late sample must not be learned"
    );
}
