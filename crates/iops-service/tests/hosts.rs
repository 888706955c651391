//! GET /hosts: every stored host with its newest sample and, when the fleet model carries
//! peer groups, its group — fitted with the model, or placed when it joined (read from its
//! saved state after a restart).

use std::sync::Arc;

use axum::body::Body;
use iops_core::artifact::OffsetDateTime;
use iops_core::engine::{EngineConfig, HostForest};
use iops_core::forest::IsolationForestParams;
use iops_core::{MetricSample, ParamGuard};
use iops_service::http::Api;
use iops_service::{BuiltinScorer, Service, ServiceConfig};
use iops_store::SqliteStore;
use iops_synth::{Fleet, FleetParams};
use serde_json::{json, Value};
use tower::ServiceExt;

/// 8 quiet hosts (web-1..4, db-1..2, batch-1..2), 3 days of 5-minute samples.
fn fleet() -> Fleet {
    Fleet::new(FleetParams {
        hosts: 8,
        days: 3.0,
        seed: 8,
        incident_rate: 0.0,
        ..FleetParams::default()
    })
    .unwrap()
}

/// The fleet model fitted on the first 2 days.
fn forest(fleet: &Fleet) -> HostForest {
    let two_days = fleet.start_secs() as f64 + 2.0 * 86_400.0;
    let history: Vec<MetricSample> = fleet
        .samples()
        .map(|(s, _)| s)
        .filter(|s| s.timestamp.epoch_seconds() < two_days)
        .collect();
    let params = IsolationForestParams::new()
        .n_trees(20)
        .seed(1)
        .contamination(0.001)
        .check()
        .unwrap();
    let model = HostForest::fit(
        &EngineConfig::default(),
        &history,
        &params,
        OffsetDateTime::UNIX_EPOCH,
    )
    .unwrap();
    HostForest::new(model).unwrap()
}

fn service(store: Arc<SqliteStore>, forest: Option<HostForest>) -> Arc<Service> {
    let scorer = BuiltinScorer::new(EngineConfig::default()).with_forest(forest);
    Arc::new(Service::with_scorer(
        store,
        Arc::new(scorer),
        ServiceConfig::default(),
    ))
}

async fn get(service: &Arc<Service>, method: &str, uri: &str) -> (u16, Value) {
    let request = axum::http::Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap();
    let r = Api::new(service.clone())
        .router()
        .oneshot(request)
        .await
        .unwrap();
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
async fn hosts_are_listed_with_their_fitted_or_placed_group() {
    let fleet = fleet();
    let forest = forest(&fleet);
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let live = service(store.clone(), Some(forest.clone()));
    // day 3: web-1 (fitted), a newcomer sending web-2's samples under a new name (placed),
    // and a host with 2 samples (not placed yet)
    let day3 = fleet.start_secs() as f64 + 2.0 * 86_400.0;
    let mut sent = 0;
    for (mut s, _) in fleet.samples() {
        if s.timestamp.epoch_seconds() < day3 || s.timestamp.epoch_seconds() >= day3 + 3600.0 {
            continue;
        }
        match s.hostname.as_str() {
            "web-1" => {}
            "web-2" => s.hostname = "web-new".into(),
            "db-1" if sent < 2 => {
                s.hostname = "late-1".into();
                sent += 1;
            }
            _ => continue,
        }
        live.ingest(s.to_json().as_bytes()).await.unwrap();
    }
    let (status, body) = get(&live, "GET", "/hosts").await;
    assert_eq!(status, 200, "{body}");
    let hosts = body["hosts"].as_array().unwrap();
    let names: Vec<&str> = hosts
        .iter()
        .map(|h| h["hostname"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["late-1", "web-1", "web-new"]);
    assert!(hosts[0].get("group").is_none(), "{}", hosts[0]);
    assert_eq!(
        hosts[1]["group"],
        json!({"name": "web", "hosts": 4, "source": "fitted"})
    );
    assert_eq!(
        hosts[2]["group"],
        json!({"name": "web", "hosts": 4, "source": "placed"})
    );
    assert!(hosts[2]["lastTimestamp"].is_string());

    // a restarted process reads the placed group from the stored state
    let restarted = service(store.clone(), Some(forest));
    assert_eq!(get(&restarted, "GET", "/hosts/").await.1, body);
    // without a model with groups, no host has one
    let plain = service(store, None);
    let (_, body) = get(&plain, "GET", "/hosts").await;
    assert!(body["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h.get("group").is_none()));
    assert_eq!(body["hosts"].as_array().unwrap().len(), 3);
    // only GET
    assert_eq!(get(&plain, "POST", "/hosts").await.0, 405);
}
