"""Vector tiles: MVT content, TileJSON, ranges, ETag/304, gzip, cache invalidation, generalisation."""

from __future__ import annotations

import json

import mapbox_vector_tile
import numpy as np
import pytest
import shapely

from gis.crs import reproject
from serving.tilegrid import tile_bounds, tile_of, tile_size
from tests.tiles.conftest import headers


def decode(data: bytes) -> dict:
    return mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})


def busiest_tile(served_city, layer: str, z: int) -> tuple[int, int]:
    """The tile at zoom z holding the first feature of a layer (computed independently)."""
    wkt = served_city.store.scalar(
        f"SELECT ST_AsText(ST_Centroid(geom)) FROM features WHERE layer = '{layer}' AND valid_to IS NULL "
        "ORDER BY id LIMIT 1")
    merc = reproject(np.array([shapely.from_wkt(wkt)], dtype=object), served_city.crs, "EPSG:3857")[0]
    return tile_of(merc.x, merc.y, z)


def expected_ids(served_city, layer: str, z: int, x: int, y: int) -> set[str]:
    """Ids of the layer's features whose bbox overlaps the tile and at least half a display pixel large."""
    rows = served_city.store.rows(
        "SELECT id, ST_AsWKB(geom) FROM features WHERE layer = ? AND valid_to IS NULL", [layer])
    geoms = reproject(np.array([shapely.from_wkb(bytes(r[1])) for r in rows], dtype=object),
                      served_city.crs, "EPSG:3857")
    box = shapely.box(*tile_bounds(z, x, y))
    bounds = shapely.bounds(geoms)
    size = np.fmax(bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1])
    hit = shapely.intersects(shapely.envelope(geoms), box) & (size >= tile_size(z) / 512)
    return {rows[i][0] for i in np.nonzero(hit)[0]}


def test_tile_holds_exactly_the_features_whose_bbox_overlaps_it(client, served_city):
    z = 16
    x, y = busiest_tile(served_city, "buildings", z)
    resp = client.get(f"/collections/buildings/tiles/WebMercatorQuad/{z}/{y}/{x}")
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    layer = decode(resp.content)["buildings"]
    got = {f["properties"]["id"] for f in layer["features"]}
    assert got == expected_ids(served_city, "buildings", z, x, y)
    assert layer["extent"] == 4096


def test_tile_features_carry_core_and_own_properties_at_high_zoom(client, served_city):
    x, y = busiest_tile(served_city, "buildings", 16)
    feature = decode(client.get(f"/tiles/buildings/16/{x}/{y}.mvt").content)["buildings"]["features"][0]
    props = feature["properties"]
    assert {"id", "class", "name", "height", "floors", "use"} <= set(props)
    card = served_city.feature(props["id"])
    assert props["height"] == card["height"] and props["floors"] == card["properties"]["floors"]


def test_tile_geometry_lands_where_the_feature_is(client, served_city):
    z = 17
    x, y = busiest_tile(served_city, "buildings", z)
    features = decode(client.get(f"/tiles/buildings/{z}/{x}/{y}.mvt").content)["buildings"]["features"]
    f = next(f for f in features if f["geometry"]["type"] == "Polygon")
    minx, miny, maxx, maxy = tile_bounds(z, x, y)
    ring = np.array(f["geometry"]["coordinates"][0], dtype=float)
    merc = np.column_stack((minx + ring[:, 0] / 4096 * (maxx - minx), maxy - ring[:, 1] / 4096 * (maxy - miny)))
    decoded = shapely.Polygon(merc)
    wkt = served_city.store.scalar("SELECT ST_AsText(geom) FROM features WHERE id = ? AND valid_to IS NULL",
                                   [f["properties"]["id"]])
    truth = reproject(np.array([shapely.from_wkt(wkt)], dtype=object), served_city.crs, "EPSG:3857")[0]
    clipped = truth.intersection(shapely.box(minx - 100, miny - 100, maxx + 100, maxy + 100))
    assert decoded.symmetric_difference(clipped).area < 0.05 * clipped.area


def test_xyz_and_ogc_tile_urls_give_the_same_tile(client, served_city):
    x, y = busiest_tile(served_city, "roads", 15)
    a = client.get(f"/collections/roads/tiles/WebMercatorQuad/15/{y}/{x}", headers={"Accept-Encoding": "identity"})
    b = client.get(f"/tiles/roads/15/{x}/{y}.mvt", headers={"Accept-Encoding": "identity"})
    assert a.status_code == b.status_code == 200 and a.content == b.content


def test_tile_is_gzipped_when_the_client_accepts_it(client, served_city):
    x, y = busiest_tile(served_city, "buildings", 15)
    url = f"/tiles/buildings/15/{x}/{y}.mvt"
    raw = client.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in raw.headers
    zipped = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == raw.content  # the client decodes; the wire carried fewer bytes
    assert int(zipped.headers["content-length"]) < len(raw.content)


def test_etag_gives_304_and_changes_when_its_layer_changes(client, served_city, tmp_path):
    def marker(value: float):
        source = tmp_path / "marker.geojson"
        source.write_text(json.dumps({"type": "FeatureCollection", "features": [{
            "type": "Feature", "properties": {"k": value},
            "geometry": {"type": "Point", "coordinates": [120.17, 35.95]}}]}), encoding="utf-8")
        return source

    viewer = headers("viewer")
    served_city.ingest(marker(1), layer="etag_marker", classification="internal")
    url = "/tiles/etag_marker/0/0/0.mvt"
    etag = client.get(url, headers=viewer).headers["etag"]
    assert client.get(url, headers={**viewer, "If-None-Match": etag}).status_code == 304
    x, y = busiest_tile(served_city, "buildings", 16)
    buildings = client.get(f"/tiles/buildings/16/{x}/{y}.mvt").headers["etag"]
    served_city.ingest(marker(2), layer="etag_marker", classification="internal")
    second = client.get(url, headers={**viewer, "If-None-Match": etag})
    assert second.status_code == 200 and second.headers["etag"] != etag
    # another layer's tile keeps its ETag: it did not change
    assert client.get(f"/tiles/buildings/16/{x}/{y}.mvt", headers={"If-None-Match": buildings}).status_code == 304


def test_empty_tile_is_204(client):
    assert client.get("/tiles/buildings/16/0/0.mvt").status_code == 204


@pytest.mark.parametrize("path", [
    "/tiles/buildings/3/8/0.mvt", "/tiles/buildings/3/0/8.mvt", "/tiles/buildings/25/0/0.mvt",
    "/tiles/buildings/-1/0/0.mvt", "/tiles/buildings/x/0/0.mvt", "/collections/buildings/tiles/WebMercatorQuad/2/9/1",
    "/tiles/buildings/30/1073741824/0.mvt",
])
def test_tile_coordinates_out_of_range_are_400(client, path):
    resp = client.get(path)
    assert resp.status_code == 400, resp.text
    assert resp.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("path", ["/tiles/no_layer/1/0/0.mvt", "/tiles/dem/1/0/0.mvt",
                                  "/collections/buildings/tiles/WorldCRS84Quad/1/0/0",
                                  "/tiles/pipes/14/0/0.mvt", "/collections/pipes/tiles/WebMercatorQuad"])
def test_tiles_of_missing_raster_hidden_layers_or_other_matrix_sets_are_404(client, path):
    assert client.get(path).status_code == 404


def test_tilejson_describes_the_layer(client):
    doc = client.get("/collections/buildings/tiles/WebMercatorQuad").json()
    assert doc["tilejson"] == "3.0.0"
    assert doc["tiles"][0].endswith("/collections/buildings/tiles/WebMercatorQuad/{z}/{y}/{x}")
    layer = doc["vector_layers"][0]
    assert layer["id"] == "buildings" and layer["fields"]["floors"] == "Number"
    w, s, e, n = doc["bounds"]
    assert w < doc["center"][0] < e and s < doc["center"][1] < n


def test_restricted_layer_tiles_are_coarse_for_operators_and_exact_for_admins(client, served_city):
    x, y = busiest_tile(served_city, "pipes", 16)
    url = f"/tiles/pipes/16/{x}/{y}.mvt"
    operator = decode(client.get(url, headers=headers("operator")).content)["pipes"]["features"]
    admin = decode(client.get(url, headers=headers("admin")).content)["pipes"]["features"]
    assert {"diameter_mm", "material"} <= set(admin[0]["properties"])
    for f in operator:
        assert not {"diameter_mm", "material", "depth", "from_node"} & set(f["properties"])
    by_id = {f["properties"]["id"]: f for f in admin}
    fid = operator[0]["properties"]["id"]
    wkt = served_city.store.scalar("SELECT ST_AsText(geom) FROM features WHERE id = ? AND valid_to IS NULL", [fid])
    snapped = shapely.set_precision(shapely.from_wkt(wkt), 50.0)
    assert shapely.get_coordinates(snapped).tolist() != shapely.get_coordinates(shapely.from_wkt(wkt)).tolist()
    merc = reproject(np.array([snapped], dtype=object), served_city.crs, "EPSG:3857")[0]
    minx, miny, maxx, maxy = tile_bounds(16, x, y)
    first = shapely.get_coordinates(merc)[0]
    px = ((first[0] - minx) / (maxx - minx) * 4096, (maxy - first[1]) / (maxy - miny) * 4096)
    coarse_coords = np.array(operator[0]["geometry"]["coordinates"], dtype=float).reshape(-1, 2)
    assert np.min(np.hypot(coarse_coords[:, 0] - px[0], coarse_coords[:, 1] - px[1])) <= 2
    assert operator[0]["geometry"] != by_id[fid]["geometry"]


def test_low_zooms_carry_per_cell_aggregates_that_account_for_every_feature(served_city):
    from cim.model.catalog import layer_info
    from serving.tilegrid import tiles_covering
    from serving.vector.tiles import VectorTiles

    tiles = VectorTiles(served_city, max_features=100)
    info = layer_info(served_city, "buildings", "anonymous")
    prepared = tiles.prepare(info)
    assert 0 < prepared.raw_from <= 16 and prepared.agg_table
    merc_bounds = reproject(np.array([shapely.box(*info.bbox)], dtype=object), served_city.crs, "EPSG:3857")[0].bounds
    for z in range(0, 17):
        counts, largest = 0, 0
        for x, y in tiles_covering(merc_bounds, z):
            data = tiles.tile(info, z, x, y)
            assert len(data) <= 500 * 1024
            features = decode(data)["buildings"]["features"] if data else []
            largest = max(largest, len(features))
            if z < prepared.raw_from:
                assert all(f["properties"]["class"] == "cluster" for f in features)
                counts += sum(f["properties"]["count"] for f in features)
        if z < prepared.raw_from:
            assert counts == info.count, z
        else:
            assert largest <= 100, z
    tiles.close()


def test_seeded_tiles_are_kept_once_and_match_a_fresh_render(served_city):
    from cim.model.catalog import layer_info
    from serving.vector import RenderedTiles
    from serving.vector.tiles import VectorTiles

    tiles = VectorTiles(served_city, max_features=500)  # a dataset of its own, beside the server's
    store = RenderedTiles(tiles)
    info = layer_info(served_city, "buildings", "anonymous")
    kept = store.seed(info, max_zoom=15)
    assert kept > 0
    assert store.seed(info, max_zoom=15) == 0  # nothing left to render
    x, y = busiest_tile(served_city, "buildings", 15)
    data, gz = store.get(info, 15, x, y)
    import gzip

    assert data == tiles.tile(info, 15, x, y) and gzip.decompress(gz) == data
    key = tiles.prepare(info).key
    assert tiles.derived.count_tiles(key) == kept
    store.get(info, 16, 0, 0)                 # empty: rendered, not kept
    x18, y18 = busiest_tile(served_city, "buildings", 18)
    store.get(info, 18, x18, y18)             # deeper than the seed zoom: not kept
    assert tiles.derived.count_tiles(key) == kept
    tiles.close()


def test_point_layers_are_drawn_at_every_zoom(client, served_city):
    """Points have no size: they are never dropped as smaller than a pixel."""
    for z in (4, 10, 14, 18):
        x, y = busiest_tile(served_city, "inspections", z)  # the tile of inspections.I0
        resp = client.get(f"/tiles/inspections/{z}/{x}/{y}.mvt", headers=headers("viewer"))
        assert resp.status_code == 200, z
        features = decode(resp.content)["inspections"]["features"]
        assert all(f["geometry"]["type"] == "Point" for f in features)
        assert "inspections.I0" in {f["properties"]["id"] for f in features}


def test_a_request_still_rendering_the_previous_version_survives_a_new_one_landing(city, tmp_path):
    from cim.model.catalog import layer_info
    from serving.vector.tiles import VectorTiles
    from tests.cim.helpers import parcels_geojson

    tiles = VectorTiles(city)
    infos = []
    for n in (3, 4, 5, 6):  # four versions of the layer, each rendered as it lands
        city.ingest(parcels_geojson(tmp_path / f"parcels{n}.geojson", n=n), layer="parcels")
        infos.append(layer_info(city, "parcels", "anonymous"))
        centre = reproject(np.array([shapely.box(*infos[-1].bbox).centroid], dtype=object), city.crs, "EPSG:3857")[0]
        z = 13  # one tile holds the whole layer
        x, y = tile_of(centre.x, centre.y, z)
        assert len(decode(tiles.tile(infos[-1], z, x, y))["parcels"]["features"]) == n
    # requests that read the catalogue just before the last versions landed still render their own
    assert len(decode(tiles.tile(infos[1], z, x, y))["parcels"]["features"]) == 4
    assert len(decode(tiles.tile(infos[2], z, x, y))["parcels"]["features"]) == 5
    kept = [e.version for e in tiles.derived.entries(layer="parcels", view="full")]
    assert kept == [i.version for i in infos[1:]]  # the oldest is dropped
    tiles.close()


def test_tiles_rendered_on_request_are_kept_together_and_a_tile_kept_elsewhere_is_served_alike(served_city):
    import gzip

    from cim.model.catalog import layer_info
    from serving.vector import RenderedTiles
    from serving.vector.tiles import VectorTiles

    tiles = VectorTiles(served_city, max_features=400)  # a dataset of its own, beside the server's
    info = layer_info(served_city, "buildings", "anonymous")
    key = tiles.prepare(info).key
    x, y = busiest_tile(served_city, "buildings", 15)
    behind = RenderedTiles(tiles, behind=True)
    data, gz = behind.get(info, 15, x, y)      # rendered: waits in memory for the next commit
    assert gzip.decompress(gz) == data and decode(data)["buildings"]["features"]
    assert behind.get(info, 15, x, y) == (data, gz)  # the same bytes while it waits
    behind.close()                             # what was pending is kept
    assert tiles.derived.tile(key, 15, x, y) == gz
    again = RenderedTiles(tiles)               # reads which z15 tiles are kept
    assert again.get(info, 15, x, y) == (data, gz)  # the kept bytes, read back
    near, _ = RenderedTiles(tiles).get(info, 15, x + 1, y)  # kept by another renderer after that read
    assert again.get(info, 15, x + 1, y)[0] == near == tiles.tile(info, 15, x + 1, y)
    tiles.close()


def test_rows_held_in_memory_give_the_same_tiles_as_the_range_query(served_city):
    from cim.model.catalog import layer_info
    from serving.tilegrid import tiles_covering
    from serving.vector.held import HeldRows
    from serving.vector.tiles import VectorTiles

    held = VectorTiles(served_city, max_features=300)            # a dataset of its own, beside the server's
    queried = VectorTiles(served_city, max_features=300, hold=False)
    for layer, role in (("buildings", "anonymous"), ("pipes", "operator"), ("pipes", "admin"),
                        ("inspections", "viewer")):
        info = layer_info(served_city, layer, role)
        p = held.prepare(info)
        tiles = [(z, x, y) for z in range(max(p.raw_from, 12), 19)
                 for x, y in sorted(tiles_covering(p.bounds, z))[:40]]
        drawn = 0
        for z, x, y in tiles:
            data = held.tile(info, z, x, y)
            assert data == queried.tile(info, z, x, y), (layer, role, z, x, y)
            drawn += bool(data)
        assert drawn > 0, (layer, role)
        assert held.held.get(p, "id, wkb") is not None  # answered from memory, not by the query
    small = HeldRows(held.derived, budget=1)              # a table over the budget is never held
    assert small.get(held.prepare(layer_info(served_city, "buildings", "anonymous")), "id, wkb") is None
    held.close()
    queried.close()
