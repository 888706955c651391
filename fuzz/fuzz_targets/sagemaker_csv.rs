//! `iops_sagemaker::decode` on arbitrary csv request bodies (what POST /invocations gets):
//! never panics; accepted rows have the model's width (or the first row's when training) and
//! finite values, and read back identically from CSV and JSON; refusals are 400s.
//!
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run sagemaker_csv corpus/sagemaker_csv seeds/sagemaker_csv`
//! (from the repo root use `make fuzz-smoke`).
#![no_main]

use iops_sagemaker::media::Format;
use libfuzzer_sys::fuzz_target;

#[path = "sagemaker_common.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::check(data, Format::Csv));
