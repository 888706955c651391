//! The NAB score of the engine when each file's samples arrive out of order, through the
//! ingest service's reorder policy (crates/iops-service, `ServiceConfig::reorder_window`):
//! a sample newer than the newest learned one, or late by at most the window of event time,
//! is scored and learned; an older one is scored on a copy of the state, not learned.
//!
//! Each sample is displaced by up to `k` positions (sorted by position plus a seeded offset
//! in [0, k]); its score goes back to its own row, so NAB scores what the detector said
//! about each sample, whenever it arrived.
//!
//! Run: `cargo run --release -p iops-examples --example nab_jitter -- [NAB_DIR]`
//! (default ../shared/data/nab-full, as `make eval`).

use std::error::Error;
use std::path::{Path, PathBuf};
use std::time::Duration;

use iops_core::engine::{EngineConfig, SeriesScorer};
use iops_eval::nab::{parse_profiles, parse_timestamp, score_corpus, FileScores, LabelSet};
use iops_service::host_reorder_window;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

/// The service's default reorder window: 10 minutes of event time.
const DEFAULT_WINDOW_SECS: f64 = 600.0;

/// One data file's timestamps (epoch seconds) and values.
fn read_series(path: &Path) -> Result<(Vec<f64>, Vec<f64>), Box<dyn Error>> {
    let text = std::fs::read_to_string(path)?;
    let (mut ts, mut xs) = (Vec::new(), Vec::new());
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let (t, x) = line
            .split_once(',')
            .ok_or_else(|| format!("{}: no comma in {line:?}", path.display()))?;
        ts.push(parse_timestamp(t.trim())?);
        xs.push(x.trim().parse::<f64>()?);
    }
    Ok((ts, xs))
}

/// Delivery order with each sample displaced by at most `k` positions.
fn shuffled(n: usize, k: usize, seed: u64) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut keyed: Vec<(f64, usize)> = (0..n)
        .map(|i| {
            let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            (i as f64 + u * k as f64, i)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
    keyed.into_iter().map(|(_, i)| i).collect()
}

/// Scores, per row, of delivering the series in `order` through the reorder policy; and
/// how many samples were learned late and how many were scored without being learned.
fn deliver(
    config: &EngineConfig,
    ts: &[f64],
    xs: &[f64],
    order: &[usize],
    window_secs: f64,
) -> Result<(Vec<f64>, usize, usize), Box<dyn Error>> {
    let mut scorer = SeriesScorer::new(config)?;
    let mut scores = vec![0.0; xs.len()];
    let mut last: Option<f64> = None;
    let (mut late, mut unlearned) = (0, 0);
    for &i in order {
        let (t, x) = (ts[i], xs[i]);
        // the service's window for this host: at least two of its intervals
        let window = host_reorder_window(Duration::from_secs_f64(window_secs), scorer.cadence())
            .as_secs_f64();
        scores[i] = match last {
            Some(l) if t < l - window => {
                unlearned += 1;
                scorer.clone().observe(t, x)?.score
            }
            Some(l) if t <= l => {
                late += 1;
                scorer.observe(t, x)?.score
            }
            _ => {
                last = Some(t);
                scorer.observe(t, x)?.score
            }
        };
    }
    Ok((scores, late, unlearned))
}

fn main() -> Result<(), Box<dyn Error>> {
    let root = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from("../shared/data/nab-full"), PathBuf::from);
    let labels = LabelSet::parse(&std::fs::read_to_string(
        root.join("labels/combined_windows.json"),
    )?)?;
    let profiles = parse_profiles(&std::fs::read_to_string(root.join("config/profiles.json"))?)?;
    let standard = profiles
        .iter()
        .find(|p| p.name == "standard")
        .ok_or("no standard profile")?;
    let config = EngineConfig::default();
    let files: Vec<(String, Vec<f64>, Vec<f64>)> = labels
        .files()
        .map(|(name, _)| {
            let (ts, xs) = read_series(&root.join("data").join(name))?;
            Ok((name.to_owned(), ts, xs))
        })
        .collect::<Result<_, Box<dyn Error>>>()?;
    let rows: usize = files.iter().map(|f| f.1.len()).sum();
    println!("{} files, {rows} rows", files.len());
    let w = DEFAULT_WINDOW_SECS;
    // the default window, then wider ones that learn every displaced sample
    let runs = [
        (0, 0, w),
        (2, 1, w),
        (2, 2, w),
        (4, 1, w),
        (4, 2, w),
        (8, 1, w),
        (4, 1, 2.0 * w),
        (4, 2, 2.0 * w),
        (8, 1, 4.0 * w),
    ];
    for (k, seed, window) in runs {
        let (mut late, mut unlearned) = (0, 0);
        let mut scored = Vec::new();
        for (_, ts, xs) in &files {
            let (s, l, u) = deliver(&config, ts, xs, &shuffled(xs.len(), k, seed), window)?;
            scored.push(s);
            late += l;
            unlearned += u;
        }
        let inputs: Vec<FileScores<'_>> = files
            .iter()
            .zip(&scored)
            .map(|((name, ts, _), s)| FileScores {
                name,
                timestamps: ts,
                scores: s,
            })
            .collect();
        let score = score_corpus(&labels, &inputs, &standard.costs)?;
        println!(
            "displaced by up to {k} (seed {seed}), window {window} s: NAB standard {:.2}; \
             {:.1}% learned late, {:.1}% scored without learning",
            score.normalized,
            100.0 * late as f64 / rows as f64,
            100.0 * unlearned as f64 / rows as f64
        );
    }
    Ok(())
}
