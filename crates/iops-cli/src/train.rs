//! `iops train`: fit an isolation forest on metric samples and write `model.json`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use clap::ValueEnum;
use iops_core::artifact::{ModelArtifact, OffsetDateTime};
use iops_core::engine::{EngineConfig, HostForest};
use iops_core::forest::IsolationForestParams;
use iops_core::ndarray::Array2;
use iops_core::{Metric, MetricSample, ParamGuard, Timestamp};

/// What the forest is fitted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Features {
    /// Each metric standardised against its host's own expectation (the engine's point
    /// models, run over each host's samples in time order): the model `iops demo` and the
    /// insight engine load. Needs each host's history (timestamps, hostnames).
    Host,
    /// The four raw metric values, as a SageMaker client sends feature rows.
    Raw,
}

impl Features {
    fn as_str(self) -> &'static str {
        match self {
            Features::Host => "host-standardised",
            Features::Raw => "raw",
        }
    }
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Training data: metric JSON lines (`.jsonl`, one POST /metrics body per line) or CSV with
    /// the columns cpuUsage, memoryUsage, diskIO, networkIO (other columns are ignored).
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// Where to write the model artifact.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Trees in the forest.
    #[arg(long, default_value_t = 100)]
    pub n_trees: usize,
    /// Rows each tree is grown on.
    #[arg(long, default_value_t = 256)]
    pub max_samples: usize,
    /// Expected share of anomalies in the training data; sets the threshold to that training
    /// score quantile. Without it the threshold is the score 0.5.
    #[arg(long)]
    pub contamination: Option<f64>,
    /// Seed of the forest's random streams.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Features the forest is fitted on.
    #[arg(long, value_enum, default_value_t = Features::Host)]
    pub features: Features,
}

pub fn run(args: &TrainArgs) -> Result<()> {
    let samples = read_samples(&args.input)?;
    let mut params = IsolationForestParams::new()
        .n_trees(args.n_trees)
        .max_samples(args.max_samples)
        .seed(args.seed);
    if let Some(c) = args.contamination {
        params = params.contamination(c);
    }
    let params = params.check()?;
    let created_at = OffsetDateTime::now_utc();
    let model = match args.features {
        Features::Host => HostForest::fit(&EngineConfig::default(), &samples, &params, created_at)
            .with_context(|| format!("{}: cannot fit a host forest", args.input.display()))?,
        Features::Raw => {
            let flat: Vec<f64> = samples.iter().flat_map(MetricSample::values).collect();
            let x = Array2::from_shape_vec((samples.len(), 4), flat)?;
            let names = Metric::ALL.map(|m| m.wire_name().to_owned()).to_vec();
            ModelArtifact::train(&params, x.view(), names, created_at).context("training failed")?
        }
    };
    let json = model.to_json()?;
    std::fs::write(&args.out, &json)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    eprintln!(
        "trained {} trees on {} rows ({} features); threshold {:.4}; wrote {} ({} bytes)",
        model.forest().n_trees(),
        model.training().rows,
        args.features.as_str(),
        model.forest().threshold(),
        args.out.display(),
        json.len()
    );
    if args.features == Features::Host {
        match model.peer_groups() {
            Some(groups) => eprintln!("peer groups: {}", groups.describe()),
            None => {
                eprintln!("no peer groups: they need at least 2 hosts with a day of samples each")
            }
        }
    }
    Ok(())
}

/// Epoch seconds given to CSV rows without a timestamp column: one every 5 minutes.
const CSV_ROW_SECONDS: f64 = 300.0;

/// Metric samples from JSON lines (one POST /metrics body per line) or CSV. A CSV needs the
/// four metric columns; `timestamp` (RFC 3339 or epoch seconds) and `hostname` are optional
/// (without them the rows are one host's samples, 5 minutes apart, in file order). Every
/// sample is validated; an error names the file, line and field.
pub fn read_samples(path: &Path) -> Result<Vec<MetricSample>> {
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let mut samples = Vec::new();
    if is_csv {
        let mut rdr = csv::Reader::from_path(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let headers = rdr.headers()?.clone();
        let column = |name: &str| headers.iter().position(|h| h.trim() == name);
        let cols: Vec<usize> = Metric::ALL
            .iter()
            .map(|m| {
                column(m.wire_name())
                    .with_context(|| format!("{}: no column {}", path.display(), m.wire_name()))
            })
            .collect::<Result<_>>()?;
        let (ts_col, host_col) = (column("timestamp"), column("hostname"));
        for (i, rec) in rdr.records().enumerate() {
            let line = i + 2;
            let rec = rec.with_context(|| format!("{}: line {line}", path.display()))?;
            let cell = |c: usize| rec.get(c).unwrap_or("").trim();
            let mut values = [0.0; 4];
            for ((v, &c), m) in values.iter_mut().zip(&cols).zip(Metric::ALL) {
                *v = cell(c).parse().with_context(|| {
                    format!(
                        "{}: line {line}, {}: {:?} is not a number",
                        path.display(),
                        m.wire_name(),
                        cell(c)
                    )
                })?;
            }
            let timestamp = match ts_col {
                Some(c) => {
                    let text = cell(c);
                    let value = text
                        .parse::<f64>()
                        .map_or_else(|_| text.into(), serde_json::Value::from);
                    Timestamp::from_json_value(&value)
                }
                None => Timestamp::from_epoch_seconds(CSV_ROW_SECONDS * i as f64),
            }
            .with_context(|| format!("{}: line {line}", path.display()))?;
            let [cpu_usage, memory_usage, disk_io, network_io] = values;
            let sample = MetricSample {
                timestamp,
                hostname: host_col.map_or("host", cell).to_owned(),
                cpu_usage,
                memory_usage,
                disk_io,
                network_io,
            };
            sample
                .validate()
                .with_context(|| format!("{}: line {line}", path.display()))?;
            samples.push(sample);
        }
    } else {
        let text =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        for (i, line) in text.split(|&b| b == b'\n').enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let sample = MetricSample::from_json(line)
                .with_context(|| format!("{}: line {}", path.display(), i + 1))?;
            samples.push(sample);
        }
    }
    if samples.len() < 2 {
        bail!(
            "{}: need at least 2 samples, found {}",
            path.display(),
            samples.len()
        );
    }
    Ok(samples)
}
