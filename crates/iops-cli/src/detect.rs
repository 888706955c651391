//! `iops detect`: run the engine over a data set and write per-row anomaly scores.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use iops_core::engine::{score_series, EngineConfig};

use crate::nab_dir::{parallel_map, read_series, results_file, write_results, NabDir};

/// Input/output layouts `detect` understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DetectFormat {
    /// NAB layout in (DIR/data/<category>/<file>.csv: timestamp,value); NAB results out
    /// (OUT/<detector>/<category>/<detector>_<file>.csv: timestamp,value,anomaly_score).
    Nab,
}

#[derive(Debug, Args)]
pub struct DetectArgs {
    /// Input data set (for --format nab: a NAB directory with data/).
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Where to write the results.
    #[arg(long, value_name = "RESULTS")]
    pub out: PathBuf,
    /// Input/output format.
    #[arg(long, value_enum, default_value_t = DetectFormat::Nab)]
    pub format: DetectFormat,
    /// Detector name used in the results layout.
    #[arg(long, value_name = "NAME", default_value = "iops")]
    pub detector: String,
}

pub fn run(args: &DetectArgs) -> Result<()> {
    match args.format {
        DetectFormat::Nab => detect_nab(args),
    }
}

fn detect_nab(args: &DetectArgs) -> Result<()> {
    if args.detector.is_empty() || args.detector.contains(['/', '\\']) {
        bail!("--detector must be a plain name, got {:?}", args.detector);
    }
    let dir = NabDir::open(&args.data)?;
    let files = dir.data_files()?;
    if files.is_empty() {
        bail!(
            "no data/<category>/<file>.csv under {}",
            args.data.display()
        );
    }
    let config = EngineConfig::default();
    let rows = parallel_map(&files, |rel| -> Result<usize> {
        let data_path = dir.data_file(rel);
        let series = read_series(&data_path)?;
        let scores = score_series(&config, &series.timestamps, &series.values)
            .with_context(|| format!("engine failed on {}", data_path.display()))?;
        write_results(
            &results_file(&args.out, &args.detector, rel)?,
            &series,
            &scores,
        )?;
        Ok(scores.len())
    })
    .into_iter()
    .collect::<Result<Vec<_>>>()?;
    eprintln!(
        "scored {} files ({} rows) into {}",
        files.len(),
        rows.iter().sum::<usize>(),
        args.out.join(&args.detector).display()
    );
    Ok(())
}
