"""InsightEngine: metric dicts in, assessments and insight dicts (wire shape) out."""

from __future__ import annotations

import json

import numpy as np
import pytest

import iops


def quiet_host_with_spike() -> list[dict]:
    """The core's doctest: a quiet host, CPU 40% ± a little, one sample at 97%."""
    return [
        {
            "timestamp": 1_764_000_000 + minute * 300,
            "hostname": "web-1",
            "cpuUsage": 97.0 if minute == 550 else 40.0 + minute % 7,
            "memoryUsage": 60,
            "diskIO": 100,
            "networkIO": 50,
        }
        for minute in range(600)
    ]


def test_one_spike_one_insight_in_wire_shape() -> None:
    engine = iops.InsightEngine()
    insights = []
    for sample in quiet_host_with_spike():
        out = engine.process(sample)
        assert set(out) == {"score", "metrics", "insights"}
        assert list(out["metrics"]) == ["cpuUsage", "memoryUsage", "diskIO", "networkIO"]
        assert 0.0 <= out["score"] < 1.0
        insights.extend(out["insights"])
    assert len(insights) == 1
    i = insights[0]
    assert i["type"] == "cpu_spike" and i["hostname"] == "web-1" and i["metric"] == "cpuUsage"
    assert i["value"] == 97.0 and i["severity"] in {"info", "warning", "critical"}
    assert {"message", "expected", "score", "detector", "timestamp"} <= set(i)
    json.dumps(insights)  # plain JSON-able values


def test_process_many_equals_process_and_accepts_json_text() -> None:
    samples = quiet_host_with_spike()
    a, b = iops.InsightEngine(), iops.InsightEngine()
    scores, insights = a.process_many(samples)
    looped = [b.process(json.dumps(s)) for s in samples]
    np.testing.assert_array_equal(scores, [o["score"] for o in looped])
    assert insights == [i for o in looped for i in o["insights"]]
    assert scores[550] == scores.max()


def test_params_are_the_rust_defaults_and_kwargs_override() -> None:
    defaults = iops.InsightEngine.default_params()
    assert iops.InsightEngine().params == defaults
    assert defaults["window"] == 288 and defaults["info_score"] == 0.33
    e = iops.InsightEngine(window=100, season=0)
    assert e.params == {**defaults, "window": 100, "season": 0}


def test_host_state_restores() -> None:
    samples = quiet_host_with_spike()
    a = iops.InsightEngine()
    a.process_many(samples[:300])
    state = a.host_state("web-1")
    assert a.host_state("db-1") is None
    b = iops.InsightEngine()
    b.restore_host("web-1", state)
    assert b.hosts() == ["web-1"]
    np.testing.assert_array_equal(a.process_many(samples[300:])[0], b.process_many(samples[300:])[0])


def test_score_series() -> None:
    t = np.arange(500) * 300.0
    v = 50 + np.sin(np.arange(500) / 10.0)
    v[400] = 90.0
    s = iops.score_series(t, v, season=0)
    assert s.shape == (500,) and np.all((s >= 0) & (s < 1))
    assert int(np.argmax(s)) == 400
    np.testing.assert_array_equal(s, iops.score_series(t, v, season=0))
    with pytest.raises(TypeError):
        iops.score_series(t, v, nope=1)
