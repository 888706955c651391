//! The handlers: translate a request for the [`Service`] and its answer or error back.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::body;
use iops_core::{MetricSample, QuietKind};

use super::respond::{encoded, error_response, json, not_found as no_route, RETRY_AFTER_SECONDS};
use super::route::{Ingested, IngestedBatch, Route};
use crate::{BatchResponse, ListQuery, ReplayRequest, Service, ServiceError};

pub(super) async fn post_metrics(State(service): State<Arc<Service>>, body: Body) -> Response {
    let config = service.config();
    let limit = config.max_body_bytes.max(config.max_batch_bytes);
    let bytes = match body::read(body, limit).await {
        Ok(bytes) => bytes,
        Err(e) => return Route::PostMetrics.label(error_response(&e)),
    };
    let response = if MetricSample::is_batch(&bytes) {
        match service.ingest_batch(&bytes).await {
            Ok(answer) => batch_response(answer),
            Err(e) => error_response(&e),
        }
    } else {
        match service.ingest(&bytes).await {
            Ok(answer) => {
                let mut r = json(StatusCode::OK, answer.to_json());
                r.extensions_mut().insert(Ingested::from(answer));
                r
            }
            Err(e) => error_response(&e),
        }
    };
    Route::PostMetrics.label(response)
}

/// A batch's answer: 200, or its items' highest 5xx (with `Retry-After` when that is a 503:
/// the batch is idempotent, to be sent again whole).
fn batch_response(answer: BatchResponse) -> Response {
    let status = StatusCode::from_u16(answer.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = json(status, answer.to_json());
    if status == StatusCode::SERVICE_UNAVAILABLE {
        r.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_static(RETRY_AFTER_SECONDS),
        );
    }
    r.extensions_mut().insert(IngestedBatch::from(answer));
    r
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

pub(super) async fn list_hosts(State(service): State<Arc<Service>>) -> Response {
    Route::GetHosts.label(encoded(service.list_hosts().await))
}

pub(super) async fn get_incident(
    State(service): State<Arc<Service>>,
    Path(incident_id): Path<String>,
) -> Response {
    Route::GetIncident.label(encoded(service.get_incident(&incident_id).await))
}

pub(super) async fn post_maintenance(State(service): State<Arc<Service>>, body: Body) -> Response {
    Route::PostMaintenance.label(declare_quiet(&service, QuietKind::Maintenance, body).await)
}

pub(super) async fn post_mute(State(service): State<Arc<Service>>, body: Body) -> Response {
    Route::PostMute.label(declare_quiet(&service, QuietKind::Mute, body).await)
}

pub(super) async fn list_maintenance(State(service): State<Arc<Service>>, uri: Uri) -> Response {
    let [hostname, since] = params(&uri, ["hostname", "since"]);
    let answer = service
        .list_quiet(
            QuietKind::Maintenance,
            hostname.as_deref(),
            since.as_deref(),
        )
        .await;
    Route::GetMaintenance.label(encoded(answer))
}

pub(super) async fn list_mutes(State(service): State<Arc<Service>>, uri: Uri) -> Response {
    let [hostname, since] = params(&uri, ["hostname", "since"]);
    let answer = service
        .list_quiet(QuietKind::Mute, hostname.as_deref(), since.as_deref())
        .await;
    Route::GetMutes.label(encoded(answer))
}

pub(super) async fn delete_maintenance(
    State(service): State<Arc<Service>>,
    Path(window_id): Path<String>,
) -> Response {
    let answer = service
        .delete_quiet(QuietKind::Maintenance, &window_id)
        .await;
    Route::DeleteMaintenance.label(deleted(answer))
}

pub(super) async fn delete_mute(
    State(service): State<Arc<Service>>,
    Path(window_id): Path<String>,
) -> Response {
    let answer = service.delete_quiet(QuietKind::Mute, &window_id).await;
    Route::DeleteMute.label(deleted(answer))
}

pub(super) async fn post_feedback(
    State(service): State<Arc<Service>>,
    Path(incident_id): Path<String>,
    body: Body,
) -> Response {
    let answer = match body::read(body, service.config().max_body_bytes).await {
        Ok(bytes) => service.give_feedback(&incident_id, &bytes).await,
        Err(e) => Err(e),
    };
    Route::PostFeedback.label(created(answer))
}

pub(super) async fn post_replay(State(service): State<Arc<Service>>, body: Body) -> Response {
    let answer = match body::read(body, service.config().max_body_bytes).await {
        Ok(bytes) => {
            let max = service.config().max_replay_seconds;
            match ReplayRequest::from_json(&bytes, service.now(), max) {
                Ok(request) => service.replay(&request, None).await,
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    };
    Route::PostReplay.label(encoded(answer))
}

/// 201 with the window declared, or the error (400 naming the field).
async fn declare_quiet(service: &Service, kind: QuietKind, body: Body) -> Response {
    let bytes = match body::read(body, service.config().max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(e) => return error_response(&e),
    };
    created(service.declare_quiet(kind, &bytes).await)
}

/// 201 with the record made, or the error.
fn created<T: serde::Serialize>(answer: Result<T, ServiceError>) -> Response {
    let mut r = encoded(answer);
    if r.status() == StatusCode::OK {
        *r.status_mut() = StatusCode::CREATED;
    }
    r
}

/// 204, or the error (404 for an unknown id).
fn deleted(answer: Result<(), ServiceError>) -> Response {
    match answer {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => error_response(&e),
    }
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
