"""The viewer's city endpoints, in the shapes of the HTTP contract."""

from __future__ import annotations

from urllib.parse import quote

from tests.tiles.conftest import headers


def test_city_document_has_the_contract_shape(client):
    doc = client.get("/api/city").json()
    assert {"name", "crs", "bbox", "center", "layers"} <= set(doc)
    w, s, e, n = doc["bbox"]
    assert w < doc["center"][0] < e and s < doc["center"][1] < n
    buildings = next(layer for layer in doc["layers"] if layer["name"] == "buildings")
    assert {"name", "kind", "phase", "classification", "feature_class", "count", "bbox", "fields", "geometry_type",
            "tiles", "tileset3d", "raster_tiles"} <= set(buildings)
    assert buildings["geometry_type"] == "polygon" and buildings["count"] > 0
    assert buildings["tiles"] == "/collections/buildings/tiles/WebMercatorQuad/{z}/{y}/{x}"
    assert {"name": "floors", "type": "int64"} in buildings["fields"]
    roads = next(layer for layer in doc["layers"] if layer["name"] == "roads")
    assert roads["geometry_type"] == "line"


def test_feature_card_has_properties_geometry_and_bbox_in_lon_lat(client, served_city):
    fid = served_city.store.scalar("SELECT id FROM features WHERE layer = 'parcels' AND valid_to IS NULL LIMIT 1")
    card = client.get(f"/api/features/{fid}").json()
    assert card["id"] == fid and card["layer"] == "parcels" and card["class"] == "Parcel"
    assert "far_limit" in card["properties"]
    assert card["geometry"]["type"] == "Polygon"
    w, s, e, n = card["bbox"]
    assert 119 < w < e < 121 and 35 < s < n < 37
    assert isinstance(card["parents"], list)


def test_feature_card_lists_the_parent_chain(client, served_city, tmp_path):
    import json

    parcel = served_city.store.scalar("SELECT id FROM features WHERE layer = 'parcels' AND valid_to IS NULL LIMIT 1")
    source = tmp_path / "rooms.geojson"
    source.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"room": "R1", "name": "一号房", "parcel": parcel.split(".", 1)[1]},
        "geometry": {"type": "Point", "coordinates": [120.17, 35.95]}}]}, ensure_ascii=False), encoding="utf-8")
    served_city.ingest(source, layer="rooms_with_parent", id_field="room", parent="parcels.parcel")
    fid = "rooms_with_parent.R1"
    card = client.get(f"/api/features/{fid}").json()
    block = served_city.feature(parcel)["parent"]
    assert [p["id"] for p in card["parents"]] == [parcel, block]
    assert [p["class"] for p in card["parents"]] == ["Parcel", "Block"]


def test_search_finds_chinese_names_and_ids_with_exact_matches_first(client, served_city):
    name, fid = served_city.store.rows(
        "SELECT name, id FROM features WHERE layer = 'buildings' AND valid_to IS NULL ORDER BY id LIMIT 1")[0]
    hits = client.get("/api/search?q=" + quote(name)).json()
    assert hits[0]["name"] == name
    assert {"id", "name", "class", "layer", "center", "bbox"} <= set(hits[0])
    by_id = client.get("/api/search?q=" + quote(fid.upper().split(".")[1].lower())).json()
    assert by_id[0]["id"] == fid
    assert len(client.get("/api/search?q=" + quote("号楼") + "&limit=3").json()) == 3


def test_search_refuses_empty_or_huge_requests(client):
    assert client.get("/api/search?q=").status_code == 400
    assert client.get("/api/search?q=a&limit=100000").status_code == 400
    assert client.get("/api/search?q=" + "x" * 500).status_code == 400


def test_kpis_per_mode_have_the_contract_shape(client, served_city):
    for mode in ("plan", "build", "manage", "operate"):
        resp = client.get(f"/api/kpis?mode={mode}", headers=headers("admin"))
        assert resp.status_code == 200
        for k in resp.json():
            assert {"key", "label_zh", "label_en", "value", "unit", "level"} <= set(k)
            assert k["level"] in (None, "ok", "warn", "alarm")
    plan = {k["key"]: k for k in client.get("/api/kpis?mode=plan").json()}
    assert plan["buildings"]["value"] == served_city.store.scalar(
        "SELECT count(*) FROM features WHERE layer = 'buildings' AND valid_to IS NULL")
    from tests.analysis import reference
    violations = len(reference.height_breakers(served_city.features("buildings"), served_city.features("parcels")))
    assert plan["height_violations"]["value"] == violations
    assert plan["height_violations"]["level"] == ("alarm" if violations else "ok")
    manage = {k["key"]: k for k in client.get("/api/kpis?mode=manage").json()}
    assert manage["parking_capacity"]["value"] > 0
    assert client.get("/api/kpis?mode=party").status_code == 400


def test_the_compliance_layer_shows_the_engines_failures_to_roles_that_see_their_inputs(client, served_city):
    from tests.analysis import reference

    doc = client.get("/api/compliance?rule=height").json()
    got = {f["properties"]["subject"] for f in doc["features"]}
    assert got == reference.height_breakers(served_city.features("buildings"), served_city.features("parcels"))
    assert all(f["properties"]["status"] == "fail" and f["properties"]["reason_zh"] for f in doc["features"])
    lon, lat = doc["features"][0]["geometry"]["coordinates"][0][0]
    assert 119 < lon < 121 and 35 < lat < 37
    every = {f["properties"]["rule"] for f in client.get("/api/compliance").json()["features"]}
    assert {"height", "setback"} <= every
