//! `MetricSample::batch_from_json` on arbitrary bytes: it never panics, a refused batch and
//! every refused item name a field, and every accepted item is what `from_json` makes of it
//! alone (the batch form parses each item exactly as a single body).
//!
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run metric_batch_json` (from the repo root use
//! `make fuzz-smoke`).
#![no_main]

use iops_core::{Error, MetricSample};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match MetricSample::batch_from_json(data) {
        Ok(items) => {
            let raw: Vec<&serde_json::value::RawValue> =
                serde_json::from_slice(data).expect("accepted, so an array");
            assert_eq!(raw.len(), items.len());
            for (item, raw) in items.iter().zip(raw) {
                let alone = MetricSample::from_json(raw.get().as_bytes());
                assert_eq!(item, &alone, "item {}", raw.get());
                if let Err(e) = item {
                    assert!(matches!(e, Error::InvalidField { .. }), "{e:?}");
                }
            }
        }
        Err(Error::InvalidField { field, reason }) => {
            assert_eq!(field, "body");
            assert!(!reason.is_empty());
        }
        Err(other) => panic!("batch_from_json must only return InvalidField, got {other:?}"),
    }
});
