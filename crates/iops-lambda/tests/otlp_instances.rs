//! OTLP cumulative counters across Lambda instances: each export of a host may land on
//! another warm instance, so the previous points live in DynamoDB (`otlp#<host>` in the
//! state table) and every export after a host's first gives its sample, whichever instance
//! answers it.

mod common;
#[path = "../../iops-store/tests/support/dynalite.rs"]
mod dynalite;

use std::sync::Arc;

use common::{json_of, v1};
use iops_core::engine::EngineConfig;
use iops_lambda::{App, MetricsSink};
use iops_service::Service;
use iops_store::MetricStore;
use serde_json::{json, Value};

const DYNALITE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../iops-store/tests/dynalite");

/// Export `n` of host `otel-c` (one a minute): cumulative disk and network bytes growing
/// by 6 MB a minute, since a start a minute before the first export.
fn export(n: u64) -> String {
    let start = (common::T0 - 60) * 1_000_000_000;
    let t = (common::T0 + 60 * n) * 1_000_000_000;
    let kv = |k: &str, v: &str| json!({"key": k, "value": {"stringValue": v}});
    let point = |attrs: Value, value: f64| {
        json!({"attributes": attrs, "startTimeUnixNano": start.to_string(),
               "timeUnixNano": t.to_string(), "asDouble": value})
    };
    let total = 6_000_000.0 * (n + 1) as f64;
    let sum = |name: &str, device: &str| {
        json!({"name": name, "unit": "By", "sum": {"aggregationTemporality": 2, "isMonotonic": true,
            "dataPoints": [point(json!([kv("device", device), kv("direction", "read")]), total)]}})
    };
    json!({"resourceMetrics": [{
        "resource": {"attributes": [kv("host.name", "otel-c")]},
        "scopeMetrics": [{"metrics": [
            {"name": "system.cpu.utilization", "gauge": {"dataPoints": [
                point(json!([kv("cpu", "0"), kv("state", "user")]), 0.25),
                point(json!([kv("cpu", "0"), kv("state", "idle")]), 0.75)]}},
            {"name": "system.memory.utilization", "gauge": {"dataPoints": [
                point(json!([kv("state", "used")]), 0.4)]}},
            sum("system.disk.io", "sda"),
            sum("system.network.io", "eth0")
        ]}]
    }]})
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_export_after_the_first_gives_a_sample_whichever_instance_answers() {
    let Some(d) = dynalite::Dynalite::start(DYNALITE) else {
        return;
    };
    let store = d.store("otlpc").await;
    let store = Arc::new(store);
    // three warm instances, each export to the next (none sees two in a row)
    let instances: Vec<App> = (0..3)
        .map(|_| {
            let service = Service::new(store.clone(), EngineConfig::default());
            App::new(Arc::new(service), MetricsSink::Off)
        })
        .collect();
    for n in 0..4u64 {
        let app = &instances[(n % 3) as usize];
        let r = app
            .handle(v1("POST", "/v1/metrics", &[], Some(&export(n))))
            .await;
        assert_eq!(r.status(), 200, "export {n}: {:?}", r.body());
        let incomplete = !json_of(&r)["partialSuccess"].is_null();
        // only the first lacks the rates (no earlier point anywhere)
        assert_eq!(incomplete, n == 0, "export {n}: {}", json_of(&r));
    }
    let stored = store
        .list_metrics("otel-c", iops_core::Timestamp::MIN, 10)
        .await
        .unwrap();
    assert_eq!(stored.len(), 3, "{stored:?}");
    for m in &stored {
        assert_eq!(m.sample.disk_io, 100.0, "6 MB a minute: 100 kB/s");
        assert_eq!(m.sample.network_io, 100.0);
    }
    // the kept points are no host of the fleet
    let hosts = store.list_hosts().await.unwrap();
    let names: Vec<&str> = hosts.iter().map(|h| h.hostname.as_str()).collect();
    assert_eq!(names, ["otel-c"]);
}
