//! The dashboard: server-rendered HTML with inline SVG charts, no script, no CDN.
//!
//! - `/`: the open incidents (fleet incidents first, then the most severe), every host with
//!   its status (the worst severity raised in the hour before its newest sample), a CPU
//!   sparkline of its last day, and the fleet's recent insights.
//! - `/hosts/{hostname}?hours=N`: the host's incidents (resolved ones greyed), the four
//!   metrics of its last N hours (default 48) with the expected band and the insights as
//!   markers, then the host's insights.
//!
//! The expected band is not stored: the page replays the host's stored samples (the chart's
//! window plus two days before it) through a fresh engine with the server's streaming
//! configuration and draws expected ± 3 spreads wherever the models are warm. With more
//! history than that, the live state may have learned more than the replay does.

use std::fmt::Write;

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use iops_core::engine::HostState;
use iops_core::{Incident, IncidentStatus, Metric, Severity, Timestamp};
use iops_service::GroupSource;
use iops_store::{IncidentQuery, StoredInsight, StoredMetric};

use super::chart::{esc, render, sparkline, Chart, Marker};
use super::AppState;

/// Seconds the page waits before reloading itself.
const REFRESH_SECS: u32 = 10;
/// The host list's window (sparkline, insight counts, fleet feed).
const OVERVIEW_SECS: f64 = 86_400.0;
/// A host's status: the worst severity raised this long before its newest sample.
const STATUS_SECS: f64 = 3_600.0;
/// History replayed before a chart's window so the band's models are warm.
const REPLAY_SECS: f64 = 2.0 * 86_400.0;
/// Most samples read for one host page.
const MAX_SAMPLES: usize = 100_000;
/// Most insights read for one host or shown in the fleet feed.
const MAX_INSIGHTS: usize = 2_000;
const FEED_ROWS: usize = 100;
/// Most incidents listed on a page.
const INCIDENT_ROWS: usize = 50;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:16px 24px;color:#222;background:#fff}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:20px 0 8px}
.muted{color:#777;font-size:12px}table{border-collapse:collapse;font-size:13px}
td,th{padding:3px 8px;border-bottom:1px solid #eee;text-align:left;vertical-align:middle}
.sev{display:inline-block;padding:1px 6px;border-radius:3px;color:#fff;font-size:11px}
.ok{background:#2ca02c}.info{background:#1f77b4}.warning{background:#ff7f0e}.critical{background:#d62728}
.charts{display:grid;grid-template-columns:repeat(2,620px);gap:8px}a{color:#1f5fa8}
tr.resolved td{color:#999}tr.resolved .sev{opacity:.45}";

fn html(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"{REFRESH_SECS}\">\
         <title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>",
        esc(title)
    )
}

fn failure(e: impl std::fmt::Display) -> Response {
    eprintln!("dashboard: {e}");
    html(
        StatusCode::INTERNAL_SERVER_ERROR,
        page(
            "iops: error",
            "<h1>iops</h1><p>internal error (see the server log)</p>",
        ),
    )
}

/// "2026-11-09 14:05" (UTC).
fn when(t: Timestamp) -> String {
    let s = t.to_string();
    s.get(..16).unwrap_or(&s).replace('T', " ")
}

fn at(secs: f64) -> Timestamp {
    Timestamp::from_epoch_seconds(secs).unwrap_or(Timestamp::MIN)
}

fn badge(s: Option<Severity>) -> String {
    match s {
        Some(s) => format!(r#"<span class="sev {0}">{0}</span>"#, s.as_str()),
        None => r#"<span class="sev ok">ok</span>"#.to_owned(),
    }
}

/// The incidents `query` selects, as a table: fleet incidents first, then the most severe,
/// then the newest; resolved ones greyed.
async fn incidents_table(state: &AppState, query: IncidentQuery) -> Result<String, Response> {
    let mut incidents: Vec<Incident> = match state.service.store().list_incidents(&query).await {
        Ok(v) => v,
        Err(e) => return Err(failure(e)),
    };
    incidents.sort_by(|a, b| {
        (
            b.is_fleet(),
            b.status == IncidentStatus::Open,
            b.severity,
            &b.incident_id,
        )
            .cmp(&(
                a.is_fleet(),
                a.status == IncidentStatus::Open,
                a.severity,
                &a.incident_id,
            ))
    });
    if incidents.is_empty() {
        return Ok(r#"<p class="muted">none</p>"#.to_owned());
    }
    let mut t = String::from(
        r#"<table class="incidents"><tr><th>severity</th><th>host</th><th>types</th><th>opened (UTC)</th><th>status</th><th>summary</th></tr>"#,
    );
    for i in &incidents {
        let host = if i.is_fleet() {
            format!("fleet ({} hosts)", i.hosts.len())
        } else {
            format!(
                r#"<a href="/hosts/{}">{}</a>"#,
                esc(&url_segment(&i.hostname)),
                esc(&i.hostname)
            )
        };
        let types: Vec<&str> = i.types.iter().map(|t| t.as_str()).collect();
        let status = match i.resolved {
            Some(r) => format!("resolved {}", when(r)),
            None => "open".to_owned(),
        };
        let _ = write!(
            t,
            r#"<tr class="incident {}" title="{}"><td>{}</td><td>{host}</td><td>{}</td><td>{}</td><td>{status}</td><td>{}</td></tr>"#,
            i.status.as_str(),
            esc(&i.incident_id),
            badge(Some(i.severity)),
            esc(&types.join(", ")),
            when(i.opened),
            esc(&i.summary)
        );
    }
    t.push_str("</table>");
    Ok(t)
}

fn model_line(state: &AppState) -> String {
    format!(
        r#"<p class="muted">model: <b>{}</b>, {}</p>"#,
        esc(&state.model.version),
        esc(&state.model.description)
    )
}

fn drivers(i: &StoredInsight) -> String {
    i.insight
        .drivers
        .iter()
        .map(|d| format!("{} {:.0}%", d.metric.wire_name(), 100.0 * d.share))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The insights table, newest first; `with_host` adds a host column with links.
fn feed(insights: &[&StoredInsight], with_host: bool) -> String {
    if insights.is_empty() {
        return r#"<p class="muted">No insights in this window.</p>"#.to_owned();
    }
    let mut s = String::from(r#"<table class="insights"><tr><th>time (UTC)</th>"#);
    if with_host {
        s.push_str("<th>host</th>");
    }
    s.push_str("<th>severity</th><th>type</th><th>message</th><th>drivers</th><th>model</th></tr>");
    for i in insights {
        let _ = write!(
            s,
            "<tr class=\"insight\"><td>{}</td>",
            when(i.insight.timestamp)
        );
        if with_host {
            let _ = write!(
                s,
                r#"<td><a href="/hosts/{0}">{1}</a></td>"#,
                esc(&url_segment(&i.insight.hostname)),
                esc(&i.insight.hostname)
            );
        }
        let _ = write!(
            s,
            "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"muted\">{} {}</td></tr>",
            badge(Some(i.insight.severity)),
            i.insight.kind.as_str(),
            esc(&i.insight.message),
            esc(&drivers(i)),
            i.model_source,
            esc(&i.model_version)
        );
    }
    s.push_str("</table>");
    s
}

/// Hostnames are letters, digits and `.-_:`; only `:` is worth encoding in a path.
fn url_segment(host: &str) -> String {
    host.replace(':', "%3A")
}

struct HostRow {
    host: String,
    last: Timestamp,
    status: Option<Severity>,
    recent: Vec<StoredInsight>,
    cpu: Vec<(f64, f64)>,
    /// Its peer group's name, when the model has groups.
    group: Option<String>,
}

pub async fn overview(State(state): State<AppState>) -> Response {
    let store = state.service.store();
    let mut rows = Vec::new();
    for (host, last) in state.hosts.snapshot() {
        let end = last.epoch_seconds();
        let from = at(end - OVERVIEW_SECS);
        let recent = match store.list_insights(&host, from, MAX_INSIGHTS).await {
            Ok(v) => v,
            Err(e) => return failure(e),
        };
        let metrics = match store.list_metrics(&host, from, MAX_SAMPLES).await {
            Ok(v) => v,
            Err(e) => return failure(e),
        };
        let status = recent
            .iter()
            .filter(|i| i.insight.timestamp.epoch_seconds() >= end - STATUS_SECS)
            .map(|i| i.insight.severity)
            .max();
        let cpu = metrics
            .iter()
            .map(|m| (m.sample.timestamp.epoch_seconds(), m.sample.cpu_usage))
            .collect();
        let group = match state.service.host_group(&host).await {
            Ok(g) => g.map(|g| g.name),
            Err(e) => return failure(e),
        };
        rows.push(HostRow {
            host,
            last,
            status,
            recent,
            cpu,
            group,
        });
    }
    // Worst first, then by name.
    rows.sort_by(|a, b| b.status.cmp(&a.status).then_with(|| a.host.cmp(&b.host)));

    let mut body = String::from("<h1>iops</h1>");
    let _ = write!(
        body,
        r#"<p class="muted">{} hosts · status = worst severity raised in the hour before a host's newest sample · refreshes every {REFRESH_SECS} s</p>"#,
        rows.len()
    );
    body.push_str(&model_line(&state));
    body.push_str("<h2>Open incidents</h2>");
    let open = IncidentQuery {
        status: Some(IncidentStatus::Open),
        hostname: None,
        since: None,
        limit: INCIDENT_ROWS,
    };
    match incidents_table(&state, open).await {
        Ok(table) => body.push_str(&table),
        Err(failed) => return failed,
    }
    body.push_str("<h2>Hosts</h2>");
    if rows.is_empty() {
        body.push_str(
            r#"<p>No metrics yet. POST one: <code>curl -X POST localhost:8080/metrics -d '{"timestamp":"2026-11-26T17:00:00Z","hostname":"web-1","cpuUsage":75.5,"memoryUsage":82.3,"diskIO":200.5,"networkIO":150.2}'</code></p>"#,
        );
    } else {
        // the peer group column only where the model has groups
        let grouped = rows.iter().any(|r| r.group.is_some());
        let _ = write!(
            body,
            r#"<table class="hosts"><tr><th>host</th>{}<th>status</th><th>last sample (UTC)</th><th>insights, last 24 h</th><th>cpuUsage, last 24 h</th></tr>"#,
            if grouped { "<th>peer group</th>" } else { "" }
        );
        for r in &rows {
            let end = r.last.epoch_seconds();
            let group = match (&r.group, grouped) {
                (_, false) => String::new(),
                (Some(g), true) => format!(r#"<td class="group">{}</td>"#, esc(g)),
                (None, true) => r#"<td class="group muted">none yet</td>"#.into(),
            };
            let _ = write!(
                body,
                r#"<tr class="host"><td><a href="/hosts/{}">{}</a></td>{group}<td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
                esc(&url_segment(&r.host)),
                esc(&r.host),
                badge(r.status),
                when(r.last),
                r.recent.len(),
                sparkline(&r.cpu, end - OVERVIEW_SECS, end, 240.0, 28.0)
            );
        }
        body.push_str("</table>");
    }
    let mut all: Vec<&StoredInsight> = rows.iter().flat_map(|r| r.recent.iter()).collect();
    all.sort_by_key(|i| std::cmp::Reverse(i.insight.timestamp));
    all.truncate(FEED_ROWS);
    let _ = write!(
        body,
        "<h2>Recent insights</h2><p class=\"muted\">the newest {FEED_ROWS} of each host's last 24 h</p>"
    );
    body.push_str(&feed(&all, true));
    html(StatusCode::OK, page("iops: fleet", &body))
}

/// The band of each metric: (t, expected − 3 spreads, expected + 3 spreads) for every
/// sample at or after `from` where the metric's models are warm.
fn replay_band(
    engine: &iops_core::engine::EngineConfig,
    metrics: &[StoredMetric],
    from: f64,
) -> [Vec<(f64, f64, f64)>; 4] {
    let mut bands: [Vec<(f64, f64, f64)>; 4] = Default::default();
    let Ok(mut state) = HostState::new(engine) else {
        return bands;
    };
    for m in metrics {
        // (the band is the metrics' models'; the forest plays no part in it)
        let Ok(a) = state.process(engine, None, &m.sample) else {
            continue;
        };
        let t = m.sample.timestamp.epoch_seconds();
        if t < from {
            continue;
        }
        for (metric, (band, obs)) in Metric::ALL.iter().zip(bands.iter_mut().zip(a.metrics)) {
            if obs.warm && obs.expected.is_finite() && obs.spread.is_finite() {
                let mut lo = (obs.expected - 3.0 * obs.spread).max(0.0);
                let mut hi = obs.expected + 3.0 * obs.spread;
                if metric.is_percent() {
                    (lo, hi) = (lo.min(100.0), hi.min(100.0));
                }
                band.push((t, lo, hi));
            }
        }
    }
    bands
}

pub async fn host_page(
    State(state): State<AppState>,
    Path(hostname): Path<String>,
    uri: Uri,
) -> Response {
    let hours = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "hours")
        .and_then(|(_, v)| v.parse::<f64>().ok())
        .filter(|h| h.is_finite() && *h > 0.0)
        .map_or(48.0, |h| h.min(24.0 * 31.0));
    let Some(last) = state.hosts.last_seen(&hostname) else {
        let body = format!(
            r#"<h1>iops</h1><p>No metrics from host <b>{}</b>. <a href="/">All hosts</a></p>"#,
            esc(&hostname)
        );
        return html(StatusCode::NOT_FOUND, page("iops: unknown host", &body));
    };
    let end = last.epoch_seconds();
    let start = end - hours * 3600.0;
    let store = state.service.store();
    let metrics = match store
        .list_metrics(&hostname, at(start - REPLAY_SECS), MAX_SAMPLES)
        .await
    {
        Ok(v) => v,
        Err(e) => return failure(e),
    };
    let insights = match store
        .list_insights(&hostname, at(start), MAX_INSIGHTS)
        .await
    {
        Ok(v) => v,
        Err(e) => return failure(e),
    };
    let engine = std::sync::Arc::clone(&state.engine);
    let (metrics, bands) = match tokio::task::spawn_blocking(move || {
        let bands = replay_band(&engine, &metrics, start);
        (metrics, bands)
    })
    .await
    {
        Ok(v) => v,
        Err(e) => return failure(e),
    };
    let truncated = metrics.len() >= MAX_SAMPLES;
    let in_window: Vec<&StoredMetric> = metrics
        .iter()
        .filter(|m| m.sample.timestamp.epoch_seconds() >= start)
        .collect();
    let labels = (when(at(start)), when(last));

    let mut body = format!(
        r#"<p><a href="/">← all hosts</a></p><h1>{}</h1>"#,
        esc(&hostname)
    );
    match state.service.host_group(&hostname).await {
        Ok(Some(group)) => {
            let how = match group.source {
                GroupSource::Fitted => "fitted with the model",
                GroupSource::Placed => "placed when it joined",
            };
            let _ = write!(
                body,
                r#"<p class="group">Peer group <b>{}</b> ({} hosts, {how})</p>"#,
                esc(&group.name),
                group.hosts
            );
        }
        Ok(None) => {}
        Err(e) => return failure(e),
    }
    let status = insights
        .iter()
        .filter(|i| i.insight.timestamp.epoch_seconds() >= end - STATUS_SECS)
        .map(|i| i.insight.severity)
        .max();
    let _ = write!(
        body,
        r#"<p>{} <span class="muted">last {hours} h to its newest sample ({} UTC): {} samples, {} insights · band: expected ± 3 spreads, replayed from the stored samples · <a href="?hours=24">24 h</a> <a href="?hours=48">48 h</a> <a href="?hours=168">7 days</a></span></p>"#,
        badge(status),
        when(last),
        in_window.len(),
        insights.len()
    );
    if truncated {
        let _ = write!(
            body,
            r#"<p class="muted">Only the first {MAX_SAMPLES} samples were read: choose fewer hours.</p>"#
        );
    }
    body.push_str(&model_line(&state));
    body.push_str("<h2>Incidents</h2>");
    let of_host = IncidentQuery {
        status: None,
        hostname: Some(hostname.clone()),
        since: None,
        limit: INCIDENT_ROWS,
    };
    match incidents_table(&state, of_host).await {
        Ok(table) => body.push_str(&table),
        Err(failed) => return failed,
    }
    body.push_str(r#"<div class="charts">"#);
    for (metric, band) in Metric::ALL.iter().zip(&bands) {
        let points: Vec<(f64, f64)> = in_window
            .iter()
            .map(|m| (m.sample.timestamp.epoch_seconds(), m.sample.value(*metric)))
            .collect();
        let markers: Vec<Marker> = insights
            .iter()
            .filter(|i| i.insight.metric == *metric)
            .map(|i| Marker {
                t: i.insight.timestamp.epoch_seconds(),
                v: i.insight.value,
                severity: i.insight.severity,
                title: format!(
                    "{} {} {}: {}",
                    when(i.insight.timestamp),
                    i.insight.severity.as_str(),
                    i.insight.kind.as_str(),
                    i.insight.message
                ),
            })
            .collect();
        body.push_str(&render(&Chart {
            title: metric.wire_name(),
            width: 620.0,
            height: 200.0,
            t0: start,
            t1: end,
            points: &points,
            band,
            markers: &markers,
            labels: (&labels.0, &labels.1),
        }));
    }
    body.push_str("</div><h2>Insights</h2>");
    let mut newest: Vec<&StoredInsight> = insights.iter().collect();
    newest.reverse();
    body.push_str(&feed(&newest, false));
    html(StatusCode::OK, page(&format!("iops: {hostname}"), &body))
}
