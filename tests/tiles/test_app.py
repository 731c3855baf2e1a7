"""The app factory, settings, errors, limits, the viewer's files and the OpenAPI document."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.tiles.conftest import headers


def test_landing_page_links_the_api_conformance_and_collections(client):
    body = client.get("/landing").json()
    rels = {link["rel"] for link in body["links"]}
    assert {"service-desc", "conformance", "data"} <= rels
    assert body["title"]


def test_conformance_declares_features_cql2_and_tiles(client):
    classes = client.get("/conformance").json()["conformsTo"]
    assert any("ogcapi-features-1/1.0/conf/core" in c for c in classes)
    assert any("cql2/1.0/conf/cql2-json" in c for c in classes)
    assert any("ogcapi-tiles-1/1.0/conf/mvt" in c for c in classes)


CORE_TAGS = {"OGC API", "OGC API Features", "OGC API Tiles", "city", "viewer"}


def test_openapi_document_describes_every_route_with_a_summary_and_parameters(client):
    doc = client.get("/api").json()
    paths = doc["paths"]
    for path in ("/collections/{layer}/items", "/collections/{layer}/tiles/{tileMatrixSetId}/{z}/{y}/{x}",
                 "/api/city", "/api/features/{feature_id}", "/api/search", "/api/kpis",
                 "/tiles/{layer}/{z}/{x}/{y}.mvt"):
        assert path in paths, path
    for path, ops in paths.items():
        for method, op in ops.items():
            assert op.get("summary"), f"{method} {path} has no summary"
            if not CORE_TAGS & set(op.get("tags", [])):
                continue  # subsystem routers are checked by their own tests
            for param in op.get("parameters", []):
                if param["in"] in ("query", "header") and param["name"] not in ("x-api-key",):
                    assert param.get("description"), f"{param['name']} of {path} has no description"
    items = {p["name"] for p in paths["/collections/{layer}/items"]["get"]["parameters"]}
    assert {"bbox", "datetime", "filter", "filter-lang", "crs", "bbox-crs", "limit", "offset"} <= items


def test_errors_are_problem_json_with_the_domain_message(client):
    resp = client.get("/collections/no_such_layer")
    assert resp.status_code == 404
    assert resp.headers["content-type"] == "application/problem+json"
    body = resp.json()
    assert body["status"] == 404 and "no_such_layer" in body["detail"]
    assert body["instance"] == "/collections/no_such_layer"


def test_an_unexpected_error_reaches_the_client_without_internals(client, app):
    def broken() -> None:
        raise RuntimeError("SELECT secret FROM features -- /srv/city.duckdb line 12")

    app.router.add_api_route("/broken-for-test", broken, methods=["GET"], summary="fails on purpose")
    try:
        resp = TestClient(app, raise_server_exceptions=False).get("/broken-for-test")  # lifespan already running
    finally:
        app.router.routes.pop()
        app.openapi_schema = None
    assert resp.status_code == 500
    assert resp.headers["content-type"] == "application/problem+json"
    assert "SELECT" not in resp.text and "secret" not in resp.text and "Traceback" not in resp.text


def test_unknown_api_key_is_refused_with_401_not_treated_as_anonymous(client):
    resp = client.get("/collections", headers={"X-API-Key": "not-a-key-at-all"})
    assert resp.status_code == 401
    assert "X-API-Key" in resp.json()["detail"]


def test_request_body_above_the_limit_is_refused_with_413(client):
    resp = client.post("/collections/buildings/items", content=b"x" * 10_000,
                       headers={"Content-Type": "application/json"})
    assert resp.status_code == 413
    assert resp.json()["status"] == 413


@pytest.mark.parametrize("path", ["/static/../../etc/passwd", "/static/%2e%2e/%2e%2e/etc/passwd",
                                  "/static/..%2f..%2fetc%2fpasswd", "/static//etc/passwd"])
def test_static_paths_cannot_escape_the_viewer_build(client, path):
    resp = client.get(path)
    assert resp.status_code == 404
    assert "root:" not in resp.text


BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"


def test_root_says_how_to_build_the_viewer_when_it_is_missing(client):
    resp = client.get("/", headers={"Accept": BROWSER_ACCEPT})
    assert resp.status_code == 200
    assert "make viewer" in resp.text


def test_root_and_static_serve_a_built_viewer(demo_path, tmp_path):
    from tiles import Settings, create_app

    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>viewer</title><script src='/static/assets/app.js'>",
                                     encoding="utf-8")
    (dist / "assets" / "app.js").write_text("console.log('cim')", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("do not serve", encoding="utf-8")
    settings = Settings(city=demo_path, viewer_dist=dist, prepare_tiles=False)
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(Path(demo_path).read_bytes())
    with TestClient(create_app(settings.model_copy(update={"city": copy}))) as c:
        assert "<title>viewer</title>" in c.get("/", headers={"Accept": BROWSER_ACCEPT}).text
        js = c.get("/static/assets/app.js")
        assert js.status_code == 200 and "javascript" in js.headers["content-type"]
        assert c.get("/static/../secret.txt").status_code == 404
        assert c.get("/static/%2e%2e/secret.txt").status_code == 404


def test_settings_read_cim_environment_variables(monkeypatch, tmp_path):
    from tiles import Settings

    monkeypatch.setenv("CIM_CITY", str(tmp_path / "x.duckdb"))
    monkeypatch.setenv("CIM_MAX_PAGE_SIZE", "50")
    monkeypatch.setenv("CIM_API_KEYS", json.dumps({"abcdefgh12": "planner"}))
    settings = Settings()
    assert settings.city == str(tmp_path / "x.duckdb")
    assert settings.max_page_size == 50
    assert settings.keys() == {"abcdefgh12": "planner"}


def test_a_database_url_is_kept_whole_and_its_password_out_of_the_settings_repr(monkeypatch):
    from tiles import Settings

    url = "postgresql://cim:s3cret-pw@db.example:5432/qingdao?options=-csearch_path%3Dcity"
    monkeypatch.setenv("CIM_CITY", url)
    settings = Settings()
    assert settings.city == url
    assert "s3cret-pw" not in repr(settings) and "s3cret-pw" not in str(settings)
    assert Settings(city=Path("city.duckdb")).city == "city.duckdb"


@pytest.mark.parametrize("keys, message", [
    ('{"short": "admin"}', "8 characters"),
    ('{"abcdefgh12": "emperor"}', "unknown role"),
    ('{"abcdefgh12": "anonymous"}', "anonymous"),
    ("[1, 2]", "object"),
    ("/nonexistent/keys.json", "neither JSON nor a file"),
])
def test_bad_api_keys_are_refused_at_start_with_a_reason(keys, message):
    from pydantic import ValidationError

    from tiles import Settings

    with pytest.raises(ValidationError, match=message):
        Settings(city="x.duckdb", api_keys=keys)


def test_api_keys_can_come_from_a_file(tmp_path):
    from tiles import Settings

    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"file-key-123": "operator"}), encoding="utf-8")
    assert Settings(city="x.duckdb", api_keys=str(path)).keys() == {"file-key-123": "operator"}


def test_create_app_without_a_city_says_how_to_give_one(monkeypatch):
    import cim
    from tiles import create_app

    monkeypatch.delenv("CIM_CITY", raising=False)
    with pytest.raises(cim.CIMError, match="CIM_CITY"):
        create_app()


def test_every_interface_is_mounted_and_its_service_opened_by_the_one_lifespan(client, app):
    tags = {tag for ops in client.get("/api").json()["paths"].values() for op in ops.values()
            for tag in op.get("tags", [])}
    assert {"OGC API Features", "OGC API Tiles", "3D Tiles", "Raster tiles", "SensorThings API 1.1", "IoT",
            "city", "viewer", "WMTS", "WMS", "OGC API Processes"} <= tags
    for name in ("vector_tiles", "raster_tiles", "tiles3d", "sensor_events", "jobs"):
        assert getattr(app.state, name) is not None, name
    assert app.state.vector_tiles.cache is app.state.raster_tiles.cache is app.state.tiles3d.cache


def test_roles_with_keys_are_accepted(client):
    for role in ("viewer", "operator", "planner", "admin"):
        assert client.get("/collections", headers=headers(role)).status_code == 200


def test_root_answers_ogc_clients_that_ask_for_json_with_the_landing_page(client):
    resp = client.get("/", headers={"Accept": "application/json"})
    assert resp.status_code == 200 and any(link["rel"] == "conformance" for link in resp.json()["links"])
    assert "conformance" in client.get("/?f=json").text


@pytest.mark.parametrize("accept", ["*/*", None, "application/json", "application/json, text/html;q=0.5",
                                    "application/geo+json,*/*;q=0.1"])
def test_root_is_the_json_landing_page_unless_html_is_named(client, accept):
    resp = client.get("/", headers={"Accept": accept} if accept else {"Accept": ""})
    assert resp.headers["content-type"].startswith("application/json")
    assert {link["rel"] for link in resp.json()["links"]} >= {"conformance", "data", "service-desc"}
    assert "Accept" in resp.headers["vary"]


@pytest.mark.parametrize("accept", [BROWSER_ACCEPT, "text/html", "application/json;q=0.5, text/html"])
def test_root_is_the_viewer_for_clients_that_name_html(client, accept):
    resp = client.get("/", headers={"Accept": accept})
    assert resp.headers["content-type"].startswith("text/html")


def test_the_f_parameter_wins_over_the_accept_header(client):
    assert client.get("/?f=json", headers={"Accept": BROWSER_ACCEPT}).headers["content-type"].startswith(
        "application/json")
    assert client.get("/?f=html", headers={"Accept": "application/json"}).headers["content-type"].startswith(
        "text/html")
    wrong = client.get("/?f=xml")
    assert wrong.status_code == 400 and "f" in wrong.json()["detail"]


def test_landing_is_json_for_every_client_and_sends_browsers_asking_for_html_to_the_viewer(client):
    assert client.get("/landing", headers={"Accept": "*/*"}).json()["links"]
    moved = client.get("/landing?f=html", follow_redirects=False)
    assert moved.status_code == 303 and moved.headers["location"] == "/?f=html"


def test_settings_repr_and_errors_never_print_an_api_key():
    from pydantic import ValidationError

    from tiles import Settings
    from tiles.settings import settings_error

    good = Settings(city="x.duckdb", api_keys='{"correct-horse-battery": "admin"}')
    assert "correct-horse-battery" not in repr(good) and "correct-horse-battery" not in str(good)
    for keys in ('{"correct-horse-battery": "emperor", "tiny": "admin"}',
                 '{"admin": "correct-horse-battery"}',  # key and role swapped
                 '{"correct-horse-battery": "anonymous"}'):
        with pytest.raises(ValidationError) as caught:
            Settings(city="x.duckdb", api_keys=keys)
        assert "correct-horse-battery" not in str(caught.value)
        assert "correct-horse-battery" not in settings_error(caught.value)


def test_a_bad_keys_file_says_which_entry_is_wrong_and_why(tmp_path):
    from typer.testing import CliRunner

    import cim
    from cim.cli import app

    cim.create(tmp_path / "city.duckdb").close()
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"operator-key-001": "operator", "abc": "planner"}), encoding="utf-8")
    result = CliRunner().invoke(app, ["serve", str(tmp_path / "city.duckdb"), "--api-keys", str(keys)])
    assert result.exit_code != 0
    assert "entry 2 (planner): its key has 3; a key needs at least 8 characters" in result.output
    assert "pydantic" not in result.output and "operator-key-001" not in result.output
