"""The same city served from a DuckDB file and from PostgreSQL + PostGIS answers the same.

One demo city, two copies of its rows — one per backend — and one server on each. Every tile,
page, card, figure and 3D/raster content the viewer asks for is requested from both and compared:
vector tiles feature by feature (ids, properties, geometry up to one tile-grid unit), the rest as
decoded JSON or bytes.
"""

from __future__ import annotations

import json
from pathlib import Path

import mapbox_vector_tile
import numpy as np
import pytest
import shapely
import shapely.geometry
from fastapi.testclient import TestClient

from gis.crs import reproject
from serving.tilegrid import tile_bounds, tiles_covering
from tests.tiles.conftest import KEYS, file_copy, headers

BACKENDS = ("duckdb", "postgis")

#: (layer, role) pairs whose tiles are compared: public, internal, and a restricted layer seen
#: coarse (operator) and full (admin)
VIEWS = [("buildings", "anonymous"), ("parcels", "anonymous"), ("roads", "anonymous"), ("blocks", "anonymous"),
         ("green_space", "anonymous"), ("worksite_bim", "viewer"), ("inspections", "viewer"),
         ("pipes", "operator"), ("pipes", "admin")]
#: coarse and detailed zooms; every tile covering the layer's extent at each (plus a ring of empty ones)
ZOOMS = (0, 4, 9, 12, 13, 14, 15, 16, 17)


@pytest.fixture(scope="module")
def twins(demo_path: Path, postgis_demo, tmp_path_factory: pytest.TempPathFactory) -> dict[str, TestClient]:
    """A server over a DuckDB copy and one over a PostGIS copy of the demo city, running together."""
    from tiles import Settings, create_app

    folder = tmp_path_factory.mktemp("twins")
    clients = {}
    for backend, location in (("duckdb", file_copy(demo_path, folder)), ("postgis", postgis_demo())):
        settings = Settings(city=location, api_keys=json.dumps(KEYS), prepare_tiles=False,
                            viewer_dist=folder / "no-viewer")
        clients[backend] = TestClient(create_app(settings)).__enter__()
    yield clients
    for c in clients.values():
        c.__exit__(None, None, None)


def both(twins: dict[str, TestClient], url: str, role: str = "anonymous", **extra: str) -> tuple:
    """The response of each backend's server to the same request (``extra`` headers added)."""
    return tuple(twins[b].get(url, headers={**headers(role), **extra}) for b in BACKENDS)


def same_json(a, b) -> bool:
    """Equal documents, but for the time each was answered."""
    da, db = a.json(), b.json()
    if isinstance(da, dict) and isinstance(db, dict):
        da.pop("timeStamp", None)
        db.pop("timeStamp", None)
    return da == db


def decoded(data: bytes) -> dict[str, list[tuple[dict, shapely.Geometry]]]:
    """Layer → (properties, geometry in tile units) of every feature, in a canonical order."""
    if not data:
        return {}
    out = {}
    for name, layer in mapbox_vector_tile.decode(data, default_options={"y_coord_down": True}).items():
        rows = [(f["properties"], shapely.geometry.shape(f["geometry"])) for f in layer["features"]]
        out[name] = sorted(rows, key=lambda r: (json.dumps(r[0], sort_keys=True), *r[1].centroid.coords[0]))
    return out


def assert_same_features(a: bytes, b: bytes, where: str) -> int:
    """Same features (same ids and properties), geometry equal up to one tile-grid unit; returns how many."""
    fa, fb = decoded(a), decoded(b)
    assert fa.keys() == fb.keys(), where
    n = 0
    for name in fa:
        assert [p for p, _ in fa[name]] == [p for p, _ in fb[name]], f"{where}: properties differ"
        for (props, ga), (_, gb) in zip(fa[name], fb[name], strict=True):
            assert ga.geom_type == gb.geom_type, (where, props.get("id"))
            assert shapely.hausdorff_distance(ga, gb) <= 1.0, (where, props.get("id"))
        n += len(fa[name])
    return n


def layer_tiles(twins: dict[str, TestClient], layer: str, role: str) -> list[tuple[int, int, int]]:
    """Every tile covering the layer at ``ZOOMS``, with one ring of neighbours (mostly empty)."""
    from cim.model.catalog import layer_info

    w, s, e, n = layer_info(twins["duckdb"].app.state.city, layer, role).bbox_4326
    box = reproject(np.array([shapely.box(w, s, e, n)], dtype=object), "OGC:CRS84", "EPSG:3857")[0]
    out = []
    for z in ZOOMS:
        covering = tiles_covering(box.bounds, z)
        xs, ys = [x for x, _ in covering], [y for _, y in covering]
        out += [(z, x, y) for x in range(max(min(xs) - 1, 0), min(max(xs) + 2, 2**z))
                for y in range(max(min(ys) - 1, 0), min(max(ys) + 2, 2**z))]
    return out


@pytest.mark.parametrize(("layer", "role"), VIEWS, ids=[f"{la}-{r}" for la, r in VIEWS])
def test_vector_tiles_hold_the_same_features_on_both_backends(twins, layer, role):
    tiles = layer_tiles(twins, layer, role)
    features = empty = 0
    for z, x, y in tiles:
        a, b = both(twins, f"/tiles/{layer}/{z}/{x}/{y}.mvt", role, **{"Accept-Encoding": "identity"})
        assert a.status_code == b.status_code, (z, x, y)
        assert a.headers["etag"] == b.headers["etag"]  # same model version token on both
        if a.status_code == 204:
            empty += 1
            continue
        features += assert_same_features(a.content, b.content, f"{layer} {z}/{x}/{y} as {role}")
    assert features > 0 and empty > 0  # detailed and empty tiles were both compared


def test_coarse_pipes_are_snapped_alike_on_both_backends(twins):
    """The restricted view is desensitised by each database's own ST_ReducePrecision: same grid."""
    z, x, y = next(t for t in layer_tiles(twins, "pipes", "operator") if t[0] == 16
                   and both(twins, f"/tiles/pipes/{t[0]}/{t[1]}/{t[2]}.mvt", "operator")[0].status_code == 200)
    a, b = both(twins, f"/tiles/pipes/{z}/{x}/{y}.mvt", "operator")
    assert a.content == b.content
    assert not {"diameter_mm", "material"} & set(decoded(a.content)["pipes"][0][0])


@pytest.mark.parametrize("layer", ["buildings", "roads"])
def test_low_zoom_aggregates_are_the_same_on_both_backends(twins, layer):
    """A small per-tile budget makes every zoom below raw_from an aggregate, prepared by each backend's
    own SQL (lines unioned and merged per cell): cells match too."""
    from cim.model.catalog import layer_info
    from serving.vector.tiles import VectorTiles

    rendered = {}
    for backend in BACKENDS:
        city = twins[backend].app.state.city
        tiles = VectorTiles(city, max_features=60)
        info = layer_info(city, layer, "anonymous")
        prepared = tiles.prepare(info)
        assert prepared.raw_from > 12
        bounds = prepared.bounds
        rendered[backend] = {(z, x, y): tiles.tile(info, z, x, y)
                             for z in range(0, prepared.raw_from + 1) for x, y in tiles_covering(bounds, z)}
        tiles.close()
    assert rendered["duckdb"].keys() == rendered["postgis"].keys()
    clusters = 0
    for key, data in rendered["duckdb"].items():
        assert_same_features(data, rendered["postgis"][key], f"aggregate {key}")
        clusters += sum(p.get("class") == "cluster" for p, _ in decoded(data).get(layer, []))
    assert clusters > 0


def test_tile_geometry_is_where_the_feature_is_on_postgis(twins):
    """Not only the same as DuckDB: right, too (the PostGIS tile against the PostGIS row)."""
    z, x, y = 17, *next((t[1], t[2]) for t in layer_tiles(twins, "buildings", "anonymous")
                        if t[0] == 17 and twins["postgis"].get(f"/tiles/buildings/17/{t[1]}/{t[2]}.mvt").status_code
                        == 200)
    city = twins["postgis"].app.state.city
    props, geom = decoded(twins["postgis"].get(f"/tiles/buildings/{z}/{x}/{y}.mvt").content)["buildings"][0]
    minx, miny, maxx, maxy = tile_bounds(z, x, y)
    merc = shapely.transform(geom, lambda c: np.column_stack((minx + c[:, 0] / 4096 * (maxx - minx),
                                                              maxy - c[:, 1] / 4096 * (maxy - miny))))
    wkt = city.store.scalar("SELECT ST_AsText(geom) FROM features WHERE id = ? AND valid_to IS NULL", [props["id"]])
    truth = reproject(np.array([shapely.from_wkt(wkt)], dtype=object), city.crs, "EPSG:3857")[0]
    clipped = truth.intersection(shapely.box(minx - 100, miny - 100, maxx + 100, maxy + 100))
    assert merc.symmetric_difference(clipped).area < 0.05 * clipped.area


@pytest.mark.parametrize("role", ["anonymous", "viewer", "operator", "admin"])
def test_catalogue_pages_and_city_document_are_the_same(twins, role):
    for url in ("/collections", "/api/city", "/landing", "/collections/buildings/queryables",
                "/collections/parcels/items?limit=50", "/collections/buildings/items?limit=20&offset=40",
                "/collections/buildings/items?filter=floors%20%3E%2010%20AND%20use%20%3D%20%27residential%27",
                "/collections/buildings/items?bbox=120.17,35.95,120.18,35.96&limit=500",
                "/collections/pipes/items?limit=30", "/collections/inspections/items"):
        a, b = both(twins, url, role)
        assert a.status_code == b.status_code, url
        assert same_json(a, b), url


@pytest.mark.parametrize("role", ["anonymous", "operator", "admin"])
def test_search_kpis_and_feature_cards_are_the_same(twins, role):
    for url in ("/api/search?q=BLD00001", "/api/search?q=P000", "/api/search?q=W0", "/api/kpis?mode=plan",
                "/api/kpis?mode=build", "/api/kpis?mode=manage"):
        a, b = both(twins, url, role)
        assert a.status_code == b.status_code == 200, url
        assert same_json(a, b), url
    ids = [h["id"] for h in both(twins, "/api/search?q=0&limit=100", "admin")[0].json()]
    assert len(ids) == 100
    for fid in ids[::5]:
        a, b = both(twins, f"/api/features/{fid}", role)
        assert a.status_code == b.status_code, fid
        assert same_json(a, b), fid


def test_3d_tiles_are_the_same_on_both_backends(twins):
    lines = both(twins, "/3dtiles/pipes/tileset.json", "operator")  # no 3D content: the same refusal
    assert lines[0].status_code == lines[1].status_code == 400 and lines[0].json() == lines[1].json()
    for layer, role in (("buildings", "anonymous"), ("worksite_bim", "viewer"), ("buildings", "admin")):
        a, b = both(twins, f"/3dtiles/{layer}/tileset.json", role)
        assert a.status_code == b.status_code == 200, layer
        assert a.json() == b.json()
        uris, stack = [], [a.json()["root"]]
        while stack:
            node = stack.pop()
            stack += node.get("children", [])
            if "content" in node:
                uris.append(node["content"]["uri"])
        assert uris
        for uri in set(uris):
            ga, gb = both(twins, f"/3dtiles/{layer}/{uri}", role)
            assert ga.status_code == gb.status_code == 200 and ga.content == gb.content, uri


def test_raster_and_terrain_tiles_are_the_same_on_both_backends(twins):
    tilejson = twins["duckdb"].get("/collections/dem/map/tiles/WebMercatorQuad").json()
    w, s, e, n = tilejson["bounds"]
    box = reproject(np.array([shapely.box(w, s, e, n)], dtype=object), "OGC:CRS84", "EPSG:3857")[0]
    compared = 0
    for z in (10, 13, 15):
        for x, y in tiles_covering(box.bounds, z)[:6]:
            for url in (f"/collections/dem/map/tiles/WebMercatorQuad/{z}/{y}/{x}.png",
                        f"/collections/dem/terrain/{z}/{y}/{x}.png"):
                a, b = both(twins, url)
                assert a.status_code == b.status_code and a.content == b.content, url
                compared += a.status_code == 200
    assert compared > 0


def test_a_layer_another_process_adds_reaches_a_postgis_server_within_the_refresh_interval(postgis_demo, tmp_path):
    """Many writers share a PostGIS city: the server sees their changes (catalogue, ETags) by polling."""
    import time

    import cim
    from tiles import Settings, create_app

    url = postgis_demo()
    settings = Settings(city=url, prepare_tiles=False, catalog_refresh_s=0.2,
                        viewer_dist=tmp_path / "no-viewer")
    source = tmp_path / "marker.geojson"
    source.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"k": 1}, "geometry": {"type": "Point", "coordinates": [120.17, 35.95]}}]}),
        encoding="utf-8")
    with TestClient(create_app(settings)) as client:
        before = client.get("/tiles/buildings/0/0/0.mvt").headers["etag"]
        assert client.get("/collections/marker").status_code == 404
        with cim.open(url) as other:  # another writer, through its own connection
            other.ingest(source, layer="marker")
        deadline = time.monotonic() + 10
        while client.get("/collections/marker").status_code == 404 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.get("/collections/marker").status_code == 200
        assert client.get("/tiles/marker/0/0/0.mvt").headers["etag"]
        # the buildings did not change: their tile keeps its ETag (ETags follow each layer's own version)
        assert client.get("/tiles/buildings/0/0/0.mvt").headers["etag"] == before
