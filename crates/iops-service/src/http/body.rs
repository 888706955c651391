//! Reading a POST body within the service's limit, so an oversized body is refused before
//! it is buffered.

use axum::body::{Body, Bytes, HttpBody};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::ServiceError;

/// The body, at most `limit` bytes. A body of known size (Content-Length, or a Lambda event's
/// body) over the limit is refused unread, naming its size; a streamed one once it passes
/// the limit.
pub(crate) async fn read(body: Body, limit: usize) -> Result<Bytes, ServiceError> {
    if let Some(size) = body.size_hint().exact() {
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        if size > limit {
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
