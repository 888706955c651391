//! Cold start: a host whose own models are not ready yet is placed in its nearest peer group
//! after its first samples and compared with that group: the group's hourly median plus the
//! host's own offset from it, within the spread the group's hosts show around their own
//! levels.

use serde::{Deserialize, Serialize};

use super::observation::Observation;
use crate::peers::{follow, PeerGroup, PeerGroups, FIRST_SAMPLES};

/// A host's place among its peers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct PeerPlace {
    /// Its first samples (epoch seconds, values), until it is placed.
    first: Vec<(f64, [f64; 4])>,
    /// The group it was placed in, by name (a model with other groups places it again).
    group: Option<String>,
    /// Per metric, its level relative to the group's hourly median.
    offset: [f64; 4],
    /// When the offset last moved (epoch seconds); `None` until the host is placed.
    offset_at: Option<f64>,
}

impl PeerPlace {
    /// The host's group once it has sent [`FIRST_SAMPLES`] samples: the one the model lists
    /// it in, else the nearest by those samples, whose median residuals start its offset.
    /// A host placed before stays in its group while the model has it (else it is placed
    /// again: the model changed).
    pub(crate) fn place<'a>(
        &mut self,
        peers: &'a PeerGroups,
        hostname: &str,
        t: f64,
        values: [f64; 4],
    ) -> Option<&'a PeerGroup> {
        let groups = peers.groups();
        if self.offset_at.is_some() {
            let known = peers.group_of(hostname).or_else(|| {
                let name = self.group.as_deref()?;
                groups.iter().position(|g| g.name == name)
            });
            if let Some(g) = known {
                return groups.get(g);
            }
            *self = PeerPlace::default();
        }
        self.first.push((t, values));
        if self.first.len() < FIRST_SAMPLES {
            return None;
        }
        let listed = peers.group_of(hostname);
        let group = groups.get(listed.or_else(|| peers.nearest(&self.first))?)?;
        for (m, offset) in self.offset.iter_mut().enumerate() {
            let mut residuals: Vec<f64> = self
                .first
                .iter()
                .map(|(t, v)| v[m] - group.baseline.get(m).map_or(0.0, |b| b.expected(*t).0))
                .collect();
            *offset = crate::peers::median(&mut residuals);
        }
        self.offset_at = Some(t);
        self.first = Vec::new();
        self.group = listed.is_none().then(|| group.name.clone());
        Some(group)
    }

    /// The group this host was placed in, if it was.
    pub(crate) fn group(&self) -> Option<&str> {
        self.group.as_deref()
    }

    /// Scores each metric's value against the group at `t`: the observation a host's own
    /// point model would give, with the group's hourly median plus the host's offset, the
    /// group's spread, and the rarity of the deviation among the group's hosts. The offset
    /// then follows the metrics whose score stayed below `learn_below`.
    pub(crate) fn observe(
        &mut self,
        group: &PeerGroup,
        t: f64,
        values: [f64; 4],
        score_scale: f64,
        learn_below: f64,
    ) -> [Observation; 4] {
        let mut out = [Observation::default(); 4];
        for (m, ((obs, baseline), x)) in out.iter_mut().zip(&group.baseline).zip(values).enumerate()
        {
            let (median, spread) = baseline.expected(t);
            let expected = median + self.offset[m];
            let z = (x - expected) / spread;
            let surprise = baseline.surprise(z);
            let score = surprise / (surprise + score_scale);
            *obs = Observation {
                score,
                surprise,
                expected,
                spread,
                z,
                point_surprise: surprise,
                ..Observation::default()
            };
            if score < learn_below {
                let at = self.offset_at.unwrap_or(t);
                self.offset[m] = follow(self.offset[m], at, t, x - median);
            }
        }
        self.offset_at = Some(t);
        out
    }
}

/// Puts the group's view in place of the host's own: for every metric while the host's
/// models are not calibrated, then only where the group finds the value less surprising.
/// Says which metrics it replaced.
pub(crate) fn merge(
    peer_view: [Observation; 4],
    own_calibrated: bool,
    own: &mut [Observation; 4],
) -> [bool; 4] {
    let mut replaced = [false; 4];
    for ((own, peer), replaced) in own.iter_mut().zip(peer_view).zip(&mut replaced) {
        if !own_calibrated || peer.surprise < own.surprise {
            *own = peer;
            *replaced = true;
        }
    }
    replaced
}

/// What a cold-start insight adds to its message.
pub(crate) fn clause(group: &PeerGroup) -> String {
    let n = group.hosts.len();
    format!(
        " (compared with its peer group {} ({n} host{}): its own baseline is not ready yet)",
        group.name,
        if n == 1 { "" } else { "s" }
    )
}
