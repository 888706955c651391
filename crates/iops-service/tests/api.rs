//! The router alone, through tower's `oneshot`: the shared API cases, the API key layer, and
//! the response extensions the runtimes' layers read.

mod api_cases;

use std::sync::Arc;

use api_cases::{request, sample, Answer, LIMIT};
use axum::body::{Body, Bytes, HttpBody};
use axum::http::{Request, Response};
use axum::Router;
use iops_core::engine::EngineConfig;
use iops_service::http::{Api, Ingested, Route};
use iops_service::{IngestOutcome, Service, ServiceConfig};
use iops_store::{ModelSource, SqliteStore};
use tower::ServiceExt;

fn service() -> Arc<Service> {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let config = ServiceConfig {
        max_body_bytes: LIMIT,
        ..ServiceConfig::default()
    };
    Arc::new(Service::with_scorer(
        store,
        Arc::new(iops_service::BuiltinScorer::new(EngineConfig::default())),
        config,
    ))
}

async fn send(router: &Router, request: Request<Body>) -> Response<Body> {
    router.clone().oneshot(request).await.unwrap()
}

#[tokio::test]
async fn the_api_cases() {
    let router = Api::new(service()).router();
    api_cases::all(|r: Request<Vec<u8>>| {
        let router = router.clone();
        async move { Answer::read(send(&router, r.map(Body::from)).await).await }
    })
    .await;
}

#[tokio::test]
async fn writes_need_the_api_key_when_one_is_set() {
    let router = Api::new(service()).with_api_key(Some("s3cret")).router();
    let post = |key: Option<&str>| {
        let mut r = request("POST", "/metrics", &sample("key-1", 40.0)).map(Body::from);
        if let Some(k) = key {
            r.headers_mut().insert("x-api-key", k.parse().unwrap());
        }
        r
    };
    for key in [None, Some("s3creT"), Some("s3cre"), Some("")] {
        let r = Answer::read(send(&router, post(key)).await).await;
        assert_eq!(r.status, 401, "{key:?}");
        assert_eq!(r.json()["error"], "missing or wrong x-api-key header");
    }
    assert_eq!(send(&router, post(Some("s3cret"))).await.status(), 200);
    // Reads stay open; other methods are still 405, not 401.
    let get = request("GET", "/metrics?hostname=key-1", "").map(Body::from);
    assert_eq!(send(&router, get).await.status(), 200);
    let put = request("PUT", "/metrics", "{}").map(Body::from);
    assert_eq!(send(&router, put).await.status(), 405);
    // An empty key is no key.
    let open = Api::new(service()).with_api_key(Some("")).router();
    assert_eq!(send(&open, post(None)).await.status(), 200);
}

/// Declaring or deleting a maintenance window or a mute is a write: the key is needed.
#[tokio::test]
async fn quiet_window_writes_need_the_api_key_too() {
    let router = Api::new(service()).with_api_key(Some("s3cret")).router();
    let body = r#"{"hostname":"*","end":"2099-01-01T00:00:00Z","start":"2098-12-31T00:00:00Z"}"#;
    for (method, uri) in [
        ("POST", "/maintenance"),
        ("POST", "/mutes"),
        ("DELETE", "/maintenance/x"),
        ("DELETE", "/mutes/x"),
    ] {
        let r = send(&router, request(method, uri, body).map(Body::from)).await;
        assert_eq!(r.status(), 401, "{method} {uri}");
        let mut keyed = request(method, uri, body).map(Body::from);
        keyed
            .headers_mut()
            .insert("x-api-key", "s3cret".parse().unwrap());
        let r = send(&router, keyed).await;
        let want = if method == "POST" { 201 } else { 404 };
        assert_eq!(r.status(), want, "{method} {uri}");
    }
    for uri in ["/maintenance", "/mutes"] {
        let r = send(&router, request("GET", uri, "").map(Body::from)).await;
        assert_eq!(r.status(), 200, "{uri}");
        assert!(r.extensions().get::<Route>().is_some(), "{uri}");
    }
}

#[tokio::test]
async fn responses_say_which_route_answered_and_what_an_ingest_did() {
    let router = Api::new(service()).router();
    let body = sample("ext-1", 40.0);
    let r = send(&router, request("POST", "/metrics", &body).map(Body::from)).await;
    assert_eq!(r.extensions().get::<Route>(), Some(&Route::PostMetrics));
    let ingested = r.extensions().get::<Ingested>().unwrap();
    assert_eq!(ingested.hostname, "ext-1");
    assert_eq!(ingested.timestamp, "2026-11-26T17:00:00Z".parse().unwrap());
    assert_eq!(ingested.outcome, IngestOutcome::Scored);
    assert_eq!(ingested.scored_by, Some(ModelSource::Builtin));
    assert!(!ingested.fallback);
    let again = send(&router, request("POST", "/metrics", &body).map(Body::from)).await;
    let ingested = again.extensions().get::<Ingested>().unwrap();
    assert_eq!(
        (ingested.outcome, ingested.scored_by),
        (IngestOutcome::Duplicate, None)
    );

    let bad = send(&router, request("POST", "/metrics", "{}").map(Body::from)).await;
    assert_eq!(bad.status(), 400);
    assert_eq!(bad.extensions().get::<Route>(), Some(&Route::PostMetrics));
    assert!(bad.extensions().get::<Ingested>().is_none());
    for (uri, route) in [
        ("/metrics?hostname=ext-1", Route::GetMetrics),
        ("/insights/?hostname=ext-1", Route::GetInsights),
    ] {
        let r = send(&router, request("GET", uri, "").map(Body::from)).await;
        assert_eq!(r.extensions().get::<Route>(), Some(&route));
    }
    for (method, uri) in [("GET", "/nowhere"), ("DELETE", "/metrics")] {
        let r = send(&router, request(method, uri, "").map(Body::from)).await;
        assert!(r.extensions().get::<Route>().is_none(), "{method} {uri}");
    }
}

/// A body of unknown size (no Content-Length), in chunks.
struct Streamed(Vec<Bytes>);

impl HttpBody for Streamed {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let next = (!self.0.is_empty()).then(|| Ok(http_body::Frame::data(self.0.remove(0))));
        std::task::Poll::Ready(next)
    }
}

#[tokio::test]
async fn a_streamed_body_over_the_limit_is_refused_without_its_size() {
    let router = Api::new(service()).router();
    // what a batch may hold is read; past it, reading stops
    let batch_limit = ServiceConfig::default().max_batch_bytes;
    let chunks = vec![
        Bytes::from(" ".repeat(batch_limit)),
        Bytes::from(" ".repeat(300)),
    ];
    let r = request("POST", "/metrics", "").map(|_| Body::new(Streamed(chunks)));
    let r = Answer::read(send(&router, r).await).await;
    assert_eq!(r.status, 413);
    assert_eq!(
        r.json()["error"],
        format!("request body is larger than the limit of {batch_limit} bytes")
    );
    // a single sample over its own limit is refused with its size
    let chunks = vec![Bytes::from(" ".repeat(300)), Bytes::from(" ".repeat(300))];
    let r = request("POST", "/metrics", "").map(|_| Body::new(Streamed(chunks)));
    let r = Answer::read(send(&router, r).await).await;
    assert_eq!(r.status, 413);
    assert_eq!(
        r.json()["error"],
        format!("request body is 600 bytes, larger than the limit of {LIMIT} bytes")
    );
    // Streamed within the limit, it is read.
    let body = sample("stream-1", 40.0);
    let (a, b) = body.split_at(50);
    let chunks = vec![Bytes::from(a.to_owned()), Bytes::from(b.to_owned())];
    let r = request("POST", "/metrics", "").map(|_| Body::new(Streamed(chunks)));
    assert_eq!(send(&router, r).await.status(), 200);
}
