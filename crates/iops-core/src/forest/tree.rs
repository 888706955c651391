//! Growing one isolation tree exactly as scikit-learn 1.9.1's `IsolationForest` does, so
//! the same seed gives the same trees (feature, threshold, children, node sizes).
//!
//! What scikit-learn does for tree `i` (seeds drawn by [`tree_seeds`]), and what [`grow`]
//! replicates step for step:
//! - `BaseBagging._make_estimator` → `_set_random_states`: the tree's own `random_state` is
//!   `RandomState(seeds[i]).randint(2^31 - 1)`;
//! - `_generate_bagging_indices` on a second, fresh `RandomState(seeds[i])`: the feature
//!   subset `sample_without_replacement(d, max_features)` (draws nothing when it is every
//!   feature), then the rows `sample_without_replacement(n, ψ)` (with `bootstrap`,
//!   `randint(0, n, ψ)`); rows become sample weights (their counts), and the splitter sees
//!   the rows of non-zero weight once each, in index order (node sizes count distinct rows);
//! - `ExtraTreeRegressor(splitter="random", max_features=1, max_depth=ceil(log2 ψ))`, fit on
//!   `float32` features: `Splitter.init` seeds `our_rand_r` with
//!   `RandomState(tree_seed).randint(0, RAND_R_MAX)`; the depth-first builder pops the left
//!   child first; `node_split_random` draws features Fisher–Yates style with the persistent
//!   `features` / `constant_features` bookkeeping (a feature is constant when
//!   `max <= min + 1e-7` in `float32`), the threshold `rand_uniform(min, max)` (replaced by
//!   `min` when it equals `max`), and sends `x <= threshold` left.
//!
//! One rule is not replicated: scikit-learn also makes a node a leaf when the variance of its
//! regression target is `<= f64::EPSILON`, and that target is `RandomState(seed).uniform`
//! noise over the rows (it only exists to make the regressor grow). Two distinct uniform
//! draws are that close with probability about 6e-8 per two-row node, so on the order of one
//! forest in a few thousand differs by one split; drawing and summing the noise would cost
//! more than the rest of the fit.

use ndarray::ArrayView2;

use super::sklearn_rng::{sample_without_replacement, Mt19937, RandR, RAND_R_MAX};

const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// c(n): the average path length of an unsuccessful search in a binary search tree of `n`
/// points, the paper's normaliser (scikit-learn's `_average_path_length`).
pub fn average_path_length(n: usize) -> f64 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = n as f64;
            2.0 * ((n - 1.0).ln() + EULER_GAMMA) - 2.0 * (n - 1.0) / n
        }
    }
}

/// One node of a grown tree, in breadth-first order. A leaf has `left == 0` (the root is
/// never a child, so 0 is free to mean "none"); the right child is `left + 1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct GrownNode {
    pub feature: u32,
    pub threshold: f64,
    pub left: u32,
    /// Training rows that reached the node (ψ at the root).
    pub size: u32,
    pub depth: u32,
}

/// numpy's `np.iinfo(np.int32).max`, the bound of every seed scikit-learn draws.
const MAX_INT: u64 = (1 << 31) - 1;
/// scikit-learn's `FEATURE_THRESHOLD` (a `float32` constant, added in `float32`).
const FEATURE_THRESHOLD: f32 = 1e-7;

/// Per-tree seeds as `BaseBagging._fit` draws them:
/// `RandomState(seed).randint(MAX_INT, size=n_trees)`.
pub(crate) fn tree_seeds(seed: u64, n_trees: usize) -> Vec<u32> {
    let mut rng = Mt19937::from_u64(seed);
    (0..n_trees).map(|_| rng.randint(MAX_INT) as u32).collect()
}

/// A node in the order scikit-learn's depth-first builder adds it.
struct DepthFirstNode {
    /// `(local feature, threshold, left child, right child)` of a split.
    split: Option<(usize, f64, usize, usize)>,
    size: u32,
    depth: u32,
}

/// A node waiting on the builder's stack: `samples[start..end]`, its parent (and whether it
/// is the left child) and the constant features its parent found.
struct Pending {
    start: usize,
    end: usize,
    depth: u32,
    parent: Option<(usize, bool)>,
    n_constant: usize,
}

/// scikit-learn's random splitter over one tree's sample (column-major `f32`).
struct Splitter<'a> {
    data: &'a [f32],
    psi: usize,
    samples: Vec<u32>,
    features: Vec<usize>,
    constant_features: Vec<usize>,
    rng: RandR,
}

impl Splitter<'_> {
    /// Min and max of local feature `f` over `samples[start..end]` (scikit-learn's
    /// `find_min_max`).
    fn min_max(&self, f: usize, start: usize, end: usize) -> (f32, f32) {
        let col = self
            .data
            .get(f * self.psi..(f + 1) * self.psi)
            .unwrap_or(&[]);
        let rows = self.samples.get(start..end).unwrap_or(&[]);
        let first = rows
            .first()
            .and_then(|&r| col.get(r as usize))
            .copied()
            .unwrap_or(0.0);
        let (mut min, mut max) = (first, first);
        for &r in rows {
            let v = col.get(r as usize).copied().unwrap_or(0.0);
            if v < min {
                min = v;
            } else if v > max {
                max = v;
            }
        }
        (min, max)
    }

    /// `partition_samples`: rows with `x <= threshold` to the front; returns the split point.
    fn partition(&mut self, f: usize, threshold: f64, start: usize, end: usize) -> usize {
        let col = self
            .data
            .get(f * self.psi..(f + 1) * self.psi)
            .unwrap_or(&[]);
        let (mut lo, mut hi) = (start, end);
        while lo < hi {
            let r = self.samples.get(lo).copied().unwrap_or(0);
            let v = col.get(r as usize).copied().unwrap_or(0.0);
            if f64::from(v) <= threshold {
                lo += 1;
            } else {
                hi -= 1;
                self.samples.swap(lo, hi);
            }
        }
        hi
    }

    /// `node_split_random` with `max_features = 1` on `samples[start..end]`, whose parent
    /// knew `n_known` constant features. Returns the split `(local feature, threshold,
    /// position)` if any, and the constant-feature count to hand to the children.
    fn split(
        &mut self,
        start: usize,
        end: usize,
        n_known: usize,
    ) -> (Option<(usize, f64, usize)>, usize) {
        let mut f_i = self.features.len();
        let (mut n_found, mut n_drawn, mut n_visited) = (0usize, 0usize, 0usize);
        let mut n_total = n_known;
        let mut best = None;
        while f_i > n_total && (n_visited < 1 || n_visited <= n_found + n_drawn) {
            n_visited += 1;
            let mut f_j = self.rng.rand_int(n_drawn, f_i - n_found);
            if f_j < n_known {
                // A constant feature already known from an ancestor: set aside, draw again.
                self.features.swap(n_drawn, f_j);
                n_drawn += 1;
                continue;
            }
            f_j += n_found;
            let feature = self.features.get(f_j).copied().unwrap_or(0);
            let (min, max) = self.min_max(feature, start, end);
            if max <= min + FEATURE_THRESHOLD {
                self.features.swap(f_j, n_total);
                n_found += 1;
                n_total += 1;
                continue;
            }
            f_i -= 1;
            self.features.swap(f_i, f_j);
            let (lo, hi) = (f64::from(min), f64::from(max));
            let mut threshold = self.rng.rand_uniform(lo, hi);
            if threshold == hi {
                threshold = lo;
            }
            let pos = self.partition(feature, threshold, start, end);
            if pos == start || pos == end {
                // min_samples_leaf = 1 (only when ±inf features make the threshold NaN)
                continue;
            }
            best = Some((feature, threshold, pos));
        }
        // The bookkeeping scikit-learn does after every split search.
        for i in 0..n_known {
            if let (Some(dst), Some(&src)) =
                (self.features.get_mut(i), self.constant_features.get(i))
            {
                *dst = src;
            }
        }
        for i in n_known..n_known + n_found {
            if let (Some(dst), Some(&src)) =
                (self.constant_features.get_mut(i), self.features.get(i))
            {
                *dst = src;
            }
        }
        (best, n_total)
    }
}

/// Grows the tree scikit-learn grows from `seeds[i]` (see [`tree_seeds`]) on `x` cast to
/// `f32`: `psi` rows (drawn with replacement when `bootstrap`), `n_split_features` features
/// per tree (scikit-learn's bagging `max_features`), at most `height_limit` deep.
pub(crate) fn grow(
    x: &ArrayView2<'_, f64>,
    psi: usize,
    bootstrap: bool,
    n_split_features: usize,
    height_limit: u32,
    tree_seed: u32,
) -> Vec<GrownNode> {
    let (n, d) = x.dim();
    let mut estimator_rng = Mt19937::new(tree_seed);
    let mut bagging_rng = estimator_rng.clone();
    let random_state = estimator_rng.randint(MAX_INT) as u32;
    let rand_r = Mt19937::new(random_state).randint(u64::from(RAND_R_MAX)) as u32;

    let k = n_split_features.clamp(1, d.max(1));
    let features = sample_without_replacement(&mut bagging_rng, d, k);
    let mut rows = if bootstrap {
        (0..psi)
            .map(|_| bagging_rng.randint(n as u64) as u32)
            .collect()
    } else {
        sample_without_replacement(&mut bagging_rng, n, psi)
    };
    rows.sort_unstable();
    rows.dedup();
    let psi = rows.len();
    // Column-major f32 copy of the sample (scikit-learn fits on float32).
    let mut data = vec![0.0f32; psi * k];
    for (c, &f) in features.iter().enumerate() {
        let col = x.column(f as usize);
        for (r, &row) in rows.iter().enumerate() {
            if let (Some(dst), Some(&v)) = (data.get_mut(c * psi + r), col.get(row as usize)) {
                *dst = v as f32;
            }
        }
    }
    let mut splitter = Splitter {
        data: &data,
        psi,
        samples: (0..psi as u32).collect(),
        features: (0..k).collect(),
        constant_features: vec![0; k],
        rng: RandR::new(rand_r),
    };

    // Depth-first, left child popped first, as scikit-learn's DepthFirstTreeBuilder.
    let mut nodes: Vec<DepthFirstNode> = Vec::with_capacity(2 * psi);
    let mut stack = vec![Pending {
        start: 0,
        end: psi,
        depth: 0,
        parent: None,
        n_constant: 0,
    }];
    while let Some(Pending {
        start,
        end,
        depth,
        parent,
        n_constant,
    }) = stack.pop()
    {
        let size = end - start;
        let (split, n_constant) = if depth >= height_limit || size < 2 {
            (None, n_constant)
        } else {
            splitter.split(start, end, n_constant)
        };
        let id = nodes.len();
        nodes.push(DepthFirstNode {
            split: split.map(|(f, t, _)| (f, t, 0, 0)),
            size: size as u32,
            depth,
        });
        if let Some((p, is_left)) = parent {
            if let Some(DepthFirstNode {
                split: Some((_, _, l, r)),
                ..
            }) = nodes.get_mut(p)
            {
                *(if is_left { l } else { r }) = id;
            }
        }
        if let Some((_, _, pos)) = split {
            for (start, end, is_left) in [(pos, end, false), (start, pos, true)] {
                stack.push(Pending {
                    start,
                    end,
                    depth: depth + 1,
                    parent: Some((id, is_left)),
                    n_constant,
                });
            }
        }
    }
    breadth_first(&nodes, |f| features.get(f).copied().unwrap_or(0))
}

/// Renumbers depth-first nodes breadth first (children adjacent), mapping local features to
/// the forest's columns.
fn breadth_first(nodes: &[DepthFirstNode], column: impl Fn(usize) -> u32) -> Vec<GrownNode> {
    let mut out = Vec::with_capacity(nodes.len());
    let mut order = Vec::with_capacity(nodes.len());
    if let Some(root) = nodes.first() {
        out.push(GrownNode {
            feature: 0,
            threshold: 0.0,
            left: 0,
            size: root.size,
            depth: root.depth,
        });
        order.push(0usize);
    }
    let mut next = 0;
    while let Some(&df) = order.get(next) {
        if let Some((f, t, l, r)) = nodes.get(df).and_then(|n| n.split) {
            let left = out.len() as u32;
            for c in [l, r] {
                let child = nodes.get(c);
                out.push(GrownNode {
                    feature: 0,
                    threshold: 0.0,
                    left: 0,
                    size: child.map_or(0, |n| n.size),
                    depth: child.map_or(0, |n| n.depth),
                });
                order.push(c);
            }
            if let Some(node) = out.get_mut(next) {
                node.feature = column(f);
                node.threshold = t;
                node.left = left;
            }
        }
        next += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_nodes_are_breadth_first_and_consistent() {
        let x = ndarray::Array2::from_shape_fn((500, 3), |(i, j)| ((i * 31 + j * 7) % 97) as f64);
        let nodes = grow(&x.view(), 256, false, 3, 8, tree_seeds(1, 1)[0]);
        assert_eq!(nodes.first().map(|n| n.size), Some(256));
        let mut internal = 0;
        for (i, n) in nodes.iter().enumerate() {
            if n.left != 0 {
                assert_eq!(n.left as usize, 2 * internal + 1, "node {i}");
                let (l, r) = (nodes[n.left as usize], nodes[n.left as usize + 1]);
                assert_eq!(l.size + r.size, n.size);
                assert!(l.size > 0 && r.size > 0);
                internal += 1;
            }
            assert!(n.depth <= 8);
        }
        assert_eq!(nodes.len(), 2 * internal + 1);
    }
}
