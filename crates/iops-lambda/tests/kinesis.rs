//! Kinesis Data Streams events through `App::invoke` (what `bootstrap` runs): every record
//! stored once, a retried batch stores nothing twice, a refused record is left out (not
//! retried for ever), and records whose samples failed on our side are named in
//! `batchItemFailures`, on SQLite and on a real dynalite (stopped under the function).

mod common;
#[path = "../../iops-store/tests/support/dynalite.rs"]
mod dynalite;

use std::sync::Arc;

use iops_core::engine::EngineConfig;
use iops_core::Timestamp;
use iops_lambda::{App, MetricsSink};
use iops_service::Service;
use lambda_http::{Context, LambdaEvent};
use serde_json::{json, Value};

const DYNALITE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../iops-store/tests/dynalite");

async fn invoke(app: &App, event: Value) -> Value {
    app.invoke(LambdaEvent::new(event, Context::default()))
        .await
        .unwrap()
}

/// 20 samples each of k-1 and k-2 (a record each, interleaved), two of k-3 in one record
/// (an array), a record that is not JSON, and one of k-1 stamped in the year 9999.
fn records() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for i in 0..20 {
        for host in ["k-1", "k-2"] {
            out.push((host.to_owned(), common::quiet(host, i).into_bytes()));
        }
    }
    let pair = format!("[{},{}]", common::quiet("k-3", 0), common::quiet("k-3", 1));
    out.push(("k-3".to_owned(), pair.into_bytes()));
    out.push(("k-4".to_owned(), b"cpu=97 host=k-4".to_vec()));
    let future = r#"{"timestamp":"9999-12-31T23:59:59Z","hostname":"k-1","cpuUsage":1,"memoryUsage":1,"diskIO":1,"networkIO":1}"#;
    out.push(("k-1".to_owned(), future.as_bytes().to_vec()));
    out
}

fn event(records: &[(String, Vec<u8>)], first_sequence: u64) -> Value {
    let borrowed: Vec<(&str, &[u8])> = records
        .iter()
        .map(|(k, d)| (k.as_str(), d.as_slice()))
        .collect();
    common::kinesis_event(&borrowed, first_sequence)
}

async fn counts(app: &App) -> Vec<u64> {
    let mut out = Vec::new();
    for host in ["k-1", "k-2", "k-3", "k-4"] {
        let n = app
            .service()
            .store()
            .count_metrics(host, Timestamp::MIN)
            .await
            .unwrap();
        out.push(n);
    }
    out
}

#[tokio::test]
async fn records_are_stored_once_and_refused_ones_left_out() {
    let app = common::app_from_vars(&[("IOPS_STORE", "memory")]).await;
    let records = records();
    let answer = invoke(&app, event(&records, 0)).await;
    assert_eq!(answer, json!({ "batchItemFailures": [] }));
    assert_eq!(counts(&app).await, [20, 20, 2, 0]);
    // one state write per host for the whole batch, and the sample from the future
    // stopped nothing: k-1 learned its 20
    let store = app.service().store();
    let k1 = store.load_state("k-1").await.unwrap().unwrap();
    assert_eq!(k1.version, 1);
    let state = iops_service::decode_state(&k1.state).unwrap();
    assert_eq!(state.n_seen(), 20);

    // Lambda sends the batch again (as after a timeout): nothing is stored twice
    let again = invoke(&app, event(&records, 0)).await;
    assert_eq!(again, json!({ "batchItemFailures": [] }));
    assert_eq!(counts(&app).await, [20, 20, 2, 0]);

    // the next batch goes on learning
    let next: Vec<(String, Vec<u8>)> = (20..25)
        .map(|i| ("k-1".to_owned(), common::quiet("k-1", i).into_bytes()))
        .collect();
    assert_eq!(
        invoke(&app, event(&next, 100)).await,
        json!({ "batchItemFailures": [] })
    );
    let k1 = store.load_state("k-1").await.unwrap().unwrap();
    assert_eq!(iops_service::decode_state(&k1.state).unwrap().n_seen(), 25);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_dynamodb_failed_records_are_named_for_retry() {
    let Some(d) = dynalite::Dynalite::start(DYNALITE) else {
        return;
    };
    let store = d.store("kinesis").await;
    let service = Service::new(Arc::new(store), EngineConfig::default());
    let app = App::new(Arc::new(service), MetricsSink::Off);
    let records = records();
    let answer = invoke(&app, event(&records, 0)).await;
    assert_eq!(answer, json!({ "batchItemFailures": [] }));
    assert_eq!(counts(&app).await, [20, 20, 2, 0]);
    assert_eq!(
        invoke(&app, event(&records, 0)).await,
        json!({ "batchItemFailures": [] })
    );
    assert_eq!(
        counts(&app).await,
        [20, 20, 2, 0],
        "a retry stores nothing twice"
    );

    // DynamoDB gone: every record with a sample is to be sent again, none acknowledged
    let next: Vec<(String, Vec<u8>)> = (20..23)
        .flat_map(|i| ["k-1", "k-2"].map(|h| (h.to_owned(), common::quiet(h, i).into_bytes())))
        .collect();
    drop(d);
    let answer = invoke(&app, event(&next, 100)).await;
    let named: Vec<&str> = answer["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap())
        .collect();
    let sent: Vec<String> = event(&next, 100)["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kinesis"]["sequenceNumber"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(named, sent, "{answer}");
}
