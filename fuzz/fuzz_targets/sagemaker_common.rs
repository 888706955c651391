//! Shared by the `sagemaker_*` targets: decode a body against a 4-feature model (and against
//! an unknown width, as training does) and check what comes out.

use iops_sagemaker::decode::{decode, Rows, Schema};
use iops_sagemaker::media::Format;
use iops_sagemaker::Error;

const NAMES: [&str; 4] = ["cpuUsage", "memoryUsage", "diskIO", "networkIO"];

/// Never panics; accepted rows are `width` wide (the model's, or the first row's when
/// unknown), at least one, all finite; a refusal is a 400 with a message. Accepted rows,
/// written back as plain CSV and as a JSON array of rows, decode to the same values.
pub fn check(data: &[u8], format: Format) {
    let names: Vec<String> = NAMES.map(String::from).to_vec();
    for width in [Some(4), None] {
        let schema = Schema {
            names: &names,
            n_features: width,
        };
        match decode(data, format, schema) {
            Ok(rows) => {
                assert!(rows.n_cols > 0, "zero-width rows from {data:?}");
                if let Some(w) = width {
                    assert_eq!(rows.n_cols, w, "rows of the wrong width");
                }
                assert!(rows.n_rows() >= 1, "accepted a body without rows");
                assert_eq!(rows.values.len(), rows.n_rows() * rows.n_cols, "ragged rows");
                assert!(
                    rows.values.iter().all(|v| v.is_finite()),
                    "non-finite value accepted: {rows:?}"
                );
                round_trip(&rows, &names, width);
            }
            Err(e @ (Error::BadRequest(_) | Error::Body(_))) => {
                assert_eq!(e.status(), 400);
                assert!(!e.to_string().is_empty());
            }
            Err(other) => panic!("a decoder error must be a 400, got {other:?}"),
        }
    }
}

fn round_trip(rows: &Rows, names: &[String], width: Option<usize>) {
    let schema = Schema {
        names,
        n_features: width,
    };
    let lines: Vec<String> = rows
        .values
        .chunks_exact(rows.n_cols)
        .map(|r| r.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(","))
        .collect();
    let csv = lines.join("\n");
    match decode(csv.as_bytes(), Format::Csv, schema) {
        Ok(again) => assert_eq!(&again, rows, "CSV round trip of {csv:?}"),
        Err(e) => panic!("cannot re-read {csv:?} as CSV: {e}"),
    }
    let json = format!("[[{}]]", lines.join("],["));
    match decode(json.as_bytes(), Format::Json, schema) {
        Ok(again) => assert_eq!(&again, rows, "JSON round trip of {json:?}"),
        Err(e) => panic!("cannot re-read {json:?} as JSON: {e}"),
    }
}
