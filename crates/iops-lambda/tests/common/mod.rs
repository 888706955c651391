//! Shared test helpers: API Gateway events built from the real-shaped fixtures, bodies, and
//! the handler built from a set of environment variables.
#![allow(dead_code)]

use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};

pub const T0: u64 = 1_764_000_000;

pub fn body(host: &str, i: u64, cpu: f64) -> String {
    format!(
        r#"{{"timestamp":{},"hostname":"{host}","cpuUsage":{cpu},"memoryUsage":60,"diskIO":100,"networkIO":50}}"#,
        T0 + i * 300
    )
}

/// The engine's quiet host: CPU 40 % plus a little.
pub fn quiet(host: &str, i: u64) -> String {
    body(host, i, 40.0 + (i % 7) as f64)
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A REST API (v1) event from the fixture, stage `prod`, with this method, path, query and body.
pub fn v1(method: &str, path: &str, query: &[(&str, &str)], body: Option<&str>) -> Request {
    let mut e = fixture("apigw_v1_post_metrics.json");
    e["httpMethod"] = json!(method);
    e["path"] = json!(path);
    e["resource"] = json!(path);
    e["requestContext"]["httpMethod"] = json!(method);
    e["requestContext"]["resourcePath"] = json!(path);
    e["requestContext"]["path"] = json!(format!("/prod{path}"));
    if query.is_empty() {
        e["queryStringParameters"] = Value::Null;
        e["multiValueQueryStringParameters"] = Value::Null;
    } else {
        let single: serde_json::Map<String, Value> = query
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        // A repeated parameter: every value in the multi-value map, the last in the other
        // (as API Gateway sends them).
        let mut multi = serde_json::Map::new();
        for (k, v) in query {
            multi
                .entry(k.to_string())
                .or_insert_with(|| json!([]))
                .as_array_mut()
                .unwrap()
                .push(json!(v));
        }
        e["queryStringParameters"] = Value::Object(single);
        e["multiValueQueryStringParameters"] = Value::Object(multi);
    }
    e["body"] = body.map_or(Value::Null, |b| json!(b));
    lambda_http::request::from_str(&e.to_string()).unwrap()
}

/// An HTTP API (v2) event from the fixture, stage `$default`.
pub fn v2(method: &str, path: &str, query: &[(&str, &str)], body: Option<&str>) -> Request {
    lambda_http::request::from_str(&v2_event(method, path, query, body).to_string()).unwrap()
}

/// The JSON of [`v2`]'s event, as the runtime hands it to the function.
pub fn v2_event(method: &str, path: &str, query: &[(&str, &str)], body: Option<&str>) -> Value {
    let mut e = fixture("apigw_v2_get_insights.json");
    e["routeKey"] = json!(format!("{method} {path}"));
    e["requestContext"]["routeKey"] = e["routeKey"].clone();
    e["rawPath"] = json!(path);
    e["requestContext"]["http"]["method"] = json!(method);
    e["requestContext"]["http"]["path"] = json!(path);
    e["rawQueryString"] = json!(query
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&"));
    if query.is_empty() {
        e.as_object_mut().unwrap().remove("queryStringParameters");
    } else {
        e["queryStringParameters"] = Value::Object(
            query
                .iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect(),
        );
    }
    if let Some(b) = body {
        e["body"] = json!(b);
        e["headers"]["content-type"] = json!("application/json");
    }
    e
}

/// The event an EventBridge schedule (the SAM template's every-minute rule) sends.
pub fn scheduled_event() -> Value {
    json!({
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-12-02T16:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/iops-SilentHostSweep"],
        "detail": {}
    })
}

/// The response body as JSON.
pub fn json_of(r: &Response<Body>) -> Value {
    serde_json::from_slice(r.body().as_ref()).unwrap()
}

/// The handler as `bootstrap` builds it from these environment variables (nothing else is
/// read from the process environment), with metrics off.
pub async fn app_from_vars(vars: &[(&str, &str)]) -> iops_lambda::App {
    let config = iops_lambda::Config::from_lookup(|k| {
        vars.iter()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| v.to_string())
    })
    .unwrap();
    iops_lambda::build(&config, iops_lambda::MetricsSink::Off)
        .await
        .unwrap()
}

/// Static test credentials and a region, so the SDK signs without looking anywhere else
/// (set identically by every test: concurrent writers agree).
pub fn aws_env() {
    for (k, v) in [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ] {
        std::env::set_var(k, v);
    }
}

/// A port of 127.0.0.1 free a moment ago, for a server the test starts.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A Kinesis Data Streams event as Lambda delivers it (the shape of AWS's documented
/// example), one record per `(partition key, data)`, sequence numbers from `first_sequence`.
pub fn kinesis_event(records: &[(&str, &[u8])], first_sequence: u64) -> Value {
    use base64::Engine;
    let records: Vec<Value> = records
        .iter()
        .enumerate()
        .map(|(k, (key, data))| {
            let sequence = format!(
                "4959033827149025660855969253836157109592157598913658{:04}",
                first_sequence + k as u64
            );
            json!({
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": key,
                    "sequenceNumber": sequence,
                    "data": base64::engine::general_purpose::STANDARD.encode(data),
                    "approximateArrivalTimestamp": 1_795_000_000.987
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": format!("shardId-000000000006:{sequence}"),
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/iops-lambda-role",
                "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/iops-metrics"
            })
        })
        .collect();
    json!({ "Records": records })
}
