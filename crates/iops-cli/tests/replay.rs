//! `iops replay` on the database a demo run wrote: the same parameters over the whole history
//! raise the stored incidents again; a higher info cut-off drops some (and says which);
//! a bad argument is refused naming it. `iops export-labels` prints the verdicts kept there.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn iops(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_iops"))
        .args(args)
        .output()
        .expect("iops runs")
}

fn replay(db: &Path, extra: &[&str]) -> Value {
    let db = db.to_str().unwrap();
    let mut args = vec!["replay", "--db", db, "--since", "400d", "--warm", "0s"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--format", "json"]);
    let out = iops(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

#[test]
fn replay_reproduces_a_demo_run_and_shows_what_other_parameters_change() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let out = iops(&[
        "demo",
        "--fast",
        "--no-forest",
        "--seed",
        "2",
        "--db",
        db.to_str().unwrap(),
        "--duration",
        "15s",
        "--addr",
        "127.0.0.1:0",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("samples processed: 23040"), "{stdout}");

    let same = replay(&db, &[]);
    let total = &same["total"];
    assert!(total["stored"].as_u64().unwrap() >= 10, "{same}");
    assert_eq!(total["replayed"], total["stored"], "{same}");
    assert_eq!(total["kept"], total["stored"], "{same}");
    assert_eq!(
        (&total["gone"], &total["new"]),
        (&0.into(), &0.into()),
        "{same}"
    );
    assert_eq!(same["samples"], 23040);

    let params = dir.path().join("params.json");
    std::fs::write(&params, r#"{"info_score":0.45,"warning_score":0.5}"#).unwrap();
    let duller = replay(&db, &["--params", params.to_str().unwrap()]);
    let total = &duller["total"];
    assert!(total["gone"].as_u64().unwrap() >= 1, "{duller}");
    assert_eq!(total["new"], 0, "{duller}");
    for host in duller["hosts"].as_array().unwrap() {
        for gone in host["gone"].as_array().unwrap() {
            assert!(gone["incidentId"].is_string(), "{gone}");
        }
    }

    // a verdict kept in the database is exported as a JSON line
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let incident = runtime.block_on(async {
        use iops_store::{IncidentQuery, IncidentStore, LabelStore};
        let store = iops_store::SqliteStore::open(&db).unwrap();
        let all = IncidentQuery {
            status: None,
            hostname: None,
            since: None,
            limit: 1,
        };
        let incident = store.list_incidents(&all).await.unwrap().remove(0);
        let label = iops_core::Label::new(
            &incident,
            iops_core::Verdict::Expected,
            "nightly job".into(),
            incident.updated,
        );
        store.put_label(&label).await.unwrap();
        incident
    });
    let out = iops(&["export-labels", "--db", db.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["incidentId"], incident.incident_id.as_str());
    assert_eq!(lines[0]["verdict"], "expected");
    assert_eq!(lines[0]["note"], "nightly job");

    let bad = iops(&["replay", "--db", db.to_str().unwrap(), "--since", "soon"]);
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("--since") && stderr.contains("since"),
        "{stderr}"
    );
}
