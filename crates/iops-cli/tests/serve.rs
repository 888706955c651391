//! `iops serve` over real HTTP: the binary started on 127.0.0.1:0 with a temporary database,
//! a synthetic fleet posted to it, the API and the dashboard checked (the dashboard also in
//! headless Chromium when it is installed), SIGTERM, SIGKILL and restart.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use iops_synth::{Fleet, FleetParams};

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `iops serve` on a free port of 127.0.0.1 and waits for its address.
fn start(db: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_iops"));
    cmd.args(["serve", "--addr", "127.0.0.1:0", "--db"])
        .arg(db)
        .args(extra)
        .env_remove("IOPS_API_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start iops serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("iops serve exited before listening")
            .expect("read stdout");
        if let Some(a) = line.strip_prefix("listening on http://") {
            break a.to_owned();
        }
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server { child, addr }
}

/// One HTTP/1.1 request on a fresh connection; (status, body).
fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status line in {text:?}")))?;
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    Ok((status, body))
}

fn get(addr: &str, path: &str) -> (u16, String) {
    request(addr, "GET", path, &[], b"").expect("GET")
}

fn post(addr: &str, body: &str) -> (u16, String) {
    request(addr, "POST", "/metrics", &[], body.as_bytes()).expect("POST")
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

const SAMPLE: &str = r#"{"timestamp":"2026-11-26T17:00:00Z","hostname":"api-1","cpuUsage":75.5,"memoryUsage":82.3,"diskIO":200.5,"networkIO":150.2}"#;

/// A small fleet with incidents after two calm days, posted one thread per host (each host's
/// samples in time order).
fn post_fleet(addr: &str) -> Fleet {
    let fleet = Fleet::new(FleetParams {
        hosts: 3,
        interval_secs: 300,
        days: 3.0,
        seed: 11,
        incident_rate: 3.0,
        calm_days: 2.0,
        ..FleetParams::default()
    })
    .expect("fleet");
    let mut per_host: Vec<Vec<String>> = vec![Vec::new(); fleet.hosts().len()];
    for (sample, _) in fleet.samples() {
        let i = fleet
            .hosts()
            .iter()
            .position(|h| h.hostname == sample.hostname)
            .expect("host of the fleet");
        per_host[i].push(sample.to_json());
    }
    std::thread::scope(|s| {
        for bodies in &per_host {
            s.spawn(move || {
                for b in bodies {
                    let (status, answer) = post(addr, b);
                    assert_eq!(status, 200, "{answer}");
                }
            });
        }
    });
    fleet
}

fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

fn headless(profile: &Path) -> Command {
    let mut c = Command::new(chromium().expect("chromium"));
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .stderr(Stdio::null());
    c
}

#[test]
fn api_and_dashboard_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        &dir.path().join("iops.db"),
        &["--durability", "normal"],
        &[],
    );
    let addr = server.addr.as_str();

    // The runbook's sample: stored once, same id twice.
    let (status, body) = post(addr, SAMPLE);
    assert_eq!(status, 200, "{body}");
    let first = json(&body);
    assert_eq!(first["message"], "Metric stored successfully");
    let (_, again) = post(addr, SAMPLE);
    assert_eq!(json(&again)["metricId"], first["metricId"]);

    // Bad input: 400 naming the field, nothing stored.
    let bad = SAMPLE.replace("75.5", "175.5").replace("17:00", "17:05");
    let (status, body) = post(addr, &bad);
    assert_eq!(status, 400, "{body}");
    assert_eq!(json(&body)["field"], "cpuUsage");
    let (status, body) = post(addr, "{not json");
    assert_eq!((status, json(&body)["field"].as_str()), (400, Some("body")));

    // Too large: 413, both just over the limit and far over it.
    for size in [64 * 1024 + 1, 1 << 20] {
        let big = format!("{}{}", SAMPLE, " ".repeat(size - SAMPLE.len()));
        let (status, body) = post(addr, &big);
        assert_eq!(status, 413, "{body}");
        assert!(json(&body)["error"].as_str().unwrap().contains("65536"));
    }

    let (status, body) = get(addr, "/metrics?hostname=api-1");
    assert_eq!(status, 200);
    let metrics = json(&body)["metrics"].as_array().unwrap().clone();
    assert_eq!(metrics.len(), 1, "{body}");
    assert_eq!(metrics[0]["cpuUsage"], 75.5);
    let (status, body) = get(addr, "/metrics");
    assert_eq!(
        (status, json(&body)["field"].as_str()),
        (400, Some("hostname"))
    );
    let (status, body) = get(addr, "/insights?hostname=web-1&since=yesterday");
    assert_eq!(
        (status, json(&body)["field"].as_str()),
        (400, Some("since"))
    );

    // A fleet with incidents: insights come back over GET /insights.
    let fleet = post_fleet(addr);
    let (mut insights, mut last_day) = (0, 0);
    let seconds = |v: &serde_json::Value| {
        v.as_str()
            .and_then(|s| s.parse::<iops_core::Timestamp>().ok())
            .map(|t| t.epoch_seconds())
            .expect("an RFC 3339 timestamp")
    };
    for h in fleet.hosts() {
        let (status, body) = get(
            addr,
            &format!("/metrics?hostname={}&limit=10000", h.hostname),
        );
        assert_eq!(status, 200);
        let metrics = json(&body)["metrics"].as_array().unwrap().clone();
        assert_eq!(metrics.len(), 3 * 288);
        let newest = metrics
            .iter()
            .map(|m| seconds(&m["timestamp"]))
            .fold(f64::MIN, f64::max);
        let (status, body) = get(addr, &format!("/insights?hostname={}", h.hostname));
        assert_eq!(status, 200);
        let list = json(&body)["insights"].as_array().unwrap().clone();
        for i in &list {
            assert_eq!(i["hostname"], h.hostname.as_str());
            assert_eq!(i["modelSource"], "builtin");
        }
        insights += list.len();
        // the overview lists the insights of the day before each host's newest sample
        last_day += list
            .iter()
            .filter(|i| seconds(&i["timestamp"]) >= newest - 86_400.0)
            .count();
    }
    assert!(!fleet.incidents().is_empty());
    assert!(
        insights >= 1,
        "no insights for {} incidents",
        fleet.incidents().len()
    );
    let (_, health) = get(addr, "/health");
    let health = json(&health);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["hosts"], 1 + fleet.hosts().len());

    // The dashboard, as served.
    let (status, overview) = get(addr, "/");
    assert_eq!(status, 200);
    for h in fleet.hosts() {
        assert!(overview.contains(&format!("/hosts/{}", h.hostname)));
    }
    assert_eq!(overview.matches("<tr class=\"insight\">").count(), last_day);
    let worst = fleet
        .incidents()
        .first()
        .map(|i| i.hostname.clone())
        .unwrap();
    // open incidents at the top, as the API lists them
    let listed = |query: &str| -> Vec<serde_json::Value> {
        let (status, body) = get(addr, &format!("/incidents?{query}"));
        assert_eq!(status, 200, "{body}");
        json(&body)["incidents"].as_array().unwrap().clone()
    };
    let open = listed("status=open&limit=50");
    assert!(overview.contains("<h2>Open incidents</h2>"));
    assert_eq!(
        overview.matches("<tr class=\"incident open\"").count(),
        open.len()
    );
    assert!(!overview.contains("<tr class=\"incident resolved\""));
    let (status, page) = get(addr, &format!("/hosts/{worst}"));
    assert_eq!(status, 200);
    // the host's incidents, resolved ones greyed
    let of_host = listed(&format!("hostname={worst}"));
    assert!(!of_host.is_empty());
    // each incident names its insights, as the insights name it
    let (_, body) = get(addr, &format!("/insights?hostname={worst}"));
    let insights = json(&body)["insights"].as_array().unwrap().clone();
    for incident in &of_host {
        let named: Vec<&serde_json::Value> = insights
            .iter()
            .filter(|i| i["incidentId"] == incident["incidentId"])
            .map(|i| &i["insightId"])
            .collect();
        let ids: Vec<&serde_json::Value> =
            incident["insightIds"].as_array().unwrap().iter().collect();
        assert_eq!(ids, named, "{incident}");
        assert_eq!(ids.len() as u64, incident["insights"].as_u64().unwrap());
    }
    let resolved = of_host.iter().filter(|i| i["status"] == "resolved").count();
    assert_eq!(
        page.matches("<tr class=\"incident resolved\"").count(),
        resolved
    );
    assert_eq!(page.matches("<tr class=\"incident ").count(), of_host.len());
    assert_eq!(page.matches("<polyline class=\"values\"").count(), 4);
    assert_eq!(page.matches("<polygon class=\"band\"").count(), 4);
    assert!(page.contains("builtin-"), "model shown");
    let (status, _) = get(addr, "/hosts/nobody");
    assert_eq!(status, 404);

    // In a real browser.
    if chromium().is_none() {
        eprintln!("SKIPPED the Chromium part: no /usr/bin/chromium (apt-get install -y chromium)");
        return;
    }
    let host_with_insights = fleet
        .hosts()
        .iter()
        .map(|h| h.hostname.clone())
        .find(|h| {
            let (_, body) = get(addr, &format!("/insights?hostname={h}"));
            !json(&body)["insights"].as_array().unwrap().is_empty()
        })
        .unwrap();
    let profile = tempfile::tempdir().unwrap();
    let url = format!("http://{addr}/hosts/{host_with_insights}");
    let out = headless(profile.path())
        .args(["--dump-dom", &url])
        .output()
        .expect("run chromium");
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "chromium failed");
    assert_eq!(
        dom.matches("<polyline class=\"values\"").count(),
        4,
        "{dom}"
    );
    assert!(
        dom.contains("class=\"marker "),
        "no insight marker in {dom}"
    );
    assert!(
        dom.contains("<tr class=\"insight\">"),
        "no insight row in {dom}"
    );
    assert!(
        dom.contains("<tr class=\"incident "),
        "no incident row in {dom}"
    );
    let out = headless(profile.path())
        .args(["--dump-dom", &format!("http://{addr}/")])
        .output()
        .expect("run chromium");
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(dom.contains("<svg") && dom.contains("<polyline"), "{dom}");
    assert!(dom.contains("<tr class=\"insight\">"), "{dom}");

    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target");
    for (name, url) in [
        ("dashboard.png", url.clone()),
        ("dashboard-fleet.png", format!("http://{addr}/")),
    ] {
        let png = target.join(name);
        let _ = std::fs::remove_file(&png);
        let out = headless(profile.path())
            .arg(format!("--screenshot={}", png.display()))
            .args(["--window-size=1280,900", &url])
            .output()
            .expect("run chromium");
        assert!(out.status.success());
        let bytes = std::fs::read(&png).expect("screenshot written");
        assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000);
        eprintln!("screenshot: {}", png.display());
    }
}

#[test]
fn writes_need_the_api_key_when_one_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        &dir.path().join("iops.db"),
        &[],
        &[("IOPS_API_KEY", "s3cret")],
    );
    let addr = server.addr.as_str();
    let (status, _) = post(addr, SAMPLE);
    assert_eq!(status, 401);
    let wrong = request(
        addr,
        "POST",
        "/metrics",
        &[("x-api-key", "s3creT")],
        SAMPLE.as_bytes(),
    );
    assert_eq!(wrong.unwrap().0, 401);
    let right = request(
        addr,
        "POST",
        "/metrics",
        &[("x-api-key", "s3cret")],
        SAMPLE.as_bytes(),
    );
    assert_eq!(right.unwrap().0, 200);
    // Reads stay open.
    assert_eq!(get(addr, "/metrics?hostname=api-1").0, 200);
    assert!(json(&get(addr, "/health").1)["writesNeedApiKey"]
        .as_bool()
        .unwrap());
}

#[test]
fn sigterm_stops_the_server_cleanly_and_data_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("iops.db");
    let mut server = start(&db, &[], &[]);
    assert_eq!(post(&server.addr, SAMPLE).0, 200);
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let mut stderr = String::new();
    server
        .child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(stderr.contains("stopped"), "{stderr}");

    let server = start(&db, &[], &[]);
    let (_, body) = get(&server.addr, "/metrics?hostname=api-1");
    assert_eq!(json(&body)["metrics"].as_array().unwrap().len(), 1);
    assert!(get(&server.addr, "/").1.contains("/hosts/api-1"));
}

/// Every metric acknowledged with 200 before a SIGKILL is in the store after a restart.
#[test]
fn acknowledged_metrics_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("iops.db");
    let server = start(&db, &[], &[]);
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let addr = server.addr.clone();
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut acked = Vec::new();
                let host = format!("load-{w}");
                for i in 0u64.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let body = format!(
                        r#"{{"timestamp":{},"hostname":"{host}","cpuUsage":{},"memoryUsage":50,"diskIO":10,"networkIO":10}}"#,
                        1_700_000_000 + i * 60,
                        (i % 90) as f64 + 0.5
                    );
                    match request(&addr, "POST", "/metrics", &[], body.as_bytes()) {
                        Ok((200, _)) => acked.push(1_700_000_000 + i * 60),
                        Ok((status, body)) => panic!("{status}: {body}"),
                        Err(_) => break, // the server is gone
                    }
                }
                (host, acked)
            })
        })
        .collect();
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(1500) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut server = server;
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    let acked: Vec<(String, Vec<u64>)> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    let total: usize = acked.iter().map(|(_, a)| a.len()).sum();
    assert!(
        total >= 20,
        "only {total} writes acknowledged before the kill"
    );

    let server = start(&db, &[], &[]);
    for (host, times) in &acked {
        let (status, body) = get(
            &server.addr,
            &format!("/metrics?hostname={host}&limit=10000"),
        );
        assert_eq!(status, 200);
        let stored: std::collections::HashSet<u64> = json(&body)["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                let ts = m["timestamp"].as_str().unwrap();
                iops_core::Timestamp::parse_rfc3339(ts)
                    .unwrap()
                    .epoch_seconds() as u64
            })
            .collect();
        let lost: Vec<_> = times.iter().filter(|t| !stored.contains(t)).collect();
        assert!(
            lost.is_empty(),
            "{host}: {} acknowledged, lost {lost:?}",
            times.len()
        );
    }
    eprintln!("{total} acknowledged writes, all found after SIGKILL and restart");
}

/// `iops demo` streams the fleet through the server's pipeline: the same insights as the
/// engine in-process (`--terminal`), the dashboard lists the fleet, ctrl-c (SIGINT) stops it.
#[test]
fn demo_streams_through_the_server_then_serves_until_interrupted() {
    let args = ["--hosts", "3", "--days", "8", "--seed", "5", "--no-forest"];
    let local = Command::new(env!("CARGO_BIN_EXE_iops"))
        .args(["demo", "--terminal"])
        .args(args)
        .output()
        .expect("run iops demo");
    assert!(local.status.success());
    let summary = |text: &str| -> Vec<String> {
        text.lines()
            .skip_while(|l| !l.starts_with("== summary =="))
            .filter(|l| {
                !l.is_empty()
                    && !l.starts_with("samples processed:")
                    && !l.starts_with("Dashboard:")
            })
            .map(str::to_owned)
            .collect()
    };
    let want = summary(&String::from_utf8_lossy(&local.stdout));
    assert!(want.iter().any(|l| l.starts_with("insights: ")), "{want:?}");

    let mut child = Command::new(env!("CARGO_BIN_EXE_iops"))
        .arg("demo")
        .args(args)
        .args(["--fast", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start iops demo");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut text = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        text.push_str(&line);
        text.push('\n');
        if line.contains("serving until ctrl-c") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    let url = text
        .lines()
        .find_map(|l| l.strip_prefix("Dashboard: http://"))
        .and_then(|l| l.split('/').next())
        .unwrap_or_else(|| panic!("no dashboard address in\n{text}"))
        .to_owned();
    assert_eq!(summary(&text), want, "{text}");
    let (status, page) = get(&url, "/");
    assert_eq!(status, 200);
    assert_eq!(page.matches("<tr class=\"host\">").count(), 3);
    let (_, health) = get(&url, "/health");
    assert_eq!(json(&health)["hosts"], 3);
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    assert!(child.wait().unwrap().success());
}

/// `iops demo --duration` bounds the whole run (streaming at the demo's pace included): it
/// prints the dashboard's address, stops the stream at the deadline, and exits by itself.
#[test]
fn demo_with_a_duration_stops_by_itself() {
    let started = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_iops"))
        .args(["demo", "--hosts", "2", "--days", "9", "--no-forest"])
        .args(["--addr", "127.0.0.1:0", "--duration", "4s"])
        .output()
        .expect("run iops demo --duration");
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("Dashboard: http://127.0.0.1:"), "{text}");
    // at 2 simulated hours a second, the 2 days after the warm-up take 24 s: cut at 4 s
    assert!(text.contains("--duration reached"), "{text}");
    assert!(text.contains("serving until --duration is over"), "{text}");
    assert!(took < std::time::Duration::from_secs(30), "took {took:?}");
}

/// A quiet sample of `host` at `minute` past 2025-11-24T16:00:00Z.
fn minute_sample(host: &str, minute: u64) -> String {
    format!(
        r#"{{"timestamp":{},"hostname":"{host}","cpuUsage":{},"memoryUsage":60,"diskIO":100,"networkIO":50}}"#,
        1_764_000_000 + 60 * minute,
        40 + minute % 7
    )
}

/// Two hosts a minute apart: web-2 stops after minute 29, web-1 goes on to minute 45.
fn post_web_2_stopping(addr: &str) {
    for minute in 0..46 {
        assert_eq!(post(addr, &minute_sample("web-1", minute)).0, 200);
        if minute < 30 {
            assert_eq!(post(addr, &minute_sample("web-2", minute)).0, 200);
        }
    }
}

#[test]
fn the_timer_reports_a_host_that_stopped_and_resolves_it_when_it_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("iops.db"), &["--sweep-seconds", "1"], &[]);
    let addr = server.addr.as_str();
    post_web_2_stopping(addr);
    let open = |host: &str| -> Vec<serde_json::Value> {
        let (status, body) = get(addr, &format!("/incidents?status=open&hostname={host}"));
        assert_eq!(status, 200, "{body}");
        json(&body)["incidents"].as_array().unwrap().clone()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let silence = loop {
        if let Some(found) = open("web-2").into_iter().next() {
            break found;
        }
        assert!(Instant::now() < deadline, "no silence incident in 20 s");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(
        silence["types"],
        serde_json::json!(["host_stopped_reporting"])
    );
    assert_eq!(silence["severity"], "critical");
    assert!(silence["peak"].is_null());
    assert!(open("web-1").is_empty());
    // web-2 is back: the next sweeps resolve it, at its first sample back
    assert_eq!(post(addr, &minute_sample("web-2", 46)).0, 200);
    let id = silence["incidentId"].as_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = get(addr, &format!("/incidents/{id}"));
        assert_eq!(status, 200, "{body}");
        let incident = json(&body);
        if incident["status"] == "resolved" {
            assert_eq!(incident["resolved"], "2025-11-24T16:46:00Z");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not resolved in 20 s: {incident}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_bad_silence_fleet_or_peer_policy_is_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    for (args, named) in [
        (&["--silence-intervals", "0"][..], "silence_intervals"),
        (&["--fleet-hold-seconds=-3"][..], "fleet_hold_seconds"),
        (&["--peer-min-share", "0"][..], "peer_min_share"),
        (&["--peer-min-hosts", "1"][..], "peer_min_hosts"),
        (&["--peer-release", "1.5"][..], "peer_release"),
        // held pages are sent by the sweep: no sweep, no hold
        (
            &["--fleet-hold-seconds", "30", "--sweep-seconds", "0"][..],
            "--fleet-hold-seconds",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_iops"))
            .args(["serve", "--addr", "127.0.0.1:0", "--db"])
            .arg(dir.path().join("iops.db"))
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(named), "{args:?}: {err}");
    }
}

/// A webhook receiver on 127.0.0.1 that refuses the first `refuse` attempts of every
/// idempotency key (500) and keeps the bodies it accepts.
struct Receiver {
    url: String,
    accepted: Arc<std::sync::Mutex<Vec<(String, serde_json::Value)>>>,
    attempts: Arc<std::sync::Mutex<std::collections::HashMap<String, u32>>>,
}

fn receiver(refuse: u32) -> Receiver {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let accepted = Arc::new(std::sync::Mutex::new(Vec::new()));
    let attempts = Arc::new(std::sync::Mutex::new(std::collections::HashMap::new()));
    let (a, t) = (Arc::clone(&accepted), Arc::clone(&attempts));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = Vec::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                head.push(line.trim_end().to_ascii_lowercase());
            }
            let header = |name: &str| {
                head.iter()
                    .find_map(|l| l.strip_prefix(&format!("{name}: ")).map(str::to_owned))
            };
            let length: usize = header("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let key = header("idempotency-key").unwrap_or_default();
            let n = {
                let mut t = t.lock().unwrap();
                let n = t.entry(key.clone()).or_insert(0);
                *n += 1;
                *n
            };
            let status = if n <= refuse {
                "500 Internal Server Error"
            } else {
                let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
                a.lock().unwrap().push((key, json));
                "200 OK"
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    Receiver {
        url,
        accepted,
        attempts,
    }
}

#[test]
fn webhooks_get_each_transition_once_after_refusing_the_first_attempts() {
    let hook = receiver(2);
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        &dir.path().join("iops.db"),
        &["--sweep-seconds", "1", "--webhook", &hook.url],
        &[],
    );
    let addr = server.addr.as_str();
    post_web_2_stopping(addr);
    let wait_for = |n: usize| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while hook.accepted.lock().unwrap().len() < n {
            assert!(
                Instant::now() < deadline,
                "{:?}",
                hook.attempts.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait_for(1);
    assert_eq!(post(addr, &minute_sample("web-2", 46)).0, 200);
    wait_for(2);
    // a few more sweeps: nothing more is sent
    std::thread::sleep(Duration::from_millis(2500));
    let accepted = hook.accepted.lock().unwrap().clone();
    assert_eq!(accepted.len(), 2, "{accepted:?}");
    let (opened, resolved) = (&accepted[0].1, &accepted[1].1);
    assert_eq!(opened["event"], "opened");
    assert_eq!(resolved["event"], "resolved");
    assert!(
        opened["text"]
            .as_str()
            .unwrap()
            .starts_with("[critical] web-2: web-2 stopped reporting"),
        "{opened}"
    );
    assert_eq!(opened["incident"]["types"][0], "host_stopped_reporting");
    assert_eq!(resolved["incident"]["status"], "resolved");
    // the header names the transition, as the body does
    for (key, body) in &accepted {
        assert_eq!(
            key.as_str(),
            body["idempotencyKey"]
                .as_str()
                .unwrap()
                .to_ascii_lowercase()
        );
    }
    // each was refused twice, then accepted once
    assert!(
        hook.attempts.lock().unwrap().values().all(|&n| n == 3),
        "{:?}",
        hook.attempts.lock().unwrap()
    );
}

/// With host pages held for a fleet incident (3 s here), the silent host's page waits in
/// the outbox and serve's timer sends it once the hold is over: not before, and not never.
#[test]
fn a_held_host_page_is_sent_by_the_timer_when_the_hold_is_over() {
    let hook = receiver(0);
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        &dir.path().join("iops.db"),
        &[
            "--sweep-seconds",
            "1",
            "--fleet-hold-seconds",
            "3",
            "--webhook",
            &hook.url,
        ],
        &[],
    );
    let addr = server.addr.as_str();
    post_web_2_stopping(addr);
    let opened_at = {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (_, body) = get(addr, "/incidents?status=open&hostname=web-2");
            if !json(&body)["incidents"].as_array().unwrap().is_empty() {
                break Instant::now();
            }
            assert!(Instant::now() < deadline, "no silence incident in 20 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let deadline = opened_at + Duration::from_secs(20);
    while hook.accepted.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the held page never went out");
        std::thread::sleep(Duration::from_millis(50));
    }
    let waited = opened_at.elapsed();
    assert!(
        waited >= Duration::from_millis(2500),
        "sent after {waited:?}: not held"
    );
    let accepted = hook.accepted.lock().unwrap().clone();
    assert_eq!(accepted.len(), 1, "{accepted:?}");
    assert_eq!(accepted[0].1["event"], "opened");
    assert_eq!(accepted[0].1["incident"]["hostname"], "web-2");
}

/// A batch of `n` samples of `host`, minutes `from..from + n`.
fn batch(host: &str, from: u64, n: u64) -> String {
    let items: Vec<String> = (from..from + n)
        .map(|i| {
            format!(
                r#"{{"timestamp":{},"hostname":"{host}","cpuUsage":{},"memoryUsage":50,"diskIO":10,"networkIO":10}}"#,
                1_700_000_000 + i * 60,
                (i % 90) as f64 + 0.5
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}

/// The minutes of `host`'s stored samples, duplicates kept, read in windows of 5,000
/// minutes so that no page reaches the API's list limit of 10,000 (a fast machine
/// acknowledges more than 10,000 samples a host before the kill).
fn stored_minutes(addr: &str, host: &str) -> Vec<u64> {
    const WINDOW: u64 = 5_000;
    let mut minutes = Vec::new();
    for from in (0..).step_by(WINDOW as usize) {
        let since = 1_700_000_000 + from * 60;
        let (status, body) = get(
            addr,
            &format!("/metrics?hostname={host}&since={since}&limit=10000"),
        );
        assert_eq!(status, 200, "{body}");
        let page: Vec<u64> = json(&body)["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                let ts = m["timestamp"].as_str().unwrap();
                let t = iops_core::Timestamp::parse_rfc3339(ts)
                    .unwrap()
                    .epoch_seconds() as u64;
                (t - 1_700_000_000) / 60
            })
            .filter(|m| *m < from + WINDOW)
            .collect();
        assert!(page.len() < 10_000, "window from minute {from} is full");
        if page.is_empty() {
            return minutes;
        }
        minutes.extend(page);
    }
    unreachable!("the windows run until one is empty")
}

/// SIGKILL while batches are in flight: every item acknowledged is stored after a restart,
/// and posting again the batch that got no answer stores each of its samples once.
#[test]
fn acknowledged_batches_survive_sigkill() {
    const N: u64 = 50;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("iops.db");
    let server = start(&db, &[], &[]);
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let addr = server.addr.clone();
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let host = format!("batch-{w}");
                let mut acked = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let body = batch(&host, acked, N);
                    match request(&addr, "POST", "/metrics", &[], body.as_bytes()) {
                        Ok((200, answer)) => {
                            assert_eq!(json(&answer)["stored"], N, "{answer}");
                            acked += N;
                        }
                        Ok((status, body)) => panic!("{status}: {body}"),
                        Err(_) => break, // the server is gone
                    }
                }
                (host, acked)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    let mut server = server;
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    let acked: Vec<(String, u64)> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    assert!(acked.iter().all(|(_, n)| *n >= N), "{acked:?}");

    let server = start(&db, &[], &[]);
    for (host, n) in &acked {
        let stored = stored_minutes(&server.addr, host);
        let lost: Vec<u64> = (0..*n).filter(|m| !stored.contains(m)).collect();
        assert!(lost.is_empty(), "{host}: {n} acknowledged, lost {lost:?}");
        // the batch in flight at the kill, sent again: all of it stored, once
        let (status, answer) = post_batch(&server.addr, &batch(host, *n, N));
        assert_eq!(status, 200, "{answer}");
        let mut after = stored_minutes(&server.addr, host);
        let count = after.len();
        after.dedup();
        assert_eq!(
            (count, after.len()),
            ((n + N) as usize, (n + N) as usize),
            "{host}"
        );
    }
}

fn post_batch(addr: &str, body: &str) -> (u16, String) {
    request(addr, "POST", "/metrics", &[], body.as_bytes()).expect("POST")
}

/// Writes zeros to `path` until the file system refuses (no space left).
fn fill(path: &Path) -> PathBuf {
    let mut file = std::fs::File::create(path).unwrap();
    let page = [0u8; 4096];
    while file.write_all(&page).is_ok() {}
    path.to_path_buf()
}

/// Unmounts the test's tmpfs when the test ends.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// A database on a full disk (a 1 MiB tmpfs): requests get 503 (retryable) and nothing
/// acknowledged is lost; once the disk has room again the same batch is stored, and the
/// file passes SQLite's integrity check.
#[test]
fn a_full_disk_answers_503_and_recovers_when_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "iops-full-disk"])
        .arg(&mnt)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("SKIPPED a_full_disk_answers_503_and_recovers_when_space_returns: cannot mount a tmpfs (needs root)");
        return;
    }
    let guard = Mounted(mnt.clone());
    let db = mnt.join("iops.db");
    let server = start(&db, &[], &[]);
    const N: u64 = 100;
    let mut acked = 0u64;
    let (status, answer) = loop {
        let (status, answer) = post_batch(&server.addr, &batch("full-1", acked, N));
        if status != 200 {
            break (status, answer);
        }
        acked += N;
        assert!(acked < 200_000, "the 1 MiB disk never filled");
    };
    assert_eq!(status, 503, "{answer}");
    let failed = json(&answer)["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["status"] == 503)
        .count();
    assert!(failed > 0, "{answer}");
    assert!(acked > 0, "nothing fitted before the disk was full");
    // A failed transaction leaves room that the next one may reuse, so the disk is
    // filled to the last byte before asking again: a batch may still fit in reused
    // space (and counts as acknowledged), but the disk refuses again within a few.
    let filler = fill(&mnt.join("filler"));
    let mut refused_again = false;
    for _ in 0..20 {
        let (status, answer) = post_batch(&server.addr, &batch("full-1", acked, N));
        match status {
            200 => acked += N,
            503 => {
                refused_again = true;
                break;
            }
            other => panic!("{other}: {answer}"),
        }
    }
    assert!(
        refused_again,
        "a disk filled to the last byte kept taking batches"
    );
    assert_eq!(get(&server.addr, "/health").0, 200);
    std::fs::remove_file(filler).unwrap();

    let grown = Command::new("mount")
        .args(["-o", "remount,size=64m"])
        .arg(&mnt)
        .status()
        .unwrap();
    assert!(grown.success());
    let (status, answer) = post_batch(&server.addr, &batch("full-1", acked, N));
    assert_eq!(status, 200, "{answer}");
    let stored = stored_minutes(&server.addr, "full-1");
    let lost: Vec<u64> = (0..acked + N).filter(|m| !stored.contains(m)).collect();
    assert!(lost.is_empty(), "{} acknowledged, lost {lost:?}", acked + N);
    assert_eq!(stored.len() as u64, acked + N, "each sample stored once");
    drop(server);

    let conn = rusqlite::Connection::open(&db).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    drop(conn);
    drop(guard);
    eprintln!("{acked} samples fitted on the 1 MiB disk before it was full");
}
