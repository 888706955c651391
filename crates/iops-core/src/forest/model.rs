//! The fitted forest: every tree's nodes in one flat array, scored without branches on the
//! path (leaves loop onto themselves, so every tree takes the same number of steps). Trees of
//! height ≤ 8 (the default ψ = 256) are also kept in the faster complete layout
//! ([`super::complete`]), which scoring uses when present; both give identical scores.

use ndarray::{Array1, ArrayView2, Axis, Slice};
use rayon::prelude::*;

use super::complete::CompleteTrees;
use super::params::{IsolationForestValidParams, MaxSamples, Threshold};
use super::rows::{check_row, scan, Scan};
use super::tree::{average_path_length, grow, tree_seeds, GrownNode};
use crate::{Error, Result};

/// Trees walked side by side for one row: independent chains keep the CPU busy.
const LANES: usize = 8;
/// Rows per parallel work item in batch scoring.
const ROWS_PER_TASK: usize = 2048;
/// Deepest tree accepted (a height limit of 63 needs ψ ≥ 2^62 rows).
pub(crate) const MAX_DEPTH: u32 = 64;
/// One node as the scorer reads it. A leaf has `threshold = +inf` and `left` = itself, so
/// `next = left + (x[feature] > threshold)` stays on it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Node {
    pub threshold: f64,
    pub feature: u32,
    pub left: u32,
}

/// A tree as stored in an artifact: breadth-first, children of the j-th internal node at
/// 2j+1 and 2j+2 (so no child indices are stored).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TreeParts {
    /// Split feature per node, `None` for leaves.
    pub feature: Vec<Option<u32>>,
    /// Thresholds of the internal nodes, in node order.
    pub threshold: Vec<f64>,
    /// Training rows per leaf, in node order.
    pub leaf_size: Vec<u32>,
}

/// An isolation forest (Liu, Ting & Zhou 2008) fitted on rows of `f64` features.
///
/// Scores are the paper's `s(x) = 2^(-E[h(x)] / c(ψ))` in (0, 1]: higher is more anomalous
/// (scikit-learn's `-score_samples`); about 0.5 and below is normal.
///
/// Scoring casts each row to `f32` first, as scikit-learn does: a split sends `x` left when
/// `f64::from(x as f32) <= threshold`. (Values beyond `f32`'s range become ±inf and go to
/// the outermost side; the `f64` input must still be finite.)
///
/// ```
/// use iops_core::forest::IsolationForestParams;
/// use iops_core::ParamGuard;
/// use ndarray::{array, Array2};
///
/// // 200 ordinary points on a grid and one far away.
/// let mut x = Array2::from_shape_fn((201, 2), |(i, j)| ((i * (j + 3)) % 17) as f64);
/// x.row_mut(200).assign(&array![60.0, -40.0]);
/// let forest = IsolationForestParams::new().seed(42).check()?.fit(x.view())?;
/// let scores = forest.score_samples(x.view())?;
/// assert!(scores[200] > 0.6 && scores[0] < 0.6);
/// assert_eq!(forest.score_one(&[60.0, -40.0])?, scores[200]);
/// # Ok::<(), iops_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct IsolationForest {
    params: IsolationForestValidParams,
    n_features: usize,
    psi: usize,
    c_psi: f64,
    threshold: f64,
    /// All trees' nodes, plus one padding leaf at the end (path length 0).
    nodes: Vec<Node>,
    /// Path length credited on reaching each leaf: depth + c(leaf size); 0 for inner nodes.
    leaf_path: Vec<f64>,
    /// Training rows per node (kept for the artifact and attribution).
    size: Vec<u32>,
    roots: Vec<u32>,
    /// Steps every walk takes: the depth of the deepest leaf.
    steps: u32,
    /// The fast layout of the same trees, when they fit it (height ≤ 8, ≤ 256 features).
    complete: Option<CompleteTrees>,
}

impl IsolationForestValidParams {
    /// Fits a forest on the rows of `x` (at least 1 row, 1 feature, all finite). The trees
    /// are scikit-learn 1.9.1's: for a seed below 2^32 they equal those of
    /// `IsolationForest(n_estimators, max_samples, max_features, bootstrap,
    /// random_state=seed).fit(x)` (features cast to `f32` as scikit-learn does; see the
    /// `tree` module for the one rule left out). Trees grow in parallel; the result depends
    /// only on the seed. Only a contamination rule scores the training rows.
    pub fn fit(&self, x: ArrayView2<'_, f64>) -> Result<IsolationForest> {
        self.fit_scored(x, false).map(|f| f.forest)
    }

    /// [`fit`](Self::fit), plus the training rows' scores when the threshold rule computed
    /// them (a contamination rule), so callers that need them do not score twice, and with
    /// `fingerprint` the rows' fingerprint, taken in the same pass as the finite check.
    pub(crate) fn fit_scored(&self, x: ArrayView2<'_, f64>, fingerprint: bool) -> Result<Fitted> {
        let (n, d) = x.dim();
        if n < 1 {
            return Err(Error::Shape {
                name: "rows",
                expected: 1,
                got: n,
            });
        }
        if d == 0 || d > u32::MAX as usize {
            return Err(Error::Shape {
                name: "n_features",
                expected: 1,
                got: d,
            });
        }
        if n > u32::MAX as usize {
            return Err(Error::Shape {
                name: "rows",
                expected: u32::MAX as usize,
                got: n,
            });
        }
        let fingerprint = if fingerprint {
            Some(scan(&x, Scan::CheckAndFingerprint)?)
        } else {
            scan(&x, Scan::Check)?;
            None
        };
        let psi = self.max_samples().resolve(n);
        if psi == 0 {
            // scikit-learn fails here too (a tree with no rows)
            let value = match self.max_samples() {
                MaxSamples::Fraction(f) => f,
                MaxSamples::Count(c) => c as f64,
            };
            return Err(Error::param(
                "max_samples",
                value,
                "selects no rows: max_samples * rows must be at least 1",
            ));
        }
        let height_limit = (psi.max(2) as f64).log2().ceil() as u32;
        let n_split = self.max_features().resolve(d)?;
        let bootstrap = self.bootstrap();
        // scikit-learn draws every tree's seed up front from one stream; each tree's growth
        // then depends only on its seed, so trees grow in parallel.
        let seeds = tree_seeds(self.seed(), self.n_trees());
        let trees: Vec<Vec<GrownNode>> = seeds
            .into_par_iter()
            .map(|s| grow(&x, psi, bootstrap, n_split, height_limit, s))
            .collect();
        let mut forest = IsolationForest::assemble(self.clone(), d, psi, &trees, 0.5)?;
        let scores = match self.threshold() {
            Threshold::Score(s) => {
                forest.threshold = s;
                None
            }
            Threshold::Contamination(c) => {
                let scores = forest.score_samples(x)?;
                forest.threshold = quantile(scores.as_slice().unwrap_or(&[]), 1.0 - c);
                Some(scores)
            }
        };
        Ok(Fitted {
            forest,
            scores,
            fingerprint,
        })
    }
}

/// What [`IsolationForestValidParams::fit_scored`] gives.
pub(crate) struct Fitted {
    pub forest: IsolationForest,
    /// The training rows' scores, when the threshold rule needed them.
    pub scores: Option<Array1<f64>>,
    /// The training rows' fingerprint ([`scan`]), when asked for.
    pub fingerprint: Option<u64>,
}

/// Linear-interpolation quantile (numpy's default) of `xs` at `q` in [0, 1]; NaN when empty.
pub fn quantile(xs: &[f64], q: f64) -> f64 {
    let mut v: Vec<f64> = xs.to_vec();
    v.sort_by(f64::total_cmp);
    quantile_sorted(&v, q)
}

/// [`quantile`] of an already sorted slice.
pub(crate) fn quantile_sorted(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let pos = q.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let (a, b) = (
        v.get(lo).copied().unwrap_or(f64::NAN),
        v.get(hi).copied().unwrap_or(f64::NAN),
    );
    a + (b - a) * (pos - lo as f64)
}

impl IsolationForest {
    /// Builds the flat scorer from grown trees (breadth-first, local child indices).
    pub(crate) fn assemble(
        params: IsolationForestValidParams,
        n_features: usize,
        psi: usize,
        trees: &[Vec<GrownNode>],
        threshold: f64,
    ) -> Result<Self> {
        let total: usize = trees.iter().map(Vec::len).sum::<usize>() + 1;
        if total > u32::MAX as usize {
            return Err(Error::param(
                "n_trees",
                trees.len(),
                "too many nodes in total",
            ));
        }
        let mut nodes = Vec::with_capacity(total);
        let mut leaf_path = Vec::with_capacity(total);
        let mut size = Vec::with_capacity(total);
        let mut roots = Vec::with_capacity(trees.len());
        let mut steps = 0;
        for tree in trees {
            let base = nodes.len() as u32;
            roots.push(base);
            for (i, n) in tree.iter().enumerate() {
                let me = base + i as u32;
                if n.left == 0 {
                    nodes.push(Node {
                        threshold: f64::INFINITY,
                        feature: 0,
                        left: me,
                    });
                    leaf_path.push(f64::from(n.depth) + average_path_length(n.size as usize));
                    steps = steps.max(n.depth);
                } else {
                    nodes.push(Node {
                        threshold: n.threshold,
                        feature: n.feature,
                        left: base + n.left,
                    });
                    leaf_path.push(0.0);
                }
                size.push(n.size);
            }
        }
        let pad = nodes.len() as u32;
        nodes.push(Node {
            threshold: f64::INFINITY,
            feature: 0,
            left: pad,
        });
        leaf_path.push(0.0);
        size.push(0);
        Ok(Self {
            params,
            n_features,
            psi,
            c_psi: average_path_length(psi),
            threshold,
            nodes,
            leaf_path,
            size,
            roots,
            steps,
            complete: CompleteTrees::build(trees, n_features),
        })
    }

    /// The parameters the forest was fitted with.
    pub fn params(&self) -> &IsolationForestValidParams {
        &self.params
    }
    /// Number of features a row must have.
    pub fn n_features(&self) -> usize {
        self.n_features
    }
    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.roots.len()
    }
    /// Rows each tree was grown on (ψ).
    pub fn samples_per_tree(&self) -> usize {
        self.psi
    }
    /// Total number of nodes over all trees.
    pub fn n_nodes(&self) -> usize {
        self.nodes.len().saturating_sub(1)
    }
    /// Score above which [`predict`](Self::predict) calls a row anomalous.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }
    /// Replaces the decision threshold (e.g. one chosen on validation data); must be in (0, 1).
    pub fn set_threshold(&mut self, threshold: f64) -> Result<()> {
        if !(threshold > 0.0 && threshold < 1.0) {
            return Err(Error::param("threshold", threshold, "must be in (0, 1)"));
        }
        self.threshold = threshold;
        Ok(())
    }

    /// Sum over trees of the path length of `x` (`x.len() == n_features`, finite).
    #[inline]
    fn path_sum(&self, x: &[f64]) -> f64 {
        let pad = self.nodes.len() as u32 - 1;
        let mut total = 0.0;
        for roots in self.roots.chunks(LANES) {
            let mut idx = [pad; LANES];
            for (slot, &r) in idx.iter_mut().zip(roots) {
                *slot = r;
            }
            for _ in 0..self.steps {
                for i in idx.iter_mut() {
                    // Indices and features are in range by construction; get() keeps a bad
                    // index (impossible) from panicking: it would park on the padding leaf.
                    let n = self.nodes.get(*i as usize).copied().unwrap_or(Node {
                        threshold: f64::INFINITY,
                        feature: 0,
                        left: pad,
                    });
                    // The scoring semantic: the row is cast to f32 (see the type's docs).
                    let v = x.get(n.feature as usize).map_or(0.0, |&v| v as f32);
                    *i = n.left + u32::from(f64::from(v) > n.threshold);
                }
            }
            for &i in &idx {
                total += self.leaf_path.get(i as usize).copied().unwrap_or(0.0);
            }
        }
        total
    }

    #[inline]
    fn normalise(&self, path_sum: f64) -> f64 {
        if self.c_psi == 0.0 {
            // ψ = 1: every tree is one leaf and c(1) = 0; scikit-learn scores 0.5 (2^-1).
            return 0.5;
        }
        let mean = path_sum / self.roots.len() as f64;
        (-mean / self.c_psi).exp2()
    }

    /// Anomaly score of one row, without allocating. Errors on a wrong length
    /// ([`Error::Shape`] `n_features`) or a non-finite value ([`Error::NonFinite`]).
    pub fn score_one(&self, x: &[f64]) -> Result<f64> {
        Ok(self.normalise(self.sum_one(x)?))
    }

    /// The row's path lengths summed over the trees in order (see [`score_one`](Self::score_one)
    /// for the errors).
    pub(crate) fn sum_one(&self, x: &[f64]) -> Result<f64> {
        if x.len() != self.n_features {
            return Err(Error::Shape {
                name: "n_features",
                expected: self.n_features,
                got: x.len(),
            });
        }
        check_row(0, x.iter().copied())?;
        Ok(match &self.complete {
            Some(c) => c.path_sum(x),
            None => self.path_sum(x),
        })
    }

    /// Anomaly scores of every row of `x`, in parallel. Identical to [`score_one`](Self::score_one)
    /// row by row.
    pub fn score_samples(&self, x: ArrayView2<'_, f64>) -> Result<Array1<f64>> {
        self.batch(x, true)
    }

    /// Per-row path-length sums over the trees in order (`normalise`: scores instead), in
    /// parallel; errors as [`score_samples`](Self::score_samples).
    pub(crate) fn batch(&self, x: ArrayView2<'_, f64>, normalise: bool) -> Result<Array1<f64>> {
        let (n, d) = x.dim();
        if d != self.n_features {
            return Err(Error::Shape {
                name: "n_features",
                expected: self.n_features,
                got: d,
            });
        }
        let mut out = vec![0.0; n];
        out.par_chunks_mut(ROWS_PER_TASK).enumerate().try_for_each(
            |(chunk, out)| -> Result<()> {
                let start = chunk * ROWS_PER_TASK;
                if let Some(c) = &self.complete {
                    let rows = x.slice_axis(Axis(0), Slice::from(start..start + out.len()));
                    for (k, row) in rows.outer_iter().enumerate() {
                        check_row(start + k, row.iter().copied())?;
                    }
                    c.path_sums(rows, out);
                    if normalise {
                        for o in out.iter_mut() {
                            *o = self.normalise(*o);
                        }
                    }
                    return Ok(());
                }
                let mut buf = vec![0.0; d];
                for (k, o) in out.iter_mut().enumerate() {
                    let r = start + k;
                    let row = x.row(r);
                    let slice = match row.as_slice() {
                        Some(s) => s,
                        None => {
                            for (b, &v) in buf.iter_mut().zip(row.iter()) {
                                *b = v;
                            }
                            &buf
                        }
                    };
                    check_row(r, slice.iter().copied())?;
                    let sum = self.path_sum(slice);
                    *o = if normalise { self.normalise(sum) } else { sum };
                }
                Ok(())
            },
        )?;
        Ok(Array1::from_vec(out))
    }

    /// `score - threshold` per row: positive means anomalous.
    pub fn decision_function(&self, x: ArrayView2<'_, f64>) -> Result<Array1<f64>> {
        Ok(self.score_samples(x)? - self.threshold)
    }

    /// True for rows whose score is above the threshold.
    pub fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Array1<bool>> {
        Ok(self.score_samples(x)?.mapv(|s| s > self.threshold))
    }

    /// Depth of every node (the root is 0), in node order.
    pub(crate) fn node_depths(&self) -> Vec<u32> {
        let mut depth = vec![0u32; self.nodes.len()];
        for (i, n) in self.nodes.iter().enumerate() {
            if n.left as usize != i {
                let d = depth.get(i).copied().unwrap_or(0) + 1;
                for c in [n.left as usize, n.left as usize + 1] {
                    if let Some(slot) = depth.get_mut(c) {
                        *slot = d;
                    }
                }
            }
        }
        depth
    }

    /// Flat node indices of the leaves in artifact order (tree by tree, breadth first).
    pub(crate) fn leaf_nodes(&self) -> Vec<usize> {
        let pad = self.nodes.len().saturating_sub(1);
        (0..pad)
            .filter(|&i| self.nodes.get(i).is_some_and(|n| n.left as usize == i))
            .collect()
    }

    /// Training rows that reached flat node `i`.
    pub(crate) fn node_size(&self, i: usize) -> u32 {
        self.size.get(i).copied().unwrap_or(0)
    }

    /// A copy of this forest whose path length credited at each leaf is `value[i]` (per flat
    /// node, inner nodes ignored) instead of depth + c(size), in both layouts.
    ///
    /// The copy only scores (it has no node sizes: do not make an artifact of it).
    pub(crate) fn with_leaf_values(&self, value: &[f64]) -> Self {
        let pad = self.nodes.len().saturating_sub(1);
        let leaf_path = (0..self.nodes.len())
            .map(|i| {
                let is_leaf = i < pad && self.nodes.get(i).is_some_and(|n| n.left as usize == i);
                if is_leaf {
                    value.get(i).copied().unwrap_or(0.0)
                } else {
                    0.0
                }
            })
            .collect();
        let complete = self.complete.as_ref().and_then(|_| {
            let roots = &self.roots;
            CompleteTrees::build_with(&self.grown_trees(), self.n_features, |t, i| {
                let flat = roots.get(t).map_or(usize::MAX, |&r| r as usize + i);
                value.get(flat).copied().unwrap_or(0.0)
            })
        });
        Self {
            params: self.params.clone(),
            n_features: self.n_features,
            psi: self.psi,
            c_psi: self.c_psi,
            threshold: self.threshold,
            nodes: self.nodes.clone(),
            leaf_path,
            size: Vec::new(),
            roots: self.roots.clone(),
            steps: self.steps,
            complete,
        }
    }

    /// The trees as grown nodes (local indices), rebuilt from the flat layout.
    fn grown_trees(&self) -> Vec<Vec<GrownNode>> {
        let depth = self.node_depths();
        let end = self.nodes.len().saturating_sub(1);
        let mut out = Vec::with_capacity(self.roots.len());
        for (t, &start) in self.roots.iter().enumerate() {
            let start = start as usize;
            let stop = self.roots.get(t + 1).map_or(end, |&r| r as usize);
            let tree = (start..stop)
                .map(|i| {
                    let n = self.nodes.get(i).copied().unwrap_or(Node {
                        threshold: f64::INFINITY,
                        feature: 0,
                        left: i as u32,
                    });
                    let leaf = n.left as usize == i;
                    GrownNode {
                        feature: n.feature,
                        threshold: if leaf { 0.0 } else { n.threshold },
                        left: if leaf { 0 } else { n.left - start as u32 },
                        size: self.node_size(i),
                        depth: depth.get(i).copied().unwrap_or(0),
                    }
                })
                .collect();
            out.push(tree);
        }
        out
    }

    /// The trees in artifact form (breadth-first, implicit children).
    pub(crate) fn tree_parts(&self) -> Vec<TreeParts> {
        let mut out = Vec::with_capacity(self.roots.len());
        let ends: Vec<usize> = self
            .roots
            .iter()
            .skip(1)
            .map(|&r| r as usize)
            .chain(std::iter::once(self.nodes.len() - 1))
            .collect();
        for (&start, &end) in self.roots.iter().zip(&ends) {
            let mut parts = TreeParts {
                feature: Vec::new(),
                threshold: Vec::new(),
                leaf_size: Vec::new(),
            };
            for i in start as usize..end {
                let (Some(n), Some(&sz)) = (self.nodes.get(i), self.size.get(i)) else {
                    continue;
                };
                if n.left as usize == i {
                    parts.feature.push(None);
                    parts.leaf_size.push(sz);
                } else {
                    parts.feature.push(Some(n.feature));
                    parts.threshold.push(n.threshold);
                }
            }
            out.push(parts);
        }
        out
    }

    /// Rebuilds a forest from artifact trees, checking every structural invariant the scorer
    /// relies on (so a crafted file can never make it index out of range or loop).
    pub(crate) fn from_parts(
        params: IsolationForestValidParams,
        n_features: usize,
        psi: usize,
        threshold: f64,
        trees: &[TreeParts],
    ) -> Result<Self> {
        let bad = |reason: String| Error::Decode {
            what: "model artifact trees",
            reason,
        };
        if n_features == 0 || n_features > u32::MAX as usize {
            return Err(bad(format!("n_features {n_features} out of range")));
        }
        if !(1..=super::params::MAX_SAMPLES_LIMIT).contains(&psi) {
            return Err(bad(format!("samples_per_tree {psi} out of range")));
        }
        if trees.is_empty() || trees.len() != params.n_trees() {
            return Err(bad(format!(
                "{} trees, hyperparameters say {}",
                trees.len(),
                params.n_trees()
            )));
        }
        let mut grown = Vec::with_capacity(trees.len());
        for (t, tree) in trees.iter().enumerate() {
            let m = tree.feature.len();
            let internal = tree.feature.iter().filter(|f| f.is_some()).count();
            if m == 0 || m != 2 * internal + 1 {
                return Err(bad(format!("tree {t}: {m} nodes, {internal} splits")));
            }
            if tree.threshold.len() != internal || tree.leaf_size.len() != m - internal {
                return Err(bad(format!(
                    "tree {t}: threshold/leaf_size lengths do not match the splits"
                )));
            }
            let mut nodes = Vec::with_capacity(m);
            let (mut j, mut leaf) = (0usize, 0usize);
            for (i, f) in tree.feature.iter().enumerate() {
                // Depth comes from the parent, which (checked below) always precedes a child.
                let depth = nodes.get(i).map_or(0, |n: &GrownNode| n.depth);
                if i > 0 && i >= nodes.len() {
                    return Err(bad(format!("tree {t}: node {i} has no parent")));
                }
                if i == 0 {
                    nodes.push(GrownNode {
                        feature: 0,
                        threshold: 0.0,
                        left: 0,
                        size: 0,
                        depth: 0,
                    });
                }
                match f {
                    Some(feat) => {
                        let thr = tree.threshold.get(j).copied().unwrap_or(f64::NAN);
                        if (*feat as usize) >= n_features || !thr.is_finite() {
                            return Err(bad(format!("tree {t}: node {i} split out of range")));
                        }
                        let left = 2 * j + 1;
                        if left <= i || depth + 1 >= MAX_DEPTH {
                            return Err(bad(format!("tree {t}: node {i} children out of order")));
                        }
                        if let Some(n) = nodes.get_mut(i) {
                            n.feature = *feat;
                            n.threshold = thr;
                            n.left = left as u32;
                        }
                        for _ in 0..2 {
                            nodes.push(GrownNode {
                                feature: 0,
                                threshold: 0.0,
                                left: 0,
                                size: 0,
                                depth: depth + 1,
                            });
                        }
                        j += 1;
                    }
                    None => {
                        let sz = tree.leaf_size.get(leaf).copied().unwrap_or(0);
                        if sz == 0 || sz as usize > psi {
                            return Err(bad(format!("tree {t}: leaf {i} size {sz} out of range")));
                        }
                        if let Some(n) = nodes.get_mut(i) {
                            n.size = sz;
                        }
                        leaf += 1;
                    }
                }
            }
            if nodes.len() != m {
                return Err(bad(format!(
                    "tree {t}: node count does not match the splits"
                )));
            }
            // Inner node sizes are the sums of their children (children follow parents).
            for i in (0..m).rev() {
                let Some(n) = nodes.get(i).copied() else {
                    continue;
                };
                if n.left != 0 {
                    let l = n.left as usize;
                    let s = u64::from(nodes.get(l).map_or(0, |c| c.size))
                        + u64::from(nodes.get(l + 1).map_or(0, |c| c.size));
                    let s = s.min(u64::from(u32::MAX)) as u32;
                    if let Some(n) = nodes.get_mut(i) {
                        n.size = s;
                    }
                }
            }
            // A bootstrap tree holds the distinct rows of ψ draws: at most ψ.
            let root = nodes.first().map_or(0, |n| n.size as usize);
            let fits = if params.bootstrap() {
                (1..=psi).contains(&root)
            } else {
                root == psi
            };
            if !fits {
                return Err(bad(format!("tree {t}: leaf sizes do not add up to {psi}")));
            }
            grown.push(nodes);
        }
        Self::assemble(params, n_features, psi, &grown, threshold)
    }
}
