//! The handlers: translate a request for the [`Service`] and its answer or error back.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::Response;

use super::body;
use super::respond::{encoded, error_response, json, not_found as no_route};
use super::route::{Ingested, Route};
use crate::{ListQuery, Service, ServiceError};

pub(super) async fn post_metrics(State(service): State<Arc<Service>>, body: Body) -> Response {
    let answer = match body::read(body, service.config().max_body_bytes).await {
        Ok(bytes) => service.ingest(&bytes).await,
        Err(e) => Err(e),
    };
    let response = match answer {
        Ok(answer) => {
            let mut r = json(StatusCode::OK, answer.to_json());
            r.extensions_mut().insert(Ingested::from(answer));
            r
        }
        Err(e) => error_response(&e),
    };
    Route::PostMetrics.label(response)
}

pub(super) async fn list_metrics(State(service): State<Arc<Service>>, uri: Uri) -> Response {
    let answer = match query(&service, &uri) {
        Ok(q) => service.list_metrics(&q).await,
        Err(e) => Err(e),
    };
    Route::GetMetrics.label(encoded(answer))
}

pub(super) async fn list_insights(State(service): State<Arc<Service>>, uri: Uri) -> Response {
    let answer = match query(&service, &uri) {
        Ok(q) => service.list_insights(&q).await,
        Err(e) => Err(e),
    };
    Route::GetInsights.label(encoded(answer))
}

pub(super) async fn list_incidents(State(service): State<Arc<Service>>, uri: Uri) -> Response {
    let [status, hostname, since, limit] = params(&uri, ["status", "hostname", "since", "limit"]);
    let answer = match service.parse_incident_query(
        status.as_deref(),
        hostname.as_deref(),
        since.as_deref(),
        limit.as_deref(),
    ) {
        Ok(q) => service.list_incidents(&q).await,
        Err(e) => Err(e),
    };
    Route::GetIncidents.label(encoded(answer))
}

pub(super) async fn get_incident(
    State(service): State<Arc<Service>>,
    Path(incident_id): Path<String>,
) -> Response {
    Route::GetIncident.label(encoded(service.get_incident(&incident_id).await))
}

pub(super) async fn not_found(method: Method, uri: Uri) -> Response {
    no_route(&method, uri.path())
}

/// `hostname`, `since` and `limit` of the query string, parsed by [`Service::parse_query`].
fn query(service: &Service, uri: &Uri) -> Result<ListQuery, ServiceError> {
    let [hostname, since, limit] = params(uri, ["hostname", "since", "limit"]);
    service.parse_query(hostname.as_deref(), since.as_deref(), limit.as_deref())
}

/// The first value of each of `names` in the query string (percent-decoded); others are
/// ignored.
fn params<const N: usize>(uri: &Uri, names: [&str; N]) -> [Option<String>; N] {
    let mut out = [const { None }; N];
    for (k, v) in form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        if let Some(i) = names.iter().position(|n| *n == k) {
            out[i].get_or_insert_with(|| v.into_owned());
        }
    }
    out
}
