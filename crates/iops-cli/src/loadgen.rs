//! `iops loadgen`: a closed-loop load generator for POST /metrics. Each connection is one
//! keep-alive HTTP/1.1 connection that posts a sample, waits for the answer and posts the
//! next, until the duration is over. Each host belongs to one connection, which posts its
//! samples in time order (one second apart, starting a day ago), so every sample is new and
//! gets scored. With `--batch N`, each request is a JSON array of the connection's next N
//! samples (its hosts in turn, each in time order). Prints one JSON object: requests and
//! samples per second, latency percentiles, non-200 counts.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use clap::Args;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde::Serialize;

/// `iops loadgen` arguments.
#[derive(Debug, Args)]
pub struct LoadgenArgs {
    /// The server's base URL (`http://HOST:PORT`); samples go to `{url}/metrics`.
    #[arg(long)]
    pub url: String,
    /// Distinct hostnames posted (`load-000`, `load-001`, ...).
    #[arg(long, default_value_t = 50)]
    pub hosts: usize,
    /// How long to post: `10s`, `500ms`, `2m` or plain seconds.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Concurrent keep-alive connections (at most one request in flight on each).
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    /// Hostnames are this prefix and a 3-digit number (two loadgens on one server need
    /// different prefixes, or their hosts' samples would interleave).
    #[arg(long, default_value = "load-")]
    pub host_prefix: String,
    /// Also report each window of this length (`30s`): requests, samples and latency, to see
    /// whether throughput and p99 hold over a long run.
    #[arg(long, value_parser = parse_duration)]
    pub window: Option<Duration>,
    /// Seconds between a host's samples (event time). 300 fills the engine's day and week
    /// of history in a few thousand samples per host, as a long soak needs.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub step_seconds: u64,
    /// Samples per request: 1 posts the single-sample form, more a JSON array.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub batch: u32,
    /// Sent as the `x-api-key` header.
    #[arg(long, env = "IOPS_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
}

pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let secs = span_seconds(s, &[("ms", 0.001), ("s", 1.0), ("m", 60.0)])?;
    if !(secs.is_finite() && secs > 0.0 && secs <= 86_400.0) {
        return Err(format!("must be more than 0 and at most a day, got {s:?}"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Seconds of `s`, a number and one of `units` (name, seconds), or a bare number of seconds.
pub(crate) fn span_seconds(s: &str, units: &[(&str, f64)]) -> Result<f64, String> {
    let (number, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let names = || units.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ");
    let value: f64 = number.trim().parse().map_err(|_| {
        format!(
            "expected a duration like 10{}, got {s:?}",
            units[units.len() - 1].0
        )
    })?;
    match units.iter().find(|(name, _)| *name == unit) {
        Some((_, per)) => Ok(value * per),
        None => Err(format!("unknown unit {unit:?} in {s:?} ({})", names())),
    }
}

/// One connection's tally.
#[derive(Debug, Default)]
struct Tally {
    /// Latency of every answered request, in microseconds.
    latencies_us: Vec<u64>,
    /// When each was answered (milliseconds since the start), and the samples it stored.
    answered: Vec<(u32, u32)>,
    /// Answers by status.
    statuses: BTreeMap<u16, u64>,
    /// Requests that got no answer (connection or protocol errors, timeouts).
    errors: u64,
    /// Samples the server answered as stored.
    stored: u64,
    /// The first error's message.
    first_error: Option<String>,
}

#[derive(Debug, Serialize)]
struct Latency {
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    url: String,
    hosts: usize,
    connections: usize,
    duration_s: f64,
    requests: u64,
    ok: u64,
    requests_per_s: f64,
    ok_per_s: f64,
    /// Samples per request.
    batch: u32,
    /// Samples answered as stored, and per second (with `--batch 1`, the 200 answers).
    samples_stored: u64,
    samples_per_s: f64,
    latency_ms: Latency,
    /// Answers other than 200, by status.
    non_200: BTreeMap<u16, u64>,
    /// Per `--window`, in order (empty without it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    windows: Vec<WindowReport>,
    errors: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_error: Option<String>,
}

#[derive(Debug, Serialize)]
struct WindowReport {
    start_s: f64,
    requests: u64,
    samples_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// `latencies` (µs, any order) at quantile `p`, in ms.
fn quantile_ms(latencies: &mut [u64], p: f64) -> f64 {
    let n = latencies.len();
    if n == 0 {
        return 0.0;
    }
    latencies.sort_unstable();
    let rank = ((p * n as f64).ceil() as usize).clamp(1, n) - 1;
    latencies.get(rank).copied().unwrap_or(0) as f64 / 1000.0
}

/// The answers of `all` by window of `window`.
fn windows(all: &Tally, window: Duration) -> Vec<WindowReport> {
    let width = window.as_millis().max(1) as u32;
    let mut by: BTreeMap<u32, (Vec<u64>, u64)> = BTreeMap::new();
    for (&latency, &(at, stored)) in all.latencies_us.iter().zip(&all.answered) {
        let w = by.entry(at / width).or_default();
        w.0.push(latency);
        w.1 += u64::from(stored);
    }
    by.into_iter()
        .map(|(k, (mut latencies, stored))| WindowReport {
            start_s: f64::from(k * width) / 1000.0,
            requests: latencies.len() as u64,
            samples_per_s: stored as f64 / window.as_secs_f64(),
            p50_ms: quantile_ms(&mut latencies, 0.5),
            p99_ms: quantile_ms(&mut latencies, 0.99),
        })
        .collect()
}

/// `http://host:port[/]` → (`host:port`, authority for the Host header).
fn split_url(url: &str) -> Result<String> {
    let rest = url
        .strip_prefix("http://")
        .context("--url must start with http:// (no TLS)")?;
    let authority = rest.trim_end_matches('/');
    if authority.is_empty() || authority.contains('/') {
        bail!("--url must be http://HOST:PORT, got {url:?}");
    }
    Ok(authority.to_owned())
}

/// Runs the load and prints the report.
pub fn run(args: &LoadgenArgs) -> Result<()> {
    if args.hosts == 0 || args.connections == 0 {
        bail!("--hosts and --connections must be at least 1");
    }
    let authority = split_url(&args.url)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let report = runtime.block_on(load(args, authority))?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

async fn load(args: &LoadgenArgs, authority: String) -> Result<Report> {
    // Timestamps: one second apart from 30 days ago, so a run's samples are all new to a
    // fresh database and in time order per host, and stay behind the server's clock (it
    // refuses samples from the future) for 2.6 million samples per host: 85 minutes at
    // 500 a second.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("clock before 1970")?
        .as_secs();
    // (further back with a longer step: 100,000 samples per host stay in the past)
    let base = now.saturating_sub((30 * 86_400).max(100_000 * args.step_seconds));
    let connections = args.connections.min(args.hosts);
    let start = Instant::now();
    let end = start + args.duration;
    let mut tasks = Vec::with_capacity(connections);
    for c in 0..connections {
        let hosts: Vec<usize> = (c..args.hosts).step_by(connections).collect();
        let target = Target {
            authority: authority.clone(),
            api_key: args.api_key.clone(),
            batch: args.batch as usize,
            prefix: args.host_prefix.clone(),
            step: args.step_seconds,
            start,
        };
        tasks.push(tokio::spawn(async move {
            connection(target, hosts, base, end).await
        }));
    }
    let mut all = Tally::default();
    for task in tasks {
        let t = task.await.context("a connection task failed")?;
        all.latencies_us.extend(t.latencies_us);
        all.answered.extend(t.answered);
        for (status, n) in t.statuses {
            *all.statuses.entry(status).or_default() += n;
        }
        all.errors += t.errors;
        all.stored += t.stored;
        if all.first_error.is_none() {
            all.first_error = t.first_error;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let windows = args.window.map(|w| windows(&all, w)).unwrap_or_default();
    all.latencies_us.sort_unstable();
    let pct = |p: f64| -> f64 {
        let n = all.latencies_us.len();
        if n == 0 {
            return 0.0;
        }
        let rank = ((p * n as f64).ceil() as usize).clamp(1, n) - 1;
        all.latencies_us.get(rank).copied().unwrap_or(0) as f64 / 1000.0
    };
    let ok = all.statuses.get(&200).copied().unwrap_or(0);
    let requests = all.latencies_us.len() as u64 + all.errors;
    Ok(Report {
        url: args.url.clone(),
        hosts: args.hosts,
        connections,
        duration_s: elapsed,
        requests,
        ok,
        requests_per_s: requests as f64 / elapsed,
        ok_per_s: ok as f64 / elapsed,
        batch: args.batch,
        samples_stored: all.stored,
        samples_per_s: all.stored as f64 / elapsed,
        latency_ms: Latency {
            p50: pct(0.50),
            p90: pct(0.90),
            p99: pct(0.99),
            max: pct(1.0),
        },
        non_200: all
            .statuses
            .into_iter()
            .filter(|(s, _)| *s != 200)
            .collect(),
        errors: all.errors,
        first_error: all.first_error,
        windows,
    })
}

/// A deterministic, slightly noisy sample `i` of host `h` (named `{prefix}{h:03}`), at
/// `base + i` seconds.
fn sample(prefix: &str, h: usize, i: u64, base: u64) -> String {
    let x = (i.wrapping_mul(2_654_435_761).wrapping_add(h as u64 * 97)) % 1000;
    let n = x as f64 / 1000.0;
    format!(
        r#"{{"timestamp":{},"hostname":"{prefix}{h:03}","cpuUsage":{:.2},"memoryUsage":{:.2},"diskIO":{:.1},"networkIO":{:.1}}}"#,
        base + i,
        40.0 + 10.0 * n,
        60.0 + 5.0 * n,
        100.0 + 50.0 * n,
        50.0 + 20.0 * n
    )
}

/// Where a connection posts, and how many samples per request.
struct Target {
    authority: String,
    api_key: Option<String>,
    batch: usize,
    /// Hostname prefix.
    prefix: String,
    /// Seconds between a host's samples.
    step: u64,
    /// When the run started (answers are stamped against it).
    start: Instant,
}

/// The body of request `r` of a connection posting `hosts`: their samples in turn (step
/// by step, all hosts at each step), `batch` of them, as one object or an array.
fn body(prefix: &str, hosts: &[usize], batch: usize, r: u64, base: u64, step: u64) -> String {
    let n = hosts.len() as u64;
    let item = |k: u64| {
        let at = r * batch as u64 + k;
        sample(prefix, hosts[(at % n) as usize], (at / n) * step, base)
    };
    if batch == 1 {
        return item(0);
    }
    let items: Vec<String> = (0..batch as u64).map(item).collect();
    format!("[{}]", items.join(","))
}

/// Samples an answer says were stored: a batch's `"stored"` count, 1 for a single 200.
fn stored_in(status: u16, answer: &[u8], batch: usize) -> u64 {
    const KEY: &[u8] = b"\"stored\":";
    if batch == 1 {
        return u64::from(status == 200);
    }
    answer
        .windows(KEY.len())
        .position(|w| w == KEY)
        .and_then(|at| {
            let digits: Vec<u8> = answer[at + KEY.len()..]
                .iter()
                .copied()
                .take_while(u8::is_ascii_digit)
                .collect();
            std::str::from_utf8(&digits).ok()?.parse().ok()
        })
        .unwrap_or(0)
}

/// Posts the hosts' samples on one keep-alive connection until `end`, one request in
/// flight, reconnecting after an error (the failed request's samples are sent again).
async fn connection(target: Target, hosts: Vec<usize>, base: u64, end: Instant) -> Tally {
    const TIMEOUT: Duration = Duration::from_secs(10);
    let mut tally = Tally::default();
    let mut sender = None;
    let mut round: u64 = 0;
    let authority = target.authority.as_str();
    while Instant::now() < end {
        let sent = async {
            if sender.is_none() {
                let stream = tokio::net::TcpStream::connect(authority).await?;
                stream.set_nodelay(true)?;
                let (s, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                    .await
                    .map_err(std::io::Error::other)?;
                tokio::spawn(conn);
                sender = Some(s);
            }
            let Some(s) = sender.as_mut() else {
                return Err(std::io::Error::other("no connection"));
            };
            let mut request = Request::post("/metrics")
                .header(hyper::header::HOST, authority)
                .header(hyper::header::CONTENT_TYPE, "application/json");
            if let Some(key) = &target.api_key {
                request = request.header("x-api-key", key.as_str());
            }
            let request = request
                .body(Full::new(Bytes::from(body(
                    &target.prefix,
                    &hosts,
                    target.batch,
                    round,
                    base,
                    target.step,
                ))))
                .map_err(std::io::Error::other)?;
            s.ready().await.map_err(std::io::Error::other)?;
            let t = Instant::now();
            let answer = s
                .send_request(request)
                .await
                .map_err(std::io::Error::other)?;
            let status = answer.status().as_u16();
            let bytes = answer
                .into_body()
                .collect()
                .await
                .map_err(std::io::Error::other)?
                .to_bytes();
            Ok::<_, std::io::Error>((status, t.elapsed(), bytes))
        };
        match tokio::time::timeout(TIMEOUT, sent).await {
            Ok(Ok((status, latency, bytes))) => {
                tally.latencies_us.push(latency.as_micros() as u64);
                *tally.statuses.entry(status).or_default() += 1;
                let stored = stored_in(status, &bytes, target.batch);
                tally.stored += stored;
                let at = target.start.elapsed().as_millis().min(u128::from(u32::MAX)) as u32;
                tally
                    .answered
                    .push((at, stored.min(u64::from(u32::MAX)) as u32));
                if status == 200 {
                    round += 1;
                }
            }
            Ok(Err(e)) => {
                tally.errors += 1;
                tally.first_error.get_or_insert_with(|| e.to_string());
                sender = None;
            }
            Err(_) => {
                tally.errors += 1;
                tally
                    .first_error
                    .get_or_insert_with(|| format!("no answer within {TIMEOUT:?}"));
                sender = None;
            }
        }
    }
    tally
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("10h").is_err());
        assert!(parse_duration("fast").is_err());
    }

    #[test]
    fn urls_must_be_plain_http_authorities() {
        assert_eq!(
            split_url("http://127.0.0.1:8080/").unwrap(),
            "127.0.0.1:8080"
        );
        assert!(split_url("https://127.0.0.1:8080").is_err());
        assert!(split_url("http://127.0.0.1:8080/metrics").is_err());
    }

    #[test]
    fn a_batch_takes_each_host_in_time_order() {
        let hosts = [3, 5];
        let one = body("load-", &hosts, 1, 0, 1_764_000_000, 1);
        assert!(iops_core::MetricSample::from_json(one.as_bytes()).is_ok());
        let mut seen = Vec::new();
        for r in 0..3 {
            let b = body("load-", &hosts, 5, r, 1_764_000_000, 300);
            for item in iops_core::MetricSample::batch_from_json(b.as_bytes()).unwrap() {
                seen.push(item.unwrap());
            }
        }
        assert_eq!(seen.len(), 15);
        for h in ["load-003", "load-005"] {
            let times: Vec<_> = seen
                .iter()
                .filter(|s| s.hostname == h)
                .map(|s| s.timestamp)
                .collect();
            assert!(times.windows(2).all(|w| w[0] < w[1]), "{h}");
            assert!(times.len() >= 7, "{h}");
        }
        let answer = br#"{"message":"Batch processed","stored":98,"failed":2,"items":[]}"#;
        assert_eq!(stored_in(200, answer, 100), 98);
        assert_eq!(stored_in(200, b"{}", 1), 1);
        assert_eq!(stored_in(503, b"{}", 1), 0);
    }

    #[test]
    fn samples_are_valid_metrics_in_time_order() {
        let a = iops_core::MetricSample::from_json(sample("load-", 7, 0, 1_764_000_000).as_bytes())
            .unwrap();
        let b = iops_core::MetricSample::from_json(sample("load-", 7, 1, 1_764_000_000).as_bytes())
            .unwrap();
        assert_eq!(a.hostname, "load-007");
        assert!(a.timestamp < b.timestamp);
    }
}
