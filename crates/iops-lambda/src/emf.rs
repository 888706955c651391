//! CloudWatch Embedded Metric Format: one JSON line per request on stdout, which CloudWatch
//! Logs turns into metrics (namespace `iops`, dimension `ModelSource`) without any API call.
//!
//! `ModelSource` is the model the request was *routed* to: `builtin`, `sagemaker` (the canary
//! share, including requests that fell back), or `none` (not scored: GET, 4xx, duplicate
//! samples). So the canary monitor reads Fallbacks of `sagemaker`, and the runbook's
//! error-rate alarm (infra/template.yaml) adds Errors of every value to the function's
//! failed invocations: a 5xx answer is a successful invocation to Lambda.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use iops_service::http::{Ingested, IngestedBatch, Route};
use serde::Serialize;

/// The metric namespace.
pub const NAMESPACE: &str = "iops";

/// One request's measurements, for one `ModelSource` (a batch's samples may go to several:
/// one line each).
#[derive(Debug, Clone, PartialEq)]
pub struct RequestMetrics {
    /// `builtin`, `sagemaker` or `none` (see the module docs).
    pub model_source: &'static str,
    /// Samples (1 for a request that is not a batch).
    pub requests: u32,
    /// 5xx answers, or a batch's items that failed with one (client errors are not the
    /// service's errors).
    pub errors: u32,
    /// Samples the canary's call failed for, scored by the built-in model instead.
    pub fallbacks: u32,
    /// Handler time, milliseconds.
    pub latency_ms: f64,
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// The route, as a property for Logs Insights (not a dimension).
    pub route: &'static str,
    /// The HTTP status, as a property.
    pub status: u16,
    /// What a POST /metrics did with its sample (`scored`, `scored_late`, `scored_too_late`,
    /// `duplicate`: [`iops_service::IngestOutcome::as_str`]; `batch` for a batch), as a
    /// property: Logs Insights counts how much arrives late. `None` (left out) on other
    /// requests.
    pub ingest: Option<&'static str>,
}

/// Where the per-request EMF lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsSink {
    /// stdout, one line per request (the Lambda default: CloudWatch Logs reads it).
    Stdout,
    /// Nowhere (benches, tests).
    Off,
}

/// The layer's function (`axum::middleware::from_fn_with_state`): one line per request to
/// `sink`, whatever the router answered.
pub async fn record(State(sink): State<MetricsSink>, request: Request, next: Next) -> Response {
    let start = Instant::now();
    let response = next.run(request).await;
    if sink == MetricsSink::Stdout {
        let latency_ms = start.elapsed().as_secs_f64() * 1e3;
        let timestamp_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        for m in RequestMetrics::all_of(&response, latency_ms, timestamp_ms) {
            println!("{}", m.to_emf());
        }
    }
    response
}

/// The model a stored sample was routed to: the canary's share is `sagemaker` even when it
/// fell back.
fn routed_to(i: &Ingested) -> &'static str {
    match (i.scored_by, i.fallback) {
        (_, true) => "sagemaker",
        (Some(source), false) => source.as_str(),
        (None, false) => "none",
    }
}

#[derive(Serialize)]
struct Line<'a> {
    #[serde(rename = "_aws")]
    aws: Aws<'a>,
    #[serde(rename = "ModelSource")]
    model_source: &'a str,
    #[serde(rename = "Requests")]
    requests: u32,
    #[serde(rename = "Errors")]
    errors: u32,
    #[serde(rename = "Fallbacks")]
    fallbacks: u32,
    #[serde(rename = "LatencyMs")]
    latency_ms: f64,
    #[serde(rename = "Route")]
    route: &'a str,
    #[serde(rename = "StatusCode")]
    status: u16,
    #[serde(rename = "Ingest", skip_serializing_if = "Option::is_none")]
    ingest: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Aws<'a> {
    timestamp: u64,
    cloud_watch_metrics: [Directive<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Directive<'a> {
    namespace: &'a str,
    dimensions: [[&'a str; 1]; 1],
    metrics: [MetricDef<'a>; 4],
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct MetricDef<'a> {
    name: &'a str,
    unit: &'a str,
}

impl RequestMetrics {
    /// The measurements of one answered request, from what the router's response says it
    /// did ([`Route`]: `other` without one; [`Ingested`] on a stored sample).
    pub fn of(response: &Response, latency_ms: f64, timestamp_ms: u64) -> Self {
        let status = response.status().as_u16();
        let ingested = response.extensions().get::<Ingested>();
        RequestMetrics {
            model_source: ingested.map_or("none", routed_to),
            requests: 1,
            errors: u32::from(status >= 500),
            fallbacks: u32::from(ingested.is_some_and(|i| i.fallback)),
            latency_ms,
            timestamp_ms,
            route: response
                .extensions()
                .get::<Route>()
                .map_or("other", |r| r.as_str()),
            status,
            ingest: ingested.map(|i| i.outcome.as_str()),
        }
    }

    /// The measurements of one answered request, one per `ModelSource` its samples were
    /// routed to: a batch's stored items counted by model (`none`: duplicates, and the
    /// items that failed, its 5xx ones as errors); any other request as [`Self::of`].
    pub fn all_of(response: &Response, latency_ms: f64, timestamp_ms: u64) -> Vec<Self> {
        match response.extensions().get::<IngestedBatch>() {
            Some(batch) => Self::of_batch(
                batch,
                response
                    .extensions()
                    .get::<Route>()
                    .map_or(Route::PostMetrics.as_str(), |r| r.as_str()),
                response.status().as_u16(),
                latency_ms,
                timestamp_ms,
            ),
            None => vec![Self::of(response, latency_ms, timestamp_ms)],
        }
    }

    /// A batch's measurements (a POST /metrics array, or a stream's records under `route`
    /// `kinesis`), one per `ModelSource`: stored items counted by model (`none`: duplicates,
    /// and the items that failed, the 5xx ones as errors).
    pub fn of_batch(
        batch: &IngestedBatch,
        route: &'static str,
        status: u16,
        latency_ms: f64,
        timestamp_ms: u64,
    ) -> Vec<Self> {
        let line = |model_source| RequestMetrics {
            model_source,
            requests: 0,
            errors: 0,
            fallbacks: 0,
            latency_ms,
            timestamp_ms,
            route,
            status,
            ingest: Some("batch"),
        };
        let mut lines: Vec<RequestMetrics> = Vec::new();
        let mut count = |source: &'static str, errors: u32, fallbacks: u32, requests: u32| {
            let at = match lines.iter().position(|l| l.model_source == source) {
                Some(at) => at,
                None => {
                    lines.push(line(source));
                    lines.len() - 1
                }
            };
            let l = &mut lines[at];
            l.requests += requests;
            l.errors += errors;
            l.fallbacks += fallbacks;
        };
        for item in &batch.stored {
            count(routed_to(item), 0, u32::from(item.fallback), 1);
        }
        let failed = batch.client_errors + batch.server_errors;
        if failed > 0 {
            count("none", batch.server_errors, 0, failed);
        }
        lines
    }

    /// The EMF JSON line (without the newline).
    pub fn to_emf(&self) -> String {
        let line = Line {
            aws: Aws {
                timestamp: self.timestamp_ms,
                cloud_watch_metrics: [Directive {
                    namespace: NAMESPACE,
                    dimensions: [["ModelSource"]],
                    metrics: [
                        MetricDef {
                            name: "Requests",
                            unit: "Count",
                        },
                        MetricDef {
                            name: "Errors",
                            unit: "Count",
                        },
                        MetricDef {
                            name: "Fallbacks",
                            unit: "Count",
                        },
                        MetricDef {
                            name: "LatencyMs",
                            unit: "Milliseconds",
                        },
                    ],
                }],
            },
            model_source: self.model_source,
            requests: self.requests,
            errors: self.errors,
            fallbacks: self.fallbacks,
            latency_ms: if self.latency_ms.is_finite() {
                self.latency_ms
            } else {
                0.0
            },
            route: self.route,
            status: self.status,
            ingest: self.ingest,
        };
        // Cannot fail: strings, integers and a finite float.
        serde_json::to_string(&line).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    #[test]
    fn the_line_is_valid_emf() {
        let m = RequestMetrics {
            model_source: "sagemaker",
            requests: 1,
            errors: 0,
            fallbacks: 1,
            latency_ms: 12.5,
            timestamp_ms: 1_795_000_000_123,
            route: "POST /metrics",
            status: 200,
            ingest: Some("scored_late"),
        };
        let line = m.to_emf();
        assert!(!line.contains('\n'));
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            v,
            json!({
                "_aws": {
                    "Timestamp": 1_795_000_000_123u64,
                    "CloudWatchMetrics": [{
                        "Namespace": "iops",
                        "Dimensions": [["ModelSource"]],
                        "Metrics": [
                            {"Name": "Requests", "Unit": "Count"},
                            {"Name": "Errors", "Unit": "Count"},
                            {"Name": "Fallbacks", "Unit": "Count"},
                            {"Name": "LatencyMs", "Unit": "Milliseconds"}
                        ]
                    }]
                },
                "ModelSource": "sagemaker",
                "Requests": 1,
                "Errors": 0,
                "Fallbacks": 1,
                "LatencyMs": 12.5,
                "Route": "POST /metrics",
                "StatusCode": 200,
                "Ingest": "scored_late"
            })
        );
        // Every dimension and metric the directive names is a top-level member (EMF's rule).
        let d = &v["_aws"]["CloudWatchMetrics"][0];
        for name in d["Dimensions"][0].as_array().unwrap() {
            assert!(v.get(name.as_str().unwrap()).is_some());
        }
        for metric in d["Metrics"].as_array().unwrap() {
            assert!(v[metric["Name"].as_str().unwrap()].is_number());
        }
    }

    /// The router's answers, measured: the route it names (or `other`), the status, and for
    /// a stored sample the model it was routed to and what happened to it.
    #[tokio::test]
    async fn measurements_come_from_the_router_answer() {
        use std::sync::Arc;

        use iops_service::http::Api;
        use iops_service::Service;
        use tower::ServiceExt;

        let store = Arc::new(iops_store::SqliteStore::open_in_memory().unwrap());
        let service = Service::new(store, iops_core::engine::EngineConfig::default());
        let router = Api::new(Arc::new(service)).router();
        let call = |method: &str, uri: &str, body: &str| {
            let request = axum::http::Request::builder()
                .method(method)
                .uri(uri)
                .body(axum::body::Body::from(body.to_owned()))
                .unwrap();
            router.clone().oneshot(request)
        };
        let sample = r#"{"timestamp":"2026-11-26T17:00:00Z","hostname":"web-1","cpuUsage":75.5,"memoryUsage":82.3,"diskIO":200.5,"networkIO":150.2}"#;
        let cases = [
            (
                "POST",
                "/metrics",
                sample,
                "POST /metrics",
                200,
                "builtin",
                Some("scored"),
            ),
            (
                "POST",
                "/metrics",
                sample,
                "POST /metrics",
                200,
                "none",
                Some("duplicate"),
            ),
            ("POST", "/metrics", "{", "POST /metrics", 400, "none", None),
            (
                "GET",
                "/metrics?hostname=web-1",
                "",
                "GET /metrics",
                200,
                "none",
                None,
            ),
            ("GET", "/insights", "", "GET /insights", 400, "none", None),
            ("GET", "/", "", "other", 404, "none", None),
            ("PUT", "/metrics", "", "other", 405, "none", None),
        ];
        for (method, uri, body, route, status, source, ingest) in cases {
            let response = call(method, uri, body).await.unwrap();
            let m = RequestMetrics::of(&response, 1.5, 7);
            let want = RequestMetrics {
                model_source: source,
                requests: 1,
                errors: 0,
                fallbacks: 0,
                latency_ms: 1.5,
                timestamp_ms: 7,
                route,
                status,
                ingest,
            };
            assert_eq!(m, want, "{method} {uri}");
        }
    }

    /// A batch is one line per model its samples went to: stored items by model, the
    /// duplicates and failed items under `none` (its 5xx ones as errors).
    #[tokio::test]
    async fn a_batch_is_counted_by_model() {
        use std::sync::Arc;

        use iops_service::http::Api;
        use iops_service::Service;
        use tower::ServiceExt;

        let store = Arc::new(iops_store::SqliteStore::open_in_memory().unwrap());
        let service = Service::new(store, iops_core::engine::EngineConfig::default());
        let router = Api::new(Arc::new(service)).router();
        let at = |i: u64, cpu: f64| {
            format!(
                r#"{{"timestamp":{},"hostname":"emf-1","cpuUsage":{cpu},"memoryUsage":60,"diskIO":100,"networkIO":50}}"#,
                1_764_000_000 + i * 60
            )
        };
        let body = format!(
            "[{},{},{},{}]",
            at(0, 40.0),
            at(1, 41.0),
            at(2, 140.0),
            at(0, 40.0)
        );
        let request = axum::http::Request::post("/metrics")
            .body(axum::body::Body::from(body))
            .unwrap();
        let response = router.oneshot(request).await.unwrap();
        assert_eq!(response.status(), 200);
        let lines = RequestMetrics::all_of(&response, 2.0, 9);
        let counts: Vec<_> = lines
            .iter()
            .map(|l| (l.model_source, l.requests, l.errors, l.fallbacks, l.status))
            .collect();
        assert_eq!(counts, [("builtin", 2, 0, 0, 200), ("none", 2, 0, 0, 200)]);
        assert!(lines
            .iter()
            .all(|l| l.route == "POST /metrics" && l.ingest == Some("batch")));
    }

    #[test]
    fn errors_count_and_non_finite_latency_is_zero() {
        let v: Value = serde_json::from_str(
            &RequestMetrics {
                model_source: "none",
                requests: 1,
                errors: 1,
                fallbacks: 0,
                latency_ms: f64::NAN,
                timestamp_ms: 0,
                route: "GET /insights",
                status: 500,
                ingest: None,
            }
            .to_emf(),
        )
        .unwrap();
        assert_eq!(v["Errors"], 1);
        assert_eq!(v["LatencyMs"], 0.0);
        assert_eq!(v["ModelSource"], "none");
        assert!(
            v.get("Ingest").is_none(),
            "only a POST /metrics says what it did"
        );
    }
}
