//! Behaviour of the insight engine through its public API: what it raises, for what, how often.

use iops_core::engine::{EngineConfig, EngineParams, HostState, InsightEngine};
use iops_core::{IncidentStatus, Insight, InsightType, Metric, MetricSample, Severity, Timestamp};

#[path = "support/noise.rs"]
mod noise;
use noise::Noise;

const START: f64 = 1_764_000_000.0;
const STEP: f64 = 300.0;

/// A calm host: diurnal CPU, steady memory, noisy I/O. `tweak` may alter sample `i`.
fn host(
    name: &str,
    n: usize,
    seed: u64,
    tweak: impl Fn(usize, &mut MetricSample),
) -> Vec<MetricSample> {
    let mut noise = Noise(seed);
    (0..n)
        .map(|i| {
            let phase = (i % 288) as f64 / 288.0 * std::f64::consts::TAU;
            let mut s = MetricSample {
                timestamp: Timestamp::from_epoch_seconds(START + STEP * i as f64)
                    .expect("valid time"),
                hostname: name.into(),
                cpu_usage: 35.0 + 15.0 * phase.sin() + 3.0 * noise.next(),
                memory_usage: 55.0 + 1.5 * noise.next(),
                disk_io: 120.0 + 25.0 * noise.next(),
                network_io: 300.0 + 40.0 * noise.next(),
            };
            tweak(i, &mut s);
            s
        })
        .collect()
}

fn run(samples: &[MetricSample]) -> Vec<Insight> {
    let mut engine = InsightEngine::new(EngineConfig::default());
    samples
        .iter()
        .flat_map(|s| engine.process(s).expect("valid sample").insights)
        .collect()
}

/// Nine calm days, then whatever the tweak injects from sample `AT` on.
const DAYS: usize = 10;
const AT: usize = 9 * 288;

#[test]
fn calm_host_raises_almost_nothing() {
    let insights = run(&host("calm-1", DAYS * 288, 7, |_, _| {}));
    // 2880 samples × 4 metrics of pure, stationary noise: at most a couple of info insights.
    assert!(insights.len() <= 2, "false alarms: {insights:#?}");
    assert!(
        insights.iter().all(|i| i.severity == Severity::Info),
        "{insights:#?}"
    );
}

/// The CPU insights (sample index, severity) of the calm host with CPU lifted by `lift` on
/// the samples `AT..AT + len`, under `confirm_seconds`.
fn lifted(lift: f64, len: usize, confirm_seconds: f64) -> Vec<(usize, Severity)> {
    let config = EngineParams {
        confirm_seconds,
        ..EngineParams::default()
    }
    .check()
    .unwrap();
    let mut engine = InsightEngine::new(config);
    let samples = host("lift-1", AT + 24, 11, |i, s| {
        if (AT..AT + len).contains(&i) {
            s.cpu_usage += lift;
        }
    });
    let mut out = Vec::new();
    for (i, s) in samples.iter().enumerate() {
        for insight in engine.process(s).unwrap().insights {
            if insight.metric == Metric::Cpu && i >= AT {
                out.push((i, insight.severity));
            }
        }
    }
    out
}

#[test]
fn a_lone_surprise_below_critical_waits_for_a_second_to_confirm_it() {
    // the smallest lift of one sample raised below critical when nothing waits
    let lift = (1..80)
        .map(f64::from)
        .find(|&lift| {
            let raised = lifted(lift, 1, 0.0);
            !raised.is_empty() && raised.iter().all(|(_, s)| *s < Severity::Critical)
        })
        .expect("some lift is raised below critical");
    // with the default confirmation, that one sample raises nothing
    assert_eq!(lifted(lift, 1, 600.0), [], "lift {lift}");
    // held for half an hour, it is raised once, at the second sample: still outside the
    // expected band, it goes on (the step itself is the surprise, not the samples after it)
    let held = lifted(lift, 6, 600.0);
    assert_eq!(held.len(), 1, "lift {lift}: {held:?}");
    assert_eq!(held[0].0, AT + 1, "lift {lift}: {held:?}");
    // a critical lift is raised at once
    let critical = lifted(4.0 * lift, 1, 600.0);
    assert_eq!(
        critical.first(),
        Some(&(AT, Severity::Critical)),
        "{critical:?}"
    );
}

#[test]
fn cpu_spike_gives_one_urgent_insight_that_explains_itself() {
    let samples = host("web-1", AT + 100, 11, |i, s| {
        if (AT..AT + 6).contains(&i) {
            s.cpu_usage = 97.0;
        }
    });
    let insights = run(&samples);
    let cpu: Vec<&Insight> = insights
        .iter()
        .filter(|i| i.metric == Metric::Cpu)
        .collect();
    assert_eq!(cpu.len(), 1, "one incident, one insight: {cpu:#?}");
    let i = cpu[0];
    assert_eq!(i.kind, InsightType::CpuSpike);
    assert!(i.severity >= Severity::Warning, "{:?}", i.severity);
    assert_eq!(
        i.timestamp, samples[AT].timestamp,
        "raised on the first anomalous sample"
    );
    assert_eq!(i.value, 97.0);
    assert!(
        i.expected > 15.0 && i.expected < 55.0,
        "expected {}",
        i.expected
    );
    assert!(i.score >= 0.38 && i.score < 1.0, "score {}", i.score);
    assert!(
        i.message.starts_with("cpuUsage 97.0% on web-1, expected "),
        "{}",
        i.message
    );
}

#[test]
fn memory_leak_is_memory_pressure_or_level_shift() {
    let samples = host("db-1", AT + 200, 13, |i, s| {
        if i >= AT {
            s.memory_usage = (55.0 + 0.4 * (i - AT) as f64).min(99.0);
        }
    });
    let insights = run(&samples);
    // (a capacity forecast is news of its own: one, see engine_forecast.rs)
    let (forecasts, mem): (Vec<&Insight>, Vec<&Insight>) = insights
        .iter()
        .filter(|i| i.metric == Metric::Memory)
        .partition(|i| i.kind == InsightType::CapacityForecast);
    assert!(forecasts.len() <= 1, "{forecasts:#?}");
    assert!(!mem.is_empty(), "a memory ramp to 99% went unnoticed");
    assert!(mem.len() <= 4, "one incident should not flood: {mem:#?}");
    assert!(mem.iter().all(|i| matches!(
        i.kind,
        InsightType::MemoryPressure | InsightType::LevelShift
    )));
    let first = mem[0].timestamp.epoch_seconds();
    let start = samples[AT].timestamp.epoch_seconds();
    assert!(
        first - start <= 40.0 * STEP,
        "caught {} samples late",
        (first - start) / STEP
    );
}

#[test]
fn leaks_are_reported_once_even_though_each_step_is_small() {
    // Memory climbing a little every 5 minutes: no single sample is a jump, the level keeps
    // moving. Each leak must raise an insight, and only escalations may repeat it.
    for (seed, per_step) in [
        (37, 0.05),
        (41, 0.1),
        (43, 0.2),
        (47, 0.4),
        (53, 0.8),
        (59, 1.2),
    ] {
        let samples = host("db-2", AT + 400, seed, |i, s| {
            if i >= AT {
                s.memory_usage = (55.0 + per_step * (i - AT) as f64).min(99.0);
            }
        });
        let insights = run(&samples);
        // (a capacity forecast is news of its own, told once: see engine_forecast.rs)
        let (forecasts, mem): (Vec<&Insight>, Vec<&Insight>) = insights
            .iter()
            .filter(|i| i.metric == Metric::Memory)
            .partition(|i| i.kind == InsightType::CapacityForecast);
        assert!(forecasts.len() <= 1, "{per_step}/step: {forecasts:#?}");
        assert!(!mem.is_empty(), "leak of {per_step}/step went unnoticed");
        assert!(
            mem.len() <= 3,
            "{per_step}/step: one incident, escalations at most: {mem:#?}"
        );
        for pair in mem.windows(2) {
            assert!(
                pair[1].severity > pair[0].severity,
                "only escalations repeat: {mem:#?}"
            );
        }
    }
}

#[test]
fn network_outage_is_a_network_anomaly() {
    let samples = host("edge-1", AT + 50, 17, |i, s| {
        if (AT..AT + 20).contains(&i) {
            s.network_io = 0.0;
        }
    });
    let insights = run(&samples);
    let net: Vec<&Insight> = insights
        .iter()
        .filter(|i| i.metric == Metric::NetworkIo)
        .collect();
    assert!(!net.is_empty());
    assert!(net
        .iter()
        .all(|i| i.kind == InsightType::NetworkAnomaly || i.kind == InsightType::LevelShift));
    assert_eq!(net[0].timestamp, samples[AT].timestamp);
    assert!(net.len() <= 3, "{net:#?}");
}

#[test]
fn hosts_are_judged_against_their_own_baselines() {
    // Host b runs at 60-90% CPU all the time, below the saturation ceiling: routine for b, it
    // must not alarm; a's spike to 90% must.
    let a = host("a", AT + 10, 19, |i, s| {
        if i == AT {
            s.cpu_usage = 90.0;
        }
    });
    let b = host("b", AT + 10, 23, |_, s| {
        s.cpu_usage = (s.cpu_usage + 40.0).min(90.0)
    });
    let mut engine = InsightEngine::new(EngineConfig::default());
    let mut by_host = std::collections::HashMap::<String, usize>::new();
    for (sa, sb) in a.iter().zip(&b) {
        for s in [sa, sb] {
            for i in engine.process(s).expect("valid").insights {
                if i.metric == Metric::Cpu {
                    *by_host.entry(i.hostname).or_default() += 1;
                }
            }
        }
    }
    assert_eq!(
        by_host.get("a"),
        Some(&1),
        "{:#?}",
        engine.host_state("a").map(|_| ())
    );
    assert!(by_host.get("b").copied().unwrap_or(0) <= 1, "{by_host:?}");
}

#[test]
fn invalid_sample_is_rejected_by_field_and_changes_nothing() {
    let mut engine = InsightEngine::new(EngineConfig::default());
    let good = host("h", 3, 1, |_, _| {});
    engine.process(&good[0]).expect("valid");
    let before = engine.host_state("h").cloned();
    for (field, bad) in [
        (
            "cpuUsage",
            MetricSample {
                cpu_usage: 101.0,
                ..good[1].clone()
            },
        ),
        (
            "memoryUsage",
            MetricSample {
                memory_usage: f64::NAN,
                ..good[1].clone()
            },
        ),
        (
            "diskIO",
            MetricSample {
                disk_io: -1.0,
                ..good[1].clone()
            },
        ),
        (
            "networkIO",
            MetricSample {
                network_io: f64::INFINITY,
                ..good[1].clone()
            },
        ),
        (
            "hostname",
            MetricSample {
                hostname: "bad host!".into(),
                ..good[1].clone()
            },
        ),
    ] {
        let err = engine.process(&bad).expect_err("invalid sample accepted");
        assert_eq!(err.field(), Some(field), "{err}");
    }
    assert_eq!(
        engine.host_state("h").cloned(),
        before,
        "state changed by invalid input"
    );
    assert_eq!(engine.hosts().count(), 1, "an invalid host was created");
}

#[test]
fn restored_host_state_continues_identically() {
    let samples = host("r", AT + 60, 29, |i, s| {
        if i == AT + 30 {
            s.disk_io = 2_000.0;
        }
    });
    let config = EngineConfig::default();
    let mut live = HostState::new(&config).expect("valid config");
    for s in &samples[..AT] {
        live.process(&config, None, s).expect("valid");
    }
    let json = serde_json::to_string(&live).expect("serialises");
    let mut restored: HostState = serde_json::from_str(&json).expect("deserialises");
    for s in &samples[AT..] {
        let a = live.process(&config, None, s).expect("valid");
        let b = restored.process(&config, None, s).expect("valid");
        assert_eq!(a, b);
        for (oa, ob) in a.metrics.iter().zip(&b.metrics) {
            assert_eq!(oa.score.to_bits(), ob.score.to_bits());
        }
    }
    assert_eq!(live, restored);
}

#[test]
fn scores_are_invariant_to_units() {
    // The same series in bytes/s and in MB/s, and shifted by a constant, scores the same.
    let base: Vec<f64> = {
        let mut noise = Noise(31);
        (0..AT + 100)
            .map(|i| {
                let spike = if i == AT + 10 { 400.0 } else { 0.0 };
                200.0 + 30.0 * ((i % 288) as f64 / 45.8).sin() + 20.0 * noise.next() + spike
            })
            .collect()
    };
    let ts: Vec<f64> = (0..base.len()).map(|i| START + STEP * i as f64).collect();
    let config = EngineConfig::default();
    let reference = iops_core::engine::score_series(&config, &ts, &base).expect("finite");
    for (a, b) in [(1e6, 0.0), (1e-3, 0.0), (1.0, 5_000.0), (7.5, -123.0)] {
        let moved: Vec<f64> = base.iter().map(|x| a * x + b).collect();
        let scores = iops_core::engine::score_series(&config, &ts, &moved).expect("finite");
        for (i, (r, s)) in reference.iter().zip(&scores).enumerate() {
            assert!((r - s).abs() < 1e-6, "a={a} b={b} row {i}: {r} vs {s}");
        }
    }
    let warning = EngineParams::default().warning_score;
    assert!(
        reference[AT + 10] >= warning,
        "the spike itself scores high: {}",
        reference[AT + 10]
    );
}

#[test]
fn config_round_trips_and_rejects_bad_values_by_name() {
    let json = serde_json::to_string(&EngineConfig::default()).expect("serialises");
    let back: EngineConfig = serde_json::from_str(&json).expect("deserialises");
    assert_eq!(back, EngineConfig::default());
    let partial: EngineConfig =
        serde_json::from_str(r#"{"window_seconds": 43200}"#).expect("defaults fill in");
    assert_eq!(partial.params().window_seconds, 43_200.0);
    for (json, name) in [
        (r#"{"window_seconds": 0}"#, "window_seconds"),
        (r#"{"gaussian_scale": 0}"#, "gaussian_scale"),
        (r#"{"critical_score": 1.5}"#, "critical_score"),
        (r#"{"info_score": 0.9}"#, "warning_score"),
        (
            r#"{"season_seconds": 600, "season_slot_seconds": 400}"#,
            "season_slot_seconds",
        ),
        // the sample counts of earlier versions are durations now
        (r#"{"window": 288}"#, "window"),
    ] {
        let err = serde_json::from_str::<EngineConfig>(json).expect_err(json);
        assert!(err.to_string().contains(name), "{json}: {err}");
    }
    let err = EngineParams {
        level_seconds: 0.0,
        ..EngineParams::default()
    }
    .check()
    .expect_err("checked");
    assert_eq!(err.field(), Some("level_seconds"));
    assert!(
        serde_json::from_str::<EngineConfig>(r#"{"windw": 3}"#).is_err(),
        "typos are errors"
    );
}

/// Every assessment, from a host's first sample on, is plain JSON that reads back equal: a
/// runtime can log it or answer it without special cases for cold hosts.
#[test]
fn assessments_round_trip_through_json_from_the_first_sample() {
    let config = EngineConfig::default();
    let mut state = HostState::new(&config).unwrap();
    for (i, s) in host("web-1", 400, 11, |_, _| {}).iter().enumerate() {
        let a = state.process(&config, None, s).unwrap();
        let json = serde_json::to_string(&a).unwrap();
        // the only null is the absent forest score (no forest configured)
        assert_eq!(json.matches("null").count(), 1, "sample {i}: {json}");
        let back: iops_core::engine::Assessment = serde_json::from_str(&json).unwrap();
        assert_eq!(back, a, "sample {i}");
    }
}

#[test]
fn a_host_pegged_at_the_ceiling_every_afternoon_is_one_critical_incident_a_day() {
    // CPU at 100% for hours each afternoon: saturated, however routine; one critical insight
    // per episode (the incident stays open while the saturation lasts), not one per sample.
    let days = 3;
    let samples = host("pegged", 288 * days, 29, |_, s| {
        s.cpu_usage = (s.cpu_usage + 55.0).min(100.0)
    });
    let cpu: Vec<Insight> = run(&samples)
        .into_iter()
        .filter(|i| i.metric == Metric::Cpu)
        .collect();
    assert!(!cpu.is_empty());
    assert!(
        cpu.iter().all(|i| i.severity == Severity::Critical),
        "{cpu:#?}"
    );
    assert!(
        cpu.iter().all(|i| i.message.ends_with("; saturated")),
        "{cpu:#?}"
    );
    assert!(cpu.len() <= days, "{cpu:#?}");
}

#[test]
fn one_episode_is_one_incident_that_escalates_in_place_and_resolves() {
    // a CPU spike with memory climbing beside it for an hour; a second spike two days later
    let samples = host("web-9", DAYS * 288 + 2 * 288, 11, |i, s| {
        if (AT..AT + 12).contains(&i) {
            s.cpu_usage = 93.0;
            s.memory_usage = 55.0 + 2.0 * (i - AT) as f64;
        }
        if (AT + 576..AT + 580).contains(&i) {
            s.cpu_usage = 95.0;
        }
    });
    let config = EngineConfig::default();
    let mut state = HostState::new(&config).unwrap();
    let mut changes = Vec::new();
    let mut kinds = Vec::new();
    let mut insights = Vec::new();
    for s in &samples {
        let a = state.process(&config, None, s).unwrap();
        // (the warm-up days' insights are not this test's business)
        if s.timestamp < samples[AT].timestamp {
            continue;
        }
        insights.extend(a.insights);
        assert_eq!(a.incident.is_some(), a.incident_change.is_some());
        kinds.extend(
            a.incident
                .as_ref()
                .map(|i| (i.incident_id.clone(), i.severity))
                .zip(a.incident_change),
        );
        changes.extend(a.incident);
        if s.timestamp == samples[AT + 6].timestamp {
            // an open incident survives both state encodings (postcard is positional)
            let bytes = postcard::to_allocvec(&state).unwrap();
            assert_eq!(postcard::from_bytes::<HostState>(&bytes).unwrap(), state);
            let json = serde_json::to_string(&state).unwrap();
            assert_eq!(serde_json::from_str::<HostState>(&json).unwrap(), state);
        }
    }
    assert!(insights.len() >= 3, "{insights:#?}");
    let first_id = insights[0]
        .incident_id
        .clone()
        .expect("insights name their incident");
    let first: Vec<_> = changes
        .iter()
        .filter(|c| c.incident_id == first_id)
        .collect();
    // opened by the first insight, changed by each later one, resolved once calm
    let opened = first.first().unwrap();
    assert_eq!(opened.opened, samples[AT].timestamp);
    let last = first.last().unwrap();
    assert_eq!(
        last.status,
        iops_core::IncidentStatus::Resolved,
        "{last:#?}"
    );
    assert!(last.metrics.contains(&Metric::Cpu) && last.metrics.contains(&Metric::Memory));
    assert_eq!(last.severity, Severity::Critical);
    assert_eq!(last.peak.map(|p| p.metric), Some(Metric::Cpu));
    let in_first = insights
        .iter()
        .filter(|i| i.incident_id.as_deref() == Some(first_id.as_str()))
        .count();
    assert_eq!(last.insights as usize, in_first);
    // told as opened, escalated each time its severity rose, resolved; the rest updates
    let told: Vec<_> = kinds
        .iter()
        .filter(|((id, _), _)| *id == first_id)
        .map(|((_, severity), change)| (*change, *severity))
        .collect();
    assert_eq!(
        told.first().map(|t| t.0),
        Some(iops_core::IncidentChange::Opened)
    );
    assert_eq!(
        told.last().map(|t| t.0),
        Some(iops_core::IncidentChange::Resolved)
    );
    for pair in told.windows(2) {
        let rose = pair[1].1 > pair[0].1;
        let escalated = pair[1].0 == iops_core::IncidentChange::Escalated;
        assert!(
            rose == escalated || pair[1].0 == iops_core::IncidentChange::Resolved,
            "{told:?}"
        );
    }
    // resolved after the cooldown of calm, not before the spike ended
    let resolved = last.resolved.unwrap().epoch_seconds();
    let spike_end = samples[AT + 11].timestamp.epoch_seconds();
    assert!(
        resolved >= spike_end + config.params().cooldown_seconds,
        "resolved {} s after the spike",
        resolved - spike_end
    );
    assert!(resolved <= spike_end + config.params().cooldown_seconds + 6.0 * 3600.0);
    // the spike two days later is a new incident, with a new id
    let second = insights
        .iter()
        .find(|i| i.timestamp >= samples[AT + 576].timestamp)
        .expect("the second spike is raised");
    let second_id = second.incident_id.clone().unwrap();
    assert_ne!(second_id, first_id);
    assert!(second_id > first_id, "ids sort by opening time");
    // and every insight belongs to exactly one of the incidents reported
    assert!(insights.iter().all(|i| changes
        .iter()
        .any(|c| Some(&c.incident_id) == i.incident_id.as_ref())));
}

/// A host state with an open incident, as the engine of 7bc8234 encoded it (the state of
/// `one_episode_is_one_incident_that_escalates_in_place_and_resolves` six samples into the
/// spike; its SHA-256 as that version's test printed it). Two layouts changed since: the
/// incident's peak became optional (a silent host's incident has none; a host's own
/// incident is still written in the old layout) and the level models keep residuals
/// against a day ago (read from the older layout as none yet). Such a state decodes and
/// carries on where it was.
#[test]
fn a_state_from_before_optional_peaks_and_seasonal_levels_decodes_and_carries_on() {
    let old: &[u8] = include_bytes!("fixtures/host-state-open-incident-7bc8234.postcard");
    assert_eq!(
        iops_core::record_id::hash_hex(&[old], 16),
        "3ace8c06e6c7e63b7e904dd03c92c931"
    );
    // (the current layout alone does not read it: the older one is what is tested)
    assert!(postcard::from_bytes::<HostState>(old).is_err());
    let mut state = HostState::from_postcard(old).expect("decodes");
    let json = serde_json::to_value(&state).unwrap();
    let incident = &json["incident"];
    assert_eq!(incident["status"], "open", "{incident}");
    assert_eq!(incident["peak"]["metric"], "cpuUsage");
    let level = &json["series"]["models"]["level"];
    assert!(
        level["blocks"].as_f64().unwrap() > 100.0,
        "the level kept its history"
    );
    assert_eq!(
        level["ref_blocks"], 0.0,
        "and compares with a day ago afresh"
    );
    // the same host's next samples: the incident it had open resolves in place
    let samples = host("web-9", DAYS * 288 + 2 * 288, 11, |i, s| {
        if (AT..AT + 12).contains(&i) {
            s.cpu_usage = 93.0;
            s.memory_usage = 55.0 + 2.0 * (i - AT) as f64;
        }
    });
    let next = usize::try_from(state.n_seen()).unwrap();
    assert_eq!(next, AT + 7);
    let config = EngineConfig::default();
    let changes: Vec<_> = samples[next..next + 288]
        .iter()
        .filter_map(|s| state.process(&config, None, s).unwrap().incident)
        .collect();
    let resolved = changes.last().expect("the incident changes");
    assert_eq!(
        resolved.incident_id,
        incident["incidentId"].as_str().unwrap()
    );
    assert_eq!(resolved.status, IncidentStatus::Resolved);
    assert!(changes
        .iter()
        .all(|c| c.incident_id == resolved.incident_id));
    // saved again, it is in the current layout
    let new = postcard::to_allocvec(&state).unwrap();
    assert_eq!(postcard::from_bytes::<HostState>(&new).unwrap(), state);
    assert_eq!(HostState::from_postcard(&new).unwrap(), state);
    assert!(HostState::from_postcard(&new[..new.len() - 1]).is_err());
}
