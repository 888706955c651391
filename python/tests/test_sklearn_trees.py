"""The forest grows scikit-learn's trees: for the same seed, ``iops.IsolationForest`` and
``sklearn.ensemble.IsolationForest`` (1.9.1) split on the same features at the same thresholds,
with the same children and node sizes; ``score_samples`` is equal bit for bit, and the native
anomaly score (Rust's arithmetic) to a few units in the last place. Data sets cover each way
scikit-learn samples rows (permutation, tracking selection, all rows), constant columns
(one only constant in float32 arithmetic) and a feature subset per tree."""

from __future__ import annotations

import json

import numpy as np
import pytest

import iops

sklearn = pytest.importorskip("sklearn")
from sklearn.ensemble import IsolationForest as SkForest  # noqa: E402

pytestmark = pytest.mark.skipif(
    sklearn.__version__ != "1.9.1", reason=f"replicates scikit-learn 1.9.1, found {sklearn.__version__}"
)


def data_sets() -> dict[str, np.ndarray]:
    rng = np.random.RandomState(123)
    n = 1000
    return {
        # 256 of 3030 rows: scikit-learn samples through permutation(n)[:256]
        "blobs": np.r_[rng.normal(size=(3000, 4)), rng.normal(5, 1, size=(30, 4))],
        # 256 of 40000 rows (ratio < 0.01): tracking selection
        "uniform_40k": rng.uniform(size=(40_000, 5)),
        # 250 rows: every row, no draws
        "small": rng.normal(size=(250, 3)),
        # constant columns: 1.0, 2.5 and 1.0 / 1.0000001 (one float32 ulp apart: constant in
        # scikit-learn's float32 test max <= min + 1e-7), beside few-valued and normal ones
        "constant_columns": np.c_[
            np.ones(n),
            rng.randint(0, 3, size=(n, 1)),
            np.full(n, 2.5),
            rng.normal(size=(n, 2)),
            np.r_[np.ones(n // 2), np.full(n // 2, 1.0000001)],
        ],
    }


def sklearn_trees(forest: SkForest) -> list[dict]:
    """scikit-learn's trees in model.json's form: breadth first, feature per node (None for a
    leaf, in the forest's columns), thresholds of splits, n_node_samples of leaves."""
    out = []
    for est, columns in zip(forest.estimators_, forest.estimators_features_):
        t = est.tree_
        feature, threshold, leaf_size, order = [], [], [], [0]
        for node in order:  # grows while iterating: breadth first
            if t.children_left[node] == -1:
                feature.append(None)
                leaf_size.append(int(t.n_node_samples[node]))
            else:
                feature.append(int(columns[t.feature[node]]))
                threshold.append(float(t.threshold[node]))
                order += [int(t.children_left[node]), int(t.children_right[node])]
        out.append({"feature": feature, "threshold": threshold, "leaf_size": leaf_size})
    return out


DATA = data_sets()


@pytest.mark.parametrize("name", sorted(DATA))
@pytest.mark.parametrize("seed", [0, 1, 4, 2024, 2**32 - 1])
@pytest.mark.parametrize("max_features", [1.0, 0.5])
def test_same_trees_and_scores_as_scikit_learn(name: str, seed: int, max_features: float) -> None:
    X = DATA[name]
    sk = SkForest(n_estimators=100, max_samples="auto", max_features=max_features, random_state=seed).fit(X)
    ours = iops.IsolationForest(n_estimators=100, max_samples="auto", max_features=max_features, random_state=seed).fit(X)
    trees = json.loads(ours.model_.to_json())["payload"]["trees"]
    want = sklearn_trees(sk)
    assert len(trees) == len(want) == 100
    for i, (got, exp) in enumerate(zip(trees, want)):
        assert got == exp, f"tree {i} differs"
    # score_samples: scikit-learn's per-leaf terms and power, in numpy: the same doubles.
    np.testing.assert_array_equal(ours.score_samples(X), sk.score_samples(X))
    # anomaly_score: Rust's ln and exp2 against numpy's log and power
    np.testing.assert_allclose(ours.anomaly_score(X), -sk.score_samples(X), rtol=8 * np.finfo(float).eps, atol=0)


def test_seeds_above_u32_seed_numpy_with_both_words() -> None:
    # numpy refuses integer seeds >= 2**32; ours seeds MT19937 as RandomState([lo, hi]), so
    # the per-tree seeds are RandomState([lo, hi]).randint(2**31 - 1, size=n_trees) and tree
    # i is what scikit-learn's bagging grows from seeds[i], replayed here step by step.
    X = DATA["blobs"]
    seed = 2**40 + 12345
    ours = iops.IsolationForest(n_estimators=3, random_state=seed).fit(X)
    seeds = np.random.RandomState([seed & 0xFFFFFFFF, seed >> 32]).randint(2**31 - 1, size=3)
    from sklearn.tree import ExtraTreeRegressor
    from sklearn.utils.random import sample_without_replacement

    trees = json.loads(ours.model_.to_json())["payload"]["trees"]
    for i, s in enumerate(seeds):
        rs = np.random.RandomState(s)
        tree_seed = np.random.RandomState(s).randint(2**31 - 1)
        sample_without_replacement(X.shape[1], X.shape[1], random_state=rs)
        rows = sample_without_replacement(X.shape[0], 256, random_state=rs)
        est = ExtraTreeRegressor(max_features=1, splitter="random", max_depth=8, random_state=tree_seed)
        y = np.random.RandomState(seed & 0xFFFFFFFF).uniform(size=X.shape[0])
        est.fit(X, y, sample_weight=np.bincount(rows, minlength=X.shape[0]))

        class _One:
            estimators_ = [est]
            estimators_features_ = [np.arange(X.shape[1])]

        assert trees[i] == sklearn_trees(_One())[0], f"tree {i}"
