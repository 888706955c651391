//! Conversions between records and DynamoDB items (the schema of ARCHITECTURE.md).
//!
//! Numbers travel as `N` strings that read back to the very same value:
//! - an `f64` is written as its shortest decimal (Rust's `Display`, which parses back to the
//!   same `f64`), in exponent form outside 1e-7..1e21 (as JavaScript does) so the string stays short; DynamoDB
//!   keeps up to 38 significant digits and an f64 needs at most 17;
//! - a timestamp is written as exact decimal epoch seconds with up to nine fractional digits
//!   (`1795712400.000000001`), so nanosecond timestamps keep their identity and their order
//!   (DynamoDB compares `N` keys as decimals, not as f64).

use std::collections::HashMap;
use std::io::{Read, Write};

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use flate2::Compression;
use iops_core::{Incident, Insight, MetricSample, Timestamp};
use time::OffsetDateTime;

use crate::{ModelSource, Result, StoreError, StoredInsight, StoredMetric};

/// An item as the SDK takes and returns it.
pub(super) type Item = HashMap<String, AttributeValue>;

/// DynamoDB's `N` holds magnitudes below 1e126 and, except 0, at least 1e-130.
const N_LIMIT: f64 = 1e126;
const N_MIN: f64 = 1e-130;

/// Largest decoded state accepted (a warm host state is ~50 KB; an item is at most 400 KB).
const MAX_STATE_BYTES: u64 = 16 * 1024 * 1024;

/// The `N` string of a finite f64 within DynamoDB's range.
pub(super) fn number(name: &'static str, x: f64) -> Result<String> {
    let a = x.abs();
    if !x.is_finite() || a >= N_LIMIT || (a != 0.0 && a < N_MIN) {
        return Err(StoreError::InvalidArgument {
            name,
            reason: format!("{x:e} is outside DynamoDB's number range (1e-130 to below 1e126)"),
        });
    }
    Ok(if a != 0.0 && !(1e-7..1e21).contains(&a) {
        format!("{x:e}")
    } else if x == 0.0 {
        // DynamoDB has no negative zero
        "0".to_owned()
    } else {
        x.to_string()
    })
}

/// Exact decimal epoch seconds of a timestamp.
pub(super) fn timestamp(t: Timestamp) -> String {
    let n = t.epoch_nanos();
    let sign = if n < 0 { "-" } else { "" };
    let (s, ns) = (
        n.unsigned_abs() / 1_000_000_000,
        n.unsigned_abs() % 1_000_000_000,
    );
    if ns == 0 {
        format!("{sign}{s}")
    } else {
        let frac = format!("{ns:09}");
        format!("{sign}{s}.{}", frac.trim_end_matches('0'))
    }
}

/// Parses decimal epoch seconds (as DynamoDB answers them, plain or with an exponent) back
/// to the exact timestamp. `None` for text that is not such a number or is out of range.
pub(super) fn parse_timestamp(text: &str) -> Option<Timestamp> {
    let (mantissa, exp) = match text.find(['e', 'E']) {
        Some(i) => (text.get(..i)?, text.get(i + 1..)?.parse::<i32>().ok()?),
        None => (text, 0),
    };
    let (negative, digits) = match mantissa.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, mantissa.strip_prefix('+').unwrap_or(mantissa)),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    if !whole
        .bytes()
        .chain(frac.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    // value = 0.<all digits> shifted: digits * 10^(exp - frac.len()) seconds
    let all = format!("{whole}{frac}");
    let all = all.trim_start_matches('0');
    if all.len() > 40 {
        return None;
    }
    let mut value: i128 = if all.is_empty() { 0 } else { all.parse().ok()? };
    // nanoseconds = value * 10^(9 + exp - frac.len())
    let shift = 9 + i64::from(exp) - i64::try_from(frac.len()).ok()?;
    if shift >= 0 {
        for _ in 0..shift {
            value = value.checked_mul(10)?;
        }
    } else {
        for _ in 0..shift.unsigned_abs() {
            if value % 10 != 0 {
                return None; // finer than a nanosecond: not written by us
            }
            value /= 10;
        }
    }
    let nanos = if negative { -value } else { value };
    let t = OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()?;
    let ts = Timestamp::from(t);
    (ts.as_datetime() == t).then_some(ts)
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

fn n(v: String) -> AttributeValue {
    AttributeValue::N(v)
}

/// The METRICS_TABLE item of a sample.
pub(super) fn metric_item(sample: &MetricSample, metric_id: &str) -> Result<Item> {
    Ok(HashMap::from([
        ("hostname".to_owned(), s(&sample.hostname)),
        ("timestamp".to_owned(), n(timestamp(sample.timestamp))),
        (
            "cpuUsage".to_owned(),
            n(number("cpuUsage", sample.cpu_usage)?),
        ),
        (
            "memoryUsage".to_owned(),
            n(number("memoryUsage", sample.memory_usage)?),
        ),
        ("diskIO".to_owned(), n(number("diskIO", sample.disk_io)?)),
        (
            "networkIO".to_owned(),
            n(number("networkIO", sample.network_io)?),
        ),
        ("metricId".to_owned(), s(metric_id)),
    ]))
}

/// Reads attributes of one item, naming the record kind in errors.
pub(super) struct Reader<'a> {
    what: &'static str,
    item: &'a Item,
}

impl<'a> Reader<'a> {
    pub(super) fn new(what: &'static str, item: &'a Item) -> Self {
        Reader { what, item }
    }

    pub(super) fn corrupt(&self, reason: String) -> StoreError {
        StoreError::Corrupt {
            what: self.what,
            reason,
        }
    }

    fn get(&self, name: &str) -> Result<&'a AttributeValue> {
        self.item
            .get(name)
            .ok_or_else(|| self.corrupt(format!("attribute `{name}` missing")))
    }

    pub(super) fn has(&self, name: &str) -> bool {
        self.item.contains_key(name)
    }

    pub(super) fn string(&self, name: &str) -> Result<&'a str> {
        match self.get(name)? {
            AttributeValue::S(v) => Ok(v),
            other => Err(self.corrupt(format!("attribute `{name}` is not S: {other:?}"))),
        }
    }

    fn number_text(&self, name: &str) -> Result<&'a str> {
        match self.get(name)? {
            AttributeValue::N(v) => Ok(v),
            other => Err(self.corrupt(format!("attribute `{name}` is not N: {other:?}"))),
        }
    }

    pub(super) fn f64(&self, name: &str) -> Result<f64> {
        let text = self.number_text(name)?;
        text.parse()
            .map_err(|_| self.corrupt(format!("attribute `{name}` = {text:?} is not a number")))
    }

    pub(super) fn u64(&self, name: &str) -> Result<u64> {
        let text = self.number_text(name)?;
        text.parse().map_err(|_| {
            self.corrupt(format!(
                "attribute `{name}` = {text:?} is not a whole number"
            ))
        })
    }

    pub(super) fn timestamp(&self, name: &str) -> Result<Timestamp> {
        let text = self.number_text(name)?;
        parse_timestamp(text)
            .ok_or_else(|| self.corrupt(format!("attribute `{name}` = {text:?} is no timestamp")))
    }

    pub(super) fn bytes(&self, name: &str) -> Result<&'a [u8]> {
        match self.get(name)? {
            AttributeValue::B(v) => Ok(v.as_ref()),
            other => Err(self.corrupt(format!("attribute `{name}` is not B: {other:?}"))),
        }
    }
}

/// The sample of a METRICS_TABLE item.
pub(super) fn metric_from(item: &Item) -> Result<StoredMetric> {
    let r = Reader::new("metric", item);
    Ok(StoredMetric {
        metric_id: r.string("metricId")?.to_owned(),
        sample: MetricSample {
            timestamp: r.timestamp("timestamp")?,
            hostname: r.string("hostname")?.to_owned(),
            cpu_usage: r.f64("cpuUsage")?,
            memory_usage: r.f64("memoryUsage")?,
            disk_io: r.f64("diskIO")?,
            network_io: r.f64("networkIO")?,
        },
    })
}

/// The INSIGHTS_TABLE item of an insight. Drivers (present only with a fleet forest) are
/// kept as their JSON in `drivers` (S); the incident it belongs to, when it has one, in
/// `incidentId` (S); a capacity forecast's ETA and its interval in `etaSeconds`,
/// `etaLowSeconds` and `etaHighSeconds` (N).
pub(super) fn insight_item(i: &StoredInsight) -> Result<Item> {
    let x = &i.insight;
    let mut item = HashMap::from([
        ("hostname".to_owned(), s(&x.hostname)),
        ("insightId".to_owned(), s(&i.insight_id)),
        ("type".to_owned(), s(x.kind.as_str())),
        ("severity".to_owned(), s(x.severity.as_str())),
        ("message".to_owned(), s(&x.message)),
        ("timestamp".to_owned(), n(timestamp(x.timestamp))),
        ("metric".to_owned(), s(x.metric.wire_name())),
        ("value".to_owned(), n(number("value", x.value)?)),
        ("expected".to_owned(), n(number("expected", x.expected)?)),
        ("score".to_owned(), n(number("score", x.score)?)),
        ("detector".to_owned(), s(&x.detector)),
        ("modelSource".to_owned(), s(i.model_source.as_str())),
        ("modelVersion".to_owned(), s(&i.model_version)),
    ]);
    if !x.drivers.is_empty() {
        let json = serde_json::to_string(&x.drivers).map_err(|e| StoreError::InvalidArgument {
            name: "drivers",
            reason: e.to_string(),
        })?;
        item.insert("drivers".to_owned(), AttributeValue::S(json));
    }
    if let Some(id) = &x.incident_id {
        item.insert("incidentId".to_owned(), s(id));
    }
    if let Some(eta) = x.eta_seconds {
        item.insert("etaSeconds".to_owned(), n(number("etaSeconds", eta)?));
    }
    if let Some([low, high]) = x.eta_interval_seconds {
        item.insert("etaLowSeconds".to_owned(), n(number("etaLowSeconds", low)?));
        item.insert(
            "etaHighSeconds".to_owned(),
            n(number("etaHighSeconds", high)?),
        );
    }
    Ok(item)
}

/// The INCIDENTS_TABLE item of an incident: the keys its indexes use (`incidentId`,
/// `hostname`, `status`), `updated` (N, for the `since` filter), `revision` (S, orders its
/// versions), the fields an operator reads in the console (`severity`, `summary`), and the
/// whole record as JSON in `body`.
pub(super) fn incident_item(i: &Incident) -> Result<Item> {
    let body = serde_json::to_string(i).map_err(|e| StoreError::InvalidArgument {
        name: "incident",
        reason: e.to_string(),
    })?;
    Ok(HashMap::from([
        ("incidentId".to_owned(), s(&i.incident_id)),
        ("hostname".to_owned(), s(&i.hostname)),
        ("status".to_owned(), s(i.status.as_str())),
        ("severity".to_owned(), s(i.severity.as_str())),
        ("summary".to_owned(), s(&i.summary)),
        ("updated".to_owned(), n(timestamp(i.updated))),
        ("revision".to_owned(), s(&crate::incident_revision(i))),
        ("body".to_owned(), s(&body)),
    ]))
}

/// The incident of an INCIDENTS_TABLE item.
pub(super) fn incident_from(item: &Item) -> Result<Incident> {
    let r = Reader::new("incident", item);
    serde_json::from_str(r.string("body")?).map_err(|e| r.corrupt(format!("body: {e}")))
}

/// The insight of an INSIGHTS_TABLE item.
pub(super) fn insight_from(item: &Item) -> Result<StoredInsight> {
    let r = Reader::new("insight", item);
    let insight_id = r.string("insightId")?.to_owned();
    let parse = |name: &str| -> Result<_> {
        let text = r.string(name)?;
        Ok(text.to_owned())
    };
    let model_source: ModelSource = r
        .string("modelSource")?
        .parse()
        .map_err(|e: StoreError| r.corrupt(format!("{insight_id}: {e}")))?;
    let drivers = if r.has("drivers") {
        serde_json::from_str(r.string("drivers")?)
            .map_err(|e| r.corrupt(format!("{insight_id}: drivers: {e}")))?
    } else {
        Vec::new()
    };
    let bad = |name: &str, e: iops_core::Error| r.corrupt(format!("{insight_id}: {name}: {e}"));
    let insight = Insight {
        kind: r.string("type")?.parse().map_err(|e| bad("type", e))?,
        severity: r
            .string("severity")?
            .parse()
            .map_err(|e| bad("severity", e))?,
        message: parse("message")?,
        hostname: parse("hostname")?,
        timestamp: r.timestamp("timestamp")?,
        metric: r.string("metric")?.parse().map_err(|e| bad("metric", e))?,
        value: r.f64("value")?,
        expected: r.f64("expected")?,
        score: r.f64("score")?,
        detector: parse("detector")?,
        drivers,
        incident_id: if r.has("incidentId") {
            Some(parse("incidentId")?)
        } else {
            None
        },
        eta_seconds: if r.has("etaSeconds") {
            Some(r.f64("etaSeconds")?)
        } else {
            None
        },
        eta_interval_seconds: if r.has("etaLowSeconds") {
            Some([r.f64("etaLowSeconds")?, r.f64("etaHighSeconds")?])
        } else {
            None
        },
    };
    Ok(StoredInsight {
        insight_id,
        model_source,
        model_version: parse("modelVersion")?,
        insight,
    })
}

/// Deflate-compresses a state blob (JSON states shrink 5-10x; an item is at most 400 KB).
pub(super) fn compress(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut enc = DeflateEncoder::new(Vec::with_capacity(bytes.len() / 4), Compression::fast());
    enc.write_all(bytes)
        .and_then(|()| enc.finish())
        .map_err(|e| StoreError::InvalidArgument {
            name: "state",
            reason: format!("cannot compress: {e}"),
        })
}

/// Inflates a state blob written by [`compress`].
pub(super) fn decompress(r: &Reader<'_>, bytes: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    DeflateDecoder::new(bytes)
        .take(MAX_STATE_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| r.corrupt(format!("state does not inflate: {e}")))?;
    if out.len() as u64 > MAX_STATE_BYTES {
        return Err(r.corrupt(format!("state inflates past {MAX_STATE_BYTES} bytes")));
    }
    Ok(out)
}

/// A byte attribute.
pub(super) fn blob(bytes: Vec<u8>) -> AttributeValue {
    AttributeValue::B(Blob::new(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip_exactly() {
        for x in [
            0.0,
            75.5,
            82.3,
            0.1 + 0.2,
            1.0 / 3.0,
            f64::MIN_POSITIVE * 1e200,
            1e-20,
            123_456_789.123_456_78,
            1e20,
            9.999e124,
            -42.25,
            f64::EPSILON,
        ] {
            let text = number("x", x).unwrap();
            assert_eq!(text.parse::<f64>().unwrap(), x, "{x} -> {text}");
            assert!(text.len() <= 26, "{text}");
        }
        assert_eq!(number("x", -0.0).unwrap(), "0");
        assert_eq!(number("x", 75.5).unwrap(), "75.5");
        for bad in [f64::NAN, f64::INFINITY, 1e126, -2e200, 1e-131] {
            assert!(matches!(
                number("cpuUsage", bad),
                Err(StoreError::InvalidArgument {
                    name: "cpuUsage",
                    ..
                })
            ));
        }
    }

    #[test]
    fn timestamps_round_trip_to_the_nanosecond() {
        for (t, text) in [
            ("2026-11-26T17:00:00Z", "1795712400"),
            ("2026-11-26T17:00:00.5Z", "1795712400.5"),
            ("2026-11-26T17:00:00.000000001Z", "1795712400.000000001"),
            ("1969-12-31T23:59:59.5Z", "-0.5"),
            ("0000-01-01T00:00:00Z", "-62167219200"),
            ("9999-12-31T23:59:59.999999999Z", "253402300799.999999999"),
        ] {
            let ts = Timestamp::parse_rfc3339(t).unwrap();
            assert_eq!(timestamp(ts), text);
            assert_eq!(parse_timestamp(text), Some(ts), "{text}");
        }
        let ts = Timestamp::parse_rfc3339("2026-11-26T17:00:00.25Z").unwrap();
        for other_form in [
            "1795712400.250",
            "1.79571240025E9",
            "179571240025e-2",
            "+1795712400.25",
        ] {
            assert_eq!(parse_timestamp(other_form), Some(ts), "{other_form}");
        }
        for bad in [
            "",
            ".",
            "x",
            "1.0000000001",
            "1e400",
            "99999999999999",
            "1..2",
            "--1",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn state_blobs_inflate_to_what_was_stored() {
        let state = br#"{"n_seen":12,"detectors":[1.5,2.5,3.5]}"#.repeat(100);
        let packed = compress(&state).unwrap();
        assert!(packed.len() * 5 < state.len());
        let item = Item::new();
        let r = Reader::new("state", &item);
        assert_eq!(decompress(&r, &packed).unwrap(), state);
        assert!(decompress(&r, b"not deflate at all").is_err());
    }
}
