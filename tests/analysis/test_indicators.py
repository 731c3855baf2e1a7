"""Indicators per parcel, block and district, checked against hand-worked numbers and geopandas."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from cim.analysis import indicators
from cim.errors import LayerNotFound, QueryError, ValidationError
from tests.analysis.conftest import ingest_frame

CRS = "EPSG:4549"
X0, Y0 = 515000.0, 3979500.0


@pytest.fixture
def small_city(city, tmp_path):
    """Two 100 m × 100 m parcels; three buildings; a park half inside parcel A."""
    parcels = gpd.GeoDataFrame({
        "parcel_id": ["A", "B"], "block_id": ["K1", "K1"], "district": ["D1", "D1"],
        "far_limit": [0.25, 2.0], "height_limit": [40.0, 60.0], "density_limit": [0.3, 0.3],
        "green_min": [0.3, 0.3], "setback": [5.0, 5.0],
    }, geometry=[shapely.box(X0, Y0, X0 + 100, Y0 + 100), shapely.box(X0 + 100, Y0, X0 + 200, Y0 + 100)], crs=CRS)
    buildings = gpd.GeoDataFrame({
        "building_id": ["a1", "a2", "b1"], "floors": [5, 10, 3], "height": [15.0, 45.0, 9.0],
        "use": ["住宅", "住宅", "商业"],
    }, geometry=[shapely.box(X0 + 10, Y0 + 10, X0 + 30, Y0 + 20), shapely.box(X0 + 50, Y0 + 50, X0 + 70, Y0 + 60),
                 shapely.box(X0 + 120, Y0 + 20, X0 + 150, Y0 + 40)], crs=CRS)
    green = gpd.GeoDataFrame({"green_id": ["g"]}, geometry=[shapely.box(X0 + 75, Y0, X0 + 125, Y0 + 20)], crs=CRS)
    ingest_frame(city, parcels, "parcels", "Parcel", "parcel_id", tmp_path)
    ingest_frame(city, buildings, "buildings", "Building", "building_id", tmp_path)
    ingest_frame(city, green, "green_space", "GreenSpace", "green_id", tmp_path)
    return city


def test_indicators_per_parcel_follow_the_planning_definitions(small_city):
    df = indicators(small_city, output="pandas").set_index("parcel")
    a, b = df.loc["parcels.A"], df.loc["parcels.B"]
    assert a["area"] == pytest.approx(10_000.0)
    assert a["buildings"] == 2 and b["buildings"] == 1
    assert a["footprint_area"] == pytest.approx(400.0)
    assert a["floor_area"] == pytest.approx(200 * 5 + 200 * 10)        # footprint × floors
    assert a["far"] == pytest.approx(0.3) and a["density"] == pytest.approx(0.04)
    assert a["green_area"] == pytest.approx(25 * 20) and b["green_area"] == pytest.approx(25 * 20)
    assert a["green_ratio"] == pytest.approx(0.05)
    assert a["max_height"] == 45.0 and b["max_height"] == 9.0
    assert a["far_limit"] == 0.25 and a["block_id"] == "K1"


def test_indicators_by_block_sum_their_parcels(small_city):
    block = indicators(small_city, by="block", output="pandas").set_index("block")
    k = block.loc["K1"]
    assert k["parcels"] == 2 and k["buildings"] == 3
    assert k["area"] == pytest.approx(20_000.0)
    assert k["far"] == pytest.approx((3000 + 600 * 3) / 20_000)
    assert k["green_ratio"] == pytest.approx(1000 / 20_000)
    geom = shapely.from_wkb(indicators(small_city, by="block", output="arrow")["geom"][0].as_py())
    assert geom.area == pytest.approx(20_000.0)


def test_indicators_match_an_independent_geopandas_join_on_the_demo_city(demo):
    ours = indicators(demo, output="pandas").set_index("parcel")
    parcels = demo.features("parcels")
    b = demo.features("buildings")
    points = gpd.GeoDataFrame({"floor_area": b.geometry.area * b["floors"], "fp": b.geometry.area,
                               "height": b["height"]}, geometry=b.geometry.centroid, crs=b.crs)
    joined = gpd.sjoin(points, parcels[["id", "geometry"]], predicate="within")
    theirs = joined.groupby("id").agg(n=("fp", "size"), fa=("floor_area", "sum"), hmax=("height", "max"))
    area = parcels.set_index("id").geometry.area
    far = (theirs["fa"] / area.loc[theirs.index])
    assert ours.loc[theirs.index, "buildings"].tolist() == theirs["n"].tolist()
    np.testing.assert_allclose(ours.loc[theirs.index, "far"], far, rtol=1e-9)
    np.testing.assert_allclose(ours.loc[theirs.index, "max_height"], theirs["hmax"], rtol=1e-12)
    assert ours["buildings"].sum() == len(b)  # every building stands on exactly one parcel


def test_indicators_by_district_reconcile_with_the_parcel_rows(demo):
    parcels = indicators(demo, output="pandas")
    districts = indicators(demo, by="district", output="pandas").set_index("district")
    sums = parcels.groupby("district")[["buildings", "floor_area", "area"]].sum()
    assert districts["buildings"].to_dict() == sums["buildings"].to_dict()
    np.testing.assert_allclose(districts.loc[sums.index, "far"], sums["floor_area"] / sums["area"], rtol=1e-9)


def test_indicators_where_keeps_only_matching_rows(demo):
    over = indicators(demo, where="far > far_limit", output="pandas")
    assert len(over) > 0 and (over["far"] > over["far_limit"]).all()


def test_indicators_refuse_an_unknown_grouping_and_list_the_fields(demo):
    with pytest.raises(ValidationError, match="no field 'zoning'.*far_limit"):
        indicators(demo, by="zoning")


def test_indicators_report_a_bad_where_clause_as_a_query_error(demo):
    with pytest.raises(QueryError, match="bad where clause"):
        indicators(demo, where="far >> 2")


def test_indicators_on_a_city_without_parcels_say_which_layer_is_missing(city):
    with pytest.raises(LayerNotFound, match=r"planning indicators needs parcels .*class Parcel.*--class Parcel"):
        indicators(city)


def test_floors_from_height_round_halves_away_from_zero_on_both_backends(new_city, tmp_path):
    """7.5 m / 3 m = 2.5 storeys counts as 3 (DuckDB's ROUND), never 2 (PostgreSQL rounds doubles to even)."""
    city = new_city()
    parcels = gpd.GeoDataFrame({"parcel_id": ["A"]}, geometry=[shapely.box(X0, Y0, X0 + 100, Y0 + 100)], crs=CRS)
    buildings = gpd.GeoDataFrame({"building_id": ["half", "low"], "height": [7.5, 4.4]},
                                 geometry=[shapely.box(X0 + 10, Y0 + 10, X0 + 20, Y0 + 20),
                                           shapely.box(X0 + 50, Y0 + 50, X0 + 60, Y0 + 60)], crs=CRS)
    ingest_frame(city, parcels, "parcels", "Parcel", "parcel_id", tmp_path)
    ingest_frame(city, buildings, "buildings", "Building", "building_id", tmp_path)
    row = indicators(city, output="pandas").iloc[0]
    assert row["floor_area"] == pytest.approx(100 * 3 + 100 * 1)
    assert row["buildings"] == 2 and row["far"] == pytest.approx(0.04)
