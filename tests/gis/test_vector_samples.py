"""Every vector sample in the shared datasets reads, with the options it needs and a known fact."""

from __future__ import annotations

import pytest
import shapely

from gis import (
    CRSError,
    SourceError,
    bounds_of,
    check_and_repair,
    crs_label,
    list_layers,
    list_tables,
    read_vector,
    require_crs,
)

# file -> (read options, rows, CRS label, bounds or None); one row per readable layer.
SAMPLES = {
    "chinese_poly.shp": ({"encoding": "GB18030"}, 1, "EPSG:4326", (121.1843, 43.4789, 135.0827, 53.5547)),
    "ngageoint_example.gpkg": ({"layer": "point1"}, 4, "EPSG:4326", None),
    "geoparquet_example.parquet": ({}, 5, "OGC:CRS84", (-180, -18.288, 180, 83.233)),
    "geoparquet_example_wkt.csv": ({"source_crs": "EPSG:4326"}, 5, "EPSG:4326", (-180, -18.288, 180, 83.233)),
    "poly00_epsg27700.fgb": ({}, 10, "EPSG:27700", (478315.53, 4762880.5, 481645.31, 4765610.5)),
    "countries.fgb": ({}, 179, "EPSG:4326", (-180, -85.609, 180, 83.645)),
    "bubenec.gpkg": ({"layer": "plots"}, 407, "EPSG:3857", None),
    "nybb.shp": ({}, 5, "EPSG:2263", (913175.11, 120121.88, 1067382.51, 272844.29)),
    "nyc_tiger_roads.geojson": ({}, 8333, "OGC:CRS84", (-74.0272, 40.6842, -73.9070, 40.8782)),
    "qingdao_districts_gcj02.geojson": ({}, 10, "OGC:CRS84", (119.5148, 35.5756, 121.0665, 37.1491)),
    "huangdao_370211_bare_geometry.geojson": ({}, 1, "OGC:CRS84", (119.5148, 35.5756, 120.3334, 36.1456)),
    "delft_bgt_pand.sqlite": ({}, 160, "EPSG:28992", (84825.87, 447456.72, 85056.51, 447624.07)),
}
SIDECARS = (".dbf", ".prj", ".shx", ".cpg", ".xml")


def geoms_of(data):
    return shapely.from_wkb(data.table.column("geometry").to_numpy(zero_copy_only=False))


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_vector_sample_reads_with_its_rows_crs_and_bounds(name, require):
    options, rows, label, bounds = SAMPLES[name]
    data = read_vector(require(f"vector/{name}"), **options)
    assert data.table.num_rows == rows
    assert crs_label(require_crs(data)) == label
    assert data.table.schema.field("geometry").type == "binary"
    assert data.row_numbers.tolist() == list(range(1, rows + 1))
    if bounds:
        assert bounds_of(geoms_of(data)) == pytest.approx(bounds, abs=0.01)


def test_no_vector_sample_is_left_untested(samples):
    present = {p.name for p in (samples / "vector").iterdir() if not p.name.endswith(SIDECARS)}
    assert present <= set(SAMPLES), f"add these samples to SAMPLES: {sorted(present - set(SAMPLES))}"


def test_gb18030_shapefile_decodes_chinese_names(require):
    data = read_vector(require("vector/chinese_poly.shp"), encoding="GB18030")
    assert data.table.to_pylist()[0] | {"geometry": None} == {
        "ADCODE93": 230000, "ADCODE99": 230000, "NAME": "黑龙江省", "geometry": None}
    assert data.encoding == "GB18030" and data.layer == "chinese_poly"


def test_gb18030_shapefile_without_cpg_is_refused_naming_the_encoding(require):
    with pytest.raises(SourceError, match=r"chinese_poly\.dbf has no \.cpg.*GB18030.*--encoding GB18030"):
        read_vector(require("vector/chinese_poly.shp"))


def test_nybb_is_us_survey_feet_multipolygons_decoded_as_cp1252(require):
    data = read_vector(require("vector/nybb.shp"))
    crs = require_crs(data)
    assert crs.axis_info[0].unit_name == "US survey foot"
    assert data.encoding == "CP1252" and data.geometry_type == "MultiPolygon"
    assert data.table.column("BoroName")[0].as_py() == "Staten Island"


def test_ngageoint_geopackage_lists_only_feature_tables_and_reads_field_types(require):
    path = require("vector/ngageoint_example.gpkg")
    layers = list_layers(path)
    assert layers == ["point1", "line1", "polygon1", "geometry1", "point2", "line2", "polygon2",
                      "geometry2", "non_linear_geometries"]
    kinds = dict(list_tables(path))
    assert kinds["attributes"] == "attributes" and kinds["nga_style"] == "attributes"
    row = read_vector(path, layer="point1").table.to_pylist()[0]
    assert row["text"] == "BIT Systems" and row["real"] == pytest.approx(290.41, abs=0.01) and row["boolean"] is True


def test_curve_geometries_are_linearised_and_the_unreadable_one_is_a_null(require):
    data = read_vector(require("vector/ngageoint_example.gpkg"), layer="non_linear_geometries")
    check = check_and_repair(data.table.column("geometry"))
    assert check.rejected == [(3, "null geometry")]
    kept = check.geoms[check.kept]
    assert set(shapely.get_type_id(kept)) <= {1, 3, 6}  # LineString, Polygon, MultiPolygon
    assert bounds_of(kept) == pytest.approx((-122.3586, 47.6475, -122.346, 47.6611), abs=1e-3)


def test_several_layers_and_none_chosen_is_refused_with_the_list(require):
    path = require("vector/bubenec.gpkg")
    with pytest.raises(SourceError, match="tessellation, buildings, streets, plots"):
        read_vector(path)
    assert ("dtm", "2d-gridded-coverage") in list_tables(path)
    streets = read_vector(path, layer="streets")
    assert streets.table.column_names == ["fid", "geometry"] and streets.geometry_type == "LineString"


def test_an_attribute_table_is_not_a_layer(require):
    with pytest.raises(SourceError, match="'attributes' is an attribute table without geometry"):
        read_vector(require("vector/ngageoint_example.gpkg"), layer="attributes")


def test_countries_has_two_invalid_polygons_that_get_repaired(require):
    data = read_vector(require("vector/countries.fgb"))
    assert data.table.column("name")[0].as_py() == "Antarctica"
    check = check_and_repair(data.table.column("geometry"))
    assert check.n_repaired == 2 and check.repaired[0] and not check.rejected


def test_geoparquet_crs84_and_mixed_polygon_types(require):
    data = read_vector(require("vector/geoparquet_example.parquet"))
    assert data.crs.to_epsg() is None and crs_label(data.crs) == "OGC:CRS84"
    assert data.geometry_type == "MultiPolygon"
    assert data.table.column("name").to_pylist() == ["Fiji", "Tanzania", "W. Sahara", "Canada",
                                                     "United States of America"]


def test_wkt_csv_has_no_crs_and_is_refused_without_source_crs(require):
    data = read_vector(require("vector/geoparquet_example_wkt.csv"))
    assert data.crs is None and "geometry" in data.table.column_names
    with pytest.raises(CRSError, match="has no CRS.*--source-crs"):
        require_crs(data)


def test_a_source_crs_contradicting_the_file_is_refused(require):
    with pytest.raises(CRSError, match="EPSG:27700 but --source-crs says EPSG:4326"):
        read_vector(require("vector/poly00_epsg27700.fgb"), source_crs="EPSG:4326")
    same = read_vector(require("vector/nyc_tiger_roads.geojson"), source_crs="EPSG:4326")
    assert crs_label(same.crs) == "OGC:CRS84"  # equivalent: the file's own label is kept


def test_geojson_keeps_chinese_names_and_null_attributes(require):
    districts = read_vector(require("vector/qingdao_districts_gcj02.geojson"))
    assert "黄岛区" in districts.table.column("name").to_pylist()
    roads = read_vector(require("vector/nyc_tiger_roads.geojson"))
    assert roads.table.column("NAME").null_count == 526
    assert roads.table.to_pylist()[0]["NAME"] == "Washington Sq W"


def test_a_bare_geojson_geometry_is_one_feature_named_after_the_file(require):
    data = read_vector(require("vector/huangdao_370211_bare_geometry.geojson"))
    assert data.table.column_names == ["geometry"]
    assert data.layer == "huangdao_370211_bare_geometry" and data.geometry_type == "MultiPolygon"


def test_ogr_sqlite_declared_multipolygon_holds_polygons(require):
    data = read_vector(require("vector/delft_bgt_pand.sqlite"))
    assert data.geometry_type == "Polygon" and data.layer == "buildingpart"
    first = data.table.to_pylist()[0]
    assert first["gml_id"] == "b31e1feb1-00ba-11e6-b420-2bdcc4ab5d7f"
    assert first["identificatiebagpnd"] == 503100000018603


def test_flatgeobuf_in_a_projected_crs_keeps_metres(require):
    data = read_vector(require("vector/poly00_epsg27700.fgb"))
    row = data.table.to_pylist()[0]
    assert row["EAS_ID"] == 158 and row["AREA"] == pytest.approx(1634833.375)
    assert shapely.area(geoms_of(data)) == pytest.approx(data.table.column("AREA").to_numpy(), rel=1e-6)
