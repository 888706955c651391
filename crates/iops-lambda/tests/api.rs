//! The API's shared cases (iops-service's tests/api_cases, also run against `iops serve`'s
//! router) on the Lambda as `bootstrap` builds it: each request sent as a REST API (v1,
//! stage `prod`) event and as an HTTP API (v2) event, through lambda_http's conversion, the
//! stage layer, the router and the EMF layer, on the in-memory SQLite store.

#[path = "../../iops-service/tests/api_cases/mod.rs"]
mod api_cases;
mod common;

use api_cases::{Answer, LIMIT};
use axum::http::Request;
use common::{app_from_vars, v1, v2};
use iops_lambda::App;

async fn app() -> App {
    app_from_vars(&[
        ("IOPS_STORE", "memory"),
        ("MAX_BODY_BYTES", &LIMIT.to_string()),
    ])
    .await
}

/// `request` as an API Gateway event of `version`, answered by `app`.
async fn call(app: &App, version: u8, request: Request<Vec<u8>>) -> Answer {
    let (parts, body) = request.into_parts();
    let query: Vec<(String, String)> =
        form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (&**k, &**v)).collect();
    let body = String::from_utf8(body).unwrap();
    let body = (!body.is_empty()).then_some(body.as_str());
    let (method, path) = (parts.method.as_str(), parts.uri.path());
    let event = match version {
        1 => v1(method, path, &query, body),
        _ => v2(method, path, &query, body),
    };
    let response = app.handle(event).await;
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: String::from_utf8(response.body().to_vec()).unwrap(),
    }
}

#[tokio::test]
async fn the_api_cases_over_rest_api_events() {
    let app = app().await;
    api_cases::all(|r| call(&app, 1, r)).await;
}

#[tokio::test]
async fn the_api_cases_over_http_api_events() {
    let app = app().await;
    api_cases::all(|r| call(&app, 2, r)).await;
}
