//! The API's cases, run against every runtime that serves it: the router alone
//! (iops-service's tests/api.rs), the Lambda's stack (iops-lambda's tests/api.rs) and
//! `iops serve`'s router (iops-cli's serve tests), each included with `#[path]`. A runtime
//! passes [`all`] a function answering one request, over an empty store with a body limit of
//! [`LIMIT`] bytes; every runtime must answer each request the same.
#![allow(dead_code)]

use std::future::Future;

use axum::http::{HeaderMap, Request};
use serde_json::{json, Value};

/// The body limit the runtime under test is built with.
pub const LIMIT: usize = 400;

/// One answer, as the runtime's client sees it.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    /// An axum response, read to its end.
    pub async fn read(response: axum::response::Response) -> Answer {
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        Answer {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

pub fn request(method: &str, uri: &str, body: &str) -> Request<Vec<u8>> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(body.as_bytes().to_vec())
        .unwrap()
}

pub fn sample(host: &str, cpu: f64) -> String {
    format!(
        r#"{{"timestamp":"2026-11-26T17:00:00Z","hostname":"{host}","cpuUsage":{cpu},"memoryUsage":82.3,"diskIO":200.5,"networkIO":150.2}}"#
    )
}

/// Every case, in turn, on one runtime.
pub async fn all(call: impl Call) {
    post_then_list(&call).await;
    bad_input_names_the_field(&call).await;
    oversized_bodies(&call).await;
    other_routes_and_methods(&call).await;
    a_spike_opens_an_incident_the_api_serves(&call).await;
    a_batch_answers_each_item(&call).await;
    maintenance_windows_and_mutes(&call).await;
}

/// A runtime under test: a function answering one request.
pub trait Call {
    fn call(&self, request: Request<Vec<u8>>) -> impl Future<Output = Answer>;
}

impl<F: Fn(Request<Vec<u8>>) -> Fut, Fut: Future<Output = Answer>> Call for F {
    fn call(&self, request: Request<Vec<u8>>) -> impl Future<Output = Answer> {
        self(request)
    }
}

async fn post_then_list(call: &impl Call) {
    let r = call
        .call(request("POST", "/metrics", &sample("case-1", 75.5)))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.headers["content-type"], "application/json");
    let first = r.json();
    assert_eq!(first["message"], "Metric stored successfully");
    assert_eq!(first["insights"], json!([]));
    let id = first["metricId"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 32, "{id}");
    // A retry: the same id, nothing new stored.
    let again = call
        .call(request("POST", "/metrics/", &sample("case-1", 75.5)))
        .await;
    assert_eq!(
        (again.status, again.json()["metricId"].as_str()),
        (200, Some(id.as_str()))
    );

    for uri in [
        "/metrics?hostname=case-1",
        "/metrics/?hostname=case-1",
        "/metrics?hostname=case%2D1&since=2026-11-26T17:00:00Z",
        // the first of a repeated parameter counts
        "/metrics?hostname=case-1&hostname=nobody",
    ] {
        let r = call.call(request("GET", uri, "")).await;
        assert_eq!(r.status, 200, "{uri}: {}", r.body);
        assert_eq!(r.headers["content-type"], "application/json");
        let listed = r.json();
        assert_eq!(
            listed["metrics"].as_array().unwrap().len(),
            1,
            "{uri}: {listed}"
        );
        assert_eq!(listed["metrics"][0]["metricId"], id.as_str());
        assert_eq!(listed["metrics"][0]["cpuUsage"], 75.5);
    }
    let r = call
        .call(request(
            "GET",
            "/metrics?hostname=case-1&since=2026-11-26T17:00:01Z",
            "",
        ))
        .await;
    assert_eq!(r.json(), json!({"metrics": []}));
    let r = call
        .call(request("GET", "/insights?hostname=case-1&limit=5", ""))
        .await;
    assert_eq!((r.status, r.json()), (200, json!({"insights": []})));
}

async fn bad_input_names_the_field(call: &impl Call) {
    for (body, field) in [
        (sample("case-2", 140.0), "cpuUsage"),
        (sample("case 2", 40.0), "hostname"),
        ("{not json".to_owned(), "body"),
        (String::new(), "body"),
        // a sender's clock years ahead (its samples would stop the host from learning)
        (
            r#"{"timestamp":"9999-12-31T23:59:59Z","hostname":"case-2","cpuUsage":1,"memoryUsage":1,"diskIO":1,"networkIO":1}"#
                .to_owned(),
            "timestamp",
        ),
    ] {
        let r = call.call(request("POST", "/metrics", &body)).await;
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        let e = r.json();
        assert_eq!(e["field"], field, "{body}: {e}");
        assert!(e["error"].as_str().unwrap().contains(field), "{e}");
    }
    for (query, field) in [
        ("", "hostname"),
        ("?hostname=web%201", "hostname"),
        ("?hostname=case-2&since=yesterday", "since"),
        ("?hostname=case-2&limit=0", "limit"),
    ] {
        for path in ["/metrics", "/insights"] {
            let r = call
                .call(request("GET", &format!("{path}{query}"), ""))
                .await;
            assert_eq!(r.status, 400, "{path}{query}");
            let e = r.json();
            assert_eq!(e["field"], field, "{path}{query}: {e}");
        }
    }
    let r = call
        .call(request("GET", "/metrics?hostname=case-2", ""))
        .await;
    assert_eq!(r.json(), json!({"metrics": []}), "nothing stored");
}

async fn oversized_bodies(call: &impl Call) {
    let padded = |size: usize| {
        let s = sample("case-3", 40.0);
        format!("{{{}{}", " ".repeat(size - s.len()), &s[1..])
    };
    let r = call
        .call(request("POST", "/metrics", &padded(LIMIT + 1)))
        .await;
    assert_eq!(r.status, 413, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"error": format!("request body is {} bytes, larger than the limit of {LIMIT} bytes", LIMIT + 1)})
    );
    let r = call
        .call(request("GET", "/metrics?hostname=case-3", ""))
        .await;
    assert_eq!(r.json(), json!({"metrics": []}), "nothing stored");
    let r = call.call(request("POST", "/metrics", &padded(LIMIT))).await;
    assert_eq!(r.status, 200, "a body of the limit passes: {}", r.body);
}

async fn other_routes_and_methods(call: &impl Call) {
    for (method, uri, message) in [
        ("GET", "/nowhere", "no route for GET /nowhere"),
        ("GET", "/nowhere/", "no route for GET /nowhere"),
        ("POST", "/metrics/extra", "no route for POST /metrics/extra"),
    ] {
        let r = call.call(request(method, uri, "{}")).await;
        assert_eq!(r.status, 404, "{method} {uri}");
        assert_eq!(r.headers["content-type"], "application/json");
        assert_eq!(r.json(), json!({ "error": message }));
    }
    for (method, uri, allow) in [
        ("DELETE", "/metrics", "GET, POST"),
        ("PUT", "/metrics/", "GET, POST"),
        ("POST", "/insights", "GET"),
        ("POST", "/incidents", "GET"),
        ("DELETE", "/incidents/x/", "GET"),
    ] {
        let r = call.call(request(method, uri, "{}")).await;
        assert_eq!(r.status, 405, "{method} {uri}");
        assert_eq!(r.headers["allow"], allow, "{method} {uri}");
        assert_eq!(
            r.json(),
            json!({ "error": format!("method not allowed; use {allow}") })
        );
    }
    // The API has no HEAD (the Lambda never answered it as a GET).
    let r = call
        .call(request("HEAD", "/insights?hostname=case-1", ""))
        .await;
    assert_eq!(
        (r.status, &r.headers["allow"]),
        (405, &"GET".parse().unwrap())
    );
}

/// A sample of the quiet host `inc-1` (CPU 40% plus a little, every 5 minutes).
fn inc_sample(i: u64, cpu: f64) -> String {
    format!(
        r#"{{"timestamp":{},"hostname":"inc-1","cpuUsage":{cpu},"memoryUsage":60,"diskIO":100,"networkIO":50}}"#,
        1_764_000_000 + i * 300
    )
}

async fn a_spike_opens_an_incident_the_api_serves(call: &impl Call) {
    for i in 0..550 {
        let cpu = 40.0 + (i % 7) as f64;
        let r = call
            .call(request("POST", "/metrics", &inc_sample(i, cpu)))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let r = call
        .call(request("POST", "/metrics", &inc_sample(550, 97.0)))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let raised = r.json()["insights"][0].clone();
    let id = raised["incidentId"]
        .as_str()
        .unwrap_or_else(|| panic!("the spike's insight names no incident: {}", r.body))
        .to_owned();
    let open = call
        .call(request("GET", "/incidents?status=open", ""))
        .await;
    assert_eq!(open.status, 200, "{}", open.body);
    let listed = open.json()["incidents"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 1, "{}", open.body);
    let incident = &listed[0];
    assert_eq!(incident["incidentId"], id.as_str());
    assert_eq!(incident["hostname"], "inc-1");
    assert_eq!(incident["status"], "open");
    assert_eq!(incident["severity"], raised["severity"]);
    assert_eq!(incident["types"], json!(["cpu_spike"]));
    assert_eq!(incident["peak"]["metric"], "cpuUsage");
    assert_eq!(incident["peak"]["value"], 97.0);
    assert_eq!(incident["summary"], raised["message"]);
    for uri in [format!("/incidents/{id}"), format!("/incidents/{id}/")] {
        let one = call.call(request("GET", &uri, "")).await;
        assert_eq!(one.status, 200, "{uri}: {}", one.body);
        assert_eq!(&one.json(), incident);
    }
    for uri in [
        "/incidents?hostname=inc-1",
        "/incidents?status=open&hostname=inc-1&since=2025-11-26T00:00:00Z&limit=5",
    ] {
        let r = call.call(request("GET", uri, "")).await;
        assert_eq!(
            r.json()["incidents"].as_array().map(Vec::len),
            Some(1),
            "{uri}"
        );
    }
    for uri in [
        "/incidents?status=resolved",
        "/incidents?hostname=someone-else",
        "/incidents?since=2030-01-01T00:00:00Z",
    ] {
        let r = call.call(request("GET", uri, "")).await;
        assert_eq!(r.json(), json!({ "incidents": [] }), "{uri}");
    }
    let missing = call
        .call(request(
            "GET",
            "/incidents/0000000000000-0000000000000000",
            "",
        ))
        .await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.json(),
        json!({ "error": "no incident \"0000000000000-0000000000000000\"" })
    );
    for (uri, field) in [
        ("/incidents?status=closed", "status"),
        ("/incidents?hostname=a%20b", "hostname"),
        ("/incidents?since=yesterday", "since"),
        ("/incidents?limit=0", "limit"),
    ] {
        let r = call.call(request("GET", uri, "")).await;
        assert_eq!(r.status, 400, "{uri}: {}", r.body);
        assert_eq!(r.json()["field"], field, "{uri}");
    }
}

/// A sample of `host` at `T0 + i` minutes.
fn sample_at(host: &str, i: u64, cpu: f64) -> String {
    format!(
        r#"{{"timestamp":{},"hostname":"{host}","cpuUsage":{cpu},"memoryUsage":60,"diskIO":100,"networkIO":50}}"#,
        1_764_000_000 + i * 60
    )
}

async fn a_batch_answers_each_item(call: &impl Call) {
    let items = [
        sample_at("case-b", 0, 40.0),
        sample_at("case-b", 1, 140.0),
        sample_at("case-c", 0, 40.0),
        sample_at("case-b", 2, 41.0),
    ];
    let body = format!("[{}]", items.join(","));
    let r = call.call(request("POST", "/metrics", &body)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.headers["content-type"], "application/json");
    let answer = r.json();
    assert_eq!(answer["message"], "Batch processed");
    assert_eq!(
        (answer["stored"].as_u64(), answer["failed"].as_u64()),
        (Some(3), Some(1))
    );
    let statuses: Vec<_> = answer["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [200, 400, 200, 200], "{answer}");
    assert_eq!(answer["items"][1]["field"], "cpuUsage");
    assert_eq!(
        answer["items"][0]["metricId"].as_str().map(str::len),
        Some(32)
    );
    let listed = call
        .call(request("GET", "/metrics?hostname=case-b", ""))
        .await
        .json();
    assert_eq!(
        listed["metrics"].as_array().map(Vec::len),
        Some(2),
        "{listed}"
    );
    assert_eq!(
        listed["metrics"][0]["metricId"],
        answer["items"][0]["metricId"]
    );

    // refused whole: not an array of samples, or too many of them; nothing stored
    let r = call.call(request("POST", "/metrics", "[1,")).await;
    assert_eq!((r.status, r.json()["field"].clone()), (400, json!("body")));
    let many: Vec<String> = (0..1001).map(|i| sample_at("case-d", i, 40.0)).collect();
    let r = call
        .call(request(
            "POST",
            "/metrics",
            &format!("[{}]", many.join(",")),
        ))
        .await;
    assert_eq!(r.status, 413, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"error": "batch holds 1001 samples, more than the limit of 1000"})
    );
    let r = call
        .call(request("GET", "/metrics?hostname=case-d", ""))
        .await;
    assert_eq!(r.json(), json!({"metrics": []}), "nothing stored");
}

/// Now by this machine's clock, to the minute (the runtimes judge windows and samples by it).
fn minute_now() -> u64 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    secs / 60 * 60
}

/// A sample of `host` at epoch second `t`.
fn sample_epoch(host: &str, t: u64, cpu: f64) -> String {
    format!(
        r#"{{"timestamp":{t},"hostname":"{host}","cpuUsage":{cpu},"memoryUsage":60,"diskIO":100,"networkIO":50}}"#
    )
}

/// A maintenance window: samples inside are stored and listed but raise nothing and are not
/// learned (a spike right after it is still news); windows are listed while not over (or
/// since a time), deleted by id; mutes likewise; bad requests name their field.
async fn maintenance_windows_and_mutes(call: &impl Call) {
    // 5-minute samples over two days before now: a calibrated host, as inc-1's
    let base = minute_now() / 300 * 300 - 2 * 86_400;
    let post = |t: u64, cpu: f64| async move {
        let r = call
            .call(request("POST", "/metrics", &sample_epoch("mnt-1", t, cpu)))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    };
    for i in 0..550 {
        post(base + i * 300, 40.0 + (i % 7) as f64).await;
    }
    let (start, end) = (base + 550 * 300, base + 556 * 300);
    let declared = call
        .call(request(
            "POST",
            "/maintenance",
            &format!(
                r#"{{"hostname":"mnt-1","start":{start},"end":{end},"reason":"kernel upgrade"}}"#
            ),
        ))
        .await;
    assert_eq!(declared.status, 201, "{}", declared.body);
    let window = declared.json();
    assert_eq!(
        (&window["kind"], &window["hostname"], &window["reason"]),
        (
            &json!("maintenance"),
            &json!("mnt-1"),
            &json!("kernel upgrade")
        )
    );
    let id = window["windowId"].as_str().unwrap().to_owned();
    // inside: stored, nothing raised, though CPU is pinned
    for i in 550..556 {
        let answer = post(base + i * 300, 99.0).await;
        assert_eq!(answer["insights"], json!([]), "minute {i}: {answer}");
    }
    let stored = call
        .call(request(
            "GET",
            &format!("/metrics?hostname=mnt-1&since={start}"),
            "",
        ))
        .await;
    assert_eq!(stored.json()["metrics"].as_array().map(Vec::len), Some(6));
    // after: the same value is news, against the level before the window
    let after = post(end, 99.0).await;
    let raised = &after["insights"][0];
    assert_eq!(raised["metric"], "cpuUsage", "{after}");
    assert!(raised["expected"].as_f64().unwrap() < 50.0, "{after}");

    // listed since a time, not once over; deleted once
    let since = format!("/maintenance?since={base}&hostname=mnt-1");
    let listed = call.call(request("GET", &since, "")).await;
    assert_eq!(listed.json()["windows"], json!([window]), "{}", listed.body);
    let current = call.call(request("GET", "/maintenance", "")).await;
    assert_eq!(
        (current.status, current.json()),
        (200, json!({"windows": []}))
    );
    let other = call
        .call(request(
            "GET",
            &format!("/maintenance?since={base}&hostname=mnt-2"),
            "",
        ))
        .await;
    assert_eq!(other.json(), json!({"windows": []}));
    let gone = call
        .call(request("DELETE", &format!("/maintenance/{id}"), ""))
        .await;
    assert_eq!((gone.status, gone.body.as_str()), (204, ""));
    let again = call
        .call(request("DELETE", &format!("/maintenance/{id}/"), ""))
        .await;
    assert_eq!(again.status, 404);
    assert_eq!(
        again.json(),
        json!({ "error": format!("no maintenance window \"{id}\"") })
    );

    // a mute, current (it ends in an hour), of one type
    let until = minute_now() + 3600;
    let muted = call
        .call(request(
            "POST",
            "/mutes",
            &format!(r#"{{"hostname":"*","type":"cpu_spike","end":{until}}}"#),
        ))
        .await;
    assert_eq!(muted.status, 201, "{}", muted.body);
    let mute = muted.json();
    assert_eq!(
        (&mute["kind"], &mute["type"]),
        (&json!("mute"), &json!("cpu_spike"))
    );
    let listed = call.call(request("GET", "/mutes?hostname=web-9", "")).await;
    assert_eq!(listed.json(), json!({ "windows": [mute] }));
    let id = mute["windowId"].as_str().unwrap();
    let wrong_kind = call
        .call(request("DELETE", &format!("/maintenance/{id}"), ""))
        .await;
    assert_eq!(wrong_kind.status, 404);
    let gone = call
        .call(request("DELETE", &format!("/mutes/{id}"), ""))
        .await;
    assert_eq!(gone.status, 204);

    let later = minute_now() + 60;
    for (uri, body, field) in [
        ("/maintenance", r#"{"hostname":"mnt-1"}"#.to_owned(), "end"),
        (
            "/maintenance",
            format!(r#"{{"hostname":"mnt-1","start":{later},"end":{base}}}"#),
            "end",
        ),
        (
            "/maintenance",
            format!(r#"{{"hostname":"mnt-1","end":{}}}"#, later + 8 * 86_400),
            "end",
        ),
        (
            "/maintenance",
            format!(r#"{{"hostname":"mnt 1","end":{later}}}"#),
            "hostname",
        ),
        (
            "/maintenance",
            format!(r#"{{"hostname":"mnt-1","end":{later},"type":"cpu_spike"}}"#),
            "type",
        ),
        (
            "/maintenance",
            format!(r#"{{"hostname":"mnt-1","end":{later},"until":1}}"#),
            "until",
        ),
        ("/maintenance", "[]".to_owned(), "body"),
        (
            "/mutes",
            format!(r#"{{"hostname":"mnt-1","end":{later},"type":"cpu"}}"#),
            "type",
        ),
        (
            "/mutes",
            format!(r#"{{"hostname":"mnt-1","start":"soon","end":{later}}}"#),
            "start",
        ),
    ] {
        let r = call.call(request("POST", uri, &body)).await;
        assert_eq!(r.status, 400, "{uri} {body}: {}", r.body);
        assert_eq!(r.json()["field"], field, "{uri} {body}");
    }
    for (uri, field) in [
        ("/maintenance?hostname=a%20b", "hostname"),
        ("/mutes?since=yesterday", "since"),
    ] {
        let r = call.call(request("GET", uri, "")).await;
        assert_eq!(
            (r.status, r.json()["field"].clone()),
            (400, json!(field)),
            "{uri}"
        );
    }
    for (method, uri, allow) in [
        ("PUT", "/maintenance", "GET, POST"),
        ("GET", "/maintenance/x", "DELETE"),
        ("POST", "/mutes/x/", "DELETE"),
    ] {
        let r = call.call(request(method, uri, "{}")).await;
        assert_eq!(
            (r.status, &r.headers["allow"]),
            (405, &allow.parse().unwrap()),
            "{method} {uri}"
        );
    }
}
