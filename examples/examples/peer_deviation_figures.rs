//! Issue 18's peer-deviation figure, through the service (SQLite in memory) and its peer
//! sweep.
//!
//! Per seed (42 and 1–6): `iops demo`'s fleet shape with 16 hosts (8 web, 4 db, 4 batch;
//! 5-minute samples, 9 days, no incident). The fleet model (forest and peer groups) is
//! fitted on the first 2 days. Two runs of the remaining 7 days, the peer sweep every 15
//! minutes of event time:
//! - drift: from day 4, web-3's CPU climbs to twice what it would be over 24 hours (each
//!   sample × (1 + the share of the day gone), capped at 100 %), and stays there;
//! - healthy: the same fleet untouched;
//! - incidents: the same fleet with `iops demo`'s incidents (0.5 per host-day after the 2
//!   days): a deviation opened during one of its host's incidents (or within 60 minutes
//!   after) is that incident seen from the group, any other is false.
//!
//! Prints, per seed: when web-3's drift was first reported as a peer deviation (hours after
//! it began), on its own or joined to web-3's own open incident, every other deviation in
//! the drift and healthy runs (false ones), and the incident run's deviations inside and
//! outside incidents (those that joined a host's own incident counted apart: they page no
//! one).
//!
//! ```text
//! cargo run --release -p iops-examples --example peer_deviation_figures [-- SEEDS...]
//! ```

use std::error::Error;
use std::sync::Arc;

use iops_core::artifact::OffsetDateTime;
use iops_core::engine::{EngineConfig, HostForest};
use iops_core::forest::IsolationForestParams;
use iops_core::{Incident, MetricSample, ParamGuard};
use iops_service::{BuiltinScorer, Service, ServiceConfig};
use iops_store::SqliteStore;
use iops_synth::{Fleet, FleetParams};

const DAY: f64 = 86_400.0;
const DRIFTER: &str = "web-3";
const SWEEP_SECONDS: i64 = 900;

fn main() -> Result<(), Box<dyn Error>> {
    let mut seeds: Vec<u64> = std::env::args()
        .skip(1)
        .map(|s| s.parse())
        .collect::<Result<_, _>>()?;
    if seeds.is_empty() {
        seeds = vec![42, 1, 2, 3, 4, 5, 6];
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    println!("| seed | web-3 reported, hours into its drift | how | other deviations, drift run | deviations, healthy run (7 days × 16 hosts) | incident run: deviations during an incident / outside / joined to the host's own |");
    println!("|---|---|---|---|---|---|");
    let (mut found, mut others, mut healthy_total) = (0, 0, 0);
    let (mut inside_total, mut outside_total, mut joined_total) = (0, 0, 0);
    for &seed in &seeds {
        let (drift_start, drift, _) = runtime.block_on(run(seed, Run::Drift))?;
        let (_, healthy, _) = runtime.block_on(run(seed, Run::Healthy))?;
        let (_, mixed, incidents) = runtime.block_on(run(seed, Run::Incidents))?;
        let during = |d: &Found| {
            let t = d.at as i64;
            incidents.iter().any(|i| {
                i.hostname == d.incident.hostname && t >= i.start_secs && t < i.end_secs + 3600
            })
        };
        let joined = mixed.iter().filter(|d| d.joined).count();
        let inside = mixed.iter().filter(|d| !d.joined && during(d)).count();
        joined_total += joined;
        inside_total += inside;
        outside_total += mixed.len() - joined - inside;
        let mine = drift.iter().find(|d| d.incident.hostname == DRIFTER);
        let false_ones: Vec<&Found> = drift
            .iter()
            .filter(|d| d.incident.hostname != DRIFTER)
            .collect();
        let when = mine.map(|d| (d.at - drift_start) / 3600.0);
        println!(
            "| {seed} | {} | {} | {} | {} | {inside} / {} / {joined} |",
            when.map_or("not reported".into(), |h| format!("{h:.1}")),
            mine.map_or(String::new(), |d| format!(
                "{}: {}",
                if d.joined {
                    "joined its own incident"
                } else {
                    "opened"
                },
                d.incident.summary
            )),
            describe(&false_ones),
            describe(&healthy.iter().collect::<Vec<_>>()),
            mixed.len() - joined - inside,
        );
        found += usize::from(when.is_some_and(|h| h <= 24.0));
        others += false_ones.len();
        healthy_total += healthy.len();
    }
    println!(
        "reported within the day: {found} of {}; other deviations in the drift runs: {others}; in the healthy runs: {healthy_total} ({} host-days); incident runs: {inside_total} opened during incidents, {outside_total} outside, {joined_total} joined a host's own incident",
        seeds.len(),
        seeds.len() * 16 * 7
    );
    Ok(())
}

/// A deviation a sweep reported at `at` (epoch seconds): opened on its own, or joined to
/// the host's own incident.
struct Found {
    at: f64,
    incident: Incident,
    joined: bool,
}

fn describe(found: &[&Found]) -> String {
    if found.is_empty() {
        return "none".into();
    }
    found
        .iter()
        .map(|d| format!("{} {:?}", d.incident.hostname, d.incident.metrics))
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Clone, Copy, PartialEq)]
enum Run {
    Drift,
    Healthy,
    Incidents,
}

/// One run: the drift's start (epoch seconds), every peer deviation the sweeps reported, and
/// the injected incidents.
async fn run(
    seed: u64,
    kind: Run,
) -> Result<(f64, Vec<Found>, Vec<iops_synth::Incident>), Box<dyn Error>> {
    let drift = kind == Run::Drift;
    let fleet = Fleet::new(FleetParams {
        hosts: 16,
        days: 9.0,
        seed,
        incident_rate: if kind == Run::Incidents { 0.5 } else { 0.0 },
        calm_days: 2.0,
        ..FleetParams::default()
    })?;
    let start = fleet.start_secs() as f64;
    let (trained, drift_start) = (start + 2.0 * DAY, start + 4.0 * DAY);
    let training: Vec<MetricSample> = fleet
        .samples()
        .map(|(s, _)| s)
        .take_while(|s| s.timestamp.epoch_seconds() < trained)
        .collect();
    let params = IsolationForestParams::new()
        .seed(seed)
        .contamination(0.001)
        .check()?;
    let model = HostForest::fit(
        &EngineConfig::default(),
        &training,
        &params,
        OffsetDateTime::UNIX_EPOCH,
    )?;
    let scorer =
        BuiltinScorer::new(EngineConfig::default()).with_forest(Some(HostForest::new(model)?));
    let store = Arc::new(SqliteStore::open_in_memory()?);
    let service = Service::with_scorer(store, Arc::new(scorer), ServiceConfig::default());
    let mut reported = Vec::new();
    let mut last_sweep = i64::MIN;
    for (mut sample, _) in fleet.samples() {
        let t = sample.timestamp.epoch_seconds();
        if drift && sample.hostname == DRIFTER && t >= drift_start {
            let factor = 1.0 + ((t - drift_start) / DAY).min(1.0);
            sample.cpu_usage = (sample.cpu_usage * factor).min(100.0);
        }
        service.ingest(sample.to_json().as_bytes()).await?;
        let slot = t as i64 / SWEEP_SECONDS;
        if t >= trained && slot != last_sweep && sample.hostname == fleet.hosts()[0].hostname {
            last_sweep = slot;
            let sweep = service.judge_peers().await?;
            reported.extend(sweep.opened.into_iter().map(|incident| Found {
                at: t,
                incident,
                joined: false,
            }));
            reported.extend(sweep.folded.into_iter().map(|incident| Found {
                at: t,
                incident,
                joined: true,
            }));
        }
    }
    Ok((drift_start, reported, fleet.incidents().to_vec()))
}
