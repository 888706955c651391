//! The metric sample exactly as the runbook's agents send it, and its validation.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::timestamp::{json_type, Shorten};
use crate::{Error, Result, Timestamp};

/// One of the four metrics every sample carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Metric {
    /// CPU utilisation, percent (0–100).
    #[serde(rename = "cpuUsage")]
    Cpu,
    /// Memory utilisation, percent (0–100).
    #[serde(rename = "memoryUsage")]
    Memory,
    /// Disk I/O, any non-negative rate.
    #[serde(rename = "diskIO")]
    DiskIo,
    /// Network I/O, any non-negative rate.
    #[serde(rename = "networkIO")]
    NetworkIo,
}

impl Metric {
    /// All metrics, in wire order.
    pub const ALL: [Metric; 4] = [
        Metric::Cpu,
        Metric::Memory,
        Metric::DiskIo,
        Metric::NetworkIo,
    ];

    /// The camelCase wire name (`cpuUsage`, `memoryUsage`, `diskIO`, `networkIO`).
    pub fn wire_name(self) -> &'static str {
        match self {
            Metric::Cpu => "cpuUsage",
            Metric::Memory => "memoryUsage",
            Metric::DiskIo => "diskIO",
            Metric::NetworkIo => "networkIO",
        }
    }

    /// Position in [`Metric::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// True for metrics measured in percent.
    pub fn is_percent(self) -> bool {
        matches!(self, Metric::Cpu | Metric::Memory)
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.wire_name())
    }
}

/// A metric sample: `{"timestamp","hostname","cpuUsage","memoryUsage","diskIO","networkIO"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricSample {
    /// When the sample was taken.
    pub timestamp: Timestamp,
    /// The host it comes from.
    pub hostname: String,
    /// CPU utilisation, percent.
    pub cpu_usage: f64,
    /// Memory utilisation, percent.
    pub memory_usage: f64,
    /// Disk I/O rate.
    #[serde(rename = "diskIO")]
    pub disk_io: f64,
    /// Network I/O rate.
    #[serde(rename = "networkIO")]
    pub network_io: f64,
}

impl MetricSample {
    /// The value of one metric.
    pub fn value(&self, metric: Metric) -> f64 {
        match metric {
            Metric::Cpu => self.cpu_usage,
            Metric::Memory => self.memory_usage,
            Metric::DiskIo => self.disk_io,
            Metric::NetworkIo => self.network_io,
        }
    }

    /// The four values in [`Metric::ALL`] order.
    pub fn values(&self) -> [f64; 4] {
        [
            self.cpu_usage,
            self.memory_usage,
            self.disk_io,
            self.network_io,
        ]
    }

    /// Checks every field; the error names the first bad one (wire order).
    pub fn validate(&self) -> Result<()> {
        validate_hostname(&self.hostname)?;
        // The hot path (every sample): four range checks at once, NaN and infinities fail
        // them; the error path names the first bad field.
        let in_range = Metric::ALL.into_iter().zip(self.values()).all(|(m, v)| {
            let max = if m.is_percent() { 100.0 } else { f64::MAX };
            v >= 0.0 && v <= max
        });
        if !in_range {
            for m in Metric::ALL {
                check_metric(m, self.value(m))?;
            }
        }
        Ok(())
    }

    /// Parses and validates one JSON object, the body of `POST /metrics`.
    ///
    /// Every error is an [`Error::InvalidField`] naming the wire field it is about:
    /// `body` when the bytes are not one JSON object, else `timestamp`, `hostname`,
    /// `cpuUsage`, `memoryUsage`, `diskIO` or `networkIO` (missing, wrong type, out of
    /// range or duplicated). Fields are checked in that order; unknown fields are ignored.
    ///
    /// ```
    /// use iops_core::MetricSample;
    ///
    /// let ok = br#"{"timestamp":"2026-11-26T17:00:00Z","hostname":"web-1","cpuUsage":75.5,
    ///              "memoryUsage":82.3,"diskIO":200.5,"networkIO":150.2}"#;
    /// let sample = MetricSample::from_json(ok).unwrap();
    /// assert_eq!(sample.cpu_usage, 75.5);
    ///
    /// let bad = br#"{"timestamp":"2026-11-26T17:00:00Z","hostname":"web-1","cpuUsage":"high",
    ///               "memoryUsage":82.3,"diskIO":200.5,"networkIO":150.2}"#;
    /// let err = MetricSample::from_json(bad).unwrap_err();
    /// assert_eq!(err.field(), Some("cpuUsage"));
    /// ```
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let raw = wire::RawSample::parse(bytes)?;
        let timestamp = Timestamp::from_json_value(raw.required(wire::TIMESTAMP)?)?;
        let hostname = match raw.required(wire::HOSTNAME)? {
            Value::String(s) => s.clone(),
            other => {
                return Err(Error::InvalidField {
                    field: wire::HOSTNAME.into(),
                    reason: format!("must be a string, got {}", json_type(other)),
                })
            }
        };
        validate_hostname(&hostname)?;
        let mut values = [0.0; 4];
        for (slot, m) in values.iter_mut().zip(Metric::ALL) {
            *slot = check_metric(m, number(m, raw.required(m.wire_name())?)?)?;
        }
        let [cpu_usage, memory_usage, disk_io, network_io] = values;
        Ok(MetricSample {
            timestamp,
            hostname,
            cpu_usage,
            memory_usage,
            disk_io,
            network_io,
        })
    }

    /// True when `bytes` is a batch: its first byte after whitespace opens a JSON array.
    pub fn is_batch(bytes: &[u8]) -> bool {
        bytes
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|&b| b == b'[')
    }

    /// Parses a JSON array of samples, each item as [`MetricSample::from_json`] parses one
    /// body: one bad item is its own error (naming its field) and does not spoil the others.
    /// The outer `Err` names `body` when the bytes are not a JSON array.
    ///
    /// ```
    /// use iops_core::MetricSample;
    ///
    /// let body = br#"[{"timestamp":"2026-11-26T17:00:00Z","hostname":"web-1","cpuUsage":75.5,
    ///                 "memoryUsage":82.3,"diskIO":200.5,"networkIO":150.2},
    ///                {"timestamp":"2026-11-26T17:01:00Z","hostname":"web-1","cpuUsage":-1,
    ///                 "memoryUsage":82.3,"diskIO":200.5,"networkIO":150.2}]"#;
    /// let items = MetricSample::batch_from_json(body).unwrap();
    /// assert!(items[0].is_ok());
    /// assert_eq!(items[1].as_ref().unwrap_err().field(), Some("cpuUsage"));
    /// ```
    pub fn batch_from_json(bytes: &[u8]) -> Result<Vec<Result<Self>>> {
        let items: Vec<&serde_json::value::RawValue> =
            serde_json::from_slice(bytes).map_err(|e| Error::InvalidField {
                field: wire::BODY.into(),
                reason: format!("must be a JSON array of samples: {e}"),
            })?;
        Ok(items
            .iter()
            .map(|raw| Self::from_json(raw.get().as_bytes()))
            .collect())
    }

    /// The runbook's JSON shape, camelCase, timestamp as RFC 3339 UTC.
    ///
    /// `from_json(to_json(s))` gives back `s` for every sample that passed [`MetricSample::validate`].
    pub fn to_json(&self) -> String {
        // Cannot fail: strings, f64 (non-finite would become null) and a Display timestamp.
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl FromStr for Metric {
    type Err = Error;

    /// Parses a wire name (`cpuUsage`, `memoryUsage`, `diskIO`, `networkIO`).
    fn from_str(s: &str) -> Result<Self> {
        Metric::ALL
            .into_iter()
            .find(|m| m.wire_name() == s)
            .ok_or_else(|| Error::InvalidField {
                field: "metric".into(),
                reason: format!(
                    "must be one of cpuUsage, memoryUsage, diskIO, networkIO, got {:?}",
                    Shorten(s)
                ),
            })
    }
}

/// The JSON value of a metric field as a number; the error names the metric.
fn number(m: Metric, v: &Value) -> Result<f64> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| Error::InvalidField {
            field: m.wire_name().into(),
            reason: format!("number not representable as f64: {n}"),
        }),
        other => Err(Error::InvalidField {
            field: m.wire_name().into(),
            reason: format!("must be a number, got {}", json_type(other)),
        }),
    }
}

/// Finite, and 0–100 for percentages or >= 0 for rates.
fn check_metric(m: Metric, v: f64) -> Result<f64> {
    if !v.is_finite() {
        return Err(Error::InvalidField {
            field: m.wire_name().into(),
            reason: format!("must be a finite number, got {v}"),
        });
    }
    let max = if m.is_percent() { 100.0 } else { f64::INFINITY };
    if !(0.0..=max).contains(&v) {
        let range = if m.is_percent() {
            "between 0 and 100"
        } else {
            ">= 0"
        };
        return Err(Error::InvalidField {
            field: m.wire_name().into(),
            reason: format!("must be {range}, got {v}"),
        });
    }
    Ok(v)
}

/// The bytes a hostname may hold: ASCII letters, digits and `.-_:`.
static HOSTNAME_BYTE: [bool; 256] = {
    let mut ok = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        ok[b] = c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_' | b':');
        b += 1;
    }
    ok
};

/// Hostnames are 1–255 characters of ASCII letters, digits and `.-_:`.
pub fn validate_hostname(hostname: &str) -> Result<()> {
    let bad = |reason: String| Error::InvalidField {
        field: "hostname".into(),
        reason,
    };
    if hostname.is_empty() {
        return Err(bad("must not be empty".into()));
    }
    // A table lookup per byte on the hot path (every sample is validated); the offending
    // character is looked for only on failure. A non-ASCII character's bytes are all >= 0x80,
    // which the table rejects.
    if !hostname.bytes().all(|b| HOSTNAME_BYTE[usize::from(b)]) {
        let c = hostname
            .chars()
            .find(|&c| !c.is_ascii() || !HOSTNAME_BYTE[c as usize])
            .unwrap_or('?');
        return Err(bad(format!(
            "may hold only letters, digits and . - _ :, found {c:?}"
        )));
    }
    // All ASCII from here, so bytes are characters.
    if hostname.len() > 255 {
        return Err(bad(format!(
            "must be at most 255 characters, got {}",
            hostname.len()
        )));
    }
    Ok(())
}

/// Decoding a body into its six known fields, remembering which field a JSON error happened in.
///
/// serde_json rejects some inputs (`1e999`, a broken nested value) while it parses, before any
/// field check runs; tracking the key being read lets even those errors name their field.
mod wire {
    use std::fmt;

    use serde::de::{self, IgnoredAny, MapAccess, Visitor};
    use serde_json::error::Category;
    use serde_json::Value;

    use crate::{Error, Result};

    pub(super) const TIMESTAMP: &str = "timestamp";
    pub(super) const HOSTNAME: &str = "hostname";
    /// The field named when the body as a whole is wrong (not JSON, not an object).
    pub(super) const BODY: &str = "body";
    const FIELDS: [&str; 6] = [
        TIMESTAMP,
        HOSTNAME,
        "cpuUsage",
        "memoryUsage",
        "diskIO",
        "networkIO",
    ];

    /// The known fields of one body, each at most once, not yet checked.
    #[derive(Debug)]
    pub(super) struct RawSample {
        values: [Option<Value>; 6],
    }

    impl RawSample {
        /// Parses one JSON object with nothing after it; errors name a field or `body`.
        pub(super) fn parse(bytes: &[u8]) -> Result<Self> {
            let mut current: Option<String> = None;
            let mut de = serde_json::Deserializer::from_slice(bytes);
            let parsed = de::Deserializer::deserialize_map(
                &mut de,
                Collect {
                    current: &mut current,
                },
            )
            .and_then(|raw| de.end().map(|()| raw));
            parsed.map_err(|e| {
                let (field, reason) = match current {
                    // A truncated body is the body's fault, whichever field it cut.
                    _ if e.classify() == Category::Eof => {
                        (BODY.into(), format!("is truncated: {e}"))
                    }
                    Some(field) => (field, format!("is not valid JSON: {e}")),
                    None if e.classify() == Category::Data => {
                        (BODY.into(), format!("must be a JSON object: {e}"))
                    }
                    None => (BODY.into(), format!("is not valid JSON: {e}")),
                };
                Error::InvalidField { field, reason }
            })
        }

        /// The value of a known field, or an error naming it as missing.
        pub(super) fn required(&self, name: &'static str) -> Result<&Value> {
            FIELDS
                .iter()
                .position(|f| *f == name)
                .and_then(|i| self.values.get(i))
                .and_then(Option::as_ref)
                .ok_or_else(|| Error::InvalidField {
                    field: name.into(),
                    reason: "is required but missing".into(),
                })
        }
    }

    /// Visits the top-level object; `current` holds the key whose value is being read.
    struct Collect<'a> {
        current: &'a mut Option<String>,
    }

    impl<'de> Visitor<'de> for Collect<'_> {
        type Value = RawSample;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object with the metric fields")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawSample, A::Error> {
            let mut values: [Option<Value>; 6] = Default::default();
            while let Some(key) = map.next_key::<String>()? {
                match FIELDS.iter().position(|f| *f == key) {
                    Some(i) => {
                        *self.current = Some(key);
                        let value = map.next_value::<Value>()?;
                        match values.get_mut(i) {
                            Some(slot) if slot.is_none() => *slot = Some(value),
                            _ => return Err(de::Error::custom("duplicate field")),
                        }
                    }
                    None => {
                        // Unknown fields are ignored, but a broken one still names itself.
                        // An empty key cannot name anything: leave it to `body`.
                        *self.current = (!key.is_empty()).then(|| key.chars().take(64).collect());
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                *self.current = None;
            }
            Ok(RawSample { values })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"{"timestamp":"2026-11-26T17:00:00Z","hostname":"web-1","cpuUsage":75.5,"memoryUsage":82.3,"diskIO":200.5,"networkIO":150.2}"#;

    fn field_of(body: &str) -> String {
        match MetricSample::from_json(body.as_bytes()) {
            Err(Error::InvalidField { field, .. }) => field,
            other => panic!("expected InvalidField for {body}, got {other:?}"),
        }
    }

    #[test]
    fn runbook_body_round_trips_byte_for_byte() {
        let s = MetricSample::from_json(OK.as_bytes()).unwrap();
        assert_eq!(s.hostname, "web-1");
        assert_eq!(s.values(), [75.5, 82.3, 200.5, 150.2]);
        assert_eq!(s.to_json(), OK);
    }

    #[test]
    fn each_metric_is_named_when_wrong() {
        for m in Metric::ALL {
            let key = format!("\"{}\":", m.wire_name());
            let start = OK.find(&key).unwrap() + key.len();
            let end = start + OK[start..].find([',', '}']).unwrap();
            for bad in ["\"1\"", "null", "-1", "1e999", "true", "[1]"] {
                let body = format!("{}{}{}", &OK[..start], bad, &OK[end..]);
                assert_eq!(field_of(&body), m.wire_name(), "{body}");
            }
        }
    }

    #[test]
    fn percentages_stop_at_100_rates_do_not() {
        let body = OK.replace("75.5", "100.5");
        assert_eq!(field_of(&body), "cpuUsage");
        let body = OK.replace("200.5", "1e12");
        assert!(MetricSample::from_json(body.as_bytes()).is_ok());
    }

    #[test]
    fn a_batch_parses_each_item_on_its_own() {
        let bad = OK.replace("75.5", "\"high\"");
        let body = format!(" \n[{OK}, {bad}, 42, {OK}]");
        assert!(MetricSample::is_batch(body.as_bytes()));
        let items = MetricSample::batch_from_json(body.as_bytes()).unwrap();
        assert_eq!(items.len(), 4);
        assert_eq!(items[0].as_ref().unwrap().to_json(), OK);
        assert_eq!(items[1].as_ref().unwrap_err().field(), Some("cpuUsage"));
        assert_eq!(items[2].as_ref().unwrap_err().field(), Some("body"));
        assert!(items[3].is_ok());
        assert!(MetricSample::batch_from_json(b"[]").unwrap().is_empty());
        for not_a_batch in ["", OK, "[", "[1,", "[] []", "{\"a\":[]}"] {
            let e = MetricSample::batch_from_json(not_a_batch.as_bytes()).unwrap_err();
            assert_eq!(e.field(), Some("body"), "{not_a_batch:?}");
        }
        assert!(!MetricSample::is_batch(OK.as_bytes()));
        assert!(!MetricSample::is_batch(b"   "));
    }

    #[test]
    fn body_errors_name_the_body() {
        for body in ["", "[]", "42", "{", "{\"hostname\"", "{} {}", "nope"] {
            assert_eq!(field_of(body), "body", "{body:?}");
        }
    }

    #[test]
    fn duplicates_are_rejected_unknown_fields_ignored() {
        let dup = OK.replace(
            "\"hostname\":\"web-1\"",
            "\"hostname\":\"a\",\"hostname\":\"b\"",
        );
        assert_eq!(field_of(&dup), "hostname");
        let extra = OK.replace('}', r#","region":"eu-west-1","tags":{"a":[1e999]}}"#);
        assert!(MetricSample::from_json(extra.as_bytes()).is_ok());
    }

    #[test]
    fn hostname_rules() {
        assert!(validate_hostname("ip-10-0-0-1.eu-west-1.compute.internal").is_ok());
        assert!(validate_hostname("a:b_c").is_ok());
        assert!(validate_hostname(&"h".repeat(255)).is_ok());
        for bad in ["", "web 1", "web/1", "wéb", &"h".repeat(256)] {
            assert_eq!(
                validate_hostname(bad).unwrap_err().field(),
                Some("hostname")
            );
        }
        // the message names the offending character, a non-ASCII one whole
        for (bad, c) in [("web 1", "' '"), ("wéb", "'é'"), ("a\u{7f}", "'\\u{7f}'")] {
            let msg = validate_hostname(bad).unwrap_err().to_string();
            assert!(msg.contains(&format!("found {c}")), "{bad:?}: {msg}");
        }
    }

    #[test]
    fn metric_names_parse() {
        for m in Metric::ALL {
            assert_eq!(m.wire_name().parse::<Metric>(), Ok(m));
        }
        assert_eq!("cpu".parse::<Metric>().unwrap_err().field(), Some("metric"));
    }
}
