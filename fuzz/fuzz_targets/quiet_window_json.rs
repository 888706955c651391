//! `QuietWindow::from_request` on arbitrary bytes, as a maintenance window and as a mute: it
//! never panics, a refusal is an `InvalidField` naming a field, and an accepted window ends
//! after it starts, at most the limit later, covers its host at its start and not at its end.
//!
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run quiet_window_json` (from the repo root use
//! `make fuzz-smoke`).
#![no_main]

use iops_core::{Error, QuietKind, QuietWindow, Timestamp};
use libfuzzer_sys::fuzz_target;

const MAX_SECONDS: f64 = 7.0 * 86_400.0;

fuzz_target!(|data: &[u8]| {
    let now = Timestamp::from_epoch_seconds(1_795_712_400.0).expect("a valid time");
    for kind in [QuietKind::Maintenance, QuietKind::Mute] {
        match QuietWindow::from_request(kind, data, now, MAX_SECONDS) {
            Ok(w) => {
                let length = w.end.epoch_seconds() - w.start.epoch_seconds();
                assert!(length > 0.0 && length <= MAX_SECONDS, "{w:?}");
                assert_eq!(w.kind, kind);
                assert!(kind == QuietKind::Mute || w.insight_type.is_none());
                let host = if w.hostname == "*" { "any-host" } else { &w.hostname };
                assert!(w.covers(host, w.start) && !w.covers(host, w.end), "{w:?}");
                let json = serde_json::to_string(&w).expect("serialises");
                let back: QuietWindow = serde_json::from_str(&json).expect("round-trips");
                assert_eq!(back, w);
            }
            Err(Error::InvalidField { field, reason }) => {
                assert!(!field.is_empty() && !reason.is_empty());
            }
            Err(other) => panic!("from_request must only return InvalidField, got {other:?}"),
        }
    }
});
