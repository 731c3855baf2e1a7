"""A store's centroids (``Store.centroids``): what the centroid-in-polygon join reads. PostGIS sends
them in bulk — a few rows of joined ids and one MultiPoint WKB each — and must give the centroid
of every feature exactly as one row a feature does, whatever the ids and geometries hold."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from cim.model.relations import features
from cim.store.base import Store

X, Y = 515_000.0, 3_980_000.0


def _shapes(n: int) -> list[tuple[str, object]]:
    rng = np.random.default_rng(5)
    rows = []
    for i in range(n):
        x, y = rng.uniform(0, 5_000, 2)
        w, h = rng.uniform(5, 40, 2)
        if i % 7 == 0:  # two parts
            shape = MultiPolygon([box(x, y, x + w, y + h), box(x + w + 5, y, x + 2 * w, y + h)])
        elif i % 5 == 0:  # a courtyard
            shape = Polygon(box(x, y, x + 3 * w, y + 3 * h).exterior.coords,
                            [box(x + w, y + h, x + 2 * w, y + 2 * h).exterior.coords])
        else:
            shape = box(x, y, x + w, y + h)
        rows.append((f"b{i:05d}", shapely.affinity.translate(shape, X, Y)))
    return rows


def _centroids_by_id(table) -> dict[str, tuple[float, float]]:
    ids = table.column("id").to_pylist()
    assert len(ids) == len(set(ids)), "a feature is listed twice"
    return dict(zip(ids, zip(table.column("x").to_pylist(), table.column("y").to_pylist(), strict=True),
                    strict=True))


def _city(new_city, tmp_path, rows, *, z: bool = False):
    geoms = [shapely.force_3d(g, 12.5) if z else g for _, g in rows]
    frame = gpd.GeoDataFrame({"key": [k for k, _ in rows]}, geometry=geoms, crs="EPSG:4549")
    path = tmp_path / "shapes.parquet"
    frame.to_parquet(path, index=False)
    city = new_city()
    city.ingest(path, layer="shapes", id_field="key")
    return city


@pytest.mark.parametrize("z", [False, True], ids=["2d", "with-z"])
def test_every_features_centroid_is_the_geos_centroid_in_bulk_and_row_by_row(new_city, tmp_path, backend, z,
                                                                             monkeypatch):
    rows = _shapes(3_000)
    city = _city(new_city, tmp_path, rows, z=z)
    relation = features(layers=["shapes"], with_geometry=True, columns="id, geom")
    with monkeypatch.context() as patch:
        if backend == "postgis":  # the bulk read itself answers: falling back to rows would fail here
            patch.setattr(Store, "centroids", lambda *_: pytest.fail("PostGIS fell back to one row a feature"))
        bulk = _centroids_by_id(city.store.centroids(relation))
    one_by_one = _centroids_by_id(Store.centroids(city.store, relation))
    expected = {f"shapes.{k}": (c.x, c.y) for k, c in ((k, shapely.centroid(g)) for k, g in rows)}
    assert bulk.keys() == one_by_one.keys() == expected.keys()
    for key, (x, y) in expected.items():
        assert bulk[key] == pytest.approx((x, y), abs=1e-6), key
        assert bulk[key] == one_by_one[key], key


def test_an_id_holding_the_separator_still_gets_its_own_centroid(new_city, tmp_path):
    rows = _shapes(40)
    rows[3] = ("odd\x1fid", rows[3][1])  # the character the bulk read joins ids with
    city = _city(new_city, tmp_path, rows)
    relation = features(layers=["shapes"], with_geometry=True, columns="id, geom")
    got = _centroids_by_id(city.store.centroids(relation))
    assert len(got) == 40
    c = shapely.centroid(rows[3][1])
    assert got["shapes.odd\x1fid"] == pytest.approx((c.x, c.y), abs=1e-6)


def test_a_layer_with_no_current_feature_has_no_centroids(new_city, tmp_path):
    city = _city(new_city, tmp_path, _shapes(5))
    relation = features(layers=["shapes"], with_geometry=True, columns="id, geom", where="id = 'none'")
    table = city.store.centroids(relation)
    assert table.num_rows == 0 and table.column_names == ["id", "x", "y"]
