//! The operator's verdict through the API: `POST /incidents/{id}/feedback` stores a label;
//! replayed with it, the incident's surprise is not news on that host's metric (another
//! host's still is); bad requests name their field, an unknown incident is 404.

use std::sync::Arc;

use axum::body::Body;
use axum::Router;
use iops_core::engine::EngineParams;
use iops_service::http::Api;
use iops_service::{ReplayRequest, Service};
use iops_store::{IncidentQuery, IncidentStore, LabelStore, SqliteStore};
use serde_json::Value;
use tower::ServiceExt;

fn body(host: &str, i: u64, delta: f64) -> String {
    let cpu = 40.0 + (i % 7) as f64 + delta;
    format!(
        r#"{{"timestamp":{},"hostname":"{host}","cpuUsage":{cpu},"memoryUsage":60,"diskIO":100,"networkIO":50}}"#,
        1_764_000_000 + i * 300
    )
}

async fn call(router: &Router, method: &str, uri: &str, body: &str) -> (u16, Value) {
    let request = axum::http::Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::from(body.to_owned()))
        .unwrap();
    let r = router.clone().oneshot(request).await.unwrap();
    let status = r.status().as_u16();
    let bytes = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn a_false_positive_verdict_quietens_its_surprise_on_that_host_only() {
    // cut-offs high enough that the spike (score about 0.97) is a warning by its score,
    // which a label can lift above (a critical one it could not); the spike is one sample,
    // raised without waiting for a second to confirm it
    let params = EngineParams {
        info_score: 0.9,
        warning_score: 0.95,
        critical_score: 0.99,
        confirm_seconds: 0.0,
        ..EngineParams::default()
    };
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let service = Arc::new(Service::new(store.clone(), params.clone().check().unwrap()));
    let router = Api::new(service.clone()).router();
    let incidents_of = |host: &str| {
        let store = store.clone();
        let query = IncidentQuery {
            status: None,
            hostname: Some(host.into()),
            since: None,
            limit: 100,
        };
        async move { store.list_incidents(&query).await.unwrap() }
    };
    for i in 0..760 {
        for host in ["fb-1", "fb-2"] {
            service
                .ingest(body(host, i, if i == 700 { 10.0 } else { 0.0 }).as_bytes())
                .await
                .unwrap();
        }
    }
    let first = incidents_of("fb-1").await;
    assert_eq!(first.len(), 1, "{first:?}");
    let id = &first[0].incident_id;

    let (status, label) = call(
        &router,
        "POST",
        &format!("/incidents/{id}/feedback"),
        r#"{"verdict":"false_positive","note":"load test"}"#,
    )
    .await;
    assert_eq!(status, 201, "{label}");
    assert_eq!(label["verdict"], "false_positive");
    assert_eq!(label["hostname"], "fb-1");
    assert_eq!(label["metrics"], serde_json::json!(["cpuUsage"]));
    assert!(label["peakScore"].as_f64().unwrap() > 0.9, "{label}");
    assert_eq!(store.list_labels(10).await.unwrap().len(), 1);

    // replayed with the verdicts known from the start: the spike is no longer news on
    // fb-1, still news on fb-2 (no label)
    let at = |i: u64| iops_core::Timestamp::from_epoch_seconds((1_764_000_000 + i * 300) as f64);
    let report = service
        .replay(
            &ReplayRequest {
                since: at(600).unwrap(),
                until: at(760).unwrap(),
                warm_seconds: 2.5 * 86_400.0,
                hostnames: None,
                params: params.clone(),
            },
            None,
        )
        .await
        .unwrap();
    let gone: Vec<&str> = report
        .hosts
        .iter()
        .flat_map(|h| h.gone.iter().map(|g| g.incident_id.as_deref().unwrap()))
        .collect();
    assert_eq!(gone, [id.as_str()], "{report:?}");
    assert_eq!(
        (report.total.stored, report.total.kept),
        (2, 1),
        "{report:?}"
    );

    for (uri, body, status, field) in [
        (
            format!("/incidents/{id}/feedback"),
            r#"{"verdict":"wrong"}"#,
            400,
            "verdict",
        ),
        (
            format!("/incidents/{id}/feedback/"),
            r#"{"note":"x"}"#,
            400,
            "verdict",
        ),
        (
            format!("/incidents/{id}/feedback"),
            r#"{"verdict":"real","by":1}"#,
            400,
            "by",
        ),
        (
            "/incidents/0000000000000-0000000000000000/feedback".to_owned(),
            r#"{"verdict":"real"}"#,
            404,
            "",
        ),
    ] {
        let (got, answer) = call(&router, "POST", &uri, body).await;
        assert_eq!(got, status, "{uri} {body}: {answer}");
        if !field.is_empty() {
            assert_eq!(answer["field"], field, "{uri} {body}");
        }
    }
    let (status, _) = call(&router, "GET", &format!("/incidents/{id}/feedback"), "").await;
    assert_eq!(status, 405);
}
