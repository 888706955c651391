//! The notification outbox: every notification is written to the store before it is
//! queued and removed once delivered ([`OutboxLog`]), and the sweep queues again the ones
//! older than [`RESEND_AFTER_SECONDS`] (their sender stopped, or gave up), so a transition
//! reaches people at least once even when the process that made it does not live to
//! deliver it. Receivers keep one per idempotency key.

use std::sync::Arc;

use async_trait::async_trait;
use iops_store::Store;

use super::Service;
use crate::notify::DeliveryLog;
use crate::ServiceError;

/// An outbox entry this old is sent again by the sweep: longer than a Lambda waits for
/// its publications (ALERT_WAIT_MS, at most 10 s). A process still retrying it skips the
/// copy (its dispatcher holds the key).
pub const RESEND_AFTER_SECONDS: f64 = 60.0;

/// Entries one sweep sends again at most (the oldest first).
const RESEND_LIMIT: usize = 1000;

/// Forgets delivered notifications in the store's outbox.
#[derive(Debug)]
pub(super) struct OutboxLog(pub(super) Arc<dyn Store>);

#[async_trait]
impl DeliveryLog for OutboxLog {
    async fn delivered(&self, idempotency_key: &str) {
        if let Err(e) = self.0.delete_outbox(idempotency_key).await {
            // kept: the sweep sends it again, and the receiver keeps one
            tracing::warn!(error = %e, key = %idempotency_key, "delivered notification not removed from the outbox");
        }
    }
}

impl Service {
    /// Queues again the outbox's notifications older than [`RESEND_AFTER_SECONDS`];
    /// returns how many (0 when nobody is told of anything).
    pub async fn resend_outbox(&self) -> Result<usize, ServiceError> {
        let Some(dispatcher) = &self.notifications else {
            return Ok(0);
        };
        let before = self
            .now()
            .plus_seconds(-RESEND_AFTER_SECONDS)
            .unwrap_or(iops_core::Timestamp::MIN);
        let entries = self.store.list_outbox(before, RESEND_LIMIT).await?;
        for entry in &entries {
            tracing::info!(key = %entry.notification.idempotency_key, created = %entry.created, "notification sent again from the outbox");
            dispatcher.send(entry.notification.clone());
        }
        Ok(entries.len())
    }
}
