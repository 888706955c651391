//! Scoring the engine (or a detector's saved results) on directories in NAB layout: one
//! corpus whole and per category, or several corpora with the mean over them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use iops_core::engine::{score_series, EngineConfig, EngineParams};
use rayon::prelude::*;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use crate::nab::{score_corpus, FileScores, LabelSet, NabScore, Profile};
use crate::nab_dir::{read_scores, read_series, results_file, NabDir};

/// What to score on one corpus.
#[derive(Debug, Clone, Default)]
pub struct NabInput {
    /// The corpus: DIR/data/<category>/<file>.csv, DIR/labels/combined_windows.json,
    /// DIR/config/profiles.json.
    pub data: PathBuf,
    /// Saved results RESULTS/<detector>/<category>/<detector>_<file>.csv to score instead of
    /// running the engine (with `detector`).
    pub results: Option<PathBuf>,
    /// The detector name of the saved results.
    pub detector: Option<String>,
    /// Only this category (threshold re-optimised on it, normalised over its windows).
    pub only_category: Option<String>,
}

/// Profile name → score, in the order of profiles.json.
#[derive(Debug)]
pub struct ProfileScores(pub Vec<(String, NabScore)>);

impl Serialize for ProfileScores {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, score) in &self.0 {
            map.serialize_entry(name, score)?;
        }
        map.end()
    }
}

/// A corpus (or one category of it) scored under every profile.
#[derive(Debug, Serialize)]
pub struct CorpusReport {
    /// Labelled files.
    pub n_files: usize,
    /// Labelled windows.
    pub n_windows: usize,
    /// The score under each profile.
    pub profiles: ProfileScores,
}

/// One corpus scored: whole, and each category alone.
#[derive(Debug, Serialize)]
pub struct NabReport {
    /// The detector scored (`iops` for the engine).
    pub detector: String,
    /// `engine` (scored now) or `results` (read from --results).
    pub source: &'static str,
    /// The engine configuration used (null with --results).
    pub engine_config: Option<EngineConfig>,
    /// The one category scored, if restricted.
    pub only_category: Option<String>,
    /// Labelled files.
    pub n_files: usize,
    /// Labelled windows.
    pub n_windows: usize,
    /// The score under each profile.
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

/// Scores one corpus: the engine's scores with `config`, or a detector's saved results.
pub fn eval_nab(args: &NabInput, config: &EngineConfig) -> Result<NabReport> {
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
    let scored = names
        .par_iter()
        .map(|name| -> Result<Scored> {
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
    /// The engine configuration used.
    pub engine_config: EngineConfig,
    /// Each corpus, by name.
    pub corpora: BTreeMap<String, NabReport>,
    /// Profile → mean normalised score over the corpora.
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
pub fn engine_config(params: Option<&Path>) -> Result<EngineConfig> {
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

/// Scores the engine on every corpus (named by its directory's last component) and averages
/// each profile over them.
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
        let args = NabInput {
            data: dir.clone(),
            ..NabInput::default()
        };
        let report =
            eval_nab(&args, &engine_config).with_context(|| format!("corpus {}", dir.display()))?;
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
