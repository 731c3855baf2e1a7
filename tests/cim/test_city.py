"""Creating and opening cities, as a DuckDB file and as a PostGIS database."""

from __future__ import annotations

import duckdb
import psycopg
import pytest

import cim
from cim import migrations


def test_create_makes_a_city_with_its_storage_crs_and_latest_schema(city_location):
    city = cim.create(city_location(), crs="EPSG:4549")
    assert city.crs == "EPSG:4549"
    assert migrations.current_version(city.store) == migrations.latest_version()
    assert city.layers.empty
    city.close()


def test_open_reads_back_the_crs_of_a_created_city(city_location):
    where = city_location()
    cim.create(where, crs="EPSG:4547").close()
    with cim.open(where) as city:
        assert city.crs == "EPSG:4547"
        assert list(city.history()["action"]) == ["create"]


def test_create_refuses_a_geographic_crs(tmp_path):
    with pytest.raises(cim.CIMError, match="not a projected CRS"):
        cim.create(tmp_path / "c.duckdb", crs="EPSG:4490")
    assert not (tmp_path / "c.duckdb").exists()


@pytest.mark.parametrize("crs, unit, utm", [("EPSG:2263", "US survey foot", "EPSG:32618"),
                                           ("EPSG:2227", "US survey foot", "EPSG:32610"),
                                           ("ESRI:102718", "US survey foot", "EPSG:32618")])
def test_create_refuses_a_crs_in_feet_naming_its_unit_and_a_utm_zone_in_metres(city_location, crs, unit, utm):
    """Areas, storeys, buffers and distances are read in metres: a city in feet would be wrong by 3.28
    everywhere without a sign. Nothing is written: the same place takes a city in metres afterwards."""
    where = city_location()
    with pytest.raises(cim.CIMError) as refused:
        cim.create(where, crs=crs)
    assert unit in str(refused.value) and utm in str(refused.value), str(refused.value)
    with cim.create(where, crs=utm) as city:  # no CityExists: the refusal left nothing behind
        assert city.crs == utm


def test_create_refuses_an_unknown_crs_and_leaves_no_file(tmp_path):
    with pytest.raises(Exception, match="unknown CRS"):
        cim.create(tmp_path / "c.duckdb", crs="EPSG:999999")
    assert not (tmp_path / "c.duckdb").exists()


def test_create_refuses_to_overwrite_an_existing_city(city_location):
    where = city_location()
    cim.create(where).close()
    with pytest.raises(cim.CityExists):
        cim.create(where)
    with cim.create(where, exist_ok=True) as city:
        assert list(city.history()["action"]) == ["create"]


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


def test_open_refuses_a_city_from_a_newer_schema(city_location):
    where = city_location()
    city = cim.create(where)
    city.store.execute("INSERT INTO schema_migrations VALUES (9999, 'future', now())")
    city.close()
    with pytest.raises(cim.SchemaTooNew, match="9999"):
        cim.open(where)
    with pytest.raises(cim.SchemaTooNew, match="9999"):
        cim.open(where, read_only=True)


def test_the_features_table_has_an_rtree_index(city):
    indexes = city.sql("SELECT index_name, sql FROM duckdb_indexes() WHERE table_name = 'features'")
    assert any("RTREE" in s.upper() for s in indexes.column("sql").to_pylist())


def test_unknown_layer_lists_the_layers_there_are(city):
    with pytest.raises(cim.LayerNotFound, match="no layers yet"):
        city.layer("parcels")


# -- PostGIS: the same city in a database, and what goes wrong reaching one --------------------


def test_a_postgis_city_has_a_gist_index_on_feature_geometries(postgis_server):
    with cim.create(postgis_server.database()) as city:
        indexes = city.store.rows("SELECT indexdef FROM pg_indexes WHERE tablename = 'features'")
        assert any("USING gist (geom)" in row[0] for row in indexes)


def test_an_unreachable_database_url_is_a_one_line_error(postgis_server):
    from cim.testing import free_port

    url = f"postgresql://cim:pw@127.0.0.1:{free_port()}/nowhere"
    with pytest.raises(cim.CIMError, match="cannot reach PostgreSQL at") as err:
        cim.open(url)
    assert "\n" not in str(err.value) and ":***@" in str(err.value)


def test_wrong_credentials_are_a_clear_error_without_the_password(postgis_server):
    url = postgis_server.url(postgis_server.database().rsplit("/", 1)[1], password="wrong-secret")
    with pytest.raises(cim.CIMError, match="refused the login") as err:
        cim.create(url)
    assert "wrong-secret" not in str(err.value)


def test_a_database_without_postgis_is_refused_with_what_to_run(postgis_server):
    url = postgis_server.database(postgis=False)
    with psycopg.connect(url, autocommit=True) as con:  # a role that may not create extensions
        con.execute("CREATE ROLE plain LOGIN PASSWORD 'plain' NOSUPERUSER")
        con.execute("GRANT ALL ON SCHEMA public TO plain")
    plain = url.replace("cim:cim-test-pw@", "plain:plain@")
    with pytest.raises(cim.CIMError, match="has no PostGIS: run `CREATE EXTENSION postgis;`"):
        cim.create(plain)
    with pytest.raises(cim.CIMError, match="has no PostGIS"):
        cim.open(plain)
    with psycopg.connect(url) as con:
        assert con.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0] == 0


def test_a_database_without_a_city_says_how_to_create_one(postgis_server):
    with pytest.raises(cim.CityNotFound, match="cim init"):
        cim.open(postgis_server.database())


def test_a_failed_create_leaves_the_database_empty(postgis_server, monkeypatch):
    url = postgis_server.database()

    def broken(store):
        store.execute("CREATE TABLE cim_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)")
        raise RuntimeError("disk full")

    monkeypatch.setattr(migrations, "migrate", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        cim.create(url)
    with psycopg.connect(url) as con:
        assert con.execute("SELECT to_regclass('cim_meta')").fetchone()[0] is None


def test_a_city_in_its_own_schema_leaves_other_cities_in_the_database_alone(postgis_server):
    url = postgis_server.database()
    with psycopg.connect(url, autocommit=True) as con:
        con.execute("CREATE SCHEMA north")
        con.execute("CREATE SCHEMA south")
    north = url + "?options=-csearch_path%3Dnorth,public"
    south = url + "?options=-csearch_path%3Dsouth,public"
    cim.create(north, name="north").close()
    cim.create(south, name="south", crs="EPSG:4547").close()
    with cim.open(north) as a, cim.open(south) as b:
        assert (a.meta("name"), a.crs) == ("north", "EPSG:4549")
        assert (b.meta("name"), b.crs) == ("south", "EPSG:4547")


def test_a_database_that_does_not_exist_says_to_create_it(postgis_server):
    with pytest.raises(cim.CIMError, match="createdb") as err:
        cim.create(postgis_server.url("no_such_db"))
    assert "\n" not in str(err.value)


def test_the_cli_makes_and_reads_a_city_at_a_url_without_printing_the_password(postgis_server, samples):
    from typer.testing import CliRunner

    from cim.cli import app

    url = postgis_server.database()
    runner = CliRunner()
    made = runner.invoke(app, ["init", url, "--crs", "EPSG:5514", "--timezone", "Europe/Prague"])  # bubenec: Prague
    assert made.exit_code == 0, made.output
    loaded = runner.invoke(app, ["ingest", url, str(samples / "vector" / "bubenec.gpkg")])
    assert loaded.exit_code == 0, loaded.output
    info = runner.invoke(app, ["info", url])
    assert info.exit_code == 0 and "postgis" in info.output
    assert "features" in info.output and "cim-test-pw" not in made.output + loaded.output + info.output


def test_both_backends_reach_the_same_schema_version_with_their_own_indexes(postgis_server, tmp_path):
    with cim.create(tmp_path / "c.duckdb") as file_city, cim.create(postgis_server.database()) as db_city:
        assert migrations.current_version(file_city.store) == migrations.current_version(db_city.store)
        indexes = {r[0] for r in db_city.store.rows("SELECT indexname FROM pg_indexes WHERE tablename = 'features'")}
        assert {"features_id", "features_parent", "features_geom_rtree"} <= indexes
        # the id lookup is planned on its index, not a scan of every feature
        plan = " ".join(r[0] for r in db_city.store.rows("EXPLAIN SELECT * FROM features WHERE id = 'x'"))
        assert "features_id" in plan


def test_typed_property_casts_work_when_postgres_plans_a_parallel_scan(postgis_server):
    """The tolerant casts catch bad values in a subtransaction, which a parallel query cannot start."""
    with cim.create(postgis_server.database()) as city:
        store = city.store
        store.execute("CREATE TABLE cast_probe AS SELECT g::text AS v FROM generate_series(1, 50000) g")
        store.execute("INSERT INTO cast_probe VALUES ('not a number')")
        store.execute("ANALYZE cast_probe")
        for setting in ("parallel_setup_cost = 0", "parallel_tuple_cost = 0", "min_parallel_table_scan_size = 0",
                        "max_parallel_workers_per_gather = 2"):
            store.execute(f"SET {setting}")
        assert store.rows("SELECT sum(cim_try_double(v)), count(cim_try_bigint(v)) FROM cast_probe")[0] == (
            50000 * 50001 / 2, 50000)


#: text a property may hold, for the tolerant casts: numbers in every spelling PostgreSQL reads, and
#: what it refuses or cannot hold (overflow, underflow to zero, over-long exponents, words)
CAST_PROBES = ["12", " 12 ", "+12", "-12", "0012", "3.7", "-3.7", ".5", "5.", "1e3", "1E+03", "2.5e-3", "1e0003",
               "1e308", "1.7976931348623157e308", "1.8e308", "1e309", "-1e309", "4.9e-324", "1e-320", "1e-400",
               "1e999", "1e1000", "1e-1000", "NaN", "nan", "Infinity", "-Infinity", "inf", "-inf", "+inf",
               "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
               "123456789012345678901234567890", "9" * 250, "9" * 400, "1" + "0" * 1200, "0." + "0" * 250 + "1",
               "1e1001", "1e-1001", "1e9999", "-1e-9999", "", " ", "-", "+", ".", "e5",
               "1e", "1.2.3", "12abc", "abc", "１２", "1,5", "0x10", "1_000", "true", "t", "12 34", "\t7\n"]


def test_tolerant_number_casts_answer_what_postgres_would_cast_and_null_for_what_it_refuses(postgis_server):
    import psycopg

    url = postgis_server.database()
    cim.create(url).close()  # the city's compat functions in place
    with psycopg.connect(url, autocommit=True) as con:
        con.execute("""CREATE FUNCTION ref_double(t text) RETURNS double precision LANGUAGE plpgsql AS $$
            BEGIN RETURN t::double precision; EXCEPTION WHEN others THEN RETURN NULL; END $$""")
        con.execute("""CREATE FUNCTION ref_bigint(t text) RETURNS bigint LANGUAGE plpgsql AS $$
            BEGIN RETURN t::bigint; EXCEPTION WHEN others THEN BEGIN RETURN trunc(t::numeric)::bigint;
            EXCEPTION WHEN others THEN RETURN NULL; END; END $$""")
        rows = con.execute("SELECT v, cim_try_double(v)::text, ref_double(v)::text, cim_try_bigint(v), ref_bigint(v) "
                           "FROM unnest(%s::text[]) AS v", [CAST_PROBES]).fetchall()
        modes = dict(con.execute("SELECT proname::text, proparallel::text FROM pg_proc WHERE proname IN "
                                 "('cim_try_double', 'cim_try_bigint')").fetchall())
    assert len(rows) == len(CAST_PROBES)
    differ = [(v, d, rd, b, rb) for v, d, rd, b, rb in rows if (d, b) != (rd, rb)]
    assert differ == [("0x10", None, "16", None, None)]  # hexadecimal: a number only to C's strtod
    by_value = {v: (d, b) for v, d, _, b, _ in rows}
    assert by_value["3.7"] == ("3.7", 3) and by_value["1e309"] == (None, None) and by_value["abc"] == (None, None)
    assert modes == {"cim_try_double": "s", "cim_try_bigint": "s"}  # a parallel plan may use them
