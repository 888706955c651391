//! `iops eval nab`: the NAB score of the engine (or of a detector's saved results) on one
//! directory in NAB layout, whole and per category; `iops eval corpora`: the same on several
//! such directories, with the mean over them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use iops_core::engine::{score_series, EngineConfig, EngineParams};
use iops_core::eval::nab::{score_corpus, FileScores, LabelSet, NabScore, Profile};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use crate::nab_dir::{parallel_map, read_scores, read_series, results_file, NabDir};

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
            let report = eval_nab(args)?;
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

/// Profile name → score, in the order of profiles.json.
#[derive(Debug)]
pub struct ProfileScores(Vec<(String, NabScore)>);

impl Serialize for ProfileScores {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, score) in &self.0 {
            map.serialize_entry(name, score)?;
        }
        map.end()
    }
}

#[derive(Debug, Serialize)]
pub struct CorpusReport {
    pub n_files: usize,
    pub n_windows: usize,
    pub profiles: ProfileScores,
}

#[derive(Debug, Serialize)]
pub struct NabReport {
    pub detector: String,
    /// `engine` (scored now) or `results` (read from --results).
    pub source: &'static str,
    /// The engine configuration used (null with --results).
    pub engine_config: Option<EngineConfig>,
    pub only_category: Option<String>,
    pub n_files: usize,
    pub n_windows: usize,
    pub profiles: ProfileScores,
    /// Each category with a labelled window alone (its own threshold, normalised over its
    /// own windows, as nab_score.py --only-category scores it).
    pub categories: BTreeMap<String, CorpusReport>,
}

struct Scored {
    name: String,
    timestamps: Vec<f64>,
    scores: Vec<f64>,
}

fn corpus(labels: &LabelSet, files: &[Scored], profiles: &[Profile]) -> Result<CorpusReport> {
    let inputs: Vec<FileScores<'_>> = files
        .iter()
        .filter(|f| labels.windows(&f.name).is_some())
        .map(|f| FileScores {
            name: &f.name,
            timestamps: &f.timestamps,
            scores: &f.scores,
        })
        .collect();
    let scores = profiles
        .iter()
        .map(|p| {
            score_corpus(labels, &inputs, &p.costs)
                .map(|s| (p.name.clone(), s))
                .with_context(|| format!("scoring profile {}", p.name))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(CorpusReport {
        n_files: labels.n_files(),
        n_windows: labels.n_windows(),
        profiles: ProfileScores(scores),
    })
}

pub fn eval_nab(args: &NabArgs) -> Result<NabReport> {
    eval_nab_with(args, &engine_config(args.params.as_deref())?)
}

/// [`eval_nab`] with the engine configuration already read (`args.params` is not read).
fn eval_nab_with(args: &NabArgs, config: &EngineConfig) -> Result<NabReport> {
    let dir = NabDir::open(&args.data)?;
    let mut labels = dir.labels()?;
    if let Some(cat) = &args.only_category {
        labels = labels.only_category(cat);
        if labels.n_files() == 0 {
            bail!("no labelled file in category {cat}");
        }
    }
    let profiles = dir.profiles()?;
    let names: Vec<String> = labels.files().map(|(n, _)| n.to_owned()).collect();
    let scored = parallel_map(&names, |name| -> Result<Scored> {
        let data_path = dir.data_file(name);
        let series = read_series(&data_path)?;
        let scores = match (&args.results, &args.detector) {
            (Some(results), Some(det)) => {
                let path = results_file(results, det, name)?;
                let scores = read_scores(&path)?;
                if scores.len() != series.values.len() {
                    bail!(
                        "{}: {} anomaly scores, but {} has {} rows",
                        path.display(),
                        scores.len(),
                        data_path.display(),
                        series.values.len()
                    );
                }
                scores
            }
            _ => score_series(config, &series.timestamps, &series.values)
                .with_context(|| format!("engine failed on {}", data_path.display()))?,
        };
        Ok(Scored {
            name: name.clone(),
            timestamps: series.timestamps,
            scores,
        })
    })
    .into_iter()
    .collect::<Result<Vec<_>>>()?;

    let all = corpus(&labels, &scored, &profiles)?;
    let mut categories = BTreeMap::new();
    for cat in names
        .iter()
        .filter_map(|n| n.split_once('/').map(|(c, _)| c))
    {
        if categories.contains_key(cat) {
            continue;
        }
        let only = labels.only_category(cat);
        if only.n_windows() > 0 {
            let report =
                corpus(&only, &scored, &profiles).with_context(|| format!("scoring {cat}"))?;
            categories.insert(cat.to_owned(), report);
        }
    }
    let from_results = args.results.is_some();
    Ok(NabReport {
        detector: args.detector.clone().unwrap_or_else(|| "iops".to_owned()),
        source: if from_results { "results" } else { "engine" },
        engine_config: (!from_results).then_some(config.clone()),
        only_category: args.only_category.clone(),
        n_files: all.n_files,
        n_windows: all.n_windows,
        profiles: all.profiles,
        categories,
    })
}

/// Every corpus's report and, per profile, the mean of the corpora's scores.
#[derive(Debug, Serialize)]
pub struct CorporaReport {
    pub engine_config: EngineConfig,
    pub corpora: BTreeMap<String, NabReport>,
    pub mean: BTreeMap<String, f64>,
}

impl CorporaReport {
    /// One line per corpus, its categories indented under it, then the mean.
    pub fn table(&self) -> String {
        // the profiles in the order of the corpora's profiles.json
        let names: Vec<&String> = self
            .corpora
            .values()
            .next()
            .map(|r| r.profiles.0.iter().map(|(n, _)| n).collect())
            .unwrap_or_default();
        let mut out = format!(
            "{:<40} {:>5} {:>7}",
            "corpus / category", "files", "windows"
        );
        for n in &names {
            let _ = write!(out, " {n:>20}");
        }
        out.push('\n');
        let row =
            |out: &mut String, label: &str, files: usize, windows: usize, p: &ProfileScores| {
                let _ = write!(out, "{label:<40} {files:>5} {windows:>7}");
                for n in &names {
                    let score =
                        p.0.iter()
                            .find(|(name, _)| name == *n)
                            .map(|(_, s)| s.normalized);
                    let _ = write!(
                        out,
                        " {:>20}",
                        score.map_or("-".into(), |s| format!("{s:.2}"))
                    );
                }
                out.push('\n');
            };
        for (name, r) in &self.corpora {
            row(&mut out, name, r.n_files, r.n_windows, &r.profiles);
            for (cat, c) in &r.categories {
                row(
                    &mut out,
                    &format!("  {cat}"),
                    c.n_files,
                    c.n_windows,
                    &c.profiles,
                );
            }
        }
        let _ = write!(out, "{:<40} {:>5} {:>7}", "mean over corpora", "", "");
        for n in &names {
            let mean = self.mean.get(*n).map_or("-".into(), |m| format!("{m:.2}"));
            let _ = write!(out, " {mean:>20}");
        }
        out.push('\n');
        out
    }
}

/// The name a corpus directory is reported under: its last path component.
fn corpus_name(dir: &Path) -> Result<String> {
    let canonical = dir
        .canonicalize()
        .with_context(|| format!("no corpus directory {}", dir.display()))?;
    canonical
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .with_context(|| format!("{} has no name to report it under", dir.display()))
}

/// The default configuration, or the one of a JSON file of engine parameters.
fn engine_config(params: Option<&Path>) -> Result<EngineConfig> {
    let Some(path) = params else {
        return Ok(EngineConfig::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read engine parameters {}", path.display()))?;
    let params: EngineParams = serde_json::from_str(&text)
        .with_context(|| format!("{}: not engine parameters", path.display()))?;
    params
        .check()
        .with_context(|| format!("{}: invalid engine parameters", path.display()))
}

pub fn eval_corpora(dirs: &[PathBuf], params: Option<&Path>) -> Result<CorporaReport> {
    let engine_config = engine_config(params)?;
    // (names first: a clash is an error before any corpus is scored)
    let names = dirs
        .iter()
        .map(|d| corpus_name(d))
        .collect::<Result<Vec<_>>>()?;
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            bail!("two corpora are named {name}: give directories with different names");
        }
    }
    let mut corpora = BTreeMap::new();
    for (dir, name) in dirs.iter().zip(names) {
        let args = NabArgs {
            data: dir.clone(),
            results: None,
            detector: None,
            only_category: None,
            params: None,
        };
        let report = eval_nab_with(&args, &engine_config)
            .with_context(|| format!("corpus {}", dir.display()))?;
        corpora.insert(name, report);
    }
    let mut sums: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    for r in corpora.values() {
        for (profile, score) in &r.profiles.0 {
            let e = sums.entry(profile.clone()).or_default();
            e.0 += score.normalized;
            e.1 += 1;
        }
    }
    let mean = sums
        .into_iter()
        .filter(|(_, (_, n))| *n == corpora.len())
        .map(|(p, (sum, n))| (p, sum / n as f64))
        .collect();
    Ok(CorporaReport {
        engine_config,
        corpora,
        mean,
    })
}
