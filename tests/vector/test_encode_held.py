"""A layer held as ragged arrays (``Shapes``, what a server keeps in memory) encodes to the very bytes
of the same rows given as shapely geometries and an Arrow table — points, lines and polygons, multi
parts, holes, features inside the tile and features clipped at its edge, rows in any order — and a
layer of mixed families or with missing shapes is not held that way (its tiles parse WKB instead)."""

from __future__ import annotations

import mapbox_vector_tile
import numpy as np
import pyarrow as pa
import pytest
import shapely

from serving.tilegrid import tile_bounds
from serving.vector.encode import Properties, Shapes, encode_tile

B = tile_bounds(15, 27330, 12982)
W = B[2] - B[0]


def _layers() -> dict[str, list[shapely.Geometry]]:
    rng = np.random.default_rng(7)

    def at() -> tuple[float, float]:  # from 30 % outside the tile to 30 % beyond it: some are clipped
        return B[0] + rng.uniform(-0.3, 1.3) * W, B[1] + rng.uniform(-0.3, 1.3) * W

    frame = shapely.box(B[0] + 0.1 * W, B[1] + 0.1 * W, B[0] + 0.9 * W, B[1] + 0.9 * W)
    hole = shapely.box(B[0] + 0.3 * W, B[1] + 0.3 * W, B[0] + 0.4 * W, B[1] + 0.4 * W)
    return {
        "points": [shapely.Point(at()) for _ in range(200)] + [shapely.MultiPoint([at(), at()]) for _ in range(40)],
        "lines": [shapely.LineString([at() for _ in range(int(rng.integers(2, 6)))]) for _ in range(200)]
        + [shapely.MultiLineString([[at(), at()], [at(), at(), at()]]) for _ in range(30)],
        "polygons": [shapely.Polygon([at() for _ in range(3)]) for _ in range(80)]
        + [shapely.box(*at(), *at()).buffer(W * 0.01) for _ in range(80)]
        + [shapely.MultiPolygon([shapely.box(*at(), *at()), shapely.box(*at(), *at())]) for _ in range(20)]
        + [shapely.Polygon(frame.exterior, [hole.exterior.coords[::-1]])],
    }


@pytest.mark.parametrize("family", ["points", "lines", "polygons"])
def test_held_rows_encode_to_the_bytes_of_the_same_rows_as_geometries(family):
    geoms = np.array(_layers()[family], dtype=object)
    wkb = pa.array(shapely.to_wkb(geoms))
    props = pa.table({"i": np.arange(len(geoms)), "k": np.random.default_rng(1).choice(["a", "b", None], len(geoms))})
    held = Shapes.of(wkb)
    assert held is not None
    idx = np.random.default_rng(2).permutation(len(geoms))[: len(geoms) // 2]
    data = encode_tile("t", held.rows(idx), Properties(props).rows(idx, ["i", "k"]), B)
    assert data == encode_tile("t", geoms[idx], props.take(pa.array(idx)), B)
    decoded = mapbox_vector_tile.decode(data)["t"]["features"]
    inside = shapely.intersects(geoms[idx], shapely.box(*B))
    assert {f["properties"]["i"] for f in decoded} >= set(idx[inside].tolist())


def test_a_layer_of_mixed_families_or_missing_shapes_is_not_held_as_ragged_arrays():
    mixed = pa.array(shapely.to_wkb(np.array([shapely.Point(0, 0), shapely.box(0, 0, 1, 1)], dtype=object)))
    missing = pa.array([shapely.to_wkb(shapely.Point(0, 0)), None], pa.binary())
    assert Shapes.of(mixed) is None
    assert Shapes.of(missing) is None
    assert Shapes.of(pa.array([], pa.binary())) is None
