//! Cold start against a peer group: a host new to the fleet is placed in its nearest group
//! after its first samples and compared with that group until its own models are ready.

mod support {
    #[path = "noise.rs"]
    pub mod noise;
    #[path = "roles.rs"]
    pub mod roles;
}

use iops_core::artifact::{ModelArtifact, OffsetDateTime};
use iops_core::engine::{EngineConfig, HostForest, HostState, InsightEngine};
use iops_core::forest::IsolationForestParams;
use iops_core::{Insight, MetricSample, ParamGuard};
use support::roles::{fleet, host};

/// The fleet model of two days of 2 hosts per role: forest and peer groups.
fn model() -> ModelArtifact {
    let params = IsolationForestParams::new()
        .n_trees(20)
        .seed(3)
        .contamination(0.001)
        .check()
        .unwrap();
    let m = HostForest::fit(
        &EngineConfig::default(),
        &fleet(2, 2.0),
        &params,
        OffsetDateTime::UNIX_EPOCH,
    )
    .unwrap();
    assert!(m.peer_groups().is_some());
    m
}

/// A web host never seen in training (web-9): a day of 5-minute samples from day 3, 10:00
/// UTC; with `spike`, CPU at 85 % from its 7th to its 12th sample (30 minutes: below
/// the saturation rules, which need no baseline).
fn newcomer(spike: bool) -> Vec<MetricSample> {
    let mut samples = host(0, 8, 3.0 * 86_400.0 + 10.0 * 3600.0, 288, 300.0);
    if spike {
        for s in &mut samples[6..12] {
            s.cpu_usage = 85.0;
        }
    }
    samples
}

fn run(model: Option<ModelArtifact>, samples: &[MetricSample]) -> (Vec<Insight>, InsightEngine) {
    let mut engine = InsightEngine::new(EngineConfig::default());
    if let Some(m) = model {
        engine = engine.with_forest(HostForest::new(m).unwrap());
    }
    let mut insights = Vec::new();
    for s in samples {
        insights.extend(engine.process(s).unwrap().insights);
    }
    (insights, engine)
}

#[test]
fn a_new_hosts_first_incident_is_caught_against_its_group() {
    let spiked = newcomer(true);
    let (insights, engine) = run(Some(model()), &spiked);
    let first = insights.first().expect("the spike raised nothing");
    assert_eq!(first.timestamp, spiked[6].timestamp, "{first:?}");
    assert_eq!(first.kind.as_str(), "cpu_spike");
    assert_eq!(first.detector, "peer_group");
    assert!(
        first
            .message
            .contains("compared with its peer group web (2 hosts)"),
        "{}",
        first.message
    );
    assert_eq!(
        engine.host_state("web-9").unwrap().peer_group(),
        Some("web")
    );
    // without peer groups the host's own models cannot tell yet: nothing during the spike
    let mut plain = model();
    plain.set_peer_groups(None);
    let (insights, _) = run(Some(plain), &spiked);
    assert!(
        insights.iter().all(|i| i.timestamp > spiked[20].timestamp),
        "{insights:?}"
    );
}

#[test]
fn a_healthy_new_host_raises_nothing_against_its_group() {
    let (insights, engine) = run(Some(model()), &newcomer(false));
    assert!(insights.is_empty(), "{insights:?}");
    assert_eq!(
        engine.host_state("web-9").unwrap().peer_group(),
        Some("web")
    );
}

#[test]
fn a_host_the_groups_were_fitted_on_is_in_its_group_at_once() {
    // db-1 restarting with a fresh state: its group by name, no placement needed
    let samples = host(1, 0, 3.0 * 86_400.0, 40, 300.0);
    let (insights, engine) = run(Some(model()), &samples);
    assert!(insights.is_empty(), "{insights:?}");
    // (placed by name: nothing to remember)
    assert_eq!(engine.host_state("db-1").unwrap().peer_group(), None);
}

#[test]
fn a_state_saved_during_cold_start_carries_on_identically() {
    let forest = HostForest::new(model()).unwrap();
    let config = EngineConfig::default();
    let samples = newcomer(true);
    let mut live = HostState::new(&config).unwrap();
    for s in &samples[..4] {
        live.process(&config, Some(&forest), s).unwrap();
    }
    let mut restored = HostState::from_postcard(&postcard::to_allocvec(&live).unwrap()).unwrap();
    assert_eq!(restored, live);
    for s in &samples[4..] {
        assert_eq!(
            live.process(&config, Some(&forest), s).unwrap(),
            restored.process(&config, Some(&forest), s).unwrap()
        );
    }
}
