//! POST /v1/metrics: OTLP/HTTP metrics (protobuf or JSON, gzip or not), as the
//! OpenTelemetry Collector's `otlphttp` exporter and the SDKs' OTLP exporters send them. The
//! hostmetrics receiver's metrics become one sample per host ([`translate`]), ingested as a
//! batch; the answer is an `ExportMetricsServiceResponse` in the request's encoding, its
//! partial success saying what was refused, ignored or not yet complete. Errors follow the
//! OTLP/HTTP spec: a `google.rpc.Status` body, 400 for a bad request, 415 for an unknown
//! content type or encoding, 503 with `Retry-After` when samples failed on our side (the
//! exporter retries; samples already stored answer as duplicates).

mod translate;

use std::io::Read;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use prost::Message;
use serde::Serialize;

use translate::Counters;

use super::body;
use super::respond::RETRY_AFTER_SECONDS;
use super::route::{IngestedBatch, Route};
use crate::Service;

/// Largest export accepted once decompressed.
const MAX_DECOMPRESSED: u64 = 16 << 20;

/// The route's state: the service, and the previous points of cumulative sums.
#[derive(Debug)]
pub(super) struct Otlp {
    service: Arc<Service>,
    counters: Mutex<Counters>,
}

impl Otlp {
    pub(super) fn new(service: Arc<Service>) -> Self {
        Otlp {
            service,
            counters: Mutex::new(Counters::default()),
        }
    }
}

/// The export's samples, with each host's previous counter points taken from the store
/// first and its newest kept after (a store one process owns keeps none: its memory does).
async fn translate(otlp: &Otlp, request: &ExportMetricsServiceRequest) -> translate::Translation {
    let store = otlp.service.store();
    if !store.keeps_counters() {
        return lock(&otlp.counters).translate(request);
    }
    let hosts = Counters::hosts_of(request);
    for host in &hosts {
        match store.load_counters(host).await {
            Ok(Some(kept)) => lock(&otlp.counters).import_host(host, &kept),
            Ok(None) => {}
            // rates wait for the next export of this host
            Err(e) => tracing::warn!(error = %e, hostname = %host, "otlp counters not loaded"),
        }
    }
    let (translation, kept) = {
        let mut counters = lock(&otlp.counters);
        let translation = counters.translate(request);
        let kept: Vec<(String, String)> = hosts
            .iter()
            .map(|h| (h.clone(), counters.export_host(h)))
            .collect();
        (translation, kept)
    };
    for (host, points) in kept {
        if let Err(e) = store.save_counters(&host, &points).await {
            tracing::warn!(error = %e, hostname = %host, "otlp counters not kept");
        }
    }
    translation
}

fn lock(counters: &Mutex<Counters>) -> std::sync::MutexGuard<'_, Counters> {
    counters.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Encoding {
    Protobuf,
    Json,
}

/// `google.rpc.Status`, the body of an OTLP/HTTP error.
#[derive(Clone, PartialEq, Message, Serialize)]
struct Status {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// gRPC codes the errors use.
const INVALID_ARGUMENT: i32 = 3;
const UNAVAILABLE: i32 = 14;

pub(super) async fn post(
    State(otlp): State<Arc<Otlp>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    Route::PostOtlpMetrics.label(answer(&otlp, &headers, body).await)
}

async fn answer(otlp: &Otlp, headers: &HeaderMap, body: Body) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let encoding = match content_type.split(';').next().map(str::trim) {
        Some("application/x-protobuf") => Encoding::Protobuf,
        Some("application/json") => Encoding::Json,
        _ => {
            let message = format!(
                "content-type {content_type:?}: use application/x-protobuf or application/json"
            );
            return status(
                Encoding::Json,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                INVALID_ARGUMENT,
                message,
            );
        }
    };
    let limit = otlp.service.config().max_batch_bytes;
    let bytes = match body::read(body, limit).await {
        Ok(bytes) => bytes,
        Err(e) => {
            let code = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
            return status(encoding, code, INVALID_ARGUMENT, e.to_string());
        }
    };
    let bytes = match headers.get(header::CONTENT_ENCODING).map(|v| v.to_str()) {
        None | Some(Ok("identity")) => bytes.to_vec(),
        Some(Ok("gzip")) => match gunzip(&bytes) {
            Ok(plain) => plain,
            Err(message) => {
                return status(encoding, StatusCode::BAD_REQUEST, INVALID_ARGUMENT, message)
            }
        },
        Some(other) => {
            let message = format!("content-encoding {other:?}: use gzip or none");
            return status(
                encoding,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                INVALID_ARGUMENT,
                message,
            );
        }
    };
    let request = match encoding {
        Encoding::Protobuf => ExportMetricsServiceRequest::decode(bytes.as_slice())
            .map_err(|e| format!("body is not an ExportMetricsServiceRequest: {e}")),
        Encoding::Json => serde_json::from_slice::<ExportMetricsServiceRequest>(&bytes)
            .map_err(|e| format!("body is not an ExportMetricsServiceRequest: {e}")),
    };
    let request = match request {
        Ok(r) => r,
        Err(message) => {
            return status(encoding, StatusCode::BAD_REQUEST, INVALID_ARGUMENT, message)
        }
    };
    let translation = translate(otlp, &request).await;
    if translation.ignored_points > 0 || !translation.incomplete.is_empty() {
        tracing::debug!(
            ignored = translation.ignored_points,
            incomplete = translation.incomplete.len(),
            "otlp export"
        );
    }
    let samples = translation.samples.iter().cloned().map(Ok).collect();
    let batch = otlp.service.ingest_parsed(samples).await;
    let mut rejected = translation.rejected_points;
    let mut message = translation.message();
    let mut refused = Vec::new();
    for (item, sample) in batch.items.iter().zip(&translation.samples) {
        if let Err(e) = item {
            if e.status < 500 {
                rejected += 1;
                refused.push(format!("{}: {}", sample.hostname, e.error));
            }
        }
    }
    if !refused.is_empty() {
        if !message.is_empty() {
            message.push_str("; ");
        }
        message.push_str(&refused.join("; "));
    }
    let server_status = batch.status();
    let ingested = IngestedBatch::from(batch);
    let mut response = if server_status >= 500 {
        let mut r = status(
            encoding,
            StatusCode::SERVICE_UNAVAILABLE,
            UNAVAILABLE,
            "samples could not be stored; retry the export".into(),
        );
        r.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_static(RETRY_AFTER_SECONDS),
        );
        r
    } else {
        let partial_success =
            (rejected > 0 || !message.is_empty()).then(|| ExportMetricsPartialSuccess {
                rejected_data_points: i64::try_from(rejected).unwrap_or(i64::MAX),
                error_message: message,
            });
        encoded(
            encoding,
            StatusCode::OK,
            &ExportMetricsServiceResponse { partial_success },
        )
    };
    response.extensions_mut().insert(ingested);
    response
}

/// The gzip body, decompressed (at most [`MAX_DECOMPRESSED`] bytes).
fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .take(MAX_DECOMPRESSED + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("body is not valid gzip: {e}"))?;
    if out.len() as u64 > MAX_DECOMPRESSED {
        return Err(format!(
            "body is larger than {MAX_DECOMPRESSED} bytes once decompressed"
        ));
    }
    Ok(out)
}

fn status(encoding: Encoding, http: StatusCode, code: i32, message: String) -> Response {
    encoded(encoding, http, &Status { code, message })
}

/// `message` in `encoding`, with its content type.
fn encoded<M: Message + Serialize>(encoding: Encoding, http: StatusCode, message: &M) -> Response {
    let (content_type, bytes) = match encoding {
        Encoding::Protobuf => ("application/x-protobuf", message.encode_to_vec()),
        Encoding::Json => (
            "application/json",
            serde_json::to_vec(message).unwrap_or_default(),
        ),
    };
    let mut r = (http, bytes).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}
