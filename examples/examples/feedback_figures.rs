//! Issue 18's feedback figure: the demo's synthetic fleets (seeds 42 and 1–6, 8 hosts, 10
//! days, incidents after a 7-day warm-up, no fleet forest) stream through the service into
//! SQLite; every incident record opened after the warm-up that overlaps no injected incident
//! (with the demo's 60-minute grace) is marked `false_positive` through the service, then the
//! same data is replayed with the same parameters (the labels applied). Prints, per seed, the
//! false and true incident records, how many of each the replay still opens, and the true
//! ones it lost.
//!
//! ```text
//! cargo run --release -p iops-examples --example feedback_figures
//! ```

use std::error::Error;
use std::sync::Arc;

use iops_core::engine::{EngineConfig, EngineParams};
use iops_core::{Incident, Timestamp};
use iops_service::{ReplayRequest, Service};
use iops_store::{IncidentQuery, IncidentStore, SqliteStore};
use iops_synth::{Fleet, FleetParams};

const GRACE: i64 = 3600;
const WARMUP_DAYS: f64 = 7.0;

fn main() -> Result<(), Box<dyn Error>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    println!("| seed | false incidents | of them replayed | true incidents | of them replayed |");
    println!("|---|---|---|---|---|");
    let (mut false_total, mut false_left, mut true_total, mut true_left) = (0, 0, 0, 0);
    for seed in [42, 1, 2, 3, 4, 5, 6] {
        let (f, fl, t, tl) = runtime.block_on(run(seed))?;
        println!("| {seed} | {f} | {fl} | {t} | {tl} |");
        (false_total, false_left, true_total, true_left) = (
            false_total + f,
            false_left + fl,
            true_total + t,
            true_left + tl,
        );
    }
    println!("| all | {false_total} | {false_left} | {true_total} | {true_left} |");
    Ok(())
}

/// One seed: (false records, false still opened by the replay, true records, true still
/// opened).
async fn run(seed: u64) -> Result<(usize, usize, usize, usize), Box<dyn Error>> {
    let fleet = Fleet::new(FleetParams {
        days: 10.0,
        seed,
        incident_rate: 0.5,
        calm_days: WARMUP_DAYS,
        ..FleetParams::default()
    })?;
    let store = Arc::new(SqliteStore::open_in_memory()?);
    let service = Service::new(store.clone(), EngineConfig::default());
    for (sample, _) in fleet.samples() {
        service.ingest(sample.to_json().as_bytes()).await?;
    }
    let warm_end = fleet.start_secs() + (WARMUP_DAYS * 86_400.0) as i64;
    let since = Timestamp::from_epoch_seconds(warm_end as f64)?;
    let until = Timestamp::from_epoch_seconds(fleet.end_secs() as f64)?;
    let records = store
        .list_incidents(&IncidentQuery {
            status: None,
            hostname: None,
            since: Some(since),
            limit: 10_000,
        })
        .await?;
    let records: Vec<Incident> = records
        .into_iter()
        .filter(|i| !i.is_silence() && !i.is_fleet() && i.opened >= since)
        .collect();
    let injected = |i: &Incident| {
        let (opened, end) = (
            i.opened.epoch_seconds() as i64,
            i.resolved.unwrap_or(until).epoch_seconds() as i64,
        );
        fleet.incidents().iter().any(|inj| {
            inj.hostname == i.hostname && opened < inj.end_secs + GRACE && end >= inj.start_secs
        })
    };
    let (truly, falsely): (Vec<&Incident>, Vec<&Incident>) =
        records.iter().partition(|i| injected(i));
    for i in &falsely {
        service
            .give_feedback(
                &i.incident_id,
                br#"{"verdict":"false_positive","note":"routine"}"#,
            )
            .await?;
    }
    let report = service
        .replay(
            &ReplayRequest {
                since,
                until,
                warm_seconds: WARMUP_DAYS * 86_400.0,
                hostnames: None,
                params: EngineParams::default(),
            },
            None,
        )
        .await?;
    let gone: Vec<&str> = report
        .hosts
        .iter()
        .flat_map(|h| h.gone.iter().filter_map(|s| s.incident_id.as_deref()))
        .collect();
    let left = |set: &[&Incident]| {
        set.iter()
            .filter(|i| !gone.contains(&i.incident_id.as_str()))
            .count()
    };
    for i in &truly {
        if gone.contains(&i.incident_id.as_str()) {
            println!(
                "  seed {seed}: true incident lost: {} {} {:?}",
                i.hostname, i.opened, i.types
            );
        }
    }
    Ok((falsely.len(), left(&falsely), truly.len(), left(&truly)))
}
