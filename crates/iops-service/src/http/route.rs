//! What a request did, as response extensions for the runtimes' layers: which route answered
//! (the Lambda's EMF `Route`) and what an ingest did (its EMF properties, `iops serve`'s host
//! list). Not on the wire.

use axum::response::Response;
use iops_core::Timestamp;
use iops_store::ModelSource;

use crate::{BatchResponse, IngestOutcome, IngestResponse};

/// The API route that answered a request, whatever its status. Absent on 404 and 405.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// POST /metrics.
    PostMetrics,
    /// POST /v1/metrics (OTLP/HTTP).
    PostOtlpMetrics,
    /// GET /metrics.
    GetMetrics,
    /// GET /insights.
    GetInsights,
    /// GET /incidents.
    GetIncidents,
    /// GET /incidents/{incidentId}.
    GetIncident,
    /// POST /maintenance.
    PostMaintenance,
    /// GET /maintenance.
    GetMaintenance,
    /// DELETE /maintenance/{windowId}.
    DeleteMaintenance,
    /// POST /mutes.
    PostMute,
    /// GET /mutes.
    GetMutes,
    /// DELETE /mutes/{windowId}.
    DeleteMute,
    /// POST /replay.
    PostReplay,
    /// POST /incidents/{incidentId}/feedback.
    PostFeedback,
    /// GET /hosts.
    GetHosts,
}

impl Route {
    /// `POST /metrics`, `POST /v1/metrics`, `GET /metrics`, `GET /insights`, `GET /incidents`,
    /// `GET /incidents/{incidentId}`, `POST`, `GET` and `DELETE` of `/maintenance` and
    /// `/mutes`, `POST /replay`, `POST /incidents/{incidentId}/feedback`, `GET /hosts`.
    pub fn as_str(self) -> &'static str {
        match self {
            Route::PostMetrics => "POST /metrics",
            Route::PostOtlpMetrics => "POST /v1/metrics",
            Route::GetMetrics => "GET /metrics",
            Route::GetInsights => "GET /insights",
            Route::GetIncidents => "GET /incidents",
            Route::GetIncident => "GET /incidents/{incidentId}",
            Route::PostMaintenance => "POST /maintenance",
            Route::GetMaintenance => "GET /maintenance",
            Route::DeleteMaintenance => "DELETE /maintenance/{windowId}",
            Route::PostMute => "POST /mutes",
            Route::GetMutes => "GET /mutes",
            Route::DeleteMute => "DELETE /mutes/{windowId}",
            Route::PostReplay => "POST /replay",
            Route::PostFeedback => "POST /incidents/{incidentId}/feedback",
            Route::GetHosts => "GET /hosts",
        }
    }

    /// `response`, labelled with this route.
    pub(crate) fn label(self, mut response: Response) -> Response {
        response.extensions_mut().insert(self);
        response
    }
}

/// A sample POST /metrics stored (on its 200 answer only).
#[derive(Debug, Clone, PartialEq)]
pub struct Ingested {
    /// The sample's host.
    pub hostname: String,
    /// The sample's time.
    pub timestamp: Timestamp,
    /// What the service did with it.
    pub outcome: IngestOutcome,
    /// The model that scored it (`None`: a duplicate, not scored again).
    pub scored_by: Option<ModelSource>,
    /// True when the model it was routed to failed and the built-in one scored instead.
    pub fallback: bool,
}

impl From<IngestResponse> for Ingested {
    fn from(answer: IngestResponse) -> Self {
        Ingested {
            hostname: answer.hostname,
            timestamp: answer.timestamp,
            outcome: answer.outcome,
            scored_by: answer.scored_by,
            fallback: answer.fallback,
        }
    }
}

/// What a batch POST /metrics did (on its answer, whatever its status): each item it
/// stored, and how many items failed with a 5xx (the service's errors, not the client's).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IngestedBatch {
    /// The stored items, in the request's order.
    pub stored: Vec<Ingested>,
    /// Items that failed with a 5xx.
    pub server_errors: u32,
    /// Items that failed with a 4xx (the client's to fix).
    pub client_errors: u32,
}

impl From<BatchResponse> for IngestedBatch {
    fn from(answer: BatchResponse) -> Self {
        let mut batch = IngestedBatch::default();
        for item in answer.items {
            match item {
                Ok(answer) => batch.stored.push(Ingested::from(answer)),
                Err(e) if e.status >= 500 => batch.server_errors += 1,
                Err(_) => batch.client_errors += 1,
            }
        }
        batch
    }
}
