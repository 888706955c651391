//! The hosts the dashboard lists, with the time of each one's newest sample: kept in memory,
//! updated on every ingest, and read from the store (`MetricStore::list_hosts`) when the
//! server starts.

use std::collections::BTreeMap;
use std::sync::RwLock;

use anyhow::{Context, Result};
use iops_core::Timestamp;
use iops_store::MetricStore;

/// Hostname → timestamp of its newest stored sample.
#[derive(Debug, Default)]
pub struct HostIndex {
    hosts: RwLock<BTreeMap<String, Timestamp>>,
}

impl HostIndex {
    /// The hosts `store` holds.
    pub async fn load(store: &dyn MetricStore) -> Result<Self> {
        let hosts = store
            .list_hosts()
            .await
            .context("cannot list the stored hosts")?
            .into_iter()
            .map(|h| (h.hostname, h.last_timestamp))
            .collect::<BTreeMap<_, _>>();
        Ok(HostIndex {
            hosts: RwLock::new(hosts),
        })
    }

    /// Notes a stored sample of `hostname` at `at`.
    pub fn record(&self, hostname: &str, at: Timestamp) {
        {
            let hosts = self.hosts.read().unwrap_or_else(|e| e.into_inner());
            if hosts.get(hostname).is_some_and(|last| *last >= at) {
                return;
            }
        }
        let mut hosts = self.hosts.write().unwrap_or_else(|e| e.into_inner());
        let last = hosts.entry(hostname.to_owned()).or_insert(at);
        if *last < at {
            *last = at;
        }
    }

    /// Every host and its newest sample time, by name.
    pub fn snapshot(&self) -> Vec<(String, Timestamp)> {
        let hosts = self.hosts.read().unwrap_or_else(|e| e.into_inner());
        hosts.iter().map(|(h, t)| (h.clone(), *t)).collect()
    }

    /// The newest sample time of `hostname`, if known.
    pub fn last_seen(&self, hostname: &str) -> Option<Timestamp> {
        let hosts = self.hosts.read().unwrap_or_else(|e| e.into_inner());
        hosts.get(hostname).copied()
    }

    /// How many hosts.
    pub fn len(&self) -> usize {
        self.hosts.read().unwrap_or_else(|e| e.into_inner()).len()
    }
}
