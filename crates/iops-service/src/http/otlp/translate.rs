//! OTLP metrics → samples: the OpenTelemetry Collector's hostmetrics receiver, mapped.
//!
//! | sample field | OTLP metric (hostmetrics) | how |
//! |---|---|---|
//! | `hostname` | resource attribute `host.name` | as is (a resource without it is rejected) |
//! | `cpuUsage` | `system.cpu.utilization` (gauge, by `cpu` and `state`) | 100 × the mean over CPUs of the states other than `idle` and `wait` |
//! | `memoryUsage` | `system.memory.utilization` (gauge, by `state`) | 100 × `state=used` |
//! | `diskIO` | `system.disk.io` (sum, bytes, by `device` and `direction`) | kB/s summed over devices and directions |
//! | `networkIO` | `system.network.io` (sum, bytes, by `device` and `direction`) | kB/s summed over devices (not `lo`) and directions |
//!
//! A host's sample is stamped with the newest of the points it is made of; each metric's
//! newest point counts (an export holding several scrapes gives one sample). Sums become
//! rates: a delta sum over its own interval; a cumulative one against the previous point of
//! the same series ([`Counters`]), its start time changed or its value fallen (a restart:
//! the rate since the new start, when known). A host gets a sample only when all four
//! fields are known: the first export of a cumulative series gives no rate yet. Other
//! metrics are ignored and counted. A host's previous points can be kept in the store
//! between requests ([`Counters::export_host`], [`Counters::import_host`]), so a front end
//! of many processes (Lambda instances) computes rates whichever process gets an export.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use iops_core::{validate_hostname, MetricSample, Timestamp};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, AggregationTemporality, Metric, NumberDataPoint,
};

const CPU: &str = "system.cpu.utilization";
const MEMORY: &str = "system.memory.utilization";
const DISK: &str = "system.disk.io";
const NETWORK: &str = "system.network.io";
/// CPU states that are not busy.
const IDLE_STATES: [&str; 2] = ["idle", "wait"];
/// Bytes per reported unit of `diskIO` and `networkIO` (kB).
const BYTES_PER_UNIT: f64 = 1000.0;
/// Cumulative series remembered at most (the oldest seen are forgotten past it).
const MAX_SERIES: usize = 200_000;

/// The previous point of each cumulative series, by host, metric and attributes.
#[derive(Debug, Default)]
pub struct Counters {
    series: HashMap<SeriesKey, CounterPoint>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SeriesKey {
    host: String,
    metric: &'static str,
    attributes: String,
}

#[derive(Debug, Clone, Copy)]
struct CounterPoint {
    start: u64,
    time: u64,
    value: f64,
    /// The rate computed when this point arrived (a resent export gives it again).
    rate: Option<f64>,
}

/// What an export gave.
#[derive(Debug, Default)]
pub struct Translation {
    /// One per host with all four fields known.
    pub samples: Vec<MetricSample>,
    /// Data points of metrics this mapping does not use.
    pub ignored_points: u64,
    /// Their names.
    pub ignored_metrics: BTreeSet<String>,
    /// Data points refused (no or a bad `host.name`, no value, a time out of range).
    pub rejected_points: u64,
    /// Why, for the answer.
    pub problems: Vec<String>,
    /// Hosts without a sample this time, and what they lack.
    pub incomplete: Vec<(String, Vec<&'static str>)>,
}

/// One host's newest points in an export.
#[derive(Debug, Default)]
struct HostPoints {
    /// By (cpu, state): (time, value).
    cpu: BTreeMap<(String, String), (u64, f64)>,
    memory_used: Option<(u64, f64)>,
    disk: BTreeMap<String, SumPoint>,
    network: BTreeMap<String, SumPoint>,
}

#[derive(Debug, Clone, Copy)]
struct SumPoint {
    start: u64,
    time: u64,
    value: f64,
    delta: bool,
}

/// A kept point: metric, attributes, start, time, value.
type KeptPoint = (String, String, u64, u64, f64);

impl Counters {
    /// The hosts (valid `host.name` values) `request` has points of.
    pub fn hosts_of(request: &ExportMetricsServiceRequest) -> BTreeSet<String> {
        request
            .resource_metrics
            .iter()
            .filter_map(|r| {
                let attributes = r.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]);
                string_attribute(attributes, "host.name")
            })
            .filter(|h| validate_hostname(h).is_ok())
            .map(str::to_owned)
            .collect()
    }

    /// The host's newest point of each cumulative series, as JSON to keep.
    pub fn export_host(&self, host: &str) -> String {
        let kept: Vec<KeptPoint> = self
            .series
            .iter()
            .filter(|(k, _)| k.host == host)
            .map(|(k, p)| {
                (
                    k.metric.to_owned(),
                    k.attributes.clone(),
                    p.start,
                    p.time,
                    p.value,
                )
            })
            .collect();
        serde_json::to_string(&kept).unwrap_or_else(|_| "[]".into())
    }

    /// Takes in points kept by [`Counters::export_host`] (maybe by another process) that
    /// are newer than the ones this one holds; anything unreadable is ignored (the next
    /// export starts the series again).
    pub fn import_host(&mut self, host: &str, kept: &str) {
        let Ok(kept) = serde_json::from_str::<Vec<KeptPoint>>(kept) else {
            return;
        };
        for (metric, attributes, start, time, value) in kept {
            let metric = match metric.as_str() {
                DISK => DISK,
                NETWORK => NETWORK,
                _ => continue,
            };
            let key = SeriesKey {
                host: host.to_owned(),
                metric,
                attributes,
            };
            if self.series.get(&key).is_some_and(|p| p.time >= time) {
                continue;
            }
            if self.series.len() >= MAX_SERIES {
                self.series.clear();
            }
            self.series.insert(
                key,
                CounterPoint {
                    start,
                    time,
                    value,
                    rate: None,
                },
            );
        }
    }

    /// The samples in `request` (see the module docs).
    pub fn translate(&mut self, request: &ExportMetricsServiceRequest) -> Translation {
        let mut out = Translation::default();
        let mut hosts: BTreeMap<String, HostPoints> = BTreeMap::new();
        for resource in &request.resource_metrics {
            let attributes = resource
                .resource
                .as_ref()
                .map_or(&[][..], |r| &r.attributes[..]);
            let host = string_attribute(attributes, "host.name");
            let points: u64 = resource
                .scope_metrics
                .iter()
                .flat_map(|s| &s.metrics)
                .map(point_count)
                .sum();
            let host = match host.map(|h| validate_hostname(h).map(|()| h)) {
                Some(Ok(h)) => h.to_owned(),
                Some(Err(e)) => {
                    out.reject(points, format!("resource attribute host.name: {e}"));
                    continue;
                }
                None => {
                    out.reject(points, "a resource has no host.name attribute".into());
                    continue;
                }
            };
            let entry = hosts.entry(host).or_default();
            for m in resource.scope_metrics.iter().flat_map(|s| &s.metrics) {
                entry.add(m, &mut out);
            }
        }
        for (host, points) in hosts {
            self.sample_of(host, &points, &mut out);
        }
        out
    }

    fn sample_of(&mut self, host: String, p: &HostPoints, out: &mut Translation) {
        let mut newest = 0u64;
        let mut missing = Vec::new();
        let cpu = cpu_usage(&p.cpu);
        if cpu.is_none() {
            missing.push("cpuUsage");
        }
        let memory = p.memory_used.map(|(t, v)| {
            newest = newest.max(t);
            100.0 * v
        });
        if memory.is_none() {
            missing.push("memoryUsage");
        }
        newest = newest.max(p.cpu.values().map(|(t, _)| *t).max().unwrap_or(0));
        let mut rate_of = |metric: &'static str, series: &BTreeMap<String, SumPoint>| {
            if series.is_empty() {
                return None;
            }
            let mut total = 0.0;
            let mut known = true;
            for (attributes, point) in series {
                newest = newest.max(point.time);
                let key = SeriesKey {
                    host: host.clone(),
                    metric,
                    attributes: attributes.clone(),
                };
                match self.rate(key, *point) {
                    Some(r) => total += r,
                    None => known = false,
                }
            }
            known.then_some(total / BYTES_PER_UNIT)
        };
        let disk = rate_of(DISK, &p.disk);
        let network = rate_of(NETWORK, &p.network);
        if disk.is_none() {
            missing.push("diskIO");
        }
        if network.is_none() {
            missing.push("networkIO");
        }
        let (Some(cpu), Some(memory), Some(disk), Some(network)) = (cpu, memory, disk, network)
        else {
            out.incomplete.push((host, missing));
            return;
        };
        let Ok(timestamp) = Timestamp::from_epoch_seconds(newest as f64 / 1e9) else {
            out.reject(
                1,
                format!("{host}: time_unix_nano {newest} is out of range"),
            );
            return;
        };
        out.samples.push(MetricSample {
            timestamp,
            hostname: host,
            cpu_usage: cpu.clamp(0.0, 100.0),
            memory_usage: memory.clamp(0.0, 100.0),
            disk_io: disk.max(0.0),
            network_io: network.max(0.0),
        });
    }

    /// Bytes per second of a sum's point (see the module docs).
    fn rate(&mut self, key: SeriesKey, p: SumPoint) -> Option<f64> {
        let seconds = |from: u64, to: u64| (to > from).then(|| (to - from) as f64 / 1e9);
        if p.delta {
            return seconds(p.start, p.time).map(|s| p.value / s);
        }
        let since_start = || {
            (p.start > 0)
                .then(|| seconds(p.start, p.time))
                .flatten()
                .map(|s| p.value / s)
        };
        let rate = match self.series.get(&key) {
            // a resent export: the rate it gave
            Some(prev) if prev.time == p.time && prev.start == p.start => return prev.rate,
            // older than what was seen: out of order, no rate
            Some(prev) if p.time < prev.time => return None,
            Some(prev) if p.start != prev.start || p.value < prev.value => since_start(),
            Some(prev) => seconds(prev.time, p.time).map(|s| (p.value - prev.value) / s),
            None => None,
        };
        if self.series.len() >= MAX_SERIES && !self.series.contains_key(&key) {
            self.series.clear();
        }
        self.series.insert(
            key,
            CounterPoint {
                start: p.start,
                time: p.time,
                value: p.value,
                rate,
            },
        );
        rate
    }
}

impl Translation {
    fn reject(&mut self, points: u64, why: String) {
        self.rejected_points += points;
        if !self.problems.contains(&why) {
            self.problems.push(why);
        }
    }

    /// The OTLP partial-success message: what was refused, ignored or is not yet complete
    /// (empty when all went in).
    pub fn message(&self) -> String {
        let mut parts = self.problems.clone();
        if self.ignored_points > 0 {
            let names: Vec<&str> = self.ignored_metrics.iter().map(String::as_str).collect();
            parts.push(format!(
                "{} data points of metrics iops does not use were ignored ({})",
                self.ignored_points,
                names.join(", ")
            ));
        }
        for (host, missing) in &self.incomplete {
            parts.push(format!(
                "no sample for {host} yet: {} unknown (a cumulative sum needs two points)",
                missing.join(", ")
            ));
        }
        parts.join("; ")
    }
}

impl HostPoints {
    fn add(&mut self, m: &Metric, out: &mut Translation) {
        match m.name.as_str() {
            CPU if gauge(m).is_some() => {
                for p in gauge(m).unwrap_or_default() {
                    let Some(v) = value(p) else {
                        out.reject(1, format!("{CPU}: a data point has no value"));
                        continue;
                    };
                    let cpu = string_attribute(&p.attributes, "cpu")
                        .unwrap_or("")
                        .to_owned();
                    let state = string_attribute(&p.attributes, "state")
                        .unwrap_or("")
                        .to_owned();
                    newer(
                        self.cpu.entry((cpu, state)).or_insert((0, 0.0)),
                        p.time_unix_nano,
                        v,
                    );
                }
            }
            MEMORY if gauge(m).is_some() => {
                for p in gauge(m).unwrap_or_default() {
                    if string_attribute(&p.attributes, "state") != Some("used") {
                        continue;
                    }
                    let Some(v) = value(p) else {
                        out.reject(1, format!("{MEMORY}: a data point has no value"));
                        continue;
                    };
                    newer(
                        self.memory_used.get_or_insert((0, 0.0)),
                        p.time_unix_nano,
                        v,
                    );
                }
            }
            DISK | NETWORK if sum(m).is_some() => {
                let (points, delta) = sum(m).unwrap_or_default();
                let series = if m.name == DISK {
                    &mut self.disk
                } else {
                    &mut self.network
                };
                for p in points {
                    let device = string_attribute(&p.attributes, "device").unwrap_or("");
                    if m.name == NETWORK && device == "lo" {
                        continue;
                    }
                    let Some(v) = value(p) else {
                        out.reject(1, format!("{}: a data point has no value", m.name));
                        continue;
                    };
                    let key = attribute_key(&p.attributes);
                    let point = SumPoint {
                        start: p.start_time_unix_nano,
                        time: p.time_unix_nano,
                        value: v,
                        delta,
                    };
                    match series.get(&key) {
                        Some(seen) if seen.time >= point.time => {}
                        _ => {
                            series.insert(key, point);
                        }
                    }
                }
            }
            _ => {
                out.ignored_points += point_count(m);
                out.ignored_metrics.insert(m.name.clone());
            }
        }
    }
}

fn gauge(m: &Metric) -> Option<&[NumberDataPoint]> {
    match &m.data {
        Some(metric::Data::Gauge(g)) => Some(&g.data_points),
        _ => None,
    }
}

/// A sum's points, and whether they are deltas.
fn sum(m: &Metric) -> Option<(&[NumberDataPoint], bool)> {
    match &m.data {
        Some(metric::Data::Sum(s)) => Some((
            &s.data_points,
            s.aggregation_temporality == AggregationTemporality::Delta as i32,
        )),
        _ => None,
    }
}

/// `slot` becomes `(time, value)` if it is newer.
fn newer(slot: &mut (u64, f64), time: u64, value: f64) {
    if time >= slot.0 {
        *slot = (time, value);
    }
}

/// 100 × the mean over CPUs of their busy share (`None` without points).
fn cpu_usage(points: &BTreeMap<(String, String), (u64, f64)>) -> Option<f64> {
    let mut busy: BTreeMap<&str, f64> = BTreeMap::new();
    for ((cpu, state), (_, v)) in points {
        let share = busy.entry(cpu.as_str()).or_insert(0.0);
        if !IDLE_STATES.contains(&state.as_str()) {
            *share += v;
        }
    }
    (!busy.is_empty()).then(|| 100.0 * busy.values().sum::<f64>() / busy.len() as f64)
}

fn value(p: &NumberDataPoint) -> Option<f64> {
    match p.value? {
        number_data_point::Value::AsDouble(v) if v.is_finite() => Some(v),
        number_data_point::Value::AsInt(v) => Some(v as f64),
        number_data_point::Value::AsDouble(_) => None,
    }
}

fn point_count(m: &Metric) -> u64 {
    let n = match &m.data {
        Some(metric::Data::Gauge(g)) => g.data_points.len(),
        Some(metric::Data::Sum(s)) => s.data_points.len(),
        Some(metric::Data::Histogram(h)) => h.data_points.len(),
        Some(metric::Data::ExponentialHistogram(h)) => h.data_points.len(),
        Some(metric::Data::Summary(s)) => s.data_points.len(),
        None => 0,
    };
    n as u64
}

fn string_attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a str> {
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.as_str()),
            _ => None,
        }
    })
}

/// A series' attributes as one key (`device=sda,direction=read`), in their sorted order.
fn attribute_key(attributes: &[KeyValue]) -> String {
    let mut parts: Vec<String> = attributes
        .iter()
        .map(|kv| {
            let v = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(any_value::Value::StringValue(s)) => s.clone(),
                Some(any_value::Value::IntValue(i)) => i.to_string(),
                Some(any_value::Value::BoolValue(b)) => b.to_string(),
                Some(any_value::Value::DoubleValue(d)) => d.to_string(),
                _ => String::new(),
            };
            format!("{}={v}", kv.key)
        })
        .collect();
    parts.sort();
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Export `n` of host `h`: cumulative network and disk bytes, 6 MB more a minute.
    fn export(n: u64) -> ExportMetricsServiceRequest {
        let t = (1_764_000_000 + 60 * n) * 1_000_000_000;
        let kv = |k: &str, v: &str| serde_json::json!({"key": k, "value": {"stringValue": v}});
        let point = |attrs: serde_json::Value, value: f64| {
            serde_json::json!({"attributes": attrs, "startTimeUnixNano": "1",
                "timeUnixNano": t.to_string(), "asDouble": value})
        };
        let sum = |name: &str| {
            serde_json::json!({"name": name, "sum": {"aggregationTemporality": 2,
                "dataPoints": [point(serde_json::json!([kv("device", "d0")]), 6e6 * (n + 1) as f64)]}})
        };
        serde_json::from_value(serde_json::json!({"resourceMetrics": [{
            "resource": {"attributes": [kv("host.name", "h")]},
            "scopeMetrics": [{"metrics": [
                {"name": CPU, "gauge": {"dataPoints": [point(serde_json::json!([kv("cpu", "0"), kv("state", "user")]), 0.5)]}},
                {"name": MEMORY, "gauge": {"dataPoints": [point(serde_json::json!([kv("state", "used")]), 0.5)]}},
                sum(DISK), sum(NETWORK)
            ]}]
        }]}))
        .unwrap()
    }

    #[test]
    fn kept_points_carry_rates_to_another_process_and_never_go_back_in_time() {
        let mut a = Counters::default();
        assert!(
            a.translate(&export(0)).samples.is_empty(),
            "one point: no rate"
        );
        assert_eq!(
            Counters::hosts_of(&export(0))
                .into_iter()
                .collect::<Vec<_>>(),
            ["h"]
        );
        let kept = a.export_host("h");
        let mut b = Counters::default();
        b.import_host("h", &kept);
        let samples = b.translate(&export(1)).samples;
        assert_eq!(samples.len(), 1);
        assert_eq!(samples[0].disk_io, 100.0, "6 MB a minute: 100 kB/s");
        // a's older points do not replace b's newer ones; garbage is ignored
        let newer = b.export_host("h");
        b.import_host("h", &kept);
        b.import_host("h", "not json");
        b.import_host("h", r#"[["system.cpu.time","",1,2,3.0]]"#);
        assert_eq!(b.export_host("h"), newer);
        assert_eq!(b.translate(&export(2)).samples.len(), 1);
        assert!(a.export_host("other").contains("[]"));
    }
}
