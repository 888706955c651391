//! The hosts the dashboard lists, with the time of each one's newest sample: kept in memory,
//! updated on every ingest, and read from the database file when the server starts.
//!
//! The store's traits have no "list hosts" query yet, so the start-up read goes to the file
//! directly (read-only). It belongs in iops-store (`MetricStore::list_hosts`) later.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::RwLock;

use anyhow::{Context, Result};
use iops_core::Timestamp;
use rusqlite::{Connection, OpenFlags};

/// Hostname → timestamp of its newest stored sample.
#[derive(Debug, Default)]
pub struct HostIndex {
    hosts: RwLock<BTreeMap<String, Timestamp>>,
}

impl HostIndex {
    /// The hosts of the database at `path` (which the store has already opened and migrated).
    pub fn load(path: &Path) -> Result<Self> {
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .with_context(|| format!("cannot read hosts from {}", path.display()))?;
        let mut st = conn
            .prepare("SELECT hostname, MAX(ts_s) FROM metrics GROUP BY hostname")
            .context("cannot list hosts")?;
        let rows = st
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .context("cannot list hosts")?;
        let mut hosts = BTreeMap::new();
        for row in rows {
            let (host, secs) = row.context("cannot list hosts")?;
            let last = Timestamp::from_epoch_seconds(secs as f64).unwrap_or(Timestamp::MIN);
            hosts.insert(host, last);
        }
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
