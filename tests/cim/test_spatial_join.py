"""Which feature of one layer holds which of another: id pairs checked against geopandas.sjoin.

The layers are named ``lots`` and ``houses`` on purpose: nothing may depend on the names the demo
city uses. The shapes are the cases a bounding-box shortcut gets wrong: a house in the notch of an
L-shaped lot, a house in a lot's courtyard (a hole), one across two lots, one sharing an edge with
its lot, a lot in two parts, a house whose centroid lies outside itself.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

import cim
from cim.errors import LayerNotFound, QueryError
from cim.model import joins
from cim.model.derived import open_derived
from cim.model.joins import KIND

X, Y = 515_000.0, 3_980_000.0
PREDICATES = ("contains", "contains_centroid", "intersects")


def _lots() -> gpd.GeoDataFrame:
    ell = Polygon([(0, 0), (60, 0), (60, 20), (20, 20), (20, 60), (0, 60)])  # an L: its notch is empty
    courtyard = Polygon(box(100, 0, 160, 60).exterior.coords, [box(120, 20, 140, 40).exterior.coords])
    two_parts = MultiPolygon([box(200, 0, 230, 30), box(240, 0, 270, 30)])
    rows = [("ell", ell), ("courtyard", courtyard), ("two_parts", two_parts),
            ("east", box(300, 0, 340, 40)), ("west", box(260, 40, 300, 80))]
    return _frame("lot", rows)


def _houses(moved: bool = False) -> gpd.GeoDataFrame:
    rows = [
        ("in_ell", box(2, 2, 12, 12)),
        ("in_notch", box(30, 30, 50, 50)),                  # inside the L's box, outside the L
        ("across_ell", box(14, 14, 24, 24)),                # partly in the L, its centroid in it
        ("in_yard", box(125, 25, 135, 35)),                 # in the hole of the courtyard lot
        ("on_edge", box(100, 0, 110, 10)),                  # shares two edges with its lot
        ("second_part", box(245, 5, 255, 15)),              # in the second part of a multipolygon
        ("between_parts", box(225, 5, 245, 15)),            # spans the gap of the two parts
        ("across_two", box(290, 30, 310, 50)),              # in east and west, wholly in neither
        ("hook", Polygon([(302, 2), (338, 2), (338, 38), (334, 38), (334, 6), (306, 6), (306, 38), (302, 38)])),
        ("nowhere", box(500, 500, 510, 510)),
    ]
    if moved:  # a new version: one house moved into the L, one into the courtyard's ring
        rows[1] = ("in_notch", box(2, 30, 12, 40))
        rows[9] = ("nowhere", box(102, 45, 112, 55))
    return _frame("house", rows)


def _frame(prefix: str, rows: list[tuple[str, object]]) -> gpd.GeoDataFrame:
    geoms = [shapely.affinity.translate(g, X, Y) for _, g in rows]
    return gpd.GeoDataFrame({"key": [f"{prefix}_{n}" for n, _ in rows]}, geometry=geoms, crs="EPSG:4549")


def _write(frame: gpd.GeoDataFrame, path: Path) -> Path:
    frame.to_parquet(path, index=False)
    return path


def _reference(lots: gpd.GeoDataFrame, houses: gpd.GeoDataFrame, predicate: str) -> set[tuple[str, str]]:
    """The pairs by geopandas.sjoin over the same shapes, ids written as the city writes them."""
    if predicate == "contains_centroid":
        houses = gpd.GeoDataFrame({"key": houses["key"]}, geometry=houses.geometry.centroid, crs=houses.crs)
    joined = gpd.sjoin(houses, lots, predicate="within" if predicate != "intersects" else "intersects")
    return {(f"lots.{lot}", f"houses.{house}") for house, lot in zip(joined["key_left"], joined["key_right"],
                                                                     strict=True)}


def _pairs(table) -> set[tuple[str, str]]:
    pairs = list(zip(table.column("left_id").to_pylist(), table.column("right_id").to_pylist(), strict=True))
    assert len(pairs) == len(set(pairs)), "a pair is listed twice"
    return set(pairs)


def _kept_joins(city: cim.City) -> list:
    derived = open_derived(city.store)
    try:
        return [e for e in derived.entries() if e.kind == KIND]
    finally:
        derived.close()


@pytest.fixture
def lots_and_houses(new_city, tmp_path):
    city = new_city()
    city.ingest(_write(_lots(), tmp_path / "lots.parquet"), layer="lots", id_field="key")
    city.ingest(_write(_houses(), tmp_path / "houses.parquet"), layer="houses", id_field="key")
    return city


@pytest.mark.parametrize("predicate", PREDICATES)
def test_join_pairs_are_the_ids_geopandas_sjoin_pairs(lots_and_houses, predicate):
    expected = _reference(_lots(), _houses(), predicate)
    assert _pairs(lots_and_houses.spatial_join("lots", "houses", predicate=predicate)) == expected
    # asked again (read back where the pairs are kept): the same pairs
    assert _pairs(lots_and_houses.spatial_join("lots", "houses", predicate=predicate)) == expected


def test_the_tricky_houses_are_judged_as_geos_judges_them(lots_and_houses):
    contains = _pairs(lots_and_houses.spatial_join("lots", "houses", predicate="contains"))
    held = {h.removeprefix("houses.house_") for _, h in contains}
    assert held == {"in_ell", "on_edge", "second_part", "hook"}
    centroid = _pairs(lots_and_houses.spatial_join("lots", "houses", predicate="contains_centroid"))
    assert {("lots.lot_east", "houses.house_hook"),  # the U's centroid lies in its gap, still in the lot
            ("lots.lot_ell", "houses.house_across_ell")} <= centroid
    assert not {h for _, h in centroid} & {"houses.house_between_parts", "houses.house_across_two"}


@pytest.mark.parametrize("predicate", PREDICATES)
def test_a_new_version_of_either_layer_gives_new_pairs_and_as_of_the_old_ones(lots_and_houses, tmp_path, backend,
                                                                              predicate):
    city = lots_and_houses
    before = _pairs(city.spatial_join("lots", "houses", predicate=predicate))
    time.sleep(0.01)
    between = datetime.now(UTC)
    time.sleep(0.01)
    city.ingest(_write(_houses(moved=True), tmp_path / "houses2.parquet"), layer="houses", id_field="key")
    after = _pairs(city.spatial_join("lots", "houses", predicate=predicate))
    assert after == _reference(_lots(), _houses(moved=True), predicate) != before
    assert _pairs(city.spatial_join("lots", "houses", predicate=predicate, as_of=between)) == before
    lots = _lots().iloc[1:]  # the L is gone from the lots' next version
    city.ingest(_write(lots, tmp_path / "lots2.parquet"), layer="lots", id_field="key")
    assert _pairs(city.spatial_join("lots", "houses", predicate=predicate)) == _reference(
        lots, _houses(moved=True), predicate)
    if backend == "duckdb":  # one kept relation for the layers as they are now; older ones dropped
        assert [(e.layer, e.view) for e in _kept_joins(city)] == [("lots", f"{KIND} {predicate} houses")]


def test_a_centroid_on_a_lots_edge_or_corner_is_held_by_neither_lot(new_city, tmp_path):
    city = new_city()
    city.ingest(_write(_lots(), tmp_path / "lots.parquet"), layer="lots", id_field="key")
    houses = _frame("house", [("on_corner", box(295, 35, 305, 45)),  # centroid on the corner east and west share
                              ("on_side", box(330, 30, 350, 50)),    # centroid on east's right side
                              ("in_hole_edge", box(115, 25, 125, 35)),  # centroid on the courtyard's inner ring
                              ("inside", box(301, 1, 303, 3))])
    city.ingest(_write(houses, tmp_path / "houses.parquet"), layer="houses", id_field="key")
    pairs = _pairs(city.spatial_join("lots", "houses", predicate="contains_centroid"))
    assert pairs == _reference(_lots(), houses, "contains_centroid") == {("lots.lot_east", "houses.house_inside")}


def test_centroids_in_a_layer_that_also_holds_lines_are_joined_all_the_same(new_city, tmp_path):
    lots = pd.concat([_lots(), _frame("lot", [("fence", shapely.LineString([(0, 100), (50, 100)]))])])
    city = new_city()
    city.ingest(_write(lots, tmp_path / "lots.parquet"), layer="lots", id_field="key")
    city.ingest(_write(_houses(), tmp_path / "houses.parquet"), layer="houses", id_field="key")
    pairs = _pairs(city.spatial_join("lots", "houses", predicate="contains_centroid"))
    assert pairs == _reference(_lots(), _houses(), "contains_centroid") and len(pairs) >= 5


def test_joining_again_and_again_on_postgis_opens_no_new_connection(postgis_server, tmp_path):
    with cim.create(postgis_server.database()) as city:
        city.ingest(_write(_lots(), tmp_path / "lots.parquet"), layer="lots", id_field="key")
        city.ingest(_write(_houses(), tmp_path / "houses.parquet"), layer="houses", id_field="key")
        first = _pairs(city.spatial_join("lots", "houses", predicate="contains_centroid"))
        opened = len(city.store._connections)
        for _ in range(3):
            assert _pairs(city.spatial_join("lots", "houses", predicate="contains_centroid")) == first
        assert len(city.store._connections) == opened


def test_pairs_kept_in_several_parts_are_read_back_whole(new_city, tmp_path, monkeypatch):
    monkeypatch.setattr(joins, "PART_ROWS", 2)  # the ten houses' pairs in parts of two
    city = new_city()
    city.ingest(_write(_lots(), tmp_path / "lots.parquet"), layer="lots", id_field="key")
    city.ingest(_write(_houses(), tmp_path / "houses.parquet"), layer="houses", id_field="key")
    first = city.spatial_join("lots", "houses", predicate="intersects")
    again = city.spatial_join("lots", "houses", predicate="intersects")
    assert first.num_rows > 2 * 2 and again.equals(first)  # same pairs, same order


def test_a_read_only_city_reads_the_pairs_its_file_keeps_and_keeps_new_ones_in_memory(tmp_path):
    path = tmp_path / "city.duckdb"
    with cim.create(path) as city:
        city.ingest(_write(_lots(), tmp_path / "lots.parquet"), layer="lots", id_field="key")
        city.ingest(_write(_houses(), tmp_path / "houses.parquet"), layer="houses", id_field="key")
        kept = city.spatial_join("lots", "houses", predicate="contains")
        assert len(_kept_joins(city)) == 1  # in the file
    with cim.open(path, read_only=True) as city:
        assert city.spatial_join("lots", "houses", predicate="contains").equals(kept)
        assert _kept_joins(city) == []  # read from the file, nothing kept in memory
        for _ in range(2):
            pairs = city.spatial_join("lots", "houses", predicate="contains_centroid", output="pandas")
            assert set(zip(pairs.left_id, pairs.right_id, strict=True)) == _reference(
                _lots(), _houses(), "contains_centroid")
        assert [e.view for e in _kept_joins(city)] == [f"{KIND} contains_centroid houses"]  # in memory
    with cim.open(path, read_only=True) as city:  # nothing was written to the file
        assert [e.view for e in _kept_joins(city)] == []
    with cim.open(path) as city:
        assert [e.view for e in _kept_joins(city)] == [f"{KIND} contains houses"]


def test_an_unknown_layer_or_predicate_is_a_clear_error(lots_and_houses):
    with pytest.raises(QueryError, match="use one of contains, intersects, contains_centroid"):
        lots_and_houses.spatial_join("lots", "houses", predicate="within")
    for as_of in (None, datetime.now(UTC)):
        with pytest.raises(LayerNotFound, match="'parcels'"):
            lots_and_houses.spatial_join("parcels", "houses", as_of=as_of)
