//! GET /hosts: every host the store knows, with its newest sample and its peer group — the
//! one the fleet model was fitted with it in, or the one it was placed in when it joined.

use serde::Serialize;

use super::{decode_state, Service, ServiceError};
use iops_core::engine::HostState;
use iops_core::Timestamp;

/// How a host came to be in its group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupSource {
    /// The fleet model was fitted with the host in this group.
    Fitted,
    /// The host joined later and was placed in the group its first samples fit best.
    Placed,
}

/// A host's peer group, as GET /hosts shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HostGroup {
    /// The group's name.
    pub name: String,
    /// Hosts the group was fitted on.
    pub hosts: usize,
    /// How the host came to be in it.
    pub source: GroupSource,
}

/// One host in GET /hosts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HostView {
    /// The host.
    pub hostname: String,
    /// Its newest sample.
    pub last_timestamp: Timestamp,
    /// Its peer group, when the fleet model has groups and the host is in one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<HostGroup>,
}

/// The answer to GET /hosts: `{"hosts":[...]}` by hostname.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostList {
    /// The hosts.
    pub hosts: Vec<HostView>,
}

impl Service {
    /// GET /hosts. A host the model does not list is looked up in its state (this process's
    /// cache, else the store): one read per such host, when the model has groups at all.
    pub async fn list_hosts(&self) -> Result<HostList, ServiceError> {
        let entries = self.store.list_hosts().await?;
        let mut hosts = Vec::with_capacity(entries.len());
        for entry in entries {
            let group = self.host_group(&entry.hostname).await?;
            hosts.push(HostView {
                hostname: entry.hostname,
                last_timestamp: entry.last_timestamp,
                group,
            });
        }
        hosts.sort_by(|a, b| a.hostname.cmp(&b.hostname));
        Ok(HostList { hosts })
    }

    /// A host's peer group: the one the model was fitted with it in, else the one its state
    /// was placed in; `None` when the model has no groups or the host is in none yet.
    pub async fn host_group(&self, hostname: &str) -> Result<Option<HostGroup>, ServiceError> {
        let Some(peers) = self.scorer.peer_groups() else {
            return Ok(None);
        };
        let (index, source) = match peers.group_of(hostname) {
            Some(g) => (Some(g), GroupSource::Fitted),
            None => {
                let placed = self.placed_group(hostname).await?;
                let g = placed.and_then(|name| peers.groups().iter().position(|g| g.name == name));
                (g, GroupSource::Placed)
            }
        };
        Ok(index
            .and_then(|g| peers.groups().get(g))
            .map(|g| HostGroup {
                name: g.name.clone(),
                hosts: g.hosts.len(),
                source,
            }))
    }

    /// The group a host was placed in, from its state.
    async fn placed_group(&self, hostname: &str) -> Result<Option<String>, ServiceError> {
        let placed = self
            .read_state(hostname, |s| s.peer_group().map(str::to_owned))
            .await?;
        Ok(placed.flatten())
    }

    /// Reads `f` off a host's newest state: this process's (live in snapshot mode, or
    /// cached), else the stored one; `None` for a host without a state.
    pub(super) async fn read_state<T>(
        &self,
        hostname: &str,
        f: impl Fn(&HostState) -> T,
    ) -> Result<Option<T>, ServiceError> {
        if let Some(v) = self.live_read(hostname, &f) {
            return Ok(Some(v));
        }
        {
            let states = self.states.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(cached) = states.get(hostname) {
                return Ok(Some(f(&cached.state)));
            }
        }
        let stored = self.store.load_state(hostname).await?;
        Ok(stored.and_then(|s| decode_state(&s.state)).map(|s| f(&s)))
    }
}
