//! The operator's labels through the engine: a metric desensitised on a host no longer raises
//! the info-level surprise it raised before, but a saturated CPU is critical all the same.

use iops_core::engine::{EngineParams, HostState};
use iops_core::{Insight, Metric, MetricSample, Severity, Timestamp, DESENSITISE_MAX};

#[path = "support/noise.rs"]
mod noise;
use noise::Noise;

const START: f64 = 1_764_000_000.0;
const STEP: f64 = 300.0;
/// Where the bump goes: after three days of history.
const BUMP: usize = 900;

/// Four days of a calm host whose CPU is lifted by `lift` for one sample at [`BUMP`] and held
/// at `hold` from sample 1000 on (`None`: not held).
fn samples(lift: f64, hold: Option<f64>) -> Vec<MetricSample> {
    let mut noise = Noise(7);
    (0..1100)
        .map(|i| {
            let phase = (i % 288) as f64 / 288.0 * std::f64::consts::TAU;
            let mut cpu = 35.0 + 10.0 * phase.sin() + 2.0 * noise.next();
            if i == BUMP {
                cpu += lift;
            }
            if let (Some(h), true) = (hold, i >= 1000) {
                cpu = h;
            }
            MetricSample {
                timestamp: Timestamp::from_epoch_seconds(START + STEP * i as f64).unwrap(),
                hostname: "db-1".into(),
                cpu_usage: cpu,
                memory_usage: 55.0 + noise.next(),
                disk_io: 120.0 + 10.0 * noise.next(),
                network_io: 300.0 + 20.0 * noise.next(),
            }
        })
        .collect()
}

/// The CPU insights of the stream, with the CPU cut-offs raised by `raise` (the bump is one
/// sample: raised without waiting for a second to confirm it).
fn cpu_insights(stream: &[MetricSample], raise: f64) -> Vec<(usize, Insight)> {
    let config = EngineParams {
        confirm_seconds: 0.0,
        ..EngineParams::default()
    }
    .check()
    .unwrap();
    let mut state = HostState::new(&config).unwrap();
    state.set_desensitised([raise, 0.0, 0.0, 0.0]);
    let mut out = Vec::new();
    for (i, s) in stream.iter().enumerate() {
        for insight in state.process(&config, None, s).unwrap().insights {
            if insight.metric == Metric::Cpu {
                out.push((i, insight));
            }
        }
    }
    out
}

#[test]
fn a_desensitised_metric_stops_raising_info_but_saturation_stays_critical() {
    // the smallest lift the engine reports, at info
    let (lift, raised) = (1..60)
        .map(f64::from)
        .find_map(|lift| {
            let found = cpu_insights(&samples(lift, None), 0.0);
            found
                .into_iter()
                .find(|(i, _)| *i == BUMP)
                .map(|(_, insight)| (lift, insight))
        })
        .expect("some lift is reported");
    assert_eq!(raised.severity, Severity::Info, "lift {lift}: {raised:?}");
    let quiet = cpu_insights(&samples(lift, None), DESENSITISE_MAX);
    assert!(
        quiet.iter().all(|(i, _)| *i != BUMP),
        "lift {lift}: {quiet:?}"
    );
    // held at 99 %: critical (saturation), desensitised or not
    for raise in [0.0, DESENSITISE_MAX] {
        let held = cpu_insights(&samples(0.0, Some(99.0)), raise);
        let critical = held
            .iter()
            .any(|(i, insight)| *i >= 1000 && insight.severity == Severity::Critical);
        assert!(critical, "raise {raise}: {held:?}");
    }
}
