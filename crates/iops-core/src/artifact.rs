//! The model artifact (`model.json`): a fitted isolation forest as pure data, in a versioned
//! envelope with a checksum, loadable by every runtime.
//!
//! ```text
//! {"format_version":2,"checksum":"sha256:<hex of the compact payload>","payload":{
//!   "kind":"isolation_forest","created_at":"2026-01-02T03:04:05Z",
//!   "hyperparameters":{"n_trees":100,"max_samples":{"count":256},...,"seed":0},
//!   "feature_names":[...],"n_features":4,"samples_per_tree":256,"threshold":0.55,
//!   "training":{"rows":...,"score_quantiles":[{"q":0.5,"score":...},...],"threshold":0.55},
//!   "trees":[{"feature":[0,null,...],"threshold":[...],"leaf_size":[...]},...]}}
//! ```
//!
//! Trees are breadth-first: `feature` is the split feature per node (`null` for a leaf),
//! `threshold` lists the splits' thresholds (`x <= t` goes left) and `leaf_size` the training
//! rows per leaf, both in node order; the j-th split's children are nodes 2j+1 and 2j+2.
//! The checksum is the SHA-256 of the payload serialised compactly in field order, so
//! re-indenting the file does not invalidate it but changing any value does.
//!
//! Format 2 adds `peer_groups` to the payload (when the model was fitted on a fleet's
//! history: [`crate::peers::PeerGroups`], each group's hosts, centroid and per-metric
//! baseline); it is absent otherwise, and a format-1 file reads as a model without groups.
//!
//! `hyperparameters.max_features` is a number (a share of the features) or `{"count": k}`;
//! `hyperparameters.bootstrap` appears only when true, and then a tree's leaf sizes add up
//! to its distinct rows, at most `samples_per_tree`. Files without either read as before.

use std::sync::OnceLock;

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
/// The timestamp type of [`ModelArtifact::created_at`], re-exported for callers.
pub use time::OffsetDateTime;

use crate::forest::{
    scan, IsolationForest, IsolationForestParams, IsolationForestValidParams, MaxFeatures,
    MaxSamples, Scan, Threshold, TreeParts,
};
use crate::peers::PeerGroups;
use crate::{Error, ParamGuard, Result};

/// The format version this build writes and the newest it reads.
pub const FORMAT_VERSION: u64 = 2;
/// Default size limit of an artifact accepted by [`ModelArtifact::from_slice`] (64 MiB).
pub const DEFAULT_MAX_BYTES: u64 = 64 << 20;
/// Quantiles of the training scores recorded in the summary.
pub const SUMMARY_QUANTILES: [f64; 7] = [0.0, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0];

/// One quantile of the training scores.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreQuantile {
    /// Quantile level in [0, 1].
    pub q: f64,
    /// Score at that level.
    pub score: f64,
}

/// What the model saw in training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingSummary {
    /// Training rows.
    pub rows: u64,
    /// Quantiles of the training rows' scores ([`SUMMARY_QUANTILES`]).
    pub score_quantiles: Vec<ScoreQuantile>,
    /// The decision threshold chosen at training time.
    pub threshold: f64,
}

/// A fitted forest with the metadata that travels with it.
///
/// The training summary's score quantiles cost a scoring pass over every training row, so
/// [`fit`](Self::fit) leaves them for later when nothing else scored those rows:
/// [`summarize`](Self::summarize) computes them from the same rows (checked against a
/// fingerprint taken at fit), and until then the artifact scores but cannot be written
/// ([`to_json`](Self::to_json) and [`checksum`](Self::checksum) refuse).
/// [`train`](Self::train) does both steps at once.
#[derive(Debug, Clone)]
pub struct ModelArtifact {
    created_at: OffsetDateTime,
    feature_names: Vec<String>,
    training: TrainingSummary,
    forest: IsolationForest,
    /// The fleet's peer groups, when fitted with the forest ([`HostForest::fit`]).
    ///
    /// [`HostForest::fit`]: crate::engine::HostForest::fit
    peer_groups: Option<PeerGroups>,
    /// While the score quantiles are not computed: the fingerprint of the training rows.
    pending: Option<u64>,
    /// The envelope's checksum: the verified one of the file it was loaded from, or computed
    /// on first use. Not part of equality (it is derived from the rest).
    checksum: OnceLock<String>,
}

/// Equality of content: the forest and its metadata (the cached checksum is derived from them).
impl PartialEq for ModelArtifact {
    fn eq(&self, other: &Self) -> bool {
        self.created_at == other.created_at
            && self.feature_names == other.feature_names
            && self.training == other.training
            && self.forest == other.forest
            && self.peer_groups == other.peer_groups
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Hyperparameters {
    n_trees: usize,
    max_samples: MaxSamples,
    /// A bare number (a fraction), or `{"count": k}`.
    max_features: MaxFeatures,
    /// Written only when true, so files without bootstrap are what they always were.
    #[serde(default, skip_serializing_if = "is_false")]
    bootstrap: bool,
    threshold: Threshold,
    seed: u64,
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TreeData {
    feature: Vec<Option<u32>>,
    threshold: Vec<f64>,
    leaf_size: Vec<u32>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    kind: String,
    created_at: String,
    hyperparameters: Hyperparameters,
    feature_names: Vec<String>,
    n_features: usize,
    samples_per_tree: usize,
    threshold: f64,
    training: TrainingSummary,
    trees: Vec<TreeData>,
    /// The fleet's peer groups (format 2; absent when none were fitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    peer_groups: Option<PeerGroups>,
}

#[derive(Debug, Serialize)]
struct EnvelopeOut<'a> {
    format_version: u64,
    checksum: String,
    payload: &'a RawValue,
}

#[derive(Debug, Deserialize)]
struct EnvelopeIn<'a> {
    format_version: u64,
    checksum: Option<String>,
    #[serde(borrow)]
    payload: Option<&'a RawValue>,
}

const KIND: &str = "isolation_forest";

fn decode(reason: impl ToString) -> Error {
    Error::Decode {
        what: "model artifact",
        reason: reason.to_string(),
    }
}

fn json_error(e: serde_json::Error) -> Error {
    if e.is_eof() {
        decode(format!("truncated: {e}"))
    } else {
        decode(e)
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for b in digest {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    out
}

/// The summary's quantiles of `scores` (any order), each [`quantile`](crate::forest::quantile)'s
/// value, reading only the order statistics it needs (selection, not a full sort).
fn summary_quantiles(mut scores: Vec<f64>) -> Vec<ScoreQuantile> {
    let n = scores.len();
    // The ranks quantile_sorted reads, ascending; each selection narrows the next one's range.
    let mut ranks: Vec<usize> = Vec::new();
    if n > 0 {
        for &q in &SUMMARY_QUANTILES {
            let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
            ranks.push(pos.floor() as usize);
            ranks.push(pos.ceil() as usize);
        }
    }
    ranks.sort_unstable();
    ranks.dedup();
    let mut value = Vec::with_capacity(ranks.len());
    let mut start = 0;
    for &r in &ranks {
        let Some(rest) = scores.get_mut(start..) else {
            break;
        };
        if r - start >= rest.len() {
            break; // cannot happen: ranks are below n
        }
        let (_, v, _) = rest.select_nth_unstable_by(r - start, f64::total_cmp);
        value.push((r, *v));
        start = r + 1;
    }
    let at = |r: usize| {
        value
            .iter()
            .find(|(k, _)| *k == r)
            .map_or(f64::NAN, |(_, v)| *v)
    };
    SUMMARY_QUANTILES
        .iter()
        .map(|&q| {
            // quantile_sorted's formula on the two order statistics
            let score = if n == 0 {
                f64::NAN
            } else {
                let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
                let lo = pos.floor() as usize;
                let (a, b) = (at(lo), at(pos.ceil() as usize));
                a + (b - a) * (pos - lo as f64)
            };
            ScoreQuantile { q, score }
        })
        .collect()
}

impl ModelArtifact {
    /// Fits a forest on `x` and records the training summary (score quantiles, threshold):
    /// [`fit`](Self::fit) then [`summarize`](Self::summarize). `feature_names` must have one
    /// name per column.
    pub fn train(
        params: &IsolationForestValidParams,
        x: ArrayView2<'_, f64>,
        feature_names: Vec<String>,
        created_at: OffsetDateTime,
    ) -> Result<Self> {
        let mut model = Self::fit(params, x, feature_names, created_at)?;
        model.summarize(x)?;
        Ok(model)
    }

    /// Fits a forest on `x` without scoring the training rows for the summary unless the
    /// threshold rule scored them anyway (a contamination rule): otherwise the score
    /// quantiles wait for [`summarize`](Self::summarize) with the same rows, and the
    /// artifact cannot be written until then (a host forest for the engine needs them too:
    /// its cut-offs start at the highest training score). `feature_names` must have one
    /// name per column.
    pub fn fit(
        params: &IsolationForestValidParams,
        x: ArrayView2<'_, f64>,
        feature_names: Vec<String>,
        created_at: OffsetDateTime,
    ) -> Result<Self> {
        if feature_names.len() != x.ncols() {
            return Err(Error::Shape {
                name: "feature_names",
                expected: x.ncols(),
                got: feature_names.len(),
            });
        }
        // A contamination rule scores the rows anyway; otherwise keep their fingerprint.
        let wants_fingerprint = matches!(params.threshold(), Threshold::Score(_));
        let fitted = params.fit_scored(x, wants_fingerprint)?;
        let forest = fitted.forest;
        let (score_quantiles, pending) = match fitted.scores {
            Some(s) => (summary_quantiles(s.to_vec()), None),
            None => (Vec::new(), fitted.fingerprint),
        };
        let training = TrainingSummary {
            rows: x.nrows() as u64,
            score_quantiles,
            threshold: forest.threshold(),
        };
        Ok(Self {
            created_at,
            feature_names,
            training,
            forest,
            peer_groups: None,
            pending,
            checksum: OnceLock::new(),
        })
    }

    /// Whether the training summary has its score quantiles (always, except after a
    /// [`fit`](Self::fit) that did not score the training rows).
    pub fn is_summarized(&self) -> bool {
        self.pending.is_none()
    }

    /// Computes the training summary's score quantiles from `x`, which must be the rows the
    /// forest was fitted on, unchanged: [`Error::Shape`] (`rows`, `n_features`) when their
    /// shape differs, [`Error::InvalidField`] `x` when their values do. Does nothing when
    /// the summary is complete.
    pub fn summarize(&mut self, x: ArrayView2<'_, f64>) -> Result<()> {
        let Some(expected) = self.pending else {
            return Ok(());
        };
        if x.nrows() as u64 != self.training.rows {
            return Err(Error::Shape {
                name: "rows",
                expected: usize::try_from(self.training.rows).unwrap_or(usize::MAX),
                got: x.nrows(),
            });
        }
        if x.ncols() != self.forest.n_features() {
            return Err(Error::Shape {
                name: "n_features",
                expected: self.forest.n_features(),
                got: x.ncols(),
            });
        }
        if scan(&x, Scan::Fingerprint)? != expected {
            return Err(Error::InvalidField {
                field: "x".into(),
                reason:
                    "these are not the rows the forest was fitted on (were they changed after fit?)"
                        .into(),
            });
        }
        let scores = self.forest.score_samples(x)?;
        self.training.score_quantiles = summary_quantiles(scores.to_vec());
        self.pending = None;
        self.checksum = OnceLock::new();
        Ok(())
    }

    /// The checksum of the artifact's envelope (`sha256:<hex>`), which tells two models apart
    /// by content: for an artifact loaded with [`from_slice`](Self::from_slice), the verified
    /// checksum of that file (no second parse); otherwise the one [`to_json`](Self::to_json)
    /// writes, computed once and kept. Errors only if the payload cannot be serialised.
    pub fn checksum(&self) -> Result<&str> {
        if let Some(c) = self.checksum.get() {
            return Ok(c);
        }
        let payload = serde_json::to_string(&self.payload()?).map_err(decode)?;
        Ok(self.checksum.get_or_init(|| sha256_hex(payload.as_bytes())))
    }

    /// The fitted forest.
    pub fn forest(&self) -> &IsolationForest {
        &self.forest
    }
    /// Feature names, one per column the forest scores.
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }
    /// What the model saw in training.
    pub fn training(&self) -> &TrainingSummary {
        &self.training
    }
    /// When the model was trained.
    pub fn created_at(&self) -> OffsetDateTime {
        self.created_at
    }

    /// The fleet's peer groups, when the model carries them.
    pub fn peer_groups(&self) -> Option<&PeerGroups> {
        self.peer_groups.as_ref()
    }

    /// Attaches (or removes) the fleet's peer groups; they are part of the content and the
    /// checksum.
    pub fn set_peer_groups(&mut self, groups: Option<PeerGroups>) {
        self.peer_groups = groups;
        self.checksum = OnceLock::new();
    }

    /// Replaces the decision threshold, e.g. one chosen on held-out data after training; it
    /// must be in (0, 1) (the error names `threshold`). The summary records it as the chosen
    /// threshold, so the file says which threshold the model is used with.
    pub fn set_threshold(&mut self, threshold: f64) -> Result<()> {
        self.forest.set_threshold(threshold)?;
        self.training.threshold = threshold;
        self.checksum = OnceLock::new(); // the content changed
        Ok(())
    }

    fn payload(&self) -> Result<Payload> {
        if self.pending.is_some() {
            return Err(Error::InvalidField {
                field: "training.score_quantiles".into(),
                reason:
                    "not computed yet: summarize the model with its training rows before writing it"
                        .into(),
            });
        }
        let p = self.forest.params();
        Ok(Payload {
            kind: KIND.to_owned(),
            created_at: self.created_at.format(&Rfc3339).map_err(decode)?,
            hyperparameters: Hyperparameters {
                n_trees: p.n_trees(),
                max_samples: p.max_samples(),
                max_features: p.max_features(),
                bootstrap: p.bootstrap(),
                threshold: p.threshold(),
                seed: p.seed(),
            },
            feature_names: self.feature_names.clone(),
            n_features: self.forest.n_features(),
            samples_per_tree: self.forest.samples_per_tree(),
            threshold: self.forest.threshold(),
            training: self.training.clone(),
            trees: self
                .forest
                .tree_parts()
                .into_iter()
                .map(|t| TreeData {
                    feature: t.feature,
                    threshold: t.threshold,
                    leaf_size: t.leaf_size,
                })
                .collect(),
            peer_groups: self.peer_groups.clone(),
        })
    }

    /// The artifact as JSON (compact; the checksum covers the payload).
    pub fn to_json(&self) -> Result<String> {
        let payload = serde_json::to_string(&self.payload()?).map_err(decode)?;
        let checksum = sha256_hex(payload.as_bytes());
        let _ = self.checksum.set(checksum.clone());
        let raw = RawValue::from_string(payload).map_err(decode)?;
        serde_json::to_string(&EnvelopeOut {
            format_version: FORMAT_VERSION,
            checksum,
            payload: &raw,
        })
        .map_err(decode)
    }

    /// Loads an artifact, refusing inputs over [`DEFAULT_MAX_BYTES`].
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        Self::from_slice_with_limit(bytes, DEFAULT_MAX_BYTES)
    }

    /// Loads an artifact of at most `max_bytes`. Errors: [`Error::ArtifactTooLarge`],
    /// [`Error::ArtifactVersion`] (written by a newer build), [`Error::ArtifactChecksum`]
    /// (edited or corrupted), [`Error::Decode`] (truncated, malformed, inconsistent trees).
    pub fn from_slice_with_limit(bytes: &[u8], max_bytes: u64) -> Result<Self> {
        if bytes.len() as u64 > max_bytes {
            return Err(Error::ArtifactTooLarge {
                size: bytes.len() as u64,
                limit: max_bytes,
            });
        }
        let env: EnvelopeIn<'_> = serde_json::from_slice(bytes).map_err(json_error)?;
        if env.format_version > FORMAT_VERSION {
            return Err(Error::ArtifactVersion {
                found: env.format_version,
                supported: FORMAT_VERSION,
            });
        }
        if env.format_version == 0 {
            return Err(decode("format_version 0 does not exist"));
        }
        let expected = env
            .checksum
            .ok_or_else(|| decode("missing field `checksum`"))?;
        let raw = env
            .payload
            .ok_or_else(|| decode("missing field `payload`"))?;
        let payload: Payload = serde_json::from_str(raw.get()).map_err(json_error)?;
        // Fast path: the payload bytes as written; else the canonical re-serialisation
        // (the file may have been re-indented).
        let mut actual = sha256_hex(raw.get().as_bytes());
        if actual != expected {
            actual = sha256_hex(&serde_json::to_vec(&payload).map_err(decode)?);
        }
        if actual != expected {
            return Err(Error::ArtifactChecksum { expected, actual });
        }
        let artifact = Self::from_payload(payload)?;
        let _ = artifact.checksum.set(expected);
        Ok(artifact)
    }

    /// Loads an artifact from a string (see [`from_slice`](Self::from_slice)).
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(s: &str) -> Result<Self> {
        Self::from_slice(s.as_bytes())
    }

    fn from_payload(p: Payload) -> Result<Self> {
        if p.kind != KIND {
            return Err(decode(format!("unknown model kind {:?}", p.kind)));
        }
        let created_at = OffsetDateTime::parse(&p.created_at, &Rfc3339)
            .map_err(|e| decode(format!("created_at: {e}")))?;
        let h = p.hyperparameters;
        let mut builder = IsolationForestParams::new()
            .n_trees(h.n_trees)
            .bootstrap(h.bootstrap)
            .seed(h.seed);
        builder = match h.max_features {
            MaxFeatures::Fraction(f) => builder.max_features(f),
            MaxFeatures::Count(c) => builder.max_features_count(c),
        };
        builder = match h.max_samples {
            MaxSamples::Count(c) => builder.max_samples(c),
            MaxSamples::Fraction(f) => builder.max_samples_fraction(f),
        };
        builder = match h.threshold {
            Threshold::Score(s) => builder.threshold(s),
            Threshold::Contamination(c) => builder.contamination(c),
        };
        let params = builder.check()?;
        if p.feature_names.len() != p.n_features {
            return Err(decode(format!(
                "{} feature names for {} features",
                p.feature_names.len(),
                p.n_features
            )));
        }
        if !(p.threshold > 0.0 && p.threshold < 1.0) {
            return Err(decode(format!("threshold {} not in (0, 1)", p.threshold)));
        }
        if let Some(groups) = &p.peer_groups {
            groups.check()?;
        }
        let trees: Vec<TreeParts> = p
            .trees
            .into_iter()
            .map(|t| TreeParts {
                feature: t.feature,
                threshold: t.threshold,
                leaf_size: t.leaf_size,
            })
            .collect();
        let forest = IsolationForest::from_parts(
            params,
            p.n_features,
            p.samples_per_tree,
            p.threshold,
            &trees,
        )?;
        Ok(Self {
            created_at,
            feature_names: p.feature_names,
            training: p.training,
            forest,
            peer_groups: p.peer_groups,
            pending: None,
            checksum: OnceLock::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, Axis, ShapeBuilder, Slice};

    fn envelope_checksum(json: &str) -> String {
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        v["checksum"].as_str().unwrap().to_owned()
    }

    fn model() -> ModelArtifact {
        let x = Array2::from_shape_fn((120, 3), |(i, j)| ((i * (j + 2)) % 23) as f64);
        let p = IsolationForestParams::new()
            .n_trees(5)
            .max_samples(32)
            .seed(9)
            .check()
            .unwrap();
        let names = ["a", "b", "c"].map(String::from).to_vec();
        ModelArtifact::train(&p, x.view(), names, OffsetDateTime::UNIX_EPOCH).unwrap()
    }

    #[test]
    fn summary_quantiles_select_what_a_sort_gives() {
        let mut state = 7u64;
        for n in [1usize, 2, 3, 7, 10, 1001, 4096] {
            let v: Vec<f64> = (0..n)
                .map(|_| {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    // few distinct values: ties
                    ((state >> 40) % 97) as f64 / 97.0
                })
                .collect();
            let got = summary_quantiles(v.clone());
            for (g, &q) in got.iter().zip(&SUMMARY_QUANTILES) {
                assert_eq!(g.q, q);
                assert_eq!(g.score, crate::forest::quantile(&v, q), "n {n} q {q}");
            }
        }
        assert!(summary_quantiles(Vec::new())
            .iter()
            .all(|q| q.score.is_nan()));
    }

    #[test]
    fn fit_leaves_the_summary_to_summarize_with_the_same_rows() {
        let x = Array2::from_shape_fn((120, 3), |(i, j)| ((i * (j + 2)) % 23) as f64);
        let p = IsolationForestParams::new()
            .n_trees(5)
            .max_samples(32)
            .seed(9)
            .check()
            .unwrap();
        let names = ["a", "b", "c"].map(String::from).to_vec();
        let mut m = ModelArtifact::fit(&p, x.view(), names, OffsetDateTime::UNIX_EPOCH).unwrap();
        assert!(!m.is_summarized());
        assert!(m.training().score_quantiles.is_empty());
        assert!(matches!(
            m.to_json(),
            Err(Error::InvalidField { ref field, .. }) if field == "training.score_quantiles"
        ));
        assert!(m.checksum().is_err());
        // Other rows, or the same rows edited, are refused.
        assert!(matches!(
            m.summarize(x.slice_axis(Axis(0), Slice::from(..119))),
            Err(Error::Shape {
                name: "rows",
                expected: 120,
                got: 119
            })
        ));
        let mut edited = x.clone();
        edited[[60, 1]] += 1.0;
        assert!(matches!(
            m.summarize(edited.view()),
            Err(Error::InvalidField { ref field, .. }) if field == "x"
        ));
        // The same rows in another memory layout are the same rows.
        let mut fortran = Array2::zeros(x.dim().f());
        fortran.assign(&x);
        m.summarize(fortran.view()).unwrap();
        assert!(m.is_summarized());
        assert_eq!(m, model()); // what train gives
        assert_eq!(m.to_json().unwrap(), model().to_json().unwrap());
    }

    #[test]
    fn a_contamination_fit_summarizes_from_the_scores_it_took() {
        let x = Array2::from_shape_fn((300, 2), |(i, j)| ((i * (j + 3)) % 31) as f64);
        let p = IsolationForestParams::new()
            .n_trees(7)
            .contamination(0.05)
            .seed(1)
            .check()
            .unwrap();
        let names = ["a", "b"].map(String::from).to_vec();
        let fitted =
            ModelArtifact::fit(&p, x.view(), names.clone(), OffsetDateTime::UNIX_EPOCH).unwrap();
        assert!(fitted.is_summarized());
        let trained =
            ModelArtifact::train(&p, x.view(), names, OffsetDateTime::UNIX_EPOCH).unwrap();
        assert_eq!(fitted, trained);
    }

    #[test]
    fn checksum_is_the_envelopes_whether_trained_or_loaded() {
        let m = model();
        // Computed before any to_json, then checked against what to_json writes.
        let computed = m.checksum().unwrap().to_owned();
        let json = m.to_json().unwrap();
        assert_eq!(computed, envelope_checksum(&json));
        assert!(computed.starts_with("sha256:") && computed.len() == 7 + 64);

        // Loaded from a re-indented file: the file's (verified) checksum.
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let pretty = serde_json::to_string_pretty(&v).unwrap();
        let back = ModelArtifact::from_str(&pretty).unwrap();
        assert_eq!(back.checksum().unwrap(), computed);
        assert_eq!(back, m);

        // A changed threshold is a different model: a new checksum, the one to_json writes.
        let mut changed = back.clone();
        changed.set_threshold(0.61).unwrap();
        let new = changed.checksum().unwrap().to_owned();
        assert_ne!(new, computed);
        assert_eq!(new, envelope_checksum(&changed.to_json().unwrap()));
    }
}
