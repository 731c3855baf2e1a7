"""Every real vector and raster sample file goes into a city: counts reconcile, positions hold."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

import cim
from tests.conftest import sample

# file, ingest options, city CRS (a projected CRS that suits where the data lies)
VECTORS = [
    ("vector/chinese_poly.shp", {"encoding": "GB18030"}, "EPSG:4549"),
    ("vector/ngageoint_example.gpkg", {}, "EPSG:3857"),
    ("vector/geoparquet_example.parquet", {}, "EPSG:3857"),
    ("vector/geoparquet_example_wkt.csv", {"source_crs": "EPSG:4326"}, "EPSG:3857"),
    ("vector/poly00_epsg27700.fgb", {}, "EPSG:27700"),
    ("vector/countries.fgb", {}, "EPSG:3857"),
    ("vector/bubenec.gpkg", {}, "EPSG:32633"),
    ("vector/nybb.shp", {}, "EPSG:32618"),
    ("vector/nyc_tiger_roads.geojson", {}, "EPSG:32618"),
    ("vector/qingdao_districts_gcj02.geojson", {}, "EPSG:4549"),
    ("vector/huangdao_370211_bare_geometry.geojson", {}, "EPSG:4549"),
    ("vector/delft_bgt_pand.sqlite", {}, "EPSG:28992"),
]


def _expected_bounds(path, options, layer, city_crs):
    """Bounds the stored layer should have, by an independent reader (geopandas) and to_crs."""
    if path.suffix == ".csv":
        import pandas as pd

        df = pd.read_csv(path)
        geoms = shapely.from_wkt(df[[c for c in df.columns if c.lower() in {"wkt", "geometry", "geom"}][0]])
        gdf = gpd.GeoDataFrame(geometry=geoms, crs=options["source_crs"])
    elif path.suffix == ".parquet":
        gdf = gpd.read_parquet(path)
    else:
        gdf = gpd.read_file(path, layer=layer, engine="pyogrio", **(
            {"encoding": options["encoding"]} if "encoding" in options else {}))
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    out = gdf.to_crs(city_crs)
    good = np.isfinite(out.geometry.bounds.to_numpy()).all(axis=1) & (out.geometry.bounds.abs() < 1e9).all(axis=1)
    return out[good].total_bounds, len(gdf)


@pytest.mark.parametrize("relative, options, city_crs", VECTORS, ids=[v[0].split("/")[1] for v in VECTORS])
def test_every_vector_sample_ingests_and_reconciles(city_location, tmp_path, relative, options, city_crs):
    path = sample(relative)
    with cim.create(city_location(), crs=city_crs) as city:
        reports = city.ingest(path, **options)
        assert reports, "no layer ingested"
        for report in reports:
            assert report.read == report.stored + report.rejected, report
            assert report.stored > 0
            assert len(city.rejects(report.layer)) == report.rejected
        one = max(reports, key=lambda r: r.stored)
        source_layer = None if len(reports) == 1 and path.suffix not in {".gpkg", ".sqlite"} else \
            _source_layer_of(city, one.layer, path)
        expected, _ = _expected_bounds(path, options, source_layer, city_crs)
        got = city.sql("SELECT min(ST_XMin(geom)) a, min(ST_YMin(geom)) b, max(ST_XMax(geom)) c, "
                       "max(ST_YMax(geom)) d FROM features WHERE layer = ?", [one.layer]).to_pylist()[0]
        assert np.allclose(list(got.values()), expected, atol=1.0), (got, expected)


def _source_layer_of(city, layer, path):
    from cim.ingest.source import layer_name_for
    from gis.vector import list_layers

    names = list_layers(path)
    return names[0] if len(names) == 1 else next(n for n in names if layer_name_for(n) == layer)


def test_chinese_attributes_of_the_gbk_shapefile_decode(city_location, tmp_path):
    path = sample("vector/chinese_poly.shp")
    with cim.create(city_location()) as city:
        city.ingest(path, encoding="GB18030")
        text = " ".join(str(v) for v in city.features("chinese_poly").drop(columns="geometry").to_numpy().ravel())
        assert any("\u4e00" <= ch <= "\u9fff" for ch in text)


def test_the_gbk_shapefile_without_cpg_is_refused_with_a_hint_and_the_city_unchanged(city_location, tmp_path):
    path = sample("vector/chinese_poly.shp")
    with cim.create(city_location()) as city:
        with pytest.raises(cim.SourceError, match="--encoding"):
            city.ingest(path)
        assert city.layers.empty


def test_huangdao_lands_in_the_west_coast_district(city_location, tmp_path):
    path = sample("vector/huangdao_370211_bare_geometry.geojson")
    with cim.create(city_location()) as city:
        (report,) = city.ingest(path, layer="huangdao")
        assert report.stored == 1
        # 黄岛区 contains the demo district's origin (120.17E 35.95N → 515 337, 3 980 008 in EPSG:4549)
        assert len(city.intersecting(shapely.Point(515337, 3980008), layer="huangdao")) == 1


RASTERS = [
    ("raster/sfdem.tif", {}),
    ("raster/cogeo_rgb_jpeg.tif", {}),
    ("raster/hro_colorado_CL_1_nodata.tif", {}),
    ("raster/RGB.byte.tif", {}),
    ("raster/pysheds_dem.tif", {}),
    ("raster/china_dem.nc", {"source_crs": "EPSG:4326"}),
    ("raster/shade.tif", {}),
]


@pytest.mark.parametrize("relative, options", RASTERS, ids=[r[0].split("/")[1] for r in RASTERS])
def test_every_raster_sample_becomes_a_catalogued_cog(city_location, tmp_path, relative, options):
    from rio_cogeo.cogeo import cog_validate

    path = sample(relative)
    with cim.create(city_location(), crs="EPSG:3857") as city:
        report = city.ingest(path, **options)
        layer = city.layer(report.layer)
        cog = city.data_dir / layer["properties"]["path"]
        assert layer["kind"] == "raster" and cog.is_file()
        valid, errors, _ = cog_validate(str(cog), quiet=True)
        assert valid, errors
        assert layer["minx"] < layer["maxx"] and layer["miny"] < layer["maxy"]


def test_a_netcdf_dem_without_crs_is_refused_until_stated(city_location, tmp_path):
    path = sample("raster/china_dem.nc")
    with cim.create(city_location(), crs="EPSG:3857") as city:
        with pytest.raises(cim.CIMError, match="CRS"):
            city.ingest(path)
        assert city.layers.empty
        assert not any(city.data_dir.glob("*.tif")) if city.data_dir.exists() else True


def test_gcj02_district_boundaries_are_moved_back_to_wgs84_on_request(city_location, tmp_path):
    from gis.china import wgs84_to_gcj02

    path = sample("vector/qingdao_districts_gcj02.geojson")
    with cim.create(city_location()) as city:
        (raw,) = city.ingest(path, layer="as_labelled")
        (fixed,) = city.ingest(path, layer="corrected", source_crs="GCJ-02")
        assert fixed.source_crs == "GCJ-02" and fixed.stored == raw.stored == 10
        # read as the file declares, the report says what its name says and how to correct it
        assert any("says GCJ-02" in n and "--source-crs GCJ-02" in n for n in raw.notes), raw.notes
        assert not any("says GCJ-02" in n for n in fixed.notes), fixed.notes
        a = city.features("as_labelled").geometry.union_all().centroid
        b = city.features("corrected").geometry.union_all().centroid
        shift = a.distance(b)
        assert 200 < shift < 1000  # GCJ-02 pushes Qingdao a few hundred metres
        # vertex by vertex, the correction is the inverse of the published forward formula
        va = shapely.get_coordinates(city.features("as_labelled").geometry.iloc[0])[:50]
        vb = shapely.get_coordinates(city.features("corrected").geometry.iloc[0])[:50]
        lon, lat = cim_to_lonlat(vb[:, 0], vb[:, 1])
        glon, glat = wgs84_to_gcj02(np.asarray(lon), np.asarray(lat))
        alon, alat = cim_to_lonlat(va[:, 0], va[:, 1])
        assert np.abs(glon - alon).max() < 1e-7 and np.abs(glat - alat).max() < 1e-7


def cim_to_lonlat(x, y):
    from pyproj import Transformer

    return Transformer.from_crs(4549, 4326, always_xy=True).transform(x, y)


def test_a_projected_source_cannot_be_declared_gcj02(city_location, tmp_path):
    with cim.create(city_location(), crs="EPSG:27700") as city:
        with pytest.raises(cim.CRSError, match="projected"):
            city.ingest(sample("vector/poly00_epsg27700.fgb"), source_crs="GCJ-02")


@pytest.mark.parametrize("name, datum", [("pois_gcj02", "GCJ-02"), ("高德_poi", "GCJ-02"), ("shops-BD09", "BD-09"),
                                         ("baidu_map_points", "BD-09"), ("nyc_tiger_roads", None),
                                         ("bd_roads", None), ("gcjx", None)])
def test_a_lonlat_file_named_for_a_web_map_datum_gets_a_note_naming_the_option(city_location, tmp_path, name, datum):
    """A GeoJSON cannot declare GCJ-02 or BD-09: read as the WGS 84 it declares, a file whose name
    says one is reported with the option that corrects it; a file whose name says neither is not."""
    import geopandas as gpd
    from shapely.geometry import Point

    path = tmp_path / f"{name}.geojson"
    gpd.GeoDataFrame({"name": ["a", "b"]}, geometry=[Point(120.1, 35.9), Point(120.2, 36.0)],
                     crs="EPSG:4326").to_file(path, driver="GeoJSON")
    with cim.create(city_location()) as city:
        (report,) = city.ingest(path, layer="points")
    said = [n for n in report.notes if "--source-crs" in n]
    if datum:
        assert len(said) == 1 and f"says {datum}" in said[0] and f"--source-crs {datum}" in said[0], report.notes
    else:
        assert said == [], report.notes


def test_countries_far_outside_the_city_crs_area_are_refused_not_stored_distorted(city_location):
    """The world's countries into a Gauss-Krüger zone 3° wide (EPSG:4549): PROJ maps Brazil to 78
    million km² without an error. Each country lying wholly away from the zone's area (by more than
    a degree) is refused with the area named; those reaching into it are stored, and the report
    says how many reach beyond it. Every row is accounted for."""
    path = sample("vector/countries.fgb")
    world = gpd.read_file(path)
    with cim.create(city_location(), crs="EPSG:4549") as city:
        (report,) = city.ingest(path, layer="countries")
        stored = set(city.features("countries")["name"])
    assert report.read == len(world) == report.stored + len(report.rejects)
    assert stored == {"China", "Russia", "Mongolia", "Taiwan"}
    away = [r for r in report.rejects if "wholly outside" in r.reason]
    assert len(away) == len(world) - 4
    assert all("EPSG:4549" in r.reason and "lon 118.50 to 121.50" in r.reason for r in away)
    rows = {int(r.row) for r in away}
    assert {i + 1 for i, name in enumerate(world["name"]) if name in ("Brazil", "Japan", "Philippines")} <= rows
    assert any("4 features reach beyond the area" in n for n in report.notes), report.notes


def test_a_city_in_a_world_wide_crs_keeps_every_country(city_location):
    with cim.create(city_location(), crs="EPSG:3857") as city:
        (report,) = city.ingest(sample("vector/countries.fgb"), layer="countries")
    assert report.stored == report.read == 179 and not report.rejects
