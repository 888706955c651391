//! `iops loadgen`: a closed-loop load generator for POST /metrics. Each connection is one
//! keep-alive HTTP/1.1 connection that posts a sample, waits for the answer and posts the
//! next, until the duration is over. Each host belongs to one connection, which posts its
//! samples in time order (one second apart, starting a day ago), so every sample is new and
//! gets scored. Prints one JSON object: requests per second, latency percentiles, non-200
//! counts.

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
    /// Sent as the `x-api-key` header.
    #[arg(long, env = "IOPS_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
}

pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let (number, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("expected a duration like 10s, 500ms or 2m, got {s:?}"))?;
    let secs = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        _ => return Err(format!("unknown unit {unit:?} in {s:?} (ms, s, m)")),
    };
    if !(secs.is_finite() && secs > 0.0 && secs <= 86_400.0) {
        return Err(format!("must be more than 0 and at most a day, got {s:?}"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// One connection's tally.
#[derive(Debug, Default)]
struct Tally {
    /// Latency of every answered request, in microseconds.
    latencies_us: Vec<u64>,
    /// Answers by status.
    statuses: BTreeMap<u16, u64>,
    /// Requests that got no answer (connection or protocol errors, timeouts).
    errors: u64,
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
    latency_ms: Latency,
    /// Answers other than 200, by status.
    non_200: BTreeMap<u16, u64>,
    errors: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_error: Option<String>,
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
    let base = now.saturating_sub(30 * 86_400);
    let connections = args.connections.min(args.hosts);
    let start = Instant::now();
    let end = start + args.duration;
    let mut tasks = Vec::with_capacity(connections);
    for c in 0..connections {
        let hosts: Vec<usize> = (c..args.hosts).step_by(connections).collect();
        let authority = authority.clone();
        let api_key = args.api_key.clone();
        tasks.push(tokio::spawn(async move {
            connection(authority, api_key, hosts, base, end).await
        }));
    }
    let mut all = Tally::default();
    for task in tasks {
        let t = task.await.context("a connection task failed")?;
        all.latencies_us.extend(t.latencies_us);
        for (status, n) in t.statuses {
            *all.statuses.entry(status).or_default() += n;
        }
        all.errors += t.errors;
        if all.first_error.is_none() {
            all.first_error = t.first_error;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
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
    })
}

/// A deterministic, slightly noisy sample `i` of host `h`.
fn sample(h: usize, i: u64, base: u64) -> String {
    let x = (i.wrapping_mul(2_654_435_761).wrapping_add(h as u64 * 97)) % 1000;
    let n = x as f64 / 1000.0;
    format!(
        r#"{{"timestamp":{},"hostname":"load-{h:03}","cpuUsage":{:.2},"memoryUsage":{:.2},"diskIO":{:.1},"networkIO":{:.1}}}"#,
        base + i,
        40.0 + 10.0 * n,
        60.0 + 5.0 * n,
        100.0 + 50.0 * n,
        50.0 + 20.0 * n
    )
}

/// Posts the hosts' samples round robin on one keep-alive connection until `end`,
/// reconnecting after an error.
async fn connection(
    authority: String,
    api_key: Option<String>,
    hosts: Vec<usize>,
    base: u64,
    end: Instant,
) -> Tally {
    const TIMEOUT: Duration = Duration::from_secs(10);
    let mut tally = Tally::default();
    let mut sender = None;
    let mut step: u64 = 0;
    while Instant::now() < end {
        let sent = async {
            if sender.is_none() {
                let stream = tokio::net::TcpStream::connect(&authority).await?;
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
            s.ready().await.map_err(std::io::Error::other)?;
            let mut out = Vec::with_capacity(hosts.len());
            for &h in &hosts {
                let mut request = Request::post("/metrics")
                    .header(hyper::header::HOST, authority.as_str())
                    .header(hyper::header::CONTENT_TYPE, "application/json");
                if let Some(key) = &api_key {
                    request = request.header("x-api-key", key.as_str());
                }
                let request = request
                    .body(Full::new(Bytes::from(sample(h, step, base))))
                    .map_err(std::io::Error::other)?;
                s.ready().await.map_err(std::io::Error::other)?;
                let t = Instant::now();
                let answer = s
                    .send_request(request)
                    .await
                    .map_err(std::io::Error::other)?;
                let status = answer.status().as_u16();
                answer
                    .into_body()
                    .collect()
                    .await
                    .map_err(std::io::Error::other)?;
                out.push((status, t.elapsed()));
            }
            Ok::<_, std::io::Error>(out)
        };
        match tokio::time::timeout(TIMEOUT, sent).await {
            Ok(Ok(answers)) => {
                for (status, latency) in answers {
                    tally.latencies_us.push(latency.as_micros() as u64);
                    *tally.statuses.entry(status).or_default() += 1;
                }
                step += 1;
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
    fn samples_are_valid_metrics_in_time_order() {
        let a = iops_core::MetricSample::from_json(sample(7, 0, 1_764_000_000).as_bytes()).unwrap();
        let b = iops_core::MetricSample::from_json(sample(7, 1, 1_764_000_000).as_bytes()).unwrap();
        assert_eq!(a.hostname, "load-007");
        assert!(a.timestamp < b.timestamp);
    }
}
