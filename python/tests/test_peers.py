"""iops.PeerGroups: a fleet's peer groups fitted, inspected, carried by a model, and refused
with the field named when they are not right."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

import iops


@pytest.fixture(scope="module")
def fleet() -> dict:
    """12 hosts (6 web, 3 db, 3 batch), 2 quiet days of 5-minute samples."""
    return iops.generate_fleet(hosts=12, days=2.0, seed=11, incident_rate=0.0)


@pytest.fixture(scope="module")
def groups(fleet) -> iops.PeerGroups:
    return iops.PeerGroups.fit(
        fleet["timestamp"].astype(np.float64), fleet["host"], fleet["values"], fleet["hostnames"]
    )


def test_a_fleet_of_roles_makes_one_group_per_role(fleet, groups) -> None:
    by_name = {g["name"]: sorted(g["hosts"]) for g in groups.groups}
    roles: dict[str, list[str]] = {}
    for name, role in zip(fleet["hostnames"], fleet["roles"]):
        roles.setdefault(role, []).append(name)
    assert by_name == {role: sorted(hosts) for role, hosts in roles.items()}
    assert len(groups) == 3 and groups.silhouette > 0.25
    assert groups.group_of("db-2") == "db" and groups.group_of("db-99") is None
    assert "web (6)" in repr(groups)
    # a web host's first samples in the afternoon fit the web group
    web = [i for i, r in enumerate(fleet["roles"]) if r == "web"][0]
    rows = np.flatnonzero(fleet["host"] == web)[160:163]
    assert groups.nearest(fleet["timestamp"][rows].astype(np.float64), fleet["values"][rows]) == "web"
    # the web group's CPU follows its day: busier in the afternoon than at night
    day = float(fleet["timestamp"][0]) - float(fleet["timestamp"][0]) % 86400
    night, _ = groups.expected("web", "cpuUsage", day + 3 * 3600)
    afternoon, spread = groups.expected("web", "cpuUsage", day + 14 * 3600)
    assert afternoon > night + 5 and spread > 0


def test_groups_round_trip_and_ride_in_the_model(groups, tmp_path) -> None:
    back = iops.PeerGroups.from_json(groups.to_json())
    assert back.to_json() == groups.to_json()
    assert pickle.loads(pickle.dumps(groups)).to_json() == groups.to_json()
    x = np.random.default_rng(0).normal(size=(300, 4))
    model = iops.ForestModel.fit(x, feature_names=iops.HOST_FEATURES, n_trees=10, seed=1)
    assert model.peer_groups is None
    carried = model.with_peer_groups(groups)
    assert carried.peer_groups.to_json() == groups.to_json()
    doc = json.loads(carried.to_json())
    assert doc["format_version"] == 2 and doc["payload"]["peer_groups"]["groups"][0]["name"] == "batch"
    loaded = iops.ForestModel.from_json(carried.to_json())
    assert loaded.peer_groups.to_json() == groups.to_json()
    assert carried.with_peer_groups(None).peer_groups is None
    iops.InsightEngine(model=carried)  # the engine takes it


def test_bad_input_names_the_field(fleet, groups) -> None:
    ts = fleet["timestamp"].astype(np.float64)
    one = fleet["host"] == 0
    with pytest.raises(iops.InvalidFieldError) as e:
        iops.PeerGroups.fit(ts[one], fleet["host"][one], fleet["values"][one], fleet["hostnames"])
    assert e.value.field == "samples"
    with pytest.raises(iops.InvalidParamError) as e:
        iops.PeerGroups.fit(ts, fleet["host"], fleet["values"], fleet["hostnames"], max_groups=0)
    assert e.value.name == "max_groups"
    with pytest.raises(iops.InvalidFieldError) as e:
        iops.PeerGroups.fit(ts, fleet["host"], fleet["values"], fleet["hostnames"][:2])
    assert e.value.field.startswith("host[")
    with pytest.raises(iops.ShapeError):
        iops.PeerGroups.fit(ts[:-1], fleet["host"], fleet["values"], fleet["hostnames"])
    bad = fleet["values"].copy()
    bad[5, 0] = 140.0
    with pytest.raises(iops.InvalidFieldError) as e:
        iops.PeerGroups.fit(ts, fleet["host"], bad, fleet["hostnames"])
    assert e.value.field == "samples[5].cpuUsage"
    doc = json.loads(groups.to_json())
    doc["groups"][1]["baseline"][2]["spread"][0] = -1.0
    with pytest.raises(iops.InvalidFieldError) as e:
        iops.PeerGroups.from_json(json.dumps(doc))
    assert e.value.field == "peer_groups.groups[1].baseline[2].spread"
    with pytest.raises(iops.InvalidFieldError) as e:
        groups.expected("nope", "cpuUsage", 0.0)
    assert e.value.field == "group"
    with pytest.raises(iops.InvalidFieldError) as e:
        groups.expected("web", "cpu", 0.0)
    assert e.value.field == "metric"


def test_the_engine_places_a_new_host_and_shows_its_shift(fleet, groups) -> None:
    x = iops.host_features(fleet["timestamp"].astype(np.float64), fleet["host"], fleet["values"])
    x = np.ascontiguousarray(x[~np.isnan(x[:, 0])])
    model = iops.ForestModel.fit(x, feature_names=iops.HOST_FEATURES, n_trees=20, seed=1).with_peer_groups(groups)
    engine = iops.InsightEngine(model=model)
    keys = ["cpuUsage", "memoryUsage", "diskIO", "networkIO"]
    db = fleet["hostnames"].index("db-1")
    rows = np.flatnonzero(fleet["host"] == db)[:40]
    for name in ("db-1", "db-new"):  # the same samples: a host the groups know, and a newcomer
        for i in rows:
            engine.process({"timestamp": int(fleet["timestamp"][i]), "hostname": name,
                            **dict(zip(keys, map(float, fleet["values"][i])))})
    known, new = engine.peer_shift("db-1"), engine.peer_shift("db-new")
    assert known["group"] == new["group"] == "db"
    assert (known["placed"], new["placed"]) == (False, True)
    assert set(new["shift"]) == set(keys) and all(np.isfinite(v) for v in new["level"].values())
    assert engine.peer_shift("nobody") is None
    assert iops.InsightEngine().peer_shift("db-1") is None
