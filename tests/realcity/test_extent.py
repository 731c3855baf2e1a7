"""Where a real city is: its features' extent, not that of a raster far larger than the city."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

import cim
from cim.model.catalog import all_layers
from tests.conftest import sample
from tiles import create_app


def test_a_national_dem_keeps_its_true_lon_lat_extent(qingdao):
    dem = all_layers(qingdao)["china_dem"].bbox_4326
    assert dem == pytest.approx((69.9, 14.93, 139.9, 59.93), abs=0.11)  # the file's own 0.2° grid
    districts = all_layers(qingdao)["districts"].bbox_4326
    assert 119.4 < districts[0] < districts[2] < 121.2 and 35.5 < districts[1] < districts[3] < 37.2


def test_the_city_document_frames_the_features_not_the_dem(qingdao_path):
    with TestClient(create_app(str(qingdao_path), prepare_tiles=False)) as client:
        doc = client.get("/api/city").json()
    w, s, e, n = doc["bbox"]
    assert 119.4 < w < e < 121.2 and 35.5 < s < n < 37.2
    assert 119.4 < doc["center"][0] < 121.2


def test_a_national_dem_covers_only_the_zone_the_city_crs_is_made_for(qingdao):
    x0, y0, x1, y1 = qingdao.features("china_dem").total_bounds
    # EPSG:4549 is the 3-degree zone 118.5°E–121.5°E: about 300 km wide around false easting 500 km
    assert 300_000 < x0 < x1 < 700_000 and x1 - x0 < 400_000
    assert 2_500_000 < y0 < y1 < 6_000_000


def test_ingest_says_how_little_of_a_national_dem_lies_in_the_city_zone(tmp_path):
    with cim.create(tmp_path / "q.duckdb", crs="EPSG:4549") as city:
        report = city.ingest(sample("raster/china_dem.nc"), layer="dem", source_crs="EPSG:4326", role="dem")
    assert any("only 3%" in note and "clipped" in note for note in report.notes), report.notes


def test_a_raster_wholly_outside_the_city_zone_is_kept_with_a_note_saying_so(tmp_path):
    with cim.create(tmp_path / "far.duckdb", crs="EPSG:28992") as city:
        report = city.ingest(sample("raster/china_dem.nc"), layer="dem", source_crs="EPSG:4326")
        assert any("wholly outside the area EPSG:28992" in note for note in report.notes), report.notes
        assert "dem" in all_layers(city)
