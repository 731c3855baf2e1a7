"""Properties encoded ahead once (``Properties``) give, for any subset of rows, the very bytes of a
tile encoded from those rows' own table: same keys, same values in the same order, same tags."""

from __future__ import annotations

import mapbox_vector_tile
import numpy as np
import pyarrow as pa
import shapely

from serving.tilegrid import tile_bounds
from serving.vector.encode import Properties, encode_tile

B = tile_bounds(14, 13702, 6340)
W = B[2] - B[0]


def _layer(n: int) -> tuple[np.ndarray, pa.Table]:
    rng = np.random.default_rng(7)
    x, y = rng.uniform(-0.1, 1.0, n), rng.uniform(-0.1, 1.0, n)
    geoms = np.array([shapely.box(B[0] + a * W, B[1] + b * W, B[0] + (a + 0.05) * W, B[1] + (b + 0.05) * W)
                      for a, b in zip(x, y, strict=True)], dtype=object)
    table = pa.table({
        "id": [f"b{i}" for i in range(n)],                                   # unique: a large dictionary
        "class": [["house", "office", None][i % 3] for i in range(n)],      # small, with nulls
        "height": [float(i % 40) / 2 for i in range(n)],
        "floors": pa.array([i % 50 - 5 if i % 7 else None for i in range(n)], pa.int64()),  # negatives
        "listed": [bool(i % 2) for i in range(n)],
        "empty": pa.array([None] * n, pa.string()),                          # never a key
        "kind": pa.array(["a", "b"] * (n // 2), pa.string()).dictionary_encode(),
    })
    return geoms, table


def test_a_tile_from_properties_encoded_ahead_is_the_tile_from_its_rows():
    geoms, table = _layer(400)
    ahead = Properties(table)
    rng = np.random.default_rng(1)
    for size in (1, 25, 200, 400):
        rows = np.sort(rng.choice(400, size, replace=False))
        for names in (table.column_names, ["id", "class"], ["empty"]):
            direct = encode_tile("b", geoms[rows], table.select(names).take(pa.array(rows)), B)
            assert encode_tile("b", geoms[rows], ahead.rows(rows, names), B) == direct, (size, names)
    rows = np.arange(0, 400, 3)
    features = mapbox_vector_tile.decode(encode_tile("b", geoms[rows], ahead.rows(rows, table.column_names), B))
    first = next(f["properties"] for f in features["b"]["features"] if f["properties"]["id"] == "b3")
    assert first == {"id": "b3", "class": "house", "height": 1.5, "floors": -2, "listed": True, "kind": "b"}
