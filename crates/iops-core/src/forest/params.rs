//! Hyper-parameters of an [`IsolationForest`](super::IsolationForest): unchecked builder →
//! checked value, linfa style.

use serde::{Deserialize, Serialize};

use crate::{Error, ParamGuard, Result};

/// Largest accepted number of trees, so a typo cannot ask for gigabytes of nodes.
pub const MAX_TREES: usize = 100_000;
/// Largest accepted per-tree sample count (2^24): trees stay within `u32` node indices.
pub const MAX_SAMPLES_LIMIT: usize = 1 << 24;

/// How many rows each tree is grown on (ψ in the paper).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaxSamples {
    /// A row count, capped at the number of training rows (scikit-learn's int).
    Count(usize),
    /// A fraction of the training rows in (0, 1] (scikit-learn's float).
    Fraction(f64),
}

impl MaxSamples {
    /// The per-tree sample size ψ for `n_rows` training rows (at least 1 when `n_rows ≥ 1`).
    pub fn resolve(&self, n_rows: usize) -> usize {
        let psi = match *self {
            MaxSamples::Count(c) => c.min(n_rows),
            // scikit-learn: int(max_samples * n_samples)
            MaxSamples::Fraction(f) => ((f * n_rows as f64) as usize).min(n_rows),
        };
        psi.max(1).min(n_rows)
    }
}

/// When a score counts as anomalous (what [`predict`](super::IsolationForest::predict) uses).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Threshold {
    /// A fixed score in (0, 1); 0.5 is scikit-learn's `contamination="auto"`.
    Score(f64),
    /// The expected share of anomalies in the training data, in (0, 0.5]: the threshold is
    /// the training-score quantile at `1 - contamination`.
    Contamination(f64),
}

/// Checked parameters of an [`IsolationForest`](super::IsolationForest); obtain them with
/// [`ParamGuard::check`] on [`IsolationForestParams`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IsolationForestValidParams {
    n_trees: usize,
    max_samples: MaxSamples,
    max_features: f64,
    threshold: Threshold,
    seed: u64,
}

impl IsolationForestValidParams {
    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.n_trees
    }
    /// Rows per tree.
    pub fn max_samples(&self) -> MaxSamples {
        self.max_samples
    }
    /// Share of the features each tree may split on, in (0, 1].
    pub fn max_features(&self) -> f64 {
        self.max_features
    }
    /// The anomaly threshold rule.
    pub fn threshold(&self) -> Threshold {
        self.threshold
    }
    /// Seed of the random stream: scikit-learn's `random_state` (below 2^32; larger seeds
    /// seed numpy's MT19937 with the two 32-bit words, low first, as `RandomState([lo, hi])`).
    pub fn seed(&self) -> u64 {
        self.seed
    }
}

/// Unchecked parameters of an [`IsolationForest`](super::IsolationForest) (a builder;
/// setters take and return `self`).
///
/// Defaults (scikit-learn's): `n_trees = 100`, `max_samples = 256` (capped at the row count),
/// `max_features = 1.0`, `threshold = Score(0.5)`, `seed = 0`.
#[derive(Debug, Clone, PartialEq)]
pub struct IsolationForestParams(IsolationForestValidParams);

impl Default for IsolationForestParams {
    fn default() -> Self {
        Self(IsolationForestValidParams {
            n_trees: 100,
            max_samples: MaxSamples::Count(256),
            max_features: 1.0,
            threshold: Threshold::Score(0.5),
            seed: 0,
        })
    }
}

impl IsolationForestParams {
    /// Parameters with every default.
    pub fn new() -> Self {
        Self::default()
    }
    /// Number of trees (1 ..= 100 000).
    pub fn n_trees(mut self, n_trees: usize) -> Self {
        self.0.n_trees = n_trees;
        self
    }
    /// Rows per tree (≥ 2 and ≤ 2^24; capped at the training row count).
    pub fn max_samples(mut self, count: usize) -> Self {
        self.0.max_samples = MaxSamples::Count(count);
        self
    }
    /// Rows per tree as a fraction of the training rows, in (0, 1].
    pub fn max_samples_fraction(mut self, fraction: f64) -> Self {
        self.0.max_samples = MaxSamples::Fraction(fraction);
        self
    }
    /// Share of the features each tree may split on, in (0, 1].
    pub fn max_features(mut self, fraction: f64) -> Self {
        self.0.max_features = fraction;
        self
    }
    /// Expected share of anomalies in the training data, in (0, 0.5].
    pub fn contamination(mut self, contamination: f64) -> Self {
        self.0.threshold = Threshold::Contamination(contamination);
        self
    }
    /// Fixed score threshold in (0, 1).
    pub fn threshold(mut self, score: f64) -> Self {
        self.0.threshold = Threshold::Score(score);
        self
    }
    /// Seed of the random stream, scikit-learn's `random_state` (see
    /// [`IsolationForestValidParams::seed`]).
    pub fn seed(mut self, seed: u64) -> Self {
        self.0.seed = seed;
        self
    }
}

impl ParamGuard for IsolationForestParams {
    type Checked = IsolationForestValidParams;

    fn check_ref(&self) -> Result<&Self::Checked> {
        let p = &self.0;
        if p.n_trees == 0 || p.n_trees > MAX_TREES {
            return Err(Error::param("n_trees", p.n_trees, "must be in 1..=100000"));
        }
        match p.max_samples {
            MaxSamples::Count(c) if !(2..=MAX_SAMPLES_LIMIT).contains(&c) => {
                return Err(Error::param("max_samples", c, "must be in 2..=16777216"));
            }
            MaxSamples::Fraction(f) if !(f > 0.0 && f <= 1.0) => {
                return Err(Error::param("max_samples", f, "fraction must be in (0, 1]"));
            }
            _ => {}
        }
        if !(p.max_features > 0.0 && p.max_features <= 1.0) {
            return Err(Error::param(
                "max_features",
                p.max_features,
                "must be in (0, 1]",
            ));
        }
        match p.threshold {
            Threshold::Score(s) if !(s > 0.0 && s < 1.0) => {
                return Err(Error::param("threshold", s, "must be in (0, 1)"));
            }
            Threshold::Contamination(c) if !(c > 0.0 && c <= 0.5) => {
                return Err(Error::param("contamination", c, "must be in (0, 0.5]"));
            }
            _ => {}
        }
        Ok(p)
    }

    fn check(self) -> Result<Self::Checked> {
        self.check_ref()?;
        Ok(self.0)
    }
}
