//! Batches: a POST /metrics body that is a JSON array of samples.
//!
//! Each item is validated on its own (a bad one answers its own 400 naming the field, and
//! the others go on). The valid samples are grouped by host; each host's run, in time
//! order, is stored, scored and learned as the single-sample path would one after the other
//! (the same answers and the same state), under the host's lock, with one state write per
//! host per batch: one compare-and-swap of the state with every metric's insights and
//! incidents (per-ingest mode), or one transaction with at most one snapshot (snapshot
//! mode). Hosts run concurrently, so a backend that groups commits (SQLite) writes a whole
//! batch in few transactions.

use std::collections::HashMap;

use futures_util::future::join_all;
use iops_core::{Incident, IncidentChange, MetricSample};
use iops_store::{PutMetric, StateUpdate, StoreError, StoredInsight};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use super::{
    encode_error, host_reorder_window, stored_insights, CachedState, IngestOutcome, IngestResponse,
    ScoreOutcome, Service,
};
use crate::reorder::{self, Arrival, Ledger};
use crate::ServiceError;

/// The message of a batch's answer.
pub const BATCH_MESSAGE: &str = "Batch processed";

/// One item's outcome: what the single-sample form would have answered for it.
pub type BatchItem = Result<IngestResponse, ItemError>;

/// Why one item of a batch failed, as its client is told (a 5xx's details are logged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemError {
    /// The status the single-sample form would have answered.
    pub status: u16,
    /// The message ([`ServiceError::public_message`]).
    pub error: String,
    /// The field a 400 is about.
    pub field: Option<String>,
}

impl From<&ServiceError> for ItemError {
    fn from(e: &ServiceError) -> Self {
        ItemError {
            status: e.status(),
            error: e.public_message(),
            field: e.field().map(str::to_owned),
        }
    }
}

/// The answer to a batch: every item's outcome, in the order of the request.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchResponse {
    /// One per item of the request.
    pub items: Vec<BatchItem>,
}

impl BatchResponse {
    /// 200, or the highest 5xx of an item: the whole batch is then to be sent again (it is
    /// idempotent: the items already stored answer as duplicates, with the same ids and
    /// insights). An item's 4xx alone does not fail the batch: sent again, it fails again.
    pub fn status(&self) -> u16 {
        self.items
            .iter()
            .filter_map(|i| i.as_ref().err().map(|e| e.status))
            .filter(|s| *s >= 500)
            .max()
            .unwrap_or(200)
    }

    /// Items stored (scored or duplicates).
    pub fn stored(&self) -> usize {
        self.items.iter().filter(|i| i.is_ok()).count()
    }

    /// The wire JSON: `{"message":"Batch processed","stored":N,"failed":M,"items":[...]}`,
    /// an item `{"status":200,"metricId":"...","insights":[...]}` or
    /// `{"status":400,"error":"...","field":"cpuUsage"}`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl Serialize for BatchResponse {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let stored = self.stored();
        let mut map = serializer.serialize_map(Some(4))?;
        map.serialize_entry("message", BATCH_MESSAGE)?;
        map.serialize_entry("stored", &stored)?;
        map.serialize_entry("failed", &(self.items.len() - stored))?;
        map.serialize_entry("items", &Items(&self.items))?;
        map.end()
    }
}

struct Items<'a>(&'a [BatchItem]);

impl Serialize for Items<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(Item))
    }
}

struct Item<'a>(&'a BatchItem);

impl Serialize for Item<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        match self.0 {
            Ok(answer) => {
                map.serialize_entry("status", &200)?;
                map.serialize_entry("metricId", &answer.metric_id)?;
                map.serialize_entry("insights", &answer.insights)?;
            }
            Err(e) => {
                map.serialize_entry("status", &e.status)?;
                map.serialize_entry("error", &e.error)?;
                if let Some(field) = &e.field {
                    map.serialize_entry("field", field)?;
                }
            }
        }
        map.end()
    }
}

/// The store answered a different number of metric puts than samples it was given.
pub(super) fn missing_puts(samples: usize, puts: usize) -> ServiceError {
    ServiceError::Store(StoreError::Corrupt {
        what: "metric",
        reason: format!("the store answered {puts} puts for {samples} samples"),
    })
}

/// Puts `incident` in `incidents`, replacing an earlier version of it.
pub(super) fn upsert_incident(incidents: &mut Vec<Incident>, incident: Incident) {
    match incidents
        .iter_mut()
        .find(|i| i.incident_id == incident.incident_id)
    {
        Some(earlier) => *earlier = incident,
        None => incidents.push(incident),
    }
}

impl Service {
    /// Handles a POST /metrics body that is a JSON array (see the module docs).
    ///
    /// The request as a whole fails only when it is not an array (400 naming `body`), is
    /// larger than [`super::ServiceConfig::max_batch_bytes`] or holds more than
    /// [`super::ServiceConfig::max_batch_samples`] items (413); nothing is stored then.
    pub async fn ingest_batch(&self, body: &[u8]) -> Result<BatchResponse, ServiceError> {
        if body.len() > self.config.max_batch_bytes {
            return Err(ServiceError::TooLarge {
                size: body.len(),
                limit: self.config.max_batch_bytes,
            });
        }
        let parsed =
            MetricSample::batch_from_json(body).map_err(|e| ServiceError::invalid(e, "body"))?;
        if parsed.len() > self.config.max_batch_samples {
            return Err(ServiceError::TooManySamples {
                count: parsed.len(),
                limit: self.config.max_batch_samples,
            });
        }
        let parsed = parsed
            .into_iter()
            .map(|item| item.map_err(|e| ServiceError::invalid(e, "body")))
            .collect();
        Ok(self.ingest_parsed(parsed).await)
    }

    /// Ingests samples parsed elsewhere (a stream's records) as one batch: each item's
    /// outcome in order, a parse error answering as its own item. No limit on the count:
    /// the caller bounds it (a Kinesis batch is at most 10,000 records).
    pub async fn ingest_parsed(
        &self,
        parsed: Vec<Result<MetricSample, ServiceError>>,
    ) -> BatchResponse {
        let mut items: Vec<Option<BatchItem>> = (0..parsed.len()).map(|_| None).collect();
        let mut groups: Vec<Vec<(usize, MetricSample)>> = Vec::new();
        let mut group_of: HashMap<String, usize> = HashMap::new();
        for (position, item) in parsed.into_iter().enumerate() {
            let sample = item.and_then(|s| self.check_not_ahead(&s).map(|()| s));
            match sample {
                Ok(sample) => {
                    let next = groups.len();
                    let g = *group_of.entry(sample.hostname.clone()).or_insert(next);
                    if g == next {
                        groups.push(Vec::new());
                    }
                    groups[g].push((position, sample));
                }
                Err(e) => items[position] = Some(Err(ItemError::from(&e))),
            }
        }
        if !groups.is_empty() {
            self.note_arrival();
        }
        for answered in join_all(groups.into_iter().map(|g| self.ingest_host_run(g))).await {
            for (position, item) in answered {
                items[position] = Some(item);
            }
        }
        BatchResponse {
            items: items
                .into_iter()
                .map(|i| {
                    i.unwrap_or_else(|| {
                        Err(ItemError::from(&ServiceError::Store(StoreError::Closed {
                            op: "batch",
                        })))
                    })
                })
                .collect(),
        }
    }

    /// One host's samples of a batch (positions in the request), under the host's lock.
    async fn ingest_host_run(
        &self,
        mut group: Vec<(usize, MetricSample)>,
    ) -> Vec<(usize, BatchItem)> {
        // in time order; a timestamp repeated in the batch is one sample and its repeats
        group.sort_by_key(|(_, s)| s.timestamp);
        let mut run: Vec<MetricSample> = Vec::with_capacity(group.len());
        let mut slot = Vec::with_capacity(group.len());
        for (_, s) in &group {
            if run.last().map(|r| r.timestamp) != Some(s.timestamp) {
                run.push(s.clone());
            }
            slot.push(run.len() - 1);
        }
        let Some(hostname) = run.first().map(|s| s.hostname.clone()) else {
            return Vec::new();
        };
        let lock = self.lock_host(&hostname).await;
        let result = match self.config.snapshots {
            Some(policy) => self.store_and_score_live_run(&run, policy).await,
            None => self.store_and_score_run(&run).await,
        };
        drop(lock);
        self.unlock_host(&hostname);
        let outcomes = match result {
            Ok(outcomes) if outcomes.len() == run.len() => outcomes,
            Ok(outcomes) => {
                let e = missing_puts(run.len(), outcomes.len());
                return failed(&group, &e);
            }
            Err(e) => {
                if e.status() >= 500 {
                    tracing::error!(hostname = %hostname, error = %e, "batch items of a host failed");
                }
                return failed(&group, &e);
            }
        };
        if outcomes.iter().any(|(_, o)| o.state_reset) {
            tracing::warn!(
                hostname = %hostname,
                "host state could not be decoded (older format?); started afresh"
            );
        }
        let mut seen = vec![false; run.len()];
        group
            .iter()
            .zip(slot)
            .map(|((position, sample), k)| {
                let (put, outcome) = &outcomes[k];
                let repeat = std::mem::replace(&mut seen[k], true);
                let outcome = if repeat {
                    ScoreOutcome::duplicate(outcome.insights.clone())
                } else {
                    outcome.clone()
                };
                let answer = IngestResponse::new(sample.clone(), put.clone(), outcome);
                (*position, Ok(answer))
            })
            .collect()
    }

    /// The store-and-score step of one host's samples (distinct timestamps, in time order)
    /// in per-ingest mode, the host's lock held: every metric stored in one call, then each
    /// sample judged as [`Service::ingest`] judges it against the state as the samples
    /// before it left it, and the state saved once (compare-and-swap) with all their
    /// insights and incidents; on a conflict, the run is scored again from the new state.
    pub(super) async fn store_and_score_run(
        &self,
        samples: &[MetricSample],
    ) -> Result<Vec<(PutMetric, ScoreOutcome)>, ServiceError> {
        let Some(first) = samples.first() else {
            return Ok(Vec::new());
        };
        let host = &first.hostname;
        let puts = self.store.put_metrics_batch(samples).await?;
        if puts.len() != samples.len() {
            return Err(missing_puts(samples.len(), puts.len()));
        }
        let window = self.config.reorder_window;
        let mut cached = self.take_cached(host);
        for _ in 0..self.config.cas_attempts {
            let loaded = self.load(host, &mut cached).await?;
            let mut last = loaded.last_timestamp();
            let mut ledger = loaded.ledger();
            let (expected_version, mut state, mut state_reset) = self.state_of(loaded)?;
            let mut outcomes: Vec<ScoreOutcome> = Vec::with_capacity(samples.len());
            let mut insights: Vec<StoredInsight> = Vec::new();
            let mut incidents: Vec<Incident> = Vec::new();
            let mut changes: Vec<(Option<IncidentChange>, Option<Incident>)> = Vec::new();
            let mut learned_any = false;
            for (sample, put) in samples.iter().zip(&puts) {
                let mut arrival = ledger.classify(sample.timestamp, last, window);
                if arrival == Arrival::TooOld {
                    let wider = host_reorder_window(window, state.cadence());
                    if wider > window {
                        arrival = ledger.classify(sample.timestamp, last, wider);
                    }
                }
                match arrival {
                    Arrival::InOrder | Arrival::Late => {
                        let scored_after = state.n_seen();
                        let scored = self.score(&mut state, sample).await?;
                        let mine = stored_insights(sample, &scored);
                        let incident = self.recorded_incident(&scored, &mine, &incidents).await?;
                        if let Some(incident) = &incident {
                            upsert_incident(&mut incidents, incident.clone());
                        }
                        changes.push((scored.assessment.incident_change, incident));
                        if state_reset && !learned_any {
                            // an undecodable state restarts, and so does its record
                            if let Some(last) = last {
                                ledger = Ledger::unknown_up_to(last);
                            }
                        }
                        let newest = last.map_or(sample.timestamp, |l| l.max(sample.timestamp));
                        ledger.record(
                            sample.timestamp,
                            newest,
                            host_reorder_window(window, state.cadence()),
                        );
                        last = Some(newest);
                        insights.extend(mine.iter().cloned());
                        outcomes.push(ScoreOutcome {
                            outcome: if arrival == Arrival::Late {
                                IngestOutcome::ScoredLate { learned: true }
                            } else {
                                IngestOutcome::Scored
                            },
                            insights: mine,
                            state_reset: std::mem::take(&mut state_reset),
                            scored_by: Some(scored.source),
                            fallback: scored.fallback,
                            scored_after: Some(scored_after),
                        });
                        learned_any = true;
                    }
                    Arrival::TooOld if put.inserted => {
                        let mut copy = state.clone();
                        let scored_after = copy.n_seen();
                        let scored = self.score(&mut copy, sample).await?;
                        let mut mine = stored_insights(sample, &scored);
                        // the copy's incident is not the host's
                        for i in &mut mine {
                            i.insight.incident_id = None;
                        }
                        insights.extend(mine.iter().cloned());
                        outcomes.push(ScoreOutcome {
                            outcome: IngestOutcome::ScoredLate { learned: false },
                            insights: mine,
                            state_reset: false,
                            scored_by: Some(scored.source),
                            fallback: scored.fallback,
                            scored_after: Some(scored_after),
                        });
                    }
                    Arrival::Learned | Arrival::TooOld => {
                        outcomes.push(ScoreOutcome::duplicate(self.insights_of(sample).await?));
                    }
                }
            }
            let Some(last_timestamp) = last.filter(|_| learned_any) else {
                // nothing learned: the state, its newest time and its ledger are as loaded
                if !insights.is_empty() {
                    self.store.put_insights(&insights).await?;
                }
                if let (Some(last_timestamp), false) = (last, state_reset) {
                    self.put_cached(
                        host,
                        CachedState {
                            version: expected_version,
                            last_timestamp,
                            state,
                            ledger,
                        },
                    );
                }
                return Ok(puts.into_iter().zip(outcomes).collect());
            };
            let update = StateUpdate {
                hostname: host.clone(),
                expected_version,
                last_timestamp,
                state: reorder::encode(&state, &ledger).map_err(encode_error)?,
                insights,
                incidents,
                received: Some(self.now()),
            };
            match self.store.save_state(update).await {
                Ok(version) => {
                    for (change, incident) in changes {
                        self.incident_changed(change, incident.as_ref()).await;
                    }
                    self.put_cached(
                        host,
                        CachedState {
                            version,
                            last_timestamp,
                            state,
                            ledger,
                        },
                    );
                    return Ok(puts.into_iter().zip(outcomes).collect());
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
}

/// Every item of a host's group failed with `e`.
fn failed(group: &[(usize, MetricSample)], e: &ServiceError) -> Vec<(usize, BatchItem)> {
    let item = ItemError::from(e);
    group
        .iter()
        .map(|(position, _)| (*position, Err(item.clone())))
        .collect()
}
