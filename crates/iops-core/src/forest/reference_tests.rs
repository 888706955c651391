//! The fast scorers against a plain reference walk of the stored trees: scores must stay
//! bit-identical to the straightforward definition (same leaves, same summation order).

use ndarray::Array2;

use super::{average_path_length, IsolationForest, IsolationForestParams};
use crate::ParamGuard;

/// Path length of `x` in one tree, walked from the artifact form (children of the j-th split
/// at 2j+1 and 2j+2, `x <= t` goes left, the row cast to `f32` as the scoring semantic says)
/// with no layout tricks.
fn reference_path(tree: &super::TreeParts, x: &[f64]) -> f64 {
    let (mut i, mut depth) = (0usize, 0u32);
    while let Some(f) = tree.feature[i] {
        let j = tree.feature[..i].iter().filter(|f| f.is_some()).count();
        i = if f64::from(x[f as usize] as f32) <= tree.threshold[j] {
            2 * j + 1
        } else {
            2 * j + 2
        };
        depth += 1;
    }
    let leaf = tree.feature[..i].iter().filter(|f| f.is_none()).count();
    f64::from(depth) + average_path_length(tree.leaf_size[leaf] as usize)
}

/// The paper's score, trees summed in order.
fn reference_score(forest: &IsolationForest, x: &[f64]) -> f64 {
    let trees = forest.tree_parts();
    let mut total = 0.0;
    for t in &trees {
        total += reference_path(t, x);
    }
    let mean = total / trees.len() as f64;
    (-mean / average_path_length(forest.samples_per_tree())).exp2()
}

/// Rows from xorshift, with a few duplicated values (ties with thresholds are likely) and
/// far-out rows.
fn rows(n: usize, d: usize, seed: u64) -> Array2<f64> {
    let mut s = seed | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    Array2::from_shape_fn((n, d), |(i, _)| match i % 7 {
        0 => (next() * 8.0).round() / 4.0,
        1 => next() * 40.0 - 20.0,
        _ => next() * 2.0 - 1.0,
    })
}

fn check(forest: &IsolationForest, x: &Array2<f64>) {
    let batch = forest.score_samples(x.view()).unwrap();
    for (r, row) in x.outer_iter().enumerate() {
        let row = row.to_vec();
        let want = reference_score(forest, &row);
        assert_eq!(forest.score_one(&row).unwrap(), want, "row {r}");
        assert_eq!(batch[r], want, "row {r} (batch)");
    }
}

#[test]
fn scores_equal_the_reference_walk_for_every_tree_shape() {
    // (rows, features, max_samples, trees): default ψ = 256 (height 8), small ψ (shallow
    // trees), ψ = 1000 (height 10, deeper than the complete layout holds), odd tree counts
    // (partial lane groups) and a wide row.
    for (n, d, psi, trees, seed) in [
        (3000, 4, 256, 100, 0),
        (600, 3, 3, 13, 1),
        (800, 2, 40, 9, 2),
        (3000, 5, 1000, 11, 3),
        (500, 40, 128, 21, 4),
        (400, 1, 256, 1, 5),
    ] {
        let train = rows(n, d, seed);
        let forest = IsolationForestParams::new()
            .n_trees(trees)
            .max_samples(psi)
            .seed(seed)
            .check()
            .unwrap()
            .fit(train.view())
            .unwrap();
        check(&forest, &train);
        // Unseen rows, including values far outside the training range, in a batch that
        // is not a multiple of any block size.
        check(&forest, &rows(777, d, seed + 100));
    }
}

#[test]
fn constant_columns_give_single_leaf_trees_scored_like_the_reference() {
    let x = Array2::from_elem((50, 3), 1.5);
    let forest = IsolationForestParams::new()
        .n_trees(10)
        .max_samples(32)
        .check()
        .unwrap()
        .fit(x.view())
        .unwrap();
    check(&forest, &x);
    check(&forest, &rows(20, 3, 9));
}

#[test]
fn hand_written_artifact_with_early_leaves_scores_by_hand() {
    // The fuzz seed fuzz/seeds/artifact_json/tiny_2_trees.json: tree 0 splits x0 at 0.5 (a
    // leaf of 3 rows at depth 1 on the left) then x1 at -1.25 (leaves of 2 and 4 rows); tree 1
    // is a single leaf of 9 rows.
    let json = include_str!("../../../../fuzz/seeds/artifact_json/tiny_2_trees.json");
    let model = crate::artifact::ModelArtifact::from_str(json).unwrap();
    let forest = model.forest();
    let c = average_path_length;
    for (row, tree0) in [
        ([0.5, 9.0, 0.0, 0.0], 1.0 + c(3)),
        ([0.6, -1.25, 0.0, 0.0], 2.0 + c(2)),
        ([7.0, -1.0, 0.0, 0.0], 2.0 + c(4)),
    ] {
        let want = (-((tree0 + c(9)) / 2.0) / c(9)).exp2();
        assert_eq!(forest.score_one(&row).unwrap(), want, "{row:?}");
        assert_eq!(reference_score(forest, &row), want, "{row:?}");
    }
    check(forest, &rows(50, 4, 11));
}

/// The next `f64` above a finite `t`.
fn f64_next_up(t: f64) -> f64 {
    if t == 0.0 {
        f64::from_bits(1)
    } else if t > 0.0 {
        f64::from_bits(t.to_bits() + 1)
    } else {
        f64::from_bits(t.to_bits() - 1)
    }
}

#[test]
fn rows_at_and_around_every_threshold_score_like_the_reference() {
    // Values within an f32 rounding step of a split: where an f32 threshold that is not the
    // largest f32 at or below the f64 one would send a row the other way.
    let train = rows(2000, 3, 21);
    for psi in [256, 1000] {
        let forest = IsolationForestParams::new()
            .n_trees(17)
            .max_samples(psi)
            .seed(21)
            .check()
            .unwrap()
            .fit(train.view())
            .unwrap();
        let mut probe = Vec::new();
        for t in forest.tree_parts().iter().flat_map(|t| t.threshold.clone()) {
            let r = super::complete::f32_at_most(t);
            let (up, down) = (f64_next_up(t), -f64_next_up(-t));
            for v in [
                t,
                up,
                down,
                f64::from(t as f32),
                f64::from(r),
                f64::from(super::complete::next_up(r)),
                f64::from(r) + (f64::from(super::complete::next_up(r)) - f64::from(r)) / 2.0,
            ] {
                probe.extend([v, v, v]);
            }
        }
        let x = Array2::from_shape_vec((probe.len() / 3, 3), probe).unwrap();
        check(&forest, &x);
    }
}
