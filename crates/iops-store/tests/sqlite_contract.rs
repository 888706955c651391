//! The store contract (tests/contract) on the SQLite backend, file and in-memory, and what
//! is SQLite's own: reopening a file, refusing a newer schema.

mod contract;

use std::sync::Arc;

use contract::{insight, run_contract, sample, update};
use iops_core::Timestamp;
use iops_store::{
    IncidentStore, InsightStore, MetricStore, OutboxStore, QuietStore, SqliteStore, StateStore,
    StoreError,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn contract_in_memory() {
    run_contract(Arc::new(SqliteStore::open_in_memory().unwrap())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn contract_on_file() {
    let dir = tempfile::tempdir().unwrap();
    run_contract(Arc::new(
        SqliteStore::open(dir.path().join("iops.db")).unwrap(),
    ))
    .await;
}

#[tokio::test]
async fn reopened_file_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("iops.db");
    let a = sample("web-1", "2026-11-26T17:00:00Z", 75.5);
    let i = insight("web-1", "2026-11-26T17:00:00Z", 0);
    let id = {
        let store = SqliteStore::open(&path).unwrap();
        let id = store.put_metric(&a).await.unwrap().metric_id;
        let mut u = update("web-1", 0, "2026-11-26T17:00:00Z", b"state");
        u.insights.push(i.clone());
        store.save_state(u).await.unwrap();
        id
    };
    let store = SqliteStore::open(&path).unwrap();
    let metrics = store
        .list_metrics("web-1", Timestamp::MIN, 10)
        .await
        .unwrap();
    assert_eq!(metrics.len(), 1);
    assert_eq!((&metrics[0].metric_id, &metrics[0].sample), (&id, &a));
    assert_eq!(
        store
            .list_insights("web-1", Timestamp::MIN, 10)
            .await
            .unwrap(),
        [i]
    );
    let state = store.load_state("web-1").await.unwrap().unwrap();
    assert_eq!((state.version, state.state.as_slice()), (1, &b"state"[..]));
    let again = store.put_metric(&a).await.unwrap();
    assert_eq!((again.metric_id, again.inserted), (id, false));
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("iops.db");
    drop(SqliteStore::open(&path).unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA user_version = 99")
        .unwrap();
    match SqliteStore::open(&path) {
        Err(StoreError::SchemaVersion {
            found: 99,
            supported: 4,
        }) => {}
        other => panic!("expected a schema version error, got {other:?}"),
    }
}

/// A version-1 database (before incidents), a version-2 one (before the outbox) or a
/// version-3 one (before quiet windows) opens, keeps its data and gains the tables it lacked.
#[tokio::test]
async fn older_databases_are_upgraded_in_place() {
    // what each older version lacked
    for (version, dropped) in [
        (
            1,
            "DROP TABLE incidents; DROP TABLE outbox; DROP TABLE quiet_windows;",
        ),
        (2, "DROP TABLE outbox; DROP TABLE quiet_windows;"),
        (3, "DROP TABLE quiet_windows;"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("iops.db");
        let a = sample("web-1", "2026-11-26T17:00:00Z", 75.5);
        {
            let store = SqliteStore::open(&path).unwrap();
            store.put_metric(&a).await.unwrap();
        }
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch(&format!("{dropped} PRAGMA user_version = {version}"))
            .unwrap();
        let store = SqliteStore::open(&path).unwrap();
        let kept = store
            .list_metrics("web-1", Timestamp::MIN, 10)
            .await
            .unwrap();
        assert_eq!(kept.len(), 1, "version {version}");
        let i = contract::incident("web-1", "2026-11-26T17:00:00Z");
        store.put_incidents(std::slice::from_ref(&i)).await.unwrap();
        assert_eq!(
            store.get_incident(&i.incident_id).await.unwrap(),
            Some(i.clone())
        );
        let n = iops_core::Notification::of(iops_core::IncidentChange::Opened, &i).unwrap();
        store.put_outbox(i.opened, &n).await.unwrap();
        assert_eq!(
            store.list_outbox(Timestamp::MAX, 10).await.unwrap().len(),
            1
        );
        let w = contract::quiet(
            iops_core::QuietKind::Mute,
            "web-1",
            "2026-11-26T17:00:00Z",
            "2026-11-26T18:00:00Z",
            "2026-11-26T17:00:00Z",
        );
        store.put_quiet(&w).await.unwrap();
        let listed = store.list_quiet(w.kind, Timestamp::MIN, 10).await.unwrap();
        assert_eq!(listed, [w], "version {version}");
        let now: i64 = rusqlite::Connection::open(&path)
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(now, 4, "from version {version}");
    }
}

/// The checkpoint thread keeps the WAL bounded while a writer commits without pause (the
/// WAL can only start over between two commits, after a checkpoint copied all of it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wal_stays_bounded_under_continuous_commits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("iops.db");
    let options = iops_store::SqliteOptions {
        synchronous: iops_store::Synchronous::Normal,
        checkpoint_every: Some(std::time::Duration::from_millis(5)),
        ..iops_store::SqliteOptions::default()
    };
    let store = SqliteStore::open_with(&path, options).unwrap();
    let wal = dir.path().join("iops.db-wal");
    let mut largest = 0;
    // one commit per put (about 1.4 pages of 4 KiB each): never restarted, the WAL grows
    // past 90 MB (measured: 46 MB after the first 8,000)
    for i in 0..16_000u32 {
        let t = format!(
            "2026-11-26T{:02}:{:02}:{:02}Z",
            i / 3600,
            (i / 60) % 60,
            i % 60
        );
        store
            .put_metric(&sample(&format!("host-{}", i % 50), &t, 1.0))
            .await
            .unwrap();
        if i % 100 == 0 {
            largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
        }
    }
    assert_eq!(
        store.count_metrics("host-7", Timestamp::MIN).await.unwrap(),
        320
    );
    // restarted once past 4,096 frames (16.9 MB); measured peak about 29 MB
    assert!(largest < 40_000_000, "WAL grew to {largest} bytes");
}
