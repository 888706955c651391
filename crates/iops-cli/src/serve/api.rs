//! The JSON API: POST /metrics, GET /metrics, GET /insights, GET /health. Same wire formats
//! as the Lambda (ARCHITECTURE.md): errors are `{"error":"...","field":"..."}`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use iops_service::{ListQuery, ServiceError};

use super::AppState;

/// The header a write must carry when the server has an API key.
pub const API_KEY_HEADER: &str = "x-api-key";

pub fn json(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn error(e: &ServiceError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status.is_server_error() {
        // The body says only "internal error" / "retry": the detail belongs in the log.
        eprintln!("error {}: {e}", status.as_u16());
    }
    json(status, e.body())
}

/// Compares in time independent of where the first difference is.
fn same_key(given: &[u8], want: &[u8]) -> bool {
    given.len() == want.len()
        && given
            .iter()
            .zip(want)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

pub async fn post_metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if let Some(key) = &state.api_key {
        let given = headers.get(API_KEY_HEADER).map(|v| v.as_bytes());
        if !given.is_some_and(|g| same_key(g, key.as_bytes())) {
            return json(
                StatusCode::UNAUTHORIZED,
                r#"{"error":"missing or wrong x-api-key header"}"#.to_owned(),
            );
        }
    }
    let body = match body {
        Ok(b) => b,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            // The body was not read to its end: its size is unknown, only "too large".
            let limit = state.service.config().max_body_bytes;
            return json(
                StatusCode::PAYLOAD_TOO_LARGE,
                serde_json::json!({
                    "error": format!("request body is larger than the limit of {limit} bytes")
                })
                .to_string(),
            );
        }
        Err(rejection) => {
            return error(&ServiceError::Invalid {
                field: "body".into(),
                reason: rejection.body_text(),
            })
        }
    };
    match state.ingest(&body).await {
        Ok(answer) => json(StatusCode::OK, answer.to_json()),
        Err(e) => error(&e),
    }
}

/// `hostname`, `since` and `limit` of a request's query string.
fn query(state: &AppState, uri: &Uri) -> Result<ListQuery, ServiceError> {
    let (mut hostname, mut since, mut limit) = (None, None, None);
    for (k, v) in form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "hostname" => hostname = Some(v.into_owned()),
            "since" => since = Some(v.into_owned()),
            "limit" => limit = Some(v.into_owned()),
            _ => {}
        }
    }
    state
        .service
        .parse_query(hostname.as_deref(), since.as_deref(), limit.as_deref())
}

pub async fn list_metrics(State(state): State<AppState>, uri: Uri) -> Response {
    let answer = match query(&state, &uri) {
        Ok(q) => state.service.list_metrics(&q).await,
        Err(e) => Err(e),
    };
    match answer.map(|list| serde_json::to_string(&list)) {
        Ok(Ok(body)) => json(StatusCode::OK, body),
        Ok(Err(e)) => internal(&e),
        Err(e) => error(&e),
    }
}

pub async fn list_insights(State(state): State<AppState>, uri: Uri) -> Response {
    let answer = match query(&state, &uri) {
        Ok(q) => state.service.list_insights(&q).await,
        Err(e) => Err(e),
    };
    match answer.map(|list| serde_json::to_string(&list)) {
        Ok(Ok(body)) => json(StatusCode::OK, body),
        Ok(Err(e)) => internal(&e),
        Err(e) => error(&e),
    }
}

fn internal(e: &serde_json::Error) -> Response {
    eprintln!("error 500: cannot encode the answer: {e}");
    json(
        StatusCode::INTERNAL_SERVER_ERROR,
        r#"{"error":"internal error"}"#.to_owned(),
    )
}

pub async fn health(State(state): State<AppState>) -> Response {
    let body = serde_json::json!({
        "status": "ok",
        "hosts": state.hosts.len(),
        "modelVersion": state.model.version,
        "model": state.model.description,
        "writesNeedApiKey": state.api_key.is_some(),
    });
    json(StatusCode::OK, body.to_string())
}
