//! Growing one isolation tree (Liu, Ting & Zhou 2008, Algorithm 2) from its own random stream.
//!
//! Splits follow scikit-learn's `ExtraTreeRegressor(splitter="random", max_features=1)` as
//! used by its `IsolationForest`: a uniformly drawn non-constant feature, a threshold drawn
//! uniformly in `[min, max)` of the node's rows, `x <= threshold` goes left.

use std::collections::VecDeque;

use ndarray::ArrayView2;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

/// One node of a grown tree, in breadth-first order. A leaf has `left == 0` (the root is
/// never a child, so 0 is free to mean "none").
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct GrownNode {
    pub feature: u32,
    pub threshold: f64,
    pub left: u32,
    /// Training rows that reached the node (ψ at the root).
    pub size: u32,
    pub depth: u32,
}

/// The random stream of tree `tree` for `seed`: independent of how trees are scheduled.
pub(crate) fn tree_rng(seed: u64, tree: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(tree as u64);
    rng
}

/// Uniform integer in `0..n` (`n ≥ 1`), by multiply-shift (bias below 2^-32 for our sizes).
fn below(rng: &mut ChaCha8Rng, n: usize) -> usize {
    ((u128::from(rng.next_u64()) * n as u128) >> 64) as usize
}

/// Uniform `f64` in `[0, 1)`.
fn unit(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// `k` distinct values of `0..n` (Floyd's algorithm; `k ≤ n`), with a small open-addressing
/// set so the cost does not depend on `n`.
fn sample_distinct(rng: &mut ChaCha8Rng, n: usize, k: usize) -> Vec<u32> {
    if k >= n {
        return (0..n as u32).collect();
    }
    let cap = (2 * k).next_power_of_two().max(16);
    let mask = cap - 1;
    let mut table = vec![u32::MAX; cap];
    let mut out = Vec::with_capacity(k);
    let insert = |v: u32, table: &mut Vec<u32>| -> bool {
        let mut slot = (v as usize).wrapping_mul(0x9E37_79B9) & mask;
        loop {
            match table.get(slot).copied() {
                Some(u32::MAX) => {
                    if let Some(s) = table.get_mut(slot) {
                        *s = v;
                    }
                    return true;
                }
                Some(w) if w == v => return false,
                _ => slot = (slot + 1) & mask,
            }
        }
    };
    for j in (n - k)..n {
        let t = below(rng, j + 1) as u32;
        let v = if insert(t, &mut table) {
            t
        } else {
            insert(j as u32, &mut table);
            j as u32
        };
        out.push(v);
    }
    out
}

/// Grows tree number `tree` on `psi` rows of `x` sampled without replacement, splitting on
/// `n_split_features` features drawn for this tree (all of them when it equals the width).
pub(crate) fn grow(
    x: &ArrayView2<'_, f64>,
    psi: usize,
    n_split_features: usize,
    height_limit: u32,
    seed: u64,
    tree: usize,
) -> Vec<GrownNode> {
    let mut rng = tree_rng(seed, tree);
    let (n, d) = x.dim();
    // Feature subset of this tree (scikit-learn draws it per estimator).
    let mut features: Vec<u32> = (0..d as u32).collect();
    let k = n_split_features.clamp(1, d);
    if k < d {
        for i in 0..k {
            let j = i + below(&mut rng, d - i);
            features.swap(i, j);
        }
        features.truncate(k);
    }
    let rows = sample_distinct(&mut rng, n, psi);
    let psi = rows.len();
    // Column-major copy of the sample: node scans read one feature contiguously.
    let mut data = vec![0.0; psi * k];
    for (c, &f) in features.iter().enumerate() {
        let col = x.column(f as usize);
        for (r, &row) in rows.iter().enumerate() {
            if let (Some(dst), Some(&v)) = (data.get_mut(c * psi + r), col.get(row as usize)) {
                *dst = v;
            }
        }
    }
    let mut idx: Vec<u32> = (0..psi as u32).collect();
    let mut nodes: Vec<GrownNode> = Vec::with_capacity(2 * psi);
    // (node, lo, hi) waiting to be split, breadth first.
    let mut queue: VecDeque<(usize, usize, usize)> = VecDeque::new();
    nodes.push(GrownNode {
        feature: 0,
        threshold: 0.0,
        left: 0,
        size: psi as u32,
        depth: 0,
    });
    queue.push_back((0, 0, psi));
    let mut candidates: Vec<usize> = (0..k).collect();
    while let Some((node, lo, hi)) = queue.pop_front() {
        let depth = nodes.get(node).map_or(0, |n| n.depth);
        if depth >= height_limit || hi - lo <= 1 {
            continue;
        }
        let Some(part) = idx.get_mut(lo..hi) else {
            continue;
        };
        // Draw features until one is not constant on this node's rows.
        let mut remaining = k;
        let mut split = None;
        while remaining > 0 {
            let j = below(&mut rng, remaining);
            let c = candidates.get(j).copied().unwrap_or(0);
            let col = data.get(c * psi..(c + 1) * psi).unwrap_or(&[]);
            let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
            for &r in part.iter() {
                let v = col.get(r as usize).copied().unwrap_or(0.0);
                min = min.min(v);
                max = max.max(v);
            }
            if max > min {
                let mut t = min + unit(&mut rng) * (max - min);
                if t >= max {
                    t = min;
                }
                split = Some((c, t));
                break;
            }
            candidates.swap(j, remaining - 1);
            remaining -= 1;
        }
        let Some((c, t)) = split else {
            continue; // every feature constant here: a leaf holding all these rows
        };
        let col = data.get(c * psi..(c + 1) * psi).unwrap_or(&[]);
        // Partition: rows with x <= t first.
        let mut mid = 0;
        for i in 0..part.len() {
            let r = part.get(i).copied().unwrap_or(0);
            if col.get(r as usize).copied().unwrap_or(0.0) <= t {
                part.swap(i, mid);
                mid += 1;
            }
        }
        let left = nodes.len();
        for (a, b) in [(lo, lo + mid), (lo + mid, hi)] {
            nodes.push(GrownNode {
                feature: 0,
                threshold: 0.0,
                left: 0,
                size: (b - a) as u32,
                depth: depth + 1,
            });
            queue.push_back((nodes.len() - 1, a, b));
        }
        if let Some(n) = nodes.get_mut(node) {
            n.feature = features.get(c).copied().unwrap_or(0);
            n.threshold = t;
            n.left = left as u32;
        }
    }
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_distinct_gives_distinct_in_range() {
        let mut rng = tree_rng(7, 3);
        for (n, k) in [(10, 10), (100_000, 256), (300, 256), (5, 2)] {
            let mut s = sample_distinct(&mut rng, n, k);
            assert_eq!(s.len(), k);
            assert!(s.iter().all(|&v| (v as usize) < n));
            s.sort_unstable();
            s.dedup();
            assert_eq!(s.len(), k);
        }
    }

    #[test]
    fn tree_nodes_are_breadth_first_and_consistent() {
        let x = ndarray::Array2::from_shape_fn((500, 3), |(i, j)| ((i * 31 + j * 7) % 97) as f64);
        let nodes = grow(&x.view(), 256, 3, 8, 1, 0);
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
