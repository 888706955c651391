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
        assert set(out) == {"score", "forest", "metrics", "insights"} and out["forest"] is None
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


def test_a_memory_leak_gets_one_capacity_forecast_with_its_eta() -> None:
    # two calm days, then memory climbs 6 points an hour from 55 %: 95 % in under 7 hours
    day = 288
    samples = [
        {
            "timestamp": 1_764_000_000 + i * 300,
            "hostname": "db-3",
            "cpuUsage": 30.0 + 10.0 * np.sin(2 * np.pi * i / day) + (i * 7919 % 13) / 13,
            "memoryUsage": 55.0 + (i * 104729 % 11) / 11 + max(0, i - 2 * day) * 0.5,
            "diskIO": 100,
            "networkIO": 50,
        }
        for i in range(2 * day + 84)
    ]
    _, insights = iops.InsightEngine().process_many(samples)
    forecasts = [i for i in insights if i["type"] == "capacity_forecast"]
    assert len(forecasts) == 1, forecasts
    f = forecasts[0]
    assert f["metric"] == "memoryUsage" and f["severity"] == "warning"
    soonest, latest = f["etaIntervalSeconds"]
    assert soonest <= f["etaSeconds"] <= latest
    # the truth: 95 % is reached about 80 samples (6 h 40 min) into the leak
    told = f["timestamp"]
    told = _epoch(told) if isinstance(told, str) else told
    truth = samples[2 * day]["timestamp"] + 80 * 300 - told
    assert abs(f["etaSeconds"] - truth) <= 0.25 * truth, (f["etaSeconds"], truth)
    assert f["message"].startswith("memoryUsage on db-3 reaches 95% in about ")


def _epoch(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_params_are_the_rust_defaults_and_kwargs_override() -> None:
    defaults = iops.InsightEngine.default_params()
    assert iops.InsightEngine().params == defaults
    assert defaults["window_seconds"] == 86400 and defaults["info_score"] == 0.35
    e = iops.InsightEngine(window_seconds=3600, season_seconds=0)
    assert e.params == {**defaults, "window_seconds": 3600, "season_seconds": 0}


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
    s = iops.score_series(t, v, season_seconds=0)
    assert s.shape == (500,) and np.all((s >= 0) & (s < 1))
    assert int(np.argmax(s)) == 400
    np.testing.assert_array_equal(s, iops.score_series(t, v, season_seconds=0))
    with pytest.raises(TypeError):
        iops.score_series(t, v, nope=1)


KEYS = ["cpuUsage", "memoryUsage", "diskIO", "networkIO"]


@pytest.fixture(scope="module")
def host_forest() -> iops.ForestModel:
    """A fleet forest on host-standardised features of a quiet synthetic fleet."""
    f = iops.generate_fleet(hosts=4, days=4.0, seed=3, incident_rate=0.0)
    x = iops.host_features(f["timestamp"].astype(np.float64), f["host"], f["values"])
    x = np.ascontiguousarray(x[~np.isnan(x[:, 0])])
    return iops.ForestModel.fit(x, feature_names=iops.HOST_FEATURES, contamination=0.01, seed=1)


def run_with_combination(engine: iops.InsightEngine, z: float) -> dict:
    """Feeds 700 quiet samples of a synthetic host, then one whose four metrics are each
    `z` spreads off their expectation (cpu and disk up, memory and network down): moderate
    for each metric's own model, a combination the fleet never shows. Returns the last output."""
    g = iops.generate_fleet(hosts=1, days=3.0, seed=9, incident_rate=0.0)
    out: dict = {}
    for i in range(701):
        v = g["values"][i]
        s = {"timestamp": int(g["timestamp"][i]), "hostname": "web-1", **dict(zip(KEYS, map(float, v)))}
        if i == 700:
            for k, sign in zip(KEYS, [1, -1, 1, -1]):
                o = out["metrics"][k]
                s[k] = float(np.clip(o["expected"] + sign * z * o["spread"], 0.0, 100.0 if k in KEYS[:2] else None))
        out = engine.process(s)
    return out


def test_engine_with_a_host_forest_raises_multi_metric_anomalies(host_forest) -> None:
    plain = run_with_combination(iops.InsightEngine(), 4.0)
    assert plain["insights"] == [] and plain["forest"] is None
    assert max(plain["metrics"][k]["score"] for k in KEYS) < 0.33  # no metric's own insight

    # the combination is one sample: raised without waiting for a second to confirm it
    engine = iops.InsightEngine(model=host_forest, confirm_seconds=0)
    assert engine.model is not None and engine.model.feature_names == iops.HOST_FEATURES
    out = run_with_combination(engine, 4.0)
    assert out["forest"] > host_forest.training["score_quantiles"][-1]["score"]
    assert [i["type"] for i in out["insights"]] == ["multi_metric_anomaly"]
    drivers = out["insights"][0]["drivers"]
    assert sorted(d["metric"] for d in drivers) == sorted(KEYS)
    assert abs(sum(d["share"] for d in drivers) - 1.0) < 1e-9
    # the metrics' own view is unchanged by the forest
    assert out["score"] == plain["score"]


def test_metric_insights_name_the_forest_drivers(host_forest) -> None:
    engine = iops.InsightEngine(model=iops.IsolationForest.from_model(host_forest))
    samples = quiet_host_with_spike()
    samples[550]["networkIO"] = 5.0  # CPU up and network down together
    insights = [i for s in samples for i in engine.process(s)["insights"]]
    assert insights and all(i["drivers"] for i in insights)
    assert {d["metric"] for d in insights[0]["drivers"][:2]} == {"cpuUsage", "networkIO"}
    assert all("drivers" not in i or not i["drivers"] for i in iops.InsightEngine().process_many(samples)[1])


def test_engine_model_must_be_a_host_forest_and_pickles(host_forest) -> None:
    import pickle

    raw = iops.IsolationForest(seed=0).fit(np.random.default_rng(0).normal(size=(100, 4)))
    with pytest.raises(iops.InvalidFieldError) as e:
        iops.InsightEngine(model=raw)
    assert e.value.field == "feature_names"
    with pytest.raises(TypeError):
        iops.InsightEngine(model="model.json")
    engine = iops.InsightEngine(model=host_forest, window_seconds=60_000)
    samples = quiet_host_with_spike()
    engine.process_many(samples[:400])
    copy = pickle.loads(pickle.dumps(engine))
    assert copy.model.to_json() == host_forest.to_json() and copy.params == engine.params
    a, b = engine.process_many(samples[400:]), copy.process_many(samples[400:])
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1] == b[1]


def test_host_features_are_the_engines_training_features() -> None:
    f = iops.generate_fleet(hosts=3, days=2.0, seed=4, incident_rate=1.0)
    x = iops.host_features(f["timestamp"].astype(np.float64), f["host"], f["values"])
    assert x.shape == (len(f["host"]), 4)
    ok = ~np.isnan(x[:, 0])
    assert np.isnan(x[~ok]).all() and 0 < ok.sum() < len(ok)
    names = np.asarray(f["hostnames"])[f["host"]]
    samples = [
        {"timestamp": int(t), "hostname": str(h), **dict(zip(KEYS, map(float, v)))}
        for t, h, v in zip(f["timestamp"], names, f["values"])
    ]
    reference = iops.training_features(samples)
    order = np.lexsort((f["timestamp"], names))  # training_features: by hostname, then time
    np.testing.assert_array_equal(x[order][ok[order]], reference)
    # rows in any order give the same features per row
    perm = np.random.default_rng(1).permutation(len(ok))
    y = iops.host_features(f["timestamp"][perm].astype(np.float64), f["host"][perm], f["values"][perm])
    np.testing.assert_array_equal(y, x[perm])
    with pytest.raises(iops.ShapeError):
        iops.host_features(f["timestamp"][:5].astype(np.float64), f["host"][:4], f["values"][:5])
    bad = f["values"].copy()
    bad[10, 2] = -1.0
    with pytest.raises(iops.InvalidFieldError) as e:
        iops.host_features(f["timestamp"].astype(np.float64), f["host"], bad)
    assert "row 10" in e.value.field and "diskIO" in e.value.field
