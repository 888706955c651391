//! The real `bootstrap` under `cargo lambda watch` (cargo-lambda from PyPI, in the repo's
//! .venv; `scripts/test.sh` installs it): the Lambda runtime API emulator on 127.0.0.1 and a
//! free port, the function started by cargo-lambda, requests through its function-URL front.
//! Started and stopped by the test. Skipped, with the reason printed, only when cargo-lambda
//! is not installed.
//!
//! Two modes. Default: `cargo lambda watch --only-lambda-apis` (the emulator and its
//! function-URL front) with the `bootstrap` that `cargo test` just built, started by the test
//! with the environment cargo-lambda prints: nothing is compiled. With
//! IOPS_CARGO_LAMBDA_BUILD=1, cargo-lambda itself builds and starts the function
//! (`cargo run -p iops-lambda --bin bootstrap`, same target dir): that build resolves features
//! for iops-lambda alone, unlike `cargo test --workspace`, so its first run recompiles the
//! tokio/hyper/AWS subtree (~20–40 s seen with `-p iops-lambda`, more after a workspace build).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

mod common;

fn cargo_lambda() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("IOPS_CARGO_LAMBDA") {
        return Some(PathBuf::from(p));
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/cargo-lambda");
    if venv.is_file() {
        return Some(venv);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("cargo-lambda"))
            .find(|p| p.is_file())
    })
}

/// The watcher's process group, killed (by its id) when the test ends or fails.
struct Watch(Child);

impl Drop for Watch {
    fn drop(&mut self) {
        // cargo-lambda starts cargo and the function as children; end the whole group it leads.
        let pgid = self.0.id();
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{pgid}")])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pgid}")])
            .status();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.1 request, `connection: close`; (status, body).
async fn http(port: u16, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).await?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    tcp.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    // The emulator may answer chunked; the JSON bodies here fit one chunk.
    let body = if text
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body.split_once("\r\n")
            .map_or("", |(_, rest)| rest)
            .rsplit_once("\r\n0\r\n")
            .map_or("", |(b, _)| b)
            .to_owned()
    } else {
        body.to_owned()
    };
    Ok((status, body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_under_cargo_lambda_watch() {
    let Some(cargo_lambda) = cargo_lambda() else {
        eprintln!("SKIPPED bootstrap_under_cargo_lambda_watch: cargo-lambda is not installed (scripts/test.sh installs it into .venv)");
        return;
    };
    let port = common::free_port();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("iops.db");
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let build = std::env::var("IOPS_CARGO_LAMBDA_BUILD").is_ok_and(|v| v == "1");
    let mut command = Command::new(&cargo_lambda);
    // Not the environment cargo gives this test (LD_LIBRARY_PATH, CARGO_*): the nested
    // `cargo run` would see it and rebuild part of the tree (and `cargo test` again after it).
    command.env_clear();
    for name in [
        "PATH",
        "HOME",
        "USER",
        "TMPDIR",
        "LANG",
        "CARGO_HOME",
        "CARGO_TARGET_DIR",
        "RUSTUP_HOME",
        "RUSTUP_TOOLCHAIN",
    ] {
        if let Some(v) = std::env::var_os(name) {
            command.env(name, v);
        }
    }
    let store = format!("IOPS_STORE=sqlite:{}", db.display());
    command
        .arg("lambda")
        .arg("watch")
        .args(["--invoke-address", "127.0.0.1"])
        .args(["--invoke-port", &port.to_string()])
        .arg("--ignore-changes")
        .arg("--manifest-path")
        .arg(&manifest)
        .args(["-p", "iops-lambda", "--bin", "bootstrap"])
        .args(["--env-var", &store])
        .args(["--env-var", "USE_SAGEMAKER=false"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if !build {
        command.arg("--only-lambda-apis");
    }
    // Its own process group, so the drop guard ends cargo and the function too.
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let watch = Watch(child);
    let mut pipes = vec![
        Box::new(stdout) as Box<dyn std::io::Read + Send>,
        Box::new(stderr),
    ];
    // Default mode: the function is this build's bootstrap, with the variables cargo-lambda
    // tells a function started by hand to set (the function name `_` is its catch-all).
    let mut function = None;
    if !build {
        // The runtime API must be up before the function asks it for work.
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "cargo lambda watch never listened on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_bootstrap"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "4096")
            .env("AWS_LAMBDA_FUNCTION_NAME", "_")
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://127.0.0.1:{port}/.rt"),
            )
            .env("IOPS_STORE", format!("sqlite:{}", db.display()))
            .env("USE_SAGEMAKER", "false")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        pipes.push(Box::new(child.stdout.take().unwrap()));
        pipes.push(Box::new(child.stderr.take().unwrap()));
        function = Some(Function(child));
    }
    let (tx, lines) = mpsc::channel::<String>();
    for pipe in pipes {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }

    let started = Instant::now();
    let base = if build {
        "/lambda-url/bootstrap"
    } else {
        "/lambda-url/_"
    };
    // The first request starts (and, if needed, builds) the function: allow for a build.
    let first = common::quiet("lambda-1", 0);
    let limit = Duration::from_secs(if build { 600 } else { 60 });
    let (status, body) = loop {
        if let Some(Function(f)) = function.as_mut() {
            if let Ok(Some(code)) = f.try_wait() {
                let out: Vec<String> = lines.try_iter().collect();
                panic!("bootstrap exited ({code}):\n{}", out.join("\n"));
            }
        }
        let path = format!("{base}/metrics");
        let request = http(port, "POST", &path, &first);
        match tokio::time::timeout(Duration::from_secs(30), request).await {
            Ok(Ok((status, body))) if status != 0 => break (status, body),
            _ if started.elapsed() > limit => {
                let out: Vec<String> = lines.try_iter().collect();
                panic!(
                    "cargo lambda watch did not answer within {limit:?}:\n{}",
                    out.join("\n")
                );
            }
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    eprintln!(
        "cargo lambda watch: first answer after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let answer: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["message"], "Metric stored successfully");
    let id = answer["metricId"].as_str().unwrap().to_owned();

    // A second host that reports for 100 minutes and stops: silent once lambda-1 goes on.
    for i in 0..20 {
        let (status, _) = http(
            port,
            "POST",
            &format!("{base}/metrics"),
            &common::quiet("lambda-2", i),
        )
        .await
        .unwrap();
        assert_eq!(status, 200, "lambda-2 {i}");
    }

    // A quiet stretch and a spike: the insight is answered and listed.
    let t = Instant::now();
    for i in 1..550 {
        let (status, _) = http(
            port,
            "POST",
            &format!("{base}/metrics"),
            &common::quiet("lambda-1", i),
        )
        .await
        .unwrap();
        assert_eq!(status, 200, "{i}");
    }
    eprintln!(
        "cargo lambda watch: 549 POSTs in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let (status, body) = http(
        port,
        "POST",
        &format!("{base}/metrics"),
        &common::body("lambda-1", 550, 97.0),
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let spike: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(spike["insights"][0]["type"], "cpu_spike", "{spike}");

    let (status, body) = http(
        port,
        "GET",
        &format!("{base}/insights?hostname=lambda-1&since=1764000000"),
        "",
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let listed: Value = serde_json::from_str(&body).unwrap();
    let insights = listed["insights"].as_array().unwrap();
    assert_eq!(insights.len(), 1, "{listed}");
    assert_eq!(insights[0]["insightId"], spike["insights"][0]["insightId"]);
    assert_eq!(insights[0]["modelSource"], "builtin");

    let (status, body) = http(
        port,
        "GET",
        &format!("{base}/metrics?hostname=lambda-1&limit=1"),
        "",
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
    let metrics: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(metrics["metrics"][0]["metricId"], id.as_str());

    let (status, body) = http(port, "GET", &format!("{base}/insights?since=0"), "")
        .await
        .unwrap();
    assert_eq!(status, 400);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["field"],
        "hostname"
    );

    // The scheduled rule's event, sent by `cargo lambda invoke` (a real client of the
    // runtime emulator): the sweep finds lambda-2 silent.
    let name = if build { "bootstrap" } else { "_" };
    let sweep = lambda_invoke(
        &cargo_lambda,
        name,
        port,
        &common::scheduled_event().to_string(),
    );
    assert_eq!(sweep["opened"][0]["hostname"], "lambda-2", "{sweep}");
    assert_eq!(sweep["opened"][0]["types"][0], "host_stopped_reporting");
    let (status, body) = http(
        port,
        "GET",
        &format!("{base}/incidents?status=open&hostname=lambda-2"),
        "",
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let listed: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        listed["incidents"][0]["incidentId"],
        sweep["opened"][0]["incidentId"]
    );

    // A Kinesis batch (the stream's event source mapping), twice as after a retry: each
    // record stored once, nothing to send again.
    let samples: Vec<String> = (0..5).map(|i| common::quiet("lambda-3", i)).collect();
    let records: Vec<(&str, &[u8])> = samples.iter().map(|s| ("lambda-3", s.as_bytes())).collect();
    let stream_event = common::kinesis_event(&records, 0).to_string();
    for _ in 0..2 {
        let answer = lambda_invoke(&cargo_lambda, name, port, &stream_event);
        assert_eq!(answer, serde_json::json!({ "batchItemFailures": [] }));
    }
    let (status, body) = http(
        port,
        "GET",
        &format!("{base}/metrics?hostname=lambda-3"),
        "",
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let listed: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        listed["metrics"].as_array().map(Vec::len),
        Some(5),
        "{listed}"
    );

    // The function's EMF lines come through cargo-lambda's output.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let out: Vec<String> = lines.try_iter().collect();
    let emf = out
        .iter()
        .filter(|l| l.contains("\"_aws\"") && l.contains("\"Namespace\":\"iops\""))
        .count();
    assert!(
        emf >= 550,
        "{emf} EMF lines in:\n{}",
        out.iter()
            .rev()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    drop(function);
    drop(watch);
}

/// `cargo lambda invoke NAME` with `event` (a real client of the runtime emulator on
/// `port`): the function's answer as JSON.
fn lambda_invoke(cargo_lambda: &Path, name: &str, port: u16, event: &str) -> Value {
    let invoked = Command::new(cargo_lambda)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::var_os("HOME").unwrap_or_default())
        .args(["lambda", "invoke", name])
        .args(["--invoke-address", "127.0.0.1"])
        .args(["--invoke-port", &port.to_string()])
        .args(["--data-ascii", event])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&invoked.stdout);
    assert!(
        invoked.status.success(),
        "cargo lambda invoke: {out}{}",
        String::from_utf8_lossy(&invoked.stderr)
    );
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// The function process of the default mode, killed by its id when the test ends.
struct Function(Child);

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
