//! Per-host state: the four metrics' models (one [`Pipeline<4>`]) plus the hysteresis that
//! keeps one incident to one insight (and one more per escalation of its severity).
//! Serialises with serde so a stateless runtime (Lambda) can load it, process a sample and
//! store it back.

use serde::{Deserialize, Serialize};

use super::cold_start::{self, PeerPlace, PeerShift};
use super::config::{self, EngineConfig, EngineParams};
use super::episode::{OpenIncident, Unconfirmed, RELEASE_FRACTION};
use super::explain;
use super::fastmath::max;
use super::forecast::{Forecaster, Limits, Told, LANES};
use super::lanes::Lanes;
use super::level;
use super::multivariate::{self, HostForest};
use super::observation::Observation;
use super::series::{Pipeline, BAND_Z, PART_MEMORY_PERIODS};
use crate::{
    Error, Incident, IncidentChange, Insight, Metric, MetricSample, Result, Severity, Timestamp,
};

/// Everything the engine remembers about one host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostState {
    /// The four metrics' models, in [`Metric::ALL`] order, advancing together.
    series: Pipeline<4>,
    incidents: [Option<OpenIncident>; 4],
    /// The incident of the multivariate (forest) score, when a forest is configured.
    #[serde(default)]
    forest_incident: Option<OpenIncident>,
    /// Since when CPU and memory have been at or above the saturation ceiling.
    #[serde(default)]
    saturated_since: [Option<f64>; 2],
    /// The host's open incident: every insight while any metric's incident is open.
    #[serde(default, with = "crate::incident::in_host_state")]
    incident: Option<Incident>,
    /// CPU's and memory's trends towards their ceiling (a state from before forecasts
    /// starts one afresh: [`HostState::from_postcard`]).
    #[serde(default)]
    forecaster: Forecaster,
    /// Its place among the fleet's peer groups (a state from before peer groups starts
    /// unplaced: [`HostState::from_postcard`]).
    #[serde(default)]
    peers: PeerPlace,
    /// Each metric's (and the forest's, last) surprise below critical waiting to be
    /// confirmed before it opens an incident (`confirm_seconds`).
    #[serde(default, deserialize_with = "config::absent_before_confirmation")]
    unconfirmed: [Option<Unconfirmed>; 5],
    /// How far the operator's labels raised each metric's info and warning cut-offs
    /// ([`crate::desensitisation`]): set by the service before each sample, from its labels
    /// (not part of the state's history, so not saved).
    #[serde(skip)]
    desensitised: [f64; 4],
}

/// The layout of a host state before peer groups (postcard is positional: the fields are
/// read in this order, and the host starts unplaced).
#[derive(Deserialize)]
struct HostStateBeforePeers {
    series: Pipeline<4>,
    incidents: [Option<OpenIncident>; 4],
    forest_incident: Option<OpenIncident>,
    saturated_since: [Option<f64>; 2],
    #[serde(with = "crate::incident::in_host_state")]
    incident: Option<Incident>,
    forecaster: Forecaster,
}

impl From<HostStateBeforePeers> for HostState {
    fn from(old: HostStateBeforePeers) -> Self {
        HostState {
            series: old.series,
            incidents: old.incidents,
            forest_incident: old.forest_incident,
            saturated_since: old.saturated_since,
            incident: old.incident,
            forecaster: old.forecaster,
            peers: PeerPlace::default(),
            unconfirmed: [None; 5],
            desensitised: [0.0; 4],
        }
    }
}

/// The layout of a host state before capacity forecasts (postcard is positional: the
/// fields are read in this order, and the forecaster starts afresh).
#[derive(Deserialize)]
struct HostStateBeforeForecasts {
    series: Pipeline<4>,
    incidents: [Option<OpenIncident>; 4],
    forest_incident: Option<OpenIncident>,
    saturated_since: [Option<f64>; 2],
    #[serde(with = "crate::incident::in_host_state")]
    incident: Option<Incident>,
}

impl From<HostStateBeforeForecasts> for HostState {
    fn from(old: HostStateBeforeForecasts) -> Self {
        HostStateBeforePeers {
            series: old.series,
            incidents: old.incidents,
            forest_incident: old.forest_incident,
            saturated_since: old.saturated_since,
            incident: old.incident,
            forecaster: Forecaster::default(),
        }
        .into()
    }
}

/// What the engine concluded about one sample of one host. The default is the assessment
/// of nothing (score 0, no insights): a buffer for [`HostState::process_into`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    /// Host-level anomaly score in [0, 1): the highest of the metrics' scores.
    pub score: f64,
    /// Per-metric observations, in [`Metric::ALL`] order.
    pub metrics: [Observation; 4],
    /// Insights raised by this sample (usually none).
    pub insights: Vec<Insight>,
    /// The fleet forest's score of the host's standardised 4-metric vector, when a forest is
    /// configured and the host's models are warm.
    pub forest: Option<f64>,
    /// The host's incident, when this sample opened, escalated or resolved it (its insights
    /// name it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<Incident>,
    /// What this sample did to [`Assessment::incident`] (set with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_change: Option<IncidentChange>,
}

impl HostState {
    /// A fresh state for a host never seen before.
    pub fn new(config: &EngineConfig) -> Result<Self> {
        Ok(HostState {
            series: Pipeline::new(config)?,
            incidents: [None; 4],
            forest_incident: None,
            saturated_since: [None; 2],
            incident: None,
            forecaster: Forecaster::default(),
            peers: PeerPlace::default(),
            unconfirmed: [None; 5],
            desensitised: [0.0; 4],
        })
    }

    /// Decodes a state saved with postcard (all of `bytes`), by this version or by one
    /// whose layout it still reads; an older state's models carry on where they were.
    pub fn from_postcard(bytes: &[u8]) -> Result<Self> {
        fn whole<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Option<T> {
            match postcard::take_from_bytes::<T>(bytes) {
                Ok((state, [])) => Some(state),
                _ => None,
            }
        }
        let before_forecasts = || whole::<HostStateBeforeForecasts>(bytes).map(HostState::from);
        let older = || {
            whole::<HostState>(bytes)
                .or_else(|| whole::<HostStateBeforePeers>(bytes).map(HostState::from))
                .or_else(before_forecasts)
                .or_else(|| level::decoding_before_seasonal_level(before_forecasts))
        };
        whole::<HostState>(bytes)
            .or_else(|| config::decoding_before_confirmation(older))
            .ok_or_else(|| Error::Decode {
                what: "host state",
                reason: "not a postcard host state of this version or one it reads".into(),
            })
    }

    /// Raises each metric's info and warning cut-offs by `raise` (in [`Metric::ALL`] order,
    /// from the operator's labels: [`crate::desensitisation`]) for the samples that follow;
    /// clamped to [0, [`crate::DESENSITISE_MAX`]]. Not saved with the state.
    pub fn set_desensitised(&mut self, raise: [f64; 4]) {
        self.desensitised = raise.map(|r| {
            if r.is_nan() {
                0.0
            } else {
                r.clamp(0.0, crate::DESENSITISE_MAX)
            }
        });
    }

    /// Samples this host has sent.
    pub fn n_seen(&self) -> u64 {
        self.series.n_seen()
    }

    /// Seconds between this host's samples, observed on its first ones (`None` until its
    /// models start).
    pub fn cadence(&self) -> Option<f64> {
        self.series.sizes().map(|s| s.cadence)
    }

    /// The peer group this host was placed in when it started without history (`None` for
    /// a host the model was fitted on, or one never compared with its peers).
    pub fn peer_group(&self) -> Option<&str> {
        self.peers.group()
    }

    /// The host's level relative to its peer group now, and against its usual one (`None`
    /// until it has a group: a model with groups, and its first samples).
    pub fn peer_shift(&self) -> Option<PeerShift> {
        self.peers.shift(self.incident.is_some())
    }

    /// True once the host's models have a full season (and window) of history and their
    /// calibrations are warm: from then on its z-scores are as steady as the forest's
    /// training rows, which skip the same warm-up (see
    /// [`training_features`](super::training_features)).
    pub fn forest_ready(&self, config: &EngineConfig) -> bool {
        let p = config.params();
        self.series.n_seen() > p.calibration_min_samples as u64
            && self.series.history_seconds() >= p.season_seconds.max(p.window_seconds)
    }

    /// Scores a sample (validated first; an invalid one changes nothing), learns it, and
    /// raises insights; with a fleet `forest`, also scores the host's 4-metric vector.
    pub fn process(
        &mut self,
        config: &EngineConfig,
        forest: Option<&HostForest>,
        sample: &MetricSample,
    ) -> Result<Assessment> {
        let mut out = Assessment::default();
        self.process_into(config, forest, sample, &mut out)?;
        Ok(out)
    }

    /// [`HostState::process`] into a caller's buffer: `out` is overwritten (its insights
    /// `Vec` is cleared and reused), so a caller processing a stream allocates nothing and
    /// copies no [`Assessment`] per sample. On an invalid sample (an error), neither the
    /// state nor `out` changes.
    pub fn process_into(
        &mut self,
        config: &EngineConfig,
        forest: Option<&HostForest>,
        sample: &MetricSample,
        out: &mut Assessment,
    ) -> Result<()> {
        sample.validate()?;
        self.process_valid(config, forest, sample, out);
        Ok(())
    }

    /// [`HostState::process_into`] of a sample the caller has validated.
    pub(crate) fn process_valid(
        &mut self,
        config: &EngineConfig,
        forest: Option<&HostForest>,
        sample: &MetricSample,
        out: &mut Assessment,
    ) {
        let p = config.params();
        let values = sample.values();
        let t = sample.timestamp.epoch_seconds();
        let metrics = &mut out.metrics;
        // validated by the caller: every value and the time are finite
        // With peer groups in the fleet model, the host has a group (its level relative to
        // it is followed for the peer sweep). A young host is compared with it: alone until
        // its own models are calibrated, then — until its seasonal model has the periods it
        // remembers each part of the day by — where its group finds the value less
        // surprising (what is usual at this hour of the day).
        let group = forest
            .and_then(HostForest::peers)
            .and_then(|peers| self.peers.place(peers, &sample.hostname, t, values));
        let calibrated = self.series.is_calibrated();
        let settled = PART_MEMORY_PERIODS * p.season_seconds;
        let young = !calibrated || self.series.history_seconds() < settled;
        let cold_group = group.filter(|_| young);
        if let Some(group) = group {
            self.peers.track(group, t, values);
        }
        let peer_view = cold_group.map(|g| {
            self.peers
                .observe(g, t, values, p.score_scale, p.info_score)
        });
        // Before its own models can tell, what the group calls an anomaly is not learned
        // as the host's normal: the group's expectation is, as the guard does later.
        let mut learned = values;
        if let (Some(view), false) = (&peer_view, calibrated) {
            for (x, o) in learned.iter_mut().zip(view) {
                if o.score >= p.info_score {
                    *x = o.expected;
                }
            }
        }
        let day_ago = self.series.observe_finite(t, Lanes(learned), metrics);
        let mut from_peers = [false; 4];
        if let Some(view) = peer_view {
            from_peers = cold_start::merge(view, calibrated, metrics);
        }
        let insights = &mut out.insights;
        insights.clear();
        // Insights follow the unsuppressed surprise: the row score damps an incident's
        // later samples, which would hide a slow ramp (a memory leak) for good.
        let scores = metrics.map(|o| o.surprise / (o.surprise + p.score_scale));
        // CPU and memory at the ceiling: since when (a sample below it resets the clock)
        let mut sustained = [false; 4];
        for (i, since) in self.saturated_since.iter_mut().enumerate() {
            *since = (values[i] >= p.saturation_percent).then(|| since.unwrap_or(t));
            sustained[i] = since.is_some_and(|s| t - s >= p.saturation_seconds);
        }
        // The usual sample: no incident open and nothing to open one, so the rules below
        // would change nothing (checked once for the four metrics).
        let quiet = self.incidents.iter().all(Option::is_none)
            & self.unconfirmed[..4].iter().all(Option::is_none)
            & scores.iter().fold(true, |q, &s| q & (s < p.info_score))
            & !(sustained[0] | sustained[1]);
        if !quiet {
            for (i, metric) in Metric::ALL.into_iter().enumerate() {
                let score = scores[i];
                let by_score =
                    explain::severity(score, p.info_score, p.warning_score, p.critical_score);
                // (impact from the cut-offs as configured: labels never silence it)
                let impact = explain::impact(
                    metric,
                    values[i],
                    metrics[i].expected,
                    by_score,
                    sustained[i],
                    p,
                );
                let severity = if impact.is_some() {
                    Some(Severity::Critical)
                } else if self.desensitised[i] > 0.0 {
                    let raise = self.desensitised[i];
                    let warning = (p.warning_score + raise).min(p.critical_score);
                    let info = (p.info_score + raise).min(warning);
                    explain::severity(score, info, warning, p.critical_score)
                } else {
                    by_score
                };
                // (on a host with an incident open, a surprise joins it: nobody is paged)
                let severity = if self.incidents[i].is_none() && self.incident.is_none() {
                    let outside = metrics[i].z.abs() >= BAND_Z;
                    let waiting = &mut self.unconfirmed[i];
                    Unconfirmed::confirm(waiting, severity, outside, t, p.confirm_seconds)
                } else {
                    severity
                };
                let calm = score < RELEASE_FRACTION * p.info_score && !sustained[i];
                if let Some(severity) = OpenIncident::step(
                    &mut self.incidents[i],
                    severity,
                    calm,
                    t,
                    p.cooldown_seconds,
                ) {
                    // (the observation is copied only for the rare insight)
                    let obs = Observation {
                        score,
                        ..metrics[i]
                    };
                    let mut insight = explain::insight(
                        metric,
                        &sample.hostname,
                        sample.timestamp,
                        values[i],
                        severity,
                        &obs,
                    );
                    if let Some(impact) = impact {
                        insight.message.push_str(impact.clause());
                    }
                    if let (Some(group), true) = (cold_group, from_peers[i]) {
                        insight.message.push_str(&cold_start::clause(group));
                        "peer_group".clone_into(&mut insight.detector);
                    }
                    insights.push(insight);
                }
            }
        }
        let mut forecast = None;
        if let Some(cadence) = self.cadence() {
            let limits = Limits {
                cadence,
                ceiling: p.saturation_percent,
                quiet_seconds: p.cooldown_seconds,
            };
            let series = &self.series;
            let told = self.forecaster.observe(
                t,
                [values[0], values[1]],
                day_ago.map(|d| [d[0], d[1]]),
                limits,
                |at| series.a_season_ago(at).map(|v| [v[0], v[1]]),
            );
            if told.iter().any(Option::is_some) {
                forecast = tell_forecasts(told, p.saturation_percent, sample, metrics, insights);
            }
        }
        out.forest = None;
        if let Some(forest) = forest {
            if self.forest_ready(config) {
                self.assess_with_forest(forest, t, p, sample, out);
            }
        }
        // (scores are never NaN: the plain comparison of fastmath's max suffices)
        out.score = out.metrics.iter().fold(0.0, |m, o| max(m, o.score));
        out.incident = None;
        out.incident_change = None;
        if self.incident.is_some() || !out.insights.is_empty() {
            out.incident_change =
                self.track_incident(sample.timestamp, &mut out.insights, &mut out.incident);
        }
        if let Some(forecast) = forecast {
            self.summarise_forecast(&forecast, out);
        }
    }

    /// A forecast told or revised: the host's incident is summarised by it (the most
    /// actionable news while nothing is critical) and, for a revision, updated in place: no
    /// new insight is raised.
    #[cold]
    fn summarise_forecast(&mut self, forecast: &Forecasted, out: &mut Assessment) {
        let Some(open) = self.incident.as_mut() else {
            return;
        };
        let before = open.severity;
        open.revise(&forecast.insight, open.severity < Severity::Critical);
        out.incident = Some(open.clone());
        if forecast.revised {
            let change = if open.severity > before {
                IncidentChange::Escalated
            } else {
                IncidentChange::Updated
            };
            out.incident_change = Some(match out.incident_change {
                Some(c) if c != IncidentChange::Updated => c,
                _ => change,
            });
        }
    }

    /// One incident per episode of the host's trouble: this sample's insights open it or
    /// join it (and name it); once no metric has an incident open, it resolves. `changed`
    /// gets the incident when this sample changed it; the return value says how.
    #[cold]
    fn track_incident(
        &mut self,
        at: Timestamp,
        insights: &mut [Insight],
        changed: &mut Option<Incident>,
    ) -> Option<IncidentChange> {
        let Some((first, rest)) = insights.split_first() else {
            let calm = self.incidents.iter().all(Option::is_none)
                && self.forest_incident.is_none()
                && !self.forecaster.is_open();
            if calm {
                if let Some(mut done) = self.incident.take() {
                    done.resolve(at);
                    *changed = Some(done);
                    return Some(IncidentChange::Resolved);
                }
            }
            return None;
        };
        let (incident, change) = match self.incident.as_mut() {
            Some(open) => {
                let before = open.severity;
                open.join(first);
                for insight in rest {
                    open.join(insight);
                }
                let change = if open.severity > before {
                    IncidentChange::Escalated
                } else {
                    IncidentChange::Updated
                };
                (open, change)
            }
            None => {
                let open = self.incident.insert(Incident::open(first));
                for insight in rest {
                    open.join(insight);
                }
                (open, IncidentChange::Opened)
            }
        };
        for insight in insights.iter_mut() {
            insight.incident_id = Some(incident.incident_id.clone());
        }
        *changed = Some(incident.clone());
        Some(change)
    }

    /// Scores the sample's standardised metric vector with the fleet forest. When the
    /// metrics' own models raised insights on this sample and the forest finds it unusual
    /// too, the insights name the forest's drivers; otherwise a score beyond anything in
    /// training raises a `multi_metric_anomaly` of its own (hysteresis as for a metric),
    /// unless a metric's incident is open already.
    fn assess_with_forest(
        &mut self,
        forest: &HostForest,
        t: f64,
        p: &EngineParams,
        sample: &MetricSample,
        out: &mut Assessment,
    ) {
        let Some(features) = multivariate::host_features(&out.metrics) else {
            return;
        };
        let score = forest.score(&features);
        out.forest = Some(score);
        let mut severity = forest.severity(score);
        if self.forest_incident.is_none() && self.incident.is_none() {
            let waiting = &mut self.unconfirmed[4];
            let outside = score >= forest.threshold();
            severity = Unconfirmed::confirm(waiting, severity, outside, t, p.confirm_seconds);
        }
        let raise = OpenIncident::step(
            &mut self.forest_incident,
            severity,
            score < forest.threshold(),
            t,
            p.cooldown_seconds,
        );
        if !out.insights.is_empty() {
            if score >= forest.threshold() {
                let drivers = forest.drivers(&features, score);
                for insight in &mut out.insights {
                    insight.drivers.clone_from(&drivers);
                }
            }
        } else if let Some(severity) = raise {
            // One incident, one insight: an incident the metrics' models opened already
            // has its insight.
            if !self.incidents.iter().any(Option::is_some) {
                let drivers = forest.drivers(&features, score);
                out.insights.push(explain::multi_metric_insight(
                    sample,
                    severity,
                    score,
                    forest.severity_cuts()[0],
                    &out.metrics,
                    drivers,
                ));
            }
        }
    }
}

/// A forecast told by a sample: the insight, and whether it revises one told before.
struct Forecasted {
    insight: Insight,
    revised: bool,
}

/// Puts the new forecasts among the sample's insights; returns the one the host's incident
/// is to say (the memory's when both lanes have news: the nearer ceiling is rarely the
/// CPU's).
#[cold]
fn tell_forecasts(
    told: [Option<Told>; LANES],
    ceiling: f64,
    sample: &MetricSample,
    metrics: &[Observation; 4],
    insights: &mut Vec<Insight>,
) -> Option<Forecasted> {
    let mut newest = None;
    for (lane, told) in told.into_iter().enumerate() {
        let (Some(told), Some(&metric), Some(obs)) =
            (told, Metric::ALL.get(lane), metrics.get(lane))
        else {
            continue;
        };
        let (Told::New(f) | Told::Revised(f)) = told;
        let insight =
            explain::forecast_insight(metric, &sample.hostname, sample.timestamp, ceiling, &f, obs);
        let revised = matches!(told, Told::Revised(_));
        if !revised {
            insights.push(insight.clone());
        }
        newest = Some(Forecasted { insight, revised });
    }
    newest
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timestamp;

    fn sample(i: u32) -> MetricSample {
        let spike = if i == 700 { 60.0 } else { 0.0 };
        MetricSample {
            timestamp: Timestamp::from_epoch_seconds(1.7e9 + 300.0 * f64::from(i)).unwrap(),
            hostname: "h".into(),
            cpu_usage: 30.0 + f64::from(i % 7) + spike,
            memory_usage: 50.0 + f64::from(i % 3),
            disk_io: 100.0 + f64::from(i % 11),
            network_io: 20.0 + f64::from(i % 5),
        }
    }

    #[test]
    fn process_into_reuses_the_buffer_and_matches_process() {
        let config = EngineConfig::default();
        let (mut a, mut b) = (
            HostState::new(&config).unwrap(),
            HostState::new(&config).unwrap(),
        );
        let mut out = Assessment::default();
        let mut raised = 0;
        for i in 0..1000 {
            let s = sample(i);
            let want = a.process(&config, None, &s).unwrap();
            b.process_into(&config, None, &s, &mut out).unwrap();
            assert_eq!(out, want, "sample {i}");
            raised += out.insights.len();
        }
        assert!(raised > 0, "the spike raised nothing");
        assert_eq!(a, b);
        // an invalid sample is an error and changes neither the state nor the buffer
        let before = (b.clone(), out.clone());
        let mut bad = sample(1000);
        bad.cpu_usage = f64::NAN;
        assert!(b.process_into(&config, None, &bad, &mut out).is_err());
        assert_eq!((b, out), before);
    }
}
