//! The API key a server may require of writes: a layer on POST /metrics.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;

use super::respond::{error_body, json};

/// The header a write must carry when the server has an API key.
pub const API_KEY_HEADER: &str = "x-api-key";

/// 401 unless the request carries `key`; else the request goes on.
pub(super) async fn require(State(key): State<Arc<str>>, request: Request, next: Next) -> Response {
    let given = request.headers().get(API_KEY_HEADER).map(|v| v.as_bytes());
    if given.is_some_and(|g| same_key(g, key.as_bytes())) {
        next.run(request).await
    } else {
        json(
            StatusCode::UNAUTHORIZED,
            error_body("missing or wrong x-api-key header"),
        )
    }
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

#[cfg(test)]
mod tests {
    use super::same_key;

    #[test]
    fn keys_match_only_when_equal() {
        assert!(same_key(b"s3cret", b"s3cret"));
        assert!(!same_key(b"s3creT", b"s3cret"));
        assert!(!same_key(b"s3cre", b"s3cret"));
        assert!(!same_key(b"", b"s3cret"));
    }
}
