//! The scoring layout for trees of height ≤ 8 (ψ ≤ 256, scikit-learn's default): each tree
//! padded to a complete binary tree stored as fixed 256-slot arrays in heap order (root at 0,
//! children of `i` at `2i+1` and `2i+2`). A walk is index arithmetic only,
//! `i = 2i + 1 + (x[f[i]] > t[i])`, the same number of steps for every row and tree, with no
//! bounds checks: slot indices are masked to 0..256 and features are `u8` into a 256-wide
//! row buffer. A leaf above the bottom becomes pass-through nodes (`t = +inf`, so every
//! finite value goes left) whose bottom leaves all carry its path length.

use ndarray::{ArrayView2, Axis};

use super::model::average_path_length;
use super::tree::GrownNode;

/// Slots per tree array: 2^MAX_HEIGHT.
const SLOTS: usize = 256;
const MASK: usize = SLOTS - 1;
/// Tallest tree the layout holds.
pub(crate) const MAX_HEIGHT: u32 = 8;
/// Widest row the layout holds (features are `u8`).
pub(crate) const MAX_FEATURES: usize = SLOTS;
/// Trees walked side by side for one row: independent dependency chains.
const LANES: usize = 8;
/// Rows walked through one group of trees before moving to the next group.
const BLOCK_ROWS: usize = 64;

/// One padded tree. Inner slots 0..2^H-1 hold splits; `leaf[j]` is the path length credited
/// to bottom slot 2^H - 1 + j.
#[derive(Debug, Clone, PartialEq)]
struct Tree {
    threshold: [f64; SLOTS],
    feature: [u8; SLOTS],
    leaf: [f64; SLOTS],
}

/// Every tree of a forest in the complete layout, all padded to the same height.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CompleteTrees {
    height: u32,
    trees: Vec<Tree>,
}

impl CompleteTrees {
    /// The layout of `trees` (breadth-first grown nodes), or `None` when a tree is taller
    /// than [`MAX_HEIGHT`] or rows are wider than [`MAX_FEATURES`].
    pub(crate) fn build(trees: &[Vec<GrownNode>], n_features: usize) -> Option<Self> {
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
        for nodes in trees {
            let mut tree = Tree {
                threshold: [f64::INFINITY; SLOTS],
                feature: [0; SLOTS],
                leaf: [0.0; SLOTS],
            };
            fill(nodes, 0, 0, 0, height, &mut tree)?;
            out.push(tree);
        }
        Some(Self { height, trees: out })
    }

    /// Sum over trees, in tree order, of the path length of the row `x` (its length is the
    /// forest's width, ≤ 256). No allocation: the row is copied into a 256-wide stack
    /// buffer (zeroing it costs less than masking every feature index on the walk).
    #[inline]
    pub(crate) fn path_sum(&self, x: &[f64]) -> f64 {
        let mut buf = [[0.0; SLOTS]; 1];
        let mut total = 0.0;
        self.block(
            &mut buf,
            std::iter::once(x),
            std::slice::from_mut(&mut total),
        );
        total
    }

    /// Path-length sums of the rows of `x` (width ≤ 256) into `sums` (one per row, each
    /// summed in tree order, so equal bit for bit to [`path_sum`](Self::path_sum)).
    /// Tree-major: each group of trees is walked by every row of a block of
    /// [`BLOCK_ROWS`] rows while it sits in L1.
    pub(crate) fn path_sums(&self, x: ArrayView2<'_, f64>, sums: &mut [f64]) {
        // One zeroed buffer for the whole call; only the first `ncols` values of each row
        // are ever overwritten, and features index at most that far.
        let mut buf = vec![[0.0; SLOTS]; BLOCK_ROWS.min(x.nrows())];
        for (rows, sums) in x
            .axis_chunks_iter(Axis(0), BLOCK_ROWS)
            .zip(sums.chunks_mut(BLOCK_ROWS))
        {
            self.block(&mut buf, rows.outer_iter(), sums);
        }
    }

    /// Sets `sums` to each row's path-length sum over trees, in tree order (as many rows
    /// as `buf` and `sums` hold), copying the rows into `buf` first so any `u8` feature
    /// indexes a row without a check.
    #[inline(always)]
    fn block<'a, R: IntoIterator<Item = &'a f64>>(
        &self,
        buf: &mut [[f64; SLOTS]],
        rows: impl Iterator<Item = R>,
        sums: &mut [f64],
    ) {
        let mut n = 0;
        for (b, row) in buf.iter_mut().zip(rows) {
            for (v, x) in b.iter_mut().zip(row) {
                *v = *x;
            }
            n += 1;
        }
        let buf = buf.get(..n).unwrap_or(&[]);
        for s in sums.iter_mut() {
            *s = 0.0;
        }
        let mut groups = self.trees.chunks_exact(LANES);
        for group in &mut groups {
            if let Ok(group) = <&[Tree; LANES]>::try_from(group) {
                for (row, s) in buf.iter().zip(sums.iter_mut()) {
                    for p in walk_lanes(group, self.height, row) {
                        *s += p;
                    }
                }
            }
        }
        for tree in groups.remainder() {
            for (row, s) in buf.iter().zip(sums.iter_mut()) {
                *s += walk_lanes(std::array::from_ref(tree), self.height, row)[0];
            }
        }
    }
}

/// Walks `L` trees side by side for one row; returns each tree's path length. (A loop, not
/// unrolled per height: unrolled, the compiler keeps every branch bit apart and spills.)
#[inline(always)]
fn walk_lanes<const L: usize>(trees: &[Tree; L], height: u32, x: &[f64; SLOTS]) -> [f64; L] {
    let mut idx = [0usize; L];
    for _ in 0..height {
        for (i, t) in idx.iter_mut().zip(trees) {
            let s = *i & MASK;
            let v = x[usize::from(t.feature[s])];
            *i = 2 * *i + 1 + usize::from(v > t.threshold[s]);
        }
    }
    let mut out = [0.0; L];
    for ((o, &i), t) in out.iter_mut().zip(&idx).zip(trees) {
        *o = t.leaf[(i - ((1 << height) - 1)) & MASK];
    }
    out
}

/// Writes grown node `node` (at `depth`) into heap slot `slot`, padding leaves down to
/// `height`. `None` when the nodes are not a consistent tree (cannot happen for trees the
/// forest built or validated).
fn fill(
    nodes: &[GrownNode],
    node: usize,
    slot: usize,
    depth: u32,
    height: u32,
    tree: &mut Tree,
) -> Option<()> {
    let n = nodes.get(node)?;
    if depth == height {
        if n.left != 0 {
            return None;
        }
        *tree.leaf.get_mut(slot - ((1 << height) - 1))? =
            f64::from(n.depth) + average_path_length(n.size as usize);
        return Some(());
    }
    if n.left == 0 {
        // Pass-through: every finite value goes left; all bottom leaves below carry this
        // leaf's path length (only the leftmost is ever reached).
        *tree.threshold.get_mut(slot)? = f64::INFINITY;
        *tree.feature.get_mut(slot)? = 0;
        let below = height - depth;
        let first = ((slot + 1) << below) - (1 << height);
        let value = f64::from(n.depth) + average_path_length(n.size as usize);
        for l in tree.leaf.get_mut(first..first + (1 << below))? {
            *l = value;
        }
        return Some(());
    }
    *tree.threshold.get_mut(slot)? = n.threshold;
    *tree.feature.get_mut(slot)? = u8::try_from(n.feature).ok()?;
    let left = n.left as usize;
    fill(nodes, left, 2 * slot + 1, depth + 1, height, tree)?;
    fill(nodes, left + 1, 2 * slot + 2, depth + 1, height, tree)
}
