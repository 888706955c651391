//! The training job SageMaker runs as `train`: read /opt/ml/input, fit an isolation forest,
//! write /opt/ml/model/model.json (or the reason for failing to /opt/ml/output/failure).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use iops_core::artifact::{ModelArtifact, OffsetDateTime};
use iops_core::engine::{EngineConfig, HostForest, HOST_FEATURES};
use iops_core::forest::IsolationForestParams;
use iops_core::ndarray::ArrayView2;
use iops_core::{Metric, MetricSample, ParamGuard};
use serde_json::Value;

use crate::decode::{decode, Schema};
use crate::error::{Error, Result};
use crate::media::Format;
use crate::state::MODEL_FILE;

/// The SageMaker directory layout under one root (`/opt/ml` in the container).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MlPaths {
    root: PathBuf,
    model_dir: PathBuf,
}

impl MlPaths {
    /// Paths under `root`; the model directory is `root/model` unless `model_dir` is given
    /// (SageMaker's `SM_MODEL_DIR`).
    pub fn new(root: impl Into<PathBuf>, model_dir: Option<PathBuf>) -> Self {
        let root = root.into();
        let model_dir = model_dir.unwrap_or_else(|| root.join("model"));
        Self { root, model_dir }
    }
    /// `input/config/hyperparameters.json`.
    pub fn hyperparameters(&self) -> PathBuf {
        self.root.join("input/config/hyperparameters.json")
    }
    /// `input/config/inputdataconfig.json`.
    pub fn input_data_config(&self) -> PathBuf {
        self.root.join("input/config/inputdataconfig.json")
    }
    /// `input/data`: one directory per channel.
    pub fn data_dir(&self) -> PathBuf {
        self.root.join("input/data")
    }
    /// Where the model is written (training) and read (serving).
    pub fn model_dir(&self) -> &Path {
        &self.model_dir
    }
    /// `output/failure`: the reason a training job failed, shown by SageMaker.
    pub fn failure_file(&self) -> PathBuf {
        self.root.join("output/failure")
    }
}

/// What the forest is fitted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureSet {
    /// The data's feature rows as they are (metric objects give cpuUsage, memoryUsage, diskIO,
    /// networkIO): what SageMaker clients send to /invocations.
    Raw,
    /// Each metric standardised against its host's own expectation (needs metric JSON lines
    /// with timestamps and hostnames): the model the insight engine loads.
    Host,
}

/// Training hyperparameters, from `hyperparameters.json` (values are strings there).
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// Trees (`n_trees` or RCF's `num_trees`); default 100.
    pub n_trees: usize,
    /// Rows per tree (`max_samples` or RCF's `num_samples_per_tree`); default 256.
    pub max_samples: usize,
    /// Share of features per tree (`max_features`); default 1.
    pub max_features: f64,
    /// Expected anomaly share; sets the threshold to that training-score quantile.
    pub contamination: Option<f64>,
    /// Fixed score threshold (`threshold`); default 0.5 when no contamination is given.
    pub threshold: Option<f64>,
    /// Seed of the forest's random streams; default 0.
    pub seed: u64,
    /// Features the forest is fitted on (`features`: `raw` or `host`); default raw.
    pub features: FeatureSet,
    /// Required row width (RCF's `feature_dim`), checked against the data.
    pub feature_dim: Option<usize>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            n_trees: 100,
            max_samples: 256,
            max_features: 1.0,
            contamination: None,
            threshold: None,
            seed: 0,
            features: FeatureSet::Raw,
            feature_dim: None,
        }
    }
}

/// RCF hyperparameters that have no meaning here and are ignored.
const IGNORED: [&str; 2] = ["eval_metrics", "mini_batch_size"];

fn config_error(path: &Path, reason: impl Into<String>) -> Error {
    Error::Config {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

impl TrainConfig {
    /// Reads a hyperparameters object (values as strings, or JSON numbers). Accepts our names
    /// and RCF's; a key given under both names, an unknown key or a bad value is an error
    /// naming the key. `path` is only used in messages.
    pub fn from_hyperparameters(map: &serde_json::Map<String, Value>, path: &Path) -> Result<Self> {
        let mut c = Self::default();
        let mut seen: BTreeMap<&'static str, &str> = BTreeMap::new();
        for (key, value) in map {
            let text = match value {
                Value::String(s) => s.trim().to_owned(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                other => {
                    return Err(config_error(
                        path,
                        format!("hyperparameter {key}: expected a string, got {other}"),
                    ))
                }
            };
            let canonical: &'static str = match key.as_str() {
                "n_trees" | "num_trees" => "n_trees",
                "max_samples" | "num_samples_per_tree" => "max_samples",
                "max_features" => "max_features",
                "contamination" => "contamination",
                "threshold" => "threshold",
                "seed" => "seed",
                "features" => "features",
                "feature_dim" => "feature_dim",
                k if IGNORED.contains(&k) || k.starts_with("sagemaker_") || k.starts_with('_') => {
                    continue
                }
                k => {
                    return Err(config_error(
                        path,
                        format!(
                            "unknown hyperparameter {k:?} (known: n_trees/num_trees, max_samples/num_samples_per_tree, max_features, contamination, threshold, seed, features, feature_dim)"
                        ),
                    ))
                }
            };
            if let Some(other) = seen.insert(canonical, key) {
                return Err(config_error(
                    path,
                    format!("hyperparameters {other} and {key} set the same thing: give one"),
                ));
            }
            let whole = |t: &str| {
                t.parse::<u64>().map_err(|_| {
                    config_error(
                        path,
                        format!("hyperparameter {key}: {t:?} is not a whole number"),
                    )
                })
            };
            let real = |t: &str| {
                t.parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| {
                        config_error(path, format!("hyperparameter {key}: {t:?} is not a number"))
                    })
            };
            let size = |t: &str| {
                usize::try_from(whole(t)?).map_err(|_| {
                    config_error(path, format!("hyperparameter {key}: {t:?} is too large"))
                })
            };
            match canonical {
                "n_trees" => c.n_trees = size(&text)?,
                "max_samples" => c.max_samples = size(&text)?,
                "max_features" => c.max_features = real(&text)?,
                "contamination" => c.contamination = Some(real(&text)?),
                "threshold" => c.threshold = Some(real(&text)?),
                "seed" => c.seed = whole(&text)?,
                "feature_dim" => c.feature_dim = Some(size(&text)?),
                _ => {
                    c.features = match text.as_str() {
                        "raw" => FeatureSet::Raw,
                        "host" => FeatureSet::Host,
                        t => {
                            return Err(config_error(
                                path,
                                format!("hyperparameter {key}: {t:?} is not raw or host"),
                            ))
                        }
                    }
                }
            }
        }
        if c.contamination.is_some() && c.threshold.is_some() {
            return Err(config_error(
                path,
                "hyperparameters contamination and threshold both set the threshold: give one",
            ));
        }
        Ok(c)
    }

    fn params(&self) -> IsolationForestParams {
        let mut p = IsolationForestParams::new()
            .n_trees(self.n_trees)
            .max_samples(self.max_samples)
            .max_features(self.max_features)
            .seed(self.seed);
        if let Some(c) = self.contamination {
            p = p.contamination(c);
        }
        if let Some(t) = self.threshold {
            p = p.threshold(t);
        }
        p
    }
}

/// What a finished training job produced.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainReport {
    /// The model file written.
    pub model_path: PathBuf,
    /// Its size in bytes.
    pub bytes: usize,
    /// Training rows.
    pub rows: u64,
    /// Features per row.
    pub n_features: usize,
    /// The decision threshold.
    pub threshold: f64,
    /// The data files read.
    pub files: Vec<PathBuf>,
    /// The fleet's peer groups the model carries, described (`None`: none were fitted).
    pub peer_groups: Option<String>,
}

fn read_json_object(path: &Path) -> Result<Option<serde_json::Map<String, Value>>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(Error::Io {
                path: path.to_owned(),
                source,
            })
        }
    };
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(Some(map)),
        Ok(_) => Err(config_error(path, "expected a JSON object")),
        Err(e) => Err(config_error(path, format!("not valid JSON: {e}"))),
    }
}

/// The channel to train on and its content type: `train` if present, else the only one.
fn channel(paths: &MlPaths) -> Result<(String, Option<String>)> {
    let config_path = paths.input_data_config();
    let data = paths.data_dir();
    let mut channels: BTreeMap<String, Option<String>> = BTreeMap::new();
    if let Some(config) = read_json_object(&config_path)? {
        for (name, spec) in config {
            if spec.get("TrainingInputMode").and_then(Value::as_str) == Some("Pipe") {
                return Err(config_error(
                    &config_path,
                    format!("channel {name}: Pipe mode is not supported, use File"),
                ));
            }
            let content_type = spec
                .get("ContentType")
                .and_then(Value::as_str)
                .map(str::to_owned);
            channels.insert(name, content_type);
        }
    } else {
        let entries = std::fs::read_dir(&data).map_err(|source| Error::Io {
            path: data.clone(),
            source,
        })?;
        for entry in entries.flatten() {
            if entry.path().is_dir() {
                channels.insert(entry.file_name().to_string_lossy().into_owned(), None);
            }
        }
    }
    if let Some(ct) = channels.remove("train") {
        return Ok(("train".into(), ct));
    }
    let mut it = channels.into_iter();
    match (it.next(), it.next()) {
        (Some(only), None) => Ok(only),
        (None, _) => Err(config_error(
            &data,
            "no input channel: give a `train` channel",
        )),
        (Some(_), Some(_)) => Err(config_error(
            &data,
            "several channels and none is named `train`",
        )),
    }
}

/// Every regular file under `dir` (recursively, hidden files skipped), sorted by path.
fn data_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|source| Error::Io {
            path: d.clone(),
            source,
        })?;
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// A data file's format: from the channel's ContentType when given, else the extension,
/// else the first non-blank byte (`{` or `[` means JSON lines).
fn file_format(path: &Path, content_type: Option<&str>, bytes: &[u8]) -> Result<Format> {
    if let Some(ct) = content_type {
        let essence = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        return match essence.as_str() {
            "text/csv" => Ok(Format::Csv),
            "application/json" => Ok(Format::Json),
            "application/jsonlines" | "application/x-jsonlines" | "application/jsonl" => {
                Ok(Format::JsonLines)
            }
            _ => Err(config_error(
                path,
                format!(
                    "ContentType {ct:?} is not supported: use text/csv or application/jsonlines"
                ),
            )),
        };
    }
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    Ok(match ext.as_str() {
        "csv" => Format::Csv,
        "json" => Format::Json,
        "jsonl" | "jsonlines" | "ndjson" => Format::JsonLines,
        _ => match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{' | b'[') => Format::JsonLines,
            _ => Format::Csv,
        },
    })
}

fn metric_names() -> Vec<String> {
    Metric::ALL.map(|m| m.wire_name().to_owned()).to_vec()
}

/// Runs the training job: reads hyperparameters, the channel's data files, fits, and writes
/// `model.json` to the model directory. `created_at` stamps the artifact.
pub fn train(paths: &MlPaths, created_at: OffsetDateTime) -> Result<TrainReport> {
    let hp_path = paths.hyperparameters();
    let config = match read_json_object(&hp_path)? {
        Some(map) => TrainConfig::from_hyperparameters(&map, &hp_path)?,
        None => TrainConfig::default(),
    };
    let params = config
        .params()
        .check()
        .map_err(|e| config_error(&hp_path, e.to_string()))?;
    let (channel, content_type) = channel(paths)?;
    let dir = paths.data_dir().join(&channel);
    let files = data_files(&dir)?;
    if files.is_empty() {
        return Err(config_error(&dir, "no data files in the channel"));
    }
    let metric_names = metric_names();
    let check_dim = |n_cols: usize| match config.feature_dim {
        Some(dim) if dim != n_cols => Err(config_error(
            &hp_path,
            format!("feature_dim is {dim} but the data has {n_cols} features"),
        )),
        _ => Ok(()),
    };
    let model = match config.features {
        FeatureSet::Raw => {
            let mut values = Vec::new();
            let mut width = config.feature_dim;
            for file in &files {
                let bytes = std::fs::read(file).map_err(|source| Error::Io {
                    path: file.clone(),
                    source,
                })?;
                let format = file_format(file, content_type.as_deref(), &bytes)?;
                let schema = Schema {
                    names: &metric_names,
                    n_features: width,
                };
                let rows = decode(&bytes, format, schema)
                    .map_err(|e| config_error(file, e.to_string()))?;
                width = Some(rows.n_cols);
                values.extend_from_slice(&rows.values);
            }
            let n_cols = width.unwrap_or(0);
            let names = if n_cols == metric_names.len() {
                metric_names
            } else {
                (1..=n_cols).map(|i| format!("feature_{i}")).collect()
            };
            check_dim(n_cols)?;
            let n_rows = values.len().checked_div(n_cols).unwrap_or(0);
            let x = ArrayView2::from_shape((n_rows, n_cols), &values)
                .map_err(|e| config_error(&dir, e.to_string()))?;
            ModelArtifact::train(&params, x, names, created_at).map_err(Error::Train)?
        }
        FeatureSet::Host => {
            let mut samples = Vec::new();
            for file in &files {
                let bytes = std::fs::read(file).map_err(|source| Error::Io {
                    path: file.clone(),
                    source,
                })?;
                for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
                    if line.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    let sample = MetricSample::from_json(line).map_err(|e| {
                        config_error(
                            file,
                            format!(
                                "line {}: {e} (features=host needs metric JSON lines)",
                                i + 1
                            ),
                        )
                    })?;
                    samples.push(sample);
                }
            }
            check_dim(HOST_FEATURES.len())?;
            HostForest::fit(&EngineConfig::default(), &samples, &params, created_at)
                .map_err(|e| config_error(&dir, e.to_string()))?
        }
    };
    let json = model.to_json().map_err(Error::Train)?;
    let model_dir = paths.model_dir();
    std::fs::create_dir_all(model_dir).map_err(|source| Error::Io {
        path: model_dir.to_owned(),
        source,
    })?;
    let model_path = model_dir.join(MODEL_FILE);
    // Write then rename, so a reader never sees half a model.
    let tmp = model_dir.join(format!(".{MODEL_FILE}.tmp"));
    std::fs::write(&tmp, &json).map_err(|source| Error::Io {
        path: tmp.clone(),
        source,
    })?;
    std::fs::rename(&tmp, &model_path).map_err(|source| Error::Io {
        path: model_path.clone(),
        source,
    })?;
    Ok(TrainReport {
        model_path,
        bytes: json.len(),
        rows: model.training().rows,
        n_features: model.forest().n_features(),
        threshold: model.forest().threshold(),
        files,
        peer_groups: model.peer_groups().map(|g| g.describe()),
    })
}

/// Writes `reason` to the failure file (creating `output/`), as SageMaker expects of a failed
/// training job.
pub fn write_failure(paths: &MlPaths, reason: &str) -> Result<()> {
    let path = paths.failure_file();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_owned(),
            source,
        })?;
    }
    std::fs::write(&path, reason).map_err(|source| Error::Io { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hp(json: &str) -> Result<TrainConfig> {
        let map = match serde_json::from_str::<Value>(json).unwrap() {
            Value::Object(m) => m,
            _ => unreachable!(),
        };
        TrainConfig::from_hyperparameters(&map, Path::new("hyperparameters.json"))
    }

    #[test]
    fn accepts_our_names_and_rcfs_as_strings() {
        let c = hp(r#"{"num_trees":"50","num_samples_per_tree":"128","feature_dim":"4","seed":"7","eval_metrics":"[]"}"#).unwrap();
        assert_eq!(
            (c.n_trees, c.max_samples, c.feature_dim, c.seed),
            (50, 128, Some(4), 7)
        );
        let c = hp(r#"{"n_trees":"20","contamination":"0.05","features":"host"}"#).unwrap();
        assert_eq!(c.contamination, Some(0.05));
        assert_eq!(c.features, FeatureSet::Host);
    }

    #[test]
    fn rejects_bad_values_naming_the_key() {
        let e = hp(r#"{"num_trees":"many"}"#).unwrap_err().to_string();
        assert!(e.contains("num_trees") && e.contains("\"many\""), "{e}");
        let e = hp(r#"{"n_trees":"10","num_trees":"10"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("give one"), "{e}");
        let e = hp(r#"{"n_tree":"10"}"#).unwrap_err().to_string();
        assert!(e.contains("unknown hyperparameter \"n_tree\""), "{e}");
        let e = hp(r#"{"features":"cooked"}"#).unwrap_err().to_string();
        assert!(e.contains("features"), "{e}");
        let e = hp(r#"{"contamination":"NaN"}"#).unwrap_err().to_string();
        assert!(e.contains("contamination"), "{e}");
    }
}
