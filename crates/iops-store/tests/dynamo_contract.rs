//! The store contract (tests/contract) on the DynamoDB backend against a real dynalite, and
//! what is DynamoDB's own: the item schema the runbook's AWS CLI commands read, pagination,
//! the insights outbox of a state save, state compression, retries on throttling.
//!
//! Run with `cargo test -p iops-store --features dynamodb` (`cargo test --workspace` turns
//! the feature on through iops-service's dev-dependency).
#![cfg(feature = "dynamodb")]

mod contract;
#[path = "support/dynalite.rs"]
mod dynalite;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use contract::{insight, run_contract, sample, ts, update};
use dynalite::Dynalite;
use iops_core::{MetricSample, Timestamp};
use iops_store::{
    DynamoOptions, DynamoStore, InsightStore, MetricStore, StateStore, StoreError, TableNames,
};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/dynalite");

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn contract_on_dynalite() {
    let Some(d) = Dynalite::start(DIR) else {
        return;
    };
    run_contract(Arc::new(d.store("contract").await)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_follow_the_documented_schema() {
    let Some(d) = Dynalite::start(DIR) else {
        return;
    };
    let store = d.store("schema").await;
    let mut s = sample("web-1", "2026-11-26T17:00:00.5Z", 75.5);
    s.memory_usage = 0.1 + 0.2; // needs all 17 digits
    let put = store.put_metric(&s).await.unwrap();
    let mut u = update("web-1", 0, "2026-11-26T17:00:00.5Z", b"{}");
    u.insights
        .push(insight("web-1", "2026-11-26T17:00:00.5Z", 0));
    u.received = Some(ts("2026-11-26T17:00:02.25Z"));
    store.save_state(u).await.unwrap();

    let client = store.client();
    let got = client
        .get_item()
        .table_name("schema-metrics")
        .key("hostname", AttributeValue::S("web-1".into()))
        .key("timestamp", AttributeValue::N("1795712400.5".into()))
        .send()
        .await
        .unwrap();
    let item = got.item().expect("the metric under its documented key");
    let n = |k: &str| item[k].as_n().unwrap().clone();
    assert_eq!(n("cpuUsage"), "75.5");
    assert_eq!(n("memoryUsage").parse::<f64>().unwrap(), 0.1 + 0.2);
    assert_eq!(n("diskIO"), "10");
    assert_eq!(n("networkIO"), "20");
    assert_eq!(item["metricId"].as_s().unwrap(), &put.metric_id);

    let insights = client
        .scan()
        .table_name("schema-insights")
        .send()
        .await
        .unwrap();
    let i = &insights.items()[0];
    for (k, v) in [
        ("hostname", "web-1"),
        ("type", "cpu_spike"),
        ("severity", "warning"),
        ("metric", "cpuUsage"),
        ("detector", "zscore+ewma"),
        ("modelSource", "builtin"),
        ("modelVersion", "test-1"),
    ] {
        assert_eq!(i[k].as_s().unwrap(), v, "{k}");
    }
    assert!(i["insightId"]
        .as_s()
        .unwrap()
        .starts_with(&iops_store::ids::insight_id_lower_bound(ts(
            "2026-11-26T17:00:00.5Z"
        ))));
    for (k, v) in [
        ("timestamp", "1795712400.5"),
        ("value", "97"),
        ("expected", "40"),
        ("score", "0.95"),
    ] {
        assert_eq!(i[k].as_n().unwrap(), v, "{k}");
    }
    let state = client
        .get_item()
        .table_name("schema-state")
        .key("hostname", AttributeValue::S("web-1".into()))
        .send()
        .await
        .unwrap();
    let state = state.item().unwrap();
    assert_eq!(state["version"].as_n().unwrap(), "1");
    assert_eq!(state["lastTimestamp"].as_n().unwrap(), "1795712400.5");
    assert_eq!(state["receivedAt"].as_n().unwrap(), "1795712402.25");
    assert_eq!(
        state["hostShard"].as_s().unwrap(),
        &iops_store::host_shard("web-1")
    );
    assert!(state["state"].as_b().is_ok());
    // the sweep's list: the received time comes back with the newest sample's
    let hosts = store.list_hosts().await.unwrap();
    assert_eq!(hosts.len(), 1);
    assert_eq!(hosts[0].last_received, Some(ts("2026-11-26T17:00:02.25Z")));
    // a save without one (a state written before receivedAt existed) lists none
    let mut older = update("web-1", 1, "2026-11-26T17:01:00Z", b"{}");
    older.received = None;
    store.save_state(older).await.unwrap();
    assert_eq!(store.list_hosts().await.unwrap()[0].last_received, None);
}

/// Nanosecond timestamps near and far, negative, and the f64 extremes of DynamoDB's range
/// come back exactly and in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_and_timestamps_round_trip_exactly() {
    let Some(d) = Dynalite::start(DIR) else {
        return;
    };
    let store = d.store("exact").await;
    let times = [
        "0000-01-01T00:00:00Z",
        "1969-12-31T23:59:59.999999999Z",
        "1970-01-01T00:00:00.000000001Z",
        "2026-11-26T17:00:00.123456789Z",
        "9999-12-31T23:59:59.999999999Z",
    ];
    let values = [1.0 / 3.0, 1e-100, 99.999_999_999_999_99, 1e100, 0.0];
    let mut samples = Vec::new();
    for (t, v) in times.iter().zip(values) {
        let mut s = sample("x", t, 100.0 * (1.0 / 7.0));
        s.disk_io = v;
        s.network_io = v.max(2e-130); // the smallest magnitudes DynamoDB holds
        samples.push(s);
    }
    store.put_metrics_batch(&samples).await.unwrap();
    let back: Vec<MetricSample> = store
        .list_metrics("x", Timestamp::MIN, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.sample)
        .collect();
    assert_eq!(back.len(), samples.len());
    for (a, b) in back.iter().zip(&samples) {
        assert_eq!(a, b);
        assert_eq!(a.disk_io.to_bits(), b.disk_io.to_bits());
        assert_eq!(a.network_io.to_bits(), b.network_io.to_bits());
    }
    let out_of_range = MetricSample {
        disk_io: 1e200,
        ..samples[0].clone()
    };
    assert!(matches!(
        store.put_metric(&out_of_range).await,
        Err(StoreError::InvalidArgument { name: "diskIO", .. })
    ));
}

/// The sweep's host list is one Query per shard of the hosts index, merged by name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_are_listed_from_every_shard_of_the_hosts_index() {
    let Some(d) = Dynalite::start(DIR) else {
        return;
    };
    let store = d.store("shards").await;
    let names: Vec<String> = (0..200).map(|i| format!("host-{i:03}")).collect();
    for (i, host) in names.iter().enumerate() {
        let t = format!("2026-11-26T17:{:02}:00Z", i % 60);
        store.save_state(update(host, 0, &t, b"s")).await.unwrap();
    }
    let listed = store.list_hosts().await.unwrap();
    let got: Vec<&str> = listed.iter().map(|h| h.hostname.as_str()).collect();
    assert_eq!(got, names.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(listed[61].last_timestamp, ts("2026-11-26T17:01:00Z"));
    let shards: std::collections::BTreeSet<String> =
        names.iter().map(|h| iops_store::host_shard(h)).collect();
    assert_eq!(shards.len(), iops_store::HOST_SHARDS as usize);
}

/// More items than one Query page (1,000 here) are listed and counted across pages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_and_counts_follow_pages() {
    let Some(d) = Dynalite::start(DIR) else {
        return;
    };
    let store = d.store("pages").await;
    let t0 = ts("2026-11-26T00:00:00Z").epoch_seconds();
    let samples: Vec<MetricSample> = (0..1_205)
        .map(|i| {
            let mut s = sample("p", "2026-11-26T00:00:00Z", 1.0);
            s.timestamp = Timestamp::from_epoch_seconds(t0 + f64::from(i)).unwrap();
            s
        })
        .collect();
    let puts = store.put_metrics_batch(&samples).await.unwrap();
    assert!(puts.iter().all(|p| p.inserted));
    assert_eq!(
        store.count_metrics("p", Timestamp::MIN).await.unwrap(),
        1_205
    );
    let all = store
        .list_metrics("p", Timestamp::MIN, 5_000)
        .await
        .unwrap();
    assert_eq!(all.len(), 1_205);
    assert!(all
        .windows(2)
        .all(|w| w[0].sample.timestamp < w[1].sample.timestamp));
    let since = samples[200].timestamp;
    assert_eq!(store.count_metrics("p", since).await.unwrap(), 1_005);
    let some = store.list_metrics("p", since, 1_001).await.unwrap();
    assert_eq!(some.len(), 1_001);
    assert_eq!(some[0].sample.timestamp, since);
    assert!(store.list_metrics("p", since, 0).await.unwrap().is_empty());
}

/// The insights of a state save live in the state item until copied: if the copy is lost
/// (the process died after the conditional write), the next load of the host restores them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insights_of_a_saved_state_survive_a_lost_copy() {
    let Some(d) = Dynalite::start(DIR) else {
        return;
    };
    let store = d.store("outbox").await;
    let mut u = update("o-1", 0, "2026-11-26T17:00:00Z", b"{}");
    u.insights = vec![
        insight("o-1", "2026-11-26T17:00:00Z", 0),
        insight("o-1", "2026-11-26T17:00:00Z", 1),
    ];
    store.save_state(u.clone()).await.unwrap();
    let client = store.client();
    for i in &u.insights {
        client
            .delete_item()
            .table_name("outbox-insights")
            .key("hostname", AttributeValue::S("o-1".into()))
            .key("insightId", AttributeValue::S(i.insight_id.clone()))
            .send()
            .await
            .unwrap();
    }
    assert!(store
        .list_insights("o-1", Timestamp::MIN, 10)
        .await
        .unwrap()
        .is_empty());
    let loaded = store.load_state("o-1").await.unwrap().unwrap();
    assert_eq!(loaded.version, 1);
    assert_eq!(
        store
            .list_insights("o-1", Timestamp::MIN, 10)
            .await
            .unwrap(),
        u.insights
    );
    // a save without insights empties the outbox: nothing comes back after a delete
    store
        .save_state(update("o-1", 1, "2026-11-26T17:01:00Z", b"{}"))
        .await
        .unwrap();
    client
        .delete_item()
        .table_name("outbox-insights")
        .key("hostname", AttributeValue::S("o-1".into()))
        .key(
            "insightId",
            AttributeValue::S(u.insights[0].insight_id.clone()),
        )
        .send()
        .await
        .unwrap();
    store.load_state("o-1").await.unwrap();
    assert_eq!(
        store
            .list_insights("o-1", Timestamp::MIN, 10)
            .await
            .unwrap(),
        &u.insights[1..]
    );
}

/// A state past the 400 KB item limit as raw JSON (~540 KB) is stored deflated and read back
/// byte for byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_states_are_compressed_and_round_trip() {
    let Some(d) = Dynalite::start(DIR) else {
        return;
    };
    let store = d.store("big").await;
    let mut json = String::from("{\"history\":[");
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let v = (x % 100_000) as f64 / 1000.0;
        json.push_str(&format!("{}{v}", if i == 0 { "" } else { "," }));
    }
    json.push_str("]}");
    let raw = json.repeat(4).into_bytes();
    assert!(raw.len() > 400 * 1024, "{}", raw.len());
    store
        .save_state(update("big", 0, "2026-11-26T17:00:00Z", &raw))
        .await
        .unwrap();
    let loaded = store.load_state("big").await.unwrap().unwrap();
    assert_eq!(loaded.state, raw);
}

/// Throttling answers are retried with backoff up to `max_attempts`, then reported as a
/// retryable error with DynamoDB's code. The endpoint is a stub on 127.0.0.1 that always
/// answers ProvisionedThroughputExceededException.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_is_retried_then_reported_retryable() {
    let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&requests);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            seen.fetch_add(1, Ordering::SeqCst);
            let answer = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}"#;
            let _ = write!(
                conn,
                "HTTP/1.1 400 Bad Request\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    let mut options = DynamoOptions::local(
        TableNames::with_prefix("throttled"),
        format!("http://127.0.0.1:{port}"),
    );
    options.max_attempts = 4;
    options.initial_backoff = Duration::from_millis(1);
    let store = DynamoStore::connect(options).await.unwrap();
    let err = store
        .put_metric(&sample("t", "2026-11-26T17:00:00Z", 1.0))
        .await
        .unwrap_err();
    match &err {
        StoreError::Dynamo {
            op: "put_metric",
            code: Some(code),
            retryable: true,
            ..
        } => assert_eq!(code, "ProvisionedThroughputExceededException"),
        other => panic!("expected a retryable throttling error, got {other:?}"),
    }
    assert!(err.is_retryable());
    assert_eq!(
        requests.load(Ordering::SeqCst),
        4,
        "one try and three retries"
    );
}

/// The runbook's AWS CLI commands, verbatim but for `--endpoint-url`, read what the store
/// wrote: the metrics scan, the insights scan, and the count of a host's samples in the
/// last hour (`timestamp` is reserved: `#ts`). Skips when no `aws` CLI is installed
/// (scripts/test.sh pins awscli in its venv).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runbook_aws_cli_commands_read_the_items() {
    let Some(aws) = dynalite::aws_cli() else {
        eprintln!("SKIP: no `aws` CLI (pip install awscli; scripts/test.sh does)");
        return;
    };
    let Some(d) = Dynalite::start(DIR) else {
        return;
    };
    let store = d.store("runbook").await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let at = |secs_ago: i64| Timestamp::from_epoch_seconds((now - secs_ago) as f64).unwrap();
    let posted = [
        ("web-1", at(7200), 12.5),
        ("web-1", at(1800), 75.5),
        ("web-1", at(60), 97.25),
        ("web-2", at(30), 40.0),
    ];
    for (host, t, cpu) in posted {
        let mut s = sample(host, "2026-11-26T17:00:00Z", cpu);
        s.timestamp = t;
        store.put_metric(&s).await.unwrap();
    }
    let mut u = update("web-1", 0, "2026-11-26T17:00:00Z", b"{}");
    u.last_timestamp = at(60);
    let mut spike = insight("web-1", "2026-11-26T17:00:00Z", 0);
    spike.insight.timestamp = at(60);
    spike.insight_id = iops_store::ids::insight_id("web-1", at(60), 0);
    u.insights.push(spike);
    store.save_state(u).await.unwrap();

    let run = |command: &str| -> serde_json::Value {
        let mut path = dynalite::bin_dir(&aws)
            .map(|p| p.into_os_string())
            .unwrap_or_default();
        path.push(":");
        path.push(std::env::var_os("PATH").unwrap_or_default());
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!("{command} --endpoint-url {}", d.endpoint))
            .env("PATH", path)
            .env("METRICS_TABLE", "runbook-metrics")
            .env("INSIGHTS_TABLE", "runbook-insights")
            .env("AWS_ACCESS_KEY_ID", "x")
            .env("AWS_SECRET_ACCESS_KEY", "x")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
            .env("AWS_PAGER", "")
            .env("AWS_DEFAULT_OUTPUT", "json")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{command}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{command}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
    };

    let scan = run("aws dynamodb scan --table-name $METRICS_TABLE --query 'Items[*].[hostname.S,timestamp.N,cpuUsage.N]'");
    let mut rows: Vec<(String, i64, f64)> = scan
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().to_owned(),
                r[1].as_str().unwrap().parse().unwrap(),
                r[2].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect();
    rows.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    let expected: Vec<(String, i64, f64)> = posted
        .iter()
        .map(|(h, t, c)| {
            (
                (*h).to_owned(),
                (t.epoch_nanos() / 1_000_000_000) as i64,
                *c,
            )
        })
        .collect();
    assert_eq!(rows, expected);

    let insights = run("aws dynamodb scan --table-name $INSIGHTS_TABLE --query 'Items[*].[hostname.S,type.S,severity.S,modelSource.S,message.S]'");
    assert_eq!(
        insights,
        serde_json::json!([[
            "web-1",
            "cpu_spike",
            "warning",
            "builtin",
            "cpu high on web-1"
        ]])
    );

    let count = run(&format!(
        "aws dynamodb query --table-name $METRICS_TABLE \
         --key-condition-expression 'hostname = :h AND #ts > :t' \
         --expression-attribute-names '{{\"#ts\":\"timestamp\"}}' \
         --expression-attribute-values '{{\":h\":{{\"S\":\"web-1\"}},\":t\":{{\"N\":\"{}\"}}}}' \
         --select COUNT",
        now - 3600
    ));
    assert_eq!(count["Count"], 2, "{count}");
}
