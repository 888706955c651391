"""ZScore and Ewma: the core's documented arithmetic, through the binding."""

from __future__ import annotations

import math

import numpy as np
import pytest

import iops


def test_zscore_doc_example() -> None:
    z = iops.ZScore(window=5, min_samples=3)
    for x in (10.0, 12.0, 11.0, 13.0):
        z.update(x)
    assert z.is_warm and z.expected == 11.5 and len(z) == 4
    s = z.score_and_update(20.0)
    assert s == pytest.approx(8.5 / math.sqrt(5.0 / 3.0), abs=1e-12)
    assert z.params == {"window": 5, "min_samples": 3, "robust": False, "min_spread": 0.0}


def test_ewma_doc_example() -> None:
    e = iops.Ewma(alpha=0.5, warmup=2)
    e.update(10.0)
    e.update(12.0)
    assert (e.expected, e.spread, e.variance) == (11.0, 1.0, 1.0)
    assert e.score_and_update(13.0) == 2.0
    assert e.params["alpha"] == 0.5 and e.params["warmup"] == 2


def test_defaults_are_the_rust_defaults() -> None:
    assert iops.ZScore().params == {"window": 100, "min_samples": 30, "robust": False, "min_spread": 0.0}
    p = iops.Ewma().params
    assert p["half_life"] == 30.0 and p["warmup"] == 30


def test_batch_equals_loop_and_reset() -> None:
    xs = np.random.default_rng(3).normal(size=400)
    for make in (lambda: iops.ZScore(window=40), lambda: iops.ZScore(window=40, robust=True), lambda: iops.Ewma(half_life=8.0)):
        a, b = make(), make()
        batch = a.score_and_update_many(xs)
        loop = [b.score_and_update(float(x)) for x in xs]
        np.testing.assert_array_equal(batch, loop)
        assert a.n_seen == 400 and a.is_warm
        assert a.score(1.0) == b.score(1.0)
        a.reset()
        assert a.n_seen == 0 and not a.is_warm
        # strided input is read the same
        np.testing.assert_array_equal(make().score_and_update_many(xs[::2]), make().score_and_update_many(xs[::2].copy()))


def test_batch_stops_at_non_finite() -> None:
    z = iops.ZScore(window=10)
    with pytest.raises(iops.NonFiniteError):
        z.score_and_update_many(np.array([1.0, 2.0, math.nan, 4.0]))
    assert z.n_seen == 2
