//! Cross-check: `iops eval nab` (Rust NAB rules) agrees with the independent Python scorer
//! `shared/bench/nab_score.py` to 4 decimals, on the engine's own output and on a second,
//! synthetic detector whose scores exercise thresholds, true and false positives.
//!
//! Needs Python with numpy and pandas: `$IOPS_PYTHON`, else `<repo>/.venv/bin/python`.
//! Without it the test fails when `CI` is set, and is skipped (with a notice) otherwise.
//! The shared directory is `$IOPS_SHARED`, else `<repo>/../shared`.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use iops_eval::nab::{parse_timestamp, window_rows, LabelSet};

const CLOUDWATCH: &str = "realAWSCloudwatch";
const PROFILES: [&str; 3] = ["standard", "reward_low_FP_rate", "reward_low_FN_rate"];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Skips (returns None) or fails, depending on whether we run in CI.
fn unavailable(why: &str) -> Option<PathBuf> {
    if std::env::var_os("CI").is_some() {
        panic!("nab_crosscheck cannot run in CI: {why}");
    }
    eprintln!("notice: skipping the NAB cross-check: {why}");
    None
}

fn shared_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("IOPS_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared"));
    if dir.join("bench/nab_score.py").is_file() && dir.join("data/nab/labels").is_dir() {
        Some(dir)
    } else {
        unavailable(&format!(
            "{} has no bench/nab_score.py and data/nab (set IOPS_SHARED)",
            dir.display()
        ))
    }
}

fn python() -> Option<PathBuf> {
    let py = std::env::var_os("IOPS_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/bin/python"));
    let ok = Command::new(&py)
        .args(["-c", "import numpy, pandas"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        Some(py)
    } else {
        unavailable(&format!(
            "no Python with numpy and pandas at {} (set IOPS_PYTHON)",
            py.display()
        ))
    }
}

/// A small deterministic generator (64-bit LCG, high bits).
struct Lcg(u64);

impl Lcg {
    fn next_f64(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Writes results for detector `other`: noise quantised to 0.01 (many ties), high scores at
/// varying depths inside most windows (some missed), and high false alarms outside windows
/// (some in the probation period), so the sweep has real choices to make.
fn write_other(nab: &Path, results: &Path) {
    let labels =
        LabelSet::parse(&fs::read_to_string(nab.join("labels/combined_windows.json")).unwrap())
            .unwrap();
    let mut rng = Lcg(0x1005_2026);
    for (rel, windows) in labels.files() {
        let text = fs::read_to_string(nab.join("data").join(rel)).unwrap();
        let mut lines = text.lines();
        let header = lines.next().unwrap();
        assert!(header.starts_with("timestamp"), "{rel}: {header}");
        let rows: Vec<(&str, &str)> = lines
            .map(|l| l.split_once(',').expect("timestamp,value row"))
            .collect();
        let ts: Vec<f64> = rows
            .iter()
            .map(|(t, _)| parse_timestamp(t).unwrap())
            .collect();
        let n = ts.len();
        let mut scores: Vec<f64> = (0..n)
            .map(|_| (rng.next_f64() * 80.0).floor() / 100.0)
            .collect();
        for (a, b) in window_rows(rel, &ts, windows).unwrap() {
            let r = rng.next_f64();
            if r < 0.8 {
                let at = a + ((b - a) as f64 * rng.next_f64() * 0.9) as usize;
                scores[at] = 0.8 + (rng.next_f64() * 20.0).floor() / 100.0;
            }
        }
        for _ in 0..10 {
            let at = (rng.next_f64() * n as f64) as usize % n;
            scores[at] = scores[at].max(0.8 + (rng.next_f64() * 12.0).floor() / 100.0);
        }
        let (cat, file) = rel.split_once('/').unwrap();
        let dir = results.join("other").join(cat);
        fs::create_dir_all(&dir).unwrap();
        let mut out = String::from("timestamp,value,anomaly_score\n");
        for ((t, v), s) in rows.iter().zip(&scores) {
            out.push_str(&format!("{t},{v},{s}\n"));
        }
        fs::write(dir.join(format!("other_{file}")), out).unwrap();
    }
}

#[derive(Debug, Clone, Copy)]
struct Row {
    threshold: f64,
    raw: f64,
    tp: u64,
    fp: u64,
    score: f64,
}

/// Runs nab_score.py; (detector, profile) → row of its table.
fn python_table(
    py: &Path,
    shared: &Path,
    results: &Path,
    only: Option<&str>,
) -> HashMap<(String, String), Row> {
    let mut cmd = Command::new(py);
    cmd.arg(shared.join("bench/nab_score.py"))
        .arg("--nab")
        .arg(shared.join("data/nab"))
        .arg("--results-dir")
        .arg(results)
        .args(["--detectors", "iops", "other"]);
    if let Some(cat) = only {
        cmd.args(["--only-category", cat]);
    }
    let out = cmd.output().expect("run nab_score.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "nab_score.py failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut table = HashMap::new();
    for line in stdout
        .lines()
        .skip_while(|l| !l.starts_with("detector"))
        .skip(1)
    {
        let f: Vec<&str> = line.split_whitespace().collect();
        assert!(f.len() >= 7, "unexpected line from nab_score.py: {line}");
        let num = |i: usize| {
            f[i].parse::<f64>()
                .unwrap_or_else(|e| panic!("{line}: {e}"))
        };
        table.insert(
            (f[0].to_owned(), f[1].to_owned()),
            Row {
                threshold: num(2),
                raw: num(3),
                tp: f[4].parse().unwrap(),
                fp: f[5].parse().unwrap(),
                score: num(6),
            },
        );
    }
    assert_eq!(table.len(), 2 * PROFILES.len(), "{stdout}");
    table
}

fn iops_eval(shared: &Path, results: &Path, det: &str, only: Option<&str>) -> serde_json::Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_iops"));
    cmd.args(["eval", "nab", "--data"])
        .arg(shared.join("data/nab"))
        .arg("--results")
        .arg(results)
        .args(["--detector", det]);
    if let Some(cat) = only {
        cmd.args(["--only-category", cat]);
    }
    let out = cmd.output().expect("run iops");
    assert!(
        out.status.success(),
        "iops eval nab failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON from iops eval nab")
}

fn assert_agree(
    what: &str,
    profiles: &serde_json::Value,
    py: &HashMap<(String, String), Row>,
    det: &str,
) {
    for prof in PROFILES {
        let p = &profiles[prof];
        let want = py[&(det.to_owned(), prof.to_owned())];
        let get = |k: &str| {
            p[k].as_f64()
                .unwrap_or_else(|| panic!("{what} {prof}: no {k} in {p}"))
        };
        let ctx = format!("{what}, {det}, {prof}: rust {p} vs python {want:?}");
        eprintln!("{ctx}");
        // Python prints the score and raw to 4 decimals, the threshold to 6.
        assert!(
            (get("score") - want.score).abs() <= 0.5e-4 + 1e-9,
            "score: {ctx}"
        );
        assert!((get("raw") - want.raw).abs() <= 0.5e-4 + 1e-9, "raw: {ctx}");
        assert!(
            (get("threshold") - want.threshold).abs() <= 0.5e-6 + 1e-9,
            "threshold: {ctx}"
        );
        assert_eq!(p["tp"].as_u64(), Some(want.tp), "tp: {ctx}");
        assert_eq!(p["fp"].as_u64(), Some(want.fp), "fp: {ctx}");
    }
}

#[test]
fn rust_nab_scores_match_the_python_scorer() {
    let Some(shared) = shared_dir() else { return };
    let Some(py) = python() else { return };
    let nab = shared.join("data/nab");
    let target = Path::new(env!("CARGO_BIN_EXE_iops"))
        .parent()
        .unwrap()
        .to_path_buf();
    let tmp = tempfile::Builder::new()
        .prefix("nab-crosscheck")
        .tempdir_in(target)
        .unwrap();
    let results = tmp.path();

    // (a) the engine's own scores, through `iops detect --format nab`
    let out = Command::new(env!("CARGO_BIN_EXE_iops"))
        .args(["detect", "--format", "nab", "--data"])
        .arg(&nab)
        .arg("--out")
        .arg(results)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // (b) a second detector with non-trivial scores
    write_other(&nab, results);

    let py_all = python_table(&py, &shared, results, None);
    let py_cw = python_table(&py, &shared, results, Some(CLOUDWATCH));

    // the synthetic detector really exercises thresholds, TPs and FPs
    let other_std = py_all[&("other".to_owned(), "standard".to_owned())];
    assert!(
        other_std.threshold < 1.1 && other_std.tp > 0 && other_std.fp > 0,
        "{other_std:?}"
    );
    let thresholds: Vec<f64> = PROFILES
        .iter()
        .map(|p| py_all[&("other".to_owned(), (*p).to_owned())].threshold)
        .collect();
    assert!(
        thresholds.iter().any(|&t| t != thresholds[0]),
        "profiles should pick different thresholds: {thresholds:?}"
    );

    for det in ["iops", "other"] {
        let all = iops_eval(&shared, results, det, None);
        assert_agree("whole corpus", &all["profiles"], &py_all, det);
        assert_agree(
            "realAWSCloudwatch section",
            &all["categories"][CLOUDWATCH]["profiles"],
            &py_cw,
            det,
        );
        let cw = iops_eval(&shared, results, det, Some(CLOUDWATCH));
        assert_agree(
            "--only-category realAWSCloudwatch",
            &cw["profiles"],
            &py_cw,
            det,
        );
        assert_eq!(cw["n_windows"], all["categories"][CLOUDWATCH]["n_windows"]);
    }
}
