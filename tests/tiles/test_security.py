"""Roles, classifications and desensitisation, the same in every output path."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from cim import access
from tests.tiles.conftest import headers

MATRIX = {  # role → (sees internal, view of restricted)
    "anonymous": (False, None),
    "viewer": (True, None),
    "operator": (True, "coarse"),
    "planner": (True, "coarse"),
    "admin": (True, "full"),
}


@pytest.mark.parametrize("role", list(MATRIX))
def test_each_role_sees_the_layers_its_classification_allows(client, role):
    internal, restricted = MATRIX[role]
    names = {c["id"] for c in client.get("/collections", headers=headers(role)).json()["collections"]}
    city_layers = {layer["name"]: layer for layer in client.get("/api/city", headers=headers(role)).json()["layers"]}
    assert set(city_layers) == names
    assert ("inspections" in names) is internal
    assert ("pipes" in names) is (restricted is not None)
    if restricted:
        assert city_layers["pipes"]["view"] == restricted


def test_access_matrix_is_what_the_docs_say():
    for role, (internal, restricted) in MATRIX.items():
        assert access.view_of("public", role) == "full"
        assert (access.view_of("internal", role) == "full") is internal
        assert access.view_of("restricted", role) == restricted


@pytest.mark.parametrize("path", ["/collections/pipes/items", "/collections/pipes/items/pipes.W000000",
                                  "/api/features/pipes.W000000", "/tiles/pipes/15/0/0.mvt",
                                  "/collections/inspections/items"])
def test_anonymous_asking_for_a_hidden_layer_gets_404(client, path):
    assert client.get(path).status_code == 404


def test_search_does_not_reveal_hidden_layers(client):
    assert client.get("/api/search?q=" + quote("给水管")).json() == []
    hits = client.get("/api/search?q=" + quote("给水管"), headers=headers("operator")).json()
    assert hits and all(h["layer"] == "pipes" for h in hits)


def test_desensitised_items_mask_attributes_and_snap_coordinates_to_the_grid(client):
    url = "/collections/pipes/items?limit=20&crs=" + quote("http://www.opengis.net/def/crs/EPSG/0/4549")
    coarse = client.get(url, headers=headers("operator")).json()["features"]
    exact = client.get(url, headers=headers("admin")).json()["features"]
    for f in coarse:
        assert f["properties"]["diameter_mm"] == access.MASK and f["properties"]["material"] == access.MASK
        assert f["properties"]["network"] in ("water", "gas", "power", "heat", "drain", "sewer", "telecom")
        for north, east in f["geometry"]["coordinates"]:
            assert north % access.COARSE_GRID_M == 0 and east % access.COARSE_GRID_M == 0
    assert any(isinstance(f["properties"]["diameter_mm"], float) for f in exact)
    assert any(n % 50 or e % 50 for f in exact for n, e in f["geometry"]["coordinates"])


def test_desensitised_feature_card_matches_the_items(client):
    card = client.get("/api/features/pipes.W000000", headers=headers("planner")).json()
    assert card["view"] == "coarse" and card["properties"]["depth"] == access.MASK
    assert card["z_min"] == round(card["z_min"])
    full = client.get("/api/features/pipes.W000000", headers=headers("admin")).json()
    assert full["view"] == "full" and full["properties"]["depth"] != access.MASK
    assert card["geometry"] != full["geometry"]


def test_filters_on_masked_attributes_are_refused_for_desensitised_views(client):
    cql = quote("diameter_mm > 300")
    assert client.get(f"/collections/pipes/items?filter={cql}", headers=headers("operator")).status_code == 400
    assert client.get(f"/collections/pipes/items?filter={cql}", headers=headers("admin")).status_code == 200
    open_cql = quote("network = 'gas'")
    resp = client.get(f"/collections/pipes/items?filter={open_cql}", headers=headers("operator"))
    assert resp.status_code == 200 and resp.json()["numberMatched"] > 0


def test_queryables_of_a_desensitised_view_list_only_open_attributes(client):
    props = client.get("/collections/pipes/queryables", headers=headers("operator")).json()["properties"]
    assert "network" in props and "diameter_mm" not in props


def test_kpis_of_hidden_layers_are_not_shown(client):
    anonymous = {k["key"] for k in client.get("/api/kpis?mode=manage").json()}
    operator = {k["key"] for k in client.get("/api/kpis?mode=manage", headers=headers("operator")).json()}
    assert "pipes_km" not in anonymous and "pipes_km" in operator


def test_requires_lets_only_the_minimum_role_and_above_through(client, app):
    from fastapi import Depends

    from tiles.dependencies import requires

    def write_something(role: str = Depends(requires("planner", "changing plans"))) -> dict:
        return {"by": role}

    app.router.add_api_route("/test-write", write_something, methods=["POST"], summary="test write")
    try:
        _check_write_guard(client)
    finally:
        app.router.routes.pop()
        app.openapi_schema = None


def _check_write_guard(client) -> None:
    assert client.post("/test-write").status_code == 403
    assert client.post("/test-write", headers=headers("operator")).status_code == 403
    assert "planner" in client.post("/test-write", headers=headers("viewer")).json()["detail"]
    assert client.post("/test-write", headers=headers("planner")).json() == {"by": "planner"}
    assert client.post("/test-write", headers=headers("admin")).json() == {"by": "admin"}


def test_mask_and_coarsen_helpers_behave_as_documented():
    import shapely

    assert access.mask_properties({"network": "gas", "depth": 1.2, "x": None}) == \
        {"network": "gas", "depth": access.MASK, "x": None}
    snapped = access.coarsen_geometry(shapely.Point(515012.3, 3979538.9))
    assert (snapped.x, snapped.y) == (515000.0, 3979550.0)
    assert access.coarsen_z(-1.6) == -2.0


def test_a_narrow_protected_shape_becomes_the_grid_cells_it_crosses_not_an_empty_geometry():
    import shapely

    from cim.store import connect

    narrow = shapely.box(515010, 3979530, 515012, 3979560)  # 2 m wide: snapping alone would empty it
    coarse = access.coarsen_geometry(narrow)
    assert not coarse.is_empty and coarse.is_valid and coarse.contains(narrow)
    assert all(v % access.COARSE_GRID_M == 0 for v in coarse.bounds)
    con = connect()
    sql = con.execute(f"SELECT ST_AsWKB({access.coarse_geometry_sql('g')}) FROM (SELECT ST_GeomFromText(?) AS g)",
                      [narrow.wkt]).fetchone()[0]
    assert shapely.from_wkb(bytes(sql)).normalize().equals(coarse.normalize())
    short = shapely.LineString([(515010, 3979530), (515015, 3979531)])
    assert access.coarsen_geometry(short).geom_type == "LineString"
    assert not access.coarsen_geometry(short).is_empty


def test_a_bbox_finds_a_protected_asset_by_its_coarse_shape_only(client):
    """Bisecting with bbox must not locate a pipe more finely than the grid it is shown on: for the coarse
    view every bbox answer equals the answer computed from the coarse geometries the role receives."""
    import shapely

    crs = quote("http://www.opengis.net/def/crs/EPSG/0/4549")
    url = f"/collections/pipes/items?limit=10000&crs={crs}&bbox-crs={crs}"
    coarse = client.get(url, headers=headers("operator")).json()["features"]
    shapes = {f["id"]: shapely.geometry.shape(f["geometry"]) for f in coarse}
    exact = {f["id"]: shapely.geometry.shape(f["geometry"])
             for f in client.get(url, headers=headers("admin")).json()["features"]}
    target = next(fid for fid, g in exact.items() if not g.equals(shapes[fid]))
    x, y = exact[target].coords[0]
    for size in (0.5, 5.0, 20.0):  # boxes around an exact vertex, smaller than a grid cell
        box = (x - size, y - size, x + size, y + size)
        got = client.get(url + "&bbox=" + ",".join(map(str, box)), headers=headers("operator")).json()["features"]
        expected = {fid for fid, g in shapes.items() if g.intersects(shapely.box(*box))}
        assert {f["id"] for f in got} == expected


def test_a_hidden_layer_changing_leaves_the_etags_of_what_anonymous_sees_as_they_were(client, served_city, tmp_path):
    public = ["/tiles/buildings/0/0/0.mvt", "/collections/buildings/tiles/WebMercatorQuad/0/0/0",
              "/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=buildings&STYLE=default&FORMAT=image/png"
              "&TILEMATRIXSET=WebMercatorQuad&TILEMATRIX=0&TILEROW=0&TILECOL=0"]
    hidden = "/tiles/inspections/0/0/0.mvt"
    before = {url: client.get(url).headers.get("ETag") for url in public}
    hidden_before = client.get(hidden, headers=headers("viewer")).headers["ETag"]
    features = [{"type": "Feature", "properties": {"point_id": f"I{i}", "name": f"检查井{i}", "depth": 3.5 + i},
                 "geometry": {"type": "Point", "coordinates": [120.170 + i * 0.001, 35.948]}} for i in range(5)]
    changed = tmp_path / "inspections.geojson"
    changed.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    served_city.ingest(changed, layer="inspections", classification="internal", feature_class="Inspection",
                       phase="operate", id_field="point_id")
    assert client.get(hidden, headers=headers("viewer")).headers["ETag"] != hidden_before
    after = {url: client.get(url).headers.get("ETag") for url in public}
    assert all(before.values()) and after == before


@pytest.mark.parametrize("path, role", [
    ("/collections", "anonymous"), ("/collections/pipes/items?limit=2", "operator"), ("/api/city", "viewer"),
    ("/api/kpis?mode=operate", "anonymous"), ("/sta/v1.1/Things?$count=true", "operator"),
    ("/api/search?q=" + quote("路"), "planner"), ("/tiles/pipes/0/0/0.mvt", "operator")])
def test_answers_that_depend_on_the_role_are_private_and_vary_on_the_api_key(client, path, role):
    resp = client.get(path, headers=headers(role))
    assert resp.status_code in (200, 204)
    assert "X-API-Key" in resp.headers["Vary"]
    cache = resp.headers["Cache-Control"]
    assert "private" in cache or "no-cache" in cache
    assert "public" not in cache


@pytest.mark.parametrize("path", ["/static/index.html%00.js", "/static/assets%00/x", "/static/%00",
                                  "/collections/buildings/items/x%00.js", "/api/features/%00"])
def test_a_null_byte_in_a_path_is_not_found_not_a_server_error(client, path):
    resp = client.get(path)
    assert resp.status_code == 404 and resp.headers["content-type"] == "application/problem+json"


def test_a_chunked_upload_over_the_limit_is_refused_as_too_large(client):
    def body():  # no Content-Length: the size is only known while reading
        yield b"["
        for _ in range(20):
            yield b'{"phenomenonTime": "2026-05-01T08:00:00Z", "result": 1, "Datastream": {"@iot.id": 1}},' * 4
        yield b"{}]"

    resp = client.post("/sta/v1.1/Observations", content=body(),
                       headers={**headers("operator"), "Content-Type": "application/json"})
    assert resp.status_code == 413 and "4096 bytes" in resp.json()["detail"]


def test_a_small_chunked_upload_still_reaches_the_endpoint(client):
    resp = client.post("/sta/v1.1/Observations", content=iter([b"[]"]),
                       headers={**headers("operator"), "Content-Type": "application/json"})
    assert resp.status_code == 201 and resp.json() == []


@pytest.mark.parametrize("bbox, crs", [
    ("1e300,1e300,1e300,1e300", "http://www.opengis.net/def/crs/EPSG/0/3857"),
    ("-1e300,-1e300,1e300,1e300", "http://www.opengis.net/def/crs/EPSG/0/3857"),
    ("1e300,1e300,1e300,1e300", "http://www.opengis.net/def/crs/EPSG/0/4549")])
def test_a_bbox_far_outside_where_its_crs_is_defined_is_a_bad_request(client, bbox, crs):
    resp = client.get("/collections/buildings/items", params={"bbox": bbox, "bbox-crs": crs})
    assert resp.status_code == 400 and "outside" in resp.json()["detail"]


@pytest.mark.parametrize("path", ["/api/sensors/latest?at=0001-01-01T00:00:00Z",
                                  "/api/kpis?mode=operate&at=0001-01-01T00:00:00Z",
                                  "/api/sensors/latest?at=9999-12-31T23:59:59Z"])
def test_a_time_far_outside_any_data_is_a_bad_request_not_a_server_error(client, path):
    resp = client.get(path, headers=headers("admin"))
    assert resp.status_code == 400 and "outside the years" in resp.json()["detail"]
