//! `iops eval tabular`: isolation-forest ROC AUC and average precision on labelled CSV sets
//! (first column `label`, 1 = anomaly; the rest are features), mean over seeds.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use iops_eval::tabular::{eval_tabular, TabularOptions};

#[derive(Debug, Args)]
pub struct TabularArgs {
    /// Directory of CSV files: first column `label` (1 = anomaly), then numeric features.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Seeds to average over (fit and score once per seed).
    #[arg(long, value_delimiter = ',', default_values_t = [0u64, 1, 2, 3, 4])]
    pub seeds: Vec<u64>,
    /// Trees per forest.
    #[arg(long, default_value_t = 100)]
    pub n_trees: usize,
    /// Rows per tree.
    #[arg(long, default_value_t = 256)]
    pub max_samples: usize,
    /// Markdown file with the reference table (`| set | n | d | anomalies | ROC AUC |`);
    /// defaults to DIR/../README.md when it exists.
    #[arg(long, value_name = "FILE")]
    pub reference: Option<PathBuf>,
}

pub fn run(args: &TabularArgs) -> Result<()> {
    let report = eval_tabular(&TabularOptions {
        data: args.data.clone(),
        seeds: args.seeds.clone(),
        n_trees: args.n_trees,
        max_samples: args.max_samples,
        reference: args.reference.clone(),
    })?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
