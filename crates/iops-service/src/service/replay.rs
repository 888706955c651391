//! Replay: the stored metrics of a stretch of time run again through an engine with other
//! parameters, and the incidents it would have raised set beside the ones the live run
//! raised ("what would these settings have done last week"). `iops replay` and
//! `POST /replay` (the dashboard's preview) both call [`Service::replay`].
//!
//! Each host is replayed on its own, from a fresh state warmed on the samples of
//! [`ReplayRequest::warm_seconds`] before the stretch, reading its metrics a page at a time:
//! memory holds one host's state and one page, whatever the fleet. Samples inside a
//! maintenance window are skipped as they were live; the operator's labels apply from the
//! start, as if their verdicts had been given before the stretch. Only the engine's own incidents are
//! compared (not silent hosts, not fleet incidents: no engine raises those), by overlap in
//! time: a stored incident is kept when a replayed one overlaps it, gone when none does; a
//! replayed one that overlaps no stored one is new.

use iops_core::engine::{Assessment, EngineConfig, EngineParams, HostForest, HostState};
use iops_core::{
    Incident, IncidentChange, IncidentStatus, InsightType, QuietKind, Severity, Timestamp,
};
use iops_store::IncidentQuery;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Service;
use crate::ServiceError;

/// Samples read from the store at a time.
const PAGE: usize = 5000;
/// Most incidents of a host compared.
const MAX_INCIDENTS: usize = 10_000;

/// What to replay.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayRequest {
    /// Incidents opened from here on are compared.
    pub since: Timestamp,
    /// ... until here (exclusive).
    pub until: Timestamp,
    /// Samples this long before `since` warm each host's state first (their incidents are
    /// not compared).
    pub warm_seconds: f64,
    /// Only these hosts (`None`: every host with stored samples).
    pub hostnames: Option<Vec<String>>,
    /// The engine to replay with.
    pub params: EngineParams,
}

/// An incident, as the comparison sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IncidentSpan {
    /// The stored incident's id (`None` for a replayed one: it was never stored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<String>,
    /// When it opened.
    pub opened: Timestamp,
    /// When it resolved (`None`: still open at the end).
    pub resolved: Option<Timestamp>,
    /// Its highest severity.
    pub severity: Severity,
    /// Its kinds.
    pub types: Vec<InsightType>,
}

/// How the two runs' incidents compare.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ReplayCounts {
    /// Incidents the live run raised.
    pub stored: usize,
    /// Incidents the replay raised.
    pub replayed: usize,
    /// Stored incidents a replayed one overlaps.
    pub kept: usize,
    /// Stored incidents no replayed one overlaps (the new parameters would not raise them).
    pub gone: usize,
    /// Replayed incidents that overlap no stored one.
    pub new: usize,
}

/// One host's replay.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HostReplay {
    /// The host.
    pub hostname: String,
    /// Samples replayed inside the stretch (after the warm-up).
    pub samples: u64,
    /// Stored samples the engine refused (stored by an older, less strict version): skipped.
    pub refused: u64,
    /// The counts.
    pub counts: ReplayCounts,
    /// The stored incidents no replayed one overlaps.
    pub gone: Vec<IncidentSpan>,
    /// The replayed incidents no stored one overlaps.
    pub new: Vec<IncidentSpan>,
}

/// The answer: every host with a stored or replayed incident (or, when named, every host
/// named), and the totals.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplayReport {
    /// The stretch compared.
    pub since: Timestamp,
    /// Its end.
    pub until: Timestamp,
    /// Hosts replayed.
    pub hosts_replayed: usize,
    /// Samples replayed inside the stretch, over all hosts.
    pub samples: u64,
    /// Stored samples the engine refused, over all hosts (skipped).
    pub refused: u64,
    /// The totals over hosts.
    pub total: ReplayCounts,
    /// Per host, by hostname.
    pub hosts: Vec<HostReplay>,
}

impl ReplayRequest {
    /// Parses a `POST /replay` body: `since` (required) and `until` (default `now`), RFC
    /// 3339 or epoch seconds, at most `max_seconds` apart; `warmSeconds` (default 2 days, at
    /// most 28); `hostnames` (optional); `params` (engine parameters, defaults for those not
    /// named). Errors name the field.
    pub fn from_json(bytes: &[u8], now: Timestamp, max_seconds: f64) -> Result<Self, ServiceError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields, rename_all = "camelCase")]
        struct Body {
            since: Option<Value>,
            until: Option<Value>,
            warm_seconds: Option<f64>,
            hostnames: Option<Vec<String>>,
            params: Option<Value>,
        }
        let invalid = |field: &str, reason: String| ServiceError::Invalid {
            field: field.into(),
            reason,
        };
        let body: Body =
            serde_json::from_slice(bytes).map_err(|e| invalid("body", format!("{e}")))?;
        let time = |field: &str, v: &Value| {
            Timestamp::from_json_value(v).map_err(|e| invalid(field, e.to_string()))
        };
        let since = match &body.since {
            Some(v) => time("since", v)?,
            None => return Err(invalid("since", "is required".into())),
        };
        let until = match &body.until {
            Some(v) => time("until", v)?,
            None => now,
        };
        let params: EngineParams = match body.params {
            Some(v) => serde_json::from_value(v).map_err(|e| invalid("params", e.to_string()))?,
            None => EngineParams::default(),
        };
        let request = ReplayRequest {
            since,
            until,
            warm_seconds: body.warm_seconds.unwrap_or(2.0 * 86_400.0),
            hostnames: body.hostnames,
            params,
        };
        request.check(max_seconds)?;
        Ok(request)
    }

    /// Where each host's warm-up starts: `warm_seconds` before `since`.
    pub fn warm_start(&self) -> Timestamp {
        self.since
            .plus_seconds(-self.warm_seconds)
            .unwrap_or(Timestamp::MIN)
    }

    /// Checks the stretch, the warm-up, the host names and the parameters, and answers the
    /// engine the parameters make; errors name the field (`since`, `warmSeconds`,
    /// `hostnames`, or the parameter).
    pub fn check(&self, max_seconds: f64) -> Result<EngineConfig, ServiceError> {
        let invalid = |field: &str, reason: String| ServiceError::Invalid {
            field: field.into(),
            reason,
        };
        let length = self.until.epoch_seconds() - self.since.epoch_seconds();
        if length <= 0.0 {
            return Err(invalid(
                "since",
                format!("must be before until ({})", self.until),
            ));
        }
        if length > max_seconds {
            return Err(invalid(
                "since",
                format!(
                    "is {:.1} days before until; at most {:.1} days can be replayed",
                    length / 86_400.0,
                    max_seconds / 86_400.0
                ),
            ));
        }
        if !(0.0..=28.0 * 86_400.0).contains(&self.warm_seconds) {
            return Err(invalid(
                "warmSeconds",
                format!("must be 0 to 28 days, got {}", self.warm_seconds),
            ));
        }
        for h in self.hostnames.iter().flatten() {
            iops_core::validate_hostname(h)
                .map_err(|e| invalid("hostnames", format!("{h:?}: {e}")))?;
        }
        self.params
            .clone()
            .check()
            .map_err(|e| ServiceError::invalid(e, "params"))
    }
}

impl Service {
    /// Replays the stored metrics of `request`'s stretch (see the module docs), with the
    /// fleet forest `forest` beside the streaming models if given (as `iops serve --model`).
    pub async fn replay(
        &self,
        request: &ReplayRequest,
        forest: Option<&HostForest>,
    ) -> Result<ReplayReport, ServiceError> {
        let config = request.check(f64::INFINITY)?;
        let mut hostnames = match &request.hostnames {
            Some(h) => h.clone(),
            None => self
                .store
                .list_hosts()
                .await?
                .into_iter()
                .map(|h| h.hostname)
                .collect(),
        };
        hostnames.sort();
        hostnames.dedup();
        let start = request.warm_start();
        let maintenance = self
            .store
            .list_quiet(QuietKind::Maintenance, start, 10_000)
            .await?;
        // the verdicts count from the start, as if given before the stretch
        let raises =
            super::feedback::by_verdict_time(&self.labels().await?, request.params.info_score);
        let mut report = ReplayReport {
            since: request.since,
            until: request.until,
            hosts_replayed: hostnames.len(),
            samples: 0,
            refused: 0,
            total: ReplayCounts::default(),
            hosts: Vec::new(),
        };
        for hostname in hostnames {
            let in_maintenance = |t: Timestamp| maintenance.iter().any(|w| w.covers(&hostname, t));
            let mut state =
                HostState::new(&config).map_err(|e| ServiceError::invalid(e, "params"))?;
            state.set_desensitised(raises.get(&hostname).copied().unwrap_or_default());
            let (samples, refused, replayed) = self
                .replay_host(&hostname, state, &config, forest, request, in_maintenance)
                .await?;
            let stored = self.stored_spans(&hostname, request).await?;
            let mut host = compare(hostname, samples, &stored, &replayed);
            host.refused = refused;
            report.samples += samples;
            report.refused += refused;
            add(&mut report.total, &host.counts);
            if host.counts != ReplayCounts::default() || refused > 0 || request.hostnames.is_some()
            {
                report.hosts.push(host);
            }
        }
        Ok(report)
    }

    /// The host's samples from the warm-up's start to the stretch's end through `state`
    /// (fresh, with the host's labels applied): how many
    /// fell inside the stretch, how many the engine refused, and the incidents opened inside
    /// the stretch.
    async fn replay_host(
        &self,
        hostname: &str,
        mut state: HostState,
        config: &EngineConfig,
        forest: Option<&HostForest>,
        request: &ReplayRequest,
        in_maintenance: impl Fn(Timestamp) -> bool,
    ) -> Result<(u64, u64, Vec<IncidentSpan>), ServiceError> {
        let start = request.warm_start();
        let mut out = Assessment::default();
        let mut spans: Vec<IncidentSpan> = Vec::new();
        let (mut samples, mut refused) = (0, 0);
        let mut from = start;
        // the last sample read: the next page starts at it (timestamps are unique per host)
        let mut last: Option<Timestamp> = None;
        'pages: loop {
            let page = self.store.list_metrics(hostname, from, PAGE).await?;
            let full = page.len() == PAGE;
            for stored in &page {
                let sample = &stored.sample;
                if last.is_some_and(|l| sample.timestamp <= l) {
                    continue;
                }
                if sample.timestamp >= request.until {
                    break 'pages;
                }
                last = Some(sample.timestamp);
                if in_maintenance(sample.timestamp) {
                    continue;
                }
                if let Err(e) = state.process_into(config, forest, sample, &mut out) {
                    tracing::warn!(hostname, timestamp = %sample.timestamp, error = %e, "stored sample refused by the engine; skipped");
                    refused += 1;
                    continue;
                }
                let inside = sample.timestamp >= request.since;
                samples += u64::from(inside);
                if let (Some(incident), Some(change)) = (&out.incident, out.incident_change) {
                    note(&mut spans, incident, change, inside);
                }
            }
            match last {
                Some(l) if full && l > from => from = l,
                _ => break,
            }
        }
        Ok((samples, refused, spans))
    }

    /// The live run's incidents of the host opened inside the stretch (its own, not silences).
    async fn stored_spans(
        &self,
        hostname: &str,
        request: &ReplayRequest,
    ) -> Result<Vec<IncidentSpan>, ServiceError> {
        let query = IncidentQuery {
            status: None,
            hostname: Some(hostname.to_owned()),
            since: Some(request.since),
            limit: MAX_INCIDENTS,
        };
        let mut spans: Vec<IncidentSpan> = self
            .store
            .list_incidents(&query)
            .await?
            .into_iter()
            .filter(|i| {
                !i.is_silence()
                    && !i.is_fleet()
                    && i.opened >= request.since
                    && i.opened < request.until
            })
            .map(|i| IncidentSpan {
                opened: i.opened,
                resolved: i.resolved,
                severity: i.severity,
                types: i.types.clone(),
                incident_id: Some(i.incident_id),
            })
            .collect();
        spans.sort_by_key(|s| s.opened);
        Ok(spans)
    }
}

/// Records what a sample did to the host's incident: one opened inside the stretch starts a
/// span; later changes of the same incident update it.
fn note(spans: &mut Vec<IncidentSpan>, incident: &Incident, change: IncidentChange, inside: bool) {
    let same = |s: &IncidentSpan| s.opened == incident.opened;
    match spans.last_mut().filter(|s| same(s)) {
        Some(span) => {
            span.severity = incident.severity;
            span.types.clone_from(&incident.types);
            if incident.status == IncidentStatus::Resolved {
                span.resolved = incident.resolved;
            }
        }
        None if change == IncidentChange::Opened && inside => spans.push(IncidentSpan {
            incident_id: None,
            opened: incident.opened,
            resolved: incident.resolved,
            severity: incident.severity,
            types: incident.types.clone(),
        }),
        None => {}
    }
}

/// True when two incidents overlap in time (an open one lasts to the end).
fn overlap(a: &IncidentSpan, b: &IncidentSpan) -> bool {
    let end = |s: &IncidentSpan| s.resolved.unwrap_or(Timestamp::MAX);
    a.opened <= end(b) && b.opened <= end(a)
}

fn compare(
    hostname: String,
    samples: u64,
    stored: &[IncidentSpan],
    replayed: &[IncidentSpan],
) -> HostReplay {
    let gone: Vec<IncidentSpan> = stored
        .iter()
        .filter(|s| !replayed.iter().any(|r| overlap(s, r)))
        .cloned()
        .collect();
    let new: Vec<IncidentSpan> = replayed
        .iter()
        .filter(|r| !stored.iter().any(|s| overlap(s, r)))
        .cloned()
        .collect();
    HostReplay {
        hostname,
        samples,
        refused: 0,
        counts: ReplayCounts {
            stored: stored.len(),
            replayed: replayed.len(),
            kept: stored.len() - gone.len(),
            gone: gone.len(),
            new: new.len(),
        },
        gone,
        new,
    }
}

fn add(total: &mut ReplayCounts, host: &ReplayCounts) {
    total.stored += host.stored;
    total.replayed += host.replayed;
    total.kept += host.kept;
    total.gone += host.gone;
    total.new += host.new;
}
