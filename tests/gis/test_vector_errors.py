"""Bad inputs are refused with a message that says what, where and how; synthetic formats read."""

from __future__ import annotations

import json
import shutil
import zipfile

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely

from gis import CRSError, SourceError, check_and_repair, crs_label, list_layers, read_vector, require_crs


def test_a_missing_path_is_refused(tmp_path):
    with pytest.raises(SourceError, match=r"nope\.gpkg does not exist"):
        read_vector(tmp_path / "nope.gpkg")


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(SourceError, match="is a directory, not a file"):
        read_vector(tmp_path)


@pytest.mark.parametrize(("content", "looks_like"), [
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "a PNG image"),
    (b"just some notes, not a database\n", "text"),
])
def test_a_file_of_the_wrong_kind_is_refused_naming_what_it_is(tmp_path, content, looks_like):
    path = tmp_path / "parcels.gpkg"
    path.write_bytes(content)
    with pytest.raises(SourceError, match=f"parcels.gpkg is not a GeoPackage: its content looks like {looks_like}"):
        read_vector(path)


def test_an_unsupported_suffix_lists_the_supported_formats(tmp_path):
    path = tmp_path / "roads.kml"
    path.write_text("<kml/>")
    with pytest.raises(SourceError, match=r"unsupported format '\.kml'.*Supported: GeoPackage \(\.gpkg\)"):
        read_vector(path)


def test_an_empty_file_is_refused(tmp_path):
    (tmp_path / "empty.geojson").write_bytes(b"")
    with pytest.raises(SourceError, match="is empty"):
        read_vector(tmp_path / "empty.geojson")


def test_a_truncated_geopackage_is_refused(tmp_path, require):
    data = require("vector/bubenec.gpkg").read_bytes()
    for cut in (len(data) // 2, len(data) - 1000, 60):
        path = tmp_path / f"cut{cut}.gpkg"
        path.write_bytes(data[:cut])
        with pytest.raises(SourceError, match=rf"cut{cut}\.gpkg is truncated or corrupt"):
            read_vector(path, layer="plots")


def test_a_truncated_shapefile_and_flatgeobuf_are_refused(tmp_path, require):
    for ext in ("shp", "shx", "dbf", "prj"):
        shutil.copy(require(f"vector/nybb.{ext}"), tmp_path / f"nybb.{ext}")
    shp = tmp_path / "nybb.shp"
    shp.write_bytes(shp.read_bytes()[:500_000])
    with pytest.raises(SourceError, match="truncated or corrupt"):
        read_vector(shp)
    fgb = tmp_path / "countries.fgb"
    fgb.write_bytes(require("vector/countries.fgb").read_bytes()[:100_000])
    with pytest.raises(SourceError):
        read_vector(fgb)


def copy_chinese_poly(require, target):
    target.mkdir(exist_ok=True)
    for ext in ("shp", "shx", "dbf", "prj"):
        shutil.copy(require(f"vector/chinese_poly.{ext}"), target / f"chinese_poly.{ext}")
    return target / "chinese_poly.shp"


def test_a_gbk_shapefile_without_cpg_is_refused_then_read_with_encoding_or_cpg(tmp_path, require):
    shp = copy_chinese_poly(require, tmp_path / "gbk")
    with pytest.raises(SourceError) as caught:
        read_vector(shp)
    message = str(caught.value)
    assert "chinese_poly.dbf has no .cpg and its text is not UTF-8" in message
    assert "it looks like GB18030" in message and "--encoding GB18030" in message and "黑龙江省" in message
    assert read_vector(shp, encoding="GB18030").table.column("NAME")[0].as_py() == "黑龙江省"
    for declared in ("GB18030", "936", "GBK"):
        shp.with_suffix(".cpg").write_text(declared)
        assert read_vector(shp).table.column("NAME")[0].as_py() == "黑龙江省"


def test_an_unknown_encoding_name_is_refused(tmp_path, require):
    shp = copy_chinese_poly(require, tmp_path / "gbk")
    with pytest.raises(SourceError, match="unknown text encoding 'klingon'"):
        read_vector(shp, encoding="klingon")


def test_encoding_is_refused_for_formats_that_are_always_utf8(require):
    with pytest.raises(SourceError, match="always UTF-8"):
        read_vector(require("vector/bubenec.gpkg"), layer="plots", encoding="GB18030")


def test_a_zipped_shapefile_reads_and_keeps_the_encoding_rule(tmp_path, require):
    shp = copy_chinese_poly(require, tmp_path / "src")
    archive = tmp_path / "province.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for part in shp.parent.iterdir():
            zf.write(part, f"data/{part.name}")
    assert list_layers(archive) == ["chinese_poly"]
    with pytest.raises(SourceError, match="GB18030"):
        read_vector(archive)
    data = read_vector(archive, encoding="GB18030")
    assert data.table.column("NAME")[0].as_py() == "黑龙江省" and crs_label(data.crs) == "EPSG:4326"


def test_a_shapefile_without_prj_has_no_crs_until_stated(tmp_path, require):
    shp = copy_chinese_poly(require, tmp_path / "noprj")
    shp.with_suffix(".prj").unlink()
    data = read_vector(shp, encoding="GB18030")
    with pytest.raises(CRSError, match=r"chinese_poly\.shp has no CRS \(no \.prj file\): state it with --source-crs"):
        require_crs(data)
    assert crs_label(read_vector(shp, encoding="GB18030", source_crs="4490").crs) == "EPSG:4490"


def test_csv_with_lon_lat_columns_and_chinese_headers(tmp_path):
    path = tmp_path / "stations.csv"
    path.write_text("站名,经度,纬度,pm25\n市南,120.38,36.07,35\n黄岛,120.20,35.96,\n缺失,,36.0,1\n",
                    encoding="utf-8")
    data = read_vector(path, source_crs="EPSG:4490")
    assert data.table.column_names == ["站名", "经度", "纬度", "pm25", "geometry"]
    check = check_and_repair(data.table.column("geometry"))
    assert check.rejected == [(2, "null geometry")]
    assert (check.geoms[0].x, check.geoms[0].y) == (120.38, 36.07)
    assert data.geometry_type == "Point"


def test_csv_with_explicit_x_y_and_wkt_columns(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("E,N,shape_text\n500000,4000000,POINT (1 2)\n500010,4000010,not wkt\n")
    points = read_vector(path, x_column="E", y_column="N", source_crs="EPSG:4549")
    assert shapely.from_wkb(points.table.column("geometry")[1].as_py()).x == 500010
    wkt = read_vector(path, wkt_column="shape_text")
    assert check_and_repair(wkt.table.column("geometry")).rejected == [(1, "unreadable geometry")]
    with pytest.raises(SourceError, match="has no column 'nope'"):
        read_vector(path, wkt_column="nope")


def test_csv_without_geometry_columns_says_how_to_name_them(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(SourceError, match="--wkt-column or --x-column and --y-column"):
        read_vector(path)


def test_a_gbk_csv_is_refused_with_the_likely_encoding_then_read(tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes("名称,lon,lat\n黄岛区,120.2,35.9\n".encode("gb18030"))
    with pytest.raises(SourceError, match="looks like GB18030: pass --encoding GB18030"):
        read_vector(path)
    data = read_vector(path, encoding="GB18030")
    assert data.table.column("名称")[0].as_py() == "黄岛区"


def geoparquet(path, table, column_meta, version="1.1.0"):
    geo = {"version": version, "primary_column": "geometry", "columns": {"geometry": column_meta}}
    pq.write_table(table.replace_schema_metadata({b"geo": json.dumps(geo).encode()}), path)
    return path


def test_geoparquet_native_geoarrow_encodings_read(tmp_path):
    polys = np.array([shapely.box(0, 0, 1, 1), shapely.box(2, 2, 4, 3)])
    _, coords, (rings, parts) = shapely.to_ragged_array(polys)
    xy = pa.StructArray.from_arrays([pa.array(coords[:, 0]), pa.array(coords[:, 1])], ["x", "y"])
    column = pa.ListArray.from_arrays(pa.array(parts, pa.int32()),
                                      pa.ListArray.from_arrays(pa.array(rings, pa.int32()), xy))
    table = pa.table({"name": ["a", "b"], "geometry": column})
    path = geoparquet(tmp_path / "native.parquet", table, {"encoding": "polygon", "geometry_types": ["Polygon"]})
    data = read_vector(path)
    geoms = shapely.from_wkb(data.table.column("geometry").to_numpy(zero_copy_only=False))
    assert shapely.area(geoms).tolist() == [1.0, 2.0] and crs_label(data.crs) == "OGC:CRS84"


def test_geoparquet_points_crs_null_and_covering_columns(tmp_path):
    points = pa.FixedSizeListArray.from_arrays(pa.array([500000.0, 4e6, 500100.0, 4.0001e6]), 2)
    bbox = pa.StructArray.from_arrays([pa.array([0.0, 0.0])] * 4, ["xmin", "ymin", "xmax", "ymax"])
    table = pa.table({"id": [1, 2], "geometry": points, "bbox": bbox})
    meta = {"encoding": "point", "geometry_types": ["Point"], "crs": None,
            "covering": {"bbox": {k: ["bbox", k] for k in ("xmin", "ymin", "xmax", "ymax")}}}
    data = read_vector(geoparquet(tmp_path / "pts.parquet", table, meta))
    assert data.crs is None and data.table.column_names == ["id", "geometry"]
    with pytest.raises(CRSError):
        require_crs(data)


def test_geoparquet_with_a_projjson_crs_and_wkb(tmp_path):
    import pyproj

    wkb = pa.array(shapely.to_wkb([shapely.Point(500000, 4e6)]), pa.binary())
    meta = {"encoding": "WKB", "geometry_types": ["Point"], "crs": pyproj.CRS.from_epsg(4549).to_json_dict()}
    data = read_vector(geoparquet(tmp_path / "gk.parquet", pa.table({"geometry": wkb}), meta))
    assert crs_label(data.crs) == "EPSG:4549"


def test_plain_parquet_without_geometry_is_refused(tmp_path):
    pq.write_table(pa.table({"a": [1]}), tmp_path / "plain.parquet")
    with pytest.raises(SourceError, match="plain Parquet"):
        read_vector(tmp_path / "plain.parquet")


def test_truncated_parquet_is_refused(tmp_path, require):
    data = require("vector/geoparquet_example.parquet").read_bytes()
    (tmp_path / "cut.parquet").write_bytes(data[:-100])
    with pytest.raises(SourceError, match="truncated or corrupt"):
        read_vector(tmp_path / "cut.parquet")


def test_geojson_with_a_legacy_projected_crs_member(tmp_path):
    doc = {"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "EPSG:4549"}},
           "features": [{"type": "Feature", "properties": {"名称": "地块1"},
                         "geometry": {"type": "Point", "coordinates": [500000, 4000000, 12.5]}}]}
    path = tmp_path / "legacy.geojson"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    data = read_vector(path)
    assert crs_label(data.crs) == "EPSG:4549" and data.geometry_type == "Point Z"
    assert shapely.from_wkb(data.table.column("geometry")[0].as_py()).z == 12.5


def test_cityjson_is_not_taken_for_geojson(tmp_path):
    path = tmp_path / "city.json"
    path.write_text('{"type": "CityJSON", "version": "2.0", "CityObjects": {}, "vertices": []}')
    with pytest.raises(SourceError, match="is CityJSON, not GeoJSON"):
        read_vector(path)


def write_latin_shapefile(folder):
    import geopandas as gpd

    folder.mkdir()
    frame = gpd.GeoDataFrame({"name": ["Zürich", "Genève"]}, geometry=[shapely.Point(8.5, 47.4),
                                                                      shapely.Point(6.1, 46.2)], crs=4326)
    shp = folder / "towns.shp"
    frame.to_file(shp, encoding="cp1252", engine="pyogrio")
    shp.with_suffix(".cpg").unlink(missing_ok=True)
    dbf = bytearray(shp.with_suffix(".dbf").read_bytes())
    dbf[29] = 0  # no language driver id: nothing declares the code page
    shp.with_suffix(".dbf").write_bytes(bytes(dbf))
    return shp


def test_a_latin_shapefile_without_cpg_is_refused_as_likely_cp1252_then_read(tmp_path):
    shp = write_latin_shapefile(tmp_path / "latin")
    with pytest.raises(SourceError, match="it looks like CP1252.*--encoding CP1252"):
        read_vector(shp)
    assert read_vector(shp, encoding="cp1252").table.column("name").to_pylist() == ["Zürich", "Genève"]
    shp.with_suffix(".cpg").write_text("ANSI 1252")
    assert read_vector(shp).table.column("name").to_pylist() == ["Zürich", "Genève"]


def write_big5_shapefile(folder):
    import geopandas as gpd

    folder.mkdir()
    frame = gpd.GeoDataFrame({"NAME": ["臺北市", "高雄市"]}, geometry=[shapely.Point(121.5, 25.0),
                                                                     shapely.Point(120.3, 22.6)], crs=4326)
    shp = folder / "taiwan.shp"
    frame.to_file(shp, encoding="big5", engine="pyogrio")
    return shp


@pytest.mark.parametrize("declared", ["Big-5", "BIG5", "big5", "950", "ANSI 950", "CP950", "Big5-HKSCS"])
def test_a_shapefile_whose_cpg_names_big5_as_gdal_accepts_it_is_read(tmp_path, declared):
    shp = write_big5_shapefile(tmp_path / "big5")
    shp.with_suffix(".cpg").write_text(declared)
    assert read_vector(shp).table.column("NAME").to_pylist() == ["臺北市", "高雄市"]


def test_an_encoding_given_in_an_iconv_spelling_is_read_with_the_python_codec(tmp_path):
    shp = write_big5_shapefile(tmp_path / "big5")
    shp.with_suffix(".cpg").unlink()
    data = read_vector(shp, encoding="Big-5")
    assert data.table.column("NAME").to_pylist() == ["臺北市", "高雄市"] and data.encoding == "big5"


@pytest.mark.parametrize("name", ["EPSG:999999", "urn:ogc:def:crs:EPSG::999999"])
def test_a_geojson_whose_crs_member_names_an_unknown_epsg_code_is_refused_naming_it(tmp_path, name):
    doc = {"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": name}},
           "features": [{"type": "Feature", "properties": {"n": 1},
                         "geometry": {"type": "Point", "coordinates": [500000, 4000000]}}]}
    path = tmp_path / "unknown.geojson"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(CRSError, match=r"unknown\.geojson: its crs member names EPSG:999999") as caught:
        read_vector(path)
    assert len(str(caught.value).splitlines()) == 1


def test_a_geojson_whose_crs_member_names_crs84_stays_lon_lat(tmp_path):
    doc = {"type": "FeatureCollection",
           "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
           "features": [{"type": "Feature", "properties": {"n": 1},
                         "geometry": {"type": "Point", "coordinates": [120.3, 36.1]}}]}
    path = tmp_path / "lonlat.geojson"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert crs_label(read_vector(path).crs) == "OGC:CRS84"
