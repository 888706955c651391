//! The store contract every backend passes: functions on `&dyn Store` (and helpers to build
//! records), run by `sqlite_contract.rs` and `dynamo_contract.rs`. Each test binary uses a
//! part of the helpers.
#![allow(dead_code)]

use std::sync::Arc;

use iops_core::{
    Incident, IncidentStatus, Insight, InsightType, Metric, MetricSample, QuietKind, QuietWindow,
    Severity, Timestamp,
};
use iops_store::{ids, IncidentQuery, ModelSource, StateUpdate, Store, StoreError, StoredInsight};

pub fn ts(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

pub fn sample(host: &str, t: &str, cpu: f64) -> MetricSample {
    MetricSample {
        timestamp: ts(t),
        hostname: host.into(),
        cpu_usage: cpu,
        memory_usage: 50.0,
        disk_io: 10.0,
        network_io: 20.0,
    }
}

pub fn insight(host: &str, t: &str, index: usize) -> StoredInsight {
    StoredInsight {
        insight_id: ids::insight_id(host, ts(t), index),
        model_source: ModelSource::Builtin,
        model_version: "test-1".into(),
        insight: Insight {
            kind: InsightType::CpuSpike,
            severity: Severity::Warning,
            message: format!("cpu high on {host}"),
            hostname: host.into(),
            timestamp: ts(t),
            metric: Metric::Cpu,
            value: 97.0,
            expected: 40.0,
            score: 0.95,
            detector: "zscore+ewma".into(),
            drivers: vec![],
            incident_id: Some(iops_core::incident_id(host, ts(t))),
            eta_seconds: None,
            eta_interval_seconds: None,
        },
    }
}

pub fn update(host: &str, expected: u64, t: &str, state: &[u8]) -> StateUpdate {
    StateUpdate {
        incidents: Vec::new(),
        hostname: host.into(),
        expected_version: expected,
        last_timestamp: ts(t),
        state: state.to_vec(),
        insights: vec![],
        received: None,
    }
}

async fn metrics_are_idempotent_first_write_wins(store: &dyn Store) {
    let a = sample("web-1", "2026-11-26T17:00:00Z", 75.5);
    let first = store.put_metric(&a).await.unwrap();
    assert!(first.inserted);
    assert_eq!(first.metric_id, ids::metric_id("web-1", a.timestamp));
    let same = store.put_metric(&a).await.unwrap();
    let changed = store
        .put_metric(&sample("web-1", "2026-11-26T17:00:00Z", 12.0))
        .await
        .unwrap();
    for again in [&same, &changed] {
        assert!(!again.inserted);
        assert_eq!(again.metric_id, first.metric_id);
    }
    let other_host = store
        .put_metric(&sample("web-2", "2026-11-26T17:00:00Z", 75.5))
        .await
        .unwrap();
    assert!(other_host.inserted);
    assert_ne!(other_host.metric_id, first.metric_id);
    let stored = store
        .list_metrics("web-1", Timestamp::MIN, 10)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].sample, a, "the first write wins");
    assert_eq!(stored[0].metric_id, first.metric_id);
}

async fn metrics_filter_by_host_and_since(store: &dyn Store) {
    let times = [
        "1969-12-31T23:59:59.5Z",
        "2026-11-26T17:00:00Z",
        "2026-11-26T17:00:00.000000001Z",
        "2026-11-26T17:01:00Z",
        "2026-11-26T17:02:00Z",
    ];
    // posted out of order: listing is by time
    for t in times.iter().rev() {
        store.put_metric(&sample("db-1", t, 1.0)).await.unwrap();
    }
    store
        .put_metric(&sample("db-2", "2026-11-26T17:05:00Z", 1.0))
        .await
        .unwrap();
    let listed = |since: &'static str, limit: usize| async move {
        store
            .list_metrics("db-1", ts(since), limit)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.sample.timestamp.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        listed("1900-01-01T00:00:00Z", 100).await,
        times.iter().map(|t| ts(t).to_string()).collect::<Vec<_>>()
    );
    // inclusive bound, exact to the nanosecond
    assert_eq!(
        listed("2026-11-26T17:00:00.000000001Z", 100).await,
        [
            "2026-11-26T17:00:00.000000001Z",
            "2026-11-26T17:01:00Z",
            "2026-11-26T17:02:00Z"
        ]
    );
    assert_eq!(listed("2026-11-26T17:00:00Z", 2).await.len(), 2);
    assert!(listed("2026-11-26T17:02:00.1Z", 100).await.is_empty());
    assert_eq!(
        store
            .count_metrics("db-1", ts("2026-11-26T17:00:00Z"))
            .await
            .unwrap(),
        4
    );
    assert_eq!(
        store.count_metrics("db-1", Timestamp::MIN).await.unwrap(),
        5
    );
    assert_eq!(
        store.count_metrics("nobody", Timestamp::MIN).await.unwrap(),
        0
    );
}

async fn insights_are_idempotent_and_filter_by_since(store: &dyn Store) {
    let a = insight("web-1", "2026-11-26T17:00:00Z", 0);
    // a capacity forecast keeps its ETA and interval
    let mut b = insight("web-1", "2026-11-26T17:00:00Z", 1);
    b.insight.kind = InsightType::CapacityForecast;
    b.insight.eta_seconds = Some(21_600.5);
    b.insight.eta_interval_seconds = Some([14_400.25, 32_400.0]);
    let mut c = insight("web-1", "2026-11-26T18:00:00Z", 0);
    c.model_source = ModelSource::Sagemaker;
    c.model_version = "endpoint-v7".into();
    store.put_insights(&[c.clone(), a.clone()]).await.unwrap();
    store.put_insights(&[a.clone(), b.clone()]).await.unwrap();
    store
        .put_insights(&[insight("web-2", "2026-11-26T17:30:00Z", 0)])
        .await
        .unwrap();
    let all = store
        .list_insights("web-1", Timestamp::MIN, 100)
        .await
        .unwrap();
    assert_eq!(all.len(), 3, "{all:#?}");
    assert!(all.contains(&a) && all.contains(&b));
    assert_eq!(all[2], c, "oldest first, model source and version kept");
    let later = store
        .list_insights("web-1", ts("2026-11-26T17:00:00.000001Z"), 100)
        .await
        .unwrap();
    assert_eq!(later, [c]);
}

async fn state_saves_compare_and_swap(store: &dyn Store) {
    assert!(store.load_state("st-1").await.unwrap().is_none());
    let v1 = store
        .save_state(update("st-1", 0, "2026-11-26T17:00:00Z", b"one"))
        .await
        .unwrap();
    assert_eq!(v1, 1);
    // a second "first" save lost the race: conflict, and its insights are not stored
    let mut late = update("st-1", 0, "2026-11-26T17:00:00Z", b"other");
    late.insights
        .push(insight("st-1", "2026-11-26T17:00:00Z", 0));
    match store.save_state(late).await {
        Err(StoreError::Conflict {
            hostname,
            expected: 0,
            found: 1,
        }) => assert_eq!(hostname, "st-1"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(store
        .list_insights("st-1", Timestamp::MIN, 10)
        .await
        .unwrap()
        .is_empty());
    let mut next = update("st-1", 1, "2026-11-26T17:01:00Z", b"two");
    next.insights
        .push(insight("st-1", "2026-11-26T17:01:00Z", 0));
    assert_eq!(store.save_state(next).await.unwrap(), 2);
    let loaded = store.load_state("st-1").await.unwrap().unwrap();
    assert_eq!(loaded.version, 2);
    assert_eq!(loaded.state, b"two");
    assert_eq!(loaded.last_timestamp, ts("2026-11-26T17:01:00Z"));
    assert_eq!(
        store
            .list_insights("st-1", Timestamp::MIN, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(matches!(
        store
            .save_state(update("st-1", 1, "2026-11-26T17:02:00Z", b"stale"))
            .await,
        Err(StoreError::Conflict { found: 2, .. })
    ));
    assert!(store.load_state("st-2").await.unwrap().is_none());
}

/// Many tasks racing on one key: exactly one insert, one CAS winner per version.
async fn concurrent_writers_are_serialised(store: Arc<dyn Store>) {
    let mut tasks = Vec::new();
    for i in 0..32 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let put = store
                .put_metric(&sample("race", "2026-11-26T17:00:00Z", f64::from(i)))
                .await
                .unwrap();
            let saved = store
                .save_state(update("race", 0, "2026-11-26T17:00:00Z", b"x"))
                .await;
            (put, saved)
        }));
    }
    let mut inserted = 0;
    let mut won = 0;
    for t in tasks {
        let (put, saved) = t.await.unwrap();
        inserted += usize::from(put.inserted);
        match saved {
            Ok(1) => won += 1,
            Err(StoreError::Conflict { found: 1, .. }) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((inserted, won), (1, 1));
}

async fn batches_insert_each_key_once(store: &dyn Store) {
    let batch = [
        sample("b-1", "2026-11-26T17:00:00Z", 1.0),
        sample("b-1", "2026-11-26T17:01:00Z", 2.0),
        sample("b-1", "2026-11-26T17:00:00Z", 3.0),
    ];
    let out = store.put_metrics_batch(&batch).await.unwrap();
    assert_eq!(
        out.iter().map(|p| p.inserted).collect::<Vec<_>>(),
        [true, true, false]
    );
    assert_eq!(out[0].metric_id, out[2].metric_id);
    assert_eq!(store.count_metrics("b-1", Timestamp::MIN).await.unwrap(), 2);
}

/// A scored batch stores each of its samples once, its insights, and its snapshot against
/// the expected version (a stale one is skipped, the samples still stored).
async fn scored_batches_store_every_sample(store: &dyn Store) {
    let batch = [
        sample("sb-1", "2026-11-26T17:00:00Z", 1.0),
        sample("sb-1", "2026-11-26T17:01:00Z", 2.0),
    ];
    let put = store
        .put_scored(
            &batch,
            &[insight("sb-1", "2026-11-26T17:01:00Z", 0)],
            &[],
            Some(update("sb-1", 0, "2026-11-26T17:01:00Z", b"s1")),
        )
        .await
        .unwrap();
    assert_eq!(put.metrics.len(), 2);
    assert!(put.metrics.iter().all(|p| p.inserted));
    assert_eq!(put.snapshot_version, Some(1));
    assert_eq!(
        store.count_metrics("sb-1", Timestamp::MIN).await.unwrap(),
        2
    );
    let later = [
        sample("sb-1", "2026-11-26T17:01:00Z", 9.0),
        sample("sb-1", "2026-11-26T17:02:00Z", 3.0),
    ];
    let stale = store
        .put_scored(
            &later,
            &[],
            &[],
            Some(update("sb-1", 0, "2026-11-26T17:02:00Z", b"s2")),
        )
        .await
        .unwrap();
    assert_eq!(
        stale.metrics.iter().map(|p| p.inserted).collect::<Vec<_>>(),
        [false, true]
    );
    assert_eq!(stale.metrics[0].metric_id, put.metrics[1].metric_id);
    assert_eq!(stale.snapshot_version, None);
    assert_eq!(
        store.count_metrics("sb-1", Timestamp::MIN).await.unwrap(),
        3
    );
    assert_eq!(
        store.load_state("sb-1").await.unwrap().unwrap().state,
        b"s1"
    );
    assert_eq!(
        store
            .list_insights("sb-1", Timestamp::MIN, 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// Hosts are listed by name with their newest sample, once each (a host is stored as the
/// service stores it: its metrics, then its state as of the newest one).
async fn hosts_are_listed_with_their_newest_sample(store: &dyn Store) {
    let steps = [
        ("lh-b", "2026-11-26T17:00:00Z"),
        ("lh-a", "2026-11-26T17:00:00Z"),
        ("lh-b", "2026-11-26T17:05:00.25Z"),
    ];
    let mut versions = std::collections::HashMap::new();
    for (host, t) in steps {
        store.put_metric(&sample(host, t, 1.0)).await.unwrap();
        let expected = versions.get(host).copied().unwrap_or(0);
        let v = store
            .save_state(update(host, expected, t, b"s"))
            .await
            .unwrap();
        versions.insert(host, v);
    }
    let hosts = store.list_hosts().await.unwrap();
    let names: Vec<&str> = hosts.iter().map(|h| h.hostname.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(names, sorted, "by name, once each");
    let mine: Vec<(&str, Timestamp)> = hosts
        .iter()
        .filter(|h| h.hostname.starts_with("lh-"))
        .map(|h| (h.hostname.as_str(), h.last_timestamp))
        .collect();
    assert_eq!(
        mine,
        [
            ("lh-a", ts("2026-11-26T17:00:00Z")),
            ("lh-b", ts("2026-11-26T17:05:00.25Z"))
        ]
    );
}

/// An incident of `host` opened at `opened` by a warning insight, and its later versions.
pub fn incident(host: &str, opened: &str) -> Incident {
    Incident::open(&insight(host, opened, 0).insight)
}

async fn incidents_upsert_by_revision_and_list_newest_first(store: &dyn Store) {
    let a = incident("inc-a", "2026-11-26T17:00:00Z");
    let b = incident("inc-b", "2026-11-26T18:00:00Z");
    let c = incident("inc-a", "2026-11-27T09:00:00Z");
    store
        .put_incidents(&[a.clone(), b.clone(), c.clone()])
        .await
        .unwrap();
    assert_eq!(
        store.get_incident(&a.incident_id).await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(store.get_incident("0-none").await.unwrap(), None);
    // escalated in place, then resolved: the newest version wins whatever the write order
    let mut escalated = a.clone();
    let mut later = insight("inc-a", "2026-11-26T17:10:00Z", 0).insight;
    later.severity = Severity::Critical;
    later.metric = Metric::Memory;
    escalated.join(&later);
    let mut resolved = escalated.clone();
    resolved.resolve(ts("2026-11-26T21:00:00Z"));
    store.put_incidents(&[resolved.clone()]).await.unwrap();
    store
        .put_incidents(&[escalated.clone(), a.clone()])
        .await
        .unwrap();
    let got = store.get_incident(&a.incident_id).await.unwrap().unwrap();
    assert_eq!(
        got, resolved,
        "a retried older version rolled the incident back"
    );
    assert_eq!(got.status, IncidentStatus::Resolved);
    assert_eq!(got.severity, Severity::Critical);
    let ids = |v: Vec<Incident>| v.into_iter().map(|i| i.incident_id).collect::<Vec<_>>();
    let (a_id, b_id, c_id) = (
        a.incident_id.clone(),
        b.incident_id.clone(),
        c.incident_id.clone(),
    );
    let all = |status, hostname: Option<&str>, since: Option<&str>, limit| IncidentQuery {
        status,
        hostname: hostname.map(str::to_owned),
        since: since.map(ts),
        limit,
    };
    // newest opened first, across statuses and hosts
    assert_eq!(
        ids(store
            .list_incidents(&all(None, None, None, 10))
            .await
            .unwrap()),
        [c_id.clone(), b_id.clone(), a_id.clone()]
    );
    assert_eq!(
        ids(store
            .list_incidents(&all(None, None, None, 2))
            .await
            .unwrap()),
        [c_id.clone(), b_id.clone()]
    );
    assert_eq!(
        ids(store
            .list_incidents(&all(Some(IncidentStatus::Open), None, None, 10))
            .await
            .unwrap()),
        [c_id.clone(), b_id.clone()]
    );
    assert_eq!(
        ids(store
            .list_incidents(&all(
                Some(IncidentStatus::Resolved),
                Some("inc-a"),
                None,
                10
            ))
            .await
            .unwrap()),
        vec![a_id.clone()]
    );
    assert_eq!(
        ids(store
            .list_incidents(&all(None, Some("inc-a"), None, 10))
            .await
            .unwrap()),
        [c_id.clone(), a_id.clone()]
    );
    // since: changed at or after (a's resolution at 21:00 counts, b's opening at 18:00 not)
    assert_eq!(
        ids(store
            .list_incidents(&all(None, None, Some("2026-11-26T20:00:00Z"), 10))
            .await
            .unwrap()),
        [c_id.clone(), a_id.clone()]
    );
    // a state save and a scored sample write the incident they carry
    let d = incident("inc-s", "2026-11-28T00:00:00Z");
    let mut u = update("inc-s", 0, "2026-11-28T00:00:00Z", b"s");
    u.incidents.push(d.clone());
    store.save_state(u).await.unwrap();
    assert_eq!(store.get_incident(&d.incident_id).await.unwrap(), Some(d));
    let e = incident("inc-p", "2026-11-28T00:05:00Z");
    store
        .put_scored(
            &[sample("inc-p", "2026-11-28T00:05:00Z", 50.0)],
            &[],
            std::slice::from_ref(&e),
            None,
        )
        .await
        .unwrap();
    assert_eq!(store.get_incident(&e.incident_id).await.unwrap(), Some(e));
    assert!(store
        .list_incidents(&all(None, Some("nobody"), None, 10))
        .await
        .unwrap()
        .is_empty());
}

/// Every contract check, in turn, on one fresh store.
/// Outbox entries: kept once per key (the first write's time), listed oldest first
/// before a time, forgotten when delivered; incident queries never see them.
async fn the_outbox_keeps_each_key_once_until_it_is_delivered(store: &dyn Store) {
    let opened = incident("ob-1", "2026-11-26T17:00:00Z");
    let mut escalated = opened.clone();
    escalated.severity = iops_core::Severity::Critical;
    let a = iops_core::Notification::of(iops_core::IncidentChange::Opened, &opened).unwrap();
    let b = iops_core::Notification::of(iops_core::IncidentChange::Escalated, &escalated).unwrap();
    store
        .put_outbox(ts("2026-11-26T17:00:05Z"), &b)
        .await
        .unwrap();
    store
        .put_outbox(ts("2026-11-26T17:00:01Z"), &a)
        .await
        .unwrap();
    // again, later: the first write's time stays
    store
        .put_outbox(ts("2026-11-26T18:00:00Z"), &a)
        .await
        .unwrap();
    let all = store.list_outbox(Timestamp::MAX, 10).await.unwrap();
    let keys: Vec<&str> = all
        .iter()
        .map(|e| e.notification.idempotency_key.as_str())
        .collect();
    assert_eq!(
        keys,
        [a.idempotency_key.as_str(), b.idempotency_key.as_str()]
    );
    assert_eq!(all[0].created, ts("2026-11-26T17:00:01Z"));
    assert_eq!(all[0].notification, a);
    let older = store
        .list_outbox(ts("2026-11-26T17:00:05Z"), 10)
        .await
        .unwrap();
    assert_eq!(older.len(), 1, "strictly before");
    assert_eq!(store.list_outbox(Timestamp::MAX, 1).await.unwrap().len(), 1);
    // no incident query lists an outbox entry
    let listed = store
        .list_incidents(&IncidentQuery {
            status: None,
            hostname: None,
            since: None,
            limit: 1000,
        })
        .await
        .unwrap();
    assert!(listed.iter().all(|i| i.hostname != "ob-1"), "{listed:?}");
    store.delete_outbox(&a.idempotency_key).await.unwrap();
    store.delete_outbox("never-kept").await.unwrap();
    let left = store.list_outbox(Timestamp::MAX, 10).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].notification, b);
    store.delete_outbox(&b.idempotency_key).await.unwrap();
    assert!(store
        .list_outbox(Timestamp::MAX, 10)
        .await
        .unwrap()
        .is_empty());
}

/// A window of `kind` on `host` from `start` to `end`, declared at `created`.
pub fn quiet(kind: QuietKind, host: &str, start: &str, end: &str, created: &str) -> QuietWindow {
    let body = format!(r#"{{"hostname":"{host}","start":"{start}","end":"{end}","reason":"r"}}"#);
    QuietWindow::from_request(kind, body.as_bytes(), ts(created), 7.0 * 86_400.0).unwrap()
}

/// Windows are kept once by id, listed by kind while not over (oldest created first), and
/// deleted by id and kind; no incident query sees them.
pub async fn quiet_windows_are_listed_by_kind_until_they_end(store: &dyn Store) {
    let a = quiet(
        QuietKind::Maintenance,
        "q-1",
        "2026-11-26T17:00:00Z",
        "2026-11-26T19:00:00Z",
        "2026-11-26T16:00:00Z",
    );
    let b = quiet(
        QuietKind::Maintenance,
        "*",
        "2026-11-26T18:00:00Z",
        "2026-11-26T21:00:00Z",
        "2026-11-26T16:30:00Z",
    );
    let m = quiet(
        QuietKind::Mute,
        "q-1",
        "2026-11-26T17:00:00Z",
        "2026-11-26T18:00:00Z",
        "2026-11-26T16:10:00Z",
    );
    for w in [&b, &m, &a] {
        store.put_quiet(w).await.unwrap();
    }
    // a second put of the same id keeps the first write
    let mut changed = a.clone();
    changed.reason = "other".into();
    store.put_quiet(&changed).await.unwrap();
    let maintenance = |after: &str| {
        let after = ts(after);
        async move {
            store
                .list_quiet(QuietKind::Maintenance, after, 10)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        maintenance("2026-11-26T00:00:00Z").await,
        [a.clone(), b.clone()]
    );
    assert_eq!(
        maintenance("2026-11-26T19:00:00Z").await,
        std::slice::from_ref(&b)
    );
    assert!(maintenance("2026-11-26T21:00:00Z").await.is_empty());
    assert_eq!(
        store
            .list_quiet(QuietKind::Mute, ts("2026-11-26T00:00:00Z"), 10)
            .await
            .unwrap(),
        [m]
    );
    assert_eq!(
        store
            .list_quiet(QuietKind::Maintenance, ts("2026-11-26T00:00:00Z"), 1)
            .await
            .unwrap(),
        std::slice::from_ref(&a)
    );
    // not an incident
    assert_eq!(store.get_incident(&a.window_id).await.unwrap(), None);
    let all = IncidentQuery {
        status: None,
        hostname: Some("q-1".into()),
        since: None,
        limit: 100,
    };
    assert!(store.list_incidents(&all).await.unwrap().is_empty());
    // deleted by id and kind only
    assert!(!store
        .delete_quiet(QuietKind::Mute, &a.window_id)
        .await
        .unwrap());
    assert!(store
        .delete_quiet(QuietKind::Maintenance, &a.window_id)
        .await
        .unwrap());
    assert!(!store
        .delete_quiet(QuietKind::Maintenance, &a.window_id)
        .await
        .unwrap());
    assert_eq!(maintenance("2026-11-26T00:00:00Z").await, [b]);
}

/// A label per incident, the latest verdict kept, listed by incident id; not an incident.
pub async fn labels_keep_the_latest_verdict_per_incident(store: &dyn Store) {
    use iops_core::{Label, Verdict};
    let first = incident("lab-1", "2026-11-26T17:00:00Z");
    let second = incident("lab-2", "2026-11-26T16:00:00Z");
    let at = ts("2026-11-27T09:00:00Z");
    let a = Label::new(&first, Verdict::FalsePositive, "backup".into(), at);
    let b = Label::new(&second, Verdict::Real, String::new(), at);
    store.put_label(&a).await.unwrap();
    store.put_label(&b).await.unwrap();
    let mut changed = Label::new(&first, Verdict::Expected, "planned".into(), at);
    changed.note = "planned".into();
    store.put_label(&changed).await.unwrap();
    let mut want = vec![changed.clone(), b.clone()];
    want.sort_by(|x, y| x.incident_id.cmp(&y.incident_id));
    assert_eq!(store.list_labels(100).await.unwrap(), want);
    assert_eq!(store.list_labels(1).await.unwrap().len(), 1);
    assert_eq!(
        store
            .get_incident(&format!("label#{}", first.incident_id))
            .await
            .unwrap(),
        None
    );
}

pub async fn run_contract(store: Arc<dyn Store>) {
    metrics_are_idempotent_first_write_wins(store.as_ref()).await;
    metrics_filter_by_host_and_since(store.as_ref()).await;
    insights_are_idempotent_and_filter_by_since(store.as_ref()).await;
    state_saves_compare_and_swap(store.as_ref()).await;
    batches_insert_each_key_once(store.as_ref()).await;
    scored_batches_store_every_sample(store.as_ref()).await;
    hosts_are_listed_with_their_newest_sample(store.as_ref()).await;
    incidents_upsert_by_revision_and_list_newest_first(store.as_ref()).await;
    the_outbox_keeps_each_key_once_until_it_is_delivered(store.as_ref()).await;
    quiet_windows_are_listed_by_kind_until_they_end(store.as_ref()).await;
    labels_keep_the_latest_verdict_per_incident(store.as_ref()).await;
    concurrent_writers_are_serialised(store).await;
}
