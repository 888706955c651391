//! Detection quality gate: the engine's default configuration, scored causally by
//! `iops eval corpora`, on all of NAB (`nab-full`) and the two operations corpora in
//! `../shared/data` (or `$IOPS_SHARED/data`). Each floor is the figure the engine reached
//! when it was set, less half a point, so a regression fails CI (docs/performance.md has
//! the figures and how to reproduce them). One configuration for every file.
//! Without the data the test fails in CI and is skipped (with a notice) elsewhere.

use std::path::PathBuf;
use std::process::Command;

/// Corpus, category (None: the whole corpus), profile, floor.
const FLOORS: &[(&str, Option<&str>, &str, f64)] = &[
    // the level's comparison with a day ago (engine/level.rs) traded 0.56 of NAB's standard
    // (one window of Twitter_volume_AMZN that scored 0.338 against a threshold of 0.326) and
    // 0.66 of its low-FN for +0.28 on NAB's low-FP, +0.32 and +0.92 on ms-cloud's standard
    // and low-FP, and 27 -> 8 false incidents in the demo (docs/performance.md)
    ("nab-full", None, "standard", 66.8),
    ("nab-full", None, "reward_low_FP_rate", 57.6),
    ("nab-full", None, "reward_low_FN_rate", 72.5),
    // issue 13: realAWSCloudwatch not below the 28-file engine's 64.57. One alarm per
    // episode (engine/episode.rs) traded 1.45 of it (68.01 -> 66.56: its own threshold falls
    // below escalations the gate now damps) for +1.5 on all of NAB and +3.1 on NAB's low-FP
    // (docs/performance.md): the floor moved down with it, from 67.5 (66.74 since: 66.2)
    ("nab-full", Some("realAWSCloudwatch"), "standard", 66.2),
    ("ms-cloud-monitoring", None, "standard", 61.5),
    ("ms-cloud-monitoring", None, "reward_low_FP_rate", 51.4),
    ("ms-cloud-monitoring", None, "reward_low_FN_rate", 68.1),
    ("smd", None, "standard", 72.2),
    ("smd", None, "reward_low_FP_rate", 63.9),
    ("smd", None, "reward_low_FN_rate", 78.2),
];

fn shared_data() -> Option<PathBuf> {
    let shared = std::env::var_os("IOPS_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let data = shared.join("data");
    let corpora = [
        data.join("nab-full"),
        data.join("ops/ms-cloud-monitoring"),
        data.join("ops/smd"),
    ];
    if corpora
        .iter()
        .all(|c| c.join("labels/combined_windows.json").is_file())
    {
        return Some(data);
    }
    let why = format!(
        "no NAB or ops corpora under {} (set IOPS_SHARED)",
        data.display()
    );
    assert!(std::env::var_os("CI").is_none(), "{why}");
    eprintln!("nab_quality skipped: {why}");
    None
}

#[test]
fn default_engine_keeps_its_figures_on_nab_and_the_ops_corpora() {
    let Some(data) = shared_data() else { return };
    let out = Command::new(env!("CARGO_BIN_EXE_iops"))
        .args(["eval", "corpora"])
        .arg(data.join("nab-full"))
        .arg(data.join("ops/ms-cloud-monitoring"))
        .arg(data.join("ops/smd"))
        .output()
        .expect("iops runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let mut failed = Vec::new();
    for &(corpus, category, profile, floor) in FLOORS {
        let c = &report["corpora"][corpus];
        let scores = match category {
            Some(cat) => &c["categories"][cat]["profiles"],
            None => &c["profiles"],
        };
        let got = scores[profile]["score"]
            .as_f64()
            .unwrap_or_else(|| panic!("no {profile} score for {corpus} {category:?}"));
        let what = format!("{corpus} {} {profile}", category.unwrap_or("(all)"));
        eprintln!("{what}: {got:.2} (floor {floor})");
        if got < floor {
            failed.push(format!("{what}: {got:.2} < {floor}"));
        }
    }
    assert!(failed.is_empty(), "below the floors: {failed:#?}");
}
