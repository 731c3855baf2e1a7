"""Fixtures of the server tests: one small demo city (plus an internal layer), keys for every role,
and an app around it served through FastAPI's TestClient — once per storage backend.

The demo city is built once, in a DuckDB file (``demo_path``); each backend serves a copy of it —
a copied file, or a fresh PostgreSQL database filled by ``cim.copy`` — so both serve the same rows.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import BACKENDS

KEYS = {
    "viewer-key-0001": "viewer",
    "operator-key-0001": "operator",
    "planner-key-0001": "planner",
    "admin-key-000001": "admin",
}


def headers(role: str) -> dict[str, str]:
    """The X-API-Key header of a role (none for anonymous)."""
    for key, value in KEYS.items():
        if value == role:
            return {"X-API-Key": key}
    return {}


def _internal_layer(folder: Path) -> Path:
    """A tiny GeoJSON of inspection points, ingested as an internal layer."""
    features = [{"type": "Feature", "properties": {"point_id": f"I{i}", "name": f"检查井{i}", "depth": 2.0 + i},
                 "geometry": {"type": "Point", "coordinates": [120.170 + i * 0.001, 35.948]}} for i in range(5)]
    path = folder / "inspections.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False),
                    encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def demo_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo city (about 400 buildings) with an extra internal layer, closed after building."""
    from cim.demo import build_demo

    folder = tmp_path_factory.mktemp("served")
    path = folder / "city.duckdb"
    city = build_demo(path, scale=400)
    try:
        city.ingest(_internal_layer(folder), layer="inspections", classification="internal",
                    feature_class="Inspection", phase="operate", id_field="point_id")
    finally:
        city.close()
    return path


def file_copy(source: Path, folder: Path) -> Path:
    """A copy of the DuckDB city ``source`` (and its side files, caches left out) in ``folder``."""
    target = folder / source.name
    shutil.copy(source, target)
    shutil.copytree(source.with_name(source.name + ".data"), target.with_name(target.name + ".data"),
                    ignore=shutil.ignore_patterns("tiles", "3dtiles"))
    return target


@pytest.fixture(scope="session", params=BACKENDS)
def served_backend(request: pytest.FixtureRequest) -> str:
    """The backend the session's served city lives in (each in turn)."""
    return request.param


@pytest.fixture(scope="session")
def postgis_demo(demo_path: Path, tmp_path_factory: pytest.TempPathFactory,
                 postgis_server) -> Callable[[], str]:
    """A factory of PostGIS copies of the demo city, each in a new database (its URL)."""
    from cim.copy import copy_city

    def make() -> str:
        url = postgis_server.database()
        copy_city(demo_path, url)
        return url

    with pytest.MonkeyPatch.context() as mp:  # side files of database cities go to a temp folder
        mp.setenv("CIM_DATA_DIR", str(tmp_path_factory.mktemp("cim-data")))
        yield make


@pytest.fixture(scope="session")
def demo_copy(demo_path: Path, served_backend: str, tmp_path_factory: pytest.TempPathFactory,
              request: pytest.FixtureRequest) -> Callable[[], str | Path]:
    """A factory of fresh copies of the demo city on the served backend (a file, or a new database)."""
    if served_backend == "postgis":
        return request.getfixturevalue("postgis_demo")

    return lambda: file_copy(demo_path, tmp_path_factory.mktemp("copy"))


@pytest.fixture(scope="session")
def served_location(demo_copy: Callable[[], str | Path]) -> str | Path:
    """Where the served demo city lives: a copy (tests change it; ``demo_path`` stays as built)."""
    return demo_copy()


@pytest.fixture(scope="session")
def app(served_location: str | Path, tmp_path_factory: pytest.TempPathFactory):
    """The server app over the demo city (tiles prepared on demand, into the city's own store)."""
    from tiles import Settings, create_app

    settings = Settings(city=served_location, api_keys=json.dumps(KEYS), prepare_tiles=False,
                        viewer_dist=tmp_path_factory.mktemp("no-viewer") / "dist", max_body_bytes=4096)
    return create_app(settings)


@pytest.fixture(scope="session")
def client(app):
    """A TestClient with the app's lifespan running for the whole session."""
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="session")
def served_city(client, app):
    """The server's own open city (same process, same connection)."""
    return app.state.city
