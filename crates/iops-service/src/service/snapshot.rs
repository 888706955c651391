//! Snapshot mode (opt-in: [`ServiceConfig::snapshots`](super::ServiceConfig::snapshots)),
//! for a store that only this process writes (`iops serve` over SQLite).
//!
//! A host's state lives in memory and is written to the store every
//! [`SnapshotPolicy::every_samples`] scored samples, or with the next sample once it has
//! been unsaved for [`SnapshotPolicy::max_dirty`], instead of with every sample: a warm
//! state is tens of kilobytes, a sample tens of bytes. Each ingest still commits its metric
//! and insights before it is answered ([`Store::put_scored`](iops_store::Store::put_scored),
//! one transaction on SQLite). When a host is not in memory (a restart, a crash, an
//! eviction), its last snapshot is loaded and the stored metrics newer than the snapshot's
//! `last_timestamp` are replayed through the scorer in time order, which rebuilds exactly
//! the state an uninterrupted run would have (the scorer is deterministic), and stores
//! their insights again (same ids: a no-op for those already stored).
//!
//! One difference from the per-ingest mode: a sample that arrived late (stored, not
//! scored) after the last snapshot and newer than it is scored by a replay, in time order.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use iops_core::engine::HostState;
use iops_core::{Incident, MetricSample, Timestamp};
use iops_store::{PutMetric, StateUpdate, StoreError};

use super::batch::{missing_puts, upsert_incident};
use super::{decode_state, encode_state, stored_insights, IngestOutcome, ScoreOutcome, Service};
use crate::ServiceError;

/// Metrics read per page when replaying a host.
const REPLAY_PAGE: usize = 4096;

/// When a host's in-memory state is written to the store in snapshot mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotPolicy {
    /// Snapshot after this many scored samples since the last snapshot (0 acts as 1).
    pub every_samples: u32,
    /// Snapshot with the next scored sample once the state has been unsaved this long
    /// (checked on ingest: an idle host keeps its unsaved samples until
    /// [`Service::flush_snapshots`] or its next sample; a restart replays them).
    pub max_dirty: Duration,
}

impl Default for SnapshotPolicy {
    /// Every 1,000 samples or 10 s: a restart replays at most that much per host
    /// (microseconds per sample), and the snapshots cost a few percent of the writes.
    fn default() -> Self {
        SnapshotPolicy {
            every_samples: 1000,
            max_dirty: Duration::from_secs(10),
        }
    }
}

/// A host's state in snapshot mode: ahead of its last snapshot by `unsaved` samples, all
/// of which are in the store.
#[derive(Debug)]
pub(super) struct LiveState {
    /// Version of the last snapshot (0: none yet).
    version: u64,
    /// The newest sample the state has learned (`None`: none yet).
    last_timestamp: Option<Timestamp>,
    /// Boxed: moved around whole, and a state is large.
    state: Box<HostState>,
    /// Samples learned since the last snapshot.
    unsaved: u32,
    /// When the first of those was learned.
    dirty_since: Option<Instant>,
    /// The stored snapshot could not be decoded and the state started afresh (reported
    /// with the next scored sample).
    reset: bool,
}

impl LiveState {
    fn learned(&mut self, at: Timestamp) {
        self.last_timestamp = Some(at);
        self.unsaved = self.unsaved.saturating_add(1);
        self.dirty_since.get_or_insert_with(Instant::now);
    }

    fn due(&self, policy: &SnapshotPolicy) -> bool {
        self.unsaved >= policy.every_samples.max(1)
            || self
                .dirty_since
                .is_some_and(|t| t.elapsed() >= policy.max_dirty)
    }

    fn saved(&mut self, version: u64) {
        self.version = version;
        self.unsaved = 0;
        self.dirty_since = None;
    }

    fn snapshot(&self, hostname: &str) -> Result<Option<StateUpdate>, ServiceError> {
        let Some(last_timestamp) = self.last_timestamp else {
            return Ok(None);
        };
        Ok(Some(StateUpdate {
            hostname: hostname.to_owned(),
            expected_version: self.version,
            last_timestamp,
            state: encode_state(&self.state)?,
            insights: Vec::new(),
            incidents: Vec::new(),
            // snapshots are `iops serve`'s, which remembers its arrivals in memory
            received: None,
        }))
    }
}

impl Service {
    /// [`Service::ingest`]'s store-and-score step in snapshot mode (the host's lock held).
    pub(super) async fn store_and_score_live(
        &self,
        sample: &MetricSample,
        policy: SnapshotPolicy,
    ) -> Result<(PutMetric, ScoreOutcome), ServiceError> {
        let mut out = self
            .store_and_score_live_run(std::slice::from_ref(sample), policy)
            .await?;
        out.pop().ok_or_else(|| missing_puts(1, 0))
    }

    /// The store-and-score step of one host's samples (distinct timestamps, in time order)
    /// in snapshot mode, the host's lock held: those at or before the state's newest are
    /// handled one by one (duplicates, late samples); the newer ones are scored in turn and
    /// written together, with at most one snapshot.
    pub(super) async fn store_and_score_live_run(
        &self,
        samples: &[MetricSample],
        policy: SnapshotPolicy,
    ) -> Result<Vec<(PutMetric, ScoreOutcome)>, ServiceError> {
        let Some(first) = samples.first() else {
            return Ok(Vec::new());
        };
        let host = &first.hostname;
        let mut live = match self.take_live(host) {
            Some(live) => live,
            None => self.restore(host).await?,
        };
        let newer = match live.last_timestamp {
            Some(last) => samples.partition_point(|s| s.timestamp <= last),
            None => 0,
        };
        let mut out = Vec::with_capacity(samples.len());
        for sample in &samples[..newer] {
            match self.store_and_score_known(&live, sample).await {
                Ok(answer) => out.push(answer),
                Err(e) => {
                    self.put_live(host, live);
                    return Err(e);
                }
            }
        }
        let rest = &samples[newer..];
        if rest.is_empty() {
            self.put_live(host, live);
            return Ok(out);
        }
        // From here on an error drops `live`: the next ingest of the host restores it from
        // what the store holds.
        let mut scored_run = Vec::with_capacity(rest.len());
        let mut insights = Vec::new();
        let mut incidents: Vec<Incident> = Vec::new();
        let mut changes = Vec::new();
        for sample in rest {
            let scored_after = live.state.n_seen();
            let scored = self.score(&mut live.state, sample).await?;
            let mine = stored_insights(sample, &scored);
            let incident = self.recorded_incident(&scored, &mine, &incidents).await?;
            if let Some(incident) = &incident {
                upsert_incident(&mut incidents, incident.clone());
            }
            changes.push((scored.assessment.incident_change, incident));
            live.learned(sample.timestamp);
            insights.extend(mine.iter().cloned());
            scored_run.push(ScoreOutcome {
                outcome: IngestOutcome::Scored,
                insights: mine,
                state_reset: std::mem::take(&mut live.reset),
                scored_by: Some(scored.source),
                fallback: scored.fallback,
                scored_after: Some(scored_after),
            });
        }
        let snapshot = if live.due(&policy) {
            live.snapshot(host)?
        } else {
            None
        };
        let snapshotting = snapshot.is_some();
        let put = self
            .store
            .put_scored(rest, &insights, &incidents, snapshot)
            .await?;
        if put.metrics.len() != rest.len() {
            return Err(missing_puts(rest.len(), put.metrics.len()));
        }
        for (change, incident) in changes {
            self.incident_changed(change, incident.as_ref()).await;
        }
        match (snapshotting, put.snapshot_version) {
            (true, Some(version)) => {
                live.saved(version);
                self.put_live(host, live);
            }
            // Another writer saved this host's state: ours is not the store's any more.
            (true, None) => {}
            (false, _) => self.put_live(host, live),
        }
        out.extend(put.metrics.into_iter().zip(scored_run));
        Ok(out)
    }

    /// A sample at or before the newest the live state has learned: a duplicate, or a late
    /// sample scored on a copy of the state and not learned (the state stays what a replay
    /// of the stored metrics in time order rebuilds after a restart).
    async fn store_and_score_known(
        &self,
        live: &LiveState,
        sample: &MetricSample,
    ) -> Result<(PutMetric, ScoreOutcome), ServiceError> {
        let put = self.store.put_metric(sample).await?;
        let late = live
            .last_timestamp
            .is_some_and(|last| sample.timestamp < last);
        if !(put.inserted && late) {
            let insights = self.insights_of(sample).await?;
            return Ok((put, ScoreOutcome::duplicate(insights)));
        }
        let mut copy = live.state.clone();
        let scored = self
            .score_without_learning(&mut copy, sample, false)
            .await?;
        Ok((put, scored))
    }

    /// The host's last snapshot, brought up to date by replaying the stored metrics newer
    /// than it, in time order (their insights stored again: a no-op for those already
    /// stored).
    async fn restore(&self, hostname: &str) -> Result<LiveState, ServiceError> {
        let mut live = match self.store.load_state(hostname).await? {
            Some(stored) => {
                let (state, reset) = match decode_state(&stored.state) {
                    Some(state) => (state, false),
                    None => (self.scorer.new_state()?, true),
                };
                LiveState {
                    version: stored.version,
                    last_timestamp: Some(stored.last_timestamp),
                    state: Box::new(state),
                    unsaved: 0,
                    dirty_since: None,
                    reset,
                }
            }
            None => LiveState {
                version: 0,
                last_timestamp: None,
                state: Box::new(self.scorer.new_state()?),
                unsaved: 0,
                dirty_since: None,
                reset: false,
            },
        };
        let mut since = live.last_timestamp.unwrap_or(Timestamp::MIN);
        loop {
            let page = self
                .store
                .list_metrics(hostname, since, REPLAY_PAGE)
                .await?;
            let full = page.len() >= REPLAY_PAGE;
            let mut insights = Vec::new();
            for stored in page {
                let at = stored.sample.timestamp;
                if live.last_timestamp.is_some_and(|last| at <= last) {
                    continue;
                }
                let scored = self.score(&mut live.state, &stored.sample).await?;
                insights.extend(stored_insights(&stored.sample, &scored));
                live.learned(at);
            }
            if !insights.is_empty() {
                self.store.put_insights(&insights).await?;
            }
            match live.last_timestamp {
                // a full page is sorted and its timestamps distinct: `since` moves on
                Some(last) if full && last > since => since = last,
                _ => return Ok(live),
            }
        }
    }

    /// Writes a snapshot of every host whose in-memory state is ahead of its last one (at
    /// shutdown, so a restart replays nothing). Returns how many were written. A no-op
    /// outside snapshot mode.
    pub async fn flush_snapshots(&self) -> Result<usize, ServiceError> {
        let hosts: Vec<String> = {
            let live = self.live.lock().unwrap_or_else(|e| e.into_inner());
            live.iter()
                .filter(|(_, l)| l.unsaved > 0)
                .map(|(h, _)| h.clone())
                .collect()
        };
        let mut written = 0;
        for host in hosts {
            let lock = self.lock_host(&host).await;
            let result = self.flush_one(&host).await;
            drop(lock);
            self.unlock_host(&host);
            if result? {
                written += 1;
            }
        }
        Ok(written)
    }

    async fn flush_one(&self, host: &str) -> Result<bool, ServiceError> {
        let Some(mut live) = self.take_live(host) else {
            return Ok(false);
        };
        let snapshot = match live.snapshot(host) {
            Ok(Some(s)) if live.unsaved > 0 => s,
            Ok(_) => {
                self.put_live(host, live);
                return Ok(false);
            }
            Err(e) => {
                self.put_live(host, live);
                return Err(e);
            }
        };
        match self.store.save_state(snapshot).await {
            Ok(version) => {
                live.saved(version);
                self.put_live(host, live);
                Ok(true)
            }
            // another writer saved it: drop ours, the next ingest restores theirs
            Err(StoreError::Conflict { .. }) => Ok(false),
            Err(e) => {
                self.put_live(host, live);
                Err(e.into())
            }
        }
    }

    /// The sample interval of a host held in memory, when its models know it.
    pub(super) fn live_interval(&self, hostname: &str) -> Option<f64> {
        let live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        live.get(hostname).and_then(|l| l.state.cadence())
    }

    /// Reads `f` off a host's state held in memory, if it is.
    pub(super) fn live_read<T>(
        &self,
        hostname: &str,
        f: impl FnOnce(&HostState) -> T,
    ) -> Option<T> {
        let live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        live.get(hostname).map(|l| f(&l.state))
    }

    fn take_live(&self, hostname: &str) -> Option<LiveState> {
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        live.remove(hostname)
    }

    /// Keeps a host's live state. When [`ServiceConfig::state_cache_hosts`] are held,
    /// another host's makes room (it restores from its snapshot and the stored metrics).
    ///
    /// [`ServiceConfig::state_cache_hosts`]: super::ServiceConfig::state_cache_hosts
    fn put_live(&self, hostname: &str, state: LiveState) {
        let cap = self.config.state_cache_hosts;
        if cap == 0 {
            return;
        }
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        evict_one_if_full(&mut live, hostname, cap);
        live.insert(hostname.to_owned(), state);
    }
}

fn evict_one_if_full(live: &mut HashMap<String, LiveState>, hostname: &str, cap: usize) {
    if live.len() >= cap && !live.contains_key(hostname) {
        let victim = live.keys().next().cloned();
        if let Some(victim) = victim {
            live.remove(&victim);
        }
    }
}
