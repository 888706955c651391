//! The ingest pipeline: validate, store the metric, score it against the host's state,
//! save the state (compare-and-swap) with the insights, answer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use iops_core::engine::HostState;
use iops_core::peers::PeerDeviationPolicy;
use iops_core::{
    validate_hostname, FleetPolicy, Incident, IncidentStatus, MetricSample, SilencePolicy,
    Timestamp,
};
use iops_store::{
    ids, IncidentQuery, ModelSource, PutMetric, StateUpdate, Store, StoreError, StoredInsight,
    StoredMetric, StoredState,
};
use serde::Serialize;
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

use crate::notify::Dispatcher;
use crate::reorder::{self, Arrival, Ledger};
use crate::{BuiltinScorer, Scored, Scorer, ServiceError};

mod batch;
mod declared;
mod feedback;
mod fleet;
mod hosts;
mod outbox;
mod peer_sweep;
mod quiet;
mod replay;
mod silence;
mod snapshot;

pub use batch::{BatchItem, BatchResponse, ItemError, BATCH_MESSAGE};
pub use hosts::{GroupSource, HostGroup, HostList, HostView};
pub use outbox::RESEND_AFTER_SECONDS;
pub use peer_sweep::PeerSweep;
pub use quiet::QuietList;
pub use replay::{HostReplay, IncidentSpan, ReplayCounts, ReplayReport, ReplayRequest};
pub use silence::SilenceSweep;
pub use snapshot::SnapshotPolicy;

/// The success message the runbook expects.
pub const STORED_MESSAGE: &str = "Metric stored successfully";

/// Limits of the service.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceConfig {
    /// Largest single-sample request body accepted (413 above it).
    pub max_body_bytes: usize,
    /// Largest batch body (a JSON array of samples) accepted (413 above it). Default 1 MiB.
    pub max_batch_bytes: usize,
    /// Most samples a batch may hold (413 above it). Default 1,000.
    pub max_batch_samples: usize,
    /// Compare-and-swap attempts on a host's state before answering 503.
    pub cas_attempts: u32,
    /// Items a list answers when the request names no limit.
    pub default_list_limit: usize,
    /// Largest limit a list request may ask for.
    pub max_list_limit: usize,
    /// Decoded host states kept in memory (the hot path skips decoding the stored state);
    /// 0 disables the cache. A warm state is about 29 KB. In snapshot mode these are the live
    /// states: one dropped to make room is restored from its snapshot and the stored metrics
    /// when its host posts again (tested to give the same answers and states).
    pub state_cache_hosts: usize,
    /// How late (event time, behind the host's newest learned sample) a sample may arrive
    /// and still be learned; older ones are scored on a copy of the state and not learned,
    /// so a backfill cannot pollute the current model. Default 10 minutes: two samples at
    /// the runbook's 5-minute interval, as far as the seasonal model's default
    /// `season_jitter` (2 slots) looks either way. `Duration::ZERO` learns in-order
    /// samples only. A host whose samples are further apart gets [`REORDER_INTERVALS`] of
    /// its intervals instead (once the engine knows them): a sample of an hourly series
    /// that is one place late is an hour late. The engine's models are indexed by time, so
    /// a sample not learned is missing, not a shift; disorder still costs detection, a
    /// wider window less (docs/performance.md, examples/nab_jitter.rs).
    pub reorder_window: Duration,
    /// `None` (the default): save a host's state with every ingest (compare-and-swap, safe
    /// with many writer processes: the Lambda). `Some`: keep states in memory and snapshot
    /// them by this policy, replaying the stored metrics after a restart; only for a store
    /// that this process alone writes (`iops serve`). See [`SnapshotPolicy`].
    pub snapshots: Option<SnapshotPolicy>,
    /// When a host that stopped reporting is silent ([`Service::sweep_silent_hosts`]).
    pub silence: SilencePolicy,
    /// When a host has departed from its peer group ([`Service::sweep_peer_deviations`]).
    pub peer_deviation: PeerDeviationPolicy,
    /// How often the peer sweep runs (on the minutes of the receiving clock that are a
    /// multiple of it: stateless runtimes agree without memory). Default 15 minutes: a
    /// host's level relative to its group moves over hours, and each run reads every
    /// reporting host's state.
    pub peer_sweep_every: Duration,
    /// When host incidents of one kind make a fleet incident.
    pub fleet: FleetPolicy,
    /// How far ahead of this process's clock a sample's timestamp may be (400 naming
    /// `timestamp` beyond it). A sample from a sender whose clock is wrong by years would
    /// otherwise become its host's newest, and every real sample after it would be late
    /// and never learned. Default 15 minutes.
    pub max_future_skew: Duration,
    /// Longest maintenance window or mute accepted (400 naming `end` beyond it), and how
    /// long after its end a window still covers late samples. Default 7 days.
    pub max_quiet_seconds: f64,
    /// How long this process trusts the maintenance windows and mutes it read before it
    /// reads them again (another process may have declared one). Default 30 s.
    pub quiet_refresh: Duration,
    /// Longest stretch `POST /replay` replays (400 naming `since` beyond it). Default 7 days.
    pub max_replay_seconds: f64,
    /// A notification still in the outbox this long after it was written is given up:
    /// logged as an error and removed (the sweep stops sending it). Default 1 day.
    pub outbox_give_up: Duration,
}

/// `seconds` for people: "45 s", "15 min", "3.5 h", "2.0 days", "7999 years".
fn human_seconds(seconds: f64) -> String {
    const MINUTE: f64 = 60.0;
    const HOUR: f64 = 3600.0;
    const DAY: f64 = 86_400.0;
    const YEAR: f64 = 365.25 * DAY;
    match seconds {
        s if s < MINUTE => format!("{s:.0} s"),
        s if s < HOUR => format!("{:.0} min", s / MINUTE),
        s if s < DAY => format!("{:.1} h", s / HOUR),
        s if s < YEAR => format!("{:.1} days", s / DAY),
        s => format!("{:.0} years", s / YEAR),
    }
}

/// A host's reorder window is at least this many of its intervals (see
/// [`ServiceConfig::reorder_window`]).
pub const REORDER_INTERVALS: f64 = 2.0;

/// The reorder window of a host sampled every `cadence` seconds: the configured one, or
/// [`REORDER_INTERVALS`] intervals when longer; zero stays zero (in-order samples only).
pub fn host_reorder_window(configured: Duration, cadence: Option<f64>) -> Duration {
    let intervals = cadence
        .filter(|_| !configured.is_zero())
        .and_then(|c| Duration::try_from_secs_f64(REORDER_INTERVALS * c).ok())
        .unwrap_or(Duration::ZERO);
    configured.max(intervals)
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            max_body_bytes: 64 * 1024,
            max_batch_bytes: 1024 * 1024,
            max_batch_samples: 1000,
            cas_attempts: 16,
            default_list_limit: 1000,
            max_list_limit: 10_000,
            state_cache_hosts: 4096,
            reorder_window: Duration::from_secs(600),
            snapshots: None,
            silence: SilencePolicy::default(),
            peer_deviation: PeerDeviationPolicy::default(),
            peer_sweep_every: Duration::from_secs(15 * 60),
            fleet: FleetPolicy::default(),
            max_future_skew: Duration::from_secs(15 * 60),
            max_quiet_seconds: 7.0 * 86_400.0,
            quiet_refresh: Duration::from_secs(30),
            max_replay_seconds: 7.0 * 86_400.0,
            outbox_give_up: Duration::from_secs(86_400),
        }
    }
}

/// What happened to an ingested sample. Every stored sample is scored once (see
/// [`Service::ingest`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestOutcome {
    /// Newer than anything the host's state had learned: stored, scored and learned.
    Scored,
    /// Older than the newest sample the host's state had learned: stored and scored.
    /// `learned`: it was at most [`ServiceConfig::reorder_window`] late, and the state
    /// learned it; otherwise it was scored on a copy of the state, which did not change.
    ScoredLate {
        /// True when the host's state learned the sample.
        learned: bool,
    },
    /// Already stored and scored before (same hostname + timestamp): nothing changed; the
    /// answer repeats the insights that sample raised.
    Duplicate,
}

impl IngestOutcome {
    /// A short name for logs and metrics: `scored`, `scored_late`, `scored_too_late`
    /// (not learned) or `duplicate`.
    pub fn as_str(self) -> &'static str {
        match self {
            IngestOutcome::Scored => "scored",
            IngestOutcome::ScoredLate { learned: true } => "scored_late",
            IngestOutcome::ScoredLate { learned: false } => "scored_too_late",
            IngestOutcome::Duplicate => "duplicate",
        }
    }
}

/// The answer to a POST /metrics.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IngestResponse {
    /// Always [`STORED_MESSAGE`].
    pub message: &'static str,
    /// The stored metric's id: the same for every post of the same hostname + timestamp.
    pub metric_id: String,
    /// Insights the sample raised (repeated for a duplicate).
    pub insights: Vec<StoredInsight>,
    /// What happened (not on the wire).
    #[serde(skip)]
    pub outcome: IngestOutcome,
    /// True when the host's stored state could not be decoded (written by an incompatible
    /// version) and was started afresh; [`Service::ingest`] has logged a WARN (not on the wire).
    #[serde(skip)]
    pub state_reset: bool,
    /// The model that scored the sample; `None` when this request did not score it
    /// (duplicate).
    /// Not on the wire: for the adapter's metrics.
    #[serde(skip)]
    pub scored_by: Option<ModelSource>,
    /// True when the scorer fell back from the model the request was routed to (see
    /// [`crate::Scored::fallback`]). Not on the wire.
    #[serde(skip)]
    pub fallback: bool,
    /// How many samples the host's state had learned when it scored this one (when the
    /// outcome learned it, it became sample number `scored_after + 1`); `None` for a
    /// duplicate. Not on the wire: it orders a replay of the host's stream.
    #[serde(skip)]
    pub scored_after: Option<u64>,
    /// The sample's host. Not on the wire: for the adapter (`iops serve`'s host list).
    #[serde(skip)]
    pub hostname: String,
    /// The sample's time. Not on the wire.
    #[serde(skip)]
    pub timestamp: Timestamp,
}

impl IngestResponse {
    /// The wire JSON: `{"message":"Metric stored successfully","metricId":"...","insights":[...]}`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The answer for `sample`, stored as `put`, scored (or not) as `outcome` says.
    fn new(sample: MetricSample, put: PutMetric, outcome: ScoreOutcome) -> Self {
        IngestResponse {
            message: STORED_MESSAGE,
            metric_id: put.metric_id,
            insights: outcome.insights,
            outcome: outcome.outcome,
            state_reset: outcome.state_reset,
            scored_by: outcome.scored_by,
            fallback: outcome.fallback,
            scored_after: outcome.scored_after,
            hostname: sample.hostname,
            timestamp: sample.timestamp,
        }
    }
}

/// A parsed `?hostname=&since=&limit=` query.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    /// The host.
    pub hostname: String,
    /// Only records at or after this time (default: all).
    pub since: Timestamp,
    /// At most this many records.
    pub limit: usize,
}

/// The answer to GET /metrics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricList {
    /// Oldest first.
    pub metrics: Vec<StoredMetric>,
}

/// The answer to GET /incidents: `{"incidents":[...]}`, newest opened first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentList {
    /// The incidents.
    pub incidents: Vec<Incident>,
}

/// The answer to GET /insights.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InsightList {
    /// Oldest first.
    pub insights: Vec<StoredInsight>,
}

/// The pipeline. Cheap to share behind an `Arc`; every method takes `&self`.
#[derive(Debug)]
pub struct Service {
    store: Arc<dyn Store>,
    scorer: Arc<dyn Scorer>,
    config: ServiceConfig,
    /// One lock per host with requests in flight: ingests of one host in this process run
    /// one at a time, so they never race each other's compare-and-swap (the CAS still
    /// guards against other processes, e.g. concurrent Lambda instances).
    hosts: Mutex<HashMap<String, Arc<AsyncMutex<()>>>>,
    /// Decoded states this process saved last, by host. An ingest takes its host's entry
    /// out (under the host's lock) and puts it back only after its save succeeded, so an
    /// entry is always the state of the version this process wrote. If another process
    /// wrote since, the save against the cached version is a conflict, and the retry
    /// loads from the store.
    states: Mutex<HashMap<String, CachedState>>,
    /// Snapshot mode's in-memory states, by host (see [`SnapshotPolicy`]).
    live: Mutex<HashMap<String, snapshot::LiveState>>,
    /// Hosts' sample intervals, once known (for the silence sweep; they do not change).
    intervals: Mutex<HashMap<String, f64>>,
    /// Where incident transitions are sent (none: nobody is told).
    notifications: Option<Dispatcher>,
    /// Hosts in the fleet as last counted (0: not yet), for fleet incidents' share.
    fleet_hosts: AtomicUsize,
    /// The receiving clock samples may not be too far ahead of (tests set their own).
    clock: fn() -> SystemTime,
    /// When this process last received a sample (ms since the epoch by `clock`;
    /// `i64::MIN`: none yet), for the sweep to tell a fleet that stopped sending.
    last_arrival: AtomicI64,
    /// Where a fleet that sends nothing is counted from when no arrival is known yet
    /// ([`Service::watching_from_start`]).
    watch_from: Option<Timestamp>,
    /// Maintenance windows and mutes as last read.
    quiet: Mutex<declared::Declared<quiet::QuietWindows>>,
    /// The operator's labels, as each host's cut-off raises, as last read.
    labels: Mutex<declared::Declared<feedback::Raises>>,
}

/// A host's decoded state as of the version this process saved.
#[derive(Debug)]
struct CachedState {
    version: u64,
    last_timestamp: Timestamp,
    /// Boxed: moved around whole, and a state is large.
    state: Box<HostState>,
    /// Which late samples it learned.
    ledger: Ledger,
}

impl Service {
    /// The service with the built-in engine and default limits.
    pub fn new(store: Arc<dyn Store>, engine: iops_core::engine::EngineConfig) -> Self {
        Self::with_scorer(
            store,
            Arc::new(BuiltinScorer::new(engine)),
            ServiceConfig::default(),
        )
    }

    /// The service with any scorer (the canary seam) and limits.
    pub fn with_scorer(
        store: Arc<dyn Store>,
        scorer: Arc<dyn Scorer>,
        config: ServiceConfig,
    ) -> Self {
        Service {
            store,
            scorer,
            config,
            hosts: Mutex::new(HashMap::new()),
            states: Mutex::new(HashMap::new()),
            live: Mutex::new(HashMap::new()),
            intervals: Mutex::new(HashMap::new()),
            notifications: None,
            fleet_hosts: AtomicUsize::new(0),
            clock: SystemTime::now,
            last_arrival: AtomicI64::new(i64::MIN),
            watch_from: None,
            quiet: Mutex::new(declared::Declared::default()),
            labels: Mutex::new(declared::Declared::default()),
        }
    }

    /// Judges how far ahead samples are, and when they arrive, against `clock` instead of
    /// the system's (tests).
    pub fn with_clock(mut self, clock: fn() -> SystemTime) -> Self {
        self.clock = clock;
        self
    }

    /// A process that is the fleet's only receiver (`iops serve`): if nothing arrives
    /// after it starts, the fleet's silence counts from the start, so a restart that the
    /// fleet does not come back to is reported like a fleet that stopped.
    pub fn watching_from_start(mut self) -> Self {
        self.watch_from = Some(self.now());
        self
    }

    /// Now, by the receiving clock.
    pub fn now(&self) -> Timestamp {
        let secs = (self.clock)()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        Timestamp::from_epoch_seconds(secs).unwrap_or(Timestamp::MAX)
    }

    /// Records that a sample arrived now.
    fn note_arrival(&self) {
        let ms = (self.now().epoch_seconds() * 1000.0) as i64;
        self.last_arrival.fetch_max(ms, Ordering::Relaxed);
    }

    /// When this process last received a sample (`None`: not since it started).
    pub(crate) fn last_arrival(&self) -> Option<Timestamp> {
        let ms = self.last_arrival.load(Ordering::Relaxed);
        (ms != i64::MIN)
            .then(|| Timestamp::from_epoch_seconds(ms as f64 / 1000.0).ok())
            .flatten()
    }

    /// A sample stamped further ahead of the receiving clock than
    /// [`ServiceConfig::max_future_skew`] is refused, naming `timestamp`.
    fn check_not_ahead(&self, sample: &MetricSample) -> Result<(), ServiceError> {
        let now = (self.clock)()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let ahead = sample.timestamp.epoch_seconds() - now;
        let limit = self.config.max_future_skew.as_secs_f64();
        if ahead <= limit {
            return Ok(());
        }
        Err(ServiceError::Invalid {
            field: "timestamp".into(),
            reason: format!(
                "{} is {} ahead of this server's clock; at most {} ahead is accepted \
                 (check the sender's clock)",
                sample.timestamp,
                human_seconds(ahead),
                human_seconds(limit)
            ),
        })
    }

    /// Sends every incident transition (opened, escalated, resolved; silent hosts too) to
    /// `dispatcher`, after the change is stored and without waiting for delivery.
    pub fn with_notifications(mut self, dispatcher: Dispatcher) -> Self {
        dispatcher.record_deliveries(Arc::new(outbox::OutboxLog(Arc::clone(&self.store))));
        self.notifications = Some(dispatcher);
        self
    }

    /// Where incident transitions are sent, if anywhere.
    pub fn notifications(&self) -> Option<&Dispatcher> {
        self.notifications.as_ref()
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The limits.
    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    /// Handles the body of a POST /metrics.
    ///
    /// 1. Parse and validate; on error nothing is stored (400 naming the field).
    /// 2. Store the metric (idempotent on hostname + timestamp; the first write wins).
    /// 3. Load the host's state. If the state learned the sample already, stop: it is a
    ///    duplicate (answer the insights it raised).
    /// 4. A sample newer than the state's newest, or late by at most
    ///    [`ServiceConfig::reorder_window`]: score and learn it; save the state (its newest
    ///    timestamp stays the latest) if nobody saved another version meanwhile, atomically
    ///    with the insights and the record of what it learned; on a conflict, reload and
    ///    redo from 3.
    /// 5. A sample later than that: if this request stored it, score it on a copy of the
    ///    state (not learned: a backfill cannot pollute the current model) and store its
    ///    insights (idempotent ids); else it is a duplicate.
    ///
    /// So every stored sample is scored, and learned at most once. A duplicate whose first
    /// post was stored but never scored (the process died between 2 and 4) is not in the
    /// state's record, so step 4 scores it now. (One that died between 2 and 5 stays
    /// unscored: a duplicate of a too-old sample cannot tell "scored, raised nothing"
    /// from "never scored".)
    pub async fn ingest(&self, body: &[u8]) -> Result<IngestResponse, ServiceError> {
        if body.len() > self.config.max_body_bytes {
            return Err(ServiceError::TooLarge {
                size: body.len(),
                limit: self.config.max_body_bytes,
            });
        }
        let sample = MetricSample::from_json(body).map_err(|e| ServiceError::invalid(e, "body"))?;
        self.check_not_ahead(&sample)?;
        self.note_arrival();
        // Lock before storing: in this process the first post of a sample is the one that
        // stores it and the one that scores it, so outcomes are exact.
        let lock = self.lock_host(&sample.hostname).await;
        let result = self.store_and_score(&sample).await;
        drop(lock);
        self.unlock_host(&sample.hostname);
        let (put, scored) = result?;
        if scored.state_reset {
            // Nothing of the sample is lost, but the host's history is: worth a line in
            // every runtime's log.
            tracing::warn!(
                hostname = %sample.hostname,
                metric_id = %put.metric_id,
                "host state could not be decoded (older format?); started afresh"
            );
        }
        Ok(IngestResponse::new(sample, put, scored))
    }

    async fn store_and_score(
        &self,
        sample: &MetricSample,
    ) -> Result<(PutMetric, ScoreOutcome), ServiceError> {
        if let Some(policy) = self.config.snapshots {
            return self.store_and_score_live(sample, policy).await;
        }
        let put = self.store.put_metric(sample).await?;
        let scored = self.score_and_save(sample, put.inserted).await?;
        Ok((put, scored))
    }

    async fn score_and_save(
        &self,
        sample: &MetricSample,
        inserted: bool,
    ) -> Result<ScoreOutcome, ServiceError> {
        let host = &sample.hostname;
        let window = self.config.reorder_window;
        let mut cached = self.take_cached(host);
        for _ in 0..self.config.cas_attempts {
            let loaded = self.load(host, &mut cached).await?;
            let last = loaded.last_timestamp();
            let ledger = loaded.ledger();
            let mut arrival = ledger.classify(sample.timestamp, last, window);
            if arrival == Arrival::TooOld {
                // too old for the configured window, perhaps not for the host's cadence
                let wider = host_reorder_window(window, loaded.cadence());
                if wider > window {
                    arrival = ledger.classify(sample.timestamp, last, wider);
                }
            }
            let (learn, too_old) = match arrival {
                Arrival::InOrder | Arrival::Late => (true, false),
                Arrival::TooOld if inserted => (false, true),
                // Learned already, or too old and stored (so scored) by an earlier post:
                // answer the insights it raised. (Across processes, a concurrent first
                // post may not have saved them yet.)
                Arrival::Learned | Arrival::TooOld => (false, false),
            };
            if !learn && !too_old {
                if let Loaded::Cached(c) = loaded {
                    self.put_cached(host, c);
                }
                return Ok(ScoreOutcome::duplicate(self.insights_of(sample).await?));
            }
            let (expected_version, mut state, state_reset) = match loaded {
                Loaded::Cached(c) if too_old => {
                    // scored on a copy; the cached state stays as it is
                    let copy = c.state.clone();
                    self.put_cached(host, c);
                    (0, copy, false)
                }
                loaded => self.state_of(loaded)?,
            };
            if too_old {
                return self
                    .score_without_learning(&mut state, sample, state_reset)
                    .await;
            }
            let scored_after = state.n_seen();
            let scored = self.score(&mut state, sample).await?;
            let insights = stored_insights(sample, &scored);
            let incident = self.recorded_incident(&scored, &insights, &[]).await?;
            // An undecodable state restarts, and so does its knowledge of what was learned.
            let mut ledger = match (state_reset, last) {
                (true, Some(last)) => Ledger::unknown_up_to(last),
                _ => ledger,
            };
            let last_timestamp = last.map_or(sample.timestamp, |l| l.max(sample.timestamp));
            ledger.record(
                sample.timestamp,
                last_timestamp,
                host_reorder_window(window, state.cadence()),
            );
            let update = StateUpdate {
                hostname: host.clone(),
                expected_version,
                last_timestamp,
                state: reorder::encode(&state, &ledger).map_err(encode_error)?,
                insights: insights.clone(),
                incidents: incident.clone().into_iter().collect(),
                received: Some(self.now()),
            };
            match self.store.save_state(update).await {
                Ok(version) => {
                    self.incident_changed(scored.assessment.incident_change, incident.as_ref())
                        .await;
                    self.put_cached(
                        host,
                        CachedState {
                            version,
                            last_timestamp,
                            state,
                            ledger,
                        },
                    );
                    let outcome = match arrival {
                        Arrival::Late => IngestOutcome::ScoredLate { learned: true },
                        _ => IngestOutcome::Scored,
                    };
                    return Ok(ScoreOutcome {
                        outcome,
                        insights,
                        state_reset,
                        scored_by: Some(scored.source),
                        fallback: scored.fallback,
                        scored_after: Some(scored_after),
                    });
                }
                Err(StoreError::Conflict { .. }) => tokio::task::yield_now().await,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Contention {
            hostname: host.clone(),
            attempts: self.config.cas_attempts,
        })
    }

    /// Scores `sample` with the service's scorer, its host's cut-offs raised by the
    /// operator's labels, unless its host is in maintenance at its time: then the state is
    /// left as it was and nothing is raised.
    pub(super) async fn score(
        &self,
        state: &mut HostState,
        sample: &MetricSample,
    ) -> Result<Scored, ServiceError> {
        if self
            .in_maintenance(&sample.hostname, sample.timestamp)
            .await
        {
            return Ok(Scored {
                assessment: iops_core::engine::Assessment::default(),
                source: ModelSource::Builtin,
                version: String::new(),
                fallback: false,
            });
        }
        state.set_desensitised(self.desensitisation_of(&sample.hostname).await);
        self.scorer.score(state, sample).await
    }

    /// The host's state as this process cached it when it wrote it last (`cached`, taken:
    /// only a first attempt has it, a conflict means another writer saved since), else the
    /// store's.
    async fn load(
        &self,
        host: &str,
        cached: &mut Option<CachedState>,
    ) -> Result<Loaded, ServiceError> {
        Ok(match cached.take() {
            Some(c) => Loaded::Cached(c),
            None => match self.store.load_state(host).await? {
                Some(stored) => Loaded::Stored(stored),
                None => Loaded::None,
            },
        })
    }

    /// The loaded state to score with: the version it was saved as, the state, and `true`
    /// when the stored one could not be decoded and the state starts afresh.
    fn state_of(&self, loaded: Loaded) -> Result<(u64, Box<HostState>, bool), ServiceError> {
        Ok(match loaded {
            Loaded::Cached(c) => (c.version, c.state, false),
            Loaded::Stored(stored) => match decode_state(&stored.state) {
                Some(state) => (stored.version, Box::new(state), false),
                None => (stored.version, Box::new(self.scorer.new_state()?), true),
            },
            Loaded::None => (0, Box::new(self.scorer.new_state()?), false),
        })
    }

    /// Scores a sample too late to be learned on `copy` (a copy of the host's state, thrown
    /// away after) and stores its insights, outside any incident: idempotent, a retry
    /// stores nothing twice (deterministic insight ids).
    async fn score_without_learning(
        &self,
        copy: &mut HostState,
        sample: &MetricSample,
        state_reset: bool,
    ) -> Result<ScoreOutcome, ServiceError> {
        let scored_after = copy.n_seen();
        let scored = self.score(copy, sample).await?;
        let mut insights = stored_insights(sample, &scored);
        // The copy's incident is not the host's (the copy is dropped): these insights
        // belong to no stored incident.
        for i in &mut insights {
            i.insight.incident_id = None;
        }
        self.store.put_insights(&insights).await?;
        Ok(ScoreOutcome {
            outcome: IngestOutcome::ScoredLate { learned: false },
            insights,
            state_reset,
            scored_by: Some(scored.source),
            fallback: scored.fallback,
            scored_after: Some(scored_after),
        })
    }

    /// The insights stored for exactly this sample.
    async fn insights_of(&self, sample: &MetricSample) -> Result<Vec<StoredInsight>, ServiceError> {
        let mut found = self
            .store
            .list_insights(&sample.hostname, sample.timestamp, 64)
            .await?;
        found.retain(|i| i.insight.timestamp == sample.timestamp);
        Ok(found)
    }

    /// Parses the query of a GET /metrics or /insights; errors name `hostname`, `since` or
    /// `limit`. `since` is RFC 3339 or epoch seconds.
    pub fn parse_query(
        &self,
        hostname: Option<&str>,
        since: Option<&str>,
        limit: Option<&str>,
    ) -> Result<ListQuery, ServiceError> {
        let invalid = |field: &str, reason: String| ServiceError::Invalid {
            field: field.into(),
            reason,
        };
        let hostname = hostname.ok_or_else(|| invalid("hostname", "is required".into()))?;
        validate_hostname(hostname).map_err(|e| ServiceError::invalid(e, "hostname"))?;
        let since = parse_since(since)?.unwrap_or(Timestamp::MIN);
        let limit = self.parse_limit(limit)?;
        Ok(ListQuery {
            hostname: hostname.to_owned(),
            since,
            limit,
        })
    }

    /// Parses the query of a GET /incidents; errors name `status`, `hostname`, `since` or
    /// `limit`. Every field is optional: no `status` lists both, no `hostname` the fleet.
    pub fn parse_incident_query(
        &self,
        status: Option<&str>,
        hostname: Option<&str>,
        since: Option<&str>,
        limit: Option<&str>,
    ) -> Result<IncidentQuery, ServiceError> {
        let status = match status {
            None | Some("") => None,
            Some(s) => Some(
                s.parse::<IncidentStatus>()
                    .map_err(|e| ServiceError::invalid(e, "status"))?,
            ),
        };
        let hostname = match hostname {
            None | Some("") => None,
            Some(h) => {
                validate_hostname(h).map_err(|e| ServiceError::invalid(e, "hostname"))?;
                Some(h.to_owned())
            }
        };
        Ok(IncidentQuery {
            status,
            hostname,
            since: parse_since(since)?,
            limit: self.parse_limit(limit)?,
        })
    }

    /// `limit` of a list query: 1 to `max_list_limit`, `default_list_limit` when absent.
    fn parse_limit(&self, limit: Option<&str>) -> Result<usize, ServiceError> {
        let max = self.config.max_list_limit;
        match limit {
            None | Some("") => Ok(self.config.default_list_limit.min(max)),
            Some(s) => match s.parse::<usize>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(ServiceError::Invalid {
                    field: "limit".into(),
                    reason: format!("must be an integer from 1 to {max}, got {s:?}"),
                }),
            },
        }
    }

    /// GET /incidents: the incidents `query` selects, newest opened first.
    pub async fn list_incidents(
        &self,
        query: &IncidentQuery,
    ) -> Result<IncidentList, ServiceError> {
        Ok(IncidentList {
            incidents: self.store.list_incidents(query).await?,
        })
    }

    /// GET /incidents/{incidentId}: one incident, or [`ServiceError::NotFound`].
    pub async fn get_incident(&self, incident_id: &str) -> Result<Incident, ServiceError> {
        self.store
            .get_incident(incident_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound {
                what: "incident",
                id: incident_id.to_owned(),
            })
    }

    /// GET /metrics: the host's metrics since `query.since`, oldest first.
    pub async fn list_metrics(&self, query: &ListQuery) -> Result<MetricList, ServiceError> {
        Ok(MetricList {
            metrics: self
                .store
                .list_metrics(&query.hostname, query.since, query.limit)
                .await?,
        })
    }

    /// GET /insights: the host's insights since `query.since`, oldest first.
    pub async fn list_insights(&self, query: &ListQuery) -> Result<InsightList, ServiceError> {
        Ok(InsightList {
            insights: self
                .store
                .list_insights(&query.hostname, query.since, query.limit)
                .await?,
        })
    }

    fn take_cached(&self, hostname: &str) -> Option<CachedState> {
        if self.config.state_cache_hosts == 0 {
            return None;
        }
        let mut states = self.states.lock().unwrap_or_else(|e| e.into_inner());
        states.remove(hostname)
    }

    /// Caches a state this process just saved (or took out and did not change). When the
    /// cache is full, another host's entry makes room (that host reloads from the store).
    fn put_cached(&self, hostname: &str, cached: CachedState) {
        let cap = self.config.state_cache_hosts;
        if cap == 0 {
            return;
        }
        let mut states = self.states.lock().unwrap_or_else(|e| e.into_inner());
        if states.len() >= cap && !states.contains_key(hostname) {
            let victim = states.keys().next().cloned();
            if let Some(victim) = victim {
                states.remove(&victim);
            }
        }
        states.insert(hostname.to_owned(), cached);
    }

    async fn lock_host(&self, hostname: &str) -> OwnedMutexGuard<()> {
        let lock = {
            let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(hosts.entry(hostname.to_owned()).or_default())
        };
        lock.lock_owned().await
    }

    /// Forgets the host's lock when no other request holds or waits for it (clones are
    /// only taken under the map's lock, so a count of 1 means nobody else has it).
    fn unlock_host(&self, hostname: &str) {
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        if hosts
            .get(hostname)
            .is_some_and(|l| Arc::strong_count(l) == 1)
        {
            hosts.remove(hostname);
        }
    }
}

/// What scoring one sample did (the non-wire part of an [`IngestResponse`]).
#[derive(Clone)]
struct ScoreOutcome {
    outcome: IngestOutcome,
    insights: Vec<StoredInsight>,
    state_reset: bool,
    scored_by: Option<ModelSource>,
    fallback: bool,
    scored_after: Option<u64>,
}

impl ScoreOutcome {
    /// A duplicate's: the insights its first post raised.
    fn duplicate(insights: Vec<StoredInsight>) -> Self {
        ScoreOutcome {
            outcome: IngestOutcome::Duplicate,
            insights,
            state_reset: false,
            scored_by: None,
            fallback: false,
            scored_after: None,
        }
    }
}

/// `since` of a list query: RFC 3339 or epoch seconds; `None` when absent or empty.
fn parse_since(since: Option<&str>) -> Result<Option<Timestamp>, ServiceError> {
    match since {
        None | Some("") => Ok(None),
        Some(s) => match s.parse::<f64>() {
            Ok(secs) => Timestamp::from_epoch_seconds(secs),
            Err(_) => Timestamp::parse_rfc3339(s),
        }
        .map(Some)
        .map_err(|e| ServiceError::Invalid {
            field: "since".into(),
            reason: format!("must be RFC 3339 or epoch seconds: {e}"),
        }),
    }
}

/// The insights a scorer raised for `sample`, with their deterministic ids.
fn stored_insights(sample: &MetricSample, scored: &Scored) -> Vec<StoredInsight> {
    scored
        .assessment
        .insights
        .iter()
        .enumerate()
        .map(|(i, insight)| StoredInsight {
            insight_id: ids::insight_id(&sample.hostname, sample.timestamp, i),
            model_source: scored.source,
            model_version: scored.version.clone(),
            insight: insight.clone(),
        })
        .collect()
}

/// The host's state as an ingest found it.
enum Loaded {
    /// Nothing stored yet.
    None,
    /// From the store (to decode).
    Stored(StoredState),
    /// This process's copy of the version it saved last.
    Cached(CachedState),
}

impl Loaded {
    fn last_timestamp(&self) -> Option<Timestamp> {
        match self {
            Loaded::None => None,
            Loaded::Stored(s) => Some(s.last_timestamp),
            Loaded::Cached(c) => Some(c.last_timestamp),
        }
    }

    /// Which late samples the state learned; for a state stored without that record, that
    /// none behind its newest sample may be learned.
    fn ledger(&self) -> Ledger {
        match self {
            Loaded::None => Ledger::default(),
            Loaded::Stored(s) => reorder::decode_ledger(&s.state)
                .map(|(ledger, _)| ledger)
                .unwrap_or_else(|| Ledger::unknown_up_to(s.last_timestamp)),
            Loaded::Cached(c) => c.ledger.clone(),
        }
    }

    /// The host's cadence, where its state knows it (a stored state is decoded for it:
    /// asked only for a sample too late for the configured window, a rare one).
    fn cadence(&self) -> Option<f64> {
        match self {
            Loaded::None => None,
            Loaded::Stored(s) => decode_state(&s.state).and_then(|state| state.cadence()),
            Loaded::Cached(c) => c.state.cadence(),
        }
    }
}

/// First byte of the compact (postcard) state encoding. JSON states start with `{`.
const POSTCARD_TAG: u8 = 1;

/// Encodes a host's state for the store: a tag byte [`POSTCARD_TAG`] and the state in
/// postcard (compact binary; an `f64` is its 8 bytes, so decoding gives back the same
/// bits). States written as serde JSON by earlier versions still decode
/// ([`decode_state`]).
pub fn encode_state(state: &HostState) -> Result<Vec<u8>, ServiceError> {
    postcard::to_io(state, vec![POSTCARD_TAG]).map_err(encode_error)
}

fn encode_error(e: postcard::Error) -> ServiceError {
    ServiceError::Store(StoreError::InvalidArgument {
        name: "state",
        reason: format!("cannot encode: {e}"),
    })
}

/// Decodes a stored host state: postcard after [`POSTCARD_TAG`], serde JSON (a leading
/// `{`), or what the service saves (tag 2: the record of learned late samples, then the
/// state in postcard). `None` when the bytes are not a state this build reads.
pub fn decode_state(bytes: &[u8]) -> Option<HostState> {
    match bytes.split_first() {
        Some((&POSTCARD_TAG, rest)) => HostState::from_postcard(rest).ok(),
        Some((b'{', _)) => serde_json::from_slice(bytes).ok(),
        // what the service saves: the record of learned late samples, then the state
        _ => reorder::decode_ledger(bytes)
            .and_then(|(_, rest)| reorder::decode_state_after_ledger(rest)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hosts_reorder_window_is_at_least_two_of_its_intervals() {
        let ten = Duration::from_secs(600);
        assert_eq!(host_reorder_window(ten, None), ten);
        assert_eq!(host_reorder_window(ten, Some(60.0)), ten);
        assert_eq!(
            host_reorder_window(ten, Some(3600.0)),
            Duration::from_secs(7200)
        );
        // zero: in-order samples only, whatever the cadence
        assert_eq!(
            host_reorder_window(Duration::ZERO, Some(3600.0)),
            Duration::ZERO
        );
    }
}
