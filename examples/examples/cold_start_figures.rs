//! Issue 18's cold-start figure: hosts that join a fleet after its warm-up and have an
//! incident within their first 2 hours.
//!
//! Per seed (42 and 1–6): `iops demo`'s fleet shape (16 hosts: 8 web, 4 db, 4 batch;
//! 5-minute samples, 9 days, incidents at 0.5 per host-day after 2 calm days). Each odd-
//! numbered host (web-1, web-3, …, db-1, db-3, batch-1, batch-3) whose first incident
//! starts between days 2.5 and 7 joins 10–110 minutes before it (its earlier samples are
//! dropped): a new host with an incident in its first 2 hours. The
//! fleet model (forest and peer groups, `HostForest::fit`) is fitted on the first 2 days of
//! the other, long-lived hosts only, so a new host's name tells the model nothing. The same
//! stream runs through two engines: with the model's peer groups, and with the same forest
//! without them (what a new host got before peer groups).
//!
//! Counts, per engine: the new hosts' first incidents caught (an insight on the host
//! between the incident's start and 60 minutes after its end, the demo's grace), and false
//! incident records (opened outside every injected incident and its grace) per 100
//! host-days, for the new hosts from their join and for the long-lived hosts after the 2
//! calm days.
//!
//! ```text
//! cargo run --release -p iops-examples --example cold_start_figures [-- SEEDS...]
//! ```

use std::collections::HashMap;
use std::error::Error;

use iops_core::artifact::OffsetDateTime;
use iops_core::engine::{EngineConfig, HostForest, InsightEngine};
use iops_core::forest::IsolationForestParams;
use iops_core::{IncidentChange, MetricSample, ParamGuard};
use iops_synth::{Fleet, FleetParams, Incident};

const GRACE: i64 = 3600;
const CALM_DAYS: f64 = 2.0;
const DAY: i64 = 86_400;

#[derive(Default, Clone, Copy)]
struct Tally {
    first_incidents: usize,
    caught: usize,
    /// The new hosts' later incidents (after the first), and how many were caught.
    later: usize,
    later_caught: usize,
    new_false: usize,
    new_host_days: f64,
    old_false: usize,
    old_host_days: f64,
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut seeds: Vec<u64> = std::env::args()
        .skip(1)
        .map(|s| s.parse())
        .collect::<Result<_, _>>()?;
    if seeds.is_empty() {
        seeds = vec![42, 1, 2, 3, 4, 5, 6];
    }
    println!("| seed | new hosts | caught with peer groups | without | false / 100 host-days, new hosts (peers / without) | long-lived hosts (peers / without) |");
    println!("|---|---|---|---|---|---|");
    let mut totals = [Tally::default(); 2];
    for seed in seeds {
        let [with, without] = run(seed)?;
        println!(
            "| {seed} | {} | {} | {} | {:.1} / {:.1} | {:.1} / {:.1} |",
            with.first_incidents,
            with.caught,
            without.caught,
            rate(with.new_false, with.new_host_days),
            rate(without.new_false, without.new_host_days),
            rate(with.old_false, with.old_host_days),
            rate(without.old_false, without.old_host_days),
        );
        for (t, r) in totals.iter_mut().zip([with, without]) {
            t.first_incidents += r.first_incidents;
            t.caught += r.caught;
            t.later += r.later;
            t.later_caught += r.later_caught;
            t.new_false += r.new_false;
            t.new_host_days += r.new_host_days;
            t.old_false += r.old_false;
            t.old_host_days += r.old_host_days;
        }
    }
    let [with, without] = totals;
    println!(
        "new hosts' later incidents: {} caught with peer groups, {} without, of {}",
        with.later_caught, without.later_caught, with.later
    );
    println!(
        "| all | {} | {} ({:.0} %) | {} ({:.0} %) | {:.1} / {:.1} ({:.0} host-days) | {:.1} / {:.1} ({:.0} host-days) |",
        with.first_incidents,
        with.caught,
        100.0 * with.caught as f64 / with.first_incidents.max(1) as f64,
        without.caught,
        100.0 * without.caught as f64 / without.first_incidents.max(1) as f64,
        rate(with.new_false, with.new_host_days),
        rate(without.new_false, without.new_host_days),
        with.new_host_days,
        rate(with.old_false, with.old_host_days),
        rate(without.old_false, without.old_host_days),
        with.old_host_days,
    );
    Ok(())
}

fn rate(n: usize, host_days: f64) -> f64 {
    if host_days > 0.0 {
        100.0 * n as f64 / host_days
    } else {
        0.0
    }
}

fn run(seed: u64) -> Result<[Tally; 2], Box<dyn Error>> {
    let fleet = Fleet::new(FleetParams {
        hosts: 16,
        days: 9.0,
        seed,
        incident_rate: 0.5,
        calm_days: CALM_DAYS,
        ..FleetParams::default()
    })?;
    let start = fleet.start_secs();
    let end = fleet.end_secs();
    // the new hosts: every other host whose first incident starts in days 2.5–7
    let mut joins: HashMap<String, (i64, Incident)> = HashMap::new();
    for host in fleet.hosts() {
        let first = fleet
            .incidents()
            .iter()
            .find(|i| i.hostname == host.hostname && i.start_secs >= start + 2 * DAY + DAY / 2);
        let Some(first) = first.filter(|i| i.start_secs < start + 7 * DAY) else {
            continue;
        };
        // (web-1, web-3, …, db-1, db-3, batch-1, batch-3: each role keeps half its hosts)
        let odd = host
            .hostname
            .rsplit('-')
            .next()
            .and_then(|n| n.parse::<u32>().ok())
            .is_some_and(|n| n % 2 == 1);
        if !odd {
            continue;
        }
        // (any earlier incident of this host happened before it joined)
        let lead =
            600 + (first.id as i64 * 2_654_435_761 + seed as i64).rem_euclid(6000) / 300 * 300;
        joins.insert(
            host.hostname.clone(),
            (first.start_secs - lead, first.clone()),
        );
    }
    let joined = |s: &MetricSample| {
        joins
            .get(&s.hostname)
            .is_none_or(|(at, _)| s.timestamp.epoch_seconds() >= *at as f64)
    };
    let training: Vec<MetricSample> = fleet
        .samples()
        .map(|(s, _)| s)
        .take_while(|s| s.timestamp.epoch_seconds() < (start as f64) + CALM_DAYS * DAY as f64)
        .filter(|s| !joins.contains_key(&s.hostname))
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
    if model.peer_groups().is_none() {
        return Err("the training fleet gave no peer groups".into());
    }
    if std::env::var_os("VERBOSE").is_some() {
        for g in model.peer_groups().map_or(&[][..], |p| p.groups()) {
            eprintln!("group {}: {:?}", g.name, g.hosts);
        }
        eprintln!("new: {:?}", joins.keys().collect::<Vec<_>>());
    }
    let mut without_peers = model.clone();
    without_peers.set_peer_groups(None);
    let mut out = [Tally::default(); 2];
    for (k, (tally, model)) in out.iter_mut().zip([model, without_peers]).enumerate() {
        let mut engine =
            InsightEngine::new(EngineConfig::default()).with_forest(HostForest::new(model)?);
        let mut caught: HashMap<&str, bool> = HashMap::new();
        let mut later_caught: std::collections::HashSet<usize> = std::collections::HashSet::new();
        for (sample, _) in fleet.samples() {
            if !joined(&sample) {
                continue;
            }
            let a = engine.process(&sample)?;
            let secs = sample.timestamp.epoch_seconds() as i64;
            if let Some((_, first)) = joins.get(&sample.hostname) {
                if !a.insights.is_empty() {
                    let later = fleet.incidents().iter().find(|i| {
                        i.hostname == sample.hostname
                            && i.id != first.id
                            && i.start_secs > first.start_secs
                            && secs >= i.start_secs
                            && secs < i.end_secs + GRACE
                    });
                    if let Some(i) = later {
                        later_caught.insert(i.id);
                    }
                }
                let inside = secs >= first.start_secs && secs < first.end_secs + GRACE;
                if inside && !a.insights.is_empty() {
                    caught.insert(&first.hostname, true);
                }
            }
            if a.incident_change == Some(IncidentChange::Opened) {
                let attributed = fleet.incidents().iter().any(|i| {
                    i.hostname == sample.hostname
                        && secs >= i.start_secs
                        && secs < i.end_secs + GRACE
                });
                let new = joins.contains_key(&sample.hostname);
                let counted = new || secs >= start + (CALM_DAYS * DAY as f64) as i64;
                if !attributed && counted {
                    if std::env::var_os("VERBOSE").is_some() {
                        let since = joins
                            .get(&sample.hostname)
                            .map_or(-1.0, |(at, _)| (secs - at) as f64 / 3600.0);
                        for i in &a.insights {
                            eprintln!(
                                "{} false +{since:.1} h [{}] {}",
                                if tally.first_incidents == 0 {
                                    "peers"
                                } else {
                                    "plain"
                                },
                                i.detector,
                                i.message
                            );
                        }
                    }
                    if new {
                        tally.new_false += 1;
                    } else {
                        tally.old_false += 1;
                    }
                }
            }
        }
        if std::env::var_os("VERBOSE").is_some() && k == 0 {
            for (host, (at, first)) in &joins {
                if !caught.contains_key(host.as_str()) {
                    eprintln!(
                        "missed {host} {:?} {:.1} h after joining, {:.1} h long, magnitude {:.1}",
                        first.kind,
                        (first.start_secs - at) as f64 / 3600.0,
                        (first.end_secs - first.start_secs) as f64 / 3600.0,
                        first.magnitude
                    );
                }
            }
        }
        tally.first_incidents = joins.len();
        tally.later = fleet
            .incidents()
            .iter()
            .filter(|i| {
                joins
                    .get(&i.hostname)
                    .is_some_and(|(_, first)| i.id != first.id && i.start_secs > first.start_secs)
            })
            .count();
        tally.later_caught = later_caught.len();
        tally.caught = caught.len();
        tally.new_host_days = joins
            .values()
            .map(|(at, _)| (end - at) as f64 / DAY as f64)
            .sum();
        tally.old_host_days = (fleet.hosts().len() - joins.len()) as f64
            * ((end - start) as f64 / DAY as f64 - CALM_DAYS);
    }
    Ok(out)
}
