"""generate_fleet: the seeded Rust generator as numpy columns."""

from __future__ import annotations

import numpy as np
import pytest

import iops


def test_fleet_columns_and_determinism() -> None:
    a = iops.generate_fleet(hosts=4, days=2.0, seed=5, incident_rate=2.0)
    n = 4 * 2 * 288
    assert a["values"].shape == (n, 4) and a["values"].dtype == np.float64
    assert a["host"].shape == a["timestamp"].shape == a["incident"].shape == (n,)
    assert a["metrics"] == ["cpuUsage", "memoryUsage", "diskIO", "networkIO"]
    assert len(a["hostnames"]) == 4 and a["hostnames"][0] == "web-1"
    v = a["values"]
    assert np.all((v[:, :2] >= 0) & (v[:, :2] <= 100)) and np.all(v[:, 2:] >= 0)
    assert np.all(np.diff(a["timestamp"]) >= 0)
    assert a["incidents"], "incident_rate 2/day over 2 days should schedule incidents"
    labelled = a["incident"] >= 0
    assert labelled.any()
    for i in np.flatnonzero(labelled)[:50]:
        inc = a["incidents"][a["incident"][i]]
        assert inc["host"] == a["host"][i] and inc["start"] <= a["timestamp"][i] < inc["end"]
    b = iops.generate_fleet(hosts=4, days=2.0, seed=5, incident_rate=2.0)
    np.testing.assert_array_equal(a["values"], b["values"])
    c = iops.generate_fleet(hosts=4, days=2.0, seed=6, incident_rate=2.0)
    assert not np.array_equal(a["values"], c["values"])


def test_fleet_params_are_checked() -> None:
    with pytest.raises(iops.InvalidParamError) as e:
        iops.generate_fleet(hosts=0)
    assert e.value.name == "hosts"
    with pytest.raises(iops.InvalidParamError) as e:
        iops.generate_fleet(kinds=["meteor"])
    assert e.value.name == "kinds"
    quiet = iops.generate_fleet(hosts=2, days=1.0, incident_rate=0.0)
    assert quiet["incidents"] == [] and np.all(quiet["incident"] == -1)


def test_fleet_keywords_are_the_same_for_both_functions(tmp_path) -> None:
    # an unknown keyword or a value of the wrong type is a TypeError naming it, in both
    def to_csv(**kw: object) -> object:
        return iops.write_fleet_csv(tmp_path / "f.csv", **kw)

    for call in (iops.generate_fleet, to_csv):
        with pytest.raises(TypeError, match="'host'"):
            call(host=2)
        with pytest.raises(TypeError, match="'days'"):
            call(hosts=1, days="two")
        with pytest.raises(iops.InvalidParamError) as e:
            call(hosts=0)
        assert e.value.name == "hosts"
    # None keeps the default, as an unset keyword does
    a = iops.generate_fleet(hosts=1, days=0.5, seed=None)
    b = iops.generate_fleet(hosts=1, days=0.5)
    np.testing.assert_array_equal(a["values"], b["values"])


def test_generate_training_data_script(tmp_path, root) -> None:
    import csv
    import json
    import subprocess
    import sys

    script = root / "python/scripts/generate-training-data.py"
    subprocess.run(
        [sys.executable, str(script), "--days", "1", "--hosts", "3", "--interval", "300",
         "--incident-rate", "4", "--output", str(tmp_path)],
        check=True, capture_output=True,
    )
    with (tmp_path / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 * 288
    assert list(rows[0]) == ["timestamp", "hostname", "cpuUsage", "memoryUsage", "diskIO", "networkIO",
                             "label", "incident", "incident_id"]
    incidents = json.loads((tmp_path / "incidents.json").read_text())
    labelled = [r for r in rows if r["label"] == "1"]
    assert incidents and labelled
    for r in labelled:
        inc = incidents[int(r["incident_id"])]
        assert inc["kind"] == r["incident"] and inc["hostname"] == r["hostname"]
    assert all(r["incident"] == r["incident_id"] == "" for r in rows if r["label"] == "0")
    assert json.loads((tmp_path / "fleet.json").read_text())["hosts"] == 3


def test_write_fleet_csv_is_the_generator_rounded_and_reads_back(tmp_path) -> None:
    params = {"hosts": 5, "days": 1.5, "interval_secs": 120, "seed": 11, "incident_rate": 3.0}
    fleet = iops.generate_fleet(**params)
    path = tmp_path / "metrics.csv"
    out = iops.write_fleet_csv(path, **params)
    n = len(fleet["host"])
    assert out["rows"] == n and out["bytes"] == path.stat().st_size
    assert out["labelled"] == int(np.sum(fleet["incident"] >= 0)) > 0
    assert out["incidents"] == fleet["incidents"] and out["hostnames"] == fleet["hostnames"]

    back = iops.read_metrics_csv(path)
    np.testing.assert_array_equal(back["timestamp"], fleet["timestamp"].astype(np.float64))
    assert back["hostnames"] == fleet["hostnames"]  # first appearance = index order, time-major
    np.testing.assert_array_equal(back["host"], fleet["host"])
    np.testing.assert_allclose(back["values"], fleet["values"], rtol=0, atol=0.0005 + 1e-9)
    np.testing.assert_array_equal(back["values"], np.round(fleet["values"], 3))
    np.testing.assert_array_equal(back["label"], (fleet["incident"] >= 0).astype(np.int8))
    text = path.read_text().splitlines()
    import re

    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", text[1].split(",")[0])
    cells = [c for line in text[1:200] for c in line.split(",")[2:6]]
    assert all(len(c.partition(".")[2]) <= 3 and not c.endswith("0") or "." not in c for c in cells)


def test_read_metrics_csv_errors_and_optional_columns(tmp_path) -> None:
    p = tmp_path / "m.csv"
    p.write_text("cpuUsage,memoryUsage,diskIO,networkIO\n1,2,3,4\n5,6,7,8\n")
    d = iops.read_metrics_csv(p)
    assert d["label"] is None and d["hostnames"] == [""]
    np.testing.assert_array_equal(d["timestamp"], [0.0, 300.0])
    np.testing.assert_array_equal(d["values"], [[1, 2, 3, 4], [5, 6, 7, 8]])
    p.write_text("timestamp,hostname,cpuUsage,memoryUsage,diskIO,networkIO\n1764000000,a,1,2,3,4\n"
                 "2026-11-26T17:00:00Z,b,1,2,x,4\n")
    with pytest.raises(iops.InvalidFieldError) as e:
        iops.read_metrics_csv(p)
    assert e.value.field.endswith("m.csv:3") and "diskIO" in str(e.value)
    p.write_text("cpuUsage,memoryUsage,diskIO\n1,2,3\n")
    with pytest.raises(iops.InvalidFieldError, match="networkIO"):
        iops.read_metrics_csv(p)
    with pytest.raises(FileNotFoundError):
        iops.read_metrics_csv(tmp_path / "missing.csv")
