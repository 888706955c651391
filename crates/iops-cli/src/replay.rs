//! `iops replay`: the stored metrics of a stretch of time (an `iops serve` database) run again
//! through an engine with other parameters; prints per host and in total the incidents the
//! stored run raised, the ones the new parameters would raise, and the difference
//! ([`Service::replay`], also `POST /replay`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use clap::Args;
use iops_core::engine::{EngineConfig, EngineParams};
use iops_core::Timestamp;
use iops_eval::corpus::engine_config;
use iops_service::{ReplayReport, ReplayRequest, Service};
use iops_store::SqliteStore;

/// `iops replay` arguments.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The database `iops serve` wrote.
    #[arg(long, default_value = "iops.db")]
    pub db: PathBuf,
    /// Start of the stretch: a duration before now (`7d`, `12h`, `90m`) or a time (RFC 3339
    /// or epoch seconds).
    #[arg(long)]
    pub since: String,
    /// End of the stretch (default: now).
    #[arg(long)]
    pub until: Option<String>,
    /// Each host's state is warmed on this much history before the stretch (`2d`, `0s`).
    #[arg(long, default_value = "2d")]
    pub warm: String,
    /// Engine parameters (JSON, the fields of `EngineParams`) instead of the defaults.
    #[arg(long)]
    pub params: Option<PathBuf>,
    /// A host forest (`model.json`) beside the streaming models, as `iops serve --model`.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Only this host (repeatable).
    #[arg(long = "host")]
    pub hosts: Vec<String>,
    /// `table` (one line per host that differs, then the totals) or `json`.
    #[arg(long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
}

pub fn run(args: &ReplayArgs) -> Result<()> {
    let config: EngineConfig = engine_config(args.params.as_deref())?;
    let forest = iops_service::load_forest(args.model.as_deref())?;
    let now = Timestamp::from_epoch_seconds(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64()),
    )?;
    let since = time_arg("--since", &args.since, now)?;
    let until = match &args.until {
        Some(u) => time_arg("--until", u, now)?,
        None => now,
    };
    let warm = time_arg("--warm", &args.warm, now)?;
    let request = ReplayRequest {
        since,
        until,
        warm_seconds: now.epoch_seconds() - warm.epoch_seconds(),
        hostnames: (!args.hosts.is_empty()).then(|| args.hosts.clone()),
        params: EngineParams::clone(config.params()),
    };
    // (the arguments first: a mistyped one is refused before the database is opened)
    let store = SqliteStore::open(&args.db)
        .with_context(|| format!("cannot open the database {}", args.db.display()))?;
    let service = Service::new(Arc::new(store), config);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(service.replay(&request, forest.as_ref()))?;
    if args.format == "json" {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", table(&report));
    }
    Ok(())
}

/// The report for people: the hosts whose incidents differ, then the totals.
fn table(report: &ReplayReport) -> String {
    let mut out = format!(
        "replayed {} hosts, {} samples ({} stored samples refused by the engine), incidents opened {} .. {}\n",
        report.hosts_replayed, report.samples, report.refused, report.since, report.until
    );
    out.push_str("host                          stored replayed   kept   gone    new\n");
    let line = |name: &str, c: &iops_service::ReplayCounts| {
        format!(
            "{name:<28} {:>7} {:>8} {:>6} {:>6} {:>6}\n",
            c.stored, c.replayed, c.kept, c.gone, c.new
        )
    };
    for host in &report.hosts {
        out.push_str(&line(&host.hostname, &host.counts));
        let listed = [("gone:", &host.gone), ("new: ", &host.new)];
        for (what, spans) in listed {
            for span in spans {
                let kinds = serde_json::to_string(&span.types).unwrap_or_default();
                out.push_str(&format!(
                    "    {what} {} {:?} {kinds}\n",
                    span.opened, span.severity
                ));
            }
        }
    }
    out.push_str(&line("total", &report.total));
    out
}

/// A time argument (`--since`, `--until`, `--warm`): a duration before now (`7d`, `12h`,
/// `90m`, `3600s`) or a time (RFC 3339 or epoch seconds). Errors name `flag`.
fn time_arg(flag: &str, arg: &str, now: Timestamp) -> Result<Timestamp> {
    const UNITS: [(&str, f64); 4] = [("s", 1.0), ("m", 60.0), ("h", 3600.0), ("d", 86_400.0)];
    let time = || -> Result<Timestamp> {
        let value = match arg.parse::<f64>() {
            Ok(secs) => serde_json::Value::from(secs),
            Err(_) => serde_json::Value::from(arg),
        };
        Ok(Timestamp::from_json_value(&value)?)
    };
    let ago = if arg.ends_with(|c: char| c.is_ascii_alphabetic()) {
        crate::loadgen::span_seconds(arg, &UNITS).ok()
    } else {
        None
    };
    let at = match ago {
        Some(secs) if secs.is_finite() && secs >= 0.0 => now.plus_seconds(-secs),
        _ => time().ok(),
    };
    at.with_context(|| {
        format!(
            "invalid {flag}: must be a duration before now (7d, 12h, 90m, 3600s), RFC 3339 or epoch seconds, got {arg:?}"
        )
    })
}
