//! `iops detect`: run the engine over a data set and write per-row anomaly scores.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, ValueEnum};
use iops_eval::corpus::engine_config;
use iops_eval::nab_dir::detect;

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
    /// Engine parameters (JSON, the fields of `EngineParams`; omitted ones take their
    /// defaults) instead of the defaults, as `iops eval` takes them.
    #[arg(long, value_name = "FILE")]
    pub params: Option<PathBuf>,
}

pub fn run(args: &DetectArgs) -> Result<()> {
    match args.format {
        DetectFormat::Nab => detect_nab(args),
    }
}

fn detect_nab(args: &DetectArgs) -> Result<()> {
    let (files, rows) = detect(
        &args.data,
        &args.out,
        &args.detector,
        &engine_config(args.params.as_deref())?,
    )?;
    eprintln!(
        "scored {files} files ({rows} rows) into {}",
        args.out.join(&args.detector).display()
    );
    Ok(())
}
