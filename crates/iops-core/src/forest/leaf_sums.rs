//! Sums of a caller-chosen value per leaf: the building block for scoring a forest with
//! someone else's arithmetic. iops' Python estimator uses it to give scikit-learn's
//! `score_samples` bit for bit: numpy computes each leaf's term (`depth + 1 + c(size) - 1`
//! with numpy's `log`), this sums the terms over the trees in scikit-learn's order, and numpy
//! takes the power (numpy's `log` and `power` can differ from the C library's in the last
//! bit, so only numpy reproduces numpy).

use ndarray::{Array1, ArrayView2};

use super::IsolationForest;
use crate::{Error, Result};

/// One leaf of a fitted tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leaf {
    /// Depth (the root is 0).
    pub depth: u32,
    /// Training rows that reached it (distinct rows, for a bootstrap tree).
    pub size: u32,
}

/// Per-row sums, over the trees in order, of a value given per leaf (built by
/// [`IsolationForest::leaf_sums`]). A row's sum starts at 0.0 and adds its leaf's value tree
/// after tree, so it equals `values[leaf of tree 0] + values[leaf of tree 1] + ...` evaluated
/// left to right.
#[derive(Debug, Clone, PartialEq)]
pub struct LeafSums {
    forest: IsolationForest,
}

impl IsolationForest {
    /// Every leaf, tree by tree in order, each tree's leaves breadth first (the order of
    /// model.json's `leaf_size`).
    pub fn leaves(&self) -> Vec<Leaf> {
        let depth = self.node_depths();
        self.leaf_nodes()
            .into_iter()
            .map(|i| Leaf {
                depth: depth.get(i).copied().unwrap_or(0),
                size: self.node_size(i),
            })
            .collect()
    }

    /// Sums of `values` (one finite value per leaf, in [`leaves`](Self::leaves) order) over
    /// the leaves each row reaches. Errors: [`Error::Shape`] `leaf_values` on a wrong length,
    /// [`Error::NonFinite`] naming the leaf.
    pub fn leaf_sums(&self, values: &[f64]) -> Result<LeafSums> {
        let leaves = self.leaf_nodes();
        if values.len() != leaves.len() {
            return Err(Error::Shape {
                name: "leaf_values",
                expected: leaves.len(),
                got: values.len(),
            });
        }
        let mut per_node = vec![0.0; self.n_nodes()];
        for (k, (&node, &v)) in leaves.iter().zip(values).enumerate() {
            crate::error::finite(&format!("leaf_values[{k}]"), v)?;
            if let Some(slot) = per_node.get_mut(node) {
                *slot = v;
            }
        }
        Ok(LeafSums {
            forest: self.with_leaf_values(&per_node),
        })
    }
}

impl LeafSums {
    /// Number of features a row must have.
    pub fn n_features(&self) -> usize {
        self.forest.n_features()
    }

    /// The sum for one row; errors as [`IsolationForest::score_one`].
    pub fn sum_one(&self, x: &[f64]) -> Result<f64> {
        self.forest.sum_one(x)
    }

    /// The sums for every row of `x`, in parallel; errors as
    /// [`IsolationForest::score_samples`].
    pub fn sums(&self, x: ArrayView2<'_, f64>) -> Result<Array1<f64>> {
        self.forest.batch(x, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forest::{average_path_length, IsolationForestParams};
    use crate::ParamGuard;
    use ndarray::Array2;

    fn forest(max_samples: usize) -> (IsolationForest, Array2<f64>) {
        let x = Array2::from_shape_fn((700, 3), |(i, j)| ((i * (2 * j + 5)) % 41) as f64);
        let f = IsolationForestParams::new()
            .n_trees(23)
            .max_samples(max_samples)
            .seed(5)
            .check()
            .unwrap()
            .fit(x.view())
            .unwrap();
        (f, x)
    }

    #[test]
    fn leaves_follow_the_artifact_order_and_sizes_add_up() {
        let (f, _) = forest(256);
        let leaves = f.leaves();
        let parts = f.tree_parts();
        let sizes: Vec<u32> = parts.iter().flat_map(|t| t.leaf_size.clone()).collect();
        assert_eq!(leaves.iter().map(|l| l.size).collect::<Vec<_>>(), sizes);
        assert_eq!(sizes.iter().sum::<u32>(), 23 * 256);
        assert!(leaves.iter().all(|l| (1..=8).contains(&l.depth)));
    }

    #[test]
    fn path_length_values_give_the_forests_own_sums_in_both_layouts() {
        // 256 rows per tree: the complete layout; 600: the flat one (trees taller than 8).
        for psi in [256, 600] {
            let (f, x) = forest(psi);
            let values: Vec<f64> = f
                .leaves()
                .iter()
                .map(|l| f64::from(l.depth) + average_path_length(l.size as usize))
                .collect();
            let sums = f.leaf_sums(&values).unwrap();
            let got = sums.sums(x.view()).unwrap();
            assert_eq!(got, f.batch(x.view(), false).unwrap(), "psi {psi}");
            let row = x.row(11).to_vec();
            assert_eq!(sums.sum_one(&row).unwrap(), got[11]);
        }
    }

    #[test]
    fn every_row_reaches_one_leaf_per_tree() {
        // 1.0 on the leaves of one tree, 0.0 elsewhere: every row sums to exactly 1; 1.0 on
        // every leaf: to the number of trees. Both layouts.
        for psi in [256, 600] {
            let (f, x) = forest(psi);
            let per_tree: Vec<usize> = f.tree_parts().iter().map(|t| t.leaf_size.len()).collect();
            let n: usize = per_tree.iter().sum();
            let ones = f.leaf_sums(&vec![1.0; n]).unwrap();
            assert!(ones.sums(x.view()).unwrap().iter().all(|&s| s == 23.0));
            let mut first = 0;
            for (t, &k) in per_tree.iter().enumerate() {
                let mut v = vec![0.0; n];
                v[first..first + k].fill(1.0);
                let sums = f.leaf_sums(&v).unwrap().sums(x.view()).unwrap();
                assert!(sums.iter().all(|&s| s == 1.0), "psi {psi} tree {t}");
                first += k;
            }
        }
    }

    #[test]
    fn wrong_length_or_non_finite_values_are_named() {
        let (f, _) = forest(256);
        let n = f.leaves().len();
        assert!(matches!(
            f.leaf_sums(&vec![0.0; n - 1]),
            Err(Error::Shape { name: "leaf_values", expected, got }) if expected == n && got == n - 1
        ));
        let mut v = vec![0.0; n];
        v[3] = f64::NAN;
        match f.leaf_sums(&v) {
            Err(Error::NonFinite { field, .. }) => assert_eq!(field, "leaf_values[3]"),
            other => panic!("{other:?}"),
        }
    }
}
