//! The HTTP mapping, kept thin: route, translate the request for the service, translate its
//! answer or error back, and write one EMF line. No runtime needed: [`App::handle`] takes and
//! returns lambda_http's `Request` / `Response`, so tests build requests from event JSON.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use iops_service::{Service, ServiceError};
use lambda_http::http::{header, HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;

use crate::emf::RequestMetrics;

/// Where the per-request EMF lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsSink {
    /// stdout, one line per request (the Lambda default: CloudWatch Logs reads it).
    Stdout,
    /// Nowhere (benches).
    Off,
}

/// The function's shared state: built once at cold start, used by every invocation.
#[derive(Debug, Clone)]
pub struct App {
    service: Arc<Service>,
    sink: MetricsSink,
}

/// What one request did, for its EMF line.
struct Outcome {
    response: Response<Body>,
    model_source: &'static str,
    fallback: bool,
    ingest: Option<&'static str>,
}

impl Outcome {
    fn plain(response: Response<Body>) -> Self {
        Outcome {
            response,
            model_source: "none",
            fallback: false,
            ingest: None,
        }
    }
}

impl App {
    /// The app over `service`, writing EMF lines to `sink`.
    pub fn new(service: Arc<Service>, sink: MetricsSink) -> Self {
        App { service, sink }
    }

    /// The service.
    pub fn service(&self) -> &Arc<Service> {
        &self.service
    }

    /// Answers one API Gateway request (REST v1 or HTTP v2; lambda_http has already turned
    /// either event into `request`).
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let start = Instant::now();
        let (route, outcome) = self.route(&request).await;
        let status = outcome.response.status().as_u16();
        if self.sink == MetricsSink::Stdout {
            let metrics = RequestMetrics {
                model_source: outcome.model_source,
                error: status >= 500,
                fallback: outcome.fallback,
                latency_ms: start.elapsed().as_secs_f64() * 1e3,
                timestamp_ms: SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64),
                route,
                status,
                ingest: outcome.ingest,
            };
            println!("{}", metrics.to_emf());
        }
        outcome.response
    }

    async fn route(&self, request: &Request) -> (&'static str, Outcome) {
        // The path as the client sent it: without the stage prefix lambda_http adds to
        // `uri()` for REST APIs and named HTTP API stages.
        let path = request.raw_http_path();
        let path = if path.is_empty() {
            request.uri().path()
        } else {
            path
        };
        let path = path
            .strip_suffix('/')
            .filter(|p| !p.is_empty())
            .unwrap_or(path);
        let method = request.method();
        match (path, method) {
            ("/metrics", &Method::POST) => ("POST /metrics", self.ingest(request).await),
            ("/metrics", &Method::GET) => ("GET /metrics", self.list(request, List::Metrics).await),
            ("/insights", &Method::GET) => {
                ("GET /insights", self.list(request, List::Insights).await)
            }
            ("/metrics", _) => ("other", Outcome::plain(not_allowed("GET, POST"))),
            ("/insights", _) => ("other", Outcome::plain(not_allowed("GET"))),
            _ => (
                "other",
                Outcome::plain(json(
                    StatusCode::NOT_FOUND,
                    error_body(&format!("no route for {method} {path}")),
                )),
            ),
        }
    }

    async fn ingest(&self, request: &Request) -> Outcome {
        match self.service.ingest(request.body().as_ref()).await {
            Ok(answer) => {
                if answer.state_reset {
                    tracing::warn!(
                        metric_id = %answer.metric_id,
                        "host state could not be decoded (older format?); started afresh"
                    );
                }
                Outcome {
                    model_source: match (answer.scored_by, answer.fallback) {
                        // The dimension is the model the request was routed to.
                        (_, true) => "sagemaker",
                        (Some(source), false) => source.as_str(),
                        (None, false) => "none",
                    },
                    fallback: answer.fallback,
                    ingest: Some(answer.outcome.as_str()),
                    response: json(StatusCode::OK, answer.to_json()),
                }
            }
            Err(e) => Outcome::plain(service_error(&e)),
        }
    }

    async fn list(&self, request: &Request, what: List) -> Outcome {
        let params = request.query_string_parameters();
        let query = match self.service.parse_query(
            params.first("hostname"),
            params.first("since"),
            params.first("limit"),
        ) {
            Ok(q) => q,
            Err(e) => return Outcome::plain(service_error(&e)),
        };
        let answer = match what {
            List::Metrics => self.service.list_metrics(&query).await.map(|l| to_json(&l)),
            List::Insights => self
                .service
                .list_insights(&query)
                .await
                .map(|l| to_json(&l)),
        };
        Outcome::plain(match answer {
            Ok(body) => json(StatusCode::OK, body),
            Err(e) => service_error(&e),
        })
    }
}

#[derive(Clone, Copy)]
enum List {
    Metrics,
    Insights,
}

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| error_body("internal error"))
}

fn error_body(message: &str) -> String {
    serde_json::json!({ "error": message }).to_string()
}

fn service_error(e: &ServiceError) -> Response<Body> {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status.is_server_error() {
        // The body is generic; the details belong here.
        tracing::error!(status = status.as_u16(), error = %e, "request failed");
    }
    json(status, e.body())
}

fn not_allowed(allow: &'static str) -> Response<Body> {
    let mut r = json(
        StatusCode::METHOD_NOT_ALLOWED,
        error_body(&format!("method not allowed; use {allow}")),
    );
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    r
}

fn json(status: StatusCode, body: String) -> Response<Body> {
    let mut r = Response::new(Body::Text(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}
