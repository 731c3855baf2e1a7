"""The demo city: deterministic, complete, and with planted rule-breakers."""

from __future__ import annotations

import numpy as np
import pytest

from cim.demo import LAYERS, build_demo, generate_frames
from cim.demo.recipe import load_recipe


@pytest.fixture(scope="module")
def demo_city(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "city.duckdb"
    city = build_demo(path, scale=400)
    yield city
    city.close()


def test_the_demo_city_has_every_layer_in_epsg_4549(demo_city):
    names = set(demo_city.layers["name"])
    assert set(LAYERS) | {"dem"} <= names
    assert demo_city.crs == "EPSG:4549"


def test_every_demo_ingest_reconciles_without_rejects(demo_city):
    versions = demo_city.sql("SELECT layer, read, stored, rejected FROM layer_versions").to_pylist()
    assert versions and all(v["read"] == v["stored"] and v["rejected"] == 0 for v in versions)


def test_buildings_stand_inside_their_parcels_except_planted_setback_breakers(demo_city):
    rows = demo_city.sql("""
        SELECT json_extract_string(b.properties, '$.parcel_id') AS parcel,
               json_extract_string(p.properties, '$.parcel_id') AS holder
        FROM features b JOIN features p ON p.layer = 'parcels' AND ST_Within(b.geom, p.geom)
        WHERE b.layer = 'buildings'""").to_pylist()
    assert rows and all(r["parcel"] == r["holder"] for r in rows)
    assert len(rows) == demo_city.layer("buildings")["feature_count"]


def test_some_buildings_break_their_height_limit_and_nothing_marks_them(demo_city):
    from tests.analysis import reference

    buildings = demo_city.features("buildings")
    assert reference.height_breakers(buildings, demo_city.features("parcels"))
    assert not any(name.startswith("violates") for name in buildings.columns)  # the engine finds them


def test_pipes_and_the_tunnel_are_underground_and_restricted(demo_city):
    pipes = demo_city.features("pipes")
    assert (pipes["z_max"] < 0).all() and set(pipes["network"]) == {"water", "gas", "power"}
    assert demo_city.layer("utility_tunnel")["classification"] == "restricted"


def test_the_same_seed_gives_the_same_city_and_scale_sets_the_size():
    recipe = load_recipe()
    a = generate_frames(recipe, np.random.default_rng(7), buildings=500, crs="EPSG:4549")
    b = generate_frames(recipe, np.random.default_rng(7), buildings=500, crs="EPSG:4549")
    assert a["buildings"].geometry.geom_equals_exact(b["buildings"].geometry, 0).all()
    assert 350 <= len(a["buildings"]) <= 700
    big = generate_frames(recipe, np.random.default_rng(7), buildings=5000, crs="EPSG:4549")
    assert 4000 <= len(big["buildings"]) <= 6500


def test_the_demo_has_a_dem_catalogued_as_a_cog(demo_city):
    dem = demo_city.layer("dem")
    assert dem["kind"] == "raster" and dem["properties"]["role"] == "dem"
    assert (demo_city.data_dir / dem["properties"]["path"]).is_file()


def test_base_elevations_of_buildings_come_from_the_dem(demo_city):
    from gis.dem import sample

    bases = demo_city.base_elevations("buildings")
    assert len(bases) == demo_city.layer("buildings")["feature_count"]
    assert bases["base_elevation"].notna().all()
    first = demo_city.features("buildings", limit=1).iloc[0]
    dem = demo_city.data_dir / demo_city.layer("dem")["properties"]["path"]
    x, y = first.geometry.exterior.coords[0]
    corner = sample(dem, [x], [y], crs="EPSG:4549")[0]
    assert bases.set_index("id").loc[first["id"], "base_elevation"] <= corner + 1e-6


def test_demo_buildings_know_their_parcel_and_parcels_their_block(demo_city):
    building = demo_city.features("buildings", limit=1).iloc[0]
    chain = demo_city.feature(building["id"])["parents"]
    assert [p["class"] for p in chain] == ["Parcel", "Block"]
    assert chain[0]["id"] == f"parcels.{building['parcel_id']}"


def test_the_demo_builds_the_same_city_in_a_postgis_database(postgis_server, demo_city, monkeypatch, tmp_path):
    monkeypatch.setenv("CIM_DATA_DIR", str(tmp_path))
    with build_demo(postgis_server.database(), scale=400) as twin:
        assert list(twin.layers["name"]) == list(demo_city.layers["name"])
        assert list(twin.layers["feature_count"]) == list(demo_city.layers["feature_count"])
        for name in demo_city.layers["name"]:
            if name in ("dem", "worksite_bim"):  # the generated IFC gets fresh GlobalIds on every build
                continue
            mine, theirs = demo_city.features(name, output="pandas"), twin.features(name, output="pandas")
            assert list(theirs["id"]) == list(mine["id"]), name
            assert list(theirs["geom"]) == list(mine["geom"]), name
        for table in ("meshes", "iot_datastreams", "iot_observations", "iot_rules"):
            count = f"SELECT count(*) FROM {table}"
            assert twin.store.scalar(count) == demo_city.store.scalar(count), table
