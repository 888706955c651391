//! Detection quality gate: the engine's default configuration on the NAB files in
//! `../shared/data/nab` (or `$IOPS_SHARED/data/nab`) must keep the figures issue 2 asks for:
//! standard profile >= 62 (above AWS Random Cut Forest's 61.4 on the CloudWatch files) and
//! low-FP >= 50. One configuration for every file, scored causally by `iops eval nab`.
//! Without the data the test fails in CI and is skipped (with a notice) elsewhere.

use std::path::PathBuf;
use std::process::Command;

fn nab_dir() -> Option<PathBuf> {
    let shared = std::env::var_os("IOPS_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let nab = shared.join("data/nab");
    if nab.join("labels/combined_windows.json").is_file() {
        return Some(nab);
    }
    let why = format!("no NAB data at {} (set IOPS_SHARED)", nab.display());
    assert!(std::env::var_os("CI").is_none(), "{why}");
    eprintln!("nab_quality skipped: {why}");
    None
}

#[test]
fn default_engine_beats_the_issue_figures_on_nab() {
    let Some(nab) = nab_dir() else { return };
    let out = Command::new(env!("CARGO_BIN_EXE_iops"))
        .args(["eval", "nab", "--data"])
        .arg(&nab)
        .output()
        .expect("iops runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let score = |profile: &str| {
        report["profiles"][profile]["score"]
            .as_f64()
            .expect("score")
    };
    let (standard, low_fp, low_fn) = (
        score("standard"),
        score("reward_low_FP_rate"),
        score("reward_low_FN_rate"),
    );
    let aws = report["realAWSCloudwatch"]["profiles"]["standard"]["score"]
        .as_f64()
        .expect("realAWSCloudwatch score");
    eprintln!("NAB standard {standard:.2}, low-FP {low_fp:.2}, low-FN {low_fn:.2}, realAWSCloudwatch {aws:.2}");
    assert!(standard >= 62.0, "standard profile {standard:.2} < 62");
    assert!(low_fp >= 50.0, "low-FP profile {low_fp:.2} < 50");
    assert!(
        aws > 61.4,
        "realAWSCloudwatch {aws:.2} does not beat Random Cut Forest (61.4)"
    );
}
