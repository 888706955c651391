//! The function's configuration, read once at cold start from its environment. Every bad
//! value is an error naming the variable, so a misconfigured deploy fails at init (and the
//! process exits non-zero) instead of answering 500s.

use std::path::PathBuf;
use std::time::Duration;

use iops_core::peers::PeerDeviationPolicy;
use iops_core::{FleetPolicy, SilencePolicy};

use thiserror::Error;

/// Default time the canary waits for the SageMaker endpoint before falling back.
pub const DEFAULT_SAGEMAKER_TIMEOUT: Duration = Duration::from_millis(800);
/// Default largest POST /metrics body (a metric is ~150 bytes).
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;
/// Default reorder window: the service's own default (`ServiceConfig::reorder_window`, 10
/// minutes of event time: two samples at the runbook's 5-minute interval).
pub const DEFAULT_REORDER_WINDOW: Duration = Duration::from_secs(600);
/// Largest REORDER_WINDOW_SECONDS accepted: 7 days. A window this wide already lets a week-old
/// backfill into the current model; a larger value is far more likely a unit mistake
/// (milliseconds) than a wish.
pub const MAX_REORDER_WINDOW_SECONDS: u64 = 7 * 24 * 3600;

/// Largest MAX_FUTURE_SECONDS accepted: a day. A sender a day ahead already stalls its host's
/// learning for that day.
pub const MAX_FUTURE_SECONDS: u64 = 24 * 3600;

/// A variable with a value the function cannot run with.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("environment variable {name}: {reason}")]
pub struct ConfigError {
    /// The variable.
    pub name: &'static str,
    /// What is wrong, for a person.
    pub reason: String,
}

fn bad(name: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        name,
        reason: reason.into(),
    }
}

/// Where metrics, insights and host state live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChoice {
    /// DynamoDB tables (the production default whenever METRICS_TABLE is set).
    Dynamodb {
        /// METRICS_TABLE.
        metrics_table: String,
        /// INSIGHTS_TABLE.
        insights_table: String,
        /// STATE_TABLE (per-host detector state).
        state_table: String,
        /// INCIDENTS_TABLE.
        incidents_table: String,
    },
    /// An SQLite file (`IOPS_STORE=sqlite:PATH`), for local runs.
    Sqlite(PathBuf),
    /// An in-memory SQLite database (`IOPS_STORE=memory`), for tests: lost at exit.
    Memory,
}

/// The canary: which endpoint, what share of requests, how long to wait.
#[derive(Debug, Clone, PartialEq)]
pub struct CanaryConfig {
    /// SAGEMAKER_ENDPOINT: the endpoint name.
    pub endpoint: String,
    /// CANARY_PERCENTAGE: share of requests (0–100, decimals allowed) scored by it.
    pub percentage: f64,
    /// SAGEMAKER_TIMEOUT_MS: the whole call, connect included; then the built-in model.
    pub timeout: Duration,
    /// SAGEMAKER_ENDPOINT_URL: overrides the runtime API's URL (tests, VPC endpoints). The
    /// SDK's own AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME works too when this is unset.
    pub endpoint_url: Option<String>,
}

/// Everything the function reads from its environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The store backend.
    pub store: StoreChoice,
    /// `Some` when USE_SAGEMAKER=true; `None` (USE_SAGEMAKER=false or unset) is the instant
    /// rollback: every request is scored by the built-in model.
    pub canary: Option<CanaryConfig>,
    /// MODEL_PATH: a fleet forest artifact (`model.json` or a directory holding one) for the
    /// built-in engine.
    pub model_path: Option<PathBuf>,
    /// MAX_BODY_BYTES: larger POST bodies answer 413.
    pub max_body_bytes: usize,
    /// REORDER_WINDOW_SECONDS: how far (event time) behind a host's newest learned sample a
    /// sample may arrive and still be learned; older ones are scored but not learned.
    /// `Duration::ZERO` learns in-order samples only.
    pub reorder_window: Duration,
    /// MAX_FUTURE_SECONDS: how far ahead of the function's clock a sample's timestamp may
    /// be (400 naming `timestamp` beyond it; default 900, at most a day).
    pub max_future_skew: Duration,
    /// SILENCE_INTERVALS and SILENCE_MIN_SECONDS: when a host that stopped reporting is
    /// silent (the scheduled sweep).
    pub silence: SilencePolicy,
    /// FLEET_MIN_HOSTS, FLEET_MIN_SHARE and FLEET_WINDOW_SECONDS: when host incidents of
    /// one kind make one fleet incident; FLEET_HOLD_SECONDS: how long a host incident's
    /// notifications wait for one (0: not at all).
    pub fleet: FleetPolicy,
    /// PEER_MIN_SHARE, PEER_MIN_POINTS, PEER_GROUP_SHARE, PEER_MIN_HOSTS and PEER_RELEASE:
    /// when a host has departed from its peer group (the scheduled peer sweep; needs peer
    /// groups in the model).
    pub peer_deviation: PeerDeviationPolicy,
    /// ALERT_TOPIC_ARN: the SNS topic incident transitions are published to (none: nobody
    /// is told).
    pub alert_topic_arn: Option<String>,
    /// SNS_ENDPOINT_URL: the SNS API's URL (an emulator's), instead of the SDK's.
    pub sns_endpoint_url: Option<String>,
    /// ALERT_WAIT_MS: how long an invocation that made a transition waits for its
    /// notification to be published before it answers (1–10000, default 2000).
    pub alert_wait: Duration,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup` (a map in tests). Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let store = store_choice(
            get("IOPS_STORE"),
            get("METRICS_TABLE"),
            get("INSIGHTS_TABLE"),
            get("STATE_TABLE"),
            get("INCIDENTS_TABLE"),
        )?;
        let use_sagemaker = match get("USE_SAGEMAKER") {
            None => false,
            Some(v) => parse_bool("USE_SAGEMAKER", &v)?,
        };
        let canary = if use_sagemaker {
            let endpoint = get("SAGEMAKER_ENDPOINT").ok_or_else(|| {
                bad(
                    "SAGEMAKER_ENDPOINT",
                    "is required when USE_SAGEMAKER=true (the endpoint name)",
                )
            })?;
            let percentage = match get("CANARY_PERCENTAGE") {
                None => {
                    return Err(bad(
                        "CANARY_PERCENTAGE",
                        "is required when USE_SAGEMAKER=true (0 to 100)",
                    ))
                }
                Some(v) => parse_percentage(&v)?,
            };
            let timeout = match get("SAGEMAKER_TIMEOUT_MS") {
                None => DEFAULT_SAGEMAKER_TIMEOUT,
                Some(v) => parse_millis("SAGEMAKER_TIMEOUT_MS", &v)?,
            };
            Some(CanaryConfig {
                endpoint,
                percentage,
                timeout,
                endpoint_url: get("SAGEMAKER_ENDPOINT_URL"),
            })
        } else {
            // Still checked, so a typo is caught before the canary is switched on.
            if let Some(v) = get("CANARY_PERCENTAGE") {
                parse_percentage(&v)?;
            }
            None
        };
        let max_body_bytes = match get("MAX_BODY_BYTES") {
            None => DEFAULT_MAX_BODY_BYTES,
            Some(v) => match v.trim().parse::<usize>() {
                Ok(n) if n > 0 => n,
                _ => {
                    return Err(bad(
                        "MAX_BODY_BYTES",
                        format!("must be a positive integer, got {v:?}"),
                    ))
                }
            },
        };
        let reorder_window = match get("REORDER_WINDOW_SECONDS") {
            None => DEFAULT_REORDER_WINDOW,
            Some(v) => parse_seconds(
                "REORDER_WINDOW_SECONDS",
                &v,
                MAX_REORDER_WINDOW_SECONDS,
                "7 days",
            )?,
        };
        let max_future_skew = match get("MAX_FUTURE_SECONDS") {
            None => iops_service::ServiceConfig::default().max_future_skew,
            Some(v) => parse_seconds("MAX_FUTURE_SECONDS", &v, MAX_FUTURE_SECONDS, "a day")?,
        };
        let silence_defaults = SilencePolicy::default();
        let silence = SilencePolicy {
            intervals: number_or(get, "SILENCE_INTERVALS", silence_defaults.intervals)?,
            min_seconds: number_or(get, "SILENCE_MIN_SECONDS", silence_defaults.min_seconds)?,
        };
        checked(
            silence.validate(),
            &["SILENCE_INTERVALS", "SILENCE_MIN_SECONDS"],
        )?;
        let fleet_defaults = FleetPolicy::default();
        let fleet = FleetPolicy {
            min_hosts: whole_or(get, "FLEET_MIN_HOSTS", fleet_defaults.min_hosts)?,
            min_share: number_or(get, "FLEET_MIN_SHARE", fleet_defaults.min_share)?,
            window_seconds: number_or(get, "FLEET_WINDOW_SECONDS", fleet_defaults.window_seconds)?,
            hold_seconds: number_or(get, "FLEET_HOLD_SECONDS", fleet_defaults.hold_seconds)?,
        };
        checked(
            fleet.validate(),
            &[
                "FLEET_MIN_HOSTS",
                "FLEET_MIN_SHARE",
                "FLEET_WINDOW_SECONDS",
                "FLEET_HOLD_SECONDS",
            ],
        )?;
        let peer_defaults = PeerDeviationPolicy::default();
        let peer_deviation = PeerDeviationPolicy {
            min_share: number_or(get, "PEER_MIN_SHARE", peer_defaults.min_share)?,
            min_points: number_or(get, "PEER_MIN_POINTS", peer_defaults.min_points)?,
            group_share: number_or(get, "PEER_GROUP_SHARE", peer_defaults.group_share)?,
            min_hosts: whole_or(get, "PEER_MIN_HOSTS", peer_defaults.min_hosts)?,
            release: number_or(get, "PEER_RELEASE", peer_defaults.release)?,
        };
        checked(
            peer_deviation.validate(),
            &[
                "PEER_MIN_SHARE",
                "PEER_MIN_POINTS",
                "PEER_GROUP_SHARE",
                "PEER_MIN_HOSTS",
                "PEER_RELEASE",
            ],
        )?;
        Ok(Config {
            store,
            canary,
            model_path: get("MODEL_PATH").map(PathBuf::from),
            max_body_bytes,
            reorder_window,
            max_future_skew,
            silence,
            fleet,
            peer_deviation,
            alert_topic_arn: get("ALERT_TOPIC_ARN"),
            sns_endpoint_url: get("SNS_ENDPOINT_URL"),
            alert_wait: match get("ALERT_WAIT_MS") {
                None => Duration::from_secs(2),
                Some(v) => match v.trim().parse::<u64>() {
                    Ok(ms) if (1..=10_000).contains(&ms) => Duration::from_millis(ms),
                    _ => {
                        return Err(bad(
                            "ALERT_WAIT_MS",
                            format!("must be milliseconds from 1 to 10000, got {v:?}"),
                        ))
                    }
                },
            },
        })
    }
}

fn store_choice(
    iops_store: Option<String>,
    metrics_table: Option<String>,
    insights_table: Option<String>,
    state_table: Option<String>,
    incidents_table: Option<String>,
) -> Result<StoreChoice, ConfigError> {
    let dynamodb = |metrics_table: Option<String>| {
        let metrics_table = metrics_table.ok_or_else(|| {
            bad(
                "METRICS_TABLE",
                "is required for the DynamoDB store (or set IOPS_STORE=sqlite:PATH or memory)",
            )
        })?;
        let insights_table = insights_table
            .clone()
            .ok_or_else(|| bad("INSIGHTS_TABLE", "is required with METRICS_TABLE"))?;
        let state_table = state_table
            .clone()
            .ok_or_else(|| bad("STATE_TABLE", "is required with METRICS_TABLE"))?;
        let incidents_table = incidents_table
            .clone()
            .ok_or_else(|| bad("INCIDENTS_TABLE", "is required with METRICS_TABLE"))?;
        Ok(StoreChoice::Dynamodb {
            metrics_table,
            insights_table,
            state_table,
            incidents_table,
        })
    };
    match iops_store.as_deref().map(str::trim) {
        None | Some("dynamodb") => dynamodb(metrics_table),
        Some("memory") => Ok(StoreChoice::Memory),
        Some(s) => match s.strip_prefix("sqlite:") {
            Some(path) if !path.is_empty() => Ok(StoreChoice::Sqlite(PathBuf::from(path))),
            _ => Err(bad(
                "IOPS_STORE",
                format!("must be dynamodb, memory or sqlite:PATH, got {s:?}"),
            )),
        },
    }
}

fn parse_bool(name: &'static str, v: &str) -> Result<bool, ConfigError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(bad(name, format!("must be true or false, got {v:?}"))),
    }
}

fn parse_percentage(v: &str) -> Result<f64, ConfigError> {
    match v.trim().trim_end_matches('%').parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ => Err(bad(
            "CANARY_PERCENTAGE",
            format!("must be a number from 0 to 100, got {v:?}"),
        )),
    }
}

fn parse_millis(name: &'static str, v: &str) -> Result<Duration, ConfigError> {
    match v.trim().parse::<u64>() {
        Ok(ms) if (1..=60_000).contains(&ms) => Ok(Duration::from_millis(ms)),
        _ => Err(bad(
            name,
            format!("must be milliseconds from 1 to 60000, got {v:?}"),
        )),
    }
}

/// The variable `name`'s finite number, or `default` when it is unset.
fn number_or(
    get: impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: f64,
) -> Result<f64, ConfigError> {
    let Some(v) = get(name) else {
        return Ok(default);
    };
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .ok_or_else(|| bad(name, format!("must be a number, got {v:?}")))
}

/// A policy's check, its error naming the variable that sets the parameter at fault
/// (each of `variables` is its parameter's name in capitals; the first when none is named).
/// A whole number from variable `name`, or `default` when it is unset.
fn whole_or(
    get: impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: usize,
) -> Result<usize, ConfigError> {
    match get(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| bad(name, format!("must be a whole number, got {v:?}"))),
    }
}

fn checked(result: iops_core::Result<()>, variables: &[&'static str]) -> Result<(), ConfigError> {
    result.map_err(|e| {
        let (name, reason) = match &e {
            iops_core::Error::InvalidParam { name, reason, .. } => {
                (Some(*name), (*reason).to_owned())
            }
            other => (None, other.to_string()),
        };
        let variable = name
            .and_then(|n| variables.iter().find(|v| v.eq_ignore_ascii_case(n)))
            .or(variables.first())
            .copied()
            .unwrap_or("SILENCE_INTERVALS");
        bad(variable, reason)
    })
}

/// Whole seconds from 0 to `max` (`max_text` says how long that is) in variable `name`.
fn parse_seconds(
    name: &'static str,
    v: &str,
    max: u64,
    max_text: &str,
) -> Result<Duration, ConfigError> {
    match v.trim().parse::<u64>() {
        Ok(s) if s <= max => Ok(Duration::from_secs(s)),
        _ => Err(bad(
            name,
            format!("must be whole seconds from 0 to {max} ({max_text}), got {v:?}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    fn err_name(vars: &[(&str, &str)]) -> &'static str {
        config(vars).unwrap_err().name
    }

    #[test]
    fn tables_select_dynamodb_and_sagemaker_is_off_by_default() {
        let c = config(&[
            ("METRICS_TABLE", "m"),
            ("INSIGHTS_TABLE", "i"),
            ("STATE_TABLE", "s"),
            ("INCIDENTS_TABLE", "n"),
        ])
        .unwrap();
        assert_eq!(
            c.store,
            StoreChoice::Dynamodb {
                metrics_table: "m".into(),
                insights_table: "i".into(),
                state_table: "s".into(),
                incidents_table: "n".into(),
            }
        );
        assert_eq!(
            err_name(&[("METRICS_TABLE", "m"), ("INSIGHTS_TABLE", "i")]),
            "STATE_TABLE"
        );
        assert_eq!(
            err_name(&[
                ("METRICS_TABLE", "m"),
                ("INSIGHTS_TABLE", "i"),
                ("STATE_TABLE", "s")
            ]),
            "INCIDENTS_TABLE"
        );
        assert_eq!(c.canary, None);
        assert_eq!(c.model_path, None);
        assert_eq!(c.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
        assert_eq!(c.reorder_window, DEFAULT_REORDER_WINDOW);
    }

    #[test]
    fn default_reorder_window_is_the_services() {
        assert_eq!(
            DEFAULT_REORDER_WINDOW,
            iops_service::ServiceConfig::default().reorder_window
        );
    }

    #[test]
    fn reorder_window_seconds() {
        let window =
            |v: &'static str| config(&[("IOPS_STORE", "memory"), ("REORDER_WINDOW_SECONDS", v)]);
        for (v, secs) in [("0", 0), ("1", 1), (" 3600 ", 3600), ("604800", 604_800)] {
            assert_eq!(
                window(v).unwrap().reorder_window,
                Duration::from_secs(secs),
                "{v}"
            );
        }
        // Empty counts as unset: the default.
        assert_eq!(window("").unwrap().reorder_window, DEFAULT_REORDER_WINDOW);
        for v in [
            "-1",
            "ten",
            "1.5",
            "600s",
            "1e3",
            "604801",
            "18446744073709551616",
        ] {
            let e = window(v).unwrap_err();
            assert_eq!(e.name, "REORDER_WINDOW_SECONDS", "{v}");
            assert!(
                e.to_string()
                    .starts_with("environment variable REORDER_WINDOW_SECONDS: "),
                "{e}"
            );
            assert!(e.reason.contains(&format!("{v:?}")), "{e}");
        }
    }

    #[test]
    fn max_future_seconds() {
        let skew = |v: &'static str| config(&[("IOPS_STORE", "memory"), ("MAX_FUTURE_SECONDS", v)]);
        assert_eq!(skew("").unwrap().max_future_skew, Duration::from_secs(900));
        assert_eq!(skew("0").unwrap().max_future_skew, Duration::ZERO);
        assert_eq!(
            skew("86400").unwrap().max_future_skew,
            Duration::from_secs(86_400)
        );
        for v in ["-1", "15m", "86401"] {
            let e = skew(v).unwrap_err();
            assert_eq!(e.name, "MAX_FUTURE_SECONDS", "{v}");
            assert!(e.reason.contains(&format!("{v:?}")), "{e}");
        }
    }

    #[test]
    fn store_escape_hatch() {
        assert_eq!(
            config(&[("IOPS_STORE", "memory")]).unwrap().store,
            StoreChoice::Memory
        );
        assert_eq!(
            config(&[("IOPS_STORE", "sqlite:/tmp/x.db"), ("METRICS_TABLE", "m")])
                .unwrap()
                .store,
            StoreChoice::Sqlite("/tmp/x.db".into())
        );
        assert_eq!(err_name(&[("IOPS_STORE", "sqlite:")]), "IOPS_STORE");
        assert_eq!(err_name(&[("IOPS_STORE", "redis")]), "IOPS_STORE");
        assert_eq!(err_name(&[]), "METRICS_TABLE");
        assert_eq!(err_name(&[("METRICS_TABLE", "m")]), "INSIGHTS_TABLE");
        assert_eq!(err_name(&[("METRICS_TABLE", "  ")]), "METRICS_TABLE");
    }

    #[test]
    fn canary_settings() {
        let base = [("IOPS_STORE", "memory"), ("USE_SAGEMAKER", "TRUE")];
        let c = config(&[
            base[0],
            base[1],
            ("SAGEMAKER_ENDPOINT", "iops-ep"),
            ("CANARY_PERCENTAGE", "12.5"),
            ("SAGEMAKER_TIMEOUT_MS", "250"),
            ("SAGEMAKER_ENDPOINT_URL", "http://127.0.0.1:9"),
        ])
        .unwrap();
        assert_eq!(
            c.canary,
            Some(CanaryConfig {
                endpoint: "iops-ep".into(),
                percentage: 12.5,
                timeout: Duration::from_millis(250),
                endpoint_url: Some("http://127.0.0.1:9".into()),
            })
        );
        let ok = [base[0], base[1], ("SAGEMAKER_ENDPOINT", "e")];
        assert_eq!(err_name(&ok), "CANARY_PERCENTAGE");
        let with = |extra: (&'static str, &'static str)| {
            let mut v = ok.to_vec();
            v.push(("CANARY_PERCENTAGE", "10"));
            v.push(extra);
            config(&v)
        };
        assert_eq!(
            with(("SAGEMAKER_TIMEOUT_MS", "1"))
                .unwrap()
                .canary
                .unwrap()
                .timeout,
            Duration::from_millis(1)
        );
        assert_eq!(
            with(("SAGEMAKER_TIMEOUT_MS", "0")).unwrap_err().name,
            "SAGEMAKER_TIMEOUT_MS"
        );
        assert_eq!(
            with(("SAGEMAKER_TIMEOUT_MS", "1s")).unwrap_err().name,
            "SAGEMAKER_TIMEOUT_MS"
        );
        for p in ["101", "-1", "NaN", "ten", "inf"] {
            let mut v = ok.to_vec();
            v.push(("CANARY_PERCENTAGE", p));
            assert_eq!(config(&v).unwrap_err().name, "CANARY_PERCENTAGE", "{p}");
        }
        for p in ["0", "100", "50%"] {
            let mut v = ok.to_vec();
            v.push(("CANARY_PERCENTAGE", p));
            assert!(config(&v).is_ok(), "{p}");
        }
        assert_eq!(
            err_name(&[base[0], base[1], ("CANARY_PERCENTAGE", "5")]),
            "SAGEMAKER_ENDPOINT"
        );
    }

    #[test]
    fn rollback_and_bad_values() {
        // USE_SAGEMAKER=false ignores the endpoint but still checks the percentage.
        let c = config(&[
            ("IOPS_STORE", "memory"),
            ("USE_SAGEMAKER", "false"),
            ("CANARY_PERCENTAGE", "100"),
        ])
        .unwrap();
        assert_eq!(c.canary, None);
        assert_eq!(
            err_name(&[("IOPS_STORE", "memory"), ("CANARY_PERCENTAGE", "200")]),
            "CANARY_PERCENTAGE"
        );
        assert_eq!(
            err_name(&[("IOPS_STORE", "memory"), ("USE_SAGEMAKER", "yes")]),
            "USE_SAGEMAKER"
        );
        assert_eq!(
            err_name(&[("IOPS_STORE", "memory"), ("MAX_BODY_BYTES", "0")]),
            "MAX_BODY_BYTES"
        );
        let e = config(&[("IOPS_STORE", "memory"), ("USE_SAGEMAKER", "1")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "environment variable USE_SAGEMAKER: must be true or false, got \"1\""
        );
        let c = config(&[("IOPS_STORE", "memory"), ("MODEL_PATH", "/opt/model.json")]).unwrap();
        assert_eq!(c.model_path, Some(PathBuf::from("/opt/model.json")));
    }

    #[test]
    fn peer_variables_set_the_peer_deviation_policy() {
        let c = config(&[("IOPS_STORE", "memory")]).unwrap();
        assert_eq!(c.peer_deviation, PeerDeviationPolicy::default());
        let set = config(&[
            ("IOPS_STORE", "memory"),
            ("PEER_MIN_SHARE", "0.8"),
            ("PEER_MIN_POINTS", "5"),
            ("PEER_GROUP_SHARE", "0.1"),
            ("PEER_MIN_HOSTS", "4"),
            ("PEER_RELEASE", "0.5"),
        ])
        .unwrap()
        .peer_deviation;
        assert_eq!(
            set,
            PeerDeviationPolicy {
                min_share: 0.8,
                min_points: 5.0,
                group_share: 0.1,
                min_hosts: 4,
                release: 0.5,
            }
        );
    }

    #[test]
    fn silence_variables_are_checked_naming_the_variable() {
        let silence = config(&[("IOPS_STORE", "memory")]).unwrap().silence;
        assert_eq!(silence, SilencePolicy::default());
        let set = config(&[
            ("IOPS_STORE", "memory"),
            ("SILENCE_INTERVALS", "5"),
            ("SILENCE_MIN_SECONDS", "300"),
        ])
        .unwrap()
        .silence;
        assert_eq!((set.intervals, set.min_seconds), (5.0, 300.0));
        for (name, value) in [
            ("SILENCE_INTERVALS", "three"),
            ("SILENCE_INTERVALS", "0.5"),
            ("SILENCE_MIN_SECONDS", "-1"),
            ("SILENCE_MIN_SECONDS", "inf"),
            ("FLEET_MIN_HOSTS", "1"),
            ("FLEET_MIN_HOSTS", "many"),
            ("FLEET_MIN_SHARE", "2"),
            ("FLEET_WINDOW_SECONDS", "-5"),
            ("FLEET_HOLD_SECONDS", "7200"),
            ("PEER_MIN_SHARE", "0"),
            ("PEER_MIN_POINTS", "-1"),
            ("PEER_GROUP_SHARE", "nan"),
            ("PEER_MIN_HOSTS", "1"),
            ("PEER_MIN_HOSTS", "three"),
            ("PEER_RELEASE", "1.5"),
        ] {
            let err = config(&[("IOPS_STORE", "memory"), (name, value)]).unwrap_err();
            assert_eq!(err.name, name, "{err}");
        }
    }
}
