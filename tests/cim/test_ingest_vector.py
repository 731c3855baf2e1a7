"""Vector sources into the city: counts reconcile, CRS handled, repairs counted, atomic, versioned."""

from __future__ import annotations

import json
import time

import pytest
import shapely

import cim
from tests.cim.helpers import parcels_geojson, square, write_geojson


@pytest.fixture
def city(new_city):
    """An empty city on each backend in turn (a DuckDB file, then a PostGIS database)."""
    return new_city()


#: bubenec.gpkg's district of Prague lies in S-JTSK / Krovak East North (metres)
PRAGUE = "EPSG:5514"


def _point_count(city) -> int:
    return int(city.store.scalar("SELECT count(*) FROM features"))


def test_a_geojson_lands_in_the_city_crs_within_a_metre(city, tmp_path):
    (report,) = city.ingest(parcels_geojson(tmp_path / "parcels.geojson"))
    assert (report.read, report.stored, report.rejected) == (3, 3, 0)
    gdf = city.features("parcels")
    first = gdf.set_index("id").loc["parcels.p0"]
    minx, miny = first.geometry.bounds[:2]
    assert abs(minx - 515000) < 1 and abs(miny - 3980000) < 1
    assert gdf.crs.to_epsg() == 4549


def test_chinese_field_names_and_values_are_kept(city, tmp_path):
    city.ingest(parcels_geojson(tmp_path / "parcels.geojson"))
    gdf = city.features("parcels")
    assert "名称" in gdf.columns
    assert set(gdf["名称"]) == {"地块0", "地块1", "地块2"}


def test_where_filters_on_the_layers_own_fields(city, tmp_path):
    city.ingest(parcels_geojson(tmp_path / "parcels.geojson"))
    gdf = city.features("parcels", where="far_limit > 2.5")
    assert sorted(gdf["id"]) == ["parcels.p1", "parcels.p2"]


def test_bbox_in_another_crs_selects_the_features_inside_it(city, tmp_path):
    city.ingest(parcels_geojson(tmp_path / "parcels.geojson"))
    inside = city.features("parcels", bbox=(514990, 3979990, 515030, 3980030))
    assert list(inside["id"]) == ["parcels.p0"]
    lon0, lat0 = square(514990, 3979990)[0]
    lon1, lat1 = square(515030, 3980030)[0]
    again = city.features("parcels", bbox=(lon0, lat0, lon1, lat1), bbox_crs="EPSG:4326")
    assert list(again["id"]) == ["parcels.p0"]


def test_null_and_empty_geometries_are_rejected_with_their_rows(city, tmp_path):
    feats = [
        {"n": 1, "geometry": {"type": "Polygon", "coordinates": [square(515000, 3980000)]}},
        {"n": 2, "geometry": None},
        {"n": 3, "geometry": {"type": "Polygon", "coordinates": []}},
    ]
    (report,) = city.ingest(write_geojson(tmp_path / "mixed.geojson", feats))
    assert (report.read, report.stored, report.rejected) == (3, 1, 2)
    assert sorted(r.row for r in report.rejects) == ["2", "3"]
    assert len(city.rejects("mixed")) == 2


def test_a_self_intersecting_polygon_is_repaired_and_counted(city, tmp_path):
    ring = square(515000, 3980000)
    bowtie = [ring[0], ring[2], ring[1], ring[3], ring[0]]
    (report,) = city.ingest(write_geojson(tmp_path / "bow.geojson", [
        {"n": 1, "geometry": {"type": "Polygon", "coordinates": [bowtie]}}]))
    assert (report.stored, report.repaired) == (1, 1)
    assert city.features("bow").geometry.is_valid.all()


def _city_ring(x: float, y: float, size: float = 20.0) -> list[list[float]]:
    """A square ring in the city's CRS (EPSG:4549 metres)."""
    return [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]


@pytest.mark.parametrize("lonlat", [False, True], ids=["in the city CRS", "in lon/lat"])
def test_a_large_source_pre_checked_keeps_rejects_and_repairs_row_by_row(city, tmp_path, monkeypatch, lonlat):
    """A large source has its simple rings vouched for by a compiled check (here from the first row
    rather than from large sources on) and GEOS judge the rest; one in the city's own CRS is stored
    untouched: rejects, their rows and reasons, and repairs as for any source."""
    import cim.ingest.vector
    from tests.cim.helpers import lonlat as to_lonlat

    monkeypatch.setattr(cim.ingest.vector, "PRECHECK_ROWS", 1)
    crs = "OGC:CRS84" if lonlat else "urn:ogc:def:crs:EPSG::4549"

    def polygon(*rings: list[list[float]]) -> dict:
        """A GeoJSON polygon of rings given in the city's metres, written in the source's CRS."""
        if lonlat:
            rings = tuple([list(to_lonlat(*p)) for p in ring] if ring[0][0] < 1e9 else ring for ring in rings)
        return {"type": "Polygon", "coordinates": list(rings)}

    el = [[515000, 3980000], [515030, 3980000], [515030, 3980010], [515010, 3980010], [515010, 3980030],
          [515000, 3980030], [515000, 3980000]]
    kept = {1: [_city_ring(515000, 3980000)], 5: [el], 6: [_city_ring(515100, 3980000, 40),
                                                        _city_ring(515110, 3980010)[::-1]]}
    feats = [{"n": 1, "geometry": polygon(*kept[1])},
             {"n": 2, "geometry": None},
             {"n": 3, "geometry": {"type": "Polygon", "coordinates": []}},
             {"n": 4, "geometry": polygon(_city_ring(2e9, 3980000))},
             {"n": 5, "geometry": polygon(*kept[5])},
             {"n": 6, "geometry": polygon(*kept[6])}]
    (report,) = city.ingest(write_geojson(tmp_path / "local.geojson", feats, crs=crs))
    assert (report.read, report.stored, report.rejected, report.repaired) == (6, 3, 3, 0)
    assert sorted((r.row, r.reason) for r in report.rejects) == [
        ("2", "null geometry"), ("3", "empty geometry"), ("4", "absurd coordinates")]
    stored = city.features("local").set_index("n").geometry
    for n, rings in kept.items():
        assert stored.loc[n].equals_exact(shapely.Polygon(rings[0], rings[1:]), 1e-6 if lonlat else 0.0), n
    ring = _city_ring(515000, 3980000)
    (again,) = city.ingest(write_geojson(tmp_path / "bow.geojson", [
        {"n": 1, "geometry": polygon([ring[0], ring[2], ring[1], ring[3], ring[0]])},
        {"n": 2, "geometry": polygon(_city_ring(515100, 3980000))}], crs=crs))
    assert (again.stored, again.repaired) == (2, 1)
    assert city.features("bow").geometry.is_valid.all()


def test_absurd_coordinates_are_rejected_not_stored(city, tmp_path):
    feats = [{"n": 1, "geometry": {"type": "Point", "coordinates": [1e20, 1e20]}},
             {"n": 2, "geometry": {"type": "Point", "coordinates": list(square(515000, 3980000)[0])}}]
    (report,) = city.ingest(write_geojson(tmp_path / "far.geojson", feats))
    assert (report.read, report.stored, report.rejected) == (2, 1, 1)


def test_a_source_without_crs_is_refused_unless_stated(city, tmp_path):
    csv = tmp_path / "pts.csv"
    csv.write_text("name,wkt\na,POINT (515000 3980000)\n", encoding="utf-8")
    with pytest.raises(cim.CRSError, match="source-crs"):
        city.ingest(csv)
    assert city.layers.empty
    (report,) = city.ingest(csv, source_crs="EPSG:4549")
    assert report.stored == 1
    geom = city.features("pts").geometry.iloc[0]
    assert geom.equals_exact(shapely.Point(515000, 3980000), 1e-6)


def test_reingesting_an_unchanged_source_is_a_no_op(city, tmp_path):
    src = parcels_geojson(tmp_path / "parcels.geojson")
    city.ingest(src)
    (again,) = city.ingest(src)
    assert again.unchanged and again.version == 1
    assert _point_count(city) == 3


def test_a_changed_source_becomes_a_new_version_and_as_of_reads_the_old_one(city, tmp_path):
    src = parcels_geojson(tmp_path / "parcels.geojson", height=30)
    city.ingest(src)
    time.sleep(0.01)
    between = city.sql("SELECT now() AS t").column("t")[0].as_py()
    time.sleep(0.01)
    parcels_geojson(src, n=2, height=50)
    (report,) = city.ingest(src)
    assert report.version == 2
    now = city.features("parcels")
    old = city.features("parcels", as_of=between)
    assert len(now) == 2 and set(now["height"]) == {50.0, 51.0}
    assert len(old) == 3 and set(old["height"]) == {30.0, 31.0, 32.0}
    assert city.layer("parcels")["version"] == 2


def test_a_failing_source_leaves_the_city_unchanged(city, tmp_path):
    city.ingest(parcels_geojson(tmp_path / "parcels.geojson"))
    before = (_point_count(city), len(city.history()))
    bad = tmp_path / "broken.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": [ {"type": "Feat', encoding="utf-8")
    with pytest.raises(cim.SourceError):
        city.ingest(bad)
    assert (_point_count(city), len(city.history())) == before
    assert list(city.layers["name"]) == ["parcels"]


def test_history_records_each_ingest_with_its_counts(city, tmp_path):
    city.ingest(parcels_geojson(tmp_path / "parcels.geojson"))
    row = city.history("parcels").iloc[0]
    details = json.loads(row["details"])
    assert row["action"] == "ingest" and details["stored"] == 3 and details["read"] == 3


@pytest.mark.parametrize("bad, message", [
    ("missing.geojson", "does not exist"),
    ("folder", "directory"),
    ("picture.gpkg", None),
    ("notes.xyz", "cannot tell"),
])
def test_bad_paths_get_a_clear_error_and_the_city_stays_empty(city, tmp_path, bad, message):
    (tmp_path / "folder").mkdir()
    (tmp_path / "picture.gpkg").write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 100)
    (tmp_path / "notes.xyz").write_text("hello")
    with pytest.raises(cim.CIMError, match=message):
        city.ingest(tmp_path / bad)
    assert city.layers.empty and _point_count(city) == 0


def _copy_shapefile(src_shp, dst_dir, *, skip=()):
    import shutil

    for suffix in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
        part = src_shp.with_suffix(suffix)
        if part.exists() and suffix not in skip:
            shutil.copy(part, dst_dir / part.name)
    return dst_dir / src_shp.name


def test_a_shapefile_without_prj_is_refused_until_its_crs_is_stated(new_city, tmp_path):
    from tests.conftest import sample

    city = new_city(crs="EPSG:32618")  # New York's boroughs: a city in the UTM zone that holds them
    shp = _copy_shapefile(sample("vector/nybb.shp"), tmp_path, skip=(".prj",))
    with pytest.raises(cim.CRSError, match="--source-crs"):
        city.ingest(shp)
    assert city.layers.empty
    (report,) = city.ingest(shp, source_crs="EPSG:2263")
    assert report.stored == report.read == 5


def test_an_unknown_epsg_code_is_a_clear_error_and_the_city_unchanged(city, tmp_path):
    csv = tmp_path / "pts.csv"
    csv.write_text("name,wkt\na,POINT (1 2)\n", encoding="utf-8")
    with pytest.raises(cim.CRSError, match="unknown CRS"):
        city.ingest(csv, source_crs="EPSG:999999")
    assert city.layers.empty


def test_a_truncated_geopackage_is_refused_and_the_city_unchanged(city, tmp_path):
    from tests.conftest import sample

    data = sample("vector/bubenec.gpkg").read_bytes()
    cut = tmp_path / "cut.gpkg"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(cim.SourceError):
        city.ingest(cut)
    assert city.layers.empty
    assert city.sql("SELECT count(*) AS n FROM features").column("n")[0].as_py() == 0


def test_a_geopackage_ingests_all_its_layers_in_one_transaction(new_city, tmp_path):
    from tests.conftest import sample

    city = new_city(crs=PRAGUE)

    reports = city.ingest(sample("vector/bubenec.gpkg"))
    assert len(reports) == 4
    assert set(city.layers["name"]) == {r.layer for r in reports}
    one = city.ingest(sample("vector/bubenec.gpkg"), source_layer="streets", layer="streets_only")
    assert [r.layer for r in one] == ["streets_only"]


def test_a_layer_picked_from_a_geopackage_updates_the_layer_the_whole_file_made(new_city):
    from tests.conftest import sample

    city = new_city(crs=PRAGUE)

    reports = city.ingest(sample("vector/bubenec.gpkg"))
    streets = next(r.layer for r in reports if "street" in r.layer)
    before = set(city.layers["name"])
    again = city.ingest(sample("vector/bubenec.gpkg"), source_layer="streets")
    assert [r.layer for r in again] == [streets]
    assert set(city.layers["name"]) == before  # no second copy of the streets under the file's name


def test_parent_names_a_field_that_links_features_to_another_layer(city, tmp_path):
    city.ingest(parcels_geojson(tmp_path / "parcels.geojson"))
    point = {"type": "Point", "coordinates": list(square(515100, 3980000)[0])}
    feats = [{"id": "b0", "parcel": "p1", "geometry": point}]
    city.ingest(write_geojson(tmp_path / "buildings.geojson", feats), parent="parcels.parcel")
    assert city.feature("buildings.b0")["parents"][0]["id"] == "parcels.p1"
    with pytest.raises(cim.ValidationError, match="LAYER.FIELD"):
        city.ingest(write_geojson(tmp_path / "other.geojson", feats), parent="parcel")


def test_a_source_whose_every_row_is_rejected_fails_and_leaves_the_city_unchanged(city, tmp_path):
    city.ingest(parcels_geojson(tmp_path / "parcels.geojson"))
    before = (_point_count(city), len(city.history()), list(city.layers["name"]))
    feats = [{"n": i, "geometry": None} for i in range(5)]
    with pytest.raises(cim.SourceError, match=r"empty\.geojson: all 5 rows .* rejected") as caught:
        city.ingest(write_geojson(tmp_path / "empty.geojson", feats))
    message = str(caught.value)
    assert "rows 1, 2, 3 … of 5: null geometry" in message
    assert len(message.splitlines()) == 1
    assert (_point_count(city), len(city.history()), list(city.layers["name"])) == before


def test_a_geojson_naming_an_unknown_epsg_code_is_refused_not_stored_as_lon_lat(city, tmp_path):
    feats = [{"n": 1, "geometry": {"type": "Point", "coordinates": [515000, 3980000]}}]
    with pytest.raises(cim.CRSError, match="names EPSG:999999"):
        city.ingest(write_geojson(tmp_path / "gk.geojson", feats, crs="urn:ogc:def:crs:EPSG::999999"))
    assert city.layers.empty


def test_an_option_the_sources_kind_does_not_take_is_refused_naming_the_kind_and_its_options(city, tmp_path):
    with pytest.raises(cim.ValidationError) as caught:
        city.ingest(parcels_geojson(tmp_path / "p.geojson"), anchor="1,2", rotation=3)
    message = str(caught.value)
    assert message.startswith("--anchor, --rotation do not apply to vector sources like p.geojson")
    assert "--source-layer" in message and "--class" in message and len(message.splitlines()) == 1
    with pytest.raises(cim.ValidationError, match="unknown phase 'later'"):
        city.ingest(tmp_path / "p.geojson", phase="later")
    assert city.layers.empty


def test_reingesting_the_same_file_with_other_options_makes_a_new_version(city, tmp_path):
    src = parcels_geojson(tmp_path / "parcels.geojson")
    city.ingest(src)
    (again,) = city.ingest(src, feature_class="Block")
    assert not again.unchanged and again.version == 2
    assert set(city.features("parcels")["class"]) == {"Block"}
