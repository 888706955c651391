//! # iops-eval
//!
//! How well iops detects, kept out of the runtime library: NAB's scoring rules ([`nab`]) and
//! ROC metrics ([`roc`]) without I/O, and the harness that reads NAB-layout corpora
//! ([`nab_dir`]), runs the engine over them ([`corpus`]) and fits forests on labelled
//! tables ([`tabular`]). `iops eval`, `iops detect`, the Python package and the CI quality
//! gate use it.
#![warn(missing_docs)]

pub mod corpus;
pub mod nab;
pub mod nab_dir;
pub mod roc;
pub mod tabular;
