//! Incident transitions reach the notifiers: one delivery per transition (opened,
//! escalated, resolved; never the updates in between), retried until it lands, never
//! holding up ingest.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use iops_core::engine::EngineConfig;
use iops_core::{IncidentChange, Notification};
use iops_service::{
    BuiltinScorer, Dispatcher, Notifier, NotifyError, RetryPolicy, Service, ServiceConfig,
    SnapshotPolicy,
};
use iops_store::SqliteStore;

const T0: u64 = 1_764_000_000;

fn body(host: &str, i: u64, cpu: f64) -> String {
    format!(
        r#"{{"timestamp":{},"hostname":"{host}","cpuUsage":{cpu},"memoryUsage":60,"diskIO":100,"networkIO":50}}"#,
        T0 + i * 300
    )
}

/// A receiver that fails the first `failures` attempts of every key, then records it.
#[derive(Debug, Default)]
struct Flaky {
    failures: u32,
    attempts: Mutex<HashMap<String, u32>>,
    delivered: Mutex<Vec<Notification>>,
}

#[async_trait]
impl Notifier for Flaky {
    fn target(&self) -> &str {
        "flaky"
    }

    async fn deliver(&self, n: &Notification) -> Result<(), NotifyError> {
        let attempt = {
            let mut attempts = self.attempts.lock().unwrap();
            let a = attempts.entry(n.idempotency_key.clone()).or_insert(0);
            *a += 1;
            *a
        };
        if attempt <= self.failures {
            return Err(NotifyError {
                target: "flaky".into(),
                reason: format!("attempt {attempt} refused"),
            });
        }
        self.delivered.lock().unwrap().push(n.clone());
        Ok(())
    }
}

/// A receiver that never answers.
#[derive(Debug)]
struct Hung;

#[async_trait]
impl Notifier for Hung {
    fn target(&self) -> &str {
        "hung"
    }

    async fn deliver(&self, _: &Notification) -> Result<(), NotifyError> {
        std::future::pending().await
    }
}

fn quick() -> RetryPolicy {
    RetryPolicy {
        attempts: 5,
        first_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
    }
}

fn service(notifiers: Vec<Arc<dyn Notifier>>, snapshots: bool) -> (Service, Dispatcher) {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let config = ServiceConfig {
        snapshots: snapshots.then(SnapshotPolicy::default),
        ..ServiceConfig::default()
    };
    let scorer = Arc::new(BuiltinScorer::new(EngineConfig::default()));
    let (dispatcher, _worker) = Dispatcher::start(notifiers, quick());
    let service =
        Service::with_scorer(store, scorer, config).with_notifications(dispatcher.clone());
    (service, dispatcher)
}

async fn settle(flaky: &Flaky, want: usize) -> Vec<Notification> {
    for _ in 0..400 {
        if flaky.delivered.lock().unwrap().len() >= want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // and a little longer: nothing more may come
    tokio::time::sleep(Duration::from_millis(100)).await;
    flaky.delivered.lock().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_transition_is_delivered_once_after_retries_and_updates_are_not() {
    for snapshots in [false, true] {
        let flaky = Arc::new(Flaky {
            failures: 2,
            ..Flaky::default()
        });
        let (svc, dispatcher) = service(vec![flaky.clone()], snapshots);
        // web-1: a quiet stretch, an hour at 97 % CPU, quiet again until it resolves;
        // web-2 carries on after web-1 stops, so web-1 is silent, then it is back
        let mut changes = Vec::new();
        for i in 0..700 {
            let cpu = if (550..562).contains(&i) {
                97.0
            } else {
                40.0 + (i % 7) as f64
            };
            if !(650..690).contains(&i) {
                svc.ingest(body("web-1", i, cpu).as_bytes()).await.unwrap();
            }
            svc.ingest(body("web-2", i, 40.0 + (i % 5) as f64).as_bytes())
                .await
                .unwrap();
            let sweep = svc.sweep_silent_hosts().await.unwrap();
            changes.extend(
                sweep
                    .opened
                    .iter()
                    .map(|i| (IncidentChange::Opened, i.incident_id.clone())),
            );
            changes.extend(
                sweep
                    .resolved
                    .iter()
                    .map(|i| (IncidentChange::Resolved, i.incident_id.clone())),
            );
        }
        assert_eq!(
            changes.len(),
            2,
            "one silence opened and resolved: {changes:?}"
        );
        let delivered = settle(&flaky, 4).await;
        let keys: Vec<&str> = delivered
            .iter()
            .map(|n| n.idempotency_key.as_str())
            .collect();
        // every key once, each after two refused attempts
        let mut unique = keys.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), keys.len(), "{keys:?}");
        assert!(flaky.attempts.lock().unwrap().values().all(|&a| a == 3));
        let events: Vec<IncidentChange> = delivered.iter().map(|n| n.event).collect();
        assert!(!events.contains(&IncidentChange::Updated), "{events:?}");
        // the CPU incident: opened and resolved once each, escalations (if any) between;
        // the silence: opened and resolved. (Each notification is delivered on its own,
        // and these were each refused twice: they may arrive in any order.)
        let of = |silence: bool, event: IncidentChange| -> Vec<&Notification> {
            delivered
                .iter()
                .filter(|n| n.incident.is_silence() == silence && n.event == event)
                .collect()
        };
        let opened = of(false, IncidentChange::Opened);
        assert_eq!(opened.len(), 1, "{keys:?}");
        assert!(
            opened[0].text.contains("web-1") && opened[0].text.contains("cpuUsage"),
            "{}",
            opened[0].text
        );
        assert_eq!(of(false, IncidentChange::Resolved).len(), 1, "{keys:?}");
        assert_eq!(
            of(true, IncidentChange::Opened).len(),
            1,
            "snapshots {snapshots}"
        );
        assert_eq!(
            of(true, IncidentChange::Resolved).len(),
            1,
            "snapshots {snapshots}"
        );
        assert_eq!(of(true, IncidentChange::Escalated).len(), 0);
        assert_eq!(dispatcher.drain(Duration::from_secs(5)).await, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_never_answers_does_not_hold_up_ingest() {
    let flaky = Arc::new(Flaky::default());
    let (svc, dispatcher) = service(vec![Arc::new(Hung), flaky.clone()], true);
    for i in 0..600 {
        let cpu = if i == 550 {
            97.0
        } else {
            40.0 + (i % 7) as f64
        };
        let answer = tokio::time::timeout(
            Duration::from_secs(10),
            svc.ingest(body("web-1", i, cpu).as_bytes()),
        )
        .await
        .expect("an ingest waited on the hung receiver");
        answer.unwrap();
    }
    // the other receiver still got the page
    let delivered = settle(&flaky, 1).await;
    assert_eq!(delivered[0].event, IncidentChange::Opened);
    assert_eq!(dispatcher.dropped(), 0);
    // the hung delivery is still pending: a shutdown would report it
    assert!(dispatcher.drain(Duration::from_millis(100)).await >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_that_stop_together_are_one_fleet_incident_told_once() {
    let flaky = Arc::new(Flaky::default());
    let (svc, _) = service(vec![flaky.clone()], true);
    let hosts = ["web-1", "web-2", "web-3", "web-4", "db-1", "db-2"];
    // four web hosts stop together at sample 40 (a switch) and are back at sample 60
    for i in 0..80 {
        for host in hosts {
            if host.starts_with("web") && (40..60).contains(&i) {
                continue;
            }
            svc.ingest(body(host, i, 40.0 + (i % 7) as f64).as_bytes())
                .await
                .unwrap();
        }
        svc.sweep_silent_hosts().await.unwrap();
    }
    let delivered = settle(&flaky, 2).await;
    let told: Vec<(String, IncidentChange)> = delivered
        .iter()
        .map(|n| (n.incident.hostname.clone(), n.event))
        .collect();
    // one sweep found all four silent: one fleet incident, told as it opens and as it
    // resolves with the last host back; the hosts' own incidents are not told
    let mut told = told;
    told.sort_by_key(|(_, e)| e.as_str());
    assert_eq!(
        told,
        [
            ("fleet".to_owned(), IncidentChange::Opened),
            ("fleet".to_owned(), IncidentChange::Resolved),
        ],
        "{:#?}",
        delivered.iter().map(|n| &n.text).collect::<Vec<_>>()
    );
    let page = |event: IncidentChange| delivered.iter().find(|n| n.event == event).unwrap();
    let fleet = &page(IncidentChange::Resolved).incident;
    let mut hosts = fleet.hosts.clone();
    hosts.sort();
    assert_eq!(hosts, ["web-1", "web-2", "web-3", "web-4"]);
    assert_eq!(fleet.members.len(), 4);
    let opened = &page(IncidentChange::Opened).text;
    assert!(
        opened.contains("host_stopped_reporting on 4 of 6 hosts at once"),
        "{opened}"
    );
    let stored = svc.get_incident(&fleet.incident_id).await.unwrap();
    assert_eq!(stored.status, iops_core::IncidentStatus::Resolved);
    assert_eq!(stored.hosts.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_on_four_hosts_pages_two_hosts_then_one_fleet_incident() {
    let flaky = Arc::new(Flaky::default());
    let (svc, _) = service(vec![flaky.clone()], true);
    let hosts = ["web-1", "web-2", "web-3", "web-4", "db-1", "db-2"];
    // a shared link fails: the web hosts' network I/O collapses for an hour at sample 600
    for i in 0..700u64 {
        for host in hosts {
            let down = host.starts_with("web") && (600..612).contains(&i);
            let network = if down { 0.5 } else { 50.0 + (i % 5) as f64 };
            let sample = format!(
                r#"{{"timestamp":{},"hostname":"{host}","cpuUsage":{},"memoryUsage":60,"diskIO":100,"networkIO":{network}}}"#,
                T0 + i * 300,
                40 + i % 7
            );
            svc.ingest(sample.as_bytes()).await.unwrap();
        }
    }
    let delivered = settle(&flaky, 4).await;
    let texts: Vec<&String> = delivered.iter().map(|n| &n.text).collect();
    // the first two hosts are paged as they open (a fleet needs 3 hosts); the third makes
    // the fleet incident, the fourth joins it silently; the fleet resolves once. (Each
    // notification is delivered on its own, so they may arrive in any order.)
    let mut told: Vec<(String, &str)> = delivered
        .iter()
        .map(|n| (n.incident.hostname.clone(), n.event.as_str()))
        .collect();
    told.sort();
    assert_eq!(
        told,
        [
            ("fleet".to_owned(), "opened"),
            ("fleet".to_owned(), "resolved"),
            ("web-1".to_owned(), "opened"),
            ("web-2".to_owned(), "opened"),
        ],
        "{texts:#?}"
    );
    let fleet = delivered
        .iter()
        .find(|n| n.event == IncidentChange::Resolved)
        .map(|n| &n.incident)
        .unwrap();
    assert_eq!(fleet.hosts, ["web-1", "web-2", "web-3", "web-4"]);
    assert_eq!(fleet.types[0].as_str(), "network_anomaly");
}

thread_local! {
    /// Seconds the receiving clock runs ahead of the system's (each test runs on its own
    /// current-thread runtime).
    static AHEAD: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

fn ahead_clock() -> std::time::SystemTime {
    std::time::SystemTime::now() + Duration::from_secs(AHEAD.with(std::cell::Cell::get))
}

/// A service on `store` telling `notifiers`, its clock [`ahead_clock`].
fn on_store(
    store: Arc<SqliteStore>,
    notifiers: Vec<Arc<dyn Notifier>>,
    retry: RetryPolicy,
) -> (Service, Dispatcher) {
    on_store_with(store, notifiers, retry, ServiceConfig::default())
}

fn on_store_with(
    store: Arc<SqliteStore>,
    notifiers: Vec<Arc<dyn Notifier>>,
    retry: RetryPolicy,
    config: ServiceConfig,
) -> (Service, Dispatcher) {
    let scorer = Arc::new(BuiltinScorer::new(EngineConfig::default()));
    let (dispatcher, _worker) = Dispatcher::start(notifiers, retry);
    let service = Service::with_scorer(store, scorer, config)
        .with_clock(ahead_clock)
        .with_notifications(dispatcher.clone());
    (service, dispatcher)
}

/// A quiet stretch, then one sample at 97 % CPU: one incident opens.
async fn one_transition(svc: &Service) {
    spike_together(svc, &["web-1"]).await;
}

/// The same quiet stretch on every host, then the same spike on each at the same time.
async fn spike_together(svc: &Service, hosts: &[&str]) {
    for i in 0..300 {
        let cpu = if i == 299 {
            97.0
        } else {
            40.0 + (i % 7) as f64
        };
        for host in hosts {
            svc.ingest(body(host, i, cpu).as_bytes()).await.unwrap();
        }
    }
}

/// A service whose host pages wait `hold` seconds for a fleet incident.
fn holding(store: Arc<SqliteStore>, flaky: Arc<Flaky>, hold: f64) -> (Service, Dispatcher) {
    let config = ServiceConfig {
        fleet: iops_core::FleetPolicy {
            hold_seconds: hold,
            ..iops_core::FleetPolicy::default()
        },
        ..ServiceConfig::default()
    };
    on_store_with(store, vec![flaky], quick(), config)
}

async fn outbox(store: &SqliteStore) -> Vec<String> {
    use iops_store::OutboxStore;
    store
        .list_outbox(iops_core::Timestamp::MAX, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.notification.idempotency_key)
        .collect()
}

/// The process that made a transition stops before its page is delivered (its receiver
/// never answered): the page waits in the outbox, and another process's sweep sends it
/// once it is a minute old; delivered, it leaves the outbox.
#[tokio::test]
async fn a_page_whose_sender_stopped_is_sent_by_the_next_sweep_from_the_outbox() {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let (first, _) = on_store(store.clone(), vec![Arc::new(Hung)], quick());
    one_transition(&first).await;
    let kept = outbox(&store).await;
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(kept[0].contains(":opened:"), "{kept:?}");
    drop(first);

    let flaky = Arc::new(Flaky::default());
    let (second, dispatcher) = on_store(store.clone(), vec![flaky.clone()], quick());
    // not yet a minute old: its sender may still be retrying
    assert_eq!(second.resend_outbox().await.unwrap(), 0);
    AHEAD.with(|a| a.set(61));
    assert_eq!(second.resend_outbox().await.unwrap(), 1);
    let delivered = settle(&flaky, 1).await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].idempotency_key, kept[0]);
    assert_eq!(dispatcher.drain(Duration::from_secs(5)).await, 0);
    assert!(
        outbox(&store).await.is_empty(),
        "delivered pages leave the outbox"
    );
    // a later sweep has nothing left to send
    assert_eq!(second.resend_outbox().await.unwrap(), 0);
}

/// A delivery that gave up is forgotten by the dispatcher, so the sweep's copy of it is
/// sent (not skipped as a duplicate), and lands once the receiver is back.
#[tokio::test]
async fn a_page_that_gave_up_is_sent_again_by_the_sweep_in_the_same_process() {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    // refuses the first 5 attempts of each key: all of the first delivery's
    let flaky = Arc::new(Flaky {
        failures: 5,
        ..Flaky::default()
    });
    let (svc, dispatcher) = on_store(store.clone(), vec![flaky.clone()], quick());
    one_transition(&svc).await;
    assert_eq!(dispatcher.drain(Duration::from_secs(5)).await, 0);
    assert!(flaky.delivered.lock().unwrap().is_empty());
    let kept = outbox(&store).await;
    assert_eq!(kept.len(), 1);
    AHEAD.with(|a| a.set(61));
    assert_eq!(svc.resend_outbox().await.unwrap(), 1);
    let delivered = settle(&flaky, 1).await;
    assert_eq!(delivered.len(), 1, "sent again and delivered once");
    assert_eq!(dispatcher.drain(Duration::from_secs(5)).await, 0);
    assert!(outbox(&store).await.is_empty());
}

/// With a fleet hold, the first two hosts of a fleet episode are not paged alone: their
/// pages wait, the fleet incident (formed by the third) is told at once, and at the end of
/// the hold the waiting pages are dropped, their incidents being the fleet's.
#[tokio::test]
async fn held_host_pages_give_way_to_the_fleet_incident_that_takes_them_in() {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let flaky = Arc::new(Flaky::default());
    let (svc, dispatcher) = holding(store.clone(), flaky.clone(), 60.0);
    spike_together(&svc, &["web-1", "web-2", "web-3"]).await;
    let delivered = settle(&flaky, 1).await;
    let told: Vec<(&str, IncidentChange)> = delivered
        .iter()
        .map(|n| (n.incident.hostname.as_str(), n.event))
        .collect();
    assert_eq!(told, [("fleet", IncidentChange::Opened)]);
    assert_eq!(delivered[0].incident.hosts.len(), 3);
    assert_eq!(
        outbox(&store).await.len(),
        2,
        "the first two hosts' pages wait"
    );
    AHEAD.with(|a| a.set(30));
    assert_eq!(svc.resend_outbox().await.unwrap(), 0);
    assert_eq!(outbox(&store).await.len(), 2, "still waiting");
    AHEAD.with(|a| a.set(61));
    assert_eq!(
        svc.resend_outbox().await.unwrap(),
        0,
        "taken in by the fleet"
    );
    assert!(outbox(&store).await.is_empty());
    assert_eq!(dispatcher.drain(Duration::from_secs(5)).await, 0);
    assert_eq!(flaky.delivered.lock().unwrap().len(), 1);
}

/// A host alone under a fleet hold is paged once the hold is over.
#[tokio::test]
async fn a_held_page_of_a_host_alone_goes_out_when_the_hold_is_over() {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let flaky = Arc::new(Flaky::default());
    let (svc, dispatcher) = holding(store.clone(), flaky.clone(), 60.0);
    one_transition(&svc).await;
    // (settle waits about 4 s for a delivery that does not come)
    assert!(settle(&flaky, 1).await.is_empty(), "held");
    AHEAD.with(|a| a.set(30));
    assert_eq!(
        svc.resend_outbox().await.unwrap(),
        0,
        "half-way through the hold"
    );
    AHEAD.with(|a| a.set(60));
    assert_eq!(svc.resend_outbox().await.unwrap(), 1);
    let delivered = settle(&flaky, 1).await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].incident.hostname, "web-1");
    assert_eq!(delivered[0].event, IncidentChange::Opened);
    assert_eq!(dispatcher.drain(Duration::from_secs(5)).await, 0);
    assert!(outbox(&store).await.is_empty());
}

/// A page whose receiver never takes it is sent again by each sweep for a day, then given
/// up and removed from the outbox (it no longer holds the sweep's place for newer ones).
#[tokio::test]
async fn a_page_undelivered_for_a_day_is_given_up() {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let (first, _) = on_store(store.clone(), vec![Arc::new(Hung)], quick());
    one_transition(&first).await;
    assert_eq!(outbox(&store).await.len(), 1);
    let (second, _) = on_store(store.clone(), vec![Arc::new(Hung)], quick());
    AHEAD.with(|a| a.set(86_000));
    assert_eq!(second.resend_outbox().await.unwrap(), 1);
    assert_eq!(outbox(&store).await.len(), 1, "still tried within the day");
    AHEAD.with(|a| a.set(86_500));
    assert_eq!(second.resend_outbox().await.unwrap(), 0);
    assert!(outbox(&store).await.is_empty(), "given up after a day");
}

/// A mute of a host and type keeps its incidents' pages from being sent (or kept in the
/// outbox); another host's, or another type's, still go out, and so does the host's when
/// its mute was deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_muted_host_and_type_is_not_paged() {
    use iops_core::QuietKind;
    let flaky = Arc::new(Flaky::default());
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let (svc, _dispatcher) = on_store(store.clone(), vec![flaky.clone()], quick());
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let mute = |host: &str, kind: &str| {
        format!(r#"{{"hostname":"{host}","type":"{kind}","end":{until},"reason":"deploy"}}"#)
    };
    svc.declare_quiet(QuietKind::Mute, mute("web-1", "cpu_spike").as_bytes())
        .await
        .unwrap();
    svc.declare_quiet(QuietKind::Mute, mute("web-2", "memory_pressure").as_bytes())
        .await
        .unwrap();
    spike_together(&svc, &["web-1", "web-2"]).await;
    let delivered = settle(&flaky, 1).await;
    let paged: Vec<&str> = delivered
        .iter()
        .map(|n| n.incident.hostname.as_str())
        .collect();
    assert_eq!(paged, ["web-2"], "{delivered:?}");
    assert!(outbox(&store).await.is_empty());
    // a mute deleted silences nothing (another fleet, so no fleet incident takes it in)
    let flaky = Arc::new(Flaky::default());
    let (svc, _dispatcher) = service(vec![flaky.clone()], false);
    let m = svc
        .declare_quiet(QuietKind::Mute, mute("web-1", "cpu_spike").as_bytes())
        .await
        .unwrap();
    svc.delete_quiet(QuietKind::Mute, &m.window_id)
        .await
        .unwrap();
    one_transition(&svc).await;
    let delivered = settle(&flaky, 1).await;
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    assert_eq!(delivered[0].incident.hostname, "web-1");
}
