//! The handler over API Gateway REST (v1) and HTTP (v2) events, deserialised by lambda_http
//! from real-shaped event JSON, on the in-memory SQLite store.

mod common;

use common::{app_from_vars, body, json_of, quiet, scheduled_event, v1, v2, v2_event};
use iops_lambda::App;
use lambda_http::{Context, LambdaEvent};
use serde_json::{json, Value};

async fn app() -> App {
    app_with(&[]).await
}

async fn app_with(extra: &[(&str, &str)]) -> App {
    let mut vars = vec![("IOPS_STORE", "memory")];
    vars.extend_from_slice(extra);
    app_from_vars(&vars).await
}

#[tokio::test]
async fn fixtures_verbatim_post_then_list() {
    let app = app().await;
    // The REST fixture as API Gateway sends it (stage `prod`, path /metrics).
    let event = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/apigw_v1_post_metrics.json"
    ))
    .unwrap();
    let r = app
        .handle(lambda_http::request::from_str(&event).unwrap())
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let answer = json_of(&r);
    assert_eq!(answer["message"], "Metric stored successfully");
    let id = answer["metricId"].as_str().unwrap().to_owned();
    assert!(!id.is_empty());
    assert_eq!(answer["insights"], json!([]));

    // The HTTP API fixture: GET /insights?hostname=web-1&since=...
    let event = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/apigw_v2_get_insights.json"
    ))
    .unwrap();
    let r = app
        .handle(lambda_http::request::from_str(&event).unwrap())
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(json_of(&r), json!({"insights": []}));

    // What was posted is listed, with its id, over both event versions.
    for request in [
        v1("GET", "/metrics", &[("hostname", "web-1")], None),
        v2(
            "GET",
            "/metrics",
            &[("hostname", "web-1"), ("since", "2026-11-26T17:00:00Z")],
            None,
        ),
    ] {
        let r = app.handle(request).await;
        assert_eq!(r.status(), 200);
        let listed = json_of(&r);
        assert_eq!(listed["metrics"].as_array().unwrap().len(), 1);
        assert_eq!(listed["metrics"][0]["metricId"], id.as_str());
        assert_eq!(listed["metrics"][0]["cpuUsage"], 75.5);
        assert_eq!(listed["metrics"][0]["hostname"], "web-1");
    }
    // `since` after the sample: nothing.
    let r = app
        .handle(v2(
            "GET",
            "/metrics",
            &[("hostname", "web-1"), ("since", "2026-11-26T17:00:01Z")],
            None,
        ))
        .await;
    assert_eq!(json_of(&r)["metrics"], json!([]));
}

#[tokio::test]
async fn spike_raises_an_insight_listed_with_its_model_source() {
    let app = app().await;
    for i in 0..550 {
        // Alternate event versions: both reach the same service.
        let b = quiet("db-1", i);
        let r = if i % 2 == 0 {
            app.handle(v1("POST", "/metrics", &[], Some(&b))).await
        } else {
            app.handle(v2("POST", "/metrics", &[], Some(&b))).await
        };
        assert_eq!(r.status(), 200, "{i}");
        assert_eq!(json_of(&r)["insights"], json!([]), "{i}");
    }
    let r = app
        .handle(v2("POST", "/metrics", &[], Some(&body("db-1", 550, 97.0))))
        .await;
    assert_eq!(r.status(), 200);
    let answer = json_of(&r);
    let insights = answer["insights"].as_array().unwrap();
    assert_eq!(insights.len(), 1, "{answer}");
    assert_eq!(insights[0]["type"], "cpu_spike");
    assert_eq!(insights[0]["modelSource"], "builtin");

    let r = app
        .handle(v1(
            "GET",
            "/insights",
            &[("hostname", "db-1"), ("since", "1764000000")],
            None,
        ))
        .await;
    assert_eq!(r.status(), 200);
    let listed = json_of(&r);
    assert_eq!(listed["insights"].as_array().unwrap().len(), 1);
    assert_eq!(listed["insights"][0]["insightId"], insights[0]["insightId"]);
    assert_eq!(listed["insights"][0]["value"], 97.0);

    // The same POST again (a client retry): same id, same insight, nothing new stored.
    let again = app
        .handle(v1("POST", "/metrics", &[], Some(&body("db-1", 550, 97.0))))
        .await;
    assert_eq!(json_of(&again)["metricId"], answer["metricId"]);
    assert_eq!(json_of(&again)["insights"], answer["insights"]);
    let r = app
        .handle(v1("GET", "/insights", &[("hostname", "db-1")], None))
        .await;
    assert_eq!(json_of(&r)["insights"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn bad_input_answers_400_naming_the_field_or_parameter() {
    let app = app().await;
    let bad_cpu = quiet("web-1", 0).replace("\"cpuUsage\":40", "\"cpuUsage\":140");
    for request in [
        v1("POST", "/metrics", &[], Some(&bad_cpu)),
        v2("POST", "/metrics", &[], Some(&bad_cpu)),
    ] {
        let r = app.handle(request).await;
        assert_eq!(r.status(), 400);
        let e = json_of(&r);
        assert_eq!(e["field"], "cpuUsage");
        assert!(e["error"].as_str().unwrap().contains("cpuUsage"), "{e}");
    }
    let r = app.handle(v2("POST", "/metrics", &[], None)).await;
    assert_eq!(r.status(), 400);
    assert_eq!(json_of(&r)["field"], "body");

    let cases: [(&[(&str, &str)], &str); 4] = [
        (&[], "hostname"),
        (&[("hostname", "web 1")], "hostname"),
        (&[("hostname", "web-1"), ("since", "yesterday")], "since"),
        (&[("hostname", "web-1"), ("limit", "0")], "limit"),
    ];
    for (query, field) in cases {
        for path in ["/metrics", "/insights"] {
            for request in [v1("GET", path, query, None), v2("GET", path, query, None)] {
                let r = app.handle(request).await;
                assert_eq!(r.status(), 400, "{path} {query:?}");
                let e = json_of(&r);
                assert_eq!(e["field"], field, "{path} {query:?}: {e}");
                assert!(e["error"].as_str().unwrap().contains(field), "{e}");
            }
        }
    }
    // Nothing was stored by any of it.
    let r = app
        .handle(v1("GET", "/metrics", &[("hostname", "web-1")], None))
        .await;
    assert_eq!(json_of(&r)["metrics"], json!([]));
}

#[tokio::test]
async fn oversized_body_answers_413_and_stores_nothing() {
    let app = app_with(&[("MAX_BODY_BYTES", "200")]).await;
    let padded = quiet("web-1", 0).replace("{", &format!("{{{}", " ".repeat(200)));
    let r = app.handle(v2("POST", "/metrics", &[], Some(&padded))).await;
    assert_eq!(r.status(), 413);
    assert!(json_of(&r)["error"].as_str().unwrap().contains("200"));
    let r = app
        .handle(v2("POST", "/metrics", &[], Some(&quiet("web-1", 0))))
        .await;
    assert_eq!(r.status(), 200, "a body under the limit passes");
    let r = app
        .handle(v1("GET", "/metrics", &[("hostname", "web-1")], None))
        .await;
    assert_eq!(json_of(&r)["metrics"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn reorder_window_seconds_decides_whether_a_late_sample_is_learned() {
    use iops_service::IngestOutcome;
    // Samples 5 minutes apart: 0, 1, 3 arrive in order, then 2 (5 minutes behind the newest),
    // then 4. Which of them the host's state learned shows in the next sample's `scored_after`.
    for (window, late_learned) in [
        (Some("0"), false),
        (Some("299"), false),
        (Some("300"), true),
        (None, true),
    ] {
        let vars: Vec<(&str, &str)> = window
            .map(|w| ("REORDER_WINDOW_SECONDS", w))
            .into_iter()
            .collect();
        let app = app_with(&vars).await;
        for i in [0, 1, 3] {
            let r = app
                .handle(v2("POST", "/metrics", &[], Some(&quiet("web-1", i))))
                .await;
            assert_eq!(r.status(), 200, "{window:?} {i}");
        }
        let late = app
            .service()
            .ingest(quiet("web-1", 2).as_bytes())
            .await
            .unwrap();
        assert_eq!(
            late.outcome,
            IngestOutcome::ScoredLate {
                learned: late_learned
            },
            "window {window:?}"
        );
        assert_eq!(late.scored_after, Some(3), "window {window:?}");
        let next = app
            .service()
            .ingest(quiet("web-1", 4).as_bytes())
            .await
            .unwrap();
        assert_eq!(next.outcome, IngestOutcome::Scored);
        assert_eq!(
            next.scored_after,
            Some(3 + u64::from(late_learned)),
            "window {window:?}"
        );
        // Learned or not, the late sample is stored and answered over the handler.
        let r = app
            .handle(v1("GET", "/metrics", &[("hostname", "web-1")], None))
            .await;
        assert_eq!(
            json_of(&r)["metrics"].as_array().unwrap().len(),
            5,
            "window {window:?}"
        );
    }
}

#[tokio::test]
async fn other_routes_answer_404_and_other_methods_405() {
    let app = app().await;
    for request in [
        v1("GET", "/", &[], None),
        v2("GET", "/health", &[], None),
        v1("POST", "/metrics/extra", &[], Some("{}")),
    ] {
        let r = app.handle(request).await;
        assert_eq!(r.status(), 404);
        assert!(json_of(&r)["error"].as_str().is_some());
    }
    for (request, allow) in [
        (v1("DELETE", "/metrics", &[], None), "GET, POST"),
        (v2("PUT", "/metrics", &[], Some("{}")), "GET, POST"),
        (v2("POST", "/insights", &[], Some("{}")), "GET"),
    ] {
        let r = app.handle(request).await;
        assert_eq!(r.status(), 405);
        assert_eq!(r.headers()["allow"], allow);
    }
    // A trailing slash is the same route.
    let r = app
        .handle(v2("GET", "/insights/", &[("hostname", "web-1")], None))
        .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn base64_encoded_body_is_decoded() {
    let app = app().await;
    let text = quiet("web-9", 3);
    // Standard base64, written out here to keep dev-dependencies small.
    let b64 = base64(text.as_bytes());
    let mut e: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/apigw_v2_get_insights.json"
        ))
        .unwrap(),
    )
    .unwrap();
    e["routeKey"] = json!("POST /metrics");
    e["rawPath"] = json!("/metrics");
    e["rawQueryString"] = json!("");
    e.as_object_mut().unwrap().remove("queryStringParameters");
    e["requestContext"]["http"]["method"] = json!("POST");
    e["requestContext"]["http"]["path"] = json!("/metrics");
    e["isBase64Encoded"] = json!(true);
    e["body"] = json!(b64);
    let r = app
        .handle(lambda_http::request::from_str(&e.to_string()).unwrap())
        .await;
    assert_eq!(r.status(), 200, "{:?}", r.body());
    let r = app
        .handle(v1("GET", "/metrics", &[("hostname", "web-9")], None))
        .await;
    assert_eq!(json_of(&r)["metrics"][0]["cpuUsage"], 43.0);
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[tokio::test]
async fn a_scheduled_event_sweeps_for_silent_hosts_and_api_events_still_answer() {
    let app = app().await;
    let invoke = |event: Value| app.invoke(LambdaEvent::new(event, Context::default()));
    // lambda-2 reports every 5 minutes for 20 samples, then stops; lambda-1 goes on
    for i in 0..40 {
        for host in ["lambda-1", "lambda-2"] {
            if host == "lambda-2" && i >= 20 {
                continue;
            }
            let event = v2_event("POST", "/metrics", &[], Some(&quiet(host, i)));
            let answer = invoke(event).await.unwrap();
            assert_eq!(answer["statusCode"], 200, "{answer}");
        }
    }
    let sweep = invoke(scheduled_event()).await.unwrap();
    assert_eq!(sweep["hosts"], 2, "{sweep}");
    let opened = sweep["opened"].as_array().unwrap();
    assert_eq!(opened.len(), 1, "{sweep}");
    assert_eq!(opened[0]["hostname"], "lambda-2");
    assert_eq!(opened[0]["severity"], "critical");
    assert_eq!(opened[0]["types"], json!(["host_stopped_reporting"]));
    // the scheduler's retry, or the next minute: nothing new
    let again = invoke(scheduled_event()).await.unwrap();
    assert_eq!(again["opened"], json!([]), "{again}");
    // the API lists it
    let listed = invoke(v2_event("GET", "/incidents", &[("status", "open")], None))
        .await
        .unwrap();
    assert_eq!(listed["statusCode"], 200, "{listed}");
    let listed: Value = serde_json::from_str(listed["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        listed["incidents"][0]["incidentId"],
        opened[0]["incidentId"]
    );
    // an event that is neither: an invocation error naming what was expected
    let err = invoke(json!({"hello": "world"}))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("API Gateway"), "{err}");
}

/// OTLP/HTTP through the Lambda's stack (the REST API's stage prefix, the shared router):
/// an export with delta sums gives its sample at once; the EMF lines count it by model.
#[tokio::test]
async fn otlp_exports_reach_the_same_route() {
    let app = app().await;
    let t = (common::T0 + 60) * 1_000_000_000;
    let point = |attrs: Value, value: Value| {
        json!({"attributes": attrs, "startTimeUnixNano": (t - 60_000_000_000).to_string(),
               "timeUnixNano": t.to_string(), "asDouble": value})
    };
    let kv = |k: &str, v: &str| json!({"key": k, "value": {"stringValue": v}});
    let sum = |name: &str, device: &str| {
        json!({"name": name, "unit": "By", "sum": {"aggregationTemporality": 1, "isMonotonic": true,
            "dataPoints": [point(json!([kv("device", device), kv("direction", "read")]), json!(6_000_000.0))]}})
    };
    let export = json!({"resourceMetrics": [{
        "resource": {"attributes": [kv("host.name", "otel-l")]},
        "scopeMetrics": [{"metrics": [
            {"name": "system.cpu.utilization", "gauge": {"dataPoints": [
                point(json!([kv("cpu", "0"), kv("state", "user")]), json!(0.25)),
                point(json!([kv("cpu", "0"), kv("state", "idle")]), json!(0.75))]}},
            {"name": "system.memory.utilization", "gauge": {"dataPoints": [
                point(json!([kv("state", "used")]), json!(0.4))]}},
            sum("system.disk.io", "sda"),
            sum("system.network.io", "eth0")
        ]}]
    }]})
    .to_string();
    let r = app
        .handle(v1("POST", "/v1/metrics", &[], Some(&export)))
        .await;
    assert_eq!(r.status(), 200, "{:?}", r.body());
    assert!(
        json_of(&r)["partialSuccess"].is_null(),
        "all went in: no partial success"
    );
    let r = app
        .handle(v1("GET", "/metrics", &[("hostname", "otel-l")], None))
        .await;
    let sample = &json_of(&r)["metrics"][0];
    assert_eq!(sample["cpuUsage"], 25.0);
    assert_eq!(sample["memoryUsage"], 40.0);
    assert_eq!(sample["diskIO"], 100.0, "6 MB over 60 s: 100 kB/s");
    assert_eq!(sample["networkIO"], 100.0);
}
