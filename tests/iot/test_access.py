"""Counts, lists and filters over what the caller may see: operate figures, SensorThings entities and
$count, coarse positions and depths of restricted sensors, bbox and distance filters that cannot be used
to find an exact position, and query values of the wrong type answered with a 400."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient

from cim.access import COARSE_GRID_M, coarsen_geometry, coarsen_z
from cim.iot import datastream_id, latest, register_sensors, sensors_near, series, write_observations
from cim.iot.errors import EntityNotFound
from gis.crs import transformer
from tests.iot.test_write import obs

KEYS = {"admin-key-000001": "admin", "operator-key-0001": "operator", "viewer-key-00001": "viewer"}
HEADERS = {role: {"X-API-Key": key} for key, role in KEYS.items()} | {"anonymous": {}}
#: two gauges in the tunnel (restricted), 12 m apart inside one 50 m grid cell, at a depth
GAUGES = {"deep1": (515012.3, 3979963.1, -7.37), "deep2": (515024.6, 3979961.2, -7.81)}


@pytest.fixture
def client(iot_city):
    from tiles import create_app

    with TestClient(create_app(iot_city, api_keys=json.dumps(KEYS), prepare_tiles=False)) as c:
        yield c


@pytest.fixture
def readings(iot_city):
    """An hour of readings on the public dust sensor (12) and the restricted tunnel gas sensor (30)."""
    end = datetime.now(UTC).replace(microsecond=0)
    dust, gas = datastream_id(iot_city, "ws.dust"), datastream_id(iot_city, "tunnel.gas")
    write_observations(iot_city, obs([(dust, end - timedelta(minutes=5 * i), 40.0) for i in range(12)]
                                     + [(gas, end - timedelta(minutes=2 * i), 1.0) for i in range(30)]))
    return {"public": 12, "all": 42}


@pytest.fixture
def gauges(iot_city):
    register_sensors(iot_city, [{"key": k, "feature": "utility_tunnel.T1", "location": [x, y], "z": z,
                                 "datastreams": [{"key": f"{k}.level", "property": "water_level", "unit": "m"}]}
                                for k, (x, y, z) in GAUGES.items()])
    return GAUGES


def test_operate_figures_count_only_the_readings_the_role_may_see(client, readings):
    def figure(role: str) -> int:
        rows = client.get("/api/kpis", params={"mode": "operate"}, headers=HEADERS[role]).json()
        return next(k["value"] for k in rows if k["key"] == "readings_24h")

    assert figure("anonymous") == figure("viewer") == readings["public"]
    assert figure("operator") == figure("admin") == readings["all"]


def test_observation_counts_and_series_follow_visibility(client, iot_city, readings):
    def count(role: str) -> int:
        return client.get("/sta/v1.1/Observations", params={"$count": "true", "$top": "1"},
                          headers=HEADERS[role]).json()["@iot.count"]

    assert (count("anonymous"), count("admin")) == (readings["public"], readings["all"])
    gas = datastream_id(iot_city, "tunnel.gas")
    assert client.get(f"/api/sensors/{gas}/series").status_code == 404
    assert client.get(f"/api/sensors/{gas}/series", headers=HEADERS["admin"]).json()["values"]
    with pytest.raises(EntityNotFound):
        series(iot_city, gas, role="anonymous")


def test_sensors_and_observed_properties_are_those_of_datastreams_the_role_may_see(client):
    def names(path: str, role: str) -> set[str]:
        return {e["name"] for e in client.get(f"/sta/v1.1/{path}", headers=HEADERS[role]).json()["value"]}

    admin_props, anon_props = names("ObservedProperties", "admin"), names("ObservedProperties", "anonymous")
    assert {"Methane", "Water level"} <= admin_props and not {"Methane", "Water level"} & anon_props
    assert anon_props == {"PM10", "Noise level (LAeq)", "Crane hook load", "Pipe pressure"}
    admin_sensors, anon_sensors = names("Sensors", "admin"), names("Sensors", "anonymous")
    assert "methane sensor" in admin_sensors and "methane sensor" not in anon_sensors
    counted = client.get("/sta/v1.1/Sensors", params={"$count": "true"}).json()["@iot.count"]
    assert counted == len(anon_sensors)
    hidden = client.get("/sta/v1.1/Sensors", params={"$filter": "name eq 'methane sensor'"},
                        headers=HEADERS["admin"]).json()["value"][0]["@iot.id"]
    assert client.get(f"/sta/v1.1/Sensors({hidden})").status_code == 404
    assert client.get(f"/sta/v1.1/Sensors({hidden})", headers=HEADERS["operator"]).status_code == 200


def _coarse_lon_lat(city, x: float, y: float) -> tuple[float, float]:
    point = coarsen_geometry(shapely.Point(x, y))
    lon, lat = transformer(city.crs, "EPSG:4326").transform(point.x, point.y)
    return lon, lat


def test_locations_of_restricted_things_give_coarse_coordinates_and_rounded_depths(client, iot_city, gauges):
    def locations(role: str) -> dict:
        rows = client.get("/sta/v1.1/Locations", headers=HEADERS[role]).json()["value"]
        return {r["name"]: r["location"]["coordinates"] for r in rows}

    exact, coarse = locations("admin"), locations("operator")
    for key, (x, y, z) in gauges.items():
        name = f"location of {key}"
        assert exact[name][2] == pytest.approx(z) and coarse[name][2] == coarsen_z(z)
        assert coarse[name][:2] == pytest.approx(_coarse_lon_lat(iot_city, x, y), abs=1e-9)
        assert coarse[name][:2] != pytest.approx(exact[name][:2], abs=1e-9)
    assert coarse["location of deep1"][:2] == coarse["location of deep2"][:2]  # one cell, one answer
    assert "location of deep1" not in locations("anonymous")


def _cell_box(cx: float, cy: float, rng: np.random.Generator) -> tuple[float, float, float, float]:
    """A random small box near the grid cell centre (city CRS)."""
    x0, y0 = cx + rng.uniform(-40, 40), cy + rng.uniform(-40, 40)
    return x0, y0, x0 + rng.uniform(0.5, 30), y0 + rng.uniform(0.5, 30)


def test_a_bbox_cannot_find_a_restricted_position_below_the_grid(iot_city, gauges):
    ids = {k: datastream_id(iot_city, f"{k}.level") for k in gauges}
    (x1, y1, _), (x2, y2, _) = gauges["deep1"], gauges["deep2"]
    cell = coarsen_geometry(shapely.Point(x1, y1))
    assert cell.equals(coarsen_geometry(shapely.Point(x2, y2)))
    rng = np.random.default_rng(3)
    seen_by = {"operator": set(), "admin": set()}
    for _ in range(60):  # probing boxes: the operator's answer is the same for both gauges every time
        box = _cell_box(cell.x, cell.y, rng)
        got = set(latest(iot_city, bbox=box, role="operator", datastreams=list(ids.values()))["datastream_id"]
                  .to_pylist())
        assert got in (set(), set(ids.values())), f"{box} tells the gauges apart"
        inside_cell = box[0] <= cell.x <= box[2] and box[1] <= cell.y <= box[3]
        assert bool(got) == inside_cell
        seen_by["operator"].add(len(got))
        exact = latest(iot_city, bbox=box, role="admin", datastreams=list(ids.values()))["datastream_id"].to_pylist()
        seen_by["admin"].add(len(exact))
    assert seen_by["operator"] == {0, 2} and 1 in seen_by["admin"]  # the exact view could tell them apart
    tight = (x1 - 0.5, y1 - 0.5, x1 + 0.5, y1 + 0.5)  # around the exact spot, away from the cell centre
    assert latest(iot_city, bbox=tight, role="operator").num_rows == 0
    assert latest(iot_city, bbox=tight, role="admin")["datastream_id"].to_pylist() == [ids["deep1"]]


def test_the_http_bbox_filters_on_the_coarse_position(client, iot_city, gauges):
    x, y, _ = gauges["deep1"]
    lon, lat = transformer(iot_city.crs, "EPSG:4326").transform(x, y)
    tight = f"{lon - 2e-6},{lat - 2e-6},{lon + 2e-6},{lat + 2e-6}"
    operator = client.get("/api/sensors/latest", params={"bbox": tight}, headers=HEADERS["operator"]).json()
    admin = client.get("/api/sensors/latest", params={"bbox": tight}, headers=HEADERS["admin"]).json()
    assert operator == [] and [r["key"] for r in admin] == ["deep1.level"]
    clon, clat = _coarse_lon_lat(iot_city, x, y)
    around_cell = f"{clon - 2e-6},{clat - 2e-6},{clon + 2e-6},{clat + 2e-6}"
    both = client.get("/api/sensors/latest", params={"bbox": around_cell}, headers=HEADERS["operator"]).json()
    assert {r["key"] for r in both} == {"deep1.level", "deep2.level"}


def test_distances_to_restricted_sensors_are_measured_from_the_coarse_position(iot_city, gauges):
    x, y, _ = gauges["deep1"]
    probe = shapely.Point(x + 3, y).wkt
    exact = {r["key"]: r["distance"] for r in sensors_near(iot_city, probe, 100, crs=iot_city.crs, role="admin")
             .to_pylist()}
    coarse = {r["key"]: r["distance"] for r in sensors_near(iot_city, probe, 100, crs=iot_city.crs, role="operator")
              .to_pylist()}
    cell = coarsen_geometry(shapely.Point(x, y))
    assert exact["deep1"] == pytest.approx(3)
    assert coarse["deep1"] == pytest.approx(cell.distance(shapely.Point(x + 3, y))) == coarse["deep2"]
    assert COARSE_GRID_M == 50


@pytest.mark.parametrize("path, query, words", [
    ("Observations", {"$filter": "result gt 'abc'"}, "result is a number"),
    ("Things", {"$filter": "id gt 'abc'"}, "id is a number"),
    ("Things", {"$filter": "id gt abc"}, "bad value 'abc' for id"),
    ("Things", {"$filter": "name eq 5"}, "name is a text"),
    ("Things", {"$filter": "id gt 99999999999999999999999"}, None),
    ("Observations", {"$filter": "result gt nan"}, "bad value 'nan'"),
    ("Observations", {"$filter": "phenomenonTime gt 'abc'"}, "bad time"),
])
def test_filter_values_of_the_wrong_type_get_a_400_with_the_reason(client, path, query, words):
    answer = client.get(f"/sta/v1.1/{path}", params=query, headers=HEADERS["admin"])
    if words is None:  # a number beyond 64 bits is still a number
        assert answer.status_code == 200
        return
    assert answer.status_code == 400, answer.text
    assert words in answer.json()["detail"]


def test_the_live_stream_carries_only_the_events_the_role_may_see(client, iot_city):
    import threading
    import time

    gas, dust = datastream_id(iot_city, "tunnel.gas"), datastream_id(iot_city, "ws.dust")
    when = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()

    def post_later() -> None:
        time.sleep(0.5)
        for ds in (gas, dust):  # the restricted one first: an anonymous stream must skip it
            client.post(f"/sta/v1.1/Datastreams({ds})/Observations", headers=HEADERS["operator"],
                        json=[{"phenomenonTime": when, "result": 5}])

    threading.Thread(target=post_later).start()
    with client.stream("GET", "/api/events") as stream:
        first = next(json.loads(line[len("data: "):]) for line in stream.iter_lines() if line.startswith("data:"))
    assert first["datastream_id"] == dust
