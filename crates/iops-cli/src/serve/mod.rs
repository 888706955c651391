//! `iops serve`: the HTTP API of the Lambda (POST /metrics, GET /metrics, GET /insights: the
//! same router, [`iops_service::http`]), GET /health and a dashboard at `/`, on one machine,
//! over the embedded SQLite store.

mod api;
mod chart;
mod dashboard;
mod hosts;
#[cfg(test)]
mod tests;
mod webhook;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use axum::Router;
use clap::{Args, ValueEnum};
use iops_core::artifact::ModelArtifact;
use iops_core::engine::{EngineConfig, HostForest};
use iops_core::peers::PeerDeviationPolicy;
use iops_core::{FleetPolicy, SilencePolicy};
use iops_service::http::Api;
use iops_service::{
    BuiltinScorer, Dispatcher, IngestResponse, Notifier, RetryPolicy, Service, ServiceConfig,
    ServiceError, SnapshotPolicy,
};
use iops_store::{SqliteOptions, SqliteStore, Synchronous};

pub use hosts::HostIndex;
/// Completes on ctrl-c or SIGTERM.
pub use iops_http::shutdown_signal;
pub use webhook::Webhook;

/// Default address: loopback only (put a reverse proxy in front to expose it).
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free one; the bound address is printed).
    #[arg(long, default_value = DEFAULT_ADDR)]
    pub addr: SocketAddr,
    /// SQLite database file (created if missing).
    #[arg(long, default_value = "iops.db")]
    pub db: PathBuf,
    /// Require this key in the `x-api-key` header of writes (POST /metrics).
    #[arg(long, env = "IOPS_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// A fleet forest (`iops train`) scoring each host's 4-metric vector, besides the
    /// streaming per-metric models.
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// Largest request body accepted, in bytes (413 above it).
    #[arg(long, default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,
    /// Durability of an acknowledged write: `full` survives power loss (fsync per group
    /// commit), `normal` survives a crash of the process only.
    #[arg(long, value_enum, default_value_t = Durability::Full)]
    pub durability: Durability,
    /// A host is silent (a critical `host_stopped_reporting` incident) after this many of
    /// its own intervals without a sample...
    #[arg(long, default_value_t = SilencePolicy::default().intervals)]
    pub silence_intervals: f64,
    /// ... and never before this many seconds.
    #[arg(long, default_value_t = SilencePolicy::default().min_seconds)]
    pub silence_min_seconds: f64,
    /// Seconds between sweeps for silent hosts (0: no sweeps).
    #[arg(long, default_value_t = 60)]
    pub sweep_seconds: u64,
    /// POST each incident transition (opened, escalated, resolved) here as JSON with a
    /// Slack-compatible `text` field; repeatable. Retried with backoff, never holding up
    /// ingest; the `Idempotency-Key` header names the transition.
    #[arg(long, value_name = "URL")]
    pub webhook: Vec<String>,
    /// Host incidents of one kind make one fleet incident (told instead of each host's)
    /// when at least this many hosts...
    #[arg(long, default_value_t = FleetPolicy::default().min_hosts)]
    pub fleet_min_hosts: usize,
    /// ... and this share of the fleet (0-1)...
    #[arg(long, default_value_t = FleetPolicy::default().min_share)]
    pub fleet_min_share: f64,
    /// ... open them within this many seconds.
    #[arg(long, default_value_t = FleetPolicy::default().window_seconds)]
    pub fleet_window_seconds: f64,
    /// Seconds a host incident's notifications wait before they go out, so the first hosts
    /// of a fleet episode are told as the fleet incident (0: at once).
    #[arg(long, default_value_t = FleetPolicy::default().hold_seconds)]
    pub fleet_hold_seconds: f64,
    /// With peer groups in the model, a host is a `peer_deviation` when its CPU or memory
    /// moved, relative to its group, by this share of the group's level...
    #[arg(long, default_value_t = PeerDeviationPolicy::default().min_share)]
    pub peer_min_share: f64,
    /// ... and by this many percentage points...
    #[arg(long, default_value_t = PeerDeviationPolicy::default().min_points)]
    pub peer_min_points: f64,
    /// ... while the group's own typical move stays within this share of its level...
    #[arg(long, default_value_t = PeerDeviationPolicy::default().group_share)]
    pub peer_group_share: f64,
    /// ... and at least this many of the group's hosts report.
    #[arg(long, default_value_t = PeerDeviationPolicy::default().min_hosts)]
    pub peer_min_hosts: usize,
    /// An open deviation resolves once the move is below this share of the threshold.
    #[arg(long, default_value_t = PeerDeviationPolicy::default().release)]
    pub peer_release: f64,
    /// A sample stamped more than this many seconds ahead of this server's clock is
    /// refused (400 naming `timestamp`): a sender whose clock is wrong cannot freeze its host.
    #[arg(long, default_value_t = 900)]
    pub max_future_seconds: u64,
    /// Host states kept in memory at most; past it one is dropped (it is restored from its
    /// snapshot and the stored metrics when its host posts again).
    #[arg(long, default_value_t = ServiceConfig::default().state_cache_hosts)]
    pub state_cache_hosts: usize,
}

/// How a server is set up besides its store and engine.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Largest request body accepted (413 above it).
    pub max_body_bytes: usize,
    /// The key writes need, if any.
    pub api_key: Option<String>,
    /// When a host that stopped reporting is silent.
    pub silence: SilencePolicy,
    /// When host incidents make a fleet incident.
    pub fleet: FleetPolicy,
    /// When a host has departed from its peer group.
    pub peer_deviation: PeerDeviationPolicy,
    /// Where incident transitions are sent.
    pub notifications: Option<Dispatcher>,
    /// How far ahead of this server's clock a sample may be.
    pub max_future_skew: Duration,
    /// Host states kept in memory at most.
    pub state_cache_hosts: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            max_body_bytes: 64 * 1024,
            api_key: None,
            silence: SilencePolicy::default(),
            fleet: FleetPolicy::default(),
            peer_deviation: PeerDeviationPolicy::default(),
            notifications: None,
            max_future_skew: ServiceConfig::default().max_future_skew,
            state_cache_hosts: ServiceConfig::default().state_cache_hosts,
        }
    }
}

/// `--durability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Durability {
    /// SQLite `synchronous = FULL`.
    Full,
    /// SQLite `synchronous = NORMAL`.
    Normal,
}

/// The model the server scores with, as the dashboard and /health describe it.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    /// The version recorded with every insight.
    pub version: String,
    /// One line for people.
    pub description: String,
}

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    service: Arc<Service>,
    hosts: Arc<HostIndex>,
    api_key: Option<Arc<str>>,
    engine: Arc<EngineConfig>,
    model: Arc<ModelInfo>,
}

/// What a server scores with: the engine's parameters, the fleet forest beside them (if
/// any), and how the dashboard and /health describe them.
#[derive(Debug)]
pub struct ServedEngine {
    /// The engine's checked parameters.
    pub config: EngineConfig,
    /// The fleet forest.
    pub forest: Option<HostForest>,
    /// One line for people.
    pub description: String,
}

impl AppState {
    /// A server over `store`, scoring with `engine`.
    pub async fn new(
        store: Arc<SqliteStore>,
        engine: ServedEngine,
        options: ServeOptions,
    ) -> Result<Self> {
        let ServeOptions {
            max_body_bytes,
            api_key,
            silence,
            fleet,
            peer_deviation,
            notifications,
            max_future_skew,
            state_cache_hosts,
        } = options;
        let hosts = HostIndex::load(store.as_ref()).await?;
        let scorer = BuiltinScorer::new(engine.config.clone()).with_forest(engine.forest);
        let model = ModelInfo {
            version: scorer.version().to_owned(),
            description: engine.description,
        };
        // This process is the store's only writer: host states live in memory and are
        // snapshotted now and then (metrics and insights are still committed per request).
        let config = ServiceConfig {
            max_body_bytes,
            snapshots: Some(SnapshotPolicy::default()),
            silence,
            fleet,
            peer_deviation,
            max_future_skew,
            state_cache_hosts,
            ..ServiceConfig::default()
        };
        let mut service =
            Service::with_scorer(store, Arc::new(scorer), config).watching_from_start();
        if let Some(dispatcher) = notifications {
            service = service.with_notifications(dispatcher);
        }
        Ok(AppState {
            service: Arc::new(service),
            hosts: Arc::new(hosts),
            api_key: api_key.filter(|k| !k.is_empty()).map(Arc::from),
            engine: Arc::new(engine.config),
            model: Arc::new(model),
        })
    }

    /// Snapshots every host state ahead of its last snapshot (at shutdown: a restart then
    /// replays nothing).
    pub async fn flush(&self) -> Result<usize> {
        self.service
            .flush_snapshots()
            .await
            .context("cannot save the host states")
    }

    /// Runs a sweep for silent hosts every `every`, and sends the outbox's due
    /// notifications as often (every quarter of the fleet hold, at least every second, when
    /// host pages are held), until dropped (aborted): each host back gets a line in the log
    /// (each newly silent one gets the service's).
    pub async fn sweep_every(self, every: Duration) {
        let hold = self.service.config().fleet.hold_seconds;
        let outbox_every = if hold > 0.0 {
            every.min(Duration::from_secs_f64((hold / 4.0).max(1.0)))
        } else {
            every
        };
        let mut ticks = tokio::time::interval(outbox_every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut swept: Option<tokio::time::Instant> = None;
        loop {
            ticks.tick().await;
            if swept.is_none_or(|at| at.elapsed() >= every) {
                swept = Some(tokio::time::Instant::now());
                self.sweep_once().await;
            }
            if let Err(e) = self.service.resend_outbox().await {
                tracing::warn!(error = %e, "outbox sweep failed");
            }
        }
    }

    async fn sweep_once(&self) {
        match self.service.sweep_silent_hosts().await {
            Ok(sweep) => {
                // (the service logs the silences it opens)
                for incident in &sweep.resolved {
                    tracing::warn!(
                        incident_id = %incident.incident_id,
                        hostname = %incident.hostname,
                        "reporting again"
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "silent-host sweep failed"),
        }
        // (the service logs the deviations it opens)
        if let Err(e) = self.service.sweep_peer_deviations().await {
            tracing::warn!(error = %e, "peer sweep failed");
        }
    }

    /// Ingests one POST /metrics body without HTTP (the demo) and keeps the dashboard's host
    /// list current, as [`api::note_host`] does for the API's.
    pub async fn ingest(&self, body: &[u8]) -> Result<IngestResponse, ServiceError> {
        let answer = self.service.ingest(body).await?;
        self.hosts.record(&answer.hostname, answer.timestamp);
        Ok(answer)
    }
}

/// The engine and its description: streaming models, plus the forest of `model` if given
/// (a `model.json`, or a directory holding one; read by [`iops_service::load_forest`]).
pub fn engine_with(model: Option<&Path>) -> Result<ServedEngine> {
    let forest = iops_service::load_forest(model)?;
    let description = match (model, &forest) {
        (Some(path), Some(forest)) => {
            forest_description(forest.model(), &format!("from {}", path.display()))
        }
        _ => NO_FOREST.to_owned(),
    };
    Ok(ServedEngine {
        config: EngineConfig::default(),
        forest,
        description,
    })
}

/// The description of an engine without a fleet forest.
pub const NO_FOREST: &str = "streaming per-metric models (rolling + seasonal); no fleet forest";

/// "streaming per-metric models + fleet forest of N trees (created …, from …)".
pub fn forest_description(artifact: &ModelArtifact, origin: &str) -> String {
    format!(
        "streaming per-metric models (rolling + seasonal) + fleet forest of {} trees over {} (created {}, {origin})",
        artifact.forest().n_trees(),
        artifact.feature_names().join(", "),
        artifact.created_at().date()
    )
}

/// Opens the SQLite store with the durability asked for.
pub fn open_store(path: &Path, durability: Durability) -> Result<Arc<SqliteStore>> {
    let options = SqliteOptions {
        synchronous: match durability {
            Durability::Full => Synchronous::Full,
            Durability::Normal => Synchronous::Normal,
        },
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open_with(path, options)
        .with_context(|| format!("cannot open the database {}", path.display()))?;
    Ok(Arc::new(store))
}

/// The router: the API's (with the API key, if set, and the host list's layer), plus
/// /health and the dashboard.
pub fn app(state: AppState) -> Router {
    let api = Api::new(Arc::clone(&state.service))
        .with_api_key(state.api_key.as_deref())
        .router()
        .layer(from_fn_with_state(Arc::clone(&state.hosts), api::note_host));
    Router::new()
        .route("/health", get(api::health))
        .route("/", get(dashboard::overview))
        .route("/hosts/{hostname}", get(dashboard::host_page))
        .with_state(state)
        .merge(api)
}

/// Serves [`app`] on `listener` until `shutdown` completes, then stops accepting and waits
/// for requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    iops_http::serve(listener, app(state), shutdown).await
}

/// The server's log (the API's 5xx details, a host state started afresh): WARN and above,
/// plain lines on stderr.
pub fn log_to_stderr() {
    let subscriber = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing_subscriber::filter::LevelFilter::WARN)
        .with_target(false)
        .without_time()
        .finish();
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// `iops serve`.
pub fn run(args: &ServeArgs) -> Result<()> {
    log_to_stderr();
    let silence = SilencePolicy {
        intervals: args.silence_intervals,
        min_seconds: args.silence_min_seconds,
    };
    silence.validate()?;
    let fleet = FleetPolicy {
        min_hosts: args.fleet_min_hosts,
        min_share: args.fleet_min_share,
        window_seconds: args.fleet_window_seconds,
        hold_seconds: args.fleet_hold_seconds,
    };
    fleet.validate()?;
    let peer_deviation = PeerDeviationPolicy {
        min_share: args.peer_min_share,
        min_points: args.peer_min_points,
        group_share: args.peer_group_share,
        min_hosts: args.peer_min_hosts,
        release: args.peer_release,
    };
    peer_deviation.validate()?;
    if fleet.hold_seconds > 0.0 && args.sweep_seconds == 0 {
        anyhow::bail!(
            "--fleet-hold-seconds {} needs the sweep (--sweep-seconds above 0): held pages are sent by it",
            fleet.hold_seconds
        );
    }
    let webhooks = args
        .webhook
        .iter()
        .map(|url| Webhook::new(url).map(|w| Arc::new(w) as Arc<dyn Notifier>))
        .collect::<Result<Vec<_>>>()?;
    let engine = engine_with(args.model.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let store = open_store(&args.db, args.durability)?;
    runtime.block_on(async {
        let notifications =
            (!webhooks.is_empty()).then(|| Dispatcher::start(webhooks, RetryPolicy::default()).0);
        let options = ServeOptions {
            max_body_bytes: args.max_body_bytes,
            api_key: args.api_key.clone(),
            silence,
            fleet,
            peer_deviation,
            notifications: notifications.clone(),
            max_future_skew: Duration::from_secs(args.max_future_seconds),
            state_cache_hosts: args.state_cache_hosts,
        };
        let state = AppState::new(Arc::clone(&store), engine, options).await?;
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .with_context(|| format!("cannot bind {}", args.addr))?;
        let local = listener.local_addr().context("no local address")?;
        eprintln!(
            "iops serve: database {} ({} hosts), model {}",
            args.db.display(),
            state.hosts.len(),
            state.model.version
        );
        if state.api_key.is_some() {
            eprintln!("writes need the x-api-key header");
        }
        // The line scripts and tests wait for: the bound address.
        println!("listening on http://{local}");
        println!("dashboard: http://{local}/");
        let sweeper = (args.sweep_seconds > 0).then(|| {
            let every = Duration::from_secs(args.sweep_seconds);
            tokio::spawn(state.clone().sweep_every(every))
        });
        let served = serve(listener, state.clone(), shutdown_signal()).await;
        if let Some(sweeper) = sweeper {
            sweeper.abort();
        }
        served.context("server error")?;
        let saved = state.flush().await?;
        eprintln!("saved {saved} host states");
        if let Some(dispatcher) = notifications {
            let left = dispatcher.drain(Duration::from_secs(5)).await;
            if left > 0 {
                eprintln!("{left} notifications not delivered (their receivers did not answer)");
            }
        }
        Ok::<(), anyhow::Error>(())
    })?;
    drop(runtime);
    // The last handle: the writer thread commits what it holds, then stops.
    drop(store);
    eprintln!("stopped: requests in flight answered, database closed");
    Ok(())
}
