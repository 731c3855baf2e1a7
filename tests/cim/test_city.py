"""Creating and opening cities."""

from __future__ import annotations

import duckdb
import pytest

import cim
from cim import migrations


def test_create_makes_a_city_with_its_storage_crs_and_latest_schema(tmp_path):
    city = cim.create(tmp_path / "c.duckdb", crs="EPSG:4549")
    assert city.crs == "EPSG:4549"
    assert migrations.current_version(city.store) == migrations.latest_version()
    assert city.layers.empty
    city.close()


def test_open_reads_back_the_crs_of_a_created_city(tmp_path):
    cim.create(tmp_path / "c.duckdb", crs="EPSG:4547").close()
    with cim.open(tmp_path / "c.duckdb") as city:
        assert city.crs == "EPSG:4547"
        assert list(city.history()["action"]) == ["create"]


def test_create_refuses_a_geographic_crs(tmp_path):
    with pytest.raises(cim.CIMError, match="not a projected CRS"):
        cim.create(tmp_path / "c.duckdb", crs="EPSG:4490")
    assert not (tmp_path / "c.duckdb").exists()


def test_create_refuses_an_unknown_crs_and_leaves_no_file(tmp_path):
    with pytest.raises(Exception, match="unknown CRS"):
        cim.create(tmp_path / "c.duckdb", crs="EPSG:999999")
    assert not (tmp_path / "c.duckdb").exists()


def test_create_refuses_to_overwrite_an_existing_city(tmp_path):
    cim.create(tmp_path / "c.duckdb").close()
    with pytest.raises(cim.CityExists):
        cim.create(tmp_path / "c.duckdb")


def test_open_of_a_missing_file_says_how_to_create_one(tmp_path):
    with pytest.raises(cim.CityNotFound, match="cim init"):
        cim.open(tmp_path / "nope.duckdb")


def test_open_refuses_a_duckdb_file_that_is_not_a_city(tmp_path):
    duckdb.connect(str(tmp_path / "other.duckdb")).close()
    with pytest.raises(cim.CIMError, match="not a city"):
        cim.open(tmp_path / "other.duckdb", read_only=True)


def test_open_refuses_a_file_that_is_not_duckdb(tmp_path):
    (tmp_path / "x.duckdb").write_text("hello, not a database")
    with pytest.raises(cim.CIMError, match="not a readable DuckDB"):
        cim.open(tmp_path / "x.duckdb")


def test_open_refuses_a_city_from_a_newer_schema(tmp_path):
    city = cim.create(tmp_path / "c.duckdb")
    city.store.execute("INSERT INTO schema_migrations VALUES (9999, 'future', now())")
    city.close()
    with pytest.raises(cim.SchemaTooNew, match="9999"):
        cim.open(tmp_path / "c.duckdb")


def test_the_features_table_has_an_rtree_index(city):
    indexes = city.sql("SELECT index_name, sql FROM duckdb_indexes() WHERE table_name = 'features'")
    assert any("RTREE" in s.upper() for s in indexes.column("sql").to_pylist())


def test_unknown_layer_lists_the_layers_there_are(city):
    with pytest.raises(cim.LayerNotFound, match="no layers yet"):
        city.layer("parcels")
