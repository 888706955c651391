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

/// The windows this process knows.
#[derive(Debug, Default)]
pub(super) struct QuietWindows {
    maintenance: Vec<QuietWindow>,
    mutes: Vec<QuietWindow>,
}

/// What the operator declared (windows, labels) as this process last read it from the store.
#[derive(Debug)]
pub(super) struct Declared<T> {
    value: Arc<T>,
    read_at: Option<Instant>,
}

impl<T: Default> Default for Declared<T> {
    fn default() -> Self {
        Declared {
            value: Arc::new(T::default()),
            read_at: None,
        }
    }
}

impl<T> Declared<T> {
    /// The value, unless it was read `refresh` ago or more (or never).
    pub(super) fn fresh(&self, refresh: std::time::Duration) -> Option<Arc<T>> {
        self.read_at
            .is_some_and(|at| at.elapsed() < refresh)
            .then(|| Arc::clone(&self.value))
    }

    /// Read now: `value`, or (a failed read) the value known, until the next refresh.
    pub(super) fn read(&mut self, value: Option<T>) -> Arc<T> {
        if let Some(v) = value {
            self.value = Arc::new(v);
        }
        self.read_at = Some(Instant::now());
        Arc::clone(&self.value)
    }

    /// The next look reads it from the store.
    pub(super) fn forget(&mut self) {
        self.read_at = None;
    }
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

    /// Scores `sample` with the service's scorer, its host's cut-offs raised by the
    /// operator's labels, unless its host is in maintenance at its time: then the state is
    /// left as it was and nothing is raised.
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
        state.set_desensitised(self.desensitisation_of(&sample.hostname).await);
        self.scorer.score(state, sample).await
    }

    /// True when a maintenance window covers `hostname` at `t`.
    pub(super) async fn in_maintenance(&self, hostname: &str, t: Timestamp) -> bool {
        self.quiet()
            .await
            .maintenance
            .iter()
            .any(|w| w.covers(hostname, t))
    }

    /// True when a mute silences `incident`'s notifications now.
    pub(super) async fn muted(&self, incident: &Incident) -> bool {
        let now = self.now();
        self.quiet()
            .await
            .mutes
            .iter()
            .any(|w| w.mutes(incident, now))
    }

    /// The windows this process knows, read again when stale. A failed read keeps the ones
    /// known (and is logged): ingest does not stop for it.
    async fn quiet(&self) -> Arc<QuietWindows> {
        let known = {
            let cache = self.quiet.lock().unwrap_or_else(|p| p.into_inner());
            cache.fresh(self.config.quiet_refresh)
        };
        match known {
            Some(windows) => windows,
            None => {
                // windows that ended up to a week before now still cover late samples
                let since = self
                    .now()
                    .plus_seconds(-self.config.max_quiet_seconds)
                    .unwrap_or(Timestamp::MIN);
                let read = async {
                    Ok::<_, iops_store::StoreError>(QuietWindows {
                        maintenance: self
                            .store
                            .list_quiet(QuietKind::Maintenance, since, MAX_WINDOWS)
                            .await?,
                        mutes: self
                            .store
                            .list_quiet(QuietKind::Mute, since, MAX_WINDOWS)
                            .await?,
                    })
                };
                let read = read.await.map_err(|e| {
                    // (tried again after the refresh time, not at every sample)
                    tracing::warn!(error = %e, "maintenance windows and mutes not read; the known ones stay");
                });
                let mut cache = self.quiet.lock().unwrap_or_else(|p| p.into_inner());
                cache.read(read.ok())
            }
        }
    }

    /// The next look at the windows reads them from the store.
    fn forget_quiet(&self) {
        self.quiet
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .forget();
    }
}
