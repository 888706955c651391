//! The smallest useful embedding of iops: one engine, samples in the runbook's JSON shape,
//! insights out.
//!
//! Run it with:
//!
//! ```text
//! cargo run -p iops-examples --example quickstart
//! ```
//!
//! It feeds two days of a quiet host (5-minute samples), then a CPU spike, and prints what
//! the engine says about it.

use iops_core::engine::{EngineConfig, InsightEngine};
use iops_core::MetricSample;

fn main() -> Result<(), iops_core::Error> {
    // One engine holds per-host state for a whole fleet; the defaults suit 5-minute samples.
    let mut engine = InsightEngine::new(EngineConfig::default());

    let start = 1_795_712_400u64; // 2026-11-26T17:00:00Z
    for i in 0..600u64 {
        // A quiet host: CPU around 44% with a little jitter, memory steady; one sample at
        // 97% CPU near the end.
        let jitter = (i as f64 * 0.754_877_666).fract() * 8.0; // 0..8, never repeating
        let cpu = if i == 590 { 97.0 } else { 40.0 + jitter };
        let memory = 60.0 + jitter * 0.1;
        let body = format!(
            r#"{{"timestamp":{},"hostname":"web-1","cpuUsage":{cpu},"memoryUsage":{memory},"diskIO":200.5,"networkIO":150.2}}"#,
            start + i * 300
        );
        // Exactly what POST /metrics receives: parse and validate (errors name the field).
        let sample = MetricSample::from_json(body.as_bytes())?;
        let assessment = engine.process(&sample)?;
        for insight in &assessment.insights {
            println!(
                "{} {} [{}] {}",
                insight.timestamp,
                insight.severity.as_str(),
                insight.kind.as_str(),
                insight.message
            );
            // The wire record, as stored in the insights table and answered to clients.
            println!("{}", insight.to_json());
        }
    }

    // Invalid input is an error naming the field, never a panic.
    let bad = br#"{"timestamp":"2026-11-28T17:00:00Z","hostname":"web-1","cpuUsage":140,"memoryUsage":60,"diskIO":1,"networkIO":1}"#;
    if let Err(e) = MetricSample::from_json(bad) {
        println!("rejected: {e} (field {:?})", e.field());
    }
    Ok(())
}
