//! `iops serve`'s router through tower's `oneshot`: the API's shared cases (iops-service's
//! tests/api_cases, also run on the Lambda), and what serve adds around them.

#[path = "../../../iops-service/tests/api_cases/mod.rs"]
mod api_cases;

use std::sync::Arc;

use api_cases::{request, sample, Answer, LIMIT};
use axum::body::Body;
use axum::http::Request;
use axum::Router;
use iops_core::engine::EngineConfig;
use iops_store::SqliteStore;
use tower::ServiceExt;

use super::{app, AppState, ServedEngine};

async fn state(api_key: Option<&str>) -> AppState {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let engine = ServedEngine {
        config: EngineConfig::default(),
        forest: None,
        description: "test".into(),
    };
    AppState::new(
        store,
        engine,
        super::ServeOptions {
            max_body_bytes: LIMIT,
            api_key: api_key.map(str::to_owned),
            ..super::ServeOptions::default()
        },
    )
    .await
    .unwrap()
}

async fn call(router: &Router, request: Request<Vec<u8>>) -> Answer {
    let response = router.clone().oneshot(request.map(Body::from)).await;
    Answer::read(response.unwrap()).await
}

#[tokio::test]
async fn the_api_cases() {
    let router = app(state(None).await);
    api_cases::all(|r| call(&router, r)).await;
}

#[tokio::test]
async fn a_stored_sample_reaches_the_host_list_and_the_dashboard_stays() {
    let state = state(Some("s3cret")).await;
    let router = app(state.clone());
    let mut post = request("POST", "/metrics", &sample("web-7", 40.0));
    assert_eq!(call(&router, post.clone()).await.status, 401);
    assert_eq!(state.hosts.len(), 0, "a refused write notes no host");
    post.headers_mut()
        .insert("x-api-key", "s3cret".parse().unwrap());
    assert_eq!(call(&router, post).await.status, 200);
    assert_eq!(
        state.hosts.last_seen("web-7"),
        Some("2026-11-26T17:00:00Z".parse().unwrap())
    );
    let health = call(&router, request("GET", "/health", "")).await;
    assert_eq!(health.json()["hosts"], 1);
    assert_eq!(health.json()["writesNeedApiKey"], true);
    let page = call(&router, request("GET", "/", "")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("/hosts/web-7"));
    assert!(!page.body.contains("peer group"), "no groups, no column");
    assert_eq!(
        call(&router, request("GET", "/hosts/web-7", ""))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_host_page_names_its_peer_group() {
    use iops_core::artifact::OffsetDateTime;
    use iops_core::engine::HostForest;
    use iops_core::forest::IsolationForestParams;
    use iops_core::ParamGuard;
    use iops_synth::{Fleet, FleetParams};

    let fleet = Fleet::new(FleetParams {
        hosts: 8,
        days: 2.0,
        seed: 8,
        incident_rate: 0.0,
        ..FleetParams::default()
    })
    .unwrap();
    let history: Vec<_> = fleet.samples().map(|(s, _)| s).collect();
    let params = IsolationForestParams::new()
        .n_trees(10)
        .seed(1)
        .check()
        .unwrap();
    let model = HostForest::fit(
        &EngineConfig::default(),
        &history,
        &params,
        OffsetDateTime::UNIX_EPOCH,
    )
    .unwrap();
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let engine = ServedEngine {
        config: EngineConfig::default(),
        forest: Some(HostForest::new(model).unwrap()),
        description: "test".into(),
    };
    let state = AppState::new(store, engine, super::ServeOptions::default())
        .await
        .unwrap();
    let router = app(state);
    let post = request("POST", "/metrics", &sample("db-2", 40.0));
    assert_eq!(call(&router, post).await.status, 200);
    let page = call(&router, request("GET", "/hosts/db-2", "")).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains("Peer group <b>db</b> (2 hosts, fitted with the model)"),
        "{}",
        page.body
    );
    let hosts = call(&router, request("GET", "/hosts", "")).await;
    assert_eq!(hosts.json()["hosts"][0]["group"]["name"], "db");
    // the overview lists each host's group beside it
    let overview = call(&router, request("GET", "/", "")).await;
    assert!(
        overview.body.contains("<th>peer group</th>")
            && overview.body.contains(r#"<td class="group">db</td>"#),
        "{}",
        overview.body
    );
}
