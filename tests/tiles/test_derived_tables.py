"""Prepared tiles live in the city's own store: the DuckDB file, or the PostGIS schema; read-only cities
keep them in memory; they never change the model version and never travel with a copy."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import cim
from cim.model.catalog import layer_info, model_version
from cim.model.derived import CATALOG, PREFIX, TILES, open_derived
from tests.tiles.conftest import KEYS, file_copy

ROOT = Path(__file__).resolve().parents[2]


def _app(location, tmp_path: Path, **settings):
    from tiles import Settings, create_app

    return create_app(Settings(city=str(location), api_keys=json.dumps(KEYS), prepare_tiles=False,
                               viewer_dist=tmp_path / "no-viewer", **settings))


def _derived_tables_in(location) -> set[str]:
    """Names of the derived tables the city's store holds, read by a plain connection of its own."""
    with cim.open(location, read_only=True) as city:
        if city.store.kind == "duckdb":
            rows = city.store.rows("SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()")
        else:
            rows = city.store.rows("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    return {r[0] for r in rows if r[0].startswith(PREFIX)}


def _tile_url(location) -> str:
    """A z15 tile at the centre of the buildings (not empty)."""
    from gis.crs import transformer
    from serving.tilegrid import tile_of

    with cim.open(location, read_only=True) as city:
        info = layer_info(city, "buildings", "anonymous")
        crs = city.crs
    x, y = transformer(crs, "EPSG:3857").transform((info.bbox[0] + info.bbox[2]) / 2, (info.bbox[1] + info.bbox[3]) / 2)
    tx, ty = tile_of(x, y, 15)
    return f"/tiles/buildings/15/{tx}/{ty}.mvt"


def test_prepared_and_kept_tiles_live_in_the_citys_store_and_outlast_the_server(demo_copy, tmp_path):
    location = demo_copy()
    url = _tile_url(location)
    with TestClient(_app(location, tmp_path)) as client:
        first = client.get(url, headers={"Accept-Encoding": "identity"})
        assert first.status_code == 200
        assert client.app.state.vector_tiles.derived.where == "city"
    tables = _derived_tables_in(location)
    assert {CATALOG, TILES} <= tables and any(t.startswith(PREFIX + "f_") for t in tables)
    if not str(location).startswith("postgresql"):
        assert not (Path(f"{location}.data") / "tiles").exists()  # no second database beside the file
    with cim.open(location) as city:
        derived = open_derived(city.store)
        entries = derived.entries(layer="buildings", view="full")
        kept = derived.count_tiles(entries[0].key)
        derived.close()
    assert len(entries) == 1 and kept == 1
    with TestClient(_app(location, tmp_path)) as client:  # a restart finds the tile kept: nothing prepared again
        again = client.get(url, headers={"Accept-Encoding": "identity"})
        assert again.content == first.content
        derived = client.app.state.vector_tiles.derived
        assert [e.key for e in derived.entries(layer="buildings", view="full")] == [entries[0].key]
        assert derived.count_tiles(entries[0].key) == 1


def test_preparing_and_seeding_tiles_changes_neither_the_model_version_nor_an_etag(demo_copy, tmp_path):
    with TestClient(_app(demo_copy(), tmp_path)) as client:
        city = client.app.state.city
        token, generation = model_version(city), city.store.generation
        etag = client.get("/tiles/buildings/0/0/0.mvt").headers["etag"]
        service = client.app.state.vector_tiles
        assert service.rendered.seed(layer_info(city, "parcels", "anonymous"), max_zoom=12) > 0
        assert city.store.generation == generation  # not counted as a write of the model
        assert model_version(city) == token
        assert client.get("/tiles/buildings/0/0/0.mvt", headers={"If-None-Match": etag}).status_code == 304


def _derived_state(location) -> tuple[set[str], list, int]:
    """Derived tables, catalogue entries and kept tiles of a city, as its own store holds them."""
    tables = _derived_tables_in(location)
    with cim.open(location) as city:
        derived = open_derived(city.store)
        try:
            return tables, derived.entries(), derived.count_tiles()
        finally:
            derived.close()


def test_a_read_only_city_serves_the_same_tiles_from_derived_tables_in_memory(demo_copy, tmp_path):
    location = demo_copy()
    url, roads = _tile_url(location), _tile_url(location).replace("buildings", "roads")
    with TestClient(_app(location, tmp_path)) as client:
        writable = client.get(url, headers={"Accept-Encoding": "identity"}).content
    before = _derived_state(location)
    with cim.open(location, read_only=True) as city, TestClient(_app_over(city, tmp_path)) as client:
        got = client.get(url, headers={"Accept-Encoding": "identity"})
        assert got.status_code == 200 and got.content == writable
        assert client.get(roads).status_code in (200, 204)  # a layer prepared nowhere yet
        derived = client.app.state.vector_tiles.derived
        assert derived.where == "memory" and {e.layer for e in derived.entries()} == {"buildings", "roads"}
    assert _derived_state(location) == before  # the read-only server wrote nothing to the city


def _app_over(city, tmp_path: Path):
    from tiles import create_app

    return create_app(city, api_keys=json.dumps(KEYS), prepare_tiles=False, viewer_dist=tmp_path / "no-viewer")


def test_copying_a_city_leaves_its_derived_tables_behind(demo_path, tmp_path, postgis_demo):
    from cim.copy import city_tables, copy_city

    source = file_copy(demo_path, tmp_path)
    tile = _tile_url(source)
    with TestClient(_app(source, tmp_path)) as client:
        assert client.get(tile).status_code == 200
    assert _derived_tables_in(source) - {CATALOG, TILES}
    report = copy_city(source, tmp_path / "copy.duckdb")
    assert not {t.table for t in report.tables} & {CATALOG, TILES} and CATALOG not in city_tables()
    assert _derived_tables_in(tmp_path / "copy.duckdb") == {CATALOG, TILES}  # empty, from the migration
    with cim.open(tmp_path / "copy.duckdb", read_only=True) as copy:
        assert copy.store.scalar(f"SELECT count(*) FROM {CATALOG}") == 0
    url = postgis_demo()  # a PostGIS city whose tiles were prepared, then replaced by a copy
    with TestClient(_app(url, tmp_path)) as client:
        assert client.get(tile).status_code == 200
    assert _derived_tables_in(url) - {CATALOG, TILES}
    copy_city(source, url, replace=True)
    assert _derived_tables_in(url) == {CATALOG, TILES}
    with cim.open(url, read_only=True) as city:
        assert city.store.scalar(f"SELECT count(*) FROM {CATALOG}") == 0


def test_the_store_decides_how_a_server_reads_it(demo_path, postgis_demo, tmp_path):
    from cim.store.threaded import ThreadedStore
    from cim.store.watched import WatchedStore

    with cim.open(file_copy(demo_path, tmp_path)) as city:
        served = city.store.for_server(1.0)
        assert isinstance(served, ThreadedStore) and served.for_server(1.0) is served
        assert served.unwrapped is city.store
    with cim.open(postgis_demo()) as city:
        served = city.store.for_server(1.0)
        try:
            assert isinstance(served, WatchedStore) and served.unwrapped is city.store
        finally:
            served.close()
        assert city.store.for_server(0) is city.store  # polled on every request instead


@pytest.mark.parametrize("path", sorted((ROOT / "tiles").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_server_package_never_asks_which_backend_it_has(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert not any(a.name.split(".")[0] == "duckdb" for a in node.names), path
        elif isinstance(node, ast.ImportFrom):
            assert node.module not in ("duckdb", "cim.store.duckdb", "cim.store.postgis", "importlib"), path
            assert not {"DuckDBStore", "PostGISStore"} & {a.name for a in node.names}, path
