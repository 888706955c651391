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

use iops_core::{validate_hostname, Incident, QuietKind, QuietWindow, Timestamp};
use serde::Serialize;

use super::Service;
use crate::ServiceError;

/// The windows this process knows.
#[derive(Debug, Default)]
pub(super) struct QuietWindows {
    maintenance: Vec<QuietWindow>,
    mutes: Vec<QuietWindow>,
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
        self.quiet_changed();
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
        self.quiet_changed();
        Ok(())
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
            Ok(windows) => windows,
            Err(generation) => {
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
                cache.read(read.ok(), generation)
            }
        }
    }

    /// This process changed the windows: the next look reads them from the store.
    fn quiet_changed(&self) {
        self.quiet
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .changed();
    }
}
