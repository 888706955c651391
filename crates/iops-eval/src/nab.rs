//! NAB (Numenta Anomaly Benchmark, v1.x) scoring rules, reimplemented without I/O.
//!
//! The rules, as in NAB and in the independent scorer `shared/bench/nab_score.py`:
//! - the first `min(floor(0.15 n), 750)` rows of a file are probationary and never scored;
//! - inside a labelled window of width `W` ending at row `R`, a detection at row `i` earns
//!   `sigmoid(-(R - i + 1) / W) * tpWeight / sigmoid(-1)` (earlier is better, the earliest
//!   detection of the window counts), where `sigmoid(p) = 2 / (1 + e^(5p)) - 1` (and `-1` for
//!   `p > 3`);
//! - a detection before the first window costs `fpWeight`; after a window ending at `R`
//!   (width `W`) it earns `sigmoid(|R - i| / (W - 1)) * fpWeight`, a cost that shrinks close to
//!   the window;
//! - every window without a detection costs `fnWeight`; windows whose rows are all
//!   probationary are not scored at all;
//! - one detection threshold is optimised over the whole corpus: candidates are `1.1`
//!   (nothing detected) and each distinct score, in descending order; the best raw score wins,
//!   ties going to the higher threshold;
//! - normalised score `100 (S - null) / (perfect - null)`, `null = -fnWeight * windows`,
//!   `perfect = tpWeight * windows`, counting every window of the label set.
//!
//! ```
//! use iops_eval::nab::{parse_profiles, score_corpus, FileScores, LabelSet};
//!
//! let labels = LabelSet::parse(r#"{"cat/a.csv": [["2024-01-01 00:00:05", "2024-01-01 00:00:06"]]}"#)?;
//! let profiles = parse_profiles(
//!     r#"{"standard": {"CostMatrix": {"tpWeight": 1.0, "fpWeight": 0.11, "fnWeight": 1.0}}}"#,
//! )?;
//! let timestamps: Vec<f64> = (0..10).map(|i| 1_704_067_200.0 + f64::from(i)).collect();
//! let scores = [0.0, 0.0, 0.0, 0.0, 0.0, 0.9, 0.0, 0.0, 0.0, 0.0];
//! let files = [FileScores { name: "cat/a.csv", timestamps: &timestamps, scores: &scores }];
//! let result = score_corpus(&labels, &files, &profiles[0].costs)?;
//! assert_eq!((result.tp, result.fp), (1, 0));
//! assert!((result.normalized - 100.0).abs() < 1e-9); // earliest row of the window: perfect
//! # Ok::<(), iops_core::Error>(())
//! ```

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use iops_core::{Error, Result};

/// Fraction of each file's rows that is probationary (not scored).
pub const PROBATION_PCT: f64 = 0.15;
/// Upper bound on the probationary rows of a file (15% of 5000).
pub const MAX_PROBATION_ROWS: usize = 750;
/// The first candidate threshold, above every score: nothing is detected.
pub const NOTHING_DETECTED_THRESHOLD: f64 = 1.1;
const SIG_K: f64 = 5.0;

/// The costs of one NAB application profile (`CostMatrix` in `profiles.json`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CostMatrix {
    /// Reward for the earliest possible detection of a window.
    #[serde(rename = "tpWeight")]
    pub tp_weight: f64,
    /// Cost of a detection far from any window.
    #[serde(rename = "fpWeight")]
    pub fp_weight: f64,
    /// Cost of a window without detection.
    #[serde(rename = "fnWeight")]
    pub fn_weight: f64,
}

impl CostMatrix {
    fn check(&self, profile: &str) -> Result<()> {
        for (name, w) in [
            ("tpWeight", self.tp_weight),
            ("fpWeight", self.fp_weight),
            ("fnWeight", self.fn_weight),
        ] {
            if !w.is_finite() {
                return Err(Error::NonFinite {
                    field: format!("{profile}.CostMatrix.{name}"),
                    value: w,
                });
            }
        }
        Ok(())
    }
}

/// A named NAB profile (`standard`, `reward_low_FP_rate`, `reward_low_FN_rate`).
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// The profile's name, as the key in `profiles.json`.
    pub name: String,
    /// Its costs.
    pub costs: CostMatrix,
}

#[derive(Deserialize)]
struct RawProfile {
    #[serde(rename = "CostMatrix")]
    cost_matrix: CostMatrix,
}

/// Profiles in the order of the file.
struct OrderedProfiles(Vec<(String, RawProfile)>);

impl<'de> Deserialize<'de> for OrderedProfiles {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OrderedProfiles;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of profiles")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, RawProfile>()? {
                    out.push((k, v));
                }
                Ok(OrderedProfiles(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Parses NAB's `config/profiles.json`, keeping the file's order of profiles.
pub fn parse_profiles(json: &str) -> Result<Vec<Profile>> {
    let raw: OrderedProfiles = serde_json::from_str(json).map_err(|e| Error::Decode {
        what: "profiles.json",
        reason: e.to_string(),
    })?;
    if raw.0.is_empty() {
        return Err(Error::Evaluation {
            what: "profiles.json".into(),
            reason: "no profile".into(),
        });
    }
    raw.0
        .into_iter()
        .map(|(name, p)| {
            p.cost_matrix.check(&name)?;
            Ok(Profile {
                name,
                costs: p.cost_matrix,
            })
        })
        .collect()
}

/// Parses a NAB timestamp (`2014-02-14 14:30:00`, optionally with a fraction such as
/// `.000000`; a `T` separator is accepted too) as naive UTC, to seconds since the Unix epoch.
pub fn parse_timestamp(s: &str) -> Result<f64> {
    let bad = || Error::InvalidField {
        field: "timestamp".into(),
        reason: format!("`{s}` is not a NAB timestamp like 2014-02-14 14:30:00"),
    };
    let t = s.trim();
    let b = t.as_bytes();
    if b.len() < 19 {
        return Err(bad());
    }
    let num = |from: usize, to: usize| -> Result<u32> {
        let part = b.get(from..to).ok_or_else(bad)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return Err(bad());
        }
        Ok(part
            .iter()
            .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0')))
    };
    let seps_ok = b.get(4) == Some(&b'-')
        && b.get(7) == Some(&b'-')
        && matches!(b.get(10), Some(&b' ') | Some(&b'T'))
        && b.get(13) == Some(&b':')
        && b.get(16) == Some(&b':');
    if !seps_ok {
        return Err(bad());
    }
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let nanos = match b.get(19..) {
        None | Some([]) => 0,
        Some([b'.', frac @ ..]) if (1..=9).contains(&frac.len()) => {
            let digits = num(20, b.len())?;
            let scale = 10u32.pow(9 - u32::try_from(frac.len()).map_err(|_| bad())?);
            digits * scale
        }
        Some(_) => return Err(bad()),
    };
    let month = u8::try_from(month)
        .ok()
        .and_then(|m| time::Month::try_from(m).ok())
        .ok_or_else(bad)?;
    let year = i32::try_from(year).map_err(|_| bad())?;
    let as_u8 = |x: u32| u8::try_from(x).map_err(|_| bad());
    let date = time::Date::from_calendar_date(year, month, as_u8(day)?).map_err(|_| bad())?;
    let clock = time::Time::from_hms_nano(as_u8(hour)?, as_u8(minute)?, as_u8(second)?, nanos)
        .map_err(|_| bad())?;
    let dt = time::PrimitiveDateTime::new(date, clock).assume_utc();
    Ok(dt.unix_timestamp() as f64 + f64::from(nanos) / 1e9)
}

/// One labelled anomaly window, inclusive at both ends, in epoch seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    /// First timestamp of the window.
    pub start: f64,
    /// Last timestamp of the window.
    pub end: f64,
}

/// The label file (`labels/combined_windows.json`): windows per data file, keyed by the
/// file's path relative to the data directory (`category/file.csv`), in sorted order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LabelSet {
    files: BTreeMap<String, Vec<Window>>,
}

impl LabelSet {
    /// Parses `combined_windows.json` text:
    /// `{"cat/file.csv": [["2014-02-16 06:45:00.000000", "2014-02-17 ..."], ...], ...}`.
    pub fn parse(json: &str) -> Result<Self> {
        let raw: BTreeMap<String, Vec<(String, String)>> =
            serde_json::from_str(json).map_err(|e| Error::Decode {
                what: "combined_windows.json",
                reason: e.to_string(),
            })?;
        let mut files = BTreeMap::new();
        for (file, windows) in raw {
            let parsed = windows
                .iter()
                .map(|(a, b)| {
                    let when = |s: &str| {
                        parse_timestamp(s).map_err(|e| Error::Evaluation {
                            what: format!("window of {file}"),
                            reason: e.to_string(),
                        })
                    };
                    Ok(Window {
                        start: when(a)?,
                        end: when(b)?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            files.insert(file, parsed);
        }
        Ok(LabelSet { files })
    }

    /// The labels of the files whose path starts with `category/`.
    pub fn only_category(&self, category: &str) -> LabelSet {
        let prefix = format!("{category}/");
        LabelSet {
            files: self
                .files
                .iter()
                .filter(|(k, _)| k.starts_with(&prefix))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }

    /// Labelled files and their windows, sorted by file path.
    pub fn files(&self) -> impl Iterator<Item = (&str, &[Window])> + '_ {
        self.files.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// The windows of one file, if it is labelled.
    pub fn windows(&self, file: &str) -> Option<&[Window]> {
        self.files.get(file).map(Vec::as_slice)
    }

    /// Number of labelled files (including files with no window).
    pub fn n_files(&self) -> usize {
        self.files.len()
    }

    /// Number of windows over all files.
    pub fn n_windows(&self) -> usize {
        self.files.values().map(Vec::len).sum()
    }
}

fn time_key(t: f64) -> u64 {
    // -0.0 and 0.0 are the same instant.
    (t + 0.0).to_bits()
}

/// Maps each window of `file` to its (first, last) row index in `timestamps`, sorted.
/// A window timestamp that is not one of the row timestamps is an [`Error::Evaluation`]
/// naming the file. With duplicate row timestamps the last row wins, as in NAB.
pub fn window_rows(
    file: &str,
    timestamps: &[f64],
    windows: &[Window],
) -> Result<Vec<(usize, usize)>> {
    let index: HashMap<u64, usize> = timestamps
        .iter()
        .enumerate()
        .map(|(i, &t)| (time_key(t), i))
        .collect();
    let row = |t: f64| {
        index
            .get(&time_key(t))
            .copied()
            .ok_or_else(|| Error::Evaluation {
                what: file.to_owned(),
                reason: format!("window timestamp {t} (epoch seconds) is not a row timestamp"),
            })
    };
    let mut rows = windows
        .iter()
        .map(|w| {
            let (a, b) = (row(w.start)?, row(w.end)?);
            if a > b {
                return Err(Error::Evaluation {
                    what: file.to_owned(),
                    reason: format!("window ends (row {b}) before it starts (row {a})"),
                });
            }
            Ok((a, b))
        })
        .collect::<Result<Vec<_>>>()?;
    rows.sort_unstable();
    Ok(rows)
}

/// Number of probationary rows of a file with `n` rows: `min(floor(0.15 n), 750)`.
pub fn probation_len(n: usize) -> usize {
    let p = (PROBATION_PCT * n as f64).floor();
    // p is a non-negative integer no larger than n, so the conversion is exact.
    (p as usize).min(MAX_PROBATION_ROWS)
}

/// `2 / (1 + e^(5p)) - 1`, and `-1` when `p > 3`.
pub fn scaled_sigmoid(p: f64) -> f64 {
    if p > 3.0 {
        -1.0
    } else {
        2.0 / (1.0 + (SIG_K * p).exp()) - 1.0
    }
}

/// Per-row scoring data of one file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileRows {
    /// What a detection at each row earns (positive in windows, negative outside).
    pub weight: Vec<f64>,
    /// Index (into the sorted windows) of the window each row is in, `None` outside windows.
    pub window: Vec<Option<usize>>,
    /// Rows before this index are probationary.
    pub n_probation: usize,
}

/// Builds the per-row weights of a file with `n` rows and windows given as sorted
/// (first, last) row indices (see [`window_rows`]). Indices at or past `n` are an error.
pub fn file_rows(n: usize, windows: &[(usize, usize)], costs: &CostMatrix) -> Result<FileRows> {
    if let Some(&(a, b)) = windows.iter().find(|&&(a, b)| a > b || b >= n) {
        return Err(Error::Evaluation {
            what: "window rows".into(),
            reason: format!("window ({a}, {b}) is not inside 0..{n}"),
        });
    }
    let mut weight = vec![0.0; n];
    let mut window = vec![None; n];
    let max_tp = scaled_sigmoid(-1.0);
    let mut prev: Option<(usize, usize)> = None; // (last row, width) of the previous window
    let (mut i, mut k) = (0, 0);
    while i < n {
        if let Some(&(first, last)) = windows.get(k) {
            if i == first {
                let width = last - first + 1;
                for (idx, (w, g)) in weight
                    .iter_mut()
                    .zip(window.iter_mut())
                    .enumerate()
                    .take(last + 1)
                    .skip(first)
                {
                    let pos = -((last - idx + 1) as f64) / width as f64;
                    *w = scaled_sigmoid(pos) * costs.tp_weight / max_tp;
                    *g = Some(k);
                }
                prev = Some((last, width));
                i = last + 1;
                k += 1;
                continue;
            }
        }
        // Outside windows: up to the next window's start. Overlapping windows (a start
        // before `i`) send `i` back to that start, as the reference scorer does.
        let next = windows.get(k).map_or(n, |w| w.0);
        for (idx, w) in weight.iter_mut().enumerate().take(next).skip(i) {
            *w = match prev {
                None => -costs.fp_weight,
                Some((last, width)) => {
                    let pos = (last as f64 - idx as f64).abs() / (width as f64 - 1.0);
                    scaled_sigmoid(pos) * costs.fp_weight
                }
            };
        }
        i = next;
    }
    Ok(FileRows {
        weight,
        window,
        n_probation: probation_len(n),
    })
}

/// One candidate of the threshold sweep: detections are the rows with score ≥ `threshold`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SweepPoint {
    /// The candidate threshold.
    pub threshold: f64,
    /// Raw NAB score at this threshold.
    pub raw: f64,
    /// Detected (scorable) rows inside windows.
    pub tp: u64,
    /// Detected (scorable) rows outside windows.
    pub fp: u64,
}

/// Evaluates every candidate threshold over a corpus of `(scores, rows)` files, in descending
/// threshold order, starting with [`NOTHING_DETECTED_THRESHOLD`]. Scores must be finite and
/// as long as their rows.
pub fn corpus_sweep(files: &[(&[f64], &FileRows)], fn_weight: f64) -> Result<Vec<SweepPoint>> {
    let mut s = Vec::new();
    let mut wt = Vec::new();
    let mut g: Vec<Option<usize>> = Vec::new();
    let mut n_windows = 0usize;
    for (scores, rows) in files {
        if scores.len() != rows.weight.len() || rows.window.len() != rows.weight.len() {
            return Err(Error::Evaluation {
                what: "anomaly_score".into(),
                reason: format!("{} scores for {} rows", scores.len(), rows.weight.len()),
            });
        }
        if let Some(&x) = scores.iter().find(|x| !x.is_finite()) {
            return Err(Error::NonFinite {
                field: "anomaly_score".into(),
                value: x,
            });
        }
        let from = rows.n_probation.min(scores.len());
        // Windows with no scorable row are not scored: number the others from 0.
        let mut ids: Vec<usize> = rows.window.iter().skip(from).flatten().copied().collect();
        ids.sort_unstable();
        ids.dedup();
        let remap: HashMap<usize, usize> = ids
            .iter()
            .enumerate()
            .map(|(j, &w)| (w, j + n_windows))
            .collect();
        n_windows += ids.len();
        for ((&x, &w), win) in scores.iter().zip(&rows.weight).zip(&rows.window).skip(from) {
            s.push(x);
            wt.push(w);
            g.push(win.and_then(|w| remap.get(&w).copied()));
        }
    }
    let mut order: Vec<usize> = (0..s.len()).collect();
    // Stable: equal scores keep corpus order (numpy's stable argsort of -S).
    order.sort_by(|&a, &b| {
        let (xa, xb) = (
            s.get(a).copied().unwrap_or(0.0),
            s.get(b).copied().unwrap_or(0.0),
        );
        xb.partial_cmp(&xa).unwrap_or(Ordering::Equal)
    });
    let mut best = vec![-fn_weight; n_windows];
    let base = -fn_weight * n_windows as f64;
    let mut out = vec![SweepPoint {
        threshold: NOTHING_DETECTED_THRESHOLD,
        raw: base,
        tp: 0,
        fp: 0,
    }];
    let (mut sum, mut tp, mut fp) = (0.0, 0u64, 0u64);
    for (pos, &j) in order.iter().enumerate() {
        let (Some(&x), Some(&w), Some(&win)) = (s.get(j), wt.get(j), g.get(j)) else {
            continue;
        };
        let delta = match win {
            None => {
                fp += 1;
                w
            }
            Some(id) => {
                tp += 1;
                match best.get_mut(id) {
                    Some(b) if w > *b => {
                        let d = w - *b;
                        *b = w;
                        d
                    }
                    _ => 0.0,
                }
            }
        };
        sum += delta;
        let group_ends = match order.get(pos + 1).and_then(|&n| s.get(n)) {
            Some(&y) => y != x,
            None => true,
        };
        if group_ends {
            out.push(SweepPoint {
                threshold: x,
                raw: base + sum,
                tp,
                fp,
            });
        }
    }
    Ok(out)
}

/// The sweep point with the highest raw score; ties go to the higher threshold.
pub fn best_threshold(sweep: &[SweepPoint]) -> Option<SweepPoint> {
    let mut it = sweep.iter();
    let mut best = *it.next()?;
    for p in it {
        if p.raw > best.raw {
            best = *p;
        }
    }
    Some(best)
}

/// `100 (raw - null) / (perfect - null)` with `null = -fnWeight * n_windows` and
/// `perfect = tpWeight * n_windows`.
pub fn normalized_score(raw: f64, n_windows: usize, costs: &CostMatrix) -> Result<f64> {
    let n = n_windows as f64;
    let perfect = n * costs.tp_weight;
    let null = -costs.fn_weight * n;
    let span = perfect - null;
    if span == 0.0 || !span.is_finite() {
        return Err(Error::Evaluation {
            what: "label windows".into(),
            reason: format!(
                "cannot normalise: perfect and null scores are equal ({n_windows} windows)"
            ),
        });
    }
    Ok(100.0 * (raw - null) / span)
}

/// One detector's anomaly scores for one data file.
#[derive(Debug, Clone, Copy)]
pub struct FileScores<'a> {
    /// Path relative to the data directory, as in the label file (`category/file.csv`).
    pub name: &'a str,
    /// Row timestamps, epoch seconds (see [`parse_timestamp`]).
    pub timestamps: &'a [f64],
    /// One anomaly score per row.
    pub scores: &'a [f64],
}

/// The NAB result of one detector under one profile.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct NabScore {
    /// Normalised score: 0 = detects nothing, 100 = perfect.
    #[serde(rename = "score")]
    pub normalized: f64,
    /// Raw score at the best threshold.
    pub raw: f64,
    /// The corpus-wide threshold that maximises the raw score.
    pub threshold: f64,
    /// Detected scorable rows inside windows, at that threshold.
    pub tp: u64,
    /// Detected scorable rows outside windows, at that threshold.
    pub fp: u64,
}

/// Scores a corpus: every file of `labels` must have exactly one entry in `files` (and no
/// other file may appear); the threshold is optimised over all of them and the score is
/// normalised over all windows of `labels`.
pub fn score_corpus(
    labels: &LabelSet,
    files: &[FileScores<'_>],
    costs: &CostMatrix,
) -> Result<NabScore> {
    costs.check("profile")?;
    let mut by_name: HashMap<&str, &FileScores<'_>> = HashMap::new();
    for f in files {
        if labels.windows(f.name).is_none() {
            return Err(Error::Evaluation {
                what: f.name.to_owned(),
                reason: "file is not in the label file".into(),
            });
        }
        if by_name.insert(f.name, f).is_some() {
            return Err(Error::Evaluation {
                what: f.name.to_owned(),
                reason: "file given twice".into(),
            });
        }
    }
    let mut prepared = Vec::with_capacity(labels.n_files());
    for (name, windows) in labels.files() {
        let f = by_name.get(name).ok_or_else(|| Error::Evaluation {
            what: name.to_owned(),
            reason: "labelled file has no scores".into(),
        })?;
        if f.timestamps.len() != f.scores.len() {
            return Err(Error::Evaluation {
                what: name.to_owned(),
                reason: format!("{} scores for {} rows", f.scores.len(), f.timestamps.len()),
            });
        }
        if let Some(&x) = f.scores.iter().find(|x| !x.is_finite()) {
            return Err(Error::NonFinite {
                field: format!("anomaly_score of {name}"),
                value: x,
            });
        }
        let rows = file_rows(
            f.timestamps.len(),
            &window_rows(name, f.timestamps, windows)?,
            costs,
        )?;
        prepared.push((f.scores, rows));
    }
    let refs: Vec<(&[f64], &FileRows)> = prepared.iter().map(|(s, r)| (*s, r)).collect();
    let sweep = corpus_sweep(&refs, costs.fn_weight)?;
    let best = best_threshold(&sweep).ok_or_else(|| Error::Evaluation {
        what: "threshold sweep".into(),
        reason: "no candidate".into(),
    })?;
    Ok(NabScore {
        normalized: normalized_score(best.raw, labels.n_windows(), costs)?,
        raw: best.raw,
        threshold: best.threshold,
        tp: best.tp,
        fp: best.fp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STANDARD: CostMatrix = CostMatrix {
        tp_weight: 1.0,
        fp_weight: 0.11,
        fn_weight: 1.0,
    };
    const T0: f64 = 1_392_388_200.0; // 2014-02-14 14:30:00 UTC

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    /// Rows every 5 minutes from 2014-02-14 14:30:00.
    fn stamps(n: usize) -> Vec<f64> {
        (0..n).map(|i| T0 + 300.0 * i as f64).collect()
    }

    fn stamp_text(i: usize) -> String {
        let minutes = 14 * 60 + 30 + 5 * i;
        format!(
            "2014-02-14 {:02}:{:02}:00.000000",
            minutes / 60,
            minutes % 60
        )
    }

    fn labels(file: &str, windows: &[(usize, usize)]) -> LabelSet {
        let ws: Vec<String> = windows
            .iter()
            .map(|&(a, b)| format!("[\"{}\", \"{}\"]", stamp_text(a), stamp_text(b)))
            .collect();
        LabelSet::parse(&format!("{{\"{file}\": [{}]}}", ws.join(","))).unwrap()
    }

    #[test]
    fn timestamps_parse_as_naive_utc() {
        assert_eq!(parse_timestamp("2014-02-14 14:30:00").unwrap(), T0);
        assert_eq!(parse_timestamp("2014-02-14 14:30:00.000000").unwrap(), T0);
        assert_eq!(parse_timestamp("2014-02-14T14:30:00").unwrap(), T0);
        assert_eq!(parse_timestamp("2014-02-14 14:30:00.5").unwrap(), T0 + 0.5);
        assert_eq!(parse_timestamp("1970-01-01 00:00:00").unwrap(), 0.0);
        for bad in [
            "",
            "2014-02-30 00:00:00",
            "2014-13-01 00:00:00",
            "2014-02-14 24:00:00",
            "2014/02/14 14:30:00",
            "2014-02-14 14:30:00.",
            "2014-02-14 14:30:00Z",
            "2014-02-14 14:30:00.0000000000",
            "2014-02-14 1a:30:00",
        ] {
            let err = parse_timestamp(bad).unwrap_err();
            assert_eq!(err.field(), Some("timestamp"), "{bad:?}");
        }
    }

    #[test]
    fn probation_is_15_percent_capped_at_750() {
        assert_eq!(probation_len(0), 0);
        assert_eq!(probation_len(6), 0); // floor(0.9)
        assert_eq!(probation_len(7), 1); // floor(1.05)
        assert_eq!(probation_len(10), 1);
        assert_eq!(probation_len(100), 15);
        assert_eq!(probation_len(4032), 604);
        assert_eq!(probation_len(5000), 750);
        assert_eq!(probation_len(10_000), 750);
    }

    #[test]
    fn sigmoid_values() {
        assert!(close(scaled_sigmoid(0.0), 0.0));
        // 2 / (1 + e^-5) - 1 = 2 / 1.006737947 - 1
        assert!(close(scaled_sigmoid(-1.0), 0.986_614_298));
        assert!(close(scaled_sigmoid(1.0), -0.986_614_298));
        assert_eq!(scaled_sigmoid(3.0001), -1.0);
        assert_eq!(scaled_sigmoid(f64::INFINITY), -1.0);
    }

    #[test]
    fn profiles_keep_file_order_and_reject_bad_input() {
        let p = parse_profiles(
            r#"{"z": {"CostMatrix": {"tpWeight": 1, "fnWeight": 2, "fpWeight": 0.5, "tnWeight": 1}},
                "a": {"CostMatrix": {"tpWeight": 3, "fnWeight": 4, "fpWeight": 0.25}}}"#,
        )
        .unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].name, "z");
        assert_eq!(
            p[0].costs,
            CostMatrix {
                tp_weight: 1.0,
                fp_weight: 0.5,
                fn_weight: 2.0
            }
        );
        assert_eq!(p[1].name, "a");
        assert!(matches!(
            parse_profiles("{}"),
            Err(Error::Evaluation { .. })
        ));
        assert!(matches!(parse_profiles("[1]"), Err(Error::Decode { .. })));
        assert!(matches!(
            parse_profiles(r#"{"x": {"CostMatrix": {"tpWeight": 1}}}"#),
            Err(Error::Decode { .. })
        ));
    }

    #[test]
    fn label_set_parses_filters_and_counts() {
        let l = LabelSet::parse(
            r#"{"b/x.csv": [["2014-02-14 14:30:00.000000", "2014-02-14 14:35:00.000000"]],
                "a/y.csv": [], "a/z.csv": [["2014-02-14 14:30:00", "2014-02-14 14:30:00"],
                                           ["2014-02-14 15:30:00", "2014-02-14 16:30:00"]]}"#,
        )
        .unwrap();
        assert_eq!((l.n_files(), l.n_windows()), (3, 3));
        let names: Vec<&str> = l.files().map(|(n, _)| n).collect();
        assert_eq!(names, ["a/y.csv", "a/z.csv", "b/x.csv"]);
        assert_eq!(
            l.windows("b/x.csv").unwrap(),
            [Window {
                start: T0,
                end: T0 + 300.0
            }]
        );
        let a = l.only_category("a");
        assert_eq!((a.n_files(), a.n_windows()), (2, 2));
        assert_eq!(l.only_category("b/x").n_files(), 0);
        let err =
            LabelSet::parse(r#"{"a/y.csv": [["yesterday", "2014-02-14 14:30:00"]]}"#).unwrap_err();
        assert!(err.to_string().contains("a/y.csv"), "{err}");
        assert!(matches!(LabelSet::parse("{"), Err(Error::Decode { .. })));
    }

    #[test]
    fn windows_map_to_rows_or_name_the_file() {
        let ts = stamps(10);
        let w = |a: usize, b: usize| Window {
            start: ts[a],
            end: ts[b],
        };
        assert_eq!(
            window_rows("c/f.csv", &ts, &[w(6, 8), w(1, 2)]).unwrap(),
            [(1, 2), (6, 8)]
        );
        let missing = Window {
            start: ts[1] + 1.0,
            end: ts[2],
        };
        let err = window_rows("c/f.csv", &ts, &[missing]).unwrap_err();
        assert!(
            matches!(&err, Error::Evaluation { what, .. } if what == "c/f.csv"),
            "{err}"
        );
        assert!(window_rows("c/f.csv", &ts, &[w(3, 2)]).is_err());
    }

    /// Ten rows, one window on rows 4..=6 (width 3), standard costs.
    #[test]
    fn row_weights_by_hand() {
        let rows = file_rows(10, &[(4, 6)], &STANDARD).unwrap();
        assert_eq!(rows.n_probation, 1);
        // before the first window: -fpWeight
        for i in 0..4 {
            assert_eq!(rows.weight[i], -0.11);
            assert_eq!(rows.window[i], None);
        }
        // inside: sigmoid(-(6 - i + 1) / 3) / sigmoid(-1); the first row earns tpWeight
        assert!(close(rows.weight[4], 1.0));
        // sigmoid(-2/3) = 2 / (1 + e^(-10/3)) - 1 = 2 / 1.035673993 - 1 = 0.9311096...
        assert!(close(rows.weight[5], 0.931_109_6 / 0.986_614_3));
        // sigmoid(-1/3) = 2 / (1 + e^(-5/3)) - 1 = 2 / 1.188875603 - 1 = 0.6822618...
        assert!(close(rows.weight[6], 0.682_261_8 / 0.986_614_3));
        assert_eq!(&rows.window[4..7], &[Some(0); 3]);
        // after: sigmoid(|6 - i| / (3 - 1)) * fpWeight
        // sigmoid(0.5) = 2 / (1 + e^2.5) - 1 = 2 / 13.18249396 - 1 = -0.848283...
        assert!(close(rows.weight[7], -0.848_283_6 * 0.11));
        assert!(close(rows.weight[8], -0.986_614_3 * 0.11));
        // sigmoid(1.5) = 2 / (1 + e^7.5) - 1 = -0.998894...
        assert!(close(rows.weight[9], -0.998_894_5 * 0.11));
        assert!(file_rows(5, &[(4, 5)], &STANDARD).is_err());
    }

    /// The hand-worked corpus: ten rows, window on rows 4..=6, row 0 probationary.
    /// Weights (see `row_weights_by_hand`): rows 1-3 -0.11; rows 4, 5, 6: 1, 0.943742,
    /// 0.691519; rows 7, 8, 9: -0.093311, -0.108528, -0.109878.
    /// Scores in descending order: 0.8 (rows 5, 6), 0.5 (row 1), 0.3 (row 7), 0 (the rest).
    /// Candidates: 1.1 → -1; 0.8 → -1 + (0.943742 + 1) = 0.943742 (tp 2, fp 0);
    /// 0.5 → 0.833742 (fp 1); 0.3 → 0.740431 (fp 2);
    /// 0 → 0.740431 - 0.22 + (1 - 0.943742) - 0.108528 - 0.109878 = 0.358283 (tp 3, fp 6).
    const HAND_SCORES: [f64; 10] = [0.9, 0.5, 0.0, 0.0, 0.0, 0.8, 0.8, 0.3, 0.0, 0.0];

    #[test]
    fn sweep_by_hand() {
        let rows = file_rows(10, &[(4, 6)], &STANDARD).unwrap();
        let sweep = corpus_sweep(&[(&HAND_SCORES[..], &rows)], 1.0).unwrap();
        let got: Vec<(f64, u64, u64)> = sweep.iter().map(|p| (p.threshold, p.tp, p.fp)).collect();
        assert_eq!(
            got,
            [
                (1.1, 0, 0),
                (0.8, 2, 0),
                (0.5, 2, 1),
                (0.3, 2, 2),
                (0.0, 3, 6)
            ]
        );
        let raws = [-1.0, 0.943_742, 0.833_742, 0.740_431, 0.358_283];
        for (p, want) in sweep.iter().zip(raws) {
            assert!((p.raw - want).abs() < 2e-6, "{p:?} vs {want}");
        }
        let best = best_threshold(&sweep).unwrap();
        assert_eq!((best.threshold, best.tp, best.fp), (0.8, 2, 0));
    }

    #[test]
    fn corpus_score_by_hand() {
        let l = labels("c/f.csv", &[(4, 6)]);
        let ts = stamps(10);
        let files = [FileScores {
            name: "c/f.csv",
            timestamps: &ts,
            scores: &HAND_SCORES,
        }];
        let r = score_corpus(&l, &files, &STANDARD).unwrap();
        assert_eq!((r.threshold, r.tp, r.fp), (0.8, 2, 0));
        assert!((r.raw - 0.943_742).abs() < 2e-6);
        // one window: perfect 1, null -1 → 100 (0.943742 + 1) / 2
        assert!((r.normalized - 97.187_1).abs() < 1e-4, "{r:?}");
    }

    /// A window that lies wholly in the probation period is not scored (no fnWeight in the
    /// raw score) but still counts in the normalisation.
    #[test]
    fn probationary_window_is_not_scored_but_normalised() {
        let l = labels("c/f.csv", &[(0, 0), (4, 6)]);
        let ts = stamps(10);
        let files = [FileScores {
            name: "c/f.csv",
            timestamps: &ts,
            scores: &HAND_SCORES,
        }];
        let r = score_corpus(&l, &files, &STANDARD).unwrap();
        // After a width-1 window the after-window position is infinite: weight -fpWeight,
        // the same as before the first window, so the raw score is the one above.
        assert_eq!((r.threshold, r.tp, r.fp), (0.8, 2, 0));
        assert!((r.raw - 0.943_742).abs() < 2e-6);
        // two windows: perfect 2, null -2 → 100 (0.943742 + 2) / 4
        assert!((r.normalized - 73.593_6).abs() < 1e-4, "{r:?}");
    }

    /// With fpWeight 0 a false positive changes nothing: equal raw scores, the higher
    /// threshold wins (so no false positive is reported).
    #[test]
    fn ties_go_to_the_higher_threshold() {
        let costs = CostMatrix {
            tp_weight: 1.0,
            fp_weight: 0.0,
            fn_weight: 1.0,
        };
        let l = labels("c/f.csv", &[(4, 6)]);
        let ts = stamps(10);
        let scores = [0.0, 0.0, 0.5, 0.0, 0.8, 0.0, 0.0, 0.0, 0.0, 0.0];
        let files = [FileScores {
            name: "c/f.csv",
            timestamps: &ts,
            scores: &scores,
        }];
        let r = score_corpus(&l, &files, &costs).unwrap();
        assert_eq!((r.threshold, r.tp, r.fp), (0.8, 1, 0));
        assert!(close(r.raw, 1.0));
        assert!(close(r.normalized, 100.0));
    }

    /// Detecting nothing (threshold 1.1) wins when every detection costs more than it earns.
    #[test]
    fn detecting_nothing_can_win() {
        let l = labels("c/f.csv", &[(4, 6)]);
        let ts = stamps(10);
        let scores = [0.0, 0.9, 0.9, 0.9, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        let files = [FileScores {
            name: "c/f.csv",
            timestamps: &ts,
            scores: &scores,
        }];
        let r = score_corpus(&l, &files, &STANDARD).unwrap();
        // candidates: 1.1 → -1; 0.9 → -1 - 0.33 = -1.33;
        // 0 → -1.33 + (1 + 1) - 0.093311 - 0.108528 - 0.109878 = 0.358283, the best.
        assert_eq!((r.threshold, r.tp, r.fp), (0.0, 3, 6));
        assert!((r.raw - 0.358_283).abs() < 2e-6);
        // with fpWeight 10 the three early false positives cost 30: 1.1 wins.
        let costly = CostMatrix {
            fp_weight: 10.0,
            ..STANDARD
        };
        let r = score_corpus(&l, &files, &costly).unwrap();
        assert_eq!((r.threshold, r.tp, r.fp, r.raw), (1.1, 0, 0, -1.0));
        assert!(close(r.normalized, 0.0));
    }

    /// Two files: window ids do not collide and the threshold is shared.
    #[test]
    fn windows_of_different_files_are_distinct() {
        let mut l = labels("c/a.csv", &[(4, 6)]);
        l.files.extend(labels("c/b.csv", &[(4, 6)]).files);
        let ts = stamps(10);
        let a = [0.0, 0.0, 0.0, 0.0, 0.7, 0.0, 0.0, 0.0, 0.0, 0.0];
        let b = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.7, 0.0, 0.0, 0.0];
        let files = [
            FileScores {
                name: "c/b.csv",
                timestamps: &ts,
                scores: &b,
            },
            FileScores {
                name: "c/a.csv",
                timestamps: &ts,
                scores: &a,
            },
        ];
        let r = score_corpus(&l, &files, &STANDARD).unwrap();
        // both windows detected: 1 + 0.691519 over base -2
        assert_eq!((r.threshold, r.tp, r.fp), (0.7, 2, 0));
        assert!((r.raw - 1.691_519).abs() < 2e-6, "{r:?}");
        assert!((r.normalized - 100.0 * 3.691_519 / 4.0).abs() < 1e-4);
    }

    #[test]
    fn inputs_that_do_not_fit_are_errors() {
        let l = labels("c/f.csv", &[(4, 6)]);
        let ts = stamps(10);
        let short = [0.0; 9];
        let one = |name, scores| {
            [FileScores {
                name,
                timestamps: &ts,
                scores,
            }]
        };
        let err = score_corpus(&l, &one("c/f.csv", &short), &STANDARD).unwrap_err();
        assert!(err.to_string().contains("c/f.csv"), "{err}");
        let mut nan = [0.0; 10];
        nan[3] = f64::NAN;
        assert!(matches!(
            score_corpus(&l, &one("c/f.csv", &nan), &STANDARD),
            Err(Error::NonFinite { .. })
        ));
        let zeros = [0.0; 10];
        assert!(score_corpus(&l, &one("c/other.csv", &zeros), &STANDARD).is_err());
        assert!(score_corpus(&l, &[], &STANDARD).is_err());
        let empty = LabelSet::parse(r#"{"c/f.csv": []}"#).unwrap();
        let err = score_corpus(&empty, &one("c/f.csv", &zeros), &STANDARD).unwrap_err();
        assert!(matches!(err, Error::Evaluation { .. }), "{err}");
    }
}
