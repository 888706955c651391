//! `iops export-labels`: the operator's verdicts on incidents (`POST
//! /incidents/{id}/feedback`) from an `iops serve` database, one JSON object per line, for
//! training and validation (`train.py --labels`).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use iops_core::engine::EngineConfig;
use iops_service::Service;
use iops_store::SqliteStore;

/// `iops export-labels` arguments.
#[derive(Debug, Args)]
pub struct ExportLabelsArgs {
    /// The database `iops serve` wrote.
    #[arg(long, default_value = "iops.db")]
    pub db: PathBuf,
}

pub fn run(args: &ExportLabelsArgs) -> Result<()> {
    let store = SqliteStore::open(&args.db)
        .with_context(|| format!("cannot open the database {}", args.db.display()))?;
    let service = Service::new(Arc::new(store), EngineConfig::default());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let labels = runtime.block_on(service.labels())?;
    let mut out = std::io::stdout().lock();
    for label in &labels {
        writeln!(out, "{}", serde_json::to_string(label)?)?;
    }
    Ok(())
}
