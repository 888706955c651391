//! The scoring layout for trees of height ≤ 8 (ψ ≤ 256, scikit-learn's default): each tree
//! padded to a complete binary tree stored as fixed 256-slot arrays in 1-based heap order
//! (root at 1, children of `i` at `2i` and `2i+1`).
//!
//! Rows are cast to `f32` (the scoring semantic, see
//! [`IsolationForest`](super::IsolationForest)), and a split keeps [`f32_at_most`] of its
//! `f64` threshold, which splits every `f32` exactly as the `f64` one does. Both are compared
//! as order-preserving integer [`key`]s, so a node is 8 bytes (key, `u8` feature, `u8` link
//! to its left child) and a step is `i = left[i] + (x[f[i]] > t[i])`: integer loads and one
//! integer compare, the shortest dependency chain per level (the walk is latency-bound:
//! [`LANES`] trees are walked side by side for independent chains). Every row and tree
//! takes the same number of steps, with no bounds checks: slots and features are `u8`-sized
//! into 256-wide arrays, and after `H` steps the slot is the bottom leaf's index. A leaf
//! above the bottom becomes pass-through nodes (threshold key `u32::MAX`: every value goes
//! left) whose bottom leaves all carry its path length.

use ndarray::{ArrayView2, Axis};

use super::tree::{average_path_length, GrownNode};

/// Slots per tree array: 2^MAX_HEIGHT.
const SLOTS: usize = 256;
const MASK: usize = SLOTS - 1;
/// Tallest tree the layout holds.
pub(crate) const MAX_HEIGHT: u32 = 8;
/// Widest row the layout holds (features are `u8`).
pub(crate) const MAX_FEATURES: usize = SLOTS;
/// Trees walked side by side for one row: independent dependency chains (10 beat 8 and 16
/// in CPU time, and the default 100 trees are 10 whole groups).
const LANES: usize = 10;
/// Rows walked through one group of trees before moving to the next group (256 measured
/// about 5% faster than 64 in CPU time; a buffered row touches one cache line).
const BLOCK_ROWS: usize = 256;

/// The largest `f32` that is ≤ `t`: for any `f32` x, `f64::from(x) <= t` exactly when
/// `x <= f32_at_most(t)`, so a row cast to `f32` is split as the `f64` threshold splits it.
pub(crate) fn f32_at_most(t: f64) -> f32 {
    let r = t as f32;
    if f64::from(r) > t {
        next_down(r)
    } else {
        r
    }
}

/// The next `f32` below `r` (not NaN; -inf stays); `f32::next_down` needs Rust 1.86.
pub(crate) fn next_down(r: f32) -> f32 {
    if r == f32::NEG_INFINITY {
        r
    } else if r == 0.0 {
        -f32::from_bits(1)
    } else if r > 0.0 {
        f32::from_bits(r.to_bits() - 1)
    } else {
        f32::from_bits(r.to_bits() + 1)
    }
}

/// The next `f32` above `r` (not NaN; +inf stays).
#[cfg(test)]
pub(crate) fn next_up(r: f32) -> f32 {
    -next_down(-r)
}

/// The order-preserving integer key of an `f32` (not NaN): `key(a) < key(b)` exactly when
/// `a < b`, and both zeros get the same key. Integer compares shorten each step's dependency
/// chain (an integer load and compare instead of a floating-point load and compare).
pub(crate) fn key(v: f32) -> u32 {
    let b = (v + 0.0).to_bits(); // -0.0 + 0.0 is +0.0
                                 // Negative: flip every bit (larger magnitude, smaller key); positive: set the top bit.
    b ^ ((((b as i32) >> 31) as u32) | 0x8000_0000)
}

/// A split: `key(x[feature]) > threshold` goes right. 8 bytes, one load address for all
/// fields (the same scale as a leaf's `f64`).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Node {
    /// [`key`] of [`f32_at_most`] of the split's threshold.
    threshold: u32,
    feature: u8,
    /// `2 * slot mod 256`: the left child's slot, or below the bottom level the left
    /// leaf's index. Read from memory, it keeps one-row walks from being compiled as
    /// sums of separate branch bits.
    left: u8,
}

/// Pass-through (and unused) slot: every value goes left.
const PASS: Node = Node {
    threshold: u32::MAX,
    feature: 0,
    left: 0,
};

/// One padded tree. Inner slots `1..2^H` hold splits; `leaf[i mod 256]` is the path length
/// credited on ending at heap slot `i` in `2^H..2^(H+1)`.
#[derive(Debug, Clone, PartialEq)]
struct Tree {
    node: [Node; SLOTS],
    leaf: [f64; SLOTS],
    /// One cache line, so trees are not 4 KiB apart (same-set L1 conflicts between lanes).
    pad: [u64; 8],
}

/// Every tree of a forest in the complete layout, all padded to the same height.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CompleteTrees {
    height: u32,
    trees: Vec<Tree>,
}

/// The keys of a row cast to `f32`, zero-padded to 256 so any `u8` feature indexes it
/// without a check.
type Row = [u32; SLOTS];

impl CompleteTrees {
    /// The layout of `trees` (breadth-first grown nodes), or `None` when a tree is taller
    /// than [`MAX_HEIGHT`] or rows are wider than [`MAX_FEATURES`].
    pub(crate) fn build(trees: &[Vec<GrownNode>], n_features: usize) -> Option<Self> {
        Self::build_with(trees, n_features, |t, i| {
            trees
                .get(t)
                .and_then(|nodes| nodes.get(i))
                .map_or(0.0, |n| {
                    f64::from(n.depth) + average_path_length(n.size as usize)
                })
        })
    }

    /// [`build`](Self::build) with `leaf_value(tree, node)` credited on ending at a leaf
    /// (node index local to its tree) instead of its path length.
    pub(crate) fn build_with(
        trees: &[Vec<GrownNode>],
        n_features: usize,
        leaf_value: impl Fn(usize, usize) -> f64,
    ) -> Option<Self> {
        if n_features > MAX_FEATURES {
            return None;
        }
        let height = trees
            .iter()
            .flat_map(|t| t.iter().map(|n| n.depth))
            .max()
            .unwrap_or(0);
        if height > MAX_HEIGHT {
            return None;
        }
        let mut out = Vec::with_capacity(trees.len());
        for (t, nodes) in trees.iter().enumerate() {
            let mut tree = Tree {
                node: [PASS; SLOTS],
                leaf: [0.0; SLOTS],
                pad: [0; 8],
            };
            fill(nodes, &|i| leaf_value(t, i), 0, 1, 0, height, &mut tree)?;
            out.push(tree);
        }
        // Whole groups only: a tree walked alone is one slow dependency chain. Padding trees
        // end on a 0.0 leaf from every row, and adding 0.0 leaves a (positive) sum unchanged.
        while out.len() % LANES != 0 {
            out.push(Tree {
                node: [PASS; SLOTS],
                leaf: [0.0; SLOTS],
                pad: [0; 8],
            });
        }
        Some(Self { height, trees: out })
    }

    /// Sum over trees, in tree order, of the path length of the row `x` (its length is the
    /// forest's width, ≤ 256). No allocation: the row goes into a 256-wide stack buffer.
    pub(crate) fn path_sum(&self, x: &[f64]) -> f64 {
        let mut row = [0; SLOTS];
        for (v, x) in row.iter_mut().zip(x) {
            *v = key(*x as f32);
        }
        match self.height {
            0 => row_sum::<0>(&self.trees, &row),
            1 => row_sum::<1>(&self.trees, &row),
            2 => row_sum::<2>(&self.trees, &row),
            3 => row_sum::<3>(&self.trees, &row),
            4 => row_sum::<4>(&self.trees, &row),
            5 => row_sum::<5>(&self.trees, &row),
            6 => row_sum::<6>(&self.trees, &row),
            7 => row_sum::<7>(&self.trees, &row),
            _ => row_sum::<8>(&self.trees, &row),
        }
    }

    /// Path-length sums of the rows of `x` (width ≤ 256) into `sums` (one per row, each
    /// summed in tree order, so equal bit for bit to [`path_sum`](Self::path_sum)).
    /// Tree-major: each group of trees is walked by every row of a block of
    /// [`BLOCK_ROWS`] rows while it sits in L1.
    pub(crate) fn path_sums(&self, x: ArrayView2<'_, f64>, sums: &mut [f64]) {
        // One zeroed buffer for the whole call; only the first `ncols` values of each row
        // are ever overwritten, and features index at most that far.
        let mut buf = vec![[0; SLOTS]; BLOCK_ROWS.min(x.nrows())];
        for (rows, sums) in x
            .axis_chunks_iter(Axis(0), BLOCK_ROWS)
            .zip(sums.chunks_mut(BLOCK_ROWS))
        {
            self.block(&mut buf, rows.outer_iter(), sums);
        }
    }

    /// Sets `sums` to each row's path-length sum over trees, in tree order (as many rows
    /// as `buf` and `sums` hold), casting the rows into `buf` first.
    #[inline(always)]
    fn block<'a, R: IntoIterator<Item = &'a f64>>(
        &self,
        buf: &mut [Row],
        rows: impl Iterator<Item = R>,
        sums: &mut [f64],
    ) {
        let mut n = 0;
        for (b, row) in buf.iter_mut().zip(rows) {
            for (v, x) in b.iter_mut().zip(row) {
                *v = key(*x as f32);
            }
            n += 1;
        }
        let buf = buf.get(..n).unwrap_or(&[]);
        for s in sums.iter_mut() {
            *s = 0.0;
        }
        // One copy of the walk per height: the steps are unrolled, so the index ranges are
        // known at every step and neither masks nor bounds checks remain.
        match self.height {
            0 => walk_block::<0>(&self.trees, buf, sums),
            1 => walk_block::<1>(&self.trees, buf, sums),
            2 => walk_block::<2>(&self.trees, buf, sums),
            3 => walk_block::<3>(&self.trees, buf, sums),
            4 => walk_block::<4>(&self.trees, buf, sums),
            5 => walk_block::<5>(&self.trees, buf, sums),
            6 => walk_block::<6>(&self.trees, buf, sums),
            7 => walk_block::<7>(&self.trees, buf, sums),
            _ => walk_block::<8>(&self.trees, buf, sums),
        }
    }
}

/// Adds each row's path lengths over `trees` (height `H`, so the steps unroll), in tree
/// order, to `sums`.
#[inline(always)]
fn walk_block<const H: u32>(trees: &[Tree], buf: &[Row], sums: &mut [f64]) {
    let mut groups = trees.chunks_exact(LANES);
    for group in &mut groups {
        if let Ok(group) = <&[Tree; LANES]>::try_from(group) {
            for (row, s) in buf.iter().zip(sums.iter_mut()) {
                for p in walk_links(group, H, row) {
                    *s += p;
                }
            }
        }
    }
    for tree in groups.remainder() {
        for (row, s) in buf.iter().zip(sums.iter_mut()) {
            *s += walk_links(std::array::from_ref(tree), H, row)[0];
        }
    }
}

/// The path-length sum of one row over `trees` (height `H`), in tree order: the same sum
/// as [`walk_block`] gives the row. Not inlined, so each height is compiled on its own.
#[inline(never)]
fn row_sum<const H: u32>(trees: &[Tree], x: &Row) -> f64 {
    let mut total = 0.0;
    let mut groups = trees.chunks_exact(LANES);
    for group in &mut groups {
        if let Ok(group) = <&[Tree; LANES]>::try_from(group) {
            for p in walk_links(group, H, x) {
                total += p;
            }
        }
    }
    for tree in groups.remainder() {
        total += walk_links(std::array::from_ref(tree), H, x)[0];
    }
    total
}

/// Walks `L` trees side by side for one row; returns each tree's path length. `height`
/// steps of `i = left[i] + (x[f[i]] > t[i])`, so `i ≤ 256` (the mask only spares a bounds
/// check). The link is read, not computed as `2i`: computed, the compiler rewrites the
/// unrolled steps as sums of separate branch bits and spills them.
#[inline(always)]
fn walk_links<const L: usize>(trees: &[Tree; L], height: u32, x: &Row) -> [f64; L] {
    let mut idx = [1usize; L];
    for _ in 0..height {
        for (i, t) in idx.iter_mut().zip(trees) {
            let n = t.node[*i & MASK];
            let v = x[usize::from(n.feature)];
            *i = usize::from(n.left) + usize::from(v > n.threshold);
        }
    }
    let mut out = [0.0; L];
    for ((o, &i), t) in out.iter_mut().zip(&idx).zip(trees) {
        *o = t.leaf[i & MASK];
    }
    out
}

/// Writes grown node `node` (at `depth`) into heap slot `slot` (1-based), padding leaves
/// down to `height`; a leaf credits `value(node)`. `None` when the nodes are not a
/// consistent tree (cannot happen for trees the forest built or validated).
fn fill(
    nodes: &[GrownNode],
    value: &dyn Fn(usize) -> f64,
    node: usize,
    slot: usize,
    depth: u32,
    height: u32,
    tree: &mut Tree,
) -> Option<()> {
    let n = nodes.get(node)?;
    if n.left == 0 || depth == height {
        if n.left != 0 {
            return None;
        }
        // Pass-through below a leaf above the bottom: every value goes left (`x > +inf` is
        // false); all bottom leaves below carry this leaf's path length (only the leftmost
        // is ever reached).
        let below = height - depth;
        // The leftmost path below this slot: pass-through nodes down to the bottom.
        let mut s = slot;
        for _ in 0..below {
            *tree.node.get_mut(s)? = Node {
                left: (2 * s % SLOTS) as u8,
                ..PASS
            };
            s *= 2;
        }
        let first = slot << below;
        let v = value(node);
        for s in first..first + (1 << below) {
            *tree.leaf.get_mut(s % SLOTS)? = v;
        }
        return Some(());
    }
    *tree.node.get_mut(slot)? = Node {
        threshold: key(f32_at_most(n.threshold)),
        feature: u8::try_from(n.feature).ok()?,
        left: (2 * slot % SLOTS) as u8,
    };
    let left = n.left as usize;
    fill(nodes, value, left, 2 * slot, depth + 1, height, tree)?;
    fill(
        nodes,
        value,
        left + 1,
        2 * slot + 1,
        depth + 1,
        height,
        tree,
    )
}

#[cfg(test)]
mod tests {
    use super::{f32_at_most, key, next_down, next_up};

    #[test]
    fn keys_order_like_the_f32_values() {
        let mut vs = vec![
            f32::NEG_INFINITY,
            f32::MIN,
            -1.5,
            -f32::MIN_POSITIVE,
            -1e-45,
            -0.0,
            0.0,
            1e-45,
            f32::MIN_POSITIVE,
            0.1,
            1.0,
            f32::MAX,
            f32::INFINITY,
        ];
        vs.extend(
            [0.3f32, -7.25, 1e30, -1e-40]
                .iter()
                .flat_map(|v| [next_down(*v), *v, next_up(*v)]),
        );
        for &a in &vs {
            for &b in &vs {
                assert_eq!(a > b, key(a) > key(b), "{a} {b}");
                assert_eq!(a == b, key(a) == key(b), "{a} {b}");
            }
        }
    }

    #[test]
    fn f32_at_most_splits_f32_values_like_the_f64_threshold() {
        let ts = [
            0.0,
            -0.0,
            0.1,
            -0.1,
            1.0 / 3.0,
            -1.0 / 3.0,
            1e-40,
            -1e-40,
            1e-46,
            -1e-46,
            3.5e38,
            -3.5e38,
            f64::from(f32::MAX),
            f64::from(f32::MIN),
            1e300,
            -1e300,
            16_777_217.0,
        ];
        for t in ts {
            let r = f32_at_most(t);
            assert!(f64::from(r) <= t, "{t}");
            // The next f32 up is above t: r is the largest f32 at most t.
            assert!(f64::from(next_up(r)) > t, "{t}");
            for x in [next_down(r), r, next_up(r), t as f32, 0.0, -0.0] {
                assert_eq!(x <= r, f64::from(x) <= t, "x {x} t {t}");
            }
        }
    }
}
