//! Metrics CSV, the training data's format on disk: [`write_csv`] writes a synthetic fleet
//! (what generate-training-data.py writes; pandas' `to_csv` took 40× longer), and
//! [`read_csv`] reads such a file back as columns (what train.py reads). Over `Write` and
//! `Read`: the caller opens the file.
//!
//! Format (header row, then one row per sample, time-major):
//! `timestamp,hostname,cpuUsage,memoryUsage,diskIO,networkIO,label,incident,incident_id` —
//! timestamp RFC 3339 UTC (`2026-11-26T17:00:00Z`), values with at most 3 decimals, label 1
//! inside an injected incident else 0, incident its kind and incident_id its id (both empty
//! outside incidents). [`read_csv`] needs only the four metric columns.

use std::collections::HashMap;
use std::io::{BufWriter, Read, Write};

use iops_core::{Error, Metric, Timestamp};
use rayon::prelude::*;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::{Fleet, Point};

/// Columns of metrics.csv as `write_fleet_csv` writes them.
pub const HEADER: &str =
    "timestamp,hostname,cpuUsage,memoryUsage,diskIO,networkIO,label,incident,incident_id\n";

/// Points formatted per rayon task: large enough to amortise the hand-off, small enough
/// that a batch of them stays a few MB.
const CHUNK: usize = 16_384;
/// Chunks generated per batch (generation is sequential, formatting parallel).
const BATCH_CHUNKS: usize = 16;

/// Appends `v` rounded to 3 decimals without trailing zeros ("43.12", "7", "0.005"). Integer
/// arithmetic: `{:.3}` formatting was the slowest part of writing. Values beyond 2^53/1000
/// (never produced by the generator) fall back to `Display`.
fn push_decimal(buf: &mut Vec<u8>, v: f64, ints: &mut itoa::Buffer) {
    let scaled = (v * 1000.0).round();
    if scaled.is_nan() || scaled.abs() >= 9.0e15 {
        // NaN, ±inf or huge: the shortest round-trip form.
        let _ = write!(buf, "{v}");
        return;
    }
    let n = scaled as i64;
    if n < 0 {
        buf.push(b'-');
    }
    let a = n.unsigned_abs();
    buf.extend_from_slice(ints.format(a / 1000).as_bytes());
    let frac = a % 1000;
    if frac != 0 {
        let digits = [
            b'0' + (frac / 100) as u8,
            b'0' + (frac / 10 % 10) as u8,
            b'0' + (frac % 10) as u8,
        ];
        let len = if digits[2] != b'0' {
            3
        } else if digits[1] != b'0' {
            2
        } else {
            1
        };
        buf.push(b'.');
        buf.extend_from_slice(&digits[..len]);
    }
}

fn rfc3339(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| secs.to_string())
}

/// The CSV rows of `points` (consecutive, time-major).
fn format_rows(fleet: &Fleet, points: &[Point]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(points.len() * 80);
    let mut ints = itoa::Buffer::new();
    let mut ts: (i64, String) = (i64::MIN, String::new());
    for p in points {
        if ts.0 != p.secs {
            ts = (p.secs, rfc3339(p.secs));
        }
        buf.extend_from_slice(ts.1.as_bytes());
        buf.push(b',');
        if let Some(h) = fleet.hosts().get(p.host) {
            buf.extend_from_slice(h.hostname.as_bytes());
        }
        for v in p.values {
            buf.push(b',');
            push_decimal(&mut buf, v, &mut ints);
        }
        match p.incident.and_then(|i| fleet.incidents().get(i)) {
            Some(i) => {
                buf.extend_from_slice(b",1,");
                buf.extend_from_slice(i.kind.as_str().as_bytes());
                buf.push(b',');
                buf.extend_from_slice(ints.format(i.id).as_bytes());
                buf.push(b'\n');
            }
            None => buf.extend_from_slice(b",0,,\n"),
        }
    }
    buf
}

/// Writes every sample of `fleet` to `out` as CSV (the format in the module docs),
/// formatting in parallel; returns (rows, labelled rows, bytes).
pub fn write_csv<W: Write>(fleet: &Fleet, out: W) -> std::io::Result<(u64, u64, u64)> {
    let mut out = BufWriter::with_capacity(1 << 20, out);
    out.write_all(HEADER.as_bytes())?;
    let (mut rows, mut labelled, mut bytes) = (0u64, 0u64, HEADER.len() as u64);
    let mut points = fleet.points().peekable();
    while points.peek().is_some() {
        let batch: Vec<Vec<Point>> = (0..BATCH_CHUNKS)
            .map(|_| points.by_ref().take(CHUNK).collect::<Vec<_>>())
            .filter(|c| !c.is_empty())
            .collect();
        let formatted: Vec<Vec<u8>> = batch.par_iter().map(|c| format_rows(fleet, c)).collect();
        for (chunk, text) in batch.iter().zip(&formatted) {
            rows += chunk.len() as u64;
            labelled += chunk.iter().filter(|p| p.incident.is_some()).count() as u64;
            bytes += text.len() as u64;
            out.write_all(text)?;
        }
    }
    out.flush()?;
    Ok((rows, labelled, bytes))
}

/// Columns read from a metrics CSV.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricColumns {
    /// Epoch seconds (RFC 3339 or epoch-second cells; without the column, rows 300 s apart).
    pub timestamp: Vec<f64>,
    /// Index into `hostnames`, in order of first appearance (one host "" without the column).
    pub host: Vec<i64>,
    /// The hosts' names.
    pub hostnames: Vec<String>,
    /// n × 4 values, row-major, in [`Metric::ALL`] order.
    pub values: Vec<f64>,
    /// 0 or 1 per row; `None` without the column.
    pub label: Option<Vec<i8>>,
}

/// Why a metrics CSV could not be read: the reader itself, or its content.
#[derive(Debug)]
pub enum ReadError {
    /// Reading failed.
    Io(std::io::Error),
    /// A malformed cell or a missing column: an error naming `name:line`.
    Content(Error),
}

impl From<std::io::Error> for ReadError {
    fn from(e: std::io::Error) -> Self {
        ReadError::Io(e)
    }
}

impl From<Error> for ReadError {
    fn from(e: Error) -> Self {
        ReadError::Content(e)
    }
}

fn bad(path: &str, line: u64, reason: String) -> Error {
    Error::InvalidField {
        field: format!("{path}:{line}"),
        reason,
    }
}

/// Reads a metrics CSV (as [`write_csv`] writes it; only the four metric columns are
/// required) from `source`; errors name `path:line`.
pub fn read_csv<R: Read>(path: &str, source: R) -> std::result::Result<MetricColumns, ReadError> {
    let mut rdr = csv::ReaderBuilder::new()
        .buffer_capacity(1 << 20)
        .from_reader(source);
    let headers = rdr
        .byte_headers()
        .map_err(|e| bad(path, 1, e.to_string()))?
        .clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim_ascii() == name.as_bytes())
    };
    let mut cols = [0usize; 4];
    for (c, m) in cols.iter_mut().zip(Metric::ALL) {
        *c = column(m.wire_name())
            .ok_or_else(|| bad(path, 1, format!("no column {}", m.wire_name())))?;
    }
    let (ts_col, host_col, label_col) = (column("timestamp"), column("hostname"), column("label"));
    let mut out = MetricColumns {
        label: label_col.map(|_| Vec::new()),
        ..MetricColumns::default()
    };
    let mut host_ids: HashMap<Vec<u8>, i64> = HashMap::new();
    let mut last_ts: (Vec<u8>, f64) = (Vec::new(), 0.0);
    let mut rec = csv::ByteRecord::new();
    let mut line = 1u64;
    let text = |b: &[u8]| std::str::from_utf8(b).unwrap_or("").trim().to_owned();
    while rdr
        .read_byte_record(&mut rec)
        .map_err(|e| bad(path, line + 1, e.to_string()))?
    {
        line += 1;
        let cell = |c: usize| rec.get(c).unwrap_or(b"").trim_ascii();
        for (&c, m) in cols.iter().zip(Metric::ALL) {
            let v: f64 = std::str::from_utf8(cell(c))
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| {
                    bad(
                        path,
                        line,
                        format!("{}: {:?} is not a number", m.wire_name(), text(cell(c))),
                    )
                })?;
            out.values.push(v);
        }
        match ts_col {
            Some(c) => {
                let raw = cell(c);
                if raw != last_ts.0.as_slice() {
                    let s = std::str::from_utf8(raw).unwrap_or("");
                    let t = match s.parse::<f64>() {
                        Ok(secs) => secs,
                        Err(_) => Timestamp::parse_rfc3339(s)
                            .map_err(|e| bad(path, line, format!("timestamp: {e}")))?
                            .epoch_seconds(),
                    };
                    last_ts = (raw.to_vec(), t);
                }
                out.timestamp.push(last_ts.1);
            }
            // Without timestamps the rows are one host's samples, 5 minutes apart (as `iops
            // train` reads such a file).
            None => out.timestamp.push(300.0 * (line - 2) as f64),
        }
        let name = host_col.map_or(&b""[..], cell);
        let id = match host_ids.get(name) {
            Some(&id) => id,
            None => {
                let id = out.hostnames.len() as i64;
                out.hostnames.push(text(name));
                host_ids.insert(name.to_vec(), id);
                id
            }
        };
        out.host.push(id);
        if let (Some(c), Some(labels)) = (label_col, out.label.as_mut()) {
            labels.push(match cell(c) {
                b"" | b"0" => 0,
                b"1" => 1,
                other => {
                    return Err(bad(
                        path,
                        line,
                        format!("label: {:?} is not 0 or 1", text(other)),
                    )
                    .into())
                }
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FleetParams;

    #[test]
    fn a_written_fleet_reads_back_to_three_decimals() {
        let fleet = Fleet::new(FleetParams {
            hosts: 3,
            days: 2.0,
            calm_days: 1.0,
            incident_rate: 2.0,
            seed: 5,
            ..FleetParams::default()
        })
        .unwrap();
        let mut bytes = Vec::new();
        let (rows, labelled, written) = write_csv(&fleet, &mut bytes).unwrap();
        assert_eq!((rows, written), (fleet.len(), bytes.len() as u64));
        assert!(bytes.starts_with(HEADER.as_bytes()));
        let cols = read_csv("fleet.csv", bytes.as_slice()).unwrap();
        let points: Vec<Point> = fleet.points().collect();
        assert_eq!(cols.host.len(), points.len());
        let labels = cols.label.as_ref().unwrap();
        assert_eq!(
            labels.iter().map(|&l| u64::from(l as u8)).sum::<u64>(),
            labelled
        );
        assert!(labelled > 0);
        for (i, p) in points.iter().enumerate() {
            assert_eq!(cols.timestamp[i], p.secs as f64);
            assert_eq!(
                cols.hostnames[cols.host[i] as usize],
                fleet.hosts()[p.host].hostname
            );
            assert_eq!(labels[i] == 1, p.incident.is_some());
            for (k, v) in p.values.iter().enumerate() {
                assert!((cols.values[4 * i + k] - v).abs() <= 5e-4, "{v}");
            }
        }
    }

    #[test]
    fn a_bad_cell_names_the_file_and_line() {
        let text = "timestamp,cpuUsage,memoryUsage,diskIO,networkIO\n0,1,2,3,4\n300,1,x,3,4\n";
        let Err(ReadError::Content(e)) = read_csv("m.csv", text.as_bytes()) else {
            panic!("a content error");
        };
        assert_eq!(e.field(), Some("m.csv:3"), "{e}");
        let Err(ReadError::Content(e)) = read_csv("m.csv", "cpuUsage\n1\n".as_bytes()) else {
            panic!("a content error");
        };
        assert!(e.to_string().contains("no column memoryUsage"), "{e}");
    }
}
