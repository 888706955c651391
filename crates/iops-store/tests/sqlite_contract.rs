//! The store contract (tests/contract) on the SQLite backend, file and in-memory, and what
//! is SQLite's own: reopening a file, refusing a newer schema.

mod contract;

use std::sync::Arc;

use contract::{insight, run_contract, sample, update};
use iops_core::Timestamp;
use iops_store::{InsightStore, MetricStore, SqliteStore, StateStore, StoreError};

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
            supported: 1,
        }) => {}
        other => panic!("expected a schema version error, got {other:?}"),
    }
}
