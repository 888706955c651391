//! Reading a POST body within the service's limit, so an oversized body is refused before
//! it is buffered.

use axum::body::{Body, Bytes, HttpBody};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::ServiceError;

/// How much of a refused body is read and dropped before the 413: a client still sending
/// when the server closes gets a connection reset instead of the answer.
const DRAIN_BYTES: u64 = 4 << 20;

/// The body, at most `limit` bytes. A body of known size (Content-Length, or a Lambda event's
/// body) over the limit is refused without being kept, naming its size; a streamed one once
/// it passes the limit.
pub(crate) async fn read(body: Body, limit: usize) -> Result<Bytes, ServiceError> {
    if let Some(size) = body.size_hint().exact() {
        if size > limit as u64 {
            if size <= DRAIN_BYTES {
                drain(body).await;
            }
            let size = usize::try_from(size).unwrap_or(usize::MAX);
            return Err(ServiceError::TooLarge { size, limit });
        }
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(ServiceError::TooLargeUnread { limit })
        }
        Err(e) => Err(ServiceError::Invalid {
            field: "body".into(),
            reason: format!("cannot be read: {e}"),
        }),
    }
}

/// Reads the body to its end, keeping nothing.
async fn drain(mut body: Body) {
    while let Some(Ok(_)) = body.frame().await {}
}
