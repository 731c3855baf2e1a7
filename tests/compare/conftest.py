"""Fixtures of the compare tests: a city whose buildings layer was ingested twice with known edits
(and a restricted pipes layer ingested twice), and a server over it — on each backend."""

from __future__ import annotations

import json

import pytest

import cim
from tests.compare.helpers import box, buildings, edited, write
from tests.tiles.conftest import KEYS


def pipes(moved: float = 0.0) -> list[dict]:
    """Two restricted gas pipes; ``moved`` shifts p1 east and changes its pressure."""
    return [{"id": "p0", "network": "gas", "pressure": 0.4, "geometry": box(515000, 3980100, 5, 5)},
            {"id": "p1", "network": "gas", "pressure": 0.4 if not moved else 0.8,
             "geometry": box(515100 + moved, 3980100, 5, 5)}]


@pytest.fixture
def two_versions_at(city_location, tmp_path):
    """Where a city is (closed) with buildings v1 → v2 (the edits of ``helpers.edited``) and pipes v1 → v2."""
    location = city_location()
    with cim.create(location) as city:
        city.ingest(write(tmp_path / "v1.geojson", buildings()), layer="buildings")
        city.ingest(write(tmp_path / "p1.geojson", pipes()), layer="pipes", classification="restricted")
        city.ingest(write(tmp_path / "v2.geojson", edited(buildings())), layer="buildings")
        city.ingest(write(tmp_path / "p2.geojson", pipes(moved=120.0)), layer="pipes", classification="restricted")
    return str(location)


@pytest.fixture
def two_versions(two_versions_at):
    """The two-version city, open."""
    city = cim.open(two_versions_at)
    yield city
    city.close()


@pytest.fixture
def served(two_versions_at, tmp_path):
    """A TestClient over the two-version city."""
    from fastapi.testclient import TestClient

    from tiles import Settings, create_app

    settings = Settings(city=two_versions_at, api_keys=json.dumps(KEYS), prepare_tiles=False,
                        viewer_dist=tmp_path / "no-viewer" / "dist")
    with TestClient(create_app(settings)) as client:
        yield client
