//! Reading and writing the NAB directory layout: DIR/data/<category>/<file>.csv
//! (timestamp,value), DIR/labels/combined_windows.json, DIR/config/profiles.json, and
//! detector results RESULTS/<detector>/<category>/<detector>_<file>.csv (anomaly_score).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use iops_core::engine::{score_series, EngineConfig};
use rayon::prelude::*;

use crate::nab::{parse_profiles, parse_timestamp, LabelSet, Profile};

/// A NAB data directory, checked to have the three parts.
#[derive(Debug, Clone)]
pub struct NabDir {
    root: PathBuf,
}

impl NabDir {
    /// Opens `root`; the error names the part that is missing.
    pub fn open(root: &Path) -> Result<Self> {
        if !root.is_dir() {
            bail!(
                "NAB directory {} does not exist or is not a directory",
                root.display()
            );
        }
        let dir = NabDir {
            root: root.to_path_buf(),
        };
        for part in [dir.data_dir(), dir.labels_path(), dir.profiles_path()] {
            if !part.exists() {
                bail!(
                    "{} is not a NAB directory: {} is missing (expected data/, labels/combined_windows.json, config/profiles.json)",
                    root.display(),
                    part.display()
                );
            }
        }
        Ok(dir)
    }

    /// DIR/data.
    pub fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    fn labels_path(&self) -> PathBuf {
        self.root.join("labels").join("combined_windows.json")
    }

    fn profiles_path(&self) -> PathBuf {
        self.root.join("config").join("profiles.json")
    }

    /// The labelled windows (labels/combined_windows.json).
    pub fn labels(&self) -> Result<LabelSet> {
        let path = self.labels_path();
        let text = read_text(&path)?;
        LabelSet::parse(&text).with_context(|| format!("reading {}", path.display()))
    }

    /// The cost profiles (config/profiles.json), in the file's order.
    pub fn profiles(&self) -> Result<Vec<Profile>> {
        let path = self.profiles_path();
        let text = read_text(&path)?;
        parse_profiles(&text).with_context(|| format!("reading {}", path.display()))
    }

    /// Path of a data file given its name relative to data/ (`category/file.csv`).
    pub fn data_file(&self, rel: &str) -> PathBuf {
        rel.split('/').fold(self.data_dir(), |p, part| p.join(part))
    }

    /// Every `data/<category>/<file>.csv`, as `category/file.csv`, sorted.
    pub fn data_files(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for cat in sorted_entries(&self.data_dir())? {
            if !cat.is_dir() {
                continue;
            }
            let cat_name = file_name(&cat)?;
            for file in sorted_entries(&cat)? {
                if file.is_file() && file.extension().is_some_and(|e| e == "csv") {
                    out.push(format!("{cat_name}/{}", file_name(&file)?));
                }
            }
        }
        Ok(out)
    }
}

/// RESULTS/<detector>/<category>/<detector>_<file>.csv for data file `category/file.csv`.
pub fn results_file(results: &Path, detector: &str, rel: &str) -> Result<PathBuf> {
    let Some((cat, file)) = rel.split_once('/') else {
        bail!("data file name {rel} is not category/file.csv");
    };
    Ok(results
        .join(detector)
        .join(cat)
        .join(format!("{detector}_{file}")))
}

fn read_text(path: &Path) -> Result<String> {
    fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<Vec<_>>>()
        .with_context(|| format!("cannot list {}", dir.display()))?;
    out.sort();
    Ok(out)
}

fn file_name(p: &Path) -> Result<String> {
    p.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_owned)
        .with_context(|| format!("{} has no UTF-8 file name", p.display()))
}

/// One data file: the raw text of each row (written back unchanged) and the parsed values.
#[derive(Debug, Clone, Default)]
pub struct Series {
    /// Each row's timestamp as written.
    pub timestamp_text: Vec<String>,
    /// Each row's value as written.
    pub value_text: Vec<String>,
    /// Seconds since the epoch.
    pub timestamps: Vec<f64>,
    /// The values.
    pub values: Vec<f64>,
}

fn open_csv(path: &Path) -> Result<csv::Reader<fs::File>> {
    let file = fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(file))
}

fn column(reader: &mut csv::Reader<fs::File>, path: &Path, name: &str) -> Result<usize> {
    let headers = reader
        .headers()
        .with_context(|| format!("{}:1: cannot read the header", path.display()))?;
    headers
        .iter()
        .position(|h| h.trim() == name)
        .with_context(|| format!("{}:1: no `{name}` column in the header", path.display()))
}

/// Rows of a CSV file with the given columns, with each row's line number.
fn rows(path: &Path, names: &[&str]) -> Result<Vec<(u64, Vec<String>)>> {
    let mut reader = open_csv(path)?;
    let cols = names
        .iter()
        .map(|n| column(&mut reader, path, n))
        .collect::<Result<Vec<_>>>()?;
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.with_context(|| format!("{}: malformed CSV", path.display()))?;
        let line = record.position().map_or(i as u64 + 2, |p| p.line());
        let fields =
            cols.iter()
                .zip(names)
                .map(|(&c, name)| {
                    record.get(c).map(|s| s.trim().to_owned()).with_context(|| {
                        format!("{}:{line}: missing `{name}` field", path.display())
                    })
                })
                .collect::<Result<Vec<_>>>()?;
        out.push((line, fields));
    }
    Ok(out)
}

fn number(path: &Path, line: u64, name: &str, text: &str) -> Result<f64> {
    match text.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(x),
        _ => bail!(
            "{}:{line}: `{name}` must be a finite number, got {text:?}",
            path.display()
        ),
    }
}

/// Reads a NAB data file (columns timestamp, value).
pub fn read_series(path: &Path) -> Result<Series> {
    let mut s = Series::default();
    for (line, fields) in rows(path, &["timestamp", "value"])? {
        let [ts, value] = <[String; 2]>::try_from(fields)
            .map_err(|_| anyhow::anyhow!("{}:{line}: expected 2 fields", path.display()))?;
        let t = parse_timestamp(&ts).with_context(|| format!("{}:{line}", path.display()))?;
        let x = number(path, line, "value", &value)?;
        s.timestamps.push(t);
        s.values.push(x);
        s.timestamp_text.push(ts);
        s.value_text.push(value);
    }
    Ok(s)
}

/// Reads the anomaly_score column of a detector results file.
pub fn read_scores(path: &Path) -> Result<Vec<f64>> {
    rows(path, &["anomaly_score"])?
        .into_iter()
        .map(|(line, fields)| {
            let text = fields.first().map_or("", String::as_str);
            number(path, line, "anomaly_score", text)
        })
        .collect()
}

/// Writes RESULTS/<detector>/<category>/<detector>_<file>.csv: timestamp,value,anomaly_score.
pub fn write_results(path: &Path, series: &Series, scores: &[f64]) -> Result<()> {
    if scores.len() != series.timestamp_text.len() {
        bail!(
            "{}: {} scores for {} rows",
            path.display(),
            scores.len(),
            series.timestamp_text.len()
        );
    }
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let mut w =
        csv::Writer::from_path(path).with_context(|| format!("cannot write {}", path.display()))?;
    let io = |e: csv::Error| anyhow::anyhow!("cannot write {}: {e}", path.display());
    w.write_record(["timestamp", "value", "anomaly_score"])
        .map_err(io)?;
    for ((ts, value), score) in series
        .timestamp_text
        .iter()
        .zip(&series.value_text)
        .zip(scores)
    {
        w.write_record([ts.as_str(), value.as_str(), score.to_string().as_str()])
            .map_err(io)?;
    }
    w.flush()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Scores every data file of `data` with the engine and writes the results under
/// `out/<detector>/` in NAB's results layout; returns the files and rows scored.
pub fn detect(
    data: &Path,
    out: &Path,
    detector: &str,
    config: &EngineConfig,
) -> Result<(usize, usize)> {
    if detector.is_empty() || detector.contains(['/', '\\']) {
        bail!("detector: must be a plain name (no path separators), got {detector:?}");
    }
    let dir = NabDir::open(data)?;
    let files = dir.data_files()?;
    if files.is_empty() {
        bail!("no data/<category>/<file>.csv under {}", data.display());
    }
    let rows = files
        .par_iter()
        .map(|rel| -> Result<usize> {
            let data_path = dir.data_file(rel);
            let series = read_series(&data_path)?;
            let scores = score_series(config, &series.timestamps, &series.values)
                .with_context(|| format!("engine failed on {}", data_path.display()))?;
            write_results(&results_file(out, detector, rel)?, &series, &scores)?;
            Ok(scores.len())
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((files.len(), rows.iter().sum()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_detector_name_with_a_path_is_refused_by_name() {
        let config = EngineConfig::default();
        for bad in ["", "a/b", "..\\x"] {
            let err = detect(Path::new("."), Path::new("."), bad, &config)
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("detector: "), "{bad:?}: {err}");
        }
    }
}
