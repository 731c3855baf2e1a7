"""Layer profiles: what each layer is — declared on ingest, inferred where not, shown, changed later."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import cim
from cim.ingest.set_profile import set_profile
from cim.model.catalog import all_layers
from cim.model.profile import LayerProfile
from tests.cim.helpers import square, write_geojson
from tests.conftest import sample

#: storeys of five buildings; the last is the 74-storey tower
STOREYS = [2, 3, 5, 6, 74]


@pytest.fixture
def city(new_city):
    """An empty city on each backend in turn."""
    return new_city()


def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    proc = subprocess.run([sys.executable, "-m", "cim", *args], capture_output=True, text=True, timeout=300, env=env)
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def storeys_geojson(path, field="height", extra=None):
    """Footprints whose ``field`` counts storeys (whole numbers, median 5), 50 m apart."""
    feats = [{"id": f"b{i}", field: n, **(extra(i) if extra else {}),
              "geometry": {"type": "Polygon", "coordinates": [square(515000 + 50 * i, 3980000)]}}
             for i, n in enumerate(STOREYS)]
    return write_geojson(path, feats)


def heights(city, layer, **kw):
    frame = city.features(layer, **kw).sort_values("id")
    return dict(zip(frame["id"], frame["height"], strict=True))


def test_a_height_counting_storeys_is_stored_in_metres_and_ingest_says_how_to_override(tmp_path):
    where = str(tmp_path / "c.duckdb")
    run("init", where)
    out = run("ingest", where, str(storeys_geojson(tmp_path / "buildings.geojson"))).stdout
    assert "class Building from the layer name (override: --class CLASS)" in out
    assert "height from 'height' read as storeys × 3 m: whole numbers, median 5 (override: --height height:m)" in out
    with cim.open(where) as c:
        assert heights(c, "buildings") == {f"buildings.b{i}": 3.0 * n for i, n in enumerate(STOREYS)}
        profile = c.layer("buildings")["profile"]
        assert (profile.height_field, profile.height_unit, profile.floors_field) == ("height", "floors", "height")
        assert {"class", "height"} <= set(profile.inferred)
        assert all_layers(c)["buildings"].profile == profile


def test_metres_stay_metres(city, tmp_path):
    feats = [{"height": h, "geometry": {"type": "Polygon", "coordinates": [square(515000 + 50 * i, 3980000)]}}
             for i, h in enumerate([4.5, 12.0, 33.3, 80.0])]
    (report,) = city.ingest(write_geojson(tmp_path / "buildings.geojson", feats))
    assert sorted(heights(city, "buildings").values()) == [4.5, 12.0, 33.3, 80.0]
    assert city.layer("buildings")["profile"].height_source == "height (m)"
    assert any("in metres (override: --height height:floors" in n for n in report.notes)


def test_a_floors_field_beside_a_small_whole_height_keeps_the_height_in_metres(city, tmp_path):
    path = storeys_geojson(tmp_path / "buildings.geojson", extra=lambda i: {"层数": 1})
    city.ingest(path)
    profile = city.layer("buildings")["profile"]
    assert (profile.height_unit, profile.floors_field) == ("m", "层数")
    assert sorted(heights(city, "buildings").values()) == [float(n) for n in sorted(STOREYS)]


def test_declared_class_height_floors_name_and_zoning_are_stored_as_the_profile(city, tmp_path):
    feats = [{"名称": f"楼{i}", "层数": n, "限高": 60, "容积率": 2.5,
              "geometry": {"type": "Polygon", "coordinates": [square(515000 + 50 * i, 3980000)]}}
             for i, n in enumerate(STOREYS)]
    (report,) = city.ingest(write_geojson(tmp_path / "楼.geojson", feats), layer="towers", feature_class="Building",
                            height="层数:floors", floors="层数", floor_height=3.5, zoning=["限高=height_limit"])
    profile = city.layer("towers")["profile"]
    assert profile == LayerProfile(feature_class="Building", cim_level=2, name_field="名称", height_field="层数",
                                   height_unit="floors", floor_height=3.5, floors_field="层数",
                                   zoning=(("height_limit", "限高"),), inferred=("name",))
    assert sorted(heights(city, "towers").values()) == [3.5 * n for n in sorted(STOREYS)]
    assert set(city.features("towers")["name"]) == {f"楼{i}" for i in range(5)}
    assert not any("height from" in n for n in report.notes)


def test_zoning_fields_named_in_chinese_are_mapped_onto_the_rule_vocabulary(city, tmp_path):
    feats = [{"限高": 80, "容积率": 2.5, "绿地率": 0.35, "用地性质": "R2",
              "geometry": {"type": "Polygon", "coordinates": [square(515000, 3980000)]}}]
    (report,) = city.ingest(write_geojson(tmp_path / "parcels.geojson", feats))
    profile = city.layer("parcels")["profile"]
    assert dict(profile.zoning) == {"height_limit": "限高", "far_limit": "容积率", "green_min": "绿地率",
                                    "land_use": "用地性质"}
    assert "profile: zoning: '限高' read as height_limit (override: --map FIELD=height_limit)" in report.notes


@pytest.mark.parametrize("options, message", [
    ({"height": "层高:floors"}, r"--height '层高' is not a field of buildings.geojson; its fields: id, height"),
    ({"zoning": ["height=max_storeys"]}, "unknown zoning field 'max_storeys'"),
    ({"height": "height:furlongs"}, None),
    ({"cim_level": 9}, "1–7"),
])
def test_a_bad_profile_option_is_refused_and_the_city_unchanged(city, tmp_path, options, message):
    with pytest.raises(cim.ValidationError, match=message):
        city.ingest(storeys_geojson(tmp_path / "buildings.geojson"), **options)
    assert city.layers.empty


def test_a_profile_changes_later_as_a_new_version_without_reading_the_source_again(city, tmp_path):
    source = storeys_geojson(tmp_path / "buildings.geojson")
    city.ingest(source, height="height:m")
    before = heights(city, "buildings")
    first = city.layer("buildings")
    source.unlink()  # the source is gone: the new version comes from the stored features
    profile = set_profile(city, "buildings", height="height:floors", floor_height=3.2, feature_class="BuildingPart")
    assert (profile.height_unit, profile.floors_field, profile.feature_class) == ("floors", "height", "BuildingPart")
    after = city.layer("buildings")
    assert after["version"] == 2 and after["feature_count"] == first["feature_count"]
    assert after["checksum"] == first["checksum"] and after["profile"] == profile
    assert heights(city, "buildings") == {k: v * 3.2 for k, v in before.items()}
    assert set(city.features("buildings")["class"]) == {"BuildingPart"}
    assert heights(city, "buildings", as_of=first["updated_at"]) == before
    assert city.history("buildings").iloc[0]["action"] == "edit"
    assert set_profile(city, "buildings", height="height:floors", floor_height=3.2) == profile
    assert city.layer("buildings")["version"] == 2


def test_a_changed_profile_gives_the_heights_an_ingest_with_it_gives(city, tmp_path):
    source = storeys_geojson(tmp_path / "buildings.geojson", extra=lambda i: {"名称": f"楼{i}", "z_min": 1.5 * i})
    city.ingest(source, layer="later", height="height:m")
    set_profile(city, "later", height="height:floors", floor_height=3.5)
    city.ingest(source, layer="direct", height="height:floors", floor_height=3.5)
    columns = ["height", "name", "z_min", "cim_level", "class"]
    later = city.features("later").sort_values("id")[columns].reset_index(drop=True)
    direct = city.features("direct").sort_values("id")[columns].reset_index(drop=True)
    assert later.equals(direct)


def test_a_profile_refuses_fields_the_layer_does_not_have_and_non_vector_layers(city, tmp_path):
    city.ingest(storeys_geojson(tmp_path / "buildings.geojson"))
    with pytest.raises(cim.ValidationError, match="floors field 'levels' is not a field of layer buildings"):
        set_profile(city, "buildings", floors="levels")
    with pytest.raises(cim.LayerNotFound):
        set_profile(city, "nowhere", feature_class="Building")
    assert city.layer("buildings")["version"] == 1


def test_layers_set_and_layers_list_from_the_command_line(tmp_path):
    where = str(tmp_path / "c.duckdb")
    run("init", where)
    run("ingest", where, str(storeys_geojson(tmp_path / "buildings.geojson")), "--height", "height:m")
    out = run("layers", "set", where, "buildings", "--height", "height:floors").stdout
    assert "buildings v2" in out and "height × 3 m" in out
    listing = run("layers", where).stdout
    assert "Building" in listing and "height × 3 m" in listing
    import json

    rows = json.loads(run("layers", where, "--format", "json").stdout)
    assert rows[0]["feature_class"] == "Building" and rows[0]["height_source"] == "height × 3 m"
    refused = run("layers", "set", where, "buildings", "--anchor", "1,2", ok=False)
    assert refused.returncode != 0 and "No such option" in refused.stderr


def test_a_folder_ingests_with_a_yaml_profile_per_source(tmp_path):
    folder = tmp_path / "survey"
    folder.mkdir()
    storeys_geojson(folder / "footprints.geojson", field="层数")
    write_geojson(folder / "zoning.geojson", [{"限高": 80, "容积率": 2.5, "geometry": {
        "type": "Polygon", "coordinates": [square(515000, 3980000, 200)]}}])
    (folder / "profile.yaml").write_text(
        "defaults:\n  phase: manage\n"
        "sources:\n"
        "  footprints.geojson:\n    class: Building\n    height: 层数:floors\n    layer: buildings\n"
        "  zoning*:\n    class: Parcel\n    map: {限高: height_limit, 容积率: far_limit}\n", encoding="utf-8")
    where = str(tmp_path / "c.duckdb")
    run("init", where)
    out = run("ingest", where, str(folder), "--profile", str(folder / "profile.yaml")).stdout
    assert "buildings v1" in out and "zoning v1" in out
    with cim.open(where) as c:
        assert sorted(heights(c, "buildings").values()) == [3.0 * n for n in sorted(STOREYS)]
        zoning = c.layer("zoning")
        assert zoning["feature_class"] == "Parcel" and zoning["phase"] == "manage"
        assert zoning["profile"].zoning_field("far_limit") == "容积率"
    bad = folder / "bad.yaml"
    bad.write_text("sources:\n  zoning.geojson:\n    hieght: 3\n", encoding="utf-8")
    proc = run("ingest", where, str(folder), "--profile", str(bad), ok=False)
    assert "unknown option 'hieght'" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


# real files: (file, options, city CRS, layer, expected profile facts)
REAL = [
    ("vector/delft_bgt_pand.sqlite", {}, "EPSG:28992", "delft_bgt_pand",
     {"feature_class": "Building", "height_field": None, "name_field": None}),
    ("vector/nybb.shp", {"feature_class": "District", "name_field": "BoroName"}, "EPSG:32618", "nybb",
     {"feature_class": "District", "name_field": "BoroName", "inferred": ()}),
    ("vector/nyc_tiger_roads.geojson", {}, "EPSG:32618", "nyc_tiger_roads",
     {"feature_class": "Road", "name_field": "NAME", "height_field": None}),
    ("vector/qingdao_districts_gcj02.geojson", {"source_crs": "GCJ-02"}, "EPSG:4549", "qingdao_districts_gcj02",
     {"feature_class": "District", "name_field": "name"}),
]


@pytest.mark.parametrize("relative, options, crs, layer, expected", REAL, ids=[r[0][7:] for r in REAL])
def test_real_sources_get_the_profile_their_fields_and_names_say(city_location, relative, options, crs, layer,
                                                                  expected):
    with cim.create(city_location(), crs=crs) as c:
        (report,) = c.ingest(sample(relative), **options)
        profile = c.layer(layer)["profile"]
        for key, value in expected.items():
            assert getattr(profile, key) == value, (key, profile)
        frame = c.features(layer)
        assert set(frame["class"]) == {expected["feature_class"]}
        if profile.name_field:
            assert frame["name"].notna().any()
        assert ("class" in profile.inferred) == ("feature_class" not in options)
        assert report.read == report.stored + report.rejected


def test_the_delft_footprints_get_names_and_a_class_later(city_location):
    from gis import read_vector

    path = sample("vector/delft_bgt_pand.sqlite")
    bag_ids = {str(v) for v in read_vector(path).table.column("identificatiebagpnd").to_pylist()}
    with cim.create(city_location(), crs="EPSG:28992") as c:
        c.ingest(path, layer="pand")
        set_profile(c, "pand", name_field="identificatiebagpnd", feature_class="BuildingPart")
        frame = c.features("pand")
        assert set(frame["name"]) == bag_ids and set(frame["class"]) == {"BuildingPart"}
        assert c.layer("pand")["version"] == 2 and len(frame) == c.layer("pand")["feature_count"]


def test_a_height_field_with_text_is_read_only_when_declared(city, tmp_path):
    feats = [{"id": f"b{i}", "height": h, "geometry": {"type": "Polygon", "coordinates": [
        square(515000 + 50 * i, 3980000)]}} for i, h in enumerate(["7.5", "n/a", "31"])]
    path = write_geojson(tmp_path / "buildings.geojson", feats)
    (report,) = city.ingest(path)
    assert city.layer("buildings")["profile"].height_field is None
    assert city.features("buildings")["height"].isna().all()
    assert any("'height' not read as heights: it holds 'n/a'" in n and "--height height:m" in n for n in report.notes)
    city.ingest(path, height="height:m")
    assert heights(city, "buildings") == pytest.approx({"buildings.b0": 7.5, "buildings.b1": float("nan"),
                                                        "buildings.b2": 31.0}, nan_ok=True)
