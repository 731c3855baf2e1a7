"""The compiled validity pre-check never vouches for a geometry GEOS would reject or repair.

``gis.valid.certainly_valid`` lets ingest skip GEOS for simple rings; a wrong True would store an
invalid polygon unrepaired, so every True is checked here against GEOS itself: on thousands of
random, degenerate and near-degenerate shapes and on the real sample layers.
"""

from __future__ import annotations

import struct

import numpy as np
import pyarrow as pa
import pytest
import shapely

from gis.geometry import ABSURD_LIMIT
from gis.valid import MAX_VERTICES, certainly_valid


def _sane(geoms: np.ndarray) -> np.ndarray:
    """What the full check keeps unchanged: valid, not empty, finite coordinates within the limit."""
    bounds = shapely.bounds(geoms)
    with np.errstate(invalid="ignore"):
        inside = np.isfinite(bounds).all(axis=1) & (np.abs(bounds) <= ABSURD_LIMIT).all(axis=1)
    return shapely.is_valid(geoms) & ~shapely.is_empty(geoms) & inside


def _assert_never_vouches_wrongly(geoms: list) -> np.ndarray:
    wkb = shapely.to_wkb(np.asarray(geoms, dtype=object))
    certain = certainly_valid(wkb)
    assert certain is not None
    sane = _sane(shapely.from_wkb(wkb))
    wrong = np.flatnonzero(certain & ~sane)
    assert wrong.size == 0, [shapely.to_wkt(geoms[i]) for i in wrong[:5]]
    return certain


def _star(rng: np.random.Generator, n: int, x: float, y: float, r: float) -> shapely.Polygon:
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    radii = rng.uniform(0.3 * r, r, n)
    return shapely.Polygon(np.c_[x + radii * np.cos(angles), y + radii * np.sin(angles)])


#: shapes GEOS rejects, repairs or drops: none may be vouched for
DEGENERATE = {
    "bow-tie": shapely.Polygon([(0, 0), (2, 2), (2, 0), (0, 2)]),
    "vertex touching an edge": shapely.Polygon([(0, 0), (4, 0), (4, 4), (2, 0.0), (0, 4)]),
    "crossing by a hair": shapely.Polygon([(0, 0), (4, 0), (4, 4), (2, -1e-13), (0, 4)]),
    "spike": shapely.Polygon([(0, 0), (10, 0), (12, 0), (10, 0), (10, 10), (0, 10)]),
    "no area": shapely.Polygon([(0, 0), (1, 0), (2, 0), (0, 0)]),
    "overlapping parts": shapely.MultiPolygon([shapely.box(0, 0, 10, 10), shapely.box(5, 5, 15, 15)]),
    "NaN": shapely.Polygon([(0, 0), (np.nan, 0), (10, 10), (0, 10)]),
    "infinity": shapely.Polygon([(0, 0), (np.inf, 0), (10, 10), (0, 10)]),
    "absurd": shapely.box(0, 0, 2 * ABSURD_LIMIT, 1),
    "empty": shapely.Polygon(),
    "empty multipolygon": shapely.MultiPolygon(),
    "null": None,
    "tiny bow-tie far out": shapely.Polygon([(500000.0, 4000000.0), (500000.001, 4000000.0), (500000.0, 4000000.001),
                                             (500000.001, 4000000.001)]),
}
#: valid shapes too near to call (or with holes, parts, straight turns): left to GEOS, never wrong
DOUBTFUL = {
    "nearly touching a slanted edge": shapely.Polygon([(0, 0), (4, 4), (4, 8), (2, 2 + 1e-13), (0, 8)]),
    "repeated point": shapely.Polygon([(0, 0), (10, 0), (10, 0), (10, 10), (0, 10)]),
    "collinear point": shapely.Polygon([(0, 0), (5, 0), (10, 0), (10, 10), (0, 10)]),
    "a hole": shapely.Polygon([(0, 0), (10, 0), (10, 10), (0, 10)], [[(2, 2), (4, 2), (4, 4), (2, 2)]]),
    "a hole touching the shell at a point": shapely.Polygon([(0, 0), (10, 0), (10, 10), (0, 10)],
                                                            [[(0, 0), (4, 2), (4, 4), (0, 0)]]),
    "two parts": shapely.MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(5, 5, 6, 6)]),
    "a nanometre square far out": shapely.Polygon([(500000.0 + dx, 4000000.0 + dy) for dx, dy in
                                                   [(0, 0), (1e-9, 0), (1e-9, 1e-9), (0, 1e-9)]]),
}


def test_degenerate_and_doubtful_shapes_are_left_to_geos():
    shapes = [*DEGENERATE.values(), *DOUBTFUL.values()]
    certain = _assert_never_vouches_wrongly(shapes)
    vouched = [name for name, c in zip([*DEGENERATE, *DOUBTFUL], certain, strict=True) if c]
    assert vouched == []
    assert not _sane(np.asarray(list(DEGENERATE.values()), dtype=object)).any()
    # a vertex 1e-13 above a level edge: their boxes are apart, which decides it exactly
    assert certainly_valid(shapely.to_wkb([shapely.Polygon([(0, 0), (4, 0), (4, 4), (2, 1e-13), (0, 4)])])).all()


def test_random_simple_and_shuffled_rings_are_vouched_for_only_when_geos_finds_them_valid():
    rng = np.random.default_rng(7)
    stars, shuffled = [], []
    for _ in range(3000):
        x, y = rng.uniform(-1e6, 1e6), rng.uniform(-1e6, 1e6)
        n = int(rng.integers(3, 12))
        stars.append(_star(rng, n, x, y, rng.uniform(0.01, 50)))                  # simple, often concave
        shuffled.append(shapely.Polygon(rng.uniform(0, 10, (n, 2)) + (x, y)))     # often crossing itself
    certain = _assert_never_vouches_wrongly([*stars, *shuffled, shapely.MultiPolygon([stars[0]])])
    valid = _sane(np.asarray(stars, dtype=object))
    assert certain[:3000].sum() > 0.9 * valid.sum(), "simple rings are mostly vouched for"
    assert certain[3000:6000].any() and not certain[3000:6000].all(), "shuffled rings: some simple, some not"
    assert certain[-1] == certain[0], "a multipolygon of one ring is judged as its ring"


def test_boxes_rotated_and_far_from_the_origin_are_all_vouched_for():
    rng = np.random.default_rng(3)
    x, y = rng.uniform(3e5, 7e5, 5000), rng.uniform(3e6, 5e6, 5000)
    w, h = rng.uniform(3, 60, 5000), rng.uniform(3, 60, 5000)
    boxes = shapely.box(x, y, x + w, y + h)
    turned = np.array([shapely.affinity.rotate(b, a) for b, a in zip(boxes, rng.uniform(0, 90, 5000), strict=True)])
    assert _assert_never_vouches_wrongly([*boxes, *turned]).all()


def test_rings_too_long_open_rings_and_non_polygons_are_left_to_geos():
    big = shapely.Point(0, 0).buffer(10, quad_segs=MAX_VERTICES)  # more vertices than the pairwise test takes
    assert certainly_valid(shapely.to_wkb([big])).tolist() == [False]
    # an open ring cannot be written by GEOS: the WKB by hand (little-endian polygon, one ring of 4 points)
    open_ring = struct.pack("<BII", 1, 3, 1) + struct.pack("<I", 4) + struct.pack("<8d", 0, 0, 1, 0, 1, 1, 0, 1)
    assert certainly_valid(pa.array([open_ring])).tolist() == [False]
    assert certainly_valid(shapely.to_wkb([shapely.box(0, 0, 1, 1), shapely.Point(0, 0)])) is None
    big_endian = shapely.to_wkb([shapely.box(0, 0, 1, 1)], byte_order=0)
    assert certainly_valid(big_endian) is None


@pytest.mark.parametrize("relative, layer", [("vector/delft_bgt_pand.sqlite", None), ("vector/bubenec.gpkg", None),
                                             ("vector/countries.fgb", None), ("vector/nybb.shp", None),
                                             ("vector/poly00_epsg27700.fgb", None)])
def test_on_the_real_sample_layers_every_vouched_geometry_is_valid_to_geos(require, relative, layer):
    import pyogrio

    path = require(relative)
    for name, geometry in pyogrio.list_layers(path):
        if geometry is None or "POLYGON" not in str(geometry).upper():
            continue
        _, table = pyogrio.read_arrow(path, layer=str(name))
        wkb = next(table.column(f.name) for f in table.schema if f.metadata and b"ARROW:extension:name" in f.metadata)
        certain = certainly_valid(wkb.cast(pa.binary()))
        if certain is None:  # a layer the pre-check does not read (big-endian, curves): GEOS checks it all
            continue
        geoms = shapely.from_wkb(wkb.to_numpy(zero_copy_only=False))
        wrong = np.flatnonzero(certain & ~_sane(geoms))
        assert wrong.size == 0, (relative, name, wrong[:5])


def test_the_full_check_given_the_pre_checks_mask_rejects_and_repairs_as_without_it():
    from gis.geometry import check_and_repair

    rng = np.random.default_rng(11)
    shapes = [*DEGENERATE.values(), *DOUBTFUL.values()]
    shapes += [shapely.Polygon(rng.uniform(0, 10, (int(rng.integers(3, 9)), 2))) for _ in range(500)]
    wkb = pa.array(list(shapely.to_wkb(np.asarray(shapes, dtype=object))), pa.binary())
    vouched = certainly_valid(wkb)
    assert vouched.any() and not vouched.all()
    alone, helped = check_and_repair(wkb), check_and_repair(wkb, valid=vouched)
    assert helped.rejected == alone.rejected
    assert (helped.repaired == alone.repaired).all() and alone.repaired.any()
    assert all(a is None and b is None or shapely.equals_exact(a, b, 0.0)
               for a, b in zip(alone.geoms, helped.geoms, strict=True))
