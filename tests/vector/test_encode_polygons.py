"""The MVT encoder on polygon shapes real data has: holes, mixed with plain polygons, in one tile."""

from __future__ import annotations

import mapbox_vector_tile
import numpy as np
import pyarrow as pa
import shapely

from serving.vector.encode import encode_tile

BOUNDS = (0.0, 0.0, 4096.0, 4096.0)  # map units = tile units, y flipped by the encoder


def _decode(data: bytes) -> list[dict]:
    return mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})["parts"]["features"]


def test_a_tile_of_plain_polygons_where_one_has_a_hole_keeps_every_ring():
    """CityJSON building parts gave such tiles: the encoder counted one ring per polygon and failed."""
    courtyard = shapely.Polygon([(100, 100), (900, 100), (900, 900), (100, 900)],
                                [[(300, 300), (300, 700), (700, 700), (700, 300)]])
    plain = [shapely.box(1000 + 200 * i, 1000, 1150 + 200 * i, 1150) for i in range(3)]
    geoms = np.array([plain[0], courtyard, *plain[1:]], dtype=object)
    data = encode_tile("parts", geoms, pa.table({"id": ["a", "court", "b", "c"]}), BOUNDS)
    features = {f["properties"]["id"]: f["geometry"] for f in _decode(data)}
    assert set(features) == {"a", "court", "b", "c"}
    court = features["court"]
    assert court["type"] == "Polygon" and len(court["coordinates"]) == 2  # the outer ring and the hole
    shape = shapely.geometry.shape(court)
    assert shape.area == shapely.affinity.scale(courtyard, 1, -1, origin=(0, 2048)).area
