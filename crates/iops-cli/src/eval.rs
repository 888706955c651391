//! `iops eval nab`: the NAB score of the engine (or of a detector's saved results).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use iops_core::engine::{score_series, EngineConfig};
use iops_core::eval::nab::{score_corpus, FileScores, LabelSet, NabScore, Profile};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use crate::nab_dir::{parallel_map, read_scores, read_series, results_file, NabDir};

/// The category reported on its own next to the whole corpus.
const CLOUDWATCH: &str = "realAWSCloudwatch";

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Score a detector on the Numenta Anomaly Benchmark; prints JSON.
    Nab(NabArgs),
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
}

pub fn run(cmd: &EvalCommand) -> Result<()> {
    match cmd {
        EvalCommand::Nab(args) => {
            let report = eval_nab(args)?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
    }
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
    /// The realAWSCloudwatch files alone (null when the corpus has no window there).
    #[serde(rename = "realAWSCloudwatch")]
    pub cloudwatch: Option<CorpusReport>,
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
    let dir = NabDir::open(&args.data)?;
    let mut labels = dir.labels()?;
    if let Some(cat) = &args.only_category {
        labels = labels.only_category(cat);
        if labels.n_files() == 0 {
            bail!("no labelled file in category {cat}");
        }
    }
    let profiles = dir.profiles()?;
    let config = EngineConfig::default();
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
            _ => score_series(&config, &series.timestamps, &series.values)
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
    let cw_labels = labels.only_category(CLOUDWATCH);
    let cloudwatch = if cw_labels.n_windows() > 0 {
        Some(corpus(&cw_labels, &scored, &profiles).context("scoring realAWSCloudwatch")?)
    } else {
        None
    };
    let from_results = args.results.is_some();
    Ok(NabReport {
        detector: args.detector.clone().unwrap_or_else(|| "iops".to_owned()),
        source: if from_results { "results" } else { "engine" },
        engine_config: (!from_results).then_some(config),
        only_category: args.only_category.clone(),
        n_files: all.n_files,
        n_windows: all.n_windows,
        profiles: all.profiles,
        cloudwatch,
    })
}
