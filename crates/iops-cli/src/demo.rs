//! `iops demo`: a synthetic fleet with injected incidents streamed, in accelerated time,
//! through the local server's pipeline (the same as POST /metrics, into a SQLite database)
//! while the dashboard shows it; insights are printed as they are raised, then how the
//! incidents were caught, and the server keeps serving until ctrl-c (or `--duration`).
//! `--terminal` runs the fleet through one in-process engine instead: no server, it prints
//! and exits.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::PathBuf;

use iops_core::artifact::{ModelArtifact, OffsetDateTime};
use iops_core::engine::{EngineConfig, HostForest, InsightEngine};
use iops_core::forest::IsolationForestParams;
use iops_core::{
    IncidentChange, Insight, InsightType, MetricSample, Notification, ParamGuard, Severity,
};
use iops_service::{Dispatcher, Notifier, NotifyError, RetryPolicy};
use iops_synth::{Fleet, FleetParams, Incident, Role};

use crate::serve::{ServedEngine, NO_FOREST};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Hosts in the fleet (half web, a quarter db, a quarter batch).
    #[arg(long, default_value_t = 8)]
    pub hosts: usize,
    /// Days of samples, warm-up included.
    #[arg(long, default_value_t = 10)]
    pub days: u32,
    /// Seconds between a host's samples (60: minute data).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u32).range(1..=86_400))]
    pub interval_secs: u32,
    /// Days of normal behaviour before the first incident, while the engine learns.
    #[arg(long, default_value_t = 7)]
    pub warmup_days: u32,
    /// Seed of the fleet (same seed, same run).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Expected incidents per host per day after the warm-up.
    #[arg(long, default_value_t = 0.5)]
    pub incident_rate: f64,
    /// Minutes after an incident ends during which its insights still count for it
    /// (recovery: a restart, a rollback).
    #[arg(long, default_value_t = 60)]
    pub grace_minutes: u32,
    /// Pace the stream: simulated seconds per wall-clock second (e.g. 3600 = an hour a second).
    #[arg(long, value_name = "N", conflicts_with = "fast")]
    pub speed: Option<f64>,
    /// As fast as possible (the default).
    #[arg(long)]
    pub fast: bool,
    /// A host forest (`iops train`, host-standardised features) scoring each host's 4-metric
    /// vector. Without it the demo fits one on another, incident-free fleet of the same shape
    /// (seed + 1): the model a team would train on last month's data.
    #[arg(long, value_name = "FILE", conflicts_with = "no_forest")]
    pub model: Option<PathBuf>,
    /// Streaming per-metric models only: no fleet forest.
    #[arg(long)]
    pub no_forest: bool,
    /// Terminal only: stream the fleet through an engine in this process, print, exit (no
    /// server, no dashboard; as fast as possible unless --speed).
    #[arg(long, conflicts_with_all = ["addr", "db", "duration"])]
    pub terminal: bool,
    /// The address the dashboard and API listen on (port 0 picks a free one).
    #[arg(long, default_value = crate::serve::DEFAULT_ADDR)]
    pub addr: std::net::SocketAddr,
    /// The database to write (default: a fresh one in a temporary directory, deleted at exit).
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// Stop after this long (e.g. 90s, 5m), streaming included, instead of at ctrl-c: for
    /// scripts and tests.
    #[arg(long, value_name = "DURATION", value_parser = crate::loadgen::parse_duration)]
    pub duration: Option<Duration>,
}

/// The pace of the served demo after the warm-up when none is given: simulated seconds per
/// second.
const SERVE_SPEED: f64 = 7200.0;

/// Where samples go: the engine in this process, or the server's ingest pipeline.
enum Sink {
    Local(Box<InsightEngine>),
    Served(Box<Served>),
}

/// What the demo pages: every notification the run's incident transitions send, as an
/// on-call receiver would get them (the server's webhook path; in the terminal demo, the
/// engine's own transitions, without fleet grouping).
#[derive(Debug, Default)]
struct Pager(Mutex<Vec<Notification>>);

impl Pager {
    fn push(&self, n: Notification) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(n);
    }

    fn pages(&self) -> Vec<Notification> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[async_trait::async_trait]
impl Notifier for Pager {
    fn target(&self) -> &str {
        "the demo's pager"
    }

    async fn deliver(&self, n: &Notification) -> Result<(), NotifyError> {
        self.push(n.clone());
        Ok(())
    }
}

/// The server the demo runs in-process.
struct Served {
    runtime: tokio::runtime::Runtime,
    state: crate::serve::AppState,
    /// Its notifications' queue (to the demo's pager).
    notifications: Dispatcher,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    stopped: Arc<AtomicBool>,
    /// Stops the server (at `--duration`).
    stop: Arc<tokio::sync::Notify>,
    url: String,
    db: PathBuf,
    // Deleted at exit (after the store is closed: declared last, dropped last).
    _dir: Option<tempfile::TempDir>,
}

impl Sink {
    /// The insights each sample of one time step raises, in order. The server ingests the
    /// step's samples (one per host) concurrently, as a fleet's agents would post them.
    fn process_step(&mut self, step: &[MetricSample], pager: &Pager) -> Result<Vec<Vec<Insight>>> {
        match self {
            Sink::Local(engine) => step
                .iter()
                .map(|sample| {
                    let a = engine.process(sample).with_context(|| {
                        format!("engine rejected a sample of {}", sample.hostname)
                    })?;
                    if let (Some(change), Some(incident)) = (a.incident_change, &a.incident) {
                        if let Some(page) = Notification::of(change, incident) {
                            pager.push(page);
                        }
                    }
                    Ok(a.insights)
                })
                .collect(),
            Sink::Served(s) => {
                let state = &s.state;
                s.runtime.block_on(async {
                    let tasks: Vec<_> = step
                        .iter()
                        .map(|sample| {
                            let state = state.clone();
                            let body = sample.to_json();
                            tokio::spawn(async move { state.ingest(body.as_bytes()).await })
                        })
                        .collect();
                    let mut out = Vec::with_capacity(tasks.len());
                    for (task, sample) in tasks.into_iter().zip(step) {
                        let answer =
                            task.await.context("ingest task failed")?.with_context(|| {
                                format!("server rejected a sample of {}", sample.hostname)
                            })?;
                        out.push(answer.insights.into_iter().map(|i| i.insight).collect());
                    }
                    Ok(out)
                })
            }
        }
    }

    /// True once ctrl-c stopped the server.
    fn stopped(&self) -> bool {
        match self {
            Sink::Local(_) => false,
            Sink::Served(s) => s.stopped.load(Ordering::Relaxed),
        }
    }
}

/// Starts the demo's server on its engine, paging `pager`.
fn start_server(args: &DemoArgs, engine: ServedEngine, pager: Arc<Pager>) -> Result<Served> {
    let (dir, db) = match &args.db {
        Some(db) => (None, db.clone()),
        None => {
            let dir = tempfile::Builder::new()
                .prefix("iops-demo-")
                .tempdir()
                .context("cannot create a temporary directory")?;
            let db = dir.path().join("iops-demo.db");
            (Some(dir), db)
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // Demo data is not precious: durable against a crash of the process, not power loss.
    let store = crate::serve::open_store(&db, crate::serve::Durability::Normal)?;
    let (state, notifications) = runtime.block_on(async {
        let (notifications, _worker) = Dispatcher::start(vec![pager], RetryPolicy::default());
        let options = crate::serve::ServeOptions {
            notifications: Some(notifications.clone()),
            // the fleet runs on its own simulated clock, which may be ahead of this one
            max_future_skew: std::time::Duration::MAX,
            ..crate::serve::ServeOptions::default()
        };
        let state = crate::serve::AppState::new(store, engine, options).await?;
        Ok::<_, anyhow::Error>((state, notifications))
    })?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(args.addr))
        .with_context(|| format!("cannot bind {} (use --addr)", args.addr))?;
    let local = listener.local_addr().context("no local address")?;
    let stopped = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stopped);
    let stop = Arc::new(tokio::sync::Notify::new());
    let stop_wait = Arc::clone(&stop);
    let server = runtime.spawn(crate::serve::serve(listener, state.clone(), async move {
        tokio::select! {
            () = crate::serve::shutdown_signal() => {},
            () = stop_wait.notified() => {},
        }
        flag.store(true, Ordering::Relaxed);
    }));
    Ok(Served {
        runtime,
        state,
        notifications,
        server,
        stopped,
        stop,
        url: format!("http://{local}/"),
        db,
        _dir: dir,
    })
}

/// The fleet forest of the demo: loaded from `--model`, or fitted on an incident-free fleet
/// of the same shape and another seed.
fn fleet_forest(args: &DemoArgs) -> Result<Option<(ModelArtifact, String)>> {
    if args.no_forest {
        return Ok(None);
    }
    if let Some(path) = &args.model {
        let model = iops_service::read_model(path)?;
        return Ok(Some((model, format!("loaded from {}", path.display()))));
    }
    let history = Fleet::new(FleetParams {
        hosts: args.hosts,
        interval_secs: args.interval_secs,
        days: f64::from(args.warmup_days),
        seed: args.seed.wrapping_add(1),
        incident_rate: 0.0,
        calm_days: f64::from(args.warmup_days),
        ..FleetParams::default()
    })
    .context("invalid training fleet")?;
    let samples: Vec<_> = history.samples().map(|(s, _)| s).collect();
    let params = IsolationForestParams::new()
        .seed(args.seed)
        .contamination(FOREST_CONTAMINATION)
        .check()?;
    let model = HostForest::fit(
        &EngineConfig::default(),
        &samples,
        &params,
        OffsetDateTime::now_utc(),
    )?;
    let how = format!(
        "fitted on {} samples of an incident-free {}-day fleet (seed {})",
        model.training().rows,
        args.warmup_days,
        args.seed.wrapping_add(1)
    );
    Ok(Some((model, how)))
}

/// Share of the training fleet's samples the demo's forest calls anomalous: its threshold.
const FOREST_CONTAMINATION: f64 = 0.001;

/// Terminal colours, or nothing when stdout is not a terminal (or NO_COLOR is set).
#[derive(Debug, Clone, Copy)]
struct Style {
    on: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    fn severity(&self, s: Severity) -> String {
        let code = match s {
            Severity::Critical => "1;31",
            Severity::Warning => "33",
            Severity::Info => "36",
        };
        self.paint(code, &format!("{:<8}", s.as_str()))
    }
}

/// "2026-11-09 14:05" from epoch seconds.
fn when(secs: i64) -> String {
    iops_core::Timestamp::from_epoch_seconds(secs as f64)
        .map(|t| {
            let s = t.to_string();
            s.get(..16).unwrap_or(&s).replace('T', " ")
        })
        .unwrap_or_else(|_| secs.to_string())
}

/// Signed minutes from `a` to `b`, for display.
fn minutes(a: i64, b: i64) -> String {
    let m = (b - a) / 60;
    if m >= 0 {
        format!("+{m} min")
    } else {
        format!("{m} min")
    }
}

/// Which incident an insight on `host` at `secs` belongs to, if any.
fn attribute<'a>(
    incidents: &'a [Incident],
    host: &str,
    secs: i64,
    grace: i64,
) -> Option<&'a Incident> {
    incidents
        .iter()
        .find(|i| i.hostname == host && secs >= i.start_secs && secs < i.end_secs + grace)
}

/// The first insight raised for an incident.
struct Catch {
    secs: i64,
    kind: &'static str,
    severity: Severity,
}

pub fn run(args: &DemoArgs) -> Result<()> {
    let fleet = demo_fleet(args)?;
    let style = Style {
        on: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let mut out = std::io::stdout().lock();
    print_intro(&mut out, &fleet, args, style)?;
    let engine = demo_engine(&mut out, args)?;
    writeln!(out)?;
    let started = Instant::now();
    let deadline = args.duration.map(|d| started + d);
    let pager = Arc::new(Pager::default());
    let mut sink = if args.terminal {
        let local = InsightEngine::new(engine.config);
        Sink::Local(Box::new(match engine.forest {
            Some(forest) => local.with_forest(forest),
            None => local,
        }))
    } else {
        crate::serve::log_to_stderr();
        let served = start_server(args, engine, Arc::clone(&pager))?;
        print_dashboard_intro(&mut out, &served, args, style)?;
        Sink::Served(Box::new(served))
    };
    let run = stream_fleet(&mut out, &fleet, args, style, &mut sink, &pager, deadline)?;
    if let Sink::Served(served) = &sink {
        served
            .runtime
            .block_on(served.notifications.drain(Duration::from_secs(5)));
    }
    let elapsed = started.elapsed();
    print_summary(&mut out, &fleet, args, style, &run, elapsed)?;
    print_pages(&mut out, &fleet, args, &pager.pages())?;
    if let Sink::Served(served) = sink {
        writeln!(out)?;
        let until = match deadline {
            Some(_) => "until --duration is over",
            None => "until ctrl-c",
        };
        writeln!(
            out,
            "{}",
            style.paint(
                "1",
                &format!("Dashboard: {} — serving {until}.", served.url)
            )
        )?;
        out.flush()?;
        drop(out);
        return serve_until_done(*served, deadline);
    }
    out.flush()?;
    Ok(())
}

/// The fleet the arguments describe (checked: incidents start after the warm-up).
fn demo_fleet(args: &DemoArgs) -> Result<Fleet> {
    if args.days <= args.warmup_days {
        bail!(
            "--days ({}) must be larger than --warmup-days ({}): incidents start after the warm-up",
            args.days,
            args.warmup_days
        );
    }
    if let Some(speed) = args.speed {
        if !(speed.is_finite() && speed > 0.0) {
            bail!("--speed must be a number > 0, got {speed}");
        }
    }
    Fleet::new(FleetParams {
        hosts: args.hosts,
        interval_secs: args.interval_secs,
        days: f64::from(args.days),
        seed: args.seed,
        incident_rate: args.incident_rate,
        calm_days: f64::from(args.warmup_days),
        ..FleetParams::default()
    })
    .context("invalid fleet")
}

/// End of the warm-up (epoch seconds): incidents start from then on.
fn warm_end(fleet: &Fleet, args: &DemoArgs) -> i64 {
    fleet.start_secs() + i64::from(args.warmup_days) * 86_400
}

/// What the fleet is and what will happen to it.
fn print_intro(out: &mut impl Write, fleet: &Fleet, args: &DemoArgs, style: Style) -> Result<()> {
    let roles = |r: Role| fleet.hosts().iter().filter(|h| h.role == r).count();
    writeln!(
        out,
        "iops demo: {} hosts ({} web, {} db, {} batch), {} days of {}-minute samples from {}, seed {}",
        fleet.hosts().len(),
        roles(Role::Web),
        roles(Role::Db),
        roles(Role::Batch),
        args.days,
        args.interval_secs / 60,
        when(fleet.start_secs()),
        args.seed
    )?;
    writeln!(
        out,
        "{} incidents will be injected after a {}-day warm-up in which the engine learns each host's normal.",
        fleet.incidents().len(),
        args.warmup_days
    )?;
    writeln!(
        out,
        "{}",
        style.paint(
            "2",
            "Routine load is not an incident: daily cycles, quieter weekends, db backups at 02:00, batch jobs 01:00-03:00."
        )
    )?;
    writeln!(out)?;
    Ok(())
}

/// The engine's configuration, the fleet forest (unless there is none) and the model
/// description the dashboard shows.
fn demo_engine(out: &mut impl Write, args: &DemoArgs) -> Result<ServedEngine> {
    let config = EngineConfig::default();
    match fleet_forest(args)? {
        Some((model, how)) => {
            writeln!(
                out,
                "Fleet forest: {} trees over each host's standardised metrics, {how}.",
                model.forest().n_trees()
            )?;
            let description = crate::serve::forest_description(&model, "demo");
            Ok(ServedEngine {
                config,
                forest: Some(HostForest::new(model)?),
                description,
            })
        }
        None => {
            writeln!(out, "No fleet forest: streaming per-metric models only.")?;
            Ok(ServedEngine {
                config,
                forest: None,
                description: NO_FOREST.to_owned(),
            })
        }
    }
}

/// Where the dashboard is and what it shows.
fn print_dashboard_intro(
    out: &mut impl Write,
    served: &Served,
    args: &DemoArgs,
    style: Style,
) -> Result<()> {
    writeln!(
        out,
        "{}",
        style.paint(
            "1",
            &format!(
                "Dashboard: {} (API on the same address; database {})",
                served.url,
                served.db.display()
            )
        )
    )?;
    writeln!(out, "Open it in a browser and watch the fleet stream in (2 simulated hours a second after the warm-up):")?;
    writeln!(
        out,
        "  - Hosts: each host's status, the worst insight of the hour before its newest sample;"
    )?;
    writeln!(out, "  - click a host: its four metrics, insight markers and the expected band (expected +/- 3 spreads);")?;
    writeln!(out, "  - Recent insights: severity, type, the message with actual vs expected, the metrics that drove it;")?;
    writeln!(
        out,
        "  - the model in use, at the top. POST your own metrics to {}metrics too.",
        served.url
    )?;
    let stop_how = match args.duration {
        Some(d) => format!("stops after {:.0} s", d.as_secs_f64()),
        None => "ctrl-c stops it".to_owned(),
    };
    writeln!(
        out,
        "  ({stop_how}; --terminal prints the same run without a server.)"
    )?;
    writeln!(out)?;
    Ok(())
}

/// What the stream raised: every insight with its time, the first catch of each incident,
/// and the samples processed.
struct Run {
    all: Vec<(Insight, i64)>,
    caught: BTreeMap<usize, Catch>,
    samples: u64,
}

/// Streams the fleet, time step by time step, into the sink at the demo's pace, printing
/// each insight as it is raised (tagged warm-up, incident or false alarm).
fn stream_fleet(
    out: &mut impl Write,
    fleet: &Fleet,
    args: &DemoArgs,
    style: Style,
    sink: &mut Sink,
    pager: &Pager,
    deadline: Option<Instant>,
) -> Result<Run> {
    let incidents = fleet.incidents();
    let grace = i64::from(args.grace_minutes) * 60;
    let warm_end = warm_end(fleet, args);
    let mut run = Run {
        all: Vec::new(),
        caught: BTreeMap::new(),
        samples: 0,
    };
    let mut announced_warm = false;
    let speed = match (args.speed, args.fast, !args.terminal) {
        (Some(speed), false, _) => Some(speed),
        (None, false, true) => Some(SERVE_SPEED),
        _ => None,
    };
    let pace = speed.map(|speed| Duration::from_secs_f64(f64::from(args.interval_secs) / speed));
    // The served demo's default pace starts after the warm-up; a pace asked for applies
    // throughout.
    let pace_from = if args.speed.is_none() {
        warm_end
    } else {
        i64::MIN
    };
    let mut last_step = None;

    let mut stream = fleet.samples().map(|(s, _)| s).peekable();
    while let Some(first) = stream.next() {
        // One time step: every host's sample of the same time, ingested together.
        let mut step = vec![first];
        while let Some(next) = stream.next_if(|s| s.timestamp == step[0].timestamp) {
            step.push(next);
        }
        let secs = step[0].timestamp.epoch_seconds() as i64;
        if sink.stopped() {
            writeln!(out, "interrupted: the server stopped")?;
            break;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            writeln!(out, "--duration reached: stopping the stream")?;
            break;
        }
        if let Some(pace) = pace.filter(|_| secs >= pace_from) {
            if last_step.is_some_and(|s| s != secs) {
                out.flush()?;
                std::thread::sleep(pace);
            }
        }
        last_step = Some(secs);
        if !announced_warm && secs >= warm_end {
            announced_warm = true;
            let line = format!(
                "── {} warm-up over: the engine has a week of history; incidents may start now ──",
                when(secs)
            );
            writeln!(out, "{}", style.paint("1", &line))?;
        }
        for insights in sink.process_step(&step, pager)? {
            run.samples += 1;
            for insight in insights {
                let tag = if secs < warm_end {
                    style.paint("2", "[warm-up]")
                } else if let Some(inc) = attribute(incidents, &insight.hostname, secs, grace) {
                    run.caught.entry(inc.id).or_insert(Catch {
                        secs,
                        kind: insight.kind.as_str(),
                        severity: insight.severity,
                    });
                    style.paint("32", &format!("[incident #{} {}]", inc.id, inc.kind))
                } else {
                    style.paint("35", "[false alarm]")
                };
                print_insight(out, &insight, secs, &tag, style)?;
                run.all.push((insight, secs));
            }
        }
    }
    Ok(run)
}

/// One insight's line: time, severity, type, host, message, the fleet forest's drivers.
fn print_insight(
    out: &mut impl Write,
    insight: &Insight,
    secs: i64,
    tag: &str,
    style: Style,
) -> Result<()> {
    let drivers = if insight.drivers.is_empty() || insight.kind == InsightType::MultiMetricAnomaly {
        String::new()
    } else {
        let named: Vec<String> = insight
            .drivers
            .iter()
            .filter(|d| d.share >= 0.15)
            .map(|d| format!("{} {:.0}%", d.metric, 100.0 * d.share))
            .collect();
        style.paint("2", &format!(" [fleet forest: {}]", named.join(", ")))
    };
    writeln!(
        out,
        "{}  {} {:<16} {:<8} {}{drivers} {}",
        when(secs),
        style.severity(insight.severity),
        insight.kind.as_str(),
        insight.hostname,
        insight.message,
        tag
    )?;
    Ok(())
}

/// The summary: plain "key: number" lines so a script (and the test) can read them.
fn print_summary(
    out: &mut impl Write,
    fleet: &Fleet,
    args: &DemoArgs,
    style: Style,
    run: &Run,
    elapsed: Duration,
) -> Result<()> {
    let (all, caught, incidents) = (&run.all, &run.caught, fleet.incidents());
    let grace = i64::from(args.grace_minutes) * 60;
    let warm_end = warm_end(fleet, args);
    writeln!(out)?;
    writeln!(out, "{}", style.paint("1", "== summary =="))?;
    writeln!(
        out,
        "samples processed: {} ({} hosts x {} times, {}-minute interval) in {:.2} s",
        run.samples,
        fleet.hosts().len(),
        fleet.steps(),
        args.interval_secs / 60,
        elapsed.as_secs_f64()
    )?;
    let count_sev = |s: Severity| all.iter().filter(|(i, _)| i.severity == s).count();
    writeln!(
        out,
        "insights: {}, critical {}, warning {}, info {}",
        all.len(),
        count_sev(Severity::Critical),
        count_sev(Severity::Warning),
        count_sev(Severity::Info)
    )?;
    let mut by_type: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, _) in all {
        *by_type.entry(i.kind.as_str()).or_default() += 1;
    }
    let types: Vec<String> = by_type.iter().map(|(k, n)| format!("{k} {n}")).collect();
    writeln!(out, "by type: {}", types.join(", "))?;
    writeln!(
        out,
        "incidents injected: {}, caught: {}, missed: {}",
        incidents.len(),
        caught.len(),
        incidents.len() - caught.len()
    )?;
    for inc in incidents {
        let status = match caught.get(&inc.id) {
            Some(c) => style.paint(
                "32",
                &format!(
                    "caught {} after start by {} ({})",
                    minutes(inc.start_secs, c.secs),
                    c.kind,
                    c.severity.as_str()
                ),
            ),
            None => style.paint("31", "missed"),
        };
        writeln!(
            out,
            "  #{:<3} {:<15} {:<8} {} -> {} ({} min)  {}",
            inc.id,
            inc.kind.as_str(),
            inc.hostname,
            when(inc.start_secs),
            when(inc.end_secs),
            (inc.end_secs - inc.start_secs) / 60,
            status
        )?;
    }
    let warmup_insights = all.iter().filter(|(_, s)| *s < warm_end).count();
    let false_alarms = all
        .iter()
        .filter(|(i, s)| *s >= warm_end && attribute(incidents, &i.hostname, *s, grace).is_none())
        .count();
    let host_days =
        fleet.hosts().len() as f64 * (fleet.end_secs() - warm_end).max(0) as f64 / 86_400.0;
    writeln!(
        out,
        "false alarms: {false_alarms} (insights after the warm-up outside any incident or its {}-minute grace; {:.2} per host-day)",
        args.grace_minutes,
        if host_days > 0.0 { false_alarms as f64 / host_days } else { 0.0 }
    )?;
    writeln!(out, "warm-up insights: {warmup_insights} (not judged)")?;
    print_incident_records(out, incidents, all, warm_end, grace, host_days)?;
    let mut delays: Vec<i64> = incidents
        .iter()
        .filter_map(|inc| caught.get(&inc.id).map(|c| (c.secs - inc.start_secs) / 60))
        .collect();
    delays.sort_unstable();
    if let Some(median) = delays.get(delays.len() / 2) {
        writeln!(out, "median detection delay: {median} min")?;
    }
    Ok(())
}

/// What was paged: one line per kind of transition, and whose incidents the pages were
/// (an injected one, a false one, the warm-up).
fn print_pages(
    out: &mut impl Write,
    fleet: &Fleet,
    args: &DemoArgs,
    pages: &[Notification],
) -> Result<()> {
    let count = |e: IncidentChange| pages.iter().filter(|p| p.event == e).count();
    let critical = pages
        .iter()
        .filter(|p| {
            p.event != IncidentChange::Resolved && p.incident.severity == Severity::Critical
        })
        .count();
    let grace = i64::from(args.grace_minutes) * 60;
    let warm_end = warm_end(fleet, args);
    let (mut injected, mut false_pages, mut warm) = (0, 0, 0);
    for p in pages.iter().filter(|p| p.event != IncidentChange::Resolved) {
        let secs = p.incident.opened.epoch_seconds() as i64;
        if secs < warm_end {
            warm += 1;
        } else if p.incident.is_fleet()
            || attribute(fleet.incidents(), &p.incident.hostname, secs, grace).is_some()
        {
            injected += 1;
        } else {
            false_pages += 1;
        }
    }
    writeln!(
        out,
        "pages: {} (opened {}, escalated {}, resolved {}); critical {critical}; for injected incidents {injected}, false {false_pages}, warm-up {warm}",
        pages.len(),
        count(IncidentChange::Opened),
        count(IncidentChange::Escalated),
        count(IncidentChange::Resolved),
    )?;
    Ok(())
}

/// The incident records the engine kept (the insights' `incidentId`s) against the incidents
/// injected: how many records each injected incident got (one is the goal), and how many
/// records hold only false alarms.
fn print_incident_records(
    out: &mut impl Write,
    incidents: &[Incident],
    all: &[(Insight, i64)],
    warm_end: i64,
    grace: i64,
    host_days: f64,
) -> Result<()> {
    // each record's insights after the warm-up: whether each belongs to an injected incident
    let mut records: BTreeMap<&str, Vec<Option<usize>>> = BTreeMap::new();
    for (insight, secs) in all.iter().filter(|(_, s)| *s >= warm_end) {
        if let Some(id) = insight.incident_id.as_deref() {
            let injected = attribute(incidents, &insight.hostname, *secs, grace).map(|i| i.id);
            records.entry(id).or_default().push(injected);
        }
    }
    let mut per_incident: BTreeMap<usize, usize> = BTreeMap::new();
    for owners in records.values() {
        let mut ids: Vec<usize> = owners.iter().flatten().copied().collect();
        ids.dedup();
        for id in ids {
            *per_incident.entry(id).or_default() += 1;
        }
    }
    let one = per_incident.values().filter(|n| **n == 1).count();
    let false_records = records
        .values()
        .filter(|owners| owners.iter().all(Option::is_none))
        .count();
    writeln!(
        out,
        "incident records: {} after the warm-up; injected incidents with exactly one record: {one} of {} caught; false incidents: {false_records} ({:.2} per 100 host-days)",
        records.len(),
        per_incident.len(),
        if host_days > 0.0 { 100.0 * false_records as f64 / host_days } else { 0.0 }
    )?;
    Ok(())
}

/// Keeps the demo's server up after the stream, until ctrl-c or the deadline, then closes
/// the store.
fn serve_until_done(served: Served, deadline: Option<Instant>) -> Result<()> {
    let Served {
        runtime,
        state,
        server,
        stop,
        _dir,
        ..
    } = served;
    runtime.block_on(async {
        if let Some(d) = deadline {
            tokio::spawn(async move {
                tokio::time::sleep_until(d.into()).await;
                stop.notify_one();
            });
        }
        server
            .await
            .context("server task failed")?
            .context("server error")?;
        state.flush().await.map(drop)
    })?;
    drop(state);
    drop(runtime);
    eprintln!("stopped");
    Ok(())
}
