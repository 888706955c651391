//! `ModelArtifact::from_slice` on arbitrary bytes: it never panics; whatever it accepts scores
//! a row without error, its peer groups (format 2) answer the engine's queries, and `to_json` → `from_slice` gives back the identical model (and the
//! same text again).
//!
//! A mutated file almost never keeps a valid checksum, so each input is decoded twice: as
//! given (envelope, version and checksum checks), and, when it has a JSON `payload`, once more
//! re-signed with that payload's SHA-256 — which lets the fuzzer reach the payload and tree
//! validation behind the checksum.
//!
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run artifact_json corpus/artifact_json seeds/artifact_json`
//! from `fuzz/` (from the repo root use `make fuzz-smoke`).
#![no_main]

use iops_core::artifact::ModelArtifact;
use libfuzzer_sys::fuzz_target;
use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    payload: &'a RawValue,
}

/// `{"format_version":2,"checksum":…,"payload":…}` with the checksum of `payload` as written.
fn resign(payload: &str) -> String {
    let hex: String = Sha256::digest(payload.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(r#"{{"format_version":2,"checksum":"sha256:{hex}","payload":{payload}}}"#)
}

fn check(bytes: &[u8]) {
    let Ok(model) = ModelArtifact::from_slice(bytes) else {
        return;
    };
    // The scorer trusts the decoder's validation: a decoded model must score any finite row.
    let forest = model.forest();
    for v in [0.0, -1e300, 1e300] {
        let row = vec![v; forest.n_features()];
        match forest.score_one(&row) {
            Ok(s) => assert!(s > 0.0 && s <= 1.0, "score {s} out of (0, 1]"),
            Err(e) => panic!("decoded model cannot score {row:?}: {e}"),
        }
    }
    // Peer groups that passed the decoder's checks answer every query the engine makes.
    if let Some(peers) = model.peer_groups() {
        let first = [(0.0, [50.0; 4]), (1e300, [0.0, 100.0, 1e300, -1.0]), (-5e9, [1.0; 4])];
        if let Some(g) = peers.nearest(&first) {
            assert!(g < peers.groups().len());
        }
        for group in peers.groups() {
            for b in &group.baseline {
                for t in [0.0, 3601.0, -1e18, 1e300, f64::NAN] {
                    let (m, s) = b.expected(t);
                    assert!(m.is_finite() && s > 0.0, "{m} {s}");
                }
                for z in [0.0, 1.0, -7.5, 1e300, f64::INFINITY] {
                    assert!(b.surprise(z) >= 0.0);
                }
            }
            assert_eq!(peers.group_of(&group.hosts[0]).map(|i| &peers.groups()[i].name), Some(&group.name));
        }
    }
    let json = model.to_json().expect("a decoded model encodes");
    match ModelArtifact::from_slice(json.as_bytes()) {
        Ok(again) => {
            assert_eq!(again, model, "round trip changed the model: {json}");
            assert_eq!(again.to_json().ok().as_deref(), Some(json.as_str()));
        }
        Err(e) => panic!("cannot re-read our own output {json}: {e}"),
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if let Ok(env) = serde_json::from_slice::<Envelope<'_>>(data) {
        check(resign(env.payload.get()).as_bytes());
    }
});
