//! Hyper-parameters of an [`IsolationForest`](super::IsolationForest): unchecked builder →
//! checked value, linfa style.

use serde::{Deserialize, Serialize};

use crate::{Error, ParamGuard, Result};

/// Largest accepted number of trees, so a typo cannot ask for gigabytes of nodes.
pub const MAX_TREES: usize = 100_000;
/// Largest accepted per-tree sample count (2^24): trees stay within `u32` node indices.
pub const MAX_SAMPLES_LIMIT: usize = 1 << 24;
/// Largest accepted feature count in [`MaxFeatures::Count`] (features are `u32` in trees).
pub const MAX_FEATURES_LIMIT: usize = u32::MAX as usize;

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
    /// The per-tree sample size ψ for `n_rows` training rows: a count capped at `n_rows`, or
    /// scikit-learn's `int(fraction * n_rows)`, which is 0 when the fraction selects less
    /// than one row (the fit refuses that, as scikit-learn does).
    pub fn resolve(&self, n_rows: usize) -> usize {
        match *self {
            MaxSamples::Count(c) => c.min(n_rows),
            MaxSamples::Fraction(f) => ((f * n_rows as f64) as usize).min(n_rows),
        }
    }
}

/// How many features each tree may split on (scikit-learn's `max_features`).
///
/// In model.json a fraction is a bare number (as every file before counts existed) and a
/// count is `{"count": k}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(from = "MaxFeaturesRepr", into = "MaxFeaturesRepr")]
pub enum MaxFeatures {
    /// A share of the features in (0, 1]: `max(1, int(fraction * n_features))` (a float
    /// `max_features` in scikit-learn).
    Fraction(f64),
    /// A feature count, at most the number of features (an int `max_features`).
    Count(usize),
}

/// The serialised form of [`MaxFeatures`].
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum MaxFeaturesRepr {
    Fraction(f64),
    Count { count: usize },
}

impl From<MaxFeaturesRepr> for MaxFeatures {
    fn from(r: MaxFeaturesRepr) -> Self {
        match r {
            MaxFeaturesRepr::Fraction(f) => MaxFeatures::Fraction(f),
            MaxFeaturesRepr::Count { count } => MaxFeatures::Count(count),
        }
    }
}

impl From<MaxFeatures> for MaxFeaturesRepr {
    fn from(m: MaxFeatures) -> Self {
        match m {
            MaxFeatures::Fraction(f) => MaxFeaturesRepr::Fraction(f),
            MaxFeatures::Count(count) => MaxFeaturesRepr::Count { count },
        }
    }
}

impl MaxFeatures {
    /// The features per tree for `n_features` columns (scikit-learn's bagging rule), or an
    /// [`Error::InvalidParam`] naming `max_features` when a count exceeds `n_features`.
    pub fn resolve(&self, n_features: usize) -> Result<usize> {
        match *self {
            MaxFeatures::Fraction(f) => Ok(((f * n_features as f64) as usize).max(1)),
            MaxFeatures::Count(c) if c > n_features => Err(Error::param(
                "max_features",
                c,
                "must be at most the number of features",
            )),
            MaxFeatures::Count(c) => Ok(c),
        }
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
    max_features: MaxFeatures,
    bootstrap: bool,
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
    /// Features each tree may split on.
    pub fn max_features(&self) -> MaxFeatures {
        self.max_features
    }
    /// Whether each tree's rows are drawn with replacement (scikit-learn's `bootstrap`).
    pub fn bootstrap(&self) -> bool {
        self.bootstrap
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
/// `max_features = 1.0`, `bootstrap = false`, `threshold = Score(0.5)`, `seed = 0`.
#[derive(Debug, Clone, PartialEq)]
pub struct IsolationForestParams(IsolationForestValidParams);

impl Default for IsolationForestParams {
    fn default() -> Self {
        Self(IsolationForestValidParams {
            n_trees: 100,
            max_samples: MaxSamples::Count(256),
            max_features: MaxFeatures::Fraction(1.0),
            bootstrap: false,
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
    /// Rows per tree (≥ 1 and ≤ 2^24; capped at the training row count). One row per tree
    /// makes every tree a single leaf: every score is 0.5, as in scikit-learn.
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
        self.0.max_features = MaxFeatures::Fraction(fraction);
        self
    }
    /// Number of features each tree may split on (≥ 1; the fit refuses more than the data
    /// has, as scikit-learn does).
    pub fn max_features_count(mut self, count: usize) -> Self {
        self.0.max_features = MaxFeatures::Count(count);
        self
    }
    /// Draws each tree's rows with replacement (scikit-learn's `bootstrap=True`): a tree
    /// grows on the distinct rows of `max_samples` draws.
    pub fn bootstrap(mut self, bootstrap: bool) -> Self {
        self.0.bootstrap = bootstrap;
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
            MaxSamples::Count(c) if !(1..=MAX_SAMPLES_LIMIT).contains(&c) => {
                return Err(Error::param("max_samples", c, "must be in 1..=16777216"));
            }
            MaxSamples::Fraction(f) if !(f > 0.0 && f <= 1.0) => {
                return Err(Error::param("max_samples", f, "fraction must be in (0, 1]"));
            }
            _ => {}
        }
        match p.max_features {
            MaxFeatures::Fraction(f) if !(f > 0.0 && f <= 1.0) => {
                return Err(Error::param("max_features", f, "must be in (0, 1]"));
            }
            MaxFeatures::Count(c) if !(1..=MAX_FEATURES_LIMIT).contains(&c) => {
                return Err(Error::param(
                    "max_features",
                    c,
                    "count must be in 1..=4294967295",
                ));
            }
            _ => {}
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
