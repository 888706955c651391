//! `iops train` and `iops eval tabular` end to end: the real binary on small generated data.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use iops_core::artifact::ModelArtifact;
use iops_core::engine::HOST_FEATURES;
use iops_synth::{Fleet, FleetParams};

fn iops(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_iops"))
        .args(args)
        .output()
        .expect("run iops")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn scratch() -> tempfile::TempDir {
    let target = Path::new(env!("CARGO_BIN_EXE_iops"))
        .parent()
        .expect("binary has a directory")
        .to_path_buf();
    tempfile::Builder::new()
        .prefix("iops-train-test")
        .tempdir_in(target)
        .expect("temp dir")
}

/// Two days of an incident-free fleet of `hosts` hosts as metric JSON lines.
fn fleet_jsonl(path: &Path, hosts: usize) -> usize {
    let fleet = Fleet::new(FleetParams {
        hosts,
        interval_secs: 300,
        days: 2.0,
        seed: 5,
        incident_rate: 0.0,
        calm_days: 2.0,
        ..FleetParams::default()
    })
    .unwrap();
    let lines: Vec<String> = fleet.samples().map(|(s, _)| s.to_json()).collect();
    fs::write(path, lines.join("\n") + "\n").unwrap();
    lines.len()
}

fn load(path: &Path) -> ModelArtifact {
    ModelArtifact::from_slice(&fs::read(path).unwrap()).unwrap()
}

#[test]
fn a_host_model_trained_from_json_lines_drives_the_demo() {
    let dir = scratch();
    let (data, model) = (dir.path().join("m.jsonl"), dir.path().join("model.json"));
    let n = fleet_jsonl(&data, 3);
    let o = iops(&[
        "train",
        "--input",
        data.to_str().unwrap(),
        "--out",
        model.to_str().unwrap(),
        "--n-trees",
        "20",
        "--contamination",
        "0.01",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let m = load(&model);
    assert_eq!(m.feature_names(), HOST_FEATURES);
    assert_eq!(m.forest().n_trees(), 20);
    // every sample past each host's warm-up (a season: one day of 5-minute samples) is a
    // training row
    let warm = 288;
    assert_eq!(m.training().rows as usize, n - 3 * warm);
    // the 3 hosts' peer groups ride along, and the log names them
    let groups = m
        .peer_groups()
        .expect("3 hosts with 2 days each make peer groups");
    let members: usize = groups.groups().iter().map(|g| g.hosts.len()).sum();
    assert_eq!(members, 3);
    let log = text(&o.stderr);
    assert!(
        log.contains(&format!("peer groups: {}", groups.describe())),
        "{log}"
    );

    let o = Command::new(env!("CARGO_BIN_EXE_iops"))
        .args([
            "demo",
            "--terminal",
            "--hosts",
            "4",
            "--days",
            "8",
            "--warmup-days",
            "7",
        ])
        .args(["--model", model.to_str().unwrap()])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let out = text(&o.stdout);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        out.contains("Fleet forest: 20 trees over each host's standardised metrics, loaded from"),
        "{out}"
    );
}

#[test]
fn a_raw_model_trains_from_csv_but_the_engine_refuses_it() {
    let dir = scratch();
    let (data, model) = (dir.path().join("m.csv"), dir.path().join("raw.json"));
    let mut csv = String::from("cpuUsage,memoryUsage,diskIO,networkIO,note\n");
    for i in 0..200 {
        csv.push_str(&format!(
            "{},{},{},{},x\n",
            30 + i % 7,
            50 + i % 3,
            100 + i % 11,
            20 + i % 5
        ));
    }
    fs::write(&data, csv).unwrap();
    let args = |features: &str| {
        iops(&[
            "train",
            "--input",
            data.to_str().unwrap(),
            "--out",
            model.to_str().unwrap(),
            "--features",
            features,
            "--n-trees",
            "10",
        ])
    };
    let o = args("raw");
    assert!(o.status.success(), "{}", text(&o.stderr));
    let m = load(&model);
    assert_eq!(
        m.feature_names(),
        ["cpuUsage", "memoryUsage", "diskIO", "networkIO"]
    );
    assert_eq!(m.training().rows, 200);
    let o = iops(&[
        "demo",
        "--terminal",
        "--days",
        "8",
        "--model",
        model.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("feature_names"),
        "{}",
        text(&o.stderr)
    );

    // one host, 200 rows: not enough past the engine's warm-up for standardised features
    let o = args("host");
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("warm-up"), "{}", text(&o.stderr));
}

#[test]
fn bad_training_input_names_file_line_and_field() {
    let dir = scratch();
    let out = dir.path().join("model.json");
    let cases: [(&str, &str, &[&str]); 4] = [
        (
            "bad.csv",
            "timestamp,hostname,cpuUsage,memoryUsage,diskIO,networkIO\n1700000000,a,1,2,3,4\n1700000300,a,1,2,lots,4\n",
            &["bad.csv: line 3", "diskIO", "\"lots\""],
        ),
        (
            "range.csv",
            "cpuUsage,memoryUsage,diskIO,networkIO\n1,2,3,4\n101,2,3,4\n",
            &["range.csv: line 3", "cpuUsage"],
        ),
        (
            "bad.jsonl",
            "{\"timestamp\":1700000000,\"hostname\":\"a\",\"cpuUsage\":1,\"memoryUsage\":2,\"diskIO\":3,\"networkIO\":4}\n{\"timestamp\":1700000300,\"hostname\":\"a\",\"cpuUsage\":1,\"memoryUsage\":2,\"diskIO\":3}\n",
            &["bad.jsonl: line 2", "networkIO"],
        ),
        (
            "cols.csv",
            "cpuUsage,memoryUsage,diskIO\n1,2,3\n",
            &["cols.csv: no column networkIO"],
        ),
    ];
    for (name, body, wants) in cases {
        let data = dir.path().join(name);
        fs::write(&data, body).unwrap();
        let o = iops(&[
            "train",
            "--input",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(!o.status.success(), "{name} was accepted");
        let err = text(&o.stderr);
        for want in wants {
            assert!(err.contains(want), "{name}: {want:?} not in {err}");
        }
        assert!(!out.exists(), "{name}: a model was written");
    }
}

#[test]
fn eval_tabular_reports_auc_per_file() {
    let dir = scratch();
    // 400 inliers on a small grid, 8 far outliers: any forest separates them.
    let mut csv = String::from("label,a,b\n");
    for i in 0..400 {
        csv.push_str(&format!("0,{},{}\n", i % 20, (i / 20) % 20));
    }
    for i in 0..8 {
        csv.push_str(&format!("1,{},{}\n", 200 + 10 * i, -150 - i));
    }
    fs::write(dir.path().join("easy.csv"), csv).unwrap();
    fs::write(dir.path().join("notes.txt"), "not a table").unwrap();
    let o = iops(&[
        "eval",
        "tabular",
        "--data",
        dir.path().to_str().unwrap(),
        "--seeds",
        "0,1",
        "--n-trees",
        "50",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let files = report["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{report}");
    let f = &files[0];
    assert_eq!(f["set"], "easy");
    assert_eq!(
        (f["rows"].as_u64(), f["anomalies"].as_u64()),
        (Some(408), Some(8))
    );
    assert_eq!(f["roc_auc_per_seed"].as_array().unwrap().len(), 2);
    assert!(f["roc_auc"].as_f64().unwrap() > 0.99, "{f}");
    assert!(f["average_precision"].as_f64().unwrap() > 0.9, "{f}");

    // a label that is not 0/1 is an error naming file and line
    fs::write(dir.path().join("easy.csv"), "label,a\n0,1\n2,3\n").unwrap();
    let o = iops(&["eval", "tabular", "--data", dir.path().to_str().unwrap()]);
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(err.contains("easy.csv: row 3, column 1 (label)"), "{err}");
    fs::write(dir.path().join("easy.csv"), "label,a\n0,1\n1,inf\n").unwrap();
    let o = iops(&["eval", "tabular", "--data", dir.path().to_str().unwrap()]);
    assert!(
        text(&o.stderr).contains("easy.csv: row 3, column 2"),
        "{}",
        text(&o.stderr)
    );
}
