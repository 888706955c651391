//! Timestamp parsing on arbitrary text and numbers: never panics; an accepted RFC 3339 string
//! prints back to a canonical form that parses to the same instant and prints identically.
//!
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run timestamp_parse fuzz/seeds/timestamp_parse`.
#![no_main]

use iops_core::Timestamp;
use libfuzzer_sys::fuzz_target;

fn check(t: Timestamp) {
    let text = t.to_string();
    assert!(text.ends_with('Z'), "not UTC: {text}");
    match Timestamp::parse_rfc3339(&text) {
        Ok(back) => {
            assert_eq!(back, t, "{text}");
            assert_eq!(back.to_string(), text);
        }
        Err(e) => panic!("cannot re-read our own output {text}: {e}"),
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(t) = Timestamp::parse_rfc3339(text) {
            check(t);
        }
        // The JSON path: a string or a number, as a `timestamp` field would hold.
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
            if let Ok(t) = Timestamp::from_json_value(&value) {
                check(t);
            }
        }
    }
    if let Ok(bytes) = <[u8; 8]>::try_from(data.get(..8).unwrap_or_default()) {
        if let Ok(t) = Timestamp::from_epoch_seconds(f64::from_le_bytes(bytes)) {
            check(t);
        }
    }
});
