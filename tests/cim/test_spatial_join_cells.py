"""Which parcel holds each building's centroid: the same pairs on every backend, edge cases included.

Both backends answer ``contains_centroid`` with the compiled point-in-polygon join (``gis.inside``) when
the left layer is all polygons (PostGIS otherwise, and in its indicators, with an equality join on grid
cells: ``cim.model.centroid_join``); each must give exactly the pairs shapely finds on the stored shapes —
centroids on a shared edge or a cell line, in a hole, beside a concave parcel, under overlapping
parcels of very different sizes.
"""

from __future__ import annotations

import shapely

from tests.cim.helpers import write_geojson


def _ring(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]


def _polygon(*rings: list[list[float]]) -> dict:
    return {"type": "Polygon", "coordinates": list(rings)}


def _city(new_city, tmp_path):
    city = new_city()
    x, y = 515000.0, 3980000.0
    parcels = [{"id": f"p{i}", "geometry": _polygon(_ring(x + 100 * i, y, x + 100 * i + 100, y + 100))}
               for i in range(6)]
    parcels.append({"id": "big", "geometry": _polygon(_ring(x - 2000, y - 2000, x + 2000, y + 2000))})
    parcels.append({"id": "holed", "geometry": _polygon(_ring(x, y + 300, x + 300, y + 600),
                                                        _ring(x + 100, y + 400, x + 200, y + 500))})
    parcels.append({"id": "ell", "geometry": _polygon(
        [[x + 400, y + 300], [x + 600, y + 300], [x + 600, y + 350], [x + 450, y + 350], [x + 450, y + 500],
         [x + 400, y + 500], [x + 400, y + 300]])})
    buildings = [
        {"id": "inside", "geometry": _polygon(_ring(x + 10, y + 10, x + 30, y + 30))},
        {"id": "on_shared_edge", "geometry": _polygon(_ring(x + 90, y + 40, x + 110, y + 60))},
        {"id": "on_corner", "geometry": _polygon(_ring(x + 190, y + 90, x + 210, y + 110))},
        {"id": "in_the_hole", "geometry": _polygon(_ring(x + 140, y + 440, x + 160, y + 460))},
        {"id": "in_the_ring", "geometry": _polygon(_ring(x + 20, y + 320, x + 40, y + 340))},
        {"id": "beside_the_ell", "geometry": _polygon(_ring(x + 500, y + 420, x + 520, y + 440))},
        {"id": "in_the_ell", "geometry": _polygon(_ring(x + 405, y + 420, x + 445, y + 440))},
        {"id": "far_away", "geometry": _polygon(_ring(x + 9000, y + 9000, x + 9010, y + 9010))},
        {"id": "west_of_all", "geometry": _polygon(_ring(x - 1990, y - 1990, x - 1900, y - 1900))},
    ]
    city.ingest(write_geojson(tmp_path / "parcels.geojson", parcels, crs="EPSG:4549"), layer="parcels")
    city.ingest(write_geojson(tmp_path / "buildings.geojson", buildings, crs="EPSG:4549"), layer="buildings")
    return city


def _expected(city, *, whole: bool = False) -> set[tuple[str, str]]:
    parcels = city.features("parcels", output="geopandas")
    buildings = city.features("buildings", output="geopandas")
    return {(p, b) for p, pg in zip(parcels["id"], parcels.geometry, strict=True)
            for b, bg in zip(buildings["id"], buildings.geometry, strict=True)
            if shapely.contains(pg, bg if whole else shapely.centroid(bg))}


def test_each_building_pairs_with_every_parcel_holding_its_centroid_and_no_other(new_city, tmp_path):
    city = _city(new_city, tmp_path)
    got = city.spatial_join("parcels", "buildings", predicate="contains_centroid", output="pandas")
    pairs = list(zip(got["left_id"], got["right_id"], strict=True))
    assert len(pairs) == len(set(pairs))
    expected = _expected(city)
    assert set(pairs) == expected
    # the cases are there: a hole and a concave parcel's notch hold nothing, the boundary is not inside
    assert {("parcels.ell", "buildings.in_the_ell"), ("parcels.holed", "buildings.in_the_ring"),
            ("parcels.big", "buildings.in_the_hole"), ("parcels.big", "buildings.west_of_all")} <= expected
    assert not {("parcels.holed", "buildings.in_the_hole"), ("parcels.ell", "buildings.beside_the_ell"),
                ("parcels.p0", "buildings.on_shared_edge"), ("parcels.p1", "buildings.on_shared_edge")} & expected
    assert "buildings.far_away" not in {b for _, b in expected}


def test_each_rectangular_footprint_holds_its_own_centroid_only(new_city, tmp_path):
    city = _city(new_city, tmp_path)
    got = city.spatial_join("buildings", "buildings", predicate="contains_centroid", output="pandas")
    assert set(zip(got["left_id"], got["right_id"], strict=True)) == {
        (b, b) for b in city.features("buildings", output="pandas")["id"]}


def test_a_parcel_wholly_holding_a_building_pairs_with_it_and_a_straddling_one_does_not(new_city, tmp_path):
    city = _city(new_city, tmp_path)
    got = city.spatial_join("parcels", "buildings", predicate="contains", output="pandas")
    pairs = list(zip(got["left_id"], got["right_id"], strict=True))
    assert len(pairs) == len(set(pairs))
    expected = _expected(city, whole=True)
    assert set(pairs) == expected
    assert ("parcels.p0", "buildings.inside") in expected and ("parcels.big", "buildings.on_corner") in expected
    assert not {b for p, b in expected if p != "parcels.big"} & {"buildings.on_shared_edge", "buildings.on_corner"}


def test_the_grid_cell_sql_the_indicators_use_finds_the_same_pairs(new_city, tmp_path):
    from cim.model.centroid_join import centroid_pairs
    from cim.model.relations import features

    city = _city(new_city, tmp_path)
    got = city.store.arrow(centroid_pairs(city.store, features(layers=["parcels"], columns="id, geom"),
                                          features(layers=["buildings"], columns="id, geom")))
    pairs = list(zip(got.column("left_id").to_pylist(), got.column("right_id").to_pylist(), strict=True))
    assert len(pairs) == len(set(pairs)) and set(pairs) == _expected(city)
