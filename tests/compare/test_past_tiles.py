"""The map at any time: vector tiles and 3D Tiles of a past version decode to the old features."""

from __future__ import annotations

from urllib.parse import quote

import mapbox_vector_tile
import numpy as np
import shapely

from gis.crs import reproject
from serving.tilegrid import tile_of
from tests.compare.helpers import X0, Y0
from tests.threed.decode import property_table, split_glb, tiles

Z = 13


def tile_url(extra: str = "") -> str:
    merc = reproject(np.array([shapely.Point(X0 + 250, Y0 + 10)], dtype=object), "EPSG:4549", "EPSG:3857")[0]
    x, y = tile_of(merc.x, merc.y, Z)
    return f"/collections/buildings/tiles/WebMercatorQuad/{Z}/{y}/{x}{extra}"


def tile_ids(response) -> set[str]:
    assert response.status_code == 200, response.text
    layer = next(iter(mapbox_vector_tile.decode(response.content).values()))
    return {f["properties"]["id"] for f in layer["features"]}


def test_vector_tiles_at_a_past_datetime_decode_to_the_old_features(served):
    versions = served.get("/api/versions?layer=buildings").json()["versions"]
    v1_time = versions[-1]["created_at"]
    now = tile_ids(served.get(tile_url()))
    past = tile_ids(served.get(tile_url(f"?datetime={quote(v1_time)}")))
    assert past == {f"buildings.b{i}" for i in range(10)}
    assert now == past - {"buildings.b3"} | {"buildings.b10"}
    assert tile_ids(served.get(tile_url("?datetime=1"))) == past
    assert tile_ids(served.get(tile_url())) == now  # the current tiles are still the current ones
    etags = {served.get(tile_url(q)).headers["etag"] for q in ("", "?datetime=1")}
    assert len(etags) == 2


def test_a_datetime_before_the_first_version_is_404_and_without_zone_400(served):
    assert served.get(tile_url("?datetime=2000-01-01T00:00:00Z")).status_code == 404
    assert served.get(tile_url("?datetime=2026-01-01T00:00:00")).status_code == 400


def test_3d_tiles_at_a_past_version_hold_the_old_buildings(served):
    doc = served.get("/3dtiles/buildings/tileset.json?datetime=1").json()
    assert doc["extras"]["cim"]["version"] == 1
    ids: set[str] = set()
    for tile in tiles(doc):
        uri = tile["content"]["uri"]
        assert uri.endswith("?datetime=1")
        glb = served.get(f"/3dtiles/buildings/{uri}")
        assert glb.status_code == 200
        table = property_table(*split_glb(glb.content))
        ids |= set(table["id"])
    assert ids == {f"buildings.b{i}" for i in range(10)}
    current = served.get("/3dtiles/buildings/tileset.json").json()
    assert current["extras"]["cim"]["version"] == 2
    assert "datetime" not in current["root"]["content"]["uri"]
