"""The spatial questions planners ask, on a small hand-made city."""

from __future__ import annotations

import pytest
import shapely

import cim
from tests.cim.helpers import lonlat, parcels_geojson, square, write_geojson


@pytest.fixture
def city(new_city):
    """An empty city on each backend in turn (a DuckDB file, then a PostGIS database)."""
    return new_city()


@pytest.fixture
def small_city(city, tmp_path):
    city.ingest(parcels_geojson(tmp_path / "parcels.geojson", n=3))
    feats = []
    for i, (x, y) in enumerate([(515005, 3980005), (515105, 3980005), (515500, 3980500)]):
        feats.append({"id": f"b{i}", "height": 10.0 * (i + 1),
                      "geometry": {"type": "Polygon", "coordinates": [square(x, y, 8)]}})
    city.ingest(write_geojson(tmp_path / "buildings.geojson", feats))
    return city


def test_within_a_parcel_finds_the_buildings_standing_on_it(small_city):
    inside = small_city.within("parcels.p0", layer="buildings")
    assert list(inside["id"]) == ["buildings.b0"]


def test_intersecting_a_geometry_given_as_wkt(small_city):
    hits = small_city.intersecting("POLYGON ((515000 3980000, 515200 3980000, 515200 3980050, "
                                   "515000 3980050, 515000 3980000))", layer="buildings")
    assert sorted(hits["id"]) == ["buildings.b0", "buildings.b1"]


def test_within_distance_counts_metres_in_the_city_crs(small_city):
    near = small_city.within_distance(shapely.Point(515000, 3980000), 10, layer="buildings")
    assert list(near["id"]) == ["buildings.b0"]
    wider = small_city.within_distance(shapely.Point(515000, 3980000), 120, layer="buildings")
    assert sorted(wider["id"]) == ["buildings.b0", "buildings.b1"]


def test_nearest_returns_n_features_ordered_by_distance(small_city):
    lon, lat = lonlat(515600, 3980600)
    result = small_city.nearest(shapely.Point(lon, lat), n=2, layer="buildings", crs="EPSG:4326")
    assert list(result["id"]) == ["buildings.b2", "buildings.b1"]
    assert result["distance"].is_monotonic_increasing


def test_feature_returns_properties_and_geometry(small_city):
    f = small_city.feature("parcels.p1")
    assert f["properties"]["名称"] == "地块1" and f["wkt"].startswith("POLYGON")


def test_unknown_feature_and_bad_where_are_clear_errors(small_city):
    with pytest.raises(cim.FeatureNotFound):
        small_city.feature("parcels.nope")
    with pytest.raises(cim.QueryError, match="bad where clause"):
        small_city.features("parcels", where="no_such_column > 1")


def test_as_of_without_a_time_zone_is_refused(small_city):
    with pytest.raises(cim.QueryError, match="time zone"):
        small_city.features("parcels", as_of="2026-01-01T00:00:00")


def test_arrow_output_carries_geoarrow_wkb(small_city):
    table = small_city.features("buildings", output="arrow")
    assert table.num_rows == 3
    assert table.schema.field("geom").metadata[b"ARROW:extension:name"] == b"geoarrow.wkb"


WRITES_AND_ESCAPES = [
    "COPY (SELECT 'x') TO '{city_file}'",
    "ATTACH '{other}' AS b (READ_WRITE)",
    "DELETE FROM features",
    "SELECT 1; DELETE FROM features",
    "EXPORT DATABASE '{tmp}/dump'",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET threads = 1",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT read_text('keys.json')",
    "SELECT * FROM '/etc/hosts.csv'",
    "SELECT getenv('HOME')",
    "SELECT * FROM glob('/etc/*')",
    "SELECT * FROM b.main.features",
]


@pytest.mark.parametrize("template", WRITES_AND_ESCAPES)
def test_sql_is_read_only_and_stays_inside_the_city(small_city, tmp_path, template):
    other = tmp_path / "other.duckdb"
    other_city = cim.create(other)
    other_city.close()
    before = small_city.sql("SELECT count(*) AS n FROM features").to_pylist()
    sql = template.format(city_file=small_city.location, other=other, tmp=tmp_path)
    with pytest.raises(cim.QueryError) as refused:
        small_city.sql(sql)
    assert "\n" not in str(refused.value)
    assert small_city.sql("SELECT count(*) AS n FROM features").to_pylist() == before
    assert not (tmp_path / "dump").exists()
    with cim.open(other) as again:  # the other city is untouched and still opens
        assert again.layers.empty


def test_sql_still_reads_with_ctes_generators_and_the_engine_catalogue(small_city):
    rows = small_city.sql("WITH b AS (SELECT * FROM features WHERE layer = 'buildings') "
                          "SELECT count(*) AS n FROM b, range(2)").to_pylist()
    assert rows == [{"n": 6}]
