//! # iops-lambda
//!
//! The AWS Lambda adapter, a translation layer: API Gateway REST (v1) and HTTP (v2) events →
//! the API's router ([`iops_service::http`], the one `iops serve` uses too) → the
//! [`iops_service::Service`]. This crate adds the configuration ([`config`]), the store
//! choice ([`open_store`]), the SageMaker canary's client ([`canary`]), and two layers: the
//! stage prefix removed before routing ([`stage`]) and one CloudWatch EMF line per request
//! ([`emf`]). The binary `bootstrap` is [`config::Config`] from the environment → [`build`]
//! at cold start → `lambda_runtime::run` of [`App::invoke`], which sends API Gateway events
//! through [`App::function`] as `lambda_http::run` would and runs the silent-host sweep for
//! the SAM template's every-minute schedule; [`App::handle`] answers one request the same
//! way without the runtime (tests, benches).
//!
//! Routes (the router's): POST /metrics (200 `{"message":"Metric stored successfully",
//! "metricId":..., "insights":[...]}`, 400 `{"error","field"}`, 413 over MAX_BODY_BYTES), GET
//! /metrics?hostname=&since=&limit=, GET /insights?hostname=&since=&limit=, GET
//! /incidents?status=&hostname=&since=&limit=, GET /incidents/{incidentId}, POST, GET and
//! DELETE of /maintenance and /mutes; 404 / 405 for anything else.
//!
//! Environment (read once at cold start; a bad value exits non-zero naming the variable):
//!
//! | variable | meaning |
//! |---|---|
//! | METRICS_TABLE, INSIGHTS_TABLE, STATE_TABLE, INCIDENTS_TABLE | DynamoDB tables (the default store when METRICS_TABLE is set; see [`open_store`]) |
//! | IOPS_STORE | `memory` or `sqlite:PATH` for local runs and tests; `dynamodb` = the tables |
//! | USE_SAGEMAKER | `true` / `false` (default): the canary switch; `false` is the instant rollback |
//! | SAGEMAKER_ENDPOINT | endpoint name (required with USE_SAGEMAKER=true) |
//! | CANARY_PERCENTAGE | 0–100 (required with USE_SAGEMAKER=true): share of requests, hashed on hostname + timestamp |
//! | SAGEMAKER_TIMEOUT_MS | canary call limit, default 800; then the built-in model answers |
//! | SAGEMAKER_ENDPOINT_URL | runtime API URL override (or the SDK's AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME) |
//! | MODEL_PATH | host forest `model.json` (or its directory) for the built-in engine |
//! | MAX_BODY_BYTES | POST body limit, default 65536 (413 above) |
//! | SILENCE_INTERVALS, SILENCE_MIN_SECONDS | a host is silent after max(this many of its intervals, default 3; these seconds, default 600) without a sample (the scheduled sweep) |
//! | FLEET_MIN_HOSTS, FLEET_MIN_SHARE, FLEET_WINDOW_SECONDS | host incidents of one kind on at least this many hosts (default 3) and this share of the fleet (0.2) within these seconds (600) make one fleet incident |
//! | FLEET_HOLD_SECONDS | 0–3600, default 0: how long a host incident's notifications wait for a fleet incident to take them in (the scheduled sweep sends them after) |
//! | ALERT_TOPIC_ARN | SNS topic that incident transitions (opened, escalated, resolved) are published to; unset: none |
//! | ALERT_WAIT_MS | 1–10000, default 2000: how long an invocation that made a transition waits for its publication before answering |
//! | SNS_ENDPOINT_URL | SNS API URL override (an emulator), or the SDK's AWS_ENDPOINT_URL_SNS |
//! | REORDER_WINDOW_SECONDS | 0–604800 (7 days), default 600: a sample up to this far (event time; or two of its host's intervals, if longer) behind its host's newest is still learned; an older one is scored and stored but not learned; 0 learns in-order samples only |
//! | MAX_FUTURE_SECONDS | 0–86400 (a day), default 900: a sample stamped further ahead of the function's clock is refused (400 naming `timestamp`), so a sender whose clock is wrong cannot freeze its host |
//! | AWS_LAMBDA_LOG_LEVEL, else RUST_LOG | log level (a plain level) of the JSON logs on stderr, default INFO |
//!
//! ```
//! use iops_lambda::{build, config::Config, handler::MetricsSink};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let config = Config::from_lookup(|name| (name == "IOPS_STORE").then(|| "memory".to_owned()))?;
//! let app = build(&config, MetricsSink::Off).await?;
//! let event = r#"{"version":"2.0","routeKey":"POST /metrics","rawPath":"/metrics","rawQueryString":"",
//!   "headers":{"content-type":"application/json"},"isBase64Encoded":false,
//!   "requestContext":{"http":{"method":"POST","path":"/metrics","protocol":"HTTP/1.1","sourceIp":"127.0.0.1","userAgent":"doc"},
//!     "accountId":"123456789012","apiId":"api","domainName":"example.com","domainPrefix":"example",
//!     "requestId":"r1","routeKey":"POST /metrics","stage":"$default","time":"26/Nov/2026:17:00:00 +0000","timeEpoch":1795712400000},
//!   "body":"{\"timestamp\":\"2026-11-26T17:00:00Z\",\"hostname\":\"web-1\",\"cpuUsage\":75.5,\"memoryUsage\":82.3,\"diskIO\":200.5,\"networkIO\":150.2}"}"#;
//! let response = app.handle(lambda_http::request::from_str(event)?).await;
//! assert_eq!(response.status(), 200);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
#![warn(missing_docs)]

pub mod alerts;
pub mod canary;
pub mod config;
pub mod emf;
pub mod handler;
pub mod kinesis;
pub mod stage;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use iops_core::engine::{EngineConfig, HostForest};
use iops_service::{BuiltinScorer, Dispatcher, RetryPolicy, Service, ServiceConfig};
use iops_store::{DynamoOptions, DynamoStore, SqliteStore, Store, StoreError, TableNames};
use thiserror::Error;
use tracing_subscriber::fmt::MakeWriter;

pub use canary::SageMakerEndpoint;

/// The Lambda's scorer: the built-in engine, and the SageMaker endpoint as its canary.
pub type CanaryScorer = iops_service::CanaryScorer<SageMakerEndpoint>;
pub use config::{Config, ConfigError, StoreChoice};
pub use handler::{App, MetricsSink};

/// Why the function cannot start. Each names the variable to fix.
#[derive(Debug, Error)]
pub enum StartupError {
    /// A variable has a bad value.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// MODEL_PATH cannot be read or is not a host forest.
    #[error("environment variable MODEL_PATH: {path}: {reason}")]
    Model {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The store cannot be opened.
    #[error("store ({variable}): {source}")]
    Store {
        /// The variable that chose it.
        variable: &'static str,
        /// The store's error.
        source: StoreError,
    },
}

/// Opens the configured store.
pub async fn open_store(choice: &StoreChoice) -> Result<Arc<dyn Store>, StartupError> {
    let store_err = |source| StartupError::Store {
        variable: "IOPS_STORE",
        source,
    };
    match choice {
        StoreChoice::Memory => Ok(Arc::new(SqliteStore::open_in_memory().map_err(store_err)?)),
        StoreChoice::Sqlite(path) => Ok(Arc::new(SqliteStore::open(path).map_err(store_err)?)),
        StoreChoice::Dynamodb {
            metrics_table,
            insights_table,
            state_table,
            incidents_table,
        } => {
            let tables = TableNames {
                metrics: metrics_table.clone(),
                insights: insights_table.clone(),
                state: state_table.clone(),
                incidents: incidents_table.clone(),
            };
            let store = DynamoStore::connect(DynamoOptions::new(tables))
                .await
                .map_err(|source| StartupError::Store {
                    variable: "METRICS_TABLE",
                    source,
                })?;
            Ok(Arc::new(store))
        }
    }
}

/// Reads MODEL_PATH (a `model.json`, or a directory holding one): the built-in engine's fleet
/// forest ([`iops_service::load_forest`]). Only a host forest (trained on
/// [`HOST_FEATURES`](iops_core::engine::HOST_FEATURES), as `iops train` writes) fits the
/// built-in engine; any other model is a startup error.
pub fn load_forest(model_path: Option<&Path>) -> Result<Option<HostForest>, StartupError> {
    iops_service::load_forest(model_path).map_err(|e| StartupError::Model {
        path: e.path,
        reason: e.reason,
    })
}

/// Cold start: the store, the engine (with MODEL_PATH's forest), the canary's client, the
/// service. Makes no network request.
pub async fn build(config: &Config, sink: MetricsSink) -> Result<App, StartupError> {
    let store = open_store(&config.store).await?;
    // (its model version names the forest by the checksum model.json carries)
    let builtin = BuiltinScorer::new(EngineConfig::default())
        .with_forest(load_forest(config.model_path.as_deref())?);
    let scorer = match &config.canary {
        Some(canary) => CanaryScorer::with_canary(
            builtin,
            SageMakerEndpoint::connect(canary).await,
            canary.percentage,
        ),
        None => CanaryScorer::builtin(builtin),
    };
    let mut service = Service::with_scorer(
        store,
        Arc::new(scorer),
        ServiceConfig {
            max_body_bytes: config.max_body_bytes,
            reorder_window: config.reorder_window,
            max_future_skew: config.max_future_skew,
            silence: config.silence,
            fleet: config.fleet,
            peer_deviation: config.peer_deviation,
            ..ServiceConfig::default()
        },
    );
    if let Some(topic) = &config.alert_topic_arn {
        let sns = alerts::SnsTopic::connect(topic, config.sns_endpoint_url.as_deref()).await;
        // retries within the invocation's wait (ALERT_WAIT_MS), not minutes
        let retry = RetryPolicy {
            attempts: 4,
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(800),
        };
        let (dispatcher, _worker) = Dispatcher::start(vec![Arc::new(sns)], retry);
        service = service.with_notifications(dispatcher);
    }
    Ok(App::new(Arc::new(service), sink).with_alert_wait(config.alert_wait))
}

/// The log format: one JSON object per line (level, message, fields), as CloudWatch Logs
/// Insights parses, written to `writer` at `level` and above.
pub fn json_subscriber<W>(
    writer: W,
    level: tracing::Level,
) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .with_max_level(level)
        .with_target(false)
        .with_current_span(false)
        .with_span_list(false)
        .with_writer(writer)
        .finish()
}
