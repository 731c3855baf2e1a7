"""Fixtures of the IoT tests: a small city with a worksite parcel, a pipe and a utility tunnel, and
sensors bound to them."""

from __future__ import annotations

import itertools
import os
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import LineString, box

T0 = datetime(2026, 5, 1, 0, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    """``T0`` plus some minutes."""
    return T0 + timedelta(minutes=minutes)


def _layer(city, tmp: Path, name: str, cls: str, geoms: list, ids: list[str], classification: str = "public",
           **cols) -> None:
    frame = gpd.GeoDataFrame({"fid": ids, **cols}, geometry=geoms, crs=city.crs)
    path = tmp / f"{name}.parquet"
    frame.to_parquet(path)
    city.ingest(path, layer=name, feature_class=cls, id_field="fid", phase="manage", classification=classification)


@pytest.fixture(scope="session")
def iot_template(tmp_path_factory) -> Path:
    """The IoT test city, built once per session; tests get a copy (``iot_city``)."""
    import cim

    folder = tmp_path_factory.mktemp("iot-template")
    city = cim.create(folder / "city.duckdb")
    try:
        _populate(city, folder)
    finally:
        city.close()
    return folder / "city.duckdb"


@pytest.fixture(scope="session")
def iot_pg_template(postgis_server, tmp_path_factory) -> str:
    """The IoT test city in a PostGIS database, built once per session; tests get a copy."""
    import cim

    folder = tmp_path_factory.mktemp("iot-pg-template")
    url = postgis_server.database()
    city = cim.create(url)
    try:
        _populate(city, folder)
    finally:
        city.close()  # a template database must have no connections to be copied
    return url


_copies = itertools.count(1)


def _copy_database(server, template_url: str) -> str:
    import psycopg

    template = template_url.rsplit("/", 1)[1]
    name = f"{template}_copy{next(_copies)}"
    with psycopg.connect(server.url("postgres"), autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    return server.url(name)


@pytest.fixture
def iot_location(backend, tmp_path, request) -> str | Path:
    """A fresh copy of the IoT test city on ``backend``: a file path, or a database's URL."""
    if backend == "postgis":
        request.getfixturevalue("monkeypatch").setenv("CIM_DATA_DIR", str(tmp_path / "cim-data"))
        return _copy_database(request.getfixturevalue("postgis_server"), request.getfixturevalue("iot_pg_template"))
    path = tmp_path / "city.duckdb"
    shutil.copy(request.getfixturevalue("iot_template"), path)
    return path


@pytest.fixture
def iot_city(iot_location):
    """A city with parcels (one a worksite), a water pipe and a (restricted) tunnel, and six sensors;
    on each backend in turn (a DuckDB file, then a PostGIS database).

    Datastream keys: ws.dust (pm10, ug/m3), ws.noise (dB{A}), ws.crane (t), pipe.p (kPa),
    tunnel.gas (%{LEL}), tunnel.level (m).
    """
    import cim

    city = cim.open(iot_location)
    yield city
    city.close()


def _populate(city, tmp_path: Path) -> None:
    from cim.iot import register_sensors

    x0, y0 = 515000.0, 3980000.0
    _layer(city, tmp_path, "parcels", "Parcel", [box(x0, y0, x0 + 100, y0 + 100),
                                                  box(x0 + 200, y0, x0 + 300, y0 + 100)], ["P1", "P2"])
    _layer(city, tmp_path, "pipes", "Pipe", [LineString([(x0, y0 - 20), (x0 + 300, y0 - 20)])], ["W1"],
           network=["water"])
    _layer(city, tmp_path, "utility_tunnel", "UtilityTunnel",
           [LineString([(x0, y0 - 40), (x0 + 300, y0 - 40)])], ["T1"], classification="restricted")
    register_sensors(city, [
        {"key": "ws", "name": "Worksite monitor", "feature": "parcels.P1", "datastreams": [
            {"key": "ws.dust", "property": "pm10", "unit": "ug/m3"},
            {"key": "ws.noise", "property": "noise", "unit": "dB{A}"},
            {"key": "ws.crane", "property": "crane_load", "unit": "t"}]},
        {"key": "pipe", "name": "Pressure meter", "feature": "pipes.W1", "location": {"along": 0.5},
         "datastreams": [{"key": "pipe.p", "property": "pressure", "unit": "kPa"}]},
        {"key": "tunnel", "name": "Tunnel gauge", "feature": "utility_tunnel.T1", "location": {"along": 0.25},
         "datastreams": [{"key": "tunnel.gas", "property": "methane"},
                         {"key": "tunnel.level", "property": "water_level", "unit": "m"}]},
    ])


@pytest.fixture
def broker(tmp_path):
    """A real mosquitto on a free loopback port, its data in tmp_path (skipped when not installed)."""
    if not shutil.which("mosquitto") and not Path("/usr/sbin/mosquitto").exists():
        if os.environ.get("CI") == "true":
            pytest.fail("mosquitto is missing: run scripts/install-system.sh")
        pytest.skip("mosquitto is not installed")
    from cim.iot.broker import LocalBroker

    with LocalBroker(tmp_path / "broker") as b:
        yield b


def wait_for(predicate, timeout: float = 30.0) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` seconds pass; its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()
