//! Maintenance windows and mutes ([`QuietWindow`]): declared, listed and deleted through
//! the API, and honoured on the way: a sample inside a maintenance window of its host is
//! stored but not scored or learned, a host in maintenance is not reported silent, and a
//! muted incident's notifications are not sent.
//!
//! Every ingest asks whether its host is in maintenance, so the windows are kept in memory
//! and read again from the store when they are older than
//! [`ServiceConfig::quiet_refresh`](super::ServiceConfig::quiet_refresh) (another process,
//! another Lambda instance, may have declared one) or when this process changed them.

use std::sync::Arc;
use std::time::Instant;

use iops_core::engine::Assessment;
use iops_core::{validate_hostname, Incident, MetricSample, QuietKind, QuietWindow, Timestamp};
use iops_store::ModelSource;
use serde::Serialize;

use super::Service;
use crate::{Scored, ServiceError};

/// The windows this process knows, and when it read them.
#[derive(Debug, Default)]
pub(super) struct QuietCache {
    maintenance: Arc<Vec<QuietWindow>>,
    mutes: Arc<Vec<QuietWindow>>,
    read_at: Option<Instant>,
}

/// Most windows of a kind the service keeps (and a list answers).
const MAX_WINDOWS: usize = 1000;

/// The answer to `GET /maintenance` or `GET /mutes`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuietList {
    /// Oldest declared first.
    pub windows: Vec<QuietWindow>,
}

impl Service {
    /// Declares a maintenance window or a mute from a request body (400 naming the field);
    /// it is honoured at once by this process, and by others within their refresh time.
    pub async fn declare_quiet(
        &self,
        kind: QuietKind,
        body: &[u8],
    ) -> Result<QuietWindow, ServiceError> {
        let max = self.config.max_quiet_seconds;
        let window = QuietWindow::from_request(kind, body, self.now(), max)
            .map_err(|e| ServiceError::invalid(e, "body"))?;
        self.store.put_quiet(&window).await?;
        self.forget_quiet();
        Ok(window)
    }

    /// The windows of `kind` that end after `since` (RFC 3339 or epoch seconds; default
    /// now: the ones not over yet), oldest declared first; with `hostname`, those that
    /// cover it (its own and every host's). Errors name `hostname` or `since`.
    pub async fn list_quiet(
        &self,
        kind: QuietKind,
        hostname: Option<&str>,
        since: Option<&str>,
    ) -> Result<QuietList, ServiceError> {
        if let Some(h) = hostname {
            validate_hostname(h).map_err(|e| ServiceError::invalid(e, "hostname"))?;
        }
        let since = super::parse_since(since)?.unwrap_or_else(|| self.now());
        let windows = self
            .store
            .list_quiet(kind, since, MAX_WINDOWS)
            .await?
            .into_iter()
            .filter(|w| {
                hostname.is_none_or(|h| w.hostname == iops_core::EVERY_HOST || w.hostname == h)
            })
            .collect();
        Ok(QuietList { windows })
    }

    /// Deletes a window of `kind` (404 when there is none of that id).
    pub async fn delete_quiet(&self, kind: QuietKind, window_id: &str) -> Result<(), ServiceError> {
        if !self.store.delete_quiet(kind, window_id).await? {
            return Err(ServiceError::NotFound {
                what: match kind {
                    QuietKind::Maintenance => "maintenance window",
                    QuietKind::Mute => "mute",
                },
                id: window_id.to_owned(),
            });
        }
        self.forget_quiet();
        Ok(())
    }

    /// Scores `sample` with the service's scorer, unless its host is in maintenance at its
    /// time: then the state is left as it was and nothing is raised.
    pub(super) async fn score(
        &self,
        state: &mut iops_core::engine::HostState,
        sample: &MetricSample,
    ) -> Result<Scored, ServiceError> {
        if self
            .in_maintenance(&sample.hostname, sample.timestamp)
            .await
        {
            return Ok(Scored {
                assessment: Assessment::default(),
                source: ModelSource::Builtin,
                version: String::new(),
                fallback: false,
            });
        }
        self.scorer.score(state, sample).await
    }

    /// True when a maintenance window covers `hostname` at `t`.
    pub(super) async fn in_maintenance(&self, hostname: &str, t: Timestamp) -> bool {
        self.quiet(QuietKind::Maintenance)
            .await
            .iter()
            .any(|w| w.covers(hostname, t))
    }

    /// True when a mute silences `incident`'s notifications now.
    pub(super) async fn muted(&self, incident: &Incident) -> bool {
        let now = self.now();
        self.quiet(QuietKind::Mute)
            .await
            .iter()
            .any(|w| w.mutes(incident, now))
    }

    /// The windows of `kind` this process knows, read again when stale. A failed read keeps
    /// the ones known (and is logged): ingest does not stop for it.
    async fn quiet(&self, kind: QuietKind) -> Arc<Vec<QuietWindow>> {
        let fresh = {
            let cache = self.quiet.lock().unwrap_or_else(|p| p.into_inner());
            let fresh = cache
                .read_at
                .is_some_and(|at| at.elapsed() < self.config.quiet_refresh);
            fresh.then(|| cache.of(kind))
        };
        if let Some(windows) = fresh {
            return windows;
        }
        // windows that ended up to a week before now still cover late samples
        let since = self
            .now()
            .plus_seconds(-self.config.max_quiet_seconds)
            .unwrap_or(Timestamp::MIN);
        let read = async {
            let maintenance = self
                .store
                .list_quiet(QuietKind::Maintenance, since, MAX_WINDOWS)
                .await?;
            let mutes = self
                .store
                .list_quiet(QuietKind::Mute, since, MAX_WINDOWS)
                .await?;
            Ok::<_, iops_store::StoreError>((maintenance, mutes))
        };
        let read = read.await;
        let mut cache = self.quiet.lock().unwrap_or_else(|p| p.into_inner());
        match read {
            Ok((maintenance, mutes)) => {
                cache.maintenance = Arc::new(maintenance);
                cache.mutes = Arc::new(mutes);
            }
            // (tried again after the refresh time, not at every sample)
            Err(e) => tracing::warn!(
                error = %e,
                "maintenance windows and mutes not read; the known ones stay"
            ),
        }
        cache.read_at = Some(Instant::now());
        cache.of(kind)
    }

    /// The next look at the windows reads them from the store.
    fn forget_quiet(&self) {
        self.quiet.lock().unwrap_or_else(|p| p.into_inner()).read_at = None;
    }
}

impl QuietCache {
    fn of(&self, kind: QuietKind) -> Arc<Vec<QuietWindow>> {
        match kind {
            QuietKind::Maintenance => Arc::clone(&self.maintenance),
            QuietKind::Mute => Arc::clone(&self.mutes),
        }
    }
}
