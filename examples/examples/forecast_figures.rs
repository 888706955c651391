//! Capacity forecasts on synthetic fleets (issue 18): how early and how right the first
//! forecast of each memory leak is, and how many forecasts hosts without a leak get.
//!
//! Three fleets per seed (8 hosts, 5-minute samples, a calm week first):
//! - leaks: only memory leaks after the calm week (4–10 hours each, to 92–97 %);
//! - mixed: `iops demo`'s fleet (its mix of incidents at its rate, 0.5 per host-day);
//! - healthy: no incident at all, 14 days of daily cycles, nightly jobs and backups.
//!
//! A leak's truth is the first sample at or above the ceiling within it; for a leak that
//! stops below the ceiling, its ramp: from the host's memory in the hour before it, at the
//! leak's pace, the time the line crosses the ceiling. The first forecast within the leak
//! is scored against it.
//!
//! Run: `cargo run --release -p iops-examples --example forecast_figures -- [SEEDS...]`
//! (default 42 1 2 3 4 5 6).

use std::collections::HashMap;
use std::error::Error;

use iops_core::engine::{EngineConfig, InsightEngine};
use iops_core::{Insight, InsightType};
use iops_synth::{Fleet, FleetParams, Incident, IncidentKind};

const CEILING: f64 = 95.0;

struct Run {
    /// Every forecast insight, with the incident its sample was in (if any).
    forecasts: Vec<(Insight, Option<Incident>)>,
    /// Per incident id: the memory in the hour before it (the leak's base).
    base: HashMap<usize, f64>,
    /// Per incident id: the first time its host's memory reached the ceiling within it.
    crossed: HashMap<usize, f64>,
    incidents: Vec<Incident>,
    host_days: f64,
}

fn run(params: FleetParams) -> Result<Run, Box<dyn Error>> {
    let fleet = Fleet::new(params)?;
    let mut engine = InsightEngine::new(EngineConfig::default());
    let mut forecasts = Vec::new();
    // the last hour of each host's memory, to take a leak's base from
    let mut recent: HashMap<String, Vec<f64>> = HashMap::new();
    let mut base = HashMap::new();
    let mut crossed = HashMap::new();
    for (sample, incident) in fleet.samples() {
        let memory = recent.entry(sample.hostname.clone()).or_default();
        if let Some(i) = incident {
            if !base.contains_key(&i.id) && !memory.is_empty() {
                base.insert(i.id, memory.iter().sum::<f64>() / memory.len() as f64);
            }
            if sample.memory_usage >= CEILING {
                crossed
                    .entry(i.id)
                    .or_insert(sample.timestamp.epoch_seconds());
            }
        } else {
            memory.push(sample.memory_usage);
            if memory.len() > 12 {
                memory.remove(0);
            }
        }
        for insight in engine.process(&sample)?.insights {
            if insight.kind == InsightType::CapacityForecast {
                forecasts.push((insight, incident.cloned()));
            }
        }
    }
    Ok(Run {
        forecasts,
        base,
        crossed,
        incidents: fleet.incidents().to_vec(),
        host_days: fleet.hosts().len() as f64 * fleet.params().days,
    })
}

fn fleet(seed: u64, rate: f64, kinds: Vec<IncidentKind>, days: f64) -> FleetParams {
    FleetParams {
        hosts: 8,
        days,
        seed,
        incident_rate: rate,
        calm_days: 7.0,
        kinds,
        ..FleetParams::default()
    }
}

/// How a run's first forecasts of its memory leaks compare with the truth.
#[derive(Default)]
struct Scores {
    leaks: usize,
    found: usize,
    close: usize,
    early: usize,
    most_told: usize,
    errors: Vec<f64>,
    leads: Vec<f64>,
}

fn score(run: &Run) -> Scores {
    let mut s = Scores::default();
    for leak in run
        .incidents
        .iter()
        .filter(|i| i.kind == IncidentKind::MemoryLeak)
    {
        s.leaks += 1;
        let told: Vec<&Insight> = run
            .forecasts
            .iter()
            .filter(|(_, i)| i.as_ref().is_some_and(|i| i.id == leak.id))
            .map(|(f, _)| f)
            .collect();
        let (Some(&base), Some(f)) = (run.base.get(&leak.id), told.first()) else {
            continue;
        };
        s.found += 1;
        s.most_told = s.most_told.max(told.len());
        let pace = (leak.magnitude - base) / (leak.end_secs - leak.start_secs) as f64;
        let ramp = leak.start_secs as f64 + (CEILING - base) / pace;
        let truth = run.crossed.get(&leak.id).copied().unwrap_or(ramp);
        let left = truth - f.timestamp.epoch_seconds();
        let error = (f.eta_seconds.unwrap_or(f64::NAN) - left) / left;
        if std::env::var_os("VERBOSE").is_some() {
            eprintln!(
                "{} leak {:.1} h from {base:.1} to {:.1}: told {:.1} h in, ETA {:.1} h, truth {:.1} h ({}): {}",
                leak.hostname,
                (leak.end_secs - leak.start_secs) as f64 / 3600.0,
                leak.magnitude,
                (f.timestamp.epoch_seconds() - leak.start_secs as f64) / 3600.0,
                f.eta_seconds.unwrap_or(f64::NAN) / 3600.0,
                left / 3600.0,
                if run.crossed.contains_key(&leak.id) { "crossed" } else { "ramp" },
                f.message
            );
        }
        s.close += usize::from(error.abs() <= 0.25);
        s.early += usize::from(left >= 2.0 * 3600.0);
        s.errors.push(error);
        s.leads.push(left / 3600.0);
    }
    s
}

fn main() -> Result<(), Box<dyn Error>> {
    let seeds: Vec<u64> = std::env::args()
        .skip(1)
        .map(|s| s.parse())
        .collect::<Result<_, _>>()?;
    let seeds = if seeds.is_empty() {
        vec![42, 1, 2, 3, 4, 5, 6]
    } else {
        seeds
    };
    println!("| seed | fleet | leaks | forecast | within 25 % | ≥ 2 h before | median error | median lead | forecasts per leak (most) | forecasts outside leaks |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let mut total = [Scores::default(), Scores::default()];
    let (mut outside_total, mut healthy_total, mut healthy_days) = (0, 0, 0.0);
    for seed in seeds {
        let leaks = run(fleet(seed, 0.3, vec![IncidentKind::MemoryLeak], 14.0))?;
        let mixed = run(fleet(seed, 0.5, IncidentKind::ALL.to_vec(), 10.0))?;
        let healthy = run(fleet(seed, 0.0, vec![], 14.0))?;
        for (k, (name, r)) in [("leaks", &leaks), ("mixed", &mixed)]
            .into_iter()
            .enumerate()
        {
            let mut s = score(r);
            let outside = r
                .forecasts
                .iter()
                .filter(|(_, i)| {
                    i.as_ref()
                        .is_none_or(|i| i.kind != IncidentKind::MemoryLeak)
                })
                .count();
            println!(
                "| {seed} | {name} | {} | {} | {} | {} | {:+.0} % | {:.1} h | {} | {outside} |",
                s.leaks,
                s.found,
                s.close,
                s.early,
                100.0 * median(&mut s.errors.clone()),
                median(&mut s.leads.clone()),
                s.most_told
            );
            outside_total += outside;
            let t = &mut total[k];
            t.leaks += s.leaks;
            t.found += s.found;
            t.close += s.close;
            t.early += s.early;
            t.most_told = t.most_told.max(s.most_told);
            t.errors.append(&mut s.errors);
            t.leads.append(&mut s.leads);
        }
        println!(
            "| {seed} | healthy ({:.0} host-days) | 0 | | | | | | | {} |",
            healthy.host_days,
            healthy.forecasts.len()
        );
        healthy_total += healthy.forecasts.len();
        healthy_days += healthy.host_days;
    }
    for (name, t) in ["leaks", "mixed"].iter().zip(&mut total) {
        println!(
            "| all | {name} | {} | {} | {} | {} | {:+.0} % | {:.1} h | {} | |",
            t.leaks,
            t.found,
            t.close,
            t.early,
            100.0 * median(&mut t.errors),
            median(&mut t.leads),
            t.most_told
        );
    }
    println!("| all | healthy ({healthy_days:.0} host-days) | | | | | | | | {healthy_total} |");
    println!("forecasts outside leaks on the leak and mixed fleets: {outside_total}");
    Ok(())
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
