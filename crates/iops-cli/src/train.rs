//! `iops train`: fit an isolation forest on metric samples and write `model.json`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use iops_core::artifact::{ModelArtifact, OffsetDateTime};
use iops_core::forest::IsolationForestParams;
use iops_core::ndarray::Array2;
use iops_core::{Metric, MetricSample, ParamGuard};

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
}

pub fn run(args: &TrainArgs) -> Result<()> {
    let x = read_metrics(&args.input)?;
    let mut params = IsolationForestParams::new()
        .n_trees(args.n_trees)
        .max_samples(args.max_samples)
        .seed(args.seed);
    if let Some(c) = args.contamination {
        params = params.contamination(c);
    }
    let params = params.check()?;
    let names = Metric::ALL.map(|m| m.wire_name().to_owned()).to_vec();
    let model = ModelArtifact::train(&params, x.view(), names, OffsetDateTime::now_utc())
        .context("training failed")?;
    let json = model.to_json()?;
    std::fs::write(&args.out, &json)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    eprintln!(
        "trained {} trees on {} rows; threshold {:.4}; wrote {} ({} bytes)",
        model.forest().n_trees(),
        model.training().rows,
        model.forest().threshold(),
        args.out.display(),
        json.len()
    );
    Ok(())
}

/// Rows of the 4 metrics (in [`Metric::ALL`] order) from JSON lines or CSV.
pub fn read_metrics(path: &Path) -> Result<Array2<f64>> {
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let mut values = Vec::new();
    if is_csv {
        let mut rdr = csv::Reader::from_path(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let headers = rdr.headers()?.clone();
        let cols: Vec<usize> = Metric::ALL
            .iter()
            .map(|m| {
                headers
                    .iter()
                    .position(|h| h.trim() == m.wire_name())
                    .with_context(|| format!("{}: no column {}", path.display(), m.wire_name()))
            })
            .collect::<Result<_>>()?;
        for (i, rec) in rdr.records().enumerate() {
            let rec = rec.with_context(|| format!("{}: row {}", path.display(), i + 2))?;
            for (&c, m) in cols.iter().zip(Metric::ALL) {
                let cell = rec.get(c).unwrap_or("");
                let v: f64 = cell.trim().parse().with_context(|| {
                    format!(
                        "{}: row {}, {}: {cell:?} is not a number",
                        path.display(),
                        i + 2,
                        m.wire_name()
                    )
                })?;
                values.push(v);
            }
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
            values.extend(sample.values());
        }
    }
    let rows = values.len() / 4;
    if rows < 2 {
        bail!("{}: need at least 2 samples, found {rows}", path.display());
    }
    Ok(Array2::from_shape_vec((rows, 4), values)?)
}
