//! What `iops serve` adds to the API's router ([`iops_service::http`], the Lambda's too):
//! GET /health, and the layer keeping the dashboard's host list current.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use iops_service::http::{json, Ingested, IngestedBatch};

use super::{AppState, HostIndex};

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

/// The layer's function: a sample the API stored (alone or in a batch) is noted in the
/// host list.
pub async fn note_host(
    State(hosts): State<Arc<HostIndex>>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    if let Some(sample) = response.extensions().get::<Ingested>() {
        hosts.record(&sample.hostname, sample.timestamp);
    }
    if let Some(batch) = response.extensions().get::<IngestedBatch>() {
        for sample in &batch.stored {
            hosts.record(&sample.hostname, sample.timestamp);
        }
    }
    response
}
