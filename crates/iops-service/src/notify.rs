//! Notifications of incident transitions (opened, escalated, resolved), delivered off the
//! ingest path: the service hands each one to a [`Dispatcher`] (a bounded queue; a full
//! queue drops and counts, it never makes an ingest wait), whose worker delivers it to
//! every [`Notifier`], each delivery retried with exponential backoff and jitter. A
//! transition is delivered at least once; each carries its idempotency key
//! ([`Notification::idempotency_key`]) so the receiver keeps one, and the dispatcher itself
//! skips keys it holds or delivered recently. A key whose delivery gave up is forgotten, so
//! the outbox sweep can send it again; a delivered one is reported to the
//! [`DeliveryLog`] (the store's outbox), if one is set.

use std::collections::{HashMap, VecDeque};
use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use iops_core::Notification;
use thiserror::Error;
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

/// One failed delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{target}: {reason}")]
pub struct NotifyError {
    /// Where it was going (a URL, a topic ARN).
    pub target: String,
    /// What went wrong.
    pub reason: String,
}

/// Where notifications go: a webhook, an SNS topic.
#[async_trait]
pub trait Notifier: Send + Sync + Debug {
    /// Where it delivers, for logs.
    fn target(&self) -> &str;

    /// Delivers one notification once; an error is retried by the dispatcher.
    async fn deliver(&self, notification: &Notification) -> Result<(), NotifyError>;
}

/// Told of every notification delivered to all notifiers (the outbox forgets it).
#[async_trait]
pub trait DeliveryLog: Send + Sync + Debug {
    /// `idempotency_key` reached every notifier.
    async fn delivered(&self, idempotency_key: &str);
}

/// How often and how patiently a delivery is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (the first included).
    pub attempts: u32,
    /// Wait before the second attempt; doubled each time, plus up to half again of jitter.
    pub first_delay: Duration,
    /// Longest wait between two attempts.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 8 attempts over about 4 minutes: a receiver restarting or briefly failing still
    /// gets the page.
    fn default() -> Self {
        RetryPolicy {
            attempts: 8,
            first_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt `n` (1-based), with jitter from `salt`.
    fn delay(&self, n: u32, salt: u64) -> Duration {
        let base = self
            .first_delay
            .saturating_mul(1u32 << n.saturating_sub(1).min(20))
            .min(self.max_delay);
        // up to +50 %, so receivers recovering together are not hit in step
        let jitter = base.mul_f64((salt % 1000) as f64 / 2000.0);
        (base + jitter).min(self.max_delay)
    }
}

/// Keys queued or delivered recently, oldest first out.
#[derive(Debug, Default)]
struct Recent {
    /// Key → delivered (false: still being delivered).
    keys: HashMap<String, bool>,
    order: VecDeque<String>,
}

/// What the dispatcher knows of a key it is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    New,
    InFlight,
    Delivered,
}

/// Keys remembered by the dispatcher (a transition re-sent after that many others may be
/// delivered again: the receiver's key check is the guarantee).
const RECENT_KEYS: usize = 10_000;

impl Recent {
    /// What is known of `key`; a new one is remembered as in flight.
    fn insert(&mut self, key: &str) -> Seen {
        match self.keys.get(key) {
            Some(true) => return Seen::Delivered,
            Some(false) => return Seen::InFlight,
            None => {}
        }
        if self.order.len() >= RECENT_KEYS {
            if let Some(old) = self.order.pop_front() {
                self.keys.remove(&old);
            }
        }
        self.keys.insert(key.to_owned(), false);
        self.order.push_back(key.to_owned());
        Seen::New
    }

    /// `key` reached every notifier.
    fn delivered(&mut self, key: &str) {
        if let Some(done) = self.keys.get_mut(key) {
            *done = true;
        }
    }

    /// Forgets `key` (its delivery gave up: a later send is new again).
    fn forget(&mut self, key: &str) {
        if self.keys.remove(key).is_some() {
            self.order.retain(|k| k != key);
        }
    }
}

/// The queue between the service and the notifiers. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    queue: mpsc::Sender<Notification>,
    dropped: Arc<AtomicU64>,
    /// Notifications queued or being delivered.
    pending: Arc<AtomicUsize>,
    /// Where deliveries are recorded, once set ([`Dispatcher::record_deliveries`]).
    log: Arc<OnceLock<Arc<dyn DeliveryLog>>>,
}

/// Notifications the queue holds before it drops new ones.
pub const QUEUE_CAPACITY: usize = 10_000;

impl Dispatcher {
    /// Starts the worker (on the current tokio runtime) delivering to `notifiers`. The
    /// handle completes once every clone of the dispatcher is dropped and the deliveries
    /// in flight are done.
    pub fn start(notifiers: Vec<Arc<dyn Notifier>>, retry: RetryPolicy) -> (Self, JoinHandle<()>) {
        let (queue, mut next) = mpsc::channel::<Notification>(QUEUE_CAPACITY);
        let pending = Arc::new(AtomicUsize::new(0));
        let done = Arc::clone(&pending);
        let log: Arc<OnceLock<Arc<dyn DeliveryLog>>> = Arc::new(OnceLock::new());
        let worker_log = Arc::clone(&log);
        let worker = tokio::spawn(async move {
            let recent = Arc::new(Mutex::new(Recent::default()));
            let mut deliveries = JoinSet::new();
            while let Some(notification) = next.recv().await {
                match lock(&recent).insert(&notification.idempotency_key) {
                    Seen::New => {}
                    Seen::InFlight => {
                        done.fetch_sub(1, Ordering::Relaxed);
                        continue;
                    }
                    // sent again though delivered (its outbox entry outlived the
                    // delivery): not delivered twice, but told to the log again
                    Seen::Delivered => {
                        let log = Arc::clone(&worker_log);
                        let done = Arc::clone(&done);
                        deliveries.spawn(async move {
                            if let Some(log) = log.get() {
                                log.delivered(&notification.idempotency_key).await;
                            }
                            done.fetch_sub(1, Ordering::Relaxed);
                        });
                        continue;
                    }
                }
                let notification = Arc::new(notification);
                let notifiers = notifiers.clone();
                let done = Arc::clone(&done);
                let recent = Arc::clone(&recent);
                let log = Arc::clone(&worker_log);
                deliveries.spawn(async move {
                    let mut each = JoinSet::new();
                    for notifier in notifiers {
                        each.spawn(deliver(notifier, Arc::clone(&notification), retry));
                    }
                    let mut all = true;
                    while let Some(ok) = each.join_next().await {
                        all &= ok.unwrap_or(false);
                    }
                    let key = &notification.idempotency_key;
                    if all {
                        lock(&recent).delivered(key);
                        if let Some(log) = log.get() {
                            log.delivered(key).await;
                        }
                    } else {
                        lock(&recent).forget(key);
                    }
                    done.fetch_sub(1, Ordering::Relaxed);
                });
                // reap the finished ones so the set stays small
                while deliveries.try_join_next().is_some() {}
            }
            while deliveries.join_next().await.is_some() {}
        });
        let dispatcher = Dispatcher {
            queue,
            dropped: Arc::new(AtomicU64::new(0)),
            pending,
            log,
        };
        (dispatcher, worker)
    }

    /// Reports each delivered notification to `log` from now on (the first log set stays).
    pub fn record_deliveries(&self, log: Arc<dyn DeliveryLog>) {
        let _ = self.log.set(log);
    }

    /// Queues a notification; when the queue is full it is dropped, counted and logged
    /// (ingest never waits for a receiver).
    pub fn send(&self, notification: Notification) {
        self.pending.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = self.queue.try_send(notification) {
            self.pending.fetch_sub(1, Ordering::Relaxed);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            let key = match &e {
                mpsc::error::TrySendError::Full(n) | mpsc::error::TrySendError::Closed(n) => {
                    n.idempotency_key.clone()
                }
            };
            tracing::warn!(idempotency_key = %key, "notification queue full or closed: dropped");
        }
    }

    /// Notifications dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Notifications queued or still being delivered (retries included).
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }

    /// Waits until nothing is pending or `limit` has passed (at shutdown); returns how
    /// many are still pending.
    pub async fn drain(&self, limit: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + limit;
        while self.pending() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.pending()
    }
}

fn lock(recent: &Mutex<Recent>) -> std::sync::MutexGuard<'_, Recent> {
    recent.lock().unwrap_or_else(|e| e.into_inner())
}

/// Delivers to one notifier with retries; true once it landed.
async fn deliver(
    notifier: Arc<dyn Notifier>,
    notification: Arc<Notification>,
    retry: RetryPolicy,
) -> bool {
    let salt = notification
        .idempotency_key
        .bytes()
        .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    for attempt in 1..=retry.attempts.max(1) {
        match notifier.deliver(&notification).await {
            Ok(()) => return true,
            Err(e) if attempt < retry.attempts => {
                tracing::info!(error = %e, attempt, key = %notification.idempotency_key, "notification failed; retrying");
                tokio::time::sleep(retry.delay(attempt, salt.wrapping_add(u64::from(attempt))))
                    .await;
            }
            Err(e) => {
                tracing::warn!(error = %e, attempts = attempt, key = %notification.idempotency_key, "notification given up");
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_with_jitter_up_to_the_maximum() {
        let p = RetryPolicy::default();
        let d1 = p.delay(1, 0);
        assert_eq!(d1, Duration::from_millis(500));
        let d2 = p.delay(2, 999);
        assert!(
            d2 >= Duration::from_secs(1) && d2 < Duration::from_millis(1500),
            "{d2:?}"
        );
        assert_eq!(p.delay(30, 7), Duration::from_secs(60));
    }

    #[test]
    fn recent_keys_are_remembered_and_the_oldest_forgotten() {
        let mut r = Recent::default();
        assert_eq!(r.insert("a"), Seen::New);
        assert_eq!(r.insert("a"), Seen::InFlight);
        r.delivered("a");
        assert_eq!(r.insert("a"), Seen::Delivered);
        for i in 0..RECENT_KEYS {
            r.insert(&i.to_string());
        }
        assert_eq!(r.insert("a"), Seen::New, "the oldest key is forgotten");
        r.forget("a");
        assert_eq!(r.insert("a"), Seen::New, "a forgotten key is new again");
        assert_eq!(r.keys.len(), r.order.len());
    }

    /// Records what the log is told.
    #[derive(Debug, Default)]
    struct Log(std::sync::Mutex<Vec<String>>);

    #[async_trait]
    impl DeliveryLog for Log {
        async fn delivered(&self, key: &str) {
            self.0.lock().unwrap().push(key.to_owned());
        }
    }

    #[derive(Debug, Default)]
    struct Count(AtomicUsize);

    #[async_trait]
    impl Notifier for Count {
        fn target(&self) -> &str {
            "count"
        }
        async fn deliver(&self, _: &Notification) -> Result<(), NotifyError> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
    }

    /// A delivered key sent again (its outbox entry outlived the delivery, say a delete
    /// that failed) is not delivered twice, and the log is told again, so the entry goes.
    #[tokio::test]
    async fn a_delivered_key_sent_again_is_logged_again_not_delivered_again() {
        let count = Arc::new(Count::default());
        let (dispatcher, _worker) = Dispatcher::start(vec![count.clone()], RetryPolicy::default());
        let log = Arc::new(Log::default());
        dispatcher.record_deliveries(log.clone());
        let at = |s: f64| iops_core::Timestamp::from_epoch_seconds(s).unwrap();
        let incident = iops_core::SilencePolicy::default()
            .judge("web-1", at(1.7e9), 60.0, at(1.7e9 + 600.0))
            .unwrap();
        let n = Notification::of(iops_core::IncidentChange::Opened, &incident).unwrap();
        dispatcher.send(n.clone());
        assert_eq!(dispatcher.drain(Duration::from_secs(5)).await, 0);
        dispatcher.send(n.clone());
        assert_eq!(dispatcher.drain(Duration::from_secs(5)).await, 0);
        assert_eq!(count.0.load(Ordering::Relaxed), 1, "delivered once");
        let logged = log.0.lock().unwrap().clone();
        assert_eq!(logged, [n.idempotency_key.clone(), n.idempotency_key]);
    }
}
