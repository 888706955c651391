//! Capacity forecasts through the engine's public API: a leak is forecast once, early and
//! about right; the day's cycles are not; a revision updates the incident in place.

use iops_core::engine::{Assessment, EngineConfig, HostState, InsightEngine};
use iops_core::{IncidentChange, Insight, InsightType, Metric, MetricSample, Severity, Timestamp};

#[path = "support/noise.rs"]
mod noise;
use noise::Noise;

const START: f64 = 1_764_000_000.0;
const STEP: f64 = 300.0;
const DAY: usize = 288;
const HOUR: f64 = 3600.0;

/// A web host's day: CPU from 20 % at night to 80 % in the afternoon, memory following it
/// by ± 6 points, noisy I/O; `memory_leak(i)` is added to memory.
fn host(n: usize, seed: u64, memory_leak: impl Fn(usize) -> f64) -> Vec<MetricSample> {
    let mut noise = Noise(seed);
    (0..n)
        .map(|i| {
            let phase = (i % DAY) as f64 / DAY as f64 * std::f64::consts::TAU;
            MetricSample {
                timestamp: Timestamp::from_epoch_seconds(START + STEP * i as f64).unwrap(),
                hostname: "web-7".into(),
                cpu_usage: 50.0 - 30.0 * phase.cos() + 3.0 * noise.next(),
                memory_usage: (60.0 - 6.0 * phase.cos() + 0.8 * noise.next() + memory_leak(i))
                    .min(100.0),
                disk_io: 120.0 + 25.0 * noise.next(),
                network_io: 300.0 + 40.0 * noise.next(),
            }
        })
        .collect()
}

fn assess(samples: &[MetricSample]) -> Vec<Assessment> {
    let mut engine = InsightEngine::new(EngineConfig::default());
    samples.iter().map(|s| engine.process(s).unwrap()).collect()
}

fn forecasts(assessments: &[Assessment]) -> Vec<&Insight> {
    assessments
        .iter()
        .flat_map(|a| &a.insights)
        .filter(|i| i.kind == InsightType::CapacityForecast)
        .collect()
}

/// Seconds from `insight` to the first sample at or above 95 % memory.
fn truth(samples: &[MetricSample], insight: &Insight) -> f64 {
    let at = insight.timestamp.epoch_seconds();
    let crossed = samples
        .iter()
        .find(|s| s.timestamp.epoch_seconds() > at && s.memory_usage >= 95.0)
        .expect("the leak reaches the ceiling");
    crossed.timestamp.epoch_seconds() - at
}

#[test]
fn a_leak_is_forecast_once_early_and_within_a_quarter_of_the_truth() {
    // three calm days, then memory climbs 5 points an hour from 10:00 (its daily rise
    // on top) and the host runs out of it about seven hours later
    let from = 3 * DAY + 120;
    let samples = host(from + 120, 5, |i| {
        if i >= from {
            5.0 * (i - from) as f64 * STEP / HOUR
        } else {
            0.0
        }
    });
    let assessments = assess(&samples);
    let told = forecasts(&assessments);
    assert_eq!(told.len(), 1, "{told:#?}");
    let f = told[0];
    assert_eq!(f.metric, Metric::Memory);
    let left = truth(&samples, f);
    let eta = f.eta_seconds.expect("an ETA");
    assert!(
        (eta - left).abs() <= 0.25 * left,
        "ETA {:.1} h against {:.1} h",
        eta / HOUR,
        left / HOUR
    );
    assert!(left >= 2.0 * HOUR, "told {:.1} h before", left / HOUR);
    let [soonest, latest] = f.eta_interval_seconds.expect("an interval");
    assert!(soonest <= eta && eta <= latest, "{f:#?}");
    assert_eq!(f.severity, Severity::Warning, "6 hours or less: {f:#?}");
    assert!(
        f.message
            .starts_with("memoryUsage on web-7 reaches 95% in about "),
        "{}",
        f.message
    );
    let json: serde_json::Value = serde_json::from_str(&f.to_json()).unwrap();
    assert_eq!(json["type"], "capacity_forecast");
    assert!(json["etaSeconds"].as_f64().is_some(), "{json}");
    assert_eq!(json["etaIntervalSeconds"].as_array().map(Vec::len), Some(2));
    // the forecast belongs to the host's incident, as its other insights do
    assert!(f.incident_id.is_some());
}

#[test]
fn a_week_of_daily_cycles_and_a_nightly_job_raises_no_forecast() {
    // CPU climbs 60 points every morning, memory 12; a nightly job takes CPU to 85 %
    for seed in [3, 8, 13] {
        let mut samples = host(8 * DAY, seed, |_| 0.0);
        for (i, s) in samples.iter_mut().enumerate() {
            if (12..36).contains(&(i % DAY)) {
                s.cpu_usage = 60.0 + 25.0 * ((i % DAY) - 12) as f64 / 24.0;
            }
        }
        let told = forecasts(&assess(&samples)).len();
        assert_eq!(told, 0, "seed {seed}: {told} forecasts");
    }
}

#[test]
fn an_accelerating_leak_revises_its_forecast_in_place() {
    // a slow leak (2 points an hour) that triples its pace four hours in
    let from = 3 * DAY + 120;
    let samples = host(from + 110, 9, |i| {
        let h = (i.saturating_sub(from)) as f64 * STEP / HOUR;
        2.0 * h.min(4.0) + 6.0 * (h - 4.0).max(0.0)
    });
    let assessments = assess(&samples);
    assert_eq!(forecasts(&assessments).len(), 1, "told once");
    let told = assessments
        .iter()
        .position(|a| !forecasts(std::slice::from_ref(a)).is_empty())
        .unwrap();
    let revisions: Vec<_> = assessments[told + 1..]
        .iter()
        .filter(|a| {
            a.insights.is_empty()
                && matches!(
                    a.incident_change,
                    Some(IncidentChange::Updated | IncidentChange::Escalated)
                )
        })
        .filter_map(|a| a.incident.as_ref())
        .collect();
    let revised = revisions
        .iter()
        .find(|i| {
            i.summary
                .starts_with("memoryUsage on web-7 reaches 95% in about ")
        })
        .expect("the incident says the revised forecast");
    let first = assessments[told].incident.as_ref().unwrap();
    assert_eq!(revised.incident_id, first.incident_id);
    assert_ne!(revised.summary, first.summary, "a new ETA");
    assert_eq!(revised.insights, first.insights, "no new insight");
}

/// A host state saved by the engine of e5d461d, before forecasts: the host of
/// [`leaking_db`] after 582 samples (two days, then half an hour of its leak). Such a state
/// decodes, and its forecaster starts afresh and forecasts the leak.
#[test]
fn a_state_from_before_forecasts_decodes_and_forecasts_the_leak_it_is_in() {
    let old: &[u8] = include_bytes!("fixtures/host-state-leak-e5d461d.postcard");
    assert_eq!(
        iops_core::record_id::hash_hex(&[old], 16),
        "edf83e2760d8ffcb559dd77df537df37"
    );
    assert!(postcard::from_bytes::<HostState>(old).is_err());
    let mut state = HostState::from_postcard(old).expect("decodes");
    assert_eq!(state.n_seen(), 582);
    let told = forecasts_on_the_leak(&mut state, 582);
    assert_eq!(told.len(), 1, "{told:#?}");
    // 4 points an hour from 55 %: 95 % ten hours after the leak began
    let at = told[0].timestamp.epoch_seconds() - leaking_db(2 * DAY).timestamp.epoch_seconds();
    let left = 10.0 * HOUR - at;
    let eta = told[0].eta_seconds.unwrap();
    assert!((eta - left).abs() <= 0.25 * left, "{eta} against {left}");
    let bytes = postcard::to_allocvec(&state).unwrap();
    assert_eq!(postcard::from_bytes::<HostState>(&bytes).unwrap(), state);
}

/// A host state saved by the engine of 2c1c3e0, before `confirm_seconds`: the host of
/// [`leaking_db`] after 570 samples (no insight yet). It decodes with nothing waiting to be
/// confirmed, forecasts the leak it is about to be in, and saves in this layout.
#[test]
fn a_state_from_before_confirmation_decodes_and_forecasts_the_leak() {
    let old: &[u8] = include_bytes!("fixtures/host-state-2c1c3e0.postcard");
    assert_eq!(
        iops_core::record_id::hash_hex(&[old], 16),
        "ae40f467c4365f986cbfc68bb9a26394"
    );
    assert!(postcard::from_bytes::<HostState>(old).is_err());
    let mut state = HostState::from_postcard(old).expect("decodes");
    assert_eq!(state.n_seen(), 570);
    let json = serde_json::to_value(&state).unwrap();
    assert_eq!(
        json["unconfirmed"],
        serde_json::json!([null, null, null, null, null])
    );
    let told = forecasts_on_the_leak(&mut state, 570);
    assert_eq!(told.len(), 1, "{told:#?}");
    let bytes = postcard::to_allocvec(&state).unwrap();
    assert_eq!(postcard::from_bytes::<HostState>(&bytes).unwrap(), state);
    assert_eq!(HostState::from_postcard(&bytes).unwrap(), state);
}

/// The capacity forecasts `state` tells on [`leaking_db`] from sample `from` until two hours
/// into its leak.
fn forecasts_on_the_leak(state: &mut HostState, from: usize) -> Vec<Insight> {
    let config = EngineConfig::default();
    (from..2 * DAY + 130)
        .flat_map(|i| {
            state
                .process(&config, None, &leaking_db(i))
                .unwrap()
                .insights
        })
        .filter(|i| i.kind == InsightType::CapacityForecast)
        .collect()
}

/// The generator the fixtures were made with (run by the engines of e5d461d and 2c1c3e0):
/// a db host with CPU's daily wave, flat memory, and a leak of 4 points an hour from the
/// third day.
fn leaking_db(i: usize) -> MetricSample {
    let phase = (i % DAY) as f64 / DAY as f64 * std::f64::consts::TAU;
    let wobble = ((i * 7919) % 13) as f64 / 13.0 - 0.5;
    let leak = if i >= 2 * DAY {
        4.0 * (i - 2 * DAY) as f64 / 12.0
    } else {
        0.0
    };
    MetricSample {
        timestamp: Timestamp::from_epoch_seconds(1_764_000_000.0 + 300.0 * i as f64).unwrap(),
        hostname: "db-7".into(),
        cpu_usage: 35.0 + 10.0 * phase.sin() + 2.0 * wobble,
        memory_usage: 55.0 + 0.8 * wobble + leak,
        disk_io: 120.0 + 10.0 * wobble,
        network_io: 300.0 + 20.0 * wobble,
    }
}
