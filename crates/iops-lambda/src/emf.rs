//! CloudWatch Embedded Metric Format: one JSON line per request on stdout, which CloudWatch
//! Logs turns into metrics (namespace `iops`, dimension `ModelSource`) without any API call.
//!
//! `ModelSource` is the model the request was *routed* to: `builtin`, `sagemaker` (the canary
//! share, including requests that fell back), or `none` (not scored: GET, 4xx, duplicate
//! samples). So the canary monitor reads Fallbacks of `sagemaker`, and the runbook's
//! error-rate alarm (infra/template.yaml) adds Errors of every value to the function's
//! failed invocations: a 5xx answer is a successful invocation to Lambda.

use serde::Serialize;

/// The metric namespace.
pub const NAMESPACE: &str = "iops";

/// One request's measurements.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestMetrics {
    /// `builtin`, `sagemaker` or `none` (see the module docs).
    pub model_source: &'static str,
    /// True for a 5xx answer (client errors are not the service's errors).
    pub error: bool,
    /// True when the canary's call failed and the built-in model scored instead.
    pub fallback: bool,
    /// Handler time, milliseconds.
    pub latency_ms: f64,
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// The route, as a property for Logs Insights (not a dimension).
    pub route: &'static str,
    /// The HTTP status, as a property.
    pub status: u16,
    /// What a POST /metrics did with its sample (`scored`, `scored_late`, `scored_too_late`,
    /// `duplicate`: [`iops_service::IngestOutcome::as_str`]), as a property: Logs Insights
    /// counts how much arrives late. `None` (left out) on other requests.
    pub ingest: Option<&'static str>,
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
            requests: 1,
            errors: u32::from(self.error),
            fallbacks: u32::from(self.fallback),
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
            error: false,
            fallback: true,
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

    #[test]
    fn errors_count_and_non_finite_latency_is_zero() {
        let v: Value = serde_json::from_str(
            &RequestMetrics {
                model_source: "none",
                error: true,
                fallback: false,
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
