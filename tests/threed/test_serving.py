"""3D Tiles over HTTP and as a folder: same content, cached per version, hidden or coarse by role."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pyproj import Transformer
from typer.testing import CliRunner

from cim.errors import PermissionDenied, ValidationError
from serving.threed import export_3dtiles, plan_tileset
from tests.threed import decode
from tests.threed.conftest import buildings_frame

KEYS = '{"operator-key-0001": "operator", "admin-key-00000001": "admin"}'


@pytest.fixture
def guarded_city(tmp_path):
    """Public buildings plus the same buildings as a restricted layer."""
    import cim

    c = cim.create(tmp_path / "city.duckdb")
    src = tmp_path / "b.parquet"
    buildings_frame(n_side=6).to_parquet(src)
    c.ingest(src, layer="buildings", feature_class="Building", id_field="bid")
    c.ingest(src, layer="secret", feature_class="Building", id_field="bid", classification="restricted")
    yield c
    c.close()


@pytest.fixture
def client(guarded_city):
    from fastapi.testclient import TestClient

    from tiles.app import create_app

    with TestClient(create_app(guarded_city, api_keys=KEYS)) as c:
        yield c


def _fetch_all(client, layer, headers=None):
    response = client.get(f"/3dtiles/{layer}/tileset.json", headers=headers or {})
    assert response.status_code == 200, response.text
    doc = response.json()
    contents = {}
    for tile in decode.tiles(doc):
        uri = tile["content"]["uri"]
        got = client.get(f"/3dtiles/{layer}/{uri}", headers=headers or {})
        assert got.status_code == 200 and got.headers["content-type"] == "model/gltf-binary"
        contents[uri] = got.content
    return doc, contents


def test_the_server_serves_the_same_tileset_and_content_as_the_model(client, guarded_city, tileset_validator):
    doc, contents = _fetch_all(client, "buildings")
    assert list(tileset_validator[0].iter_errors(doc)) == []
    plan = plan_tileset(guarded_city, "buildings")
    assert doc == json.loads(json.dumps(plan.tileset_json()))
    assert all(contents[f"content/{n.key}.glb"] == plan.content(n.key) for n in plan.nodes)


def test_a_second_request_is_304_with_the_etag(client):
    first = client.get("/3dtiles/buildings/tileset.json")
    assert client.get("/3dtiles/buildings/tileset.json",
                      headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    uri = first.json()["root"]["content"]["uri"]
    glb = client.get(f"/3dtiles/buildings/{uri}")
    assert client.get(f"/3dtiles/buildings/{uri}", headers={"If-None-Match": glb.headers["etag"]}).status_code == 304


def test_a_reingest_is_served_as_a_new_version_never_stale(client, guarded_city, tmp_path):
    _, before = _fetch_all(client, "buildings")
    frame = buildings_frame(n_side=6)
    frame["height"] = frame["height"] + 10.0
    src = tmp_path / "taller.parquet"
    frame.to_parquet(src)
    guarded_city.ingest(src, layer="buildings", feature_class="Building", id_field="bid")
    doc, after = _fetch_all(client, "buildings")
    assert doc["asset"]["tilesetVersion"].startswith("buildings.v2")
    for data in after.values():
        d, binary = decode.split_glb(data)
        table = decode.property_table(d, binary)
        for fid, height in zip(table["id"], table["height"], strict=True):
            assert height == pytest.approx(guarded_city.feature(fid)["height"])
    assert before != after


def test_bad_requests_get_problem_json(client):
    for url, status in [("/3dtiles/nowhere/tileset.json", 404), ("/3dtiles/secret/tileset.json", 404),
                        ("/3dtiles/buildings/content/9_9_9.glb", 404),
                        ("/3dtiles/buildings/content/a_b_c.glb", 400),
                        ("/3dtiles/buildings/content/..%2Ftileset.glb", 404)]:
        response = client.get(url)
        assert response.status_code == status, url
        assert response.headers["content-type"] == "application/problem+json"


def test_a_restricted_layer_is_hidden_from_anonymous_coarse_for_an_operator_and_full_for_admin(client):
    operator = {"X-API-Key": "operator-key-0001"}
    admin = {"X-API-Key": "admin-key-00000001"}
    coarse_doc, coarse = _fetch_all(client, "secret", operator)
    full_doc, full = _fetch_all(client, "secret", admin)
    assert coarse_doc["asset"]["tilesetVersion"].endswith(".coarse")
    assert full_doc["asset"]["tilesetVersion"].endswith(".full")
    to_city = Transformer.from_crs("EPSG:4978", "EPSG:4549", always_xy=True)

    def on_grid(doc, contents):
        worlds = decode.world_matrices(doc)
        share = []
        for uri, data in contents.items():
            d, binary = decode.split_glb(data)
            x, y, _ = to_city.transform(*decode.to_ecef(decode.primitive(d, binary)["POSITION"], worlds[uri]).T)
            off = np.abs(((np.stack([x, y]) + 25.0) % 50.0) - 25.0)
            share.append((off < 0.5).all(axis=0))
        return np.concatenate(share).mean()

    assert on_grid(coarse_doc, coarse) == 1.0  # every vertex on the 50 m grid
    assert on_grid(full_doc, full) < 0.5


def test_api_city_links_layers_with_heights_to_a_tileset(client):
    from cim.model.catalog import layer_info
    from tiles.routers.tiles3d import layer_links

    city = client.app.state.city
    assert layer_links(layer_info(city, "buildings", "admin")) == {"tileset3d": "/3dtiles/buildings/tileset.json"}


def test_export_writes_a_static_folder_with_every_content_file(guarded_city, tmp_path):
    report = export_3dtiles(guarded_city, tmp_path / "site", layer="buildings", max_features=10)
    doc = json.loads((tmp_path / "site" / "tileset.json").read_text())
    uris = [t["content"]["uri"] for t in decode.tiles(doc)]
    assert sorted(uris) == sorted(f"content/{p.name}" for p in (tmp_path / "site" / "content").iterdir())
    assert report.tiles == len(uris) and report.features == doc["extras"]["cim"]["features"]
    plan = plan_tileset(guarded_city, "buildings", max_features=10)
    assert (tmp_path / "site" / uris[0]).read_bytes() == plan.content(uris[0][8:-4])


def test_export_refuses_a_full_folder_and_leaves_nothing_behind_on_failure(guarded_city, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(ValidationError, match="not empty"):
        export_3dtiles(guarded_city, tmp_path / "full")
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["keep.txt"]
    with pytest.raises(PermissionDenied):
        export_3dtiles(guarded_city, tmp_path / "out", layer="secret", role="viewer")
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_cim_export_3dtiles_writes_the_folder_and_explains_errors(guarded_city, tmp_path):
    from cim.cli import app

    location = guarded_city.location
    guarded_city.close()  # the CLI opens the city itself
    runner = CliRunner()
    ok = runner.invoke(app, ["export", "3dtiles", location, str(tmp_path / "out"), "--layer", "buildings"])
    assert ok.exit_code == 0, ok.output
    assert "features of buildings" in ok.output and (tmp_path / "out" / "tileset.json").is_file()
    again = runner.invoke(app, ["export", "3dtiles", location, str(tmp_path / "out")])
    assert again.exit_code != 0


def test_tile_ordered_footprints_serve_the_same_content_as_the_city(guarded_city):
    import time

    from serving.threed import Tiles3DService

    service = Tiles3DService(sidecar_from=0)
    plan = service.plan(guarded_city, "buildings")
    deadline = time.monotonic() + 60
    while plan.sidecar is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert plan.sidecar is not None and plan.sidecar.is_file()
    fresh = plan_tileset(guarded_city, "buildings")
    assert fresh.sidecar is None
    for node in plan.nodes:
        assert service.content(guarded_city, "buildings", node.key) == fresh.content(node.key)


def test_plans_live_in_the_shared_tile_cache_and_are_made_once_per_version(guarded_city):
    from serving.cache import TileCache
    from serving.threed import Tiles3DService

    cache = TileCache(64 * 1024 * 1024)
    service = Tiles3DService(cache, disk=False).open()
    plan = service.plan(guarded_city, "buildings")
    assert service.plan(guarded_city, "buildings") is plan
    assert cache.size_bytes >= plan.nbytes > 0  # counted against the one budget the tiles share
    service.close()
    assert Tiles3DService(cache, disk=False).plan(guarded_city, "buildings") is plan  # from the cache itself


def test_a_plan_larger_than_the_whole_budget_is_still_made_only_once_in_a_row(guarded_city):
    from serving.cache import TileCache
    from serving.threed import Tiles3DService

    service = Tiles3DService(TileCache(0), disk=False).open()
    plan = service.plan(guarded_city, "buildings")
    assert service.plan(guarded_city, "buildings") is plan  # held besides the cache, which keeps nothing
    assert service.cache.size_bytes == 0
