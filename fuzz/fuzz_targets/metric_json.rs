//! `MetricSample::from_json` on arbitrary bytes: it never panics, every error names a field,
//! and whatever it accepts is valid and survives `to_json` → `from_json` unchanged.
//!
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run metric_json fuzz/seeds/metric_json` (from the repo root
//! use `make fuzz-smoke`).
#![no_main]

use iops_core::{Error, MetricSample};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match MetricSample::from_json(data) {
        Ok(sample) => {
            if let Err(e) = sample.validate() {
                panic!("accepted an invalid sample {sample:?}: {e}");
            }
            let json = sample.to_json();
            match MetricSample::from_json(json.as_bytes()) {
                Ok(again) => assert_eq!(again, sample, "round trip changed the sample: {json}"),
                Err(e) => panic!("cannot re-read our own output {json}: {e}"),
            }
            // Serialising is stable: the canonical text is a fixed point.
            let again = MetricSample::from_json(json.as_bytes()).map(|s| s.to_json());
            assert_eq!(again.as_deref(), Ok(json.as_str()));
        }
        Err(Error::InvalidField { field, reason }) => {
            assert!(!field.is_empty() && !reason.is_empty());
        }
        Err(other) => panic!("from_json must only return InvalidField, got {other:?}"),
    }
});
