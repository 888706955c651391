//! The training rows of a fleet's host forest: the engine's own per-metric models, run over
//! past samples, give the standardised 4-metric vectors the forest is fitted on.

use ndarray::ArrayView2;
use time::OffsetDateTime;

use super::config::EngineConfig;
use super::host::{Assessment, HostState};
use super::multivariate::{host_features, HostForest, HOST_FEATURES};
use crate::artifact::ModelArtifact;
use crate::forest::IsolationForestValidParams;
use crate::peers::{PeerGroups, PeerParams};
use crate::{Error, MetricSample, Result};

impl HostForest {
    /// Fits a fleet's host forest on past samples: the engine's models (`config`) turn them
    /// into [`training_features`], the forest is fitted on those with `params`, and the model
    /// is ready for [`HostForest::new`] (summarized). The fleet's peer groups
    /// ([`PeerGroups::fit`], default [`PeerParams`]) go into the model too when at least two
    /// hosts have a day of history; [`ModelArtifact::peer_groups`] says whether they did. `iops train --features host`, the
    /// demo's fleet model and the SageMaker `train` entrypoint (`features=host`) all fit
    /// through here. Fewer than two rows past each host's warm-up is an error naming
    /// `samples`.
    pub fn fit(
        config: &EngineConfig,
        samples: &[MetricSample],
        params: &IsolationForestValidParams,
        created_at: OffsetDateTime,
    ) -> Result<ModelArtifact> {
        let rows = training_features(config, samples)?;
        if rows.len() < 2 {
            return Err(Error::InvalidField {
                field: "samples".into(),
                reason: format!(
                    "a host forest needs at least 2 samples past each host's warm-up (a \
                     season, {} s, of each host's samples); found {} of {} samples",
                    config.params().season_seconds,
                    rows.len(),
                    samples.len()
                ),
            });
        }
        let flat = rows.concat();
        let x =
            ArrayView2::from_shape((rows.len(), 4), &flat).map_err(|e| Error::InvalidField {
                field: "samples".into(),
                reason: e.to_string(),
            })?;
        let names = HOST_FEATURES.map(str::to_owned).to_vec();
        let mut model = ModelArtifact::train(params, x, names, created_at)?;
        // (the samples are valid, so the only refusal is too few hosts with a day each)
        model.set_peer_groups(PeerGroups::fit(samples, &PeerParams::default()).ok());
        Ok(model)
    }
}

/// The training rows of a host forest: runs each host's samples, in time order, through the
/// engine's per-metric models (`config`, as the engine will run them) and keeps the
/// [`host_features`] of every sample once the host is [`HostState::forest_ready`]. Samples
/// may come in any order and mix hosts; an invalid sample is an error naming its index and
/// field.
pub fn training_features(config: &EngineConfig, samples: &[MetricSample]) -> Result<Vec<[f64; 4]>> {
    for (i, s) in samples.iter().enumerate() {
        s.validate().map_err(|e| Error::InvalidField {
            field: format!("samples[{i}].{}", e.field().unwrap_or("sample")),
            reason: e.to_string(),
        })?;
    }
    let mut order: Vec<&MetricSample> = samples.iter().collect();
    order.sort_by(|a, b| {
        a.hostname
            .cmp(&b.hostname)
            .then(a.timestamp.epoch_nanos().cmp(&b.timestamp.epoch_nanos()))
    });
    // (the forest plays no part in the features: they are scored without one)
    let mut rows = Vec::new();
    let mut out = Assessment::default();
    let mut host: Option<(&str, HostState)> = None;
    for sample in order {
        let state = match &mut host {
            Some((name, state)) if *name == sample.hostname => state,
            _ => &mut host.insert((&sample.hostname, HostState::new(config)?)).1,
        };
        state.process_valid(config, None, sample, &mut out);
        if !state.forest_ready(config) {
            continue;
        }
        if let Some(x) = host_features(&out.metrics) {
            rows.push(x);
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact::ModelArtifact;
    use crate::engine::multivariate::{HostForest, HOST_FEATURES, Z_CLIP};
    use crate::forest::IsolationForestParams;
    use crate::{Metric, Severity};
    use crate::{ParamGuard, Timestamp};

    /// A quiet host with a daily cycle: sample `i` of host `h`, 5 minutes apart.
    fn sample(h: usize, i: usize) -> MetricSample {
        let day = (i as f64 * std::f64::consts::TAU / 288.0).sin();
        let wobble = |k: usize| ((i * (7 + k) + h * 13) % 11) as f64 / 11.0 - 0.5;
        MetricSample {
            timestamp: Timestamp::from_epoch_seconds(1.7e9 + 300.0 * i as f64).unwrap(),
            hostname: format!("h{h}"),
            cpu_usage: 30.0 + 10.0 * h as f64 + 8.0 * day + wobble(0),
            memory_usage: 50.0 + 2.0 * wobble(1),
            disk_io: 100.0 * (h + 1) as f64 + 20.0 * day + 3.0 * wobble(2),
            network_io: 40.0 + 15.0 * day + 2.0 * wobble(3),
        }
    }

    fn history(hosts: usize, n: usize) -> Vec<MetricSample> {
        (0..n)
            .flat_map(|i| (0..hosts).map(move |h| sample(h, i)))
            .collect()
    }

    fn model(names: [&str; 4]) -> ModelArtifact {
        let rows = training_features(&EngineConfig::default(), &history(3, 900)).unwrap();
        let x = ndarray::Array2::from_shape_vec((rows.len(), 4), rows.concat()).unwrap();
        let params = IsolationForestParams::new()
            .seed(7)
            .contamination(0.01)
            .check()
            .unwrap();
        let names = names.map(str::to_owned).to_vec();
        ModelArtifact::train(&params, x.view(), names, time::OffsetDateTime::UNIX_EPOCH).unwrap()
    }

    #[test]
    fn training_rows_skip_each_hosts_warmup_and_ignore_input_order() {
        let config = EngineConfig::default();
        // ready after a season (a day) of 5-minute samples
        let warm = 288;
        let mut samples = history(2, 400);
        let rows = training_features(&config, &samples).unwrap();
        assert_eq!(rows.len(), 2 * (400 - warm));
        assert!(rows.iter().flatten().all(|v| v.abs() <= Z_CLIP));
        samples.reverse();
        assert_eq!(training_features(&config, &samples).unwrap(), rows);
    }

    #[test]
    fn fit_is_training_features_then_train() {
        let params = IsolationForestParams::new().seed(7).check().unwrap();
        let samples = history(2, 400);
        let fitted = HostForest::fit(
            &EngineConfig::default(),
            &samples,
            &params,
            time::OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap();
        let rows = training_features(&EngineConfig::default(), &samples).unwrap();
        let x = ndarray::Array2::from_shape_vec((rows.len(), 4), rows.concat()).unwrap();
        let names = HOST_FEATURES.map(str::to_owned).to_vec();
        let mut by_hand =
            ModelArtifact::train(&params, x.view(), names, time::OffsetDateTime::UNIX_EPOCH)
                .unwrap();
        // two hosts with more than a day each: the fleet's peer groups ride along
        let groups = PeerGroups::fit(&samples, &PeerParams::default()).unwrap();
        assert_eq!(fitted.peer_groups(), Some(&groups));
        by_hand.set_peer_groups(Some(groups));
        assert_eq!(fitted.to_json().unwrap(), by_hand.to_json().unwrap());
        assert!(HostForest::new(fitted).is_ok());
    }

    #[test]
    fn fit_needs_samples_past_the_warmup() {
        let params = IsolationForestParams::new().seed(7).check().unwrap();
        let err = HostForest::fit(
            &EngineConfig::default(),
            &history(2, 100),
            &params,
            time::OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap_err();
        assert_eq!(err.field(), Some("samples"), "{err}");
    }

    #[test]
    fn an_invalid_training_sample_is_named() {
        let mut samples = history(1, 10);
        samples[4].disk_io = -1.0;
        let err = training_features(&EngineConfig::default(), &samples).unwrap_err();
        assert_eq!(err.field(), Some("samples[4].diskIO"), "{err}");
    }

    #[test]
    fn a_model_on_other_features_is_refused() {
        let err =
            HostForest::new(model(["cpuUsage", "memoryUsage", "diskIO", "networkIO"])).unwrap_err();
        assert_eq!(err.field(), Some("feature_names"), "{err}");
    }

    #[test]
    fn a_model_without_its_training_summary_is_refused() {
        let rows = training_features(&EngineConfig::default(), &history(2, 400)).unwrap();
        let x = ndarray::Array2::from_shape_vec((rows.len(), 4), rows.concat()).unwrap();
        let params = IsolationForestParams::new().seed(7).check().unwrap();
        let names = HOST_FEATURES.map(str::to_owned).to_vec();
        let mut artifact =
            ModelArtifact::fit(&params, x.view(), names, time::OffsetDateTime::UNIX_EPOCH).unwrap();
        assert!(!artifact.is_summarized());
        let err = HostForest::new(artifact.clone()).unwrap_err();
        assert_eq!(err.field(), Some("model"), "{err}");
        artifact.summarize(x.view()).unwrap();
        assert!(HostForest::new(artifact).is_ok());
    }

    #[test]
    fn cuts_are_ordered_and_above_the_threshold() {
        let forest = HostForest::new(model(HOST_FEATURES)).unwrap();
        let [info, warning, critical] = forest.severity_cuts();
        assert!(forest.threshold() <= info && info < warning && warning < critical);
        assert!(critical < 1.0);
        assert_eq!(forest.severity(info), None);
        assert_eq!(forest.severity(info + 1e-9), Some(Severity::Info));
        assert_eq!(forest.severity(critical + 1e-9), Some(Severity::Critical));
    }

    #[test]
    fn drivers_put_the_deviating_metric_first_and_add_up_to_one() {
        let forest = HostForest::new(model(HOST_FEATURES)).unwrap();
        let x = [0.1, -0.2, 40.0, 0.3];
        let score = forest.score(&x);
        let drivers = forest.drivers(&x, score);
        assert_eq!(drivers.len(), 4);
        assert_eq!(drivers[0].metric, Metric::DiskIo, "{drivers:?}");
        assert_eq!(drivers[0].z, 40.0);
        assert!(drivers.windows(2).all(|w| w[0].share >= w[1].share));
        let total: f64 = drivers.iter().map(|d| d.share).sum();
        assert!((total - 1.0).abs() < 1e-12, "{total}");
    }

    #[test]
    fn the_engine_scores_hosts_with_a_forest_and_restores_identically() {
        let config = EngineConfig::default();
        let forest = HostForest::new(model(HOST_FEATURES)).unwrap();
        let (mut plain, mut host) = (
            HostState::new(&config).unwrap(),
            HostState::new(&config).unwrap(),
        );
        // ready after a season (a day) of 5-minute samples
        let warm = 288u64;
        let mut spike_seen = false;
        for i in 0..700 {
            let mut s = sample(1, i);
            if i == 650 {
                // CPU and network far off at once
                s.cpu_usage = 99.0;
                s.network_io = 400.0;
            }
            let a = plain.process(&config, None, &s).unwrap();
            let b = host.process(&config, Some(&forest), &s).unwrap();
            assert_eq!(a.forest, None);
            assert_eq!(b.forest.is_some(), i as u64 >= warm, "sample {i}");
            // the forest never changes what the metrics' models say
            assert_eq!(a.metrics, b.metrics);
            assert_eq!(a.score, b.score);
            if i == 650 {
                let f = b.forest.unwrap();
                assert!(f >= forest.threshold(), "score {f}");
                assert!(!b.insights.is_empty());
                for insight in &b.insights {
                    let top: Vec<Metric> =
                        insight.drivers.iter().take(2).map(|d| d.metric).collect();
                    assert!(
                        top.contains(&Metric::Cpu) && top.contains(&Metric::NetworkIo),
                        "{insight:?}"
                    );
                }
                spike_seen = true;
            }
        }
        assert!(spike_seen);
        // a stateless runtime: store, load, carry on with identical results
        let json = serde_json::to_string(&host).unwrap();
        let mut restored: HostState = serde_json::from_str(&json).unwrap();
        for i in 700..760 {
            let s = sample(1, i);
            assert_eq!(
                host.process(&config, Some(&forest), &s).unwrap(),
                restored.process(&config, Some(&forest), &s).unwrap()
            );
        }
    }
}
