//! Peer groups: a fleet's hosts clustered (linfa-clustering's KMeans) on profiles of their
//! metrics — level, spread and daily shape — with the number of groups chosen by the
//! silhouette. Each group keeps a baseline per metric (its hosts' median and spread at each
//! hour of the day), which a host without its own history is compared with (cold start).
//!
//! KMeans rather than DBSCAN or a Gaussian mixture: fleets are made of roles with a handful
//! of members each, a role is a compact blob in profile space, and KMeans needs no density
//! radius (which would depend on the fleet's size) and fits 1,000 hosts in milliseconds.

mod baseline;
mod deviation;
mod profile;

use std::collections::BTreeMap;

use linfa::traits::{Fit, Predict};
use linfa::DatasetBase;
use linfa_clustering::KMeans;
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use crate::stats::median;
pub(crate) use baseline::follow;
pub use baseline::{
    MetricBaseline, TailPoint, DRIFT_SECONDS, FIRST_SAMPLES, HOURS, OFFSET_SECONDS,
};
pub use deviation::{Deviation, Member, PeerDeviationPolicy, JUDGED};
use profile::{host_profile, weight, FEATURES};

use crate::{Error, MetricSample, Result};

/// How peer groups are fitted.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerParams {
    /// Most groups tried (2..=this, and at most one fewer than the hosts).
    pub max_groups: usize,
    /// Fewer groups than that are not kept unless their silhouette reaches this: below it,
    /// the fleet is one group (hosts too alike, or too scattered, to split).
    pub min_silhouette: f64,
    /// History a host needs (seconds between its first and last sample) to be profiled:
    /// a day, so every part of the day is seen.
    pub min_history_seconds: f64,
}

impl Default for PeerParams {
    fn default() -> Self {
        PeerParams {
            max_groups: 8,
            min_silhouette: 0.25,
            min_history_seconds: 86_400.0,
        }
    }
}

impl PeerParams {
    fn check(&self) -> Result<()> {
        if !(1..=64).contains(&self.max_groups) {
            return Err(Error::param(
                "max_groups",
                self.max_groups,
                "must be in 1..=64",
            ));
        }
        if !(-1.0..=1.0).contains(&self.min_silhouette) {
            return Err(Error::param(
                "min_silhouette",
                self.min_silhouette,
                "must be in [-1, 1]",
            ));
        }
        if !(self.min_history_seconds.is_finite() && self.min_history_seconds >= 0.0) {
            return Err(Error::param(
                "min_history_seconds",
                self.min_history_seconds,
                "must be finite and >= 0",
            ));
        }
        Ok(())
    }
}

/// One group of hosts that behave alike.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerGroup {
    /// Its name: the members' common hostname prefix (`web` for web-1, web-2), or
    /// `group-N`.
    pub name: String,
    /// The hosts it was fitted on, sorted.
    pub hosts: Vec<String>,
    /// Each of those hosts' usual level relative to the group's hourly medians, per metric
    /// (the median of its residuals): what its level is compared with later.
    pub offsets: Vec<[f64; 4]>,
    /// Its centre in the standardised profile space.
    pub centroid: Vec<f64>,
    /// Its baseline per metric, in [`crate::Metric::ALL`] order.
    pub baseline: Vec<MetricBaseline>,
}

/// A fleet's peer groups, as the model artifact carries them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerGroups {
    /// Per profile feature: the fleet's mean, subtracted before clustering.
    pub feature_mean: Vec<f64>,
    /// Per profile feature: the fleet's standard deviation (1 where it is 0), divided by.
    pub feature_scale: Vec<f64>,
    /// The silhouette of the groups kept (absent for a single group).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silhouette: Option<f64>,
    /// The groups, ordered by their first host.
    pub groups: Vec<PeerGroup>,
}

fn samples_error(reason: String) -> Error {
    Error::InvalidField {
        field: "samples".into(),
        reason,
    }
}

impl PeerGroups {
    /// Clusters the hosts of `samples` (any order, mixed hosts; each validated) that have
    /// `min_history_seconds` of history. Fewer than two such hosts is an error naming
    /// `samples`.
    pub fn fit(samples: &[MetricSample], params: &PeerParams) -> Result<PeerGroups> {
        params.check()?;
        let mut by_host: BTreeMap<&str, Vec<&MetricSample>> = BTreeMap::new();
        for (i, s) in samples.iter().enumerate() {
            s.validate().map_err(|e| Error::InvalidField {
                field: format!("samples[{i}].{}", e.field().unwrap_or("sample")),
                reason: e.to_string(),
            })?;
            by_host.entry(&s.hostname).or_default().push(s);
        }
        let hosts: Vec<(&str, Vec<&MetricSample>)> = by_host
            .into_iter()
            .filter(|(_, v)| {
                let (lo, hi) = v
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), s| {
                        let t = s.timestamp.epoch_seconds();
                        (a.min(t), b.max(t))
                    });
                hi - lo >= params.min_history_seconds
            })
            .collect();
        if hosts.len() < 2 {
            return Err(samples_error(format!(
                "peer groups need at least 2 hosts with {} s of history each; found {}",
                params.min_history_seconds,
                hosts.len()
            )));
        }
        let profiles: Vec<[f64; FEATURES]> = hosts.iter().map(|(_, v)| host_profile(v)).collect();
        let (feature_mean, feature_scale) = standardisation(&profiles);
        let x = Array2::from_shape_fn((profiles.len(), FEATURES), |(i, j)| {
            (profiles[i][j] - feature_mean[j]) / feature_scale[j] * weight(j)
        });
        let (labels, centroids, silhouette) = cluster(&x, params)?;
        let mut groups: Vec<PeerGroup> = (0..centroids.nrows())
            .filter_map(|g| {
                let members: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == g).collect();
                members.first()?; // (KMeans may leave a centroid without hosts)
                                  // (hosts are in name order, so members are too)
                let names: Vec<String> = members.iter().map(|&i| hosts[i].0.to_owned()).collect();
                let baseline: Vec<MetricBaseline> = (0..4)
                    .map(|m| {
                        let points: Vec<Vec<(f64, f64)>> = members
                            .iter()
                            .map(|&i| {
                                hosts[i]
                                    .1
                                    .iter()
                                    .map(|s| (s.timestamp.epoch_seconds(), s.values()[m]))
                                    .collect()
                            })
                            .collect();
                        MetricBaseline::fit(&points)
                    })
                    .collect();
                let offsets = members
                    .iter()
                    .map(|&i| {
                        let mut out = [0.0; 4];
                        for (m, (o, b)) in out.iter_mut().zip(&baseline).enumerate() {
                            let mut r: Vec<f64> = hosts[i]
                                .1
                                .iter()
                                .map(|s| s.values()[m] - b.expected(s.timestamp.epoch_seconds()).0)
                                .collect();
                            *o = median(&mut r);
                        }
                        out
                    })
                    .collect();
                Some(PeerGroup {
                    name: String::new(),
                    hosts: names,
                    offsets,
                    centroid: centroids.row(g).to_vec(),
                    baseline,
                })
            })
            .collect();
        groups.sort_by(|a, b| a.hosts.cmp(&b.hosts));
        name_groups(&mut groups);
        let fitted = PeerGroups {
            feature_mean,
            feature_scale,
            silhouette,
            groups,
        };
        fitted.check()?;
        Ok(fitted)
    }

    /// Checks groups read from a file (every field named by its path): a baseline of 4
    /// metrics per group, centroids and the standardisation of the same length, unique
    /// non-empty names.
    pub fn check(&self) -> Result<()> {
        let bad = |field: String, reason: &str| Error::InvalidField {
            field,
            reason: reason.into(),
        };
        let n = self.feature_mean.len();
        if n != FEATURES || self.feature_mean.iter().any(|v| !v.is_finite()) {
            return Err(bad(
                "peer_groups.feature_mean".into(),
                "must be 24 finite numbers",
            ));
        }
        if self.feature_scale.len() != n
            || self
                .feature_scale
                .iter()
                .any(|v| !(v.is_finite() && *v > 0.0))
        {
            return Err(bad(
                "peer_groups.feature_scale".into(),
                "must be 24 positive numbers",
            ));
        }
        if self.groups.is_empty() || self.groups.len() > 64 {
            return Err(bad("peer_groups.groups".into(), "must hold 1 to 64 groups"));
        }
        for (g, group) in self.groups.iter().enumerate() {
            let at = format!("peer_groups.groups[{g}]");
            if group.name.is_empty()
                || self.groups[..g]
                    .iter()
                    .any(|other| other.name == group.name)
            {
                return Err(bad(format!("{at}.name"), "must be non-empty and unique"));
            }
            if group.centroid.len() != n || group.centroid.iter().any(|v| !v.is_finite()) {
                return Err(bad(format!("{at}.centroid"), "must be 24 finite numbers"));
            }
            let sorted = group.hosts.windows(2).all(|w| w[0] < w[1]);
            let shared = group.hosts.iter().any(|h| {
                self.groups[..g]
                    .iter()
                    .any(|other| other.hosts.binary_search(h).is_ok())
            });
            if group.hosts.is_empty() || !sorted || shared {
                return Err(bad(
                    format!("{at}.hosts"),
                    "must be sorted, unique, in no other group, and at least one",
                ));
            }
            if group.offsets.len() != group.hosts.len()
                || group.offsets.iter().flatten().any(|v| !v.is_finite())
            {
                return Err(bad(
                    format!("{at}.offsets"),
                    "must be 4 finite numbers for each host",
                ));
            }
            if group.baseline.len() != 4 {
                return Err(bad(
                    format!("{at}.baseline"),
                    "must hold one per metric (4)",
                ));
            }
            for (m, b) in group.baseline.iter().enumerate() {
                b.check(&format!("{at}.baseline[{m}]"))?;
            }
        }
        Ok(())
    }

    /// The groups.
    pub fn groups(&self) -> &[PeerGroup] {
        &self.groups
    }

    /// "web (4 hosts), db (2 hosts)": the groups as a person reads them in a log.
    pub fn describe(&self) -> String {
        self.groups
            .iter()
            .map(|g| {
                let n = g.hosts.len();
                format!("{} ({n} host{})", g.name, if n == 1 { "" } else { "s" })
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The group a host was fitted in, by name.
    pub fn group_of(&self, hostname: &str) -> Option<usize> {
        self.groups.iter().position(|g| {
            g.hosts
                .binary_search_by(|h| h.as_str().cmp(hostname))
                .is_ok()
        })
    }

    /// The group whose baselines explain `samples` (a new host's first ones: epoch seconds
    /// and the four values) best: the most likely under each hour's median and spread taken
    /// as a Gaussian (squared deviations plus twice the log spread, so a group is not
    /// chosen only for being wide).
    pub fn nearest(&self, samples: &[(f64, [f64; 4])]) -> Option<usize> {
        let cost = |g: &PeerGroup| -> f64 {
            let mut sum = 0.0;
            for (t, values) in samples {
                for (b, x) in g.baseline.iter().zip(values) {
                    let (m, s) = b.expected(*t);
                    sum += ((x - m) / s).powi(2) + 2.0 * s.ln();
                }
            }
            sum
        };
        (0..self.groups.len())
            .min_by(|&a, &b| cost(&self.groups[a]).total_cmp(&cost(&self.groups[b])))
    }
}

/// Per feature: the mean and the standard deviation (1 where the hosts do not differ).
fn standardisation(profiles: &[[f64; FEATURES]]) -> (Vec<f64>, Vec<f64>) {
    let n = profiles.len() as f64;
    let mean: Vec<f64> = (0..FEATURES)
        .map(|j| profiles.iter().map(|p| p[j]).sum::<f64>() / n)
        .collect();
    let scale = (0..FEATURES)
        .map(|j| {
            let var = profiles
                .iter()
                .map(|p| (p[j] - mean[j]).powi(2))
                .sum::<f64>()
                / n;
            let sd = var.sqrt();
            if sd > 1e-12 * (1.0 + mean[j].abs()) && sd.is_finite() {
                sd
            } else {
                1.0
            }
        })
        .collect();
    (mean, scale)
}

/// KMeans for every k from 2 to `max_groups` (and below the number of distinct profiles),
/// keeping the one with the best silhouette; one group when none reaches `min_silhouette`.
/// Returns each host's group, the centroids and the silhouette kept.
fn cluster(x: &Array2<f64>, params: &PeerParams) -> Result<(Vec<usize>, Array2<f64>, Option<f64>)> {
    let n = x.nrows();
    let mut distinct: Vec<Vec<u64>> = x
        .rows()
        .into_iter()
        .map(|r| r.iter().map(|v| v.to_bits()).collect())
        .collect();
    distinct.sort();
    distinct.dedup();
    let most = params.max_groups.min(n - 1).min(distinct.len());
    let mut best: Option<(f64, Vec<usize>, Array2<f64>)> = None;
    for k in 2..=most {
        let dataset = DatasetBase::from(x.clone());
        let model = KMeans::params(k)
            .n_runs(10)
            .max_n_iterations(300)
            .tolerance(1e-6)
            .fit(&dataset)
            .map_err(|e| samples_error(format!("KMeans with {k} groups failed: {e}")))?;
        let labels: Array1<usize> = model.predict(x);
        let s = silhouette(x, labels.as_slice().unwrap_or(&[]), k);
        if s.is_finite() && best.as_ref().is_none_or(|b| s > b.0) {
            best = Some((s, labels.to_vec(), model.centroids().clone()));
        }
    }
    match best {
        Some((s, labels, centroids)) if s >= params.min_silhouette => {
            Ok((labels, centroids, Some(s)))
        }
        _ => {
            let centre = x
                .mean_axis(ndarray::Axis(0))
                .unwrap_or_else(|| Array1::zeros(FEATURES));
            Ok((vec![0; n], centre.insert_axis(ndarray::Axis(0)), None))
        }
    }
}

/// The mean silhouette of a clustering (Rousseeuw 1987), a host alone in its group
/// counting 0. linfa's `SilhouetteScore` counts such a host 1, which makes splitting a
/// small fleet into singletons look perfect.
fn silhouette(x: &Array2<f64>, labels: &[usize], k: usize) -> f64 {
    let n = labels.len();
    if n == 0 {
        return f64::NAN;
    }
    let mut size = vec![0usize; k];
    for &l in labels {
        if let Some(c) = size.get_mut(l) {
            *c += 1;
        }
    }
    let mut total = 0.0;
    let mut sums = vec![0.0; k];
    for i in 0..n {
        sums.iter_mut().for_each(|s| *s = 0.0);
        for (j, &label) in labels.iter().enumerate() {
            let d = (&x.row(i) - &x.row(j)).mapv(|v| v * v).sum().sqrt();
            if let Some(s) = sums.get_mut(label) {
                *s += d;
            }
        }
        let own = labels[i];
        if size.get(own).copied().unwrap_or(0) < 2 {
            continue; // 0
        }
        let a = sums[own] / (size[own] - 1) as f64;
        let b = (0..k)
            .filter(|&c| c != own && size[c] > 0)
            .map(|c| sums[c] / size[c] as f64)
            .fold(f64::INFINITY, f64::min);
        if b.is_finite() && a.max(b) > 0.0 {
            total += (b - a) / a.max(b);
        }
    }
    total / n as f64
}

/// Names each group by its hosts' common prefix without trailing digits or separators
/// (`web` for web-1 and web-2), or `group-N` where that is empty or taken.
fn name_groups(groups: &mut [PeerGroup]) {
    for g in 0..groups.len() {
        let hosts = &groups[g].hosts;
        let mut prefix: &str = hosts.first().map_or("", String::as_str);
        for h in hosts {
            let common = prefix
                .char_indices()
                .zip(h.chars())
                .find(|((_, a), b)| a != b)
                .map_or(prefix.len().min(h.len()), |((i, _), _)| i);
            prefix = &prefix[..common];
        }
        let stem = prefix.trim_end_matches(|c: char| !c.is_alphabetic());
        let taken = |name: &str| groups[..g].iter().any(|o| o.name == name);
        groups[g].name = if stem.is_empty() || taken(stem) {
            (g + 1..)
                .map(|i| format!("group-{i}"))
                .find(|n| !taken(n))
                .unwrap_or_default()
        } else {
            stem.to_owned()
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_prefixes_or_numbered() {
        let group = |hosts: &[&str]| PeerGroup {
            name: String::new(),
            hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
            offsets: Vec::new(),
            centroid: Vec::new(),
            baseline: Vec::new(),
        };
        let mut g = vec![
            group(&["api-1", "api-2"]),
            group(&["api-3", "api-4"]),
            group(&["db01", "x9"]),
            group(&["cache-eu-1", "cache-eu-2"]),
        ];
        name_groups(&mut g);
        let names: Vec<&str> = g.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["api", "group-2", "group-3", "cache-eu"]);
    }
}
