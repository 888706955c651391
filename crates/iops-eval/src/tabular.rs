//! Isolation-forest ROC AUC and average precision on labelled CSV sets (first column `label`,
//! 1 = anomaly; the rest are features), mean over seeds, beside a reference table.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use iops_core::forest::IsolationForestParams;
use iops_core::ndarray::Array2;
use iops_core::ParamGuard;
use serde::Serialize;

use crate::roc::{average_precision, roc_auc};

/// What to evaluate, and how.
#[derive(Debug, Clone)]
pub struct TabularOptions {
    /// Directory of CSV files: first column `label` (1 = anomaly), then numeric features.
    pub data: PathBuf,
    /// Seeds to average over (fit and score once per seed).
    pub seeds: Vec<u64>,
    /// Trees per forest.
    pub n_trees: usize,
    /// Rows per tree.
    pub max_samples: usize,
    /// Markdown file with the reference table (`| set | n | d | anomalies | ROC AUC |`);
    /// defaults to DIR/../README.md when it exists.
    pub reference: Option<PathBuf>,
}

/// One labelled table.
#[derive(Debug)]
pub struct Table {
    /// Features, one row per sample.
    pub x: Array2<f64>,
    /// True for an anomaly.
    pub labels: Vec<bool>,
}

/// One set's figures.
#[derive(Debug, Serialize)]
pub struct FileReport {
    /// The set's name (its file stem).
    pub set: String,
    /// Rows.
    pub rows: usize,
    /// Features.
    pub features: usize,
    /// Rows labelled anomalous.
    pub anomalies: usize,
    /// Mean over seeds.
    pub roc_auc: f64,
    /// Mean over seeds.
    pub average_precision: f64,
    /// ROC AUC of each seed.
    pub roc_auc_per_seed: Vec<f64>,
    /// The reference ROC AUC (scikit-learn, from the reference table), when listed.
    pub reference_roc_auc: Option<f64>,
    /// `roc_auc - reference_roc_auc`.
    pub delta: Option<f64>,
}

/// Every set, with the settings used.
#[derive(Debug, Serialize)]
pub struct TabularReport {
    /// Trees per forest.
    pub n_trees: usize,
    /// Rows per tree.
    pub max_samples: usize,
    /// The seeds averaged over.
    pub seeds: Vec<u64>,
    /// The reference table read, if any.
    pub reference: Option<String>,
    /// Each set, by name.
    pub files: Vec<FileReport>,
}

/// Reads a labelled CSV: header row, first column the label (0/1), the rest numbers.
pub fn read_table(path: &Path) -> Result<Table> {
    let mut rdr =
        csv::Reader::from_path(path).with_context(|| format!("cannot open {}", path.display()))?;
    let width = rdr.headers()?.len();
    if width < 2 {
        bail!(
            "{}: need a label column and at least one feature",
            path.display()
        );
    }
    let d = width - 1;
    let mut values = Vec::new();
    let mut labels = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.with_context(|| format!("{}: row {}", path.display(), i + 2))?;
        if rec.len() != width {
            bail!(
                "{}: row {} has {} columns, expected {width}",
                path.display(),
                i + 2,
                rec.len()
            );
        }
        for (j, field) in rec.iter().enumerate() {
            let v: f64 = field.trim().parse().with_context(|| {
                format!(
                    "{}: row {}, column {}: {field:?} is not a number",
                    path.display(),
                    i + 2,
                    j + 1
                )
            })?;
            if j == 0 {
                if v != 0.0 && v != 1.0 {
                    bail!(
                        "{}: row {}, column 1 (label): must be 0 or 1, got {field:?}",
                        path.display(),
                        i + 2
                    );
                }
                labels.push(v == 1.0);
            } else if v.is_finite() {
                values.push(v);
            } else {
                bail!(
                    "{}: row {}, column {}: {field:?} is not a finite number",
                    path.display(),
                    i + 2,
                    j + 1
                );
            }
        }
    }
    let x = Array2::from_shape_vec((labels.len(), d), values)?;
    Ok(Table { x, labels })
}

/// Reference ROC AUC per set from a markdown table whose first column is the set name and
/// last column the AUC (rows with a non-numeric last cell are skipped).
pub fn parse_reference(markdown: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in markdown.lines() {
        let cells: Vec<&str> = line
            .trim()
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        if cells.len() < 5 {
            continue;
        }
        if let (Some(name), Some(Ok(auc))) = (cells.first(), cells.last().map(|c| c.parse::<f64>()))
        {
            if (0.0..=1.0).contains(&auc) && !name.is_empty() {
                out.insert((*name).to_owned(), auc);
            }
        }
    }
    out
}

/// Fits and scores an isolation forest on every `*.csv` of `args.data`, once per seed.
pub fn eval_tabular(args: &TabularOptions) -> Result<TabularReport> {
    if args.seeds.is_empty() {
        bail!("--seeds must list at least one seed");
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&args.data)
        .with_context(|| format!("cannot read {}", args.data.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("no *.csv in {}", args.data.display());
    }
    let reference_path = args.reference.clone().or_else(|| {
        let p = args.data.parent()?.join("README.md");
        p.exists().then_some(p)
    });
    let reference = match &reference_path {
        Some(p) => parse_reference(
            &std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?,
        ),
        None => BTreeMap::new(),
    };
    let mut reports = Vec::new();
    for path in &files {
        let set = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let table = read_table(path)?;
        let mut aucs = Vec::new();
        let mut aps = Vec::new();
        for &seed in &args.seeds {
            let forest = IsolationForestParams::new()
                .n_trees(args.n_trees)
                .max_samples(args.max_samples)
                .seed(seed)
                .check()?
                .fit(table.x.view())
                .with_context(|| format!("fit failed on {}", path.display()))?;
            let scores = forest.score_samples(table.x.view())?;
            let scores = scores.to_vec();
            aucs.push(roc_auc(&scores, &table.labels).with_context(|| set.clone())?);
            aps.push(average_precision(&scores, &table.labels).with_context(|| set.clone())?);
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let roc = mean(&aucs);
        let reference_roc_auc = reference.get(&set).copied();
        reports.push(FileReport {
            rows: table.labels.len(),
            features: table.x.ncols(),
            anomalies: table.labels.iter().filter(|&&l| l).count(),
            roc_auc: roc,
            average_precision: mean(&aps),
            roc_auc_per_seed: aucs,
            delta: reference_roc_auc.map(|r| roc - r),
            reference_roc_auc,
            set,
        });
    }
    Ok(TabularReport {
        n_trees: args.n_trees,
        max_samples: args.max_samples,
        seeds: args.seeds.clone(),
        reference: reference_path.map(|p| p.display().to_string()),
        files: reports,
    })
}
