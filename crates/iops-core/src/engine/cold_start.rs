//! Cold start: a host whose own models are not ready yet is placed in its nearest peer group
//! after its first samples and compared with that group: the group's hourly median plus the
//! host's own offset from it, within the spread the group's hosts show around their own
//! levels.

use serde::{Deserialize, Serialize};

use super::observation::Observation;
use crate::peers::{follow, PeerGroup, PeerGroups, DRIFT_SECONDS, FIRST_SAMPLES, OFFSET_SECONDS};

/// A host's place among its peers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct PeerPlace {
    /// Its first samples (epoch seconds, values), until it is placed.
    first: Vec<(f64, [f64; 4])>,
    /// Its group's name and index among the model's groups (a model with other groups
    /// places it again).
    group: Option<(String, usize)>,
    /// True when the model lists the host in its group (fitted with it), false when it was
    /// placed.
    fitted: bool,
    /// Per metric, its level relative to the group's hourly median while it is young
    /// (follows its unsurprising samples: [`OFFSET_SECONDS`]).
    offset: [f64; 4],
    /// When the offset last moved (epoch seconds); `None` until the host is placed.
    offset_at: Option<f64>,
    /// Per metric, its level relative to the group's hourly median over the last hours
    /// (every sample: [`DRIFT_SECONDS`]).
    drift: [f64; 4],
    /// When the drift last moved.
    drift_at: f64,
    /// Per metric, its usual level relative to the group: the model's for a host it lists,
    /// its offset when placed for the others.
    normal: [f64; 4],
}

/// A host's level relative to its group now, against its usual one.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerShift {
    /// The group's name.
    pub group: String,
    /// Per metric ([`crate::Metric::ALL`] order), the host's level relative to the group's
    /// hourly median over the last hours.
    pub level: [f64; 4],
    /// Per metric, how far that is from its usual relative level.
    pub shift: [f64; 4],
    /// Whether the host has an incident of its own open.
    pub own_incident: bool,
}

impl PeerPlace {
    /// The host's group once it has sent [`FIRST_SAMPLES`] samples: the one the model lists
    /// it in, else the nearest by those samples, whose median residuals start its offset
    /// and its drift. A placed host stays in its group while the model has it (else it is
    /// placed again: the model changed).
    pub(crate) fn place<'a>(
        &mut self,
        peers: &'a PeerGroups,
        hostname: &str,
        t: f64,
        values: [f64; 4],
    ) -> Option<&'a PeerGroup> {
        let groups = peers.groups();
        if let Some((name, index)) = &self.group {
            match groups.get(*index) {
                Some(g) if &g.name == name => return Some(g),
                _ => *self = PeerPlace::default(),
            }
        }
        self.first.push((t, values));
        if self.first.len() < FIRST_SAMPLES {
            return None;
        }
        let listed = peers.group_of(hostname);
        let index = listed.or_else(|| peers.nearest(&self.first))?;
        let group = groups.get(index)?;
        for (m, offset) in self.offset.iter_mut().enumerate() {
            let mut residuals: Vec<f64> = self
                .first
                .iter()
                .map(|(t, v)| v[m] - group.baseline.get(m).map_or(0.0, |b| b.expected(*t).0))
                .collect();
            *offset = crate::stats::median(&mut residuals);
        }
        let member = group
            .hosts
            .binary_search_by(|h| h.as_str().cmp(hostname))
            .ok();
        self.normal = match member.and_then(|i| group.offsets.get(i)) {
            Some(usual) => *usual,
            None => self.offset,
        };
        self.drift = self.offset;
        self.drift_at = t;
        self.offset_at = Some(t);
        self.first = Vec::new();
        self.fitted = listed.is_some();
        self.group = Some((group.name.clone(), index));
        Some(group)
    }

    /// Follows the host's level relative to `group` with the sample at `t`.
    pub(crate) fn track(&mut self, group: &PeerGroup, t: f64, values: [f64; 4]) {
        for ((drift, baseline), x) in self.drift.iter_mut().zip(&group.baseline).zip(values) {
            let r = x - baseline.expected(t).0;
            *drift = follow(*drift, self.drift_at, t, r, DRIFT_SECONDS);
        }
        self.drift_at = t;
    }

    /// The group this host was placed in (not one the model lists it in), if any.
    pub(crate) fn group(&self) -> Option<&str> {
        match &self.group {
            Some((name, _)) if !self.fitted => Some(name),
            _ => None,
        }
    }

    /// Its level relative to its group now and against its usual one, once placed.
    pub(crate) fn shift(&self, own_incident: bool) -> Option<PeerShift> {
        let (name, _) = self.group.as_ref()?;
        Some(PeerShift {
            group: name.clone(),
            level: self.drift,
            shift: std::array::from_fn(|m| self.drift[m] - self.normal[m]),
            own_incident,
        })
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
                self.offset[m] = follow(self.offset[m], at, t, x - median, OFFSET_SECONDS);
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
