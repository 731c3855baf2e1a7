"""The compiled point-in-polygon join answers what GEOS answers, pair for pair — boundaries included."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from gis.inside import points_in_polygons, polygons_in_polygons
from gis.polygons import read_polygons

from ..conftest import sample

X, Y = 515_000.0, 3_980_000.0  # metres of a projected city CRS: large numbers, as stored


def _geos_pairs(polygons: list, x: np.ndarray, y: np.ndarray) -> set[tuple[int, int]]:
    """Every (polygon, point) GEOS says is contained, tested exhaustively (no index)."""
    out = set()
    for i, poly in enumerate(polygons):
        if poly is None or poly.is_empty:
            continue
        inside = shapely.contains_xy(poly, x, y)
        out.update((i, int(j)) for j in np.flatnonzero(inside))
    return out


def _pairs(found) -> set[tuple[int, int]]:
    pairs = list(zip(found.polygon.tolist(), found.point.tolist(), strict=True))
    assert len(pairs) == len(set(pairs)), "a pair is listed twice"
    return set(pairs)


def _random_polygons(rng: np.random.Generator, n: int) -> list:
    """Stars (concave), squares with holes, and two-part multipolygons scattered over 2 km."""
    out = []
    for k in range(n):
        cx, cy = X + rng.uniform(0, 2000), Y + rng.uniform(0, 2000)
        r = rng.uniform(5, 60)
        if k % 3 == 0:
            angles = np.sort(rng.uniform(0, 2 * np.pi, rng.integers(5, 14)))
            radii = r * rng.uniform(0.3, 1.0, angles.size)
            out.append(shapely.make_valid(Polygon(np.c_[cx + radii * np.cos(angles), cy + radii * np.sin(angles)])))
        elif k % 3 == 1:
            out.append(Polygon(box(cx - r, cy - r, cx + r, cy + r).exterior.coords,
                               [box(cx - r / 3, cy - r / 3, cx + r / 3, cy + r / 4).exterior.coords]))
        else:
            out.append(MultiPolygon([box(cx - r, cy - r, cx, cy), box(cx + r / 2, cy, cx + r, cy + r)]))
    return out


def test_random_points_and_every_vertex_and_edge_midpoint_get_the_pairs_geos_finds():
    rng = np.random.default_rng(7)
    polygons = _random_polygons(rng, 300)
    coords = shapely.get_coordinates(polygons)
    mids = (coords[:-1] + coords[1:]) / 2  # on edges (and some across parts: anywhere)
    x = np.concatenate([X + rng.uniform(-50, 2050, 20_000), coords[:, 0], mids[:, 0]])
    y = np.concatenate([Y + rng.uniform(-50, 2050, 20_000), coords[:, 1], mids[:, 1]])
    found = points_in_polygons(x, y, list(shapely.to_wkb(polygons)))
    expected = _geos_pairs(polygons, x, y)
    assert _pairs(found) == expected
    assert len(expected) > 5_000  # overlapping shapes: many points in more than one
    assert list(found.point) == sorted(found.point)


def test_threads_sharing_the_points_find_the_same_pairs_in_the_same_order(monkeypatch):
    import gis.inside

    rng = np.random.default_rng(11)
    wkb = list(shapely.to_wkb(_random_polygons(rng, 200)))
    x, y = X + rng.uniform(0, 2000, 30_000), Y + rng.uniform(0, 2000, 30_000)
    alone = points_in_polygons(x, y, wkb)
    monkeypatch.setattr(gis.inside, "_THREADS", 4)
    monkeypatch.setattr(gis.inside, "_CHUNK", 1000)
    shared = points_in_polygons(x, y, wkb)
    assert alone.polygon.tolist() == shared.polygon.tolist() and alone.point.tolist() == shared.point.tolist()
    assert alone.point.size > 1000


def test_a_point_on_a_boundary_or_in_a_hole_is_not_contained():
    yard = Polygon(box(X, Y, X + 60, Y + 60).exterior.coords, [box(X + 20, Y + 20, X + 40, Y + 40).exterior.coords])
    x = np.array([X + 10, X + 30, X, X + 60, X + 20, X + 30, X + 10 + 1e-7])
    y = np.array([Y + 10, Y + 30, Y + 30, Y + 60, Y + 30, Y + 20, Y + 1e-7])
    found = points_in_polygons(x, y, [shapely.to_wkb(yard)])
    assert _pairs(found) == {(0, 0), (0, 6)} == _geos_pairs([yard], x, y)


def test_z_and_m_coordinates_big_numbers_nulls_and_empties_read_as_their_plane():
    square = box(X, Y, X + 10, Y + 10)
    z_square = shapely.force_3d(square, 33.0)
    values = [shapely.to_wkb(z_square), None, shapely.to_wkb(Polygon()), shapely.to_wkb(MultiPolygon()),
              shapely.to_wkb(square, flavor="iso"), shapely.to_wkb(z_square, flavor="iso")]
    polys = read_polygons(pa.array(values, pa.binary()))
    assert polys is not None and len(polys) == 6
    found = points_in_polygons(np.array([X + 5, X + 50, np.nan]), np.array([Y + 5, Y + 5, Y + 5]), polys)
    assert _pairs(found) == {(0, 0), (4, 0), (5, 0)}


@pytest.mark.parametrize("other", [shapely.Point(1, 2), shapely.LineString([(0, 0), (1, 1)]),
                                   shapely.GeometryCollection([box(0, 0, 1, 1)])], ids=lambda g: g.geom_type)
def test_a_column_holding_anything_but_polygons_is_left_to_another_path(other):
    assert read_polygons([shapely.to_wkb(box(0, 0, 1, 1)), shapely.to_wkb(other)]) is None
    with pytest.raises(ValueError, match="polygons and multipolygons only"):
        points_in_polygons(np.array([0.5]), np.array([0.5]), [shapely.to_wkb(other)])


def test_big_endian_wkb_is_left_to_another_path():
    assert read_polygons([shapely.to_wkb(box(0, 0, 1, 1), byte_order=0)]) is None


def test_the_boroughs_of_new_york_hold_the_points_geos_says_they_hold():
    import pyogrio

    boroughs = pyogrio.read_dataframe(sample("vector/nybb.shp"))
    polygons = list(boroughs.geometry)
    minx, miny, maxx, maxy = boroughs.total_bounds
    rng = np.random.default_rng(3)
    coords = shapely.get_coordinates(polygons)[::50]
    x = np.concatenate([rng.uniform(minx, maxx, 20_000), coords[:, 0]])
    y = np.concatenate([rng.uniform(miny, maxy, 20_000), coords[:, 1]])
    found = points_in_polygons(x, y, list(shapely.to_wkb(polygons)))
    assert _pairs(found) == _geos_pairs(polygons, x, y)
    assert len(found.point) > 5_000


def _geos_held(outer: list, inner: list) -> set[tuple[int, int]]:
    i, j = shapely.STRtree(inner).query(outer, predicate="contains")
    return set(zip(i.tolist(), j.tolist(), strict=True))


def test_polygons_wholly_inside_polygons_are_the_pairs_geos_contains_finds():
    rng = np.random.default_rng(5)
    outer = _random_polygons(rng, 200)
    small = [shapely.affinity.scale(p, f, f) for p, f in zip(_random_polygons(rng, 3000), rng.uniform(0.05, 0.3, 3000),
                                                                strict=True)]
    # the outers themselves (every edge shared), halved copies (inside unless a hole or a notch is under
    # them), and copies moved by a hair across an edge
    inner = small + outer[:40] + [shapely.affinity.scale(o, 0.5, 0.5) for o in outer[40:80]] + [
        shapely.affinity.translate(o, 1e-9, 0) for o in outer[80:100]]
    found = polygons_in_polygons(list(shapely.to_wkb(inner)), read_polygons(list(shapely.to_wkb(outer))))
    expected = _geos_held(outer, inner)
    assert _pairs(found) == expected
    assert {(k, 3000 + k) for k in range(40)} <= expected  # a polygon holds itself
    assert len(expected) > 200 and list(found.point) == sorted(found.point)


def test_a_house_on_a_lots_edge_in_its_courtyard_or_across_its_notch_is_judged_as_geos_judges():
    ell = Polygon([(0, 0), (60, 0), (60, 20), (20, 20), (20, 60), (0, 60)])
    yard = Polygon(box(100, 0, 160, 60).exterior.coords, [box(120, 20, 140, 40).exterior.coords])
    lots = [shapely.affinity.translate(g, X, Y) for g in (ell, yard)]
    houses = [shapely.affinity.translate(g, X, Y) for g in (
        box(2, 2, 12, 12),                       # in the L
        box(0, 0, 10, 10),                       # in the L, two edges shared
        Polygon([(10, 10), (50, 10), (10, 50)]),  # its corners in the L, its long edge across the notch
        box(125, 25, 135, 35),                   # in the courtyard's hole
        box(110, 10, 150, 50),                   # around the hole: the hole is under it
        box(102, 2, 118, 58),                    # beside the hole
        box(-1, 5, 5, 10))]                      # half outside
    found = polygons_in_polygons(list(shapely.to_wkb(houses)), read_polygons(list(shapely.to_wkb(lots))))
    assert _pairs(found) == _geos_held(lots, houses) == {(0, 0), (0, 1), (1, 5)}


def test_inner_shapes_that_are_not_polygons_are_left_to_another_path():
    outer = read_polygons([shapely.to_wkb(box(0, 0, 10, 10))])
    assert polygons_in_polygons([shapely.to_wkb(shapely.LineString([(1, 1), (2, 2)]))], outer) is None
    nothing = polygons_in_polygons([None, shapely.to_wkb(Polygon())], outer)
    assert nothing.polygon.size == 0


def test_new_york_holds_its_own_boroughs_and_parts_of_them_as_geos_says():
    import pyogrio

    boroughs = list(pyogrio.read_dataframe(sample("vector/nybb.shp")).geometry)
    parts = [p for b in boroughs for p in shapely.get_parts(b)]  # each island; some share edges with others
    inner = boroughs + parts + [shapely.buffer(p, -50) for p in parts[:200]]
    found = polygons_in_polygons(list(shapely.to_wkb(inner)), read_polygons(list(shapely.to_wkb(boroughs))))
    expected = _geos_held(boroughs, inner)
    assert _pairs(found) == expected and len(expected) > len(boroughs) + 50
