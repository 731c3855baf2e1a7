"""The encoder quantises coordinates itself (no quantised geometries are built): every feature it writes
lands exactly where ``quantise`` puts it, for polygons, lines and points, clipped or not, in a tile of
real Web Mercator size with deltas from one byte to three."""

from __future__ import annotations

import mapbox_vector_tile
import numpy as np
import pyarrow as pa
import shapely

from serving.tilegrid import tile_bounds
from serving.vector.encode import encode_tile, quantise, varints

Z, X, Y = 14, 13702, 6340  # a tile over Qingdao
B = tile_bounds(Z, X, Y)
W = B[2] - B[0]


def _at(fx: float, fy: float) -> tuple[float, float]:
    """A map point at a fraction of the tile (may lie outside it)."""
    return B[0] + fx * W, B[1] + fy * W


def _shapes() -> list[shapely.Geometry]:
    rng = np.random.default_rng(3)
    polys = [shapely.box(*_at(*rng.uniform(0, 0.9, 2)), *_at(*rng.uniform(0.9, 1.0, 2))) for _ in range(3)]
    polys += [shapely.Polygon([_at(0.1, 0.1), _at(0.4, 0.12), _at(0.35, 0.5), _at(0.12, 0.4)]),
              shapely.box(*_at(-0.2, 0.4), *_at(0.2, 0.6)),  # crosses the left edge: clipped
              shapely.MultiPolygon([shapely.box(*_at(0.6, 0.6), *_at(0.7, 0.7)),
                                    shapely.box(*_at(0.8, 0.8), *_at(0.85, 0.9))])]
    lines = [shapely.LineString([_at(0.0, 0.0), _at(0.999, 0.5), _at(0.5, 0.999)]),  # long: 2-byte deltas
             shapely.LineString([_at(0.5, 0.5), _at(0.5001, 0.5002)]),  # short: 1-byte deltas
             shapely.LineString([_at(-0.5, 0.3), _at(1.5, 0.31)])]  # through the tile: clipped both ends
    points = [shapely.Point(_at(0.25, 0.75)), shapely.MultiPoint([_at(0.01, 0.02), _at(0.98, 0.97)])]
    return polys + lines + points


def _normalised(geom: shapely.Geometry) -> shapely.Geometry:
    return shapely.normalize(shapely.set_precision(geom, 1.0))


def test_every_feature_lands_where_quantise_puts_it():
    geoms = np.array(_shapes(), dtype=object)
    data = encode_tile("t", geoms, pa.table({"i": list(range(len(geoms)))}), B)
    decoded = mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})["t"]["features"]
    assert sorted(f["properties"]["i"] for f in decoded) == list(range(len(geoms)))
    expected = quantise(geoms, B)
    for f in decoded:
        got = shapely.geometry.shape(f["geometry"])
        want = expected[f["properties"]["i"]]
        assert _normalised(got).equals(_normalised(want)), (f["properties"]["i"], got.wkt, want.wkt)


def test_varints_of_one_two_and_more_bytes_match_the_protobuf_rule():
    values = np.array([0, 1, 127, 128, 300, 16383, 16384, 2**21, 2**35 + 5, 2**63], dtype=np.uint64)

    def reference(v: int) -> bytes:
        out = bytearray()
        while True:
            out.append((v & 0x7F) | (0x80 if v >> 7 else 0))
            v >>= 7
            if not v:
                return bytes(out)

    for chunk in (values[:3], values[:6], values):  # the one-byte, two-byte and general paths
        flat, sizes = varints(chunk)
        assert flat.tobytes() == b"".join(reference(int(v)) for v in chunk)
        assert sizes.tolist() == [len(reference(int(v))) for v in chunk]
