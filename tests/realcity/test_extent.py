"""Where a real city is: its features' extent, not that of a raster far larger than the city."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from cim.model.catalog import all_layers
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
