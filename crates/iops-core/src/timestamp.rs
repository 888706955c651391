//! Timestamps on the wire: RFC 3339 strings (epoch seconds as a number are accepted too).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::{Error, Result};

/// A point in time, UTC, with nanosecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    /// Parses RFC 3339 (`2026-11-26T17:00:00Z`).
    pub fn parse_rfc3339(s: &str) -> Result<Self> {
        OffsetDateTime::parse(s, &Rfc3339)
            .map(|t| Timestamp(t.to_offset(time::UtcOffset::UTC)))
            .map_err(|e| Error::InvalidField {
                field: "timestamp".into(),
                reason: format!("must be RFC 3339 like 2026-11-26T17:00:00Z ({e})"),
            })
    }

    /// From seconds since the Unix epoch (fractions allowed).
    pub fn from_epoch_seconds(secs: f64) -> Result<Self> {
        let bad = || Error::InvalidField {
            field: "timestamp".into(),
            reason: format!("epoch seconds out of range: {secs}"),
        };
        if !secs.is_finite() {
            return Err(bad());
        }
        let nanos = (secs * 1e9).round();
        if nanos.abs() > 2.5e20 {
            return Err(bad());
        }
        OffsetDateTime::from_unix_timestamp_nanos(nanos as i128)
            .map(Timestamp)
            .map_err(|_| bad())
    }

    /// Seconds since the Unix epoch, with fractions.
    pub fn epoch_seconds(&self) -> f64 {
        self.0.unix_timestamp_nanos() as f64 / 1e9
    }

    /// The underlying date-time.
    pub fn as_datetime(&self) -> OffsetDateTime {
        self.0
    }
}

impl From<OffsetDateTime> for Timestamp {
    fn from(t: OffsetDateTime) -> Self {
        Timestamp(t.to_offset(time::UtcOffset::UTC))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.format(&Rfc3339) {
            Ok(s) => f.write_str(&s),
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
        let parsed = match Raw::deserialize(d)? {
            Raw::Text(s) => Timestamp::parse_rfc3339(&s),
            Raw::Number(n) => Timestamp::from_epoch_seconds(n),
        };
        parsed.map_err(serde::de::Error::custom)
    }
}
