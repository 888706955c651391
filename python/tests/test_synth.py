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
    assert list(rows[0]) == ["timestamp", "hostname", "cpuUsage", "memoryUsage", "diskIO", "networkIO", "label", "incident"]
    incidents = json.loads((tmp_path / "incidents.json").read_text())
    labelled = [r for r in rows if r["label"] == "1"]
    assert incidents and labelled and all(r["incident"] for r in labelled)
    assert all(r["incident"] == "" for r in rows if r["label"] == "0")
    assert json.loads((tmp_path / "fleet.json").read_text())["hosts"] == 3
