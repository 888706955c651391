//! The scoring layout for trees of height ≤ 8 (ψ ≤ 256, scikit-learn's default): each tree
//! padded to a complete binary tree stored as fixed 256-slot arrays in heap order (root at 0,
//! children of `i` at `2i+1` and `2i+2`). A walk is index arithmetic only,
//! `i = 2i + 1 + (x[f[i]] > t[i])`, the same number of steps for every row and tree, with no
//! bounds checks: slot indices are masked to 0..256 and features are `u8` into a 256-wide
//! row buffer. A leaf above the bottom becomes pass-through nodes (`t = +inf`, so every
//! finite value goes left) whose bottom leaves all carry its path length.

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

/// A row in a buffer any `u8` feature can index.
pub(crate) struct RowBuf([f64; SLOTS]);

impl RowBuf {
    pub(crate) fn new() -> Self {
        Self([0.0; SLOTS])
    }
    /// Copies `x` (at most 256 values; the layout is only built for such widths).
    #[inline]
    pub(crate) fn load(&mut self, x: impl IntoIterator<Item = f64>) -> &Self {
        for (b, v) in self.0.iter_mut().zip(x) {
            *b = v;
        }
        self
    }
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

    /// Sum over trees, in tree order, of the path length of the row in `x`.
    #[inline]
    pub(crate) fn path_sum(&self, x: &RowBuf) -> f64 {
        let mut total = 0.0;
        let mut groups = self.trees.chunks_exact(LANES);
        for group in &mut groups {
            if let Ok(group) = <&[Tree; LANES]>::try_from(group) {
                for p in walk_lanes(group, self.height, x) {
                    total += p;
                }
            }
        }
        for tree in groups.remainder() {
            total += walk_lanes(std::array::from_ref(tree), self.height, x)[0];
        }
        total
    }
}

/// Walks `L` trees side by side for one row; returns each tree's path length. (A loop, not
/// unrolled per height: unrolled, the compiler keeps every branch bit apart and spills.)
#[inline(always)]
fn walk_lanes<const L: usize>(trees: &[Tree; L], height: u32, x: &RowBuf) -> [f64; L] {
    let mut idx = [0usize; L];
    for _ in 0..height {
        for (i, t) in idx.iter_mut().zip(trees) {
            let s = *i & MASK;
            let v = x.0[usize::from(t.feature[s])];
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
