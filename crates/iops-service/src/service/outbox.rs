//! The notification outbox: every notification is written to the store before it is
//! queued and removed once delivered ([`OutboxLog`]), and the sweep queues again the ones
//! older than [`RESEND_AFTER_SECONDS`] (their sender stopped, or gave up), so a transition
//! reaches people at least once even when the process that made it does not live to
//! deliver it. Receivers keep one per idempotency key. One still undelivered
//! [`ServiceConfig::outbox_give_up`](super::ServiceConfig::outbox_give_up) after it was
//! written is given up (logged as an error and removed), so a receiver gone for good neither
//! grows the outbox without end nor keeps the sweep from newer pages. With a fleet hold
//! ([`iops_core::FleetPolicy::hold_seconds`]) a host's notifications are only written, and
//! the sweep sends them once the hold is over, unless a fleet incident took the host's
//! incident in meanwhile (people were told of the fleet's).

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
    /// Queues the outbox's notifications that are due: held ones (a host's, under a fleet
    /// hold) once the hold is over, unless a fleet incident took their incident in (they
    /// are dropped: the fleet's was told); the others once [`RESEND_AFTER_SECONDS`] old.
    /// Returns how many were queued (0 when nobody is told of anything).
    pub async fn resend_outbox(&self) -> Result<usize, ServiceError> {
        let Some(dispatcher) = &self.notifications else {
            return Ok(0);
        };
        let now = self.now();
        let hold = self.config.fleet.hold_seconds;
        let due_after = |held: bool| if held { hold } else { RESEND_AFTER_SECONDS };
        // the youngest an entry can be and be due
        let soonest = if hold > 0.0 {
            hold.min(RESEND_AFTER_SECONDS)
        } else {
            RESEND_AFTER_SECONDS
        };
        let before = now
            .plus_seconds(-soonest)
            .unwrap_or(iops_core::Timestamp::MIN);
        let give_up = self.config.outbox_give_up.as_secs_f64();
        let mut sent = 0;
        for entry in self.store.list_outbox(before, RESEND_LIMIT).await? {
            let n = entry.notification;
            let held = self.held(&n);
            let age = now.epoch_seconds() - entry.created.epoch_seconds();
            if age < due_after(held) {
                continue;
            }
            if age > give_up {
                tracing::error!(key = %n.idempotency_key, created = %entry.created, text = %n.text, "notification given up: undelivered after {give_up} s in the outbox");
                self.store.delete_outbox(&n.idempotency_key).await?;
                continue;
            }
            if held && self.fleet_of(&n.incident).await?.is_some() {
                self.store.delete_outbox(&n.idempotency_key).await?;
                continue;
            }
            tracing::info!(key = %n.idempotency_key, created = %entry.created, "notification sent from the outbox");
            dispatcher.send(n);
            sent += 1;
        }
        Ok(sent)
    }
}
