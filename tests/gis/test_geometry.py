"""Geometry checks: what is kept, repaired and rejected, and with which index."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import shapely

from gis import bounds_of, check_and_repair, force_2d

BOWTIE = "POLYGON ((0 0, 2 2, 2 0, 0 2, 0 0))"


def wkb(text: str) -> bytes:
    return shapely.to_wkb(shapely.from_wkt(text))


def test_a_self_intersecting_polygon_is_repaired_counted_and_stays_polygonal():
    check = check_and_repair([wkb(BOWTIE), wkb("POLYGON ((0 0, 1 0, 1 1, 0 1, 0 0))")])
    assert check.repaired.tolist() == [True, False]
    assert check.n_repaired == 1 and check.rejected == []
    fixed = check.geoms[0]
    assert fixed.is_valid and fixed.geom_type == "MultiPolygon"
    assert fixed.area == 2.0


def test_a_polygon_with_a_dangling_spike_keeps_only_its_polygonal_part():
    spike = "POLYGON ((0 0, 10 0, 10 10, 0 10, 0 0, -5 -5, 0 0))"
    check = check_and_repair([wkb(spike)])
    assert check.geoms[0].geom_type in ("Polygon", "MultiPolygon")
    assert check.geoms[0].area == 100.0


def test_null_and_empty_geometries_are_rejected_with_their_index():
    check = check_and_repair([wkb("POINT (1 2)"), None, wkb("POLYGON EMPTY"), wkb("LINESTRING (0 0, 1 1)")])
    assert check.rejected == [(1, "null geometry"), (2, "empty geometry")]
    assert check.kept.tolist() == [True, False, False, True]
    assert check.geoms[1] is None and check.geoms[2] is None


def test_absurd_and_non_finite_coordinates_are_rejected():
    rows = [wkb("POINT (1e20 5)"), wkb("LINESTRING (0 0, 1 -1e20)"), wkb("POINT (nan 1)"),
            shapely.to_wkb(shapely.Point(0, float("inf"))), wkb("POINT Z (1 1 1e20)"), wkb("POINT (3 4)")]
    check = check_and_repair(rows)
    assert check.rejected == [(0, "absurd coordinates"), (1, "absurd coordinates"),
                              (2, "non-finite coordinates"), (3, "non-finite coordinates"),
                              (4, "absurd coordinates")]
    assert check.kept.tolist() == [False] * 5 + [True]


def test_bytes_that_are_not_wkb_are_rejected_as_unreadable():
    check = check_and_repair([b"not wkb at all", b"", wkb("POINT (0 0)")])
    assert check.rejected == [(0, "unreadable geometry"), (1, "unreadable geometry")]


def test_a_polygon_collapsed_to_a_line_is_unrepairable():
    check = check_and_repair([wkb("POLYGON ((0 0, 1 1, 2 2, 0 0))")])
    assert check.rejected == [(0, "unrepairable geometry")]


def test_z_survives_repair():
    check = check_and_repair([wkb("POLYGON Z ((0 0 5, 2 2 5, 2 0 5, 0 2 5, 0 0 5))")])
    assert check.geoms[0].has_z


def test_arrow_columns_and_shapely_arrays_are_accepted():
    column = pa.chunked_array([[wkb("POINT (1 1)"), None], [wkb(BOWTIE)]], pa.binary())
    check = check_and_repair(column)
    assert check.rejected == [(1, "null geometry")] and check.repaired.tolist() == [False, False, True]
    check = check_and_repair(np.array([shapely.Point(1, 1), None], dtype=object))
    assert check.rejected == [(1, "null geometry")]


def test_a_large_layer_is_checked_in_one_vectorised_pass():
    n = 100_000
    x = np.arange(n, dtype=float)
    polygons = shapely.box(x, 0, x + 0.5, 0.5)
    polygons[::1000] = shapely.from_wkt(BOWTIE)
    check = check_and_repair(shapely.to_wkb(polygons))
    assert check.n_repaired == n // 1000 and not check.rejected


def test_bounds_of_and_force_2d():
    geoms = np.array([shapely.Point(0, 1, 9), None, shapely.Point(4, 5)], dtype=object)
    assert bounds_of(geoms) == (0.0, 1.0, 4.0, 5.0)
    assert not shapely.has_z(force_2d(geoms)[0])
