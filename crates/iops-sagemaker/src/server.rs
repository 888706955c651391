//! The HTTP routes SageMaker hosting and batch transform call, and the server loop.

use std::future::Future;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use iops_core::ndarray::ArrayView2;

use crate::decode::{decode, Rows, Schema};
use crate::encode::encode;
use crate::error::{Error, Result};
use crate::media::{request_format, response_format, Format};
use crate::state::{AppState, LoadedModel};

/// Largest request body accepted: SageMaker's 6 MB invocation payload limit (as MiB).
pub const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;
/// Response header naming the model that scored the request (its artifact checksum).
pub const MODEL_VERSION_HEADER: HeaderName = HeaderName::from_static("x-iops-model-version");
/// The one response header SageMaker's runtime passes back to the caller (InvokeEndpoint's
/// `CustomAttributes`); it carries `model-version=<version>` for A/B comparisons.
pub const CUSTOM_ATTRIBUTES_HEADER: HeaderName =
    HeaderName::from_static("x-amzn-sagemaker-custom-attributes");
/// Requests with more rows than this are scored on the blocking pool (in parallel, see
/// [`score`]), so a large batch does not hold an async worker; smaller ones are scored inline.
pub const BLOCKING_ROWS: usize = 256;

/// The router: GET /ping, POST /invocations, POST /endpoints/{name}/invocations (the SageMaker
/// runtime API path), GET /execution-parameters.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/ping", get(ping))
        .route("/invocations", post(invocations))
        .route("/endpoints/{name}/invocations", post(invocations))
        .route("/execution-parameters", get(execution_parameters))
        .layer(DefaultBodyLimit::max(MAX_PAYLOAD_BYTES))
        .with_state(state)
}

/// Serves [`app`] on `listener` until `shutdown` completes, then stops accepting and waits
/// for in-flight requests to finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    iops_http::serve(listener, app(state), shutdown).await
}

async fn ping(State(state): State<AppState>) -> Response {
    match state.model() {
        Some(model) => {
            let mut r = (StatusCode::OK, "\n").into_response();
            r.headers_mut()
                .insert(MODEL_VERSION_HEADER, model.version().clone());
            r
        }
        None => Error::ModelNotLoaded.into_response(),
    }
}

async fn execution_parameters() -> Response {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let body = serde_json::json!({
        "MaxConcurrentTransforms": cores,
        "BatchStrategy": "MULTI_RECORD",
        "MaxPayloadInMB": MAX_PAYLOAD_BYTES >> 20,
    });
    json_response(body.to_string())
}

fn json_response(body: String) -> Response {
    let mut r = body.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// The request's Content-Type and Accept, resolved to formats while the request is parsed
/// (reads the two headers in place instead of cloning the whole header map). The outcome is
/// kept, so a missing model (503) is still reported before a bad Content-Type (415).
#[derive(Debug)]
struct Negotiated(Result<(Format, Format)>);

impl<S: Send + Sync> FromRequestParts<S> for Negotiated {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> std::result::Result<Self, Self::Rejection> {
        let h = &parts.headers;
        let text = |name| {
            h.get(name)
                .map(|v: &HeaderValue| v.to_str().unwrap_or("<non-ASCII>"))
        };
        Ok(Negotiated(
            request_format(text(header::CONTENT_TYPE))
                .and_then(|request| Ok((request, response_format(text(header::ACCEPT), request)?))),
        ))
    }
}

async fn invocations(
    State(state): State<AppState>,
    Negotiated(formats): Negotiated,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response> {
    let model = state.model().ok_or(Error::ModelNotLoaded)?;
    let (format, answer) = formats?;
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Error::PayloadTooLarge {
                limit: MAX_PAYLOAD_BYTES,
            }
        } else {
            Error::Body(rejection.body_text())
        }
    })?;
    let artifact = model.artifact();
    let schema = Schema {
        names: artifact.feature_names(),
        n_features: Some(artifact.forest().n_features()),
    };
    let rows = decode(&body, format, schema)?;
    drop(body);
    let scores = if rows.n_rows() > BLOCKING_ROWS {
        let model = Arc::clone(model);
        tokio::task::spawn_blocking(move || score(&model, &rows))
            .await
            .map_err(|e| Error::Internal(format!("scoring task failed: {e}")))??
    } else {
        score(model, &rows)?
    };
    let mut response = encode(&scores, artifact.forest().threshold(), answer).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(answer.mime()),
    );
    h.insert(MODEL_VERSION_HEADER, model.version().clone());
    h.insert(CUSTOM_ATTRIBUTES_HEADER, model.custom_attributes().clone());
    Ok(response)
}

/// Scores decoded rows. Up to [`BLOCKING_ROWS`] rows are scored one by one with `score_one`
/// on the calling thread (no allocation besides the result, no hand-off to the parallel pool,
/// whose wake-up costs more than scoring a few hundred rows); larger batches use
/// `score_samples`, which splits them across cores. Both give the same scores.
pub fn score(model: &LoadedModel, rows: &Rows) -> Result<Vec<f64>> {
    let forest = model.artifact().forest();
    if rows.n_rows() <= BLOCKING_ROWS {
        return rows
            .values
            .chunks_exact(rows.n_cols.max(1))
            .map(|row| forest.score_one(row).map_err(Error::Scoring))
            .collect();
    }
    let view = ArrayView2::from_shape((rows.n_rows(), rows.n_cols), &rows.values).map_err(|e| {
        Error::Scoring(iops_core::Error::Decode {
            what: "rows",
            reason: e.to_string(),
        })
    })?;
    Ok(forest.score_samples(view).map_err(Error::Scoring)?.to_vec())
}
