//! Error handling of the `iops` binary: clear messages, non-zero exit.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

fn iops(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_iops"))
        .args(args)
        .output()
        .expect("run iops")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn scratch() -> tempfile::TempDir {
    let target = Path::new(env!("CARGO_BIN_EXE_iops"))
        .parent()
        .expect("binary has a directory")
        .to_path_buf();
    tempfile::Builder::new()
        .prefix("iops-cli-test")
        .tempdir_in(target)
        .expect("temp dir")
}

/// A one-file NAB directory whose data file has the given rows (after the header).
fn nab_dir(root: &Path, rows: &[&str]) {
    fs::create_dir_all(root.join("data/cat")).unwrap();
    fs::create_dir_all(root.join("labels")).unwrap();
    fs::create_dir_all(root.join("config")).unwrap();
    let mut csv = String::from("timestamp,value\n");
    for r in rows {
        csv.push_str(r);
        csv.push('\n');
    }
    fs::write(root.join("data/cat/f.csv"), csv).unwrap();
    fs::write(
        root.join("labels/combined_windows.json"),
        r#"{"cat/f.csv": [["2014-02-14 14:35:00.000000", "2014-02-14 14:40:00.000000"]]}"#,
    )
    .unwrap();
    fs::write(
        root.join("config/profiles.json"),
        r#"{"standard": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11, "tnWeight": 1.0}}}"#,
    )
    .unwrap();
}

const GOOD: [&str; 4] = [
    "2014-02-14 14:30:00,1.0",
    "2014-02-14 14:35:00,2.0",
    "2014-02-14 14:40:00,3.0",
    "2014-02-14 14:45:00,4.0",
];

#[test]
fn missing_data_dir_is_a_clear_error() {
    let o = iops(&["eval", "nab", "--data", "/definitely/not/here"]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("/definitely/not/here") && err.contains("does not exist"),
        "{err}"
    );
    let o = iops(&[
        "detect",
        "--data",
        "/definitely/not/here",
        "--out",
        "/tmp/x",
        "--format",
        "nab",
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("/definitely/not/here"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn incomplete_nab_dir_names_the_missing_part() {
    let tmp = scratch();
    fs::create_dir_all(tmp.path().join("data")).unwrap();
    let o = iops(&["eval", "nab", "--data", tmp.path().to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("combined_windows.json"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn malformed_csv_rows_name_file_and_line() {
    for (bad_row, what) in [
        ("2014-02-14 14:40:00,abc", "value"),
        ("2014-02-14 14:40:00", "value"),
        ("14:40 on Friday,3.0", "timestamp"),
    ] {
        let tmp = scratch();
        let mut rows = GOOD.to_vec();
        rows[2] = bad_row; // line 4 of the file (the header is line 1)
        nab_dir(tmp.path(), &rows);
        for args in [
            vec!["eval", "nab", "--data", tmp.path().to_str().unwrap()],
            vec![
                "detect",
                "--data",
                tmp.path().to_str().unwrap(),
                "--out",
                tmp.path().join("out").to_str().unwrap(),
            ],
        ] {
            let o = iops(&args);
            assert!(!o.status.success(), "{bad_row}: {args:?}");
            let err = stderr(&o);
            assert!(err.contains("f.csv:4"), "{bad_row}: {err}");
            assert!(err.contains(what), "{bad_row}: {err}");
        }
    }
}

#[test]
fn results_must_exist_and_match_the_data() {
    let tmp = scratch();
    nab_dir(tmp.path(), &GOOD);
    let data = tmp.path().to_str().unwrap();
    let res = tmp.path().join("res");
    let o = iops(&[
        "eval",
        "nab",
        "--data",
        data,
        "--results",
        res.to_str().unwrap(),
        "--detector",
        "d",
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("d_f.csv"), "{}", stderr(&o));

    fs::create_dir_all(res.join("d/cat")).unwrap();
    fs::write(res.join("d/cat/d_f.csv"), "anomaly_score\n0.1\n0.2\n").unwrap();
    let o = iops(&[
        "eval",
        "nab",
        "--data",
        data,
        "--results",
        res.to_str().unwrap(),
        "--detector",
        "d",
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("2 anomaly scores"), "{}", stderr(&o));

    // --results without --detector is a usage error
    let o = iops(&[
        "eval",
        "nab",
        "--data",
        data,
        "--results",
        res.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
}

#[test]
fn detect_then_eval_round_trip_on_a_tiny_corpus() {
    let tmp = scratch();
    nab_dir(tmp.path(), &GOOD);
    let data = tmp.path().to_str().unwrap();
    let out = tmp.path().join("out");
    let o = iops(&[
        "detect",
        "--data",
        data,
        "--out",
        out.to_str().unwrap(),
        "--format",
        "nab",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let written = fs::read_to_string(out.join("iops/cat/iops_f.csv")).unwrap();
    let lines: Vec<&str> = written.lines().collect();
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[0], "timestamp,value,anomaly_score");
    for (line, input) in lines[1..].iter().zip(GOOD) {
        assert!(line.starts_with(&format!("{input},")), "{line} vs {input}");
    }

    // Hand-written results: the window's first row (row 1) detected alone → perfect score.
    fs::create_dir_all(out.join("d/cat")).unwrap();
    fs::write(out.join("d/cat/d_f.csv"), "anomaly_score\n0\n0.9\n0\n0\n").unwrap();
    let o = iops(&[
        "eval",
        "nab",
        "--data",
        data,
        "--results",
        out.to_str().unwrap(),
        "--detector",
        "d",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let std = &v["profiles"]["standard"];
    assert_eq!(std["threshold"], 0.9);
    assert_eq!((std["tp"].as_u64(), std["fp"].as_u64()), (Some(1), Some(0)));
    assert!((std["score"].as_f64().unwrap() - 100.0).abs() < 1e-9, "{v}");
    assert_eq!(
        (v["n_files"].as_u64(), v["n_windows"].as_u64()),
        (Some(1), Some(1))
    );
    // one category, scored alone: the same as the whole
    assert_eq!(v["categories"]["cat"]["profiles"], v["profiles"]);
    assert_eq!(v["categories"].as_object().map(|c| c.len()), Some(1));
}
