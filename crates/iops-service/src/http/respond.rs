//! The API's responses, written once: JSON with its content type, a [`ServiceError`] as its
//! status and body, 404 and 405.

use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::ServiceError;

/// `body` (JSON) with `status` and `content-type: application/json`.
pub fn json(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// `e` as its status and body ([`ServiceError::status`], [`ServiceError::body`]). A 5xx body
/// is generic, so its details go to the log here.
pub fn error_response(e: &ServiceError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status.is_server_error() {
        tracing::error!(status = status.as_u16(), error = %e, "request failed");
    }
    let mut r = json(status, e.body());
    if e.is_retryable() {
        // (a busy store or a contended host: the same request is safe to send again soon)
        r.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_static(RETRY_AFTER_SECONDS),
        );
    }
    r
}

/// What a 503's `Retry-After` asks a client to wait, in seconds.
pub const RETRY_AFTER_SECONDS: &str = "1";

/// 200 with `answer` as JSON, or its error.
pub(crate) fn encoded<T: Serialize>(answer: Result<T, ServiceError>) -> Response {
    match answer.map(|value| serde_json::to_string(&value)) {
        Ok(Ok(body)) => json(StatusCode::OK, body),
        Ok(Err(e)) => {
            tracing::error!(status = 500, error = %e, "cannot encode the answer");
            json(
                StatusCode::INTERNAL_SERVER_ERROR,
                error_body("internal error"),
            )
        }
        Err(e) => error_response(&e),
    }
}

/// 404 `{"error":"no route for METHOD PATH"}` (the path without a trailing slash).
pub(crate) fn not_found(method: &Method, path: &str) -> Response {
    let path = path
        .strip_suffix('/')
        .filter(|p| !p.is_empty())
        .unwrap_or(path);
    json(
        StatusCode::NOT_FOUND,
        error_body(&format!("no route for {method} {path}")),
    )
}

/// 405 naming the methods `allow`ed, in the body and the `Allow` header.
pub(crate) fn not_allowed(allow: &'static str) -> Response {
    let mut r = json(
        StatusCode::METHOD_NOT_ALLOWED,
        error_body(&format!("method not allowed; use {allow}")),
    );
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    r
}

pub(crate) fn error_body(message: &str) -> String {
    serde_json::json!({ "error": message }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use iops_store::StoreError;

    #[test]
    fn a_busy_store_answers_503_with_retry_after() {
        let busy = ServiceError::Store(StoreError::Busy {
            op: "put_metric",
            queued: 10_000,
        });
        let r = error_response(&busy);
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[header::RETRY_AFTER], RETRY_AFTER_SECONDS);
        // a client's mistake is not to be retried as it is
        let invalid = ServiceError::Invalid {
            field: "cpuUsage".into(),
            reason: "must be finite".into(),
        };
        assert!(error_response(&invalid)
            .headers()
            .get(header::RETRY_AFTER)
            .is_none());
    }
}
