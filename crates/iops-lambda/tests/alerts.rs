//! Incident notifications from the Lambda to SNS, against moto's server (moto[server] from
//! PyPI, in the repo's .venv; `scripts/test.sh` installs it) on 127.0.0.1: a topic with an
//! SQS subscription, as an on-call pipeline would have, receives each transition once.
//! Skipped, with the reason printed, only when the .venv is not there.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{app_from_vars, quiet, scheduled_event, v2_event};
use lambda_http::{Context, LambdaEvent};
use serde_json::Value;

fn venv(bin: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../.venv/bin")
        .join(bin);
    p.is_file().then_some(p)
}

struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// boto3 against the moto server at `url`: runs `code` with `sns` and `sqs` clients bound,
/// prints what it prints.
fn boto(python: &PathBuf, url: &str, code: &str) -> String {
    let script = format!(
        "import boto3, json\nkw = dict(endpoint_url='{url}', region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')\nsns = boto3.client('sns', **kw)\nsqs = boto3.client('sqs', **kw)\n{code}"
    );
    let out = Command::new(python).args(["-c", &script]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn transitions_reach_an_sqs_subscriber_of_the_alert_topic_once_each() {
    let (Some(moto), Some(python)) = (venv("moto_server"), venv("python")) else {
        eprintln!("SKIPPED transitions_reach_an_sqs_subscriber: no .venv with moto_server (scripts/test.sh makes it)");
        return;
    };
    let port = common::free_port();
    let _server = Moto(
        Command::new(moto)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto_server never listened");
        std::thread::sleep(Duration::from_millis(100));
    }
    let url = format!("http://127.0.0.1:{port}");
    let setup = boto(
        &python,
        &url,
        "topic = sns.create_topic(Name='iops-alerts')['TopicArn']\n\
         queue = sqs.create_queue(QueueName='pager')['QueueUrl']\n\
         arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=['QueueArn'])['Attributes']['QueueArn']\n\
         sns.subscribe(TopicArn=topic, Protocol='sqs', Endpoint=arn, Attributes={'RawMessageDelivery': 'true'})\n\
         print(json.dumps({'topic': topic, 'queue': queue}))",
    );
    let setup: Value = serde_json::from_str(setup.trim()).unwrap();
    let (topic, queue) = (
        setup["topic"].as_str().unwrap(),
        setup["queue"].as_str().unwrap(),
    );
    common::aws_env();
    let app = app_from_vars(&[
        ("IOPS_STORE", "memory"),
        ("ALERT_TOPIC_ARN", topic),
        ("SNS_ENDPOINT_URL", &url),
    ])
    .await;
    let invoke = |event: Value| app.invoke(LambdaEvent::new(event, Context::default()));
    // lambda-2 stops after 20 samples and is back at 40; the sweep runs after each step
    for i in 0..45 {
        for host in ["lambda-1", "lambda-2"] {
            if host == "lambda-2" && (20..40).contains(&i) {
                continue;
            }
            let answer = invoke(v2_event("POST", "/metrics", &[], Some(&quiet(host, i))))
                .await
                .unwrap();
            assert_eq!(answer["statusCode"], 200, "{answer}");
        }
        invoke(scheduled_event()).await.unwrap();
    }
    // each invocation that made a transition waited for its publication
    let received = boto(
        &python,
        &url,
        &format!(
            "got = []\n\
             while True:\n    \
                 r = sqs.receive_message(QueueUrl='{queue}', MaxNumberOfMessages=10, MessageAttributeNames=['All'])\n    \
                 if not r.get('Messages'): break\n    \
                 for m in r['Messages']:\n        \
                     got.append({{'body': json.loads(m['Body']), 'key': m.get('MessageAttributes', {{}}).get('idempotencyKey', {{}}).get('StringValue')}})\n        \
                     sqs.delete_message(QueueUrl='{queue}', ReceiptHandle=m['ReceiptHandle'])\n\
             print(json.dumps(got))"
        ),
    );
    let received: Vec<Value> = serde_json::from_str(received.trim()).unwrap();
    // (an SQS standard queue does not promise order)
    let mut events: Vec<(&str, &str)> = received
        .iter()
        .map(|m| {
            (
                m["body"]["incident"]["hostname"].as_str().unwrap(),
                m["body"]["event"].as_str().unwrap(),
            )
        })
        .collect();
    events.sort();
    assert_eq!(
        events,
        [("lambda-2", "opened"), ("lambda-2", "resolved")],
        "{received:#?}"
    );
    for m in &received {
        assert_eq!(m["key"], m["body"]["idempotencyKey"]);
        assert!(m["body"]["text"]
            .as_str()
            .unwrap()
            .contains("lambda-2 stopped reporting"));
    }
}
