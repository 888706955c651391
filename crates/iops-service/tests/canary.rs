//! The canary policy with a fake remote model: routing share, the remote verdict's insight,
//! fallback on error, and the built-in state advancing on every sample.

use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use iops_core::engine::{EngineConfig, HostState};
use iops_core::{InsightType, MetricSample, Severity};
use iops_service::{
    routes_to_canary, BuiltinScorer, CanaryScorer, RemoteScore, RemoteScorer, Scorer,
};
use iops_store::ModelSource;

#[derive(Debug, thiserror::Error)]
#[error("fake endpoint is down")]
struct Down;

/// Answers `score` (anomalous above 0.6), or fails when `down`; counts its calls.
#[derive(Debug)]
struct Fake {
    score: f64,
    down: bool,
    calls: AtomicUsize,
}

impl Fake {
    fn new(score: f64, down: bool) -> Self {
        Fake {
            score,
            down,
            calls: AtomicUsize::new(0),
        }
    }
}

#[async_trait]
impl RemoteScorer for Fake {
    type Error = Down;

    fn name(&self) -> &str {
        "fake-endpoint"
    }

    async fn score(&self, _: &MetricSample) -> Result<RemoteScore, Down> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.down {
            return Err(Down);
        }
        Ok(RemoteScore {
            score: self.score,
            anomaly: self.score > 0.6,
            version: "sha256:fake".into(),
        })
    }
}

fn sample(host: &str, i: u64) -> MetricSample {
    MetricSample::from_json(
        format!(
            r#"{{"timestamp":{},"hostname":"{host}","cpuUsage":{},"memoryUsage":60,"diskIO":100,"networkIO":50}}"#,
            1_764_000_000 + i * 300,
            40 + i % 7
        )
        .as_bytes(),
    )
    .unwrap()
}

fn builtin() -> BuiltinScorer {
    BuiltinScorer::new(EngineConfig::default())
}

/// Streams `n` samples of one host through `scorer` and through the built-in engine alone;
/// returns what the scorer answered and checks the two states stayed identical.
async fn run<S: Scorer>(scorer: &S, n: u64) -> Vec<(MetricSample, iops_service::Scored)> {
    let alone = builtin();
    let (mut state, mut reference) = (scorer.new_state().unwrap(), alone.new_state().unwrap());
    let mut out = Vec::new();
    for i in 0..n {
        let s = sample("web-5", i);
        let scored = scorer.score(&mut state, &s).await.unwrap();
        alone.score(&mut reference, &s).await.unwrap();
        out.push((s, scored));
    }
    assert_eq!(
        state, reference,
        "the built-in state advances on every sample"
    );
    out
}

#[tokio::test]
async fn routed_samples_answer_the_remote_verdict_as_one_insight() {
    let scorer = CanaryScorer::with_canary(builtin(), Fake::new(0.8, false), 30.0);
    let answered = run(&scorer, 400).await;
    let (fake, _) = scorer.canary().unwrap();
    let routed: Vec<_> = answered
        .iter()
        .filter(|(s, _)| routes_to_canary(&s.hostname, s.timestamp.epoch_nanos(), 30.0))
        .collect();
    assert!((90..150).contains(&routed.len()), "{} of 400", routed.len());
    assert_eq!(fake.calls.load(Ordering::SeqCst), routed.len());
    for (s, scored) in &answered {
        let is_routed = routes_to_canary(&s.hostname, s.timestamp.epoch_nanos(), 30.0);
        if !is_routed {
            assert_eq!(scored.source, ModelSource::Builtin);
            continue;
        }
        assert_eq!(
            (scored.source, scored.version.as_str(), scored.fallback),
            (ModelSource::Sagemaker, "sha256:fake", false)
        );
        assert_eq!(scored.assessment.score, 0.8);
        let [insight] = scored.assessment.insights.as_slice() else {
            panic!("one insight: {:?}", scored.assessment.insights);
        };
        assert_eq!(insight.kind, InsightType::MultiMetricAnomaly);
        assert_eq!(
            (insight.severity, insight.detector.as_str()),
            (Severity::Warning, "sagemaker")
        );
        assert!(
            insight.message.contains("fake-endpoint"),
            "{}",
            insight.message
        );
    }
}

#[tokio::test]
async fn a_normal_remote_verdict_has_no_insight() {
    let scorer = CanaryScorer::with_canary(builtin(), Fake::new(0.4, false), 100.0);
    for (_, scored) in run(&scorer, 50).await {
        assert_eq!(scored.source, ModelSource::Sagemaker);
        assert!(scored.assessment.insights.is_empty());
    }
}

#[tokio::test]
async fn a_failing_remote_falls_back_to_the_builtin_answer() {
    let scorer = CanaryScorer::with_canary(builtin(), Fake::new(0.8, true), 100.0);
    let alone = builtin();
    let mut reference = alone.new_state().unwrap();
    for (s, scored) in run(&scorer, 50).await {
        let want = alone.score(&mut reference, &s).await.unwrap();
        assert!(scored.fallback);
        assert_eq!(scored.source, ModelSource::Builtin);
        assert_eq!(scored.assessment, want.assessment);
        assert_eq!(scored.version, want.version);
    }
}

#[tokio::test]
async fn no_canary_or_zero_percent_never_calls_the_remote() {
    let off = CanaryScorer::<Fake>::builtin(builtin());
    assert!(off.canary().is_none());
    for (_, scored) in run(&off, 20).await {
        assert_eq!(
            (scored.source, scored.fallback),
            (ModelSource::Builtin, false)
        );
    }
    let zero = CanaryScorer::with_canary(builtin(), Fake::new(0.8, false), 0.0);
    run(&zero, 20).await;
    assert_eq!(zero.canary().unwrap().0.calls.load(Ordering::SeqCst), 0);
    let _: HostState = zero.new_state().unwrap();
}
