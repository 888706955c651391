//! Streams the bench's host through the engine once, for a profiler: warm a host on a week,
//! then [`stream_host`] the rest (N samples, default 18,000). Instructions per sample:
//!
//! ```text
//! cargo build --profile bench -p iops-benches --example stream_profile
//! valgrind --tool=callgrind --toggle-collect='*stream_host*' \
//!     target/release/examples/stream_profile 18000
//! ```
//!
//! then divide the total (`callgrind_annotate`) by N.

use iops_benches::{day_shaped_host, stream_host, warm_host, WARM_SAMPLES};
use iops_core::engine::{Assessment, EngineConfig};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("N: a number of samples"))
        .unwrap_or(18_000);
    let config = EngineConfig::default();
    let stream = day_shaped_host("bench-1", WARM_SAMPLES + n, 0x1057_5eed);
    let (mut state, rest) = warm_host(&config, None, &stream);
    let mut out = Assessment::default();
    stream_host(&mut state, &config, None, rest, &mut out);
    println!(
        "{} samples streamed, last score {:.4}",
        rest.len(),
        out.score
    );
}
