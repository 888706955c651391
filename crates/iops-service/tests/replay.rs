//! Replay against the real SQLite store: the same parameters over the whole history raise the
//! stored incidents again, other parameters show what they would change, a maintenance window
//! declared afterwards is honoured, and `POST /replay` answers the same, refusing bad requests
//! naming the field.

use std::sync::Arc;

use axum::body::Body;
use iops_core::engine::{EngineConfig, EngineParams};
use iops_core::{QuietKind, Timestamp};
use iops_service::http::Api;
use iops_service::{ReplayRequest, Service};
use iops_store::{IncidentQuery, IncidentStore, SqliteStore};
use tower::ServiceExt;

const T0: u64 = 1_764_000_000;

fn body(host: &str, i: u64, cpu: f64) -> String {
    format!(
        r#"{{"timestamp":{},"hostname":"{host}","cpuUsage":{cpu},"memoryUsage":60,"diskIO":100,"networkIO":50}}"#,
        T0 + i * 300
    )
}

fn at(i: u64) -> Timestamp {
    Timestamp::from_epoch_seconds((T0 + i * 300) as f64).unwrap()
}

/// Two hosts, three days of 5-minute samples; web-1 has two CPU episodes (80 %, not
/// saturated), db-1 none.
async fn live() -> (Service, Arc<SqliteStore>) {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let service = Service::new(store.clone(), EngineConfig::default());
    for i in 0..864 {
        for host in ["web-1", "db-1"] {
            let episode = host == "web-1" && ((600..606).contains(&i) || (760..763).contains(&i));
            let cpu = if episode { 80.0 } else { 40.0 + (i % 7) as f64 };
            service.ingest(body(host, i, cpu).as_bytes()).await.unwrap();
        }
    }
    (service, store)
}

fn request(params: EngineParams) -> ReplayRequest {
    ReplayRequest {
        since: at(576),
        until: at(864),
        warm_seconds: 2.0 * 86_400.0,
        hostnames: None,
        params,
    }
}

#[tokio::test]
async fn the_same_parameters_raise_the_stored_incidents_again() {
    let (service, store) = live().await;
    let stored = store
        .list_incidents(&IncidentQuery {
            status: None,
            hostname: Some("web-1".into()),
            since: Some(at(576)),
            limit: 100,
        })
        .await
        .unwrap();
    assert_eq!(stored.len(), 2, "{stored:?}");
    let report = service
        .replay(&request(EngineParams::default()), None)
        .await
        .unwrap();
    assert_eq!(report.hosts_replayed, 2);
    assert_eq!(report.samples, 2 * 288);
    assert_eq!(
        (
            report.total.stored,
            report.total.replayed,
            report.total.kept
        ),
        (2, 2, 2),
        "{report:?}"
    );
    assert_eq!((report.total.gone, report.total.new), (0, 0));
    // only hosts with incidents are listed
    let hosts: Vec<&str> = report.hosts.iter().map(|h| h.hostname.as_str()).collect();
    assert_eq!(hosts, ["web-1"]);

    // a less sensitive engine: the short episode is gone, and which it is is said (the
    // half-hour one at twice the usual CPU is critical by its size, whatever the cut-offs)
    let dull = EngineParams {
        info_score: 0.97,
        warning_score: 0.98,
        critical_score: 0.99,
        ..EngineParams::default()
    };
    let report = service.replay(&request(dull), None).await.unwrap();
    assert_eq!(
        (report.total.replayed, report.total.gone, report.total.new),
        (1, 1, 0),
        "{report:?}"
    );
    let gone = &report.hosts[0].gone[0];
    assert_eq!(gone.opened, at(760));
    let second = stored.iter().find(|i| i.opened == at(760)).unwrap();
    assert_eq!(
        gone.incident_id.as_deref(),
        Some(second.incident_id.as_str())
    );
}

#[tokio::test]
async fn a_maintenance_window_declared_later_is_honoured() {
    let (service, _store) = live().await;
    let window = format!(
        r#"{{"hostname":"web-1","start":{},"end":{}}}"#,
        T0 + 595 * 300,
        T0 + 620 * 300
    );
    service
        .declare_quiet(QuietKind::Maintenance, window.as_bytes())
        .await
        .unwrap();
    let report = service
        .replay(&request(EngineParams::default()), None)
        .await
        .unwrap();
    let web = &report.hosts[0];
    assert_eq!(
        (web.counts.stored, web.counts.kept, web.counts.gone),
        (2, 1, 1)
    );
    assert_eq!(web.gone[0].opened, at(600));
    assert_eq!(report.samples, 2 * 288 - 25);
}

#[tokio::test]
async fn post_replay_answers_the_report_and_refuses_bad_requests() {
    let (service, _store) = live().await;
    let service = Arc::new(service);
    let router = Api::new(service.clone()).router();
    let post = |body: String| {
        let router = router.clone();
        async move {
            let r = router
                .oneshot(
                    axum::http::Request::post("/replay")
                        .body(Body::from(body))
                        .unwrap(),
                )
                .await
                .unwrap();
            let status = r.status().as_u16();
            let bytes = axum::body::to_bytes(r.into_body(), usize::MAX)
                .await
                .unwrap();
            (
                status,
                serde_json::from_slice::<serde_json::Value>(&bytes).unwrap(),
            )
        }
    };
    let (since, until) = (T0 + 576 * 300, T0 + 864 * 300);
    let (status, report) = post(format!(
        r#"{{"since":{since},"until":{until},"hostnames":["web-1"],"params":{{"info_score":0.97,"warning_score":0.98,"critical_score":0.99}}}}"#
    ))
    .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["total"]["gone"], 1, "{report}");
    assert_eq!(report["hostsReplayed"], 1, "{report}");
    for (body, field) in [
        (r#"{"until":1764259200}"#.to_owned(), "since"),
        (format!(r#"{{"since":{until},"until":{since}}}"#), "since"),
        (
            format!(r#"{{"since":{},"until":{until}}}"#, until - 8 * 86_400),
            "since",
        ),
        (format!(r#"{{"since":{since},"until":"later"}}"#), "until"),
        (
            format!(r#"{{"since":{since},"until":{until},"warmSeconds":-1}}"#),
            "warmSeconds",
        ),
        (
            format!(r#"{{"since":{since},"until":{until},"hostnames":["a b"]}}"#),
            "hostnames",
        ),
        (
            format!(r#"{{"since":{since},"until":{until},"params":{{"window_seconds":-5}}}}"#),
            "window_seconds",
        ),
        (
            format!(r#"{{"since":{since},"until":{until},"params":{{"windows":1}}}}"#),
            "params",
        ),
        (
            format!(r#"{{"since":{since},"until":{until},"extra":1}}"#),
            "body",
        ),
    ] {
        let (status, answer) = post(body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["field"], field, "{body}: {answer}");
    }
}

/// A stored sample the engine refuses (written by an older, less strict version) is skipped
/// and counted, not the end of the replay.
#[tokio::test]
async fn a_stored_sample_the_engine_refuses_is_skipped_and_counted() {
    use iops_store::MetricStore;
    let (service, store) = live().await;
    let mut bad = iops_core::MetricSample::from_json(body("db-1", 900, 40.0).as_bytes()).unwrap();
    bad.cpu_usage = 140.0;
    store.put_metrics_batch(&[bad]).await.unwrap();
    let mut request = request(EngineParams::default());
    request.until = at(901);
    let report = service.replay(&request, None).await.unwrap();
    assert_eq!(report.refused, 1, "{report:?}");
    let db = report.hosts.iter().find(|h| h.hostname == "db-1").unwrap();
    assert_eq!(db.refused, 1);
    assert_eq!(report.total.gone + report.total.new, 0, "{report:?}");
}
