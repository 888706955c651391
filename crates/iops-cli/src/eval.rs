//! `iops eval nab`: the NAB score of the engine (or of a detector's saved results) on one
//! directory in NAB layout, whole and per category; `iops eval corpora`: the same on several
//! such directories, with the mean over them.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};
use iops_eval::corpus::{engine_config, eval_corpora, eval_nab, NabInput};

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Score a detector on one directory in Numenta Anomaly Benchmark layout; prints JSON.
    Nab(NabArgs),
    /// Score the engine on several directories in NAB layout (e.g. NAB and operations
    /// corpora): every corpus, every category, every profile, and the mean over corpora.
    Corpora(CorporaArgs),
}

#[derive(Debug, Args)]
pub struct CorporaArgs {
    /// Directories in NAB layout; each is named by its last path component.
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// `json` (default) or `table` (one line per corpus and category).
    #[arg(long, value_enum, default_value = "json")]
    pub format: CorporaFormat,
    /// Engine parameters (JSON, the fields of `EngineParams`) instead of the defaults.
    #[arg(long, value_name = "FILE")]
    pub params: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum CorporaFormat {
    Json,
    Table,
}

#[derive(Debug, Args)]
pub struct NabArgs {
    /// NAB directory: DIR/data/<category>/<file>.csv, DIR/labels/combined_windows.json,
    /// DIR/config/profiles.json.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Score saved results RESULTS/<NAME>/<category>/<NAME>_<file>.csv (column
    /// anomaly_score) instead of running the engine.
    #[arg(long, value_name = "DIR", requires = "detector")]
    pub results: Option<PathBuf>,
    /// Detector name of the saved results (with --results).
    #[arg(long, value_name = "NAME", requires = "results")]
    pub detector: Option<String>,
    /// Restrict the corpus to one category (threshold re-optimised on it, normalised over
    /// its windows), like nab_score.py --only-category.
    #[arg(long, value_name = "CAT")]
    pub only_category: Option<String>,
    /// Engine parameters (JSON, the fields of `EngineParams`; omitted ones take their
    /// defaults) instead of the defaults.
    #[arg(long, value_name = "FILE", conflicts_with = "results")]
    pub params: Option<PathBuf>,
}

pub fn run(cmd: &EvalCommand) -> Result<()> {
    match cmd {
        EvalCommand::Nab(args) => {
            let input = NabInput {
                data: args.data.clone(),
                results: args.results.clone(),
                detector: args.detector.clone(),
                only_category: args.only_category.clone(),
            };
            let report = eval_nab(&input, &engine_config(args.params.as_deref())?)?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        EvalCommand::Corpora(args) => {
            let report = eval_corpora(&args.dirs, args.params.as_deref())?;
            match args.format {
                CorporaFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
                CorporaFormat::Table => print!("{}", report.table()),
            }
        }
    }
    Ok(())
}
