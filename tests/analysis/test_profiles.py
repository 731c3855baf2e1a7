"""Analyses read a layer as its profile says: storeys as storeys, 限高 as the height limit — a bureau's
own field names, never the demo's."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely

from cim.analysis import check_compliance, indicators

X0, Y0, CRS = 515_000.0, 3_980_000.0, "EPSG:4549"


@pytest.fixture
def bureau_city(new_city, tmp_path):
    """Two parcels with 限高 / 容积率 in Chinese; buildings with 层数 (storeys) and, for some, 高度 (metres)."""
    city = new_city()
    parcels = gpd.GeoDataFrame({"地块编号": ["A", "B"], "限高": [24.0, 60.0], "容积率": [1.0, 3.0]},
                               geometry=[shapely.box(X0, Y0, X0 + 100, Y0 + 100),
                                         shapely.box(X0 + 200, Y0, X0 + 300, Y0 + 100)], crs=CRS)
    buildings = gpd.GeoDataFrame({"楼号": ["a1", "a2", "b1"], "层数": [10, 5, 12], "高度": [31.5, 16.0, None]},
                                 geometry=[shapely.box(X0 + 10, Y0 + 10, X0 + 30, Y0 + 30),
                                           shapely.box(X0 + 60, Y0 + 60, X0 + 80, Y0 + 80),
                                           shapely.box(X0 + 220, Y0 + 20, X0 + 260, Y0 + 60)], crs=CRS)
    layers = ((parcels, "dikuai", "Parcel", "地块编号"), (buildings, "jianzhu", "Building", "楼号"))
    for frame, name, cls, key in layers:
        path = tmp_path / f"{name}.geojson"
        frame.to_file(path, driver="GeoJSON")
        city.ingest(path, layer=name, feature_class=cls, id_field=key, zoning=["限高=height_limit", "容积率=far_limit"]
                    if cls == "Parcel" else None)
    return city


def test_heights_are_metres_and_the_height_limit_is_read_from_its_chinese_field(bureau_city):
    r = check_compliance(bureau_city, only=["height"], output="pandas").set_index("subject")
    assert r.loc["jianzhu.a1", "value"] == pytest.approx(31.5)
    assert r.loc["jianzhu.a1", "limit"] == 24.0 and r.loc["jianzhu.a1", "status"] == "fail"
    assert r.loc["jianzhu.a2", "status"] == "pass"
    assert r.loc["jianzhu.b1", "value"] == pytest.approx(36.0)  # no 高度: its 12 storeys × 3 m
    assert r.loc["jianzhu.b1", "status"] == "pass"


def test_floor_area_counts_the_storeys_the_profile_names(bureau_city):
    ind = indicators(bureau_city, output="pandas").set_index("parcel")
    assert ind.loc["dikuai.A", "floor_area"] == pytest.approx(400 * 10 + 400 * 5)  # 层数, not 31.5 m / 3 m
    assert ind.loc["dikuai.A", "far_limit"] == 1.0 and ind.loc["dikuai.B", "far_limit"] == 3.0
    assert ind.loc["dikuai.B", "far"] == pytest.approx(1600 * 12 / 10_000)
