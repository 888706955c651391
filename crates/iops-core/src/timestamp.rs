//! Timestamps on the wire: RFC 3339 strings (epoch seconds as a number are accepted too).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use crate::{Error, Result};

/// The wire name of the field every timestamp error names.
const FIELD: &str = "timestamp";

/// Years RFC 3339 can write (`0000`–`9999`); anything else could not be sent back out.
const YEARS: std::ops::RangeInclusive<i32> = 0..=9999;

/// A point in time, UTC, with nanosecond precision.
///
/// Always within the years 0000–9999 (UTC), so it can always be written back as RFC 3339.
///
/// ```
/// use iops_core::Timestamp;
///
/// let t = Timestamp::parse_rfc3339("2026-11-26T18:00:00+01:00").unwrap();
/// assert_eq!(t.to_string(), "2026-11-26T17:00:00Z");
/// assert_eq!(Timestamp::from_epoch_seconds(t.epoch_seconds()).unwrap(), t);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

fn invalid(reason: String) -> Error {
    Error::InvalidField {
        field: FIELD.into(),
        reason,
    }
}

impl Timestamp {
    /// The earliest timestamp: `0000-01-01T00:00:00Z`.
    pub const MIN: Timestamp = Timestamp(time::macros::datetime!(0000-01-01 00:00:00 UTC));
    /// The latest timestamp: `9999-12-31T23:59:59.999999999Z`.
    pub const MAX: Timestamp =
        Timestamp(time::macros::datetime!(9999-12-31 23:59:59.999_999_999 UTC));

    /// Parses RFC 3339 (`2026-11-26T17:00:00Z`, any offset, up to nanosecond fractions).
    pub fn parse_rfc3339(s: &str) -> Result<Self> {
        let t = OffsetDateTime::parse(s, &Rfc3339).map_err(|e| {
            invalid(format!(
                "must be RFC 3339 like 2026-11-26T17:00:00Z, got {:?} ({e})",
                Shorten(s)
            ))
        })?;
        Self::checked(t).ok_or_else(|| {
            invalid(format!(
                "must fall in the years 0000-9999 UTC, got {:?}",
                Shorten(s)
            ))
        })
    }

    /// From seconds since the Unix epoch (fractions allowed, rounded to the nanosecond).
    ///
    /// The fraction is read from the shortest decimal that denotes `secs`, so
    /// `1795712400.1` gives exactly `…:00.1Z` rather than the f64's binary neighbour.
    pub fn from_epoch_seconds(secs: f64) -> Result<Self> {
        let bad = || {
            invalid(format!(
                "epoch seconds out of range (years 0000-9999): {secs}"
            ))
        };
        // Well outside years 0000-9999 either way; also bounds the decimal text below.
        if !secs.is_finite() || secs.abs() > 1e12 {
            return Err(bad());
        }
        decimal_nanos(&secs.to_string())
            .and_then(|nanos| OffsetDateTime::from_unix_timestamp_nanos(nanos).ok())
            .and_then(Self::checked)
            .ok_or_else(bad)
    }

    /// Parses the JSON value of a `timestamp` field: an RFC 3339 string or epoch seconds.
    ///
    /// Errors name the field `timestamp` and say what was wrong (type, format or range).
    pub fn from_json_value(value: &Value) -> Result<Self> {
        match value {
            Value::String(s) => Self::parse_rfc3339(s),
            Value::Number(n) => match n.as_f64() {
                Some(secs) => Self::from_epoch_seconds(secs),
                None => Err(invalid(format!("epoch seconds not representable: {n}"))),
            },
            other => Err(invalid(format!(
                "must be an RFC 3339 string or epoch seconds, got {}",
                json_type(other)
            ))),
        }
    }

    /// Seconds since the Unix epoch, with fractions.
    pub fn epoch_seconds(&self) -> f64 {
        // The same integer as `unix_timestamp_nanos`, in i64 until the year 2262: its
        // conversion is one instruction where i128's is a library call (once per sample).
        let nanos = self
            .0
            .unix_timestamp()
            .checked_mul(1_000_000_000)
            .and_then(|n| n.checked_add(i64::from(self.0.nanosecond())));
        match nanos {
            Some(n) => n as f64 / 1e9,
            None => self.0.unix_timestamp_nanos() as f64 / 1e9,
        }
    }

    /// Nanoseconds since the Unix epoch, exact.
    pub fn epoch_nanos(&self) -> i128 {
        self.0.unix_timestamp_nanos()
    }

    /// This instant plus `seconds` (whole milliseconds), saturating at [`Timestamp::MIN`]
    /// and [`Timestamp::MAX`]; `None` when `seconds` is not finite.
    pub fn plus_seconds(&self, seconds: f64) -> Option<Self> {
        if !seconds.is_finite() {
            return None;
        }
        // Beyond ±10,000 years the result saturates anyway.
        let millis = (seconds * 1e3).round().clamp(-3.2e14, 3.2e14) as i64;
        let shifted = self.0.checked_add(time::Duration::milliseconds(millis));
        Some(match shifted {
            Some(t) => Timestamp::from(t),
            None if millis < 0 => Timestamp::MIN,
            None => Timestamp::MAX,
        })
    }

    /// The underlying date-time (always UTC).
    pub fn as_datetime(&self) -> OffsetDateTime {
        self.0
    }

    /// Converts to UTC and keeps it only when RFC 3339 can write it.
    fn checked(t: OffsetDateTime) -> Option<Self> {
        let utc = t.checked_to_offset(UtcOffset::UTC)?;
        YEARS.contains(&utc.year()).then_some(Timestamp(utc))
    }
}

impl From<OffsetDateTime> for Timestamp {
    /// Converts to UTC, saturating at the first and last instants of the years 0000–9999.
    fn from(t: OffsetDateTime) -> Self {
        if let Some(ts) = Self::checked(t) {
            return ts;
        }
        let (min, max) = (Self::MIN.0, Self::MAX.0);
        Timestamp(if t < min { min } else { max })
    }
}

impl FromStr for Timestamp {
    type Err = Error;

    /// Same as [`Timestamp::parse_rfc3339`].
    fn from_str(s: &str) -> Result<Self> {
        Self::parse_rfc3339(s)
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC with a `Z`, fractions only when there are any.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.format(&Rfc3339) {
            Ok(s) => f.write_str(&s),
            // Unreachable: construction keeps the year within what RFC 3339 can write.
            Err(_) => write!(f, "{}", self.epoch_seconds()),
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Number(f64),
        }
        // compact binary formats (the host state's postcard) cannot ask the input for its
        // type: there it is the text `serialize` wrote
        if !d.is_human_readable() {
            let text = String::deserialize(d)?;
            return Timestamp::parse_rfc3339(&text).map_err(serde::de::Error::custom);
        }
        let parsed = match Raw::deserialize(d)? {
            Raw::Text(s) => Timestamp::parse_rfc3339(&s),
            Raw::Number(n) => Timestamp::from_epoch_seconds(n),
        };
        parsed.map_err(serde::de::Error::custom)
    }
}

/// Exact nanoseconds of a plain decimal (`-12.5`, `3`, `0.000000001`), rounded half away
/// from zero at the ninth fractional digit. `None` for anything else.
fn decimal_nanos(text: &str) -> Option<i128> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() || whole.len() > 15 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut nanos = whole.parse::<i128>().ok()? * 1_000_000_000;
    let mut scale = 100_000_000;
    for b in frac.bytes().take(9) {
        nanos += i128::from(b - b'0') * scale;
        scale /= 10;
    }
    if frac.as_bytes().get(9).is_some_and(|b| *b >= b'5') {
        nanos += 1;
    }
    Some(if negative { -nanos } else { nanos })
}

/// The JSON type of a value, for error messages (`a string`, `a number`, …).
pub fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Debug-prints at most 64 characters of user input, so an error message stays short.
pub(crate) struct Shorten<'a>(pub(crate) &'a str);

impl fmt::Debug for Shorten<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX: usize = 64;
        match self.0.char_indices().nth(MAX) {
            None => fmt::Debug::fmt(self.0, f),
            Some((cut, _)) => {
                let head = self.0.get(..cut).unwrap_or_default();
                write!(f, "{head:?}…")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_binary_round_trips_exactly() {
        for text in [
            "2026-12-02T13:52:27.123456789Z",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
        ] {
            let t = Timestamp::parse_rfc3339(text).unwrap();
            let bytes = postcard::to_allocvec(&t).unwrap();
            assert_eq!(
                postcard::from_bytes::<Timestamp>(&bytes).unwrap(),
                t,
                "{text}"
            );
        }
        let bad = postcard::to_allocvec("yesterday").unwrap();
        assert!(postcard::from_bytes::<Timestamp>(&bad).is_err());
    }

    #[test]
    fn rfc3339_normalises_to_utc() {
        let t = Timestamp::parse_rfc3339("2026-11-26T18:30:00.25+01:30").unwrap();
        assert_eq!(t.to_string(), "2026-11-26T17:00:00.25Z");
        assert_eq!(t.as_datetime().offset(), UtcOffset::UTC);
    }

    #[test]
    fn epoch_seconds_are_the_nanoseconds_divided() {
        for nanos in [
            0i128,
            1,
            -1,
            1_700_000_000_123_456_789,
            -1_700_000_000_987_654_321,
            9_223_372_036_854_775_807,
            9_223_372_036_854_775_808,
            253_402_300_799_999_999_999,
        ] {
            let t = Timestamp(OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap());
            assert_eq!(
                t.epoch_seconds().to_bits(),
                (nanos as f64 / 1e9).to_bits(),
                "{nanos}"
            );
        }
    }

    #[test]
    fn epoch_seconds_round_trip() {
        let t = Timestamp::from_epoch_seconds(1_795_712_400.5).unwrap();
        assert_eq!(t.to_string(), "2026-11-26T17:00:00.5Z");
        assert_eq!(t.epoch_seconds(), 1_795_712_400.5);
    }

    #[test]
    fn rejects_bad_text_naming_the_field() {
        for s in [
            "",
            "yesterday",
            "2026-11-26",
            "2026-13-01T00:00:00Z",
            "2026-11-26T17:00:00",
        ] {
            let e = Timestamp::parse_rfc3339(s).unwrap_err();
            assert_eq!(e.field(), Some("timestamp"), "{s:?}");
        }
    }

    #[test]
    fn rejects_years_rfc3339_cannot_write() {
        // Year 0000 at +01:00 is year -1 in UTC.
        assert!(Timestamp::parse_rfc3339("0000-01-01T00:30:00+01:00").is_err());
        assert!(Timestamp::parse_rfc3339("0000-01-01T00:00:00Z").is_ok());
        assert!(Timestamp::from_epoch_seconds(-62_167_219_201.0).is_err());
        assert!(Timestamp::from_epoch_seconds(-62_167_219_200.0).is_ok());
        assert!(Timestamp::from_epoch_seconds(253_402_300_800.0).is_err());
        for x in [f64::NAN, f64::INFINITY, -f64::INFINITY, 1e300, -1e300] {
            assert_eq!(
                Timestamp::from_epoch_seconds(x).unwrap_err().field(),
                Some("timestamp")
            );
        }
    }

    #[test]
    fn epoch_fractions_are_read_as_written() {
        let t = Timestamp::from_epoch_seconds(1_795_712_400.1).unwrap();
        assert_eq!(t.to_string(), "2026-11-26T17:00:00.1Z");
        let t = Timestamp::from_epoch_seconds(-0.5).unwrap();
        assert_eq!(t.to_string(), "1969-12-31T23:59:59.5Z");
        let t = Timestamp::from_epoch_seconds(1e-10).unwrap();
        assert_eq!(t.to_string(), "1970-01-01T00:00:00Z");
        let t = Timestamp::from_epoch_seconds(6e-10).unwrap();
        assert_eq!(t.to_string(), "1970-01-01T00:00:00.000000001Z");
        assert_eq!(decimal_nanos("12"), Some(12_000_000_000));
        assert_eq!(decimal_nanos("-1.0000000015"), Some(-1_000_000_002));
        for bad in ["", "-", ".5", "1e5", "1.2.3", "NaN", "+1"] {
            assert_eq!(decimal_nanos(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn from_datetime_saturates() {
        let early = time::macros::datetime!(-0005-01-01 00:00:00 UTC);
        assert_eq!(Timestamp::from(early), Timestamp::MIN);
        assert_eq!(Timestamp::MAX.to_string(), "9999-12-31T23:59:59.999999999Z");
        assert_eq!(Timestamp::MIN.to_string(), "0000-01-01T00:00:00Z");
    }

    #[test]
    fn json_value_accepts_string_and_number_only() {
        let s = Timestamp::from_json_value(&Value::from("2026-11-26T17:00:00Z")).unwrap();
        let n = Timestamp::from_json_value(&Value::from(1_795_712_400)).unwrap();
        assert_eq!(s, n);
        for v in [
            Value::Null,
            Value::Bool(true),
            serde_json::json!([1]),
            serde_json::json!({}),
        ] {
            let e = Timestamp::from_json_value(&v).unwrap_err();
            assert_eq!(e.field(), Some("timestamp"));
        }
    }

    #[test]
    fn long_input_is_shortened_in_messages() {
        let long = "x".repeat(10_000);
        let msg = Timestamp::parse_rfc3339(&long).unwrap_err().to_string();
        assert!(msg.len() < 300, "{msg}");
    }
}
