"""Every raster sample is described and converted to a valid COG; bad rasters are refused."""

from __future__ import annotations

import pytest
import rasterio
from rio_cogeo.cogeo import cog_validate

from gis import CRSError, SourceError, raster_info, to_cog

# file -> (crs, width, height, bands, dtype, nodata, is_cog already)
RASTERS = {
    "RGB.byte.tif": ("EPSG:32618", 791, 718, 3, "uint8", 0.0, False),
    "china_dem.nc": (None, 350, 225, 1, "float64", 9.969209968386869e36, False),
    "cogeo_rgb_jpeg.tif": ("EPSG:3857", 1024, 1024, 3, "uint8", None, True),
    "hro_colorado_CL_1_nodata.tif": ("EPSG:26913", 383, 232, 3, "uint8", 0.0, False),
    "pysheds_dem.tif": ("EPSG:4326", 367, 359, 1, "int16", -32768.0, True),
    "sfdem.tif": ("EPSG:26713", 634, 477, 1, "float32", -9.999999933815813e36, False),
    "shade.tif": ("EPSG:3857", 1024, 1024, 1, "uint8", 255.0, False),
}
SOURCE_CRS = {"china_dem.nc": "EPSG:4326"}


@pytest.mark.parametrize("name", sorted(RASTERS))
def test_raster_info_describes_every_sample(require, name):
    crs, width, height, count, dtype, nodata, is_cog = RASTERS[name]
    info = raster_info(require(f"raster/{name}"))
    assert (info.crs, info.width, info.height, info.count, info.dtype) == (crs, width, height, count, dtype)
    assert info.nodata == (pytest.approx(nodata, rel=1e-6) if nodata else nodata)
    assert info.is_cog is is_cog


@pytest.mark.parametrize("name", sorted(RASTERS))
def test_every_sample_converts_to_a_valid_cog_keeping_nodata(require, tmp_path, name):
    src = require(f"raster/{name}")
    out = to_cog(src, tmp_path / "out" / f"{name}.tif", source_crs=SOURCE_CRS.get(name))
    assert cog_validate(out.path, quiet=True)[0] and out.is_cog
    crs, width, height, count, dtype, nodata, _ = RASTERS[name]
    assert (out.crs, out.width, out.height, out.count, out.dtype) == (
        crs or SOURCE_CRS[name], width, height, count, dtype)
    assert out.nodata == (pytest.approx(nodata, rel=1e-6) if nodata else nodata)
    with rasterio.open(out.path) as ds:
        assert ds.profile["compress"] == "deflate" and ds.block_shapes[0] == (512, 512)
        assert ds.overviews(1) or max(width, height) <= 256
    assert [p.name for p in (tmp_path / "out").iterdir()] == [f"{name}.tif"]  # no temp file left


def test_the_china_dem_keeps_its_bounds_and_values(require, tmp_path):
    out = to_cog(require("raster/china_dem.nc"), tmp_path / "dem.tif", source_crs="EPSG:4326")
    assert out.bounds == pytest.approx((69.9, 14.93, 139.9, 59.93), abs=0.01)
    with rasterio.open(out.path) as ds:
        band = ds.read(1, masked=True)
        assert band.min() == -160.0 and band.max() == 7393.0


def test_a_netcdf_without_crs_is_refused_without_source_crs(require, tmp_path):
    with pytest.raises(CRSError, match=r"china_dem\.nc has no CRS: state it with --source-crs"):
        to_cog(require("raster/china_dem.nc"), tmp_path / "dem.tif")
    assert not list(tmp_path.iterdir())


def test_a_source_crs_contradicting_the_raster_is_refused(require, tmp_path):
    with pytest.raises(CRSError, match="EPSG:26713 but --source-crs says EPSG:4326"):
        to_cog(require("raster/sfdem.tif"), tmp_path / "dem.tif", source_crs="EPSG:4326")


def test_bad_raster_inputs_are_refused(tmp_path, require):
    with pytest.raises(SourceError, match="does not exist"):
        raster_info(tmp_path / "nope.tif")
    with pytest.raises(SourceError, match="is a directory"):
        to_cog(tmp_path, tmp_path / "x.tif")
    (tmp_path / "notes.tif").write_text("hello")
    with pytest.raises(SourceError, match="is not a raster GDAL can read"):
        raster_info(tmp_path / "notes.tif")
    data = require("raster/RGB.byte.tif").read_bytes()
    (tmp_path / "cut.tif").write_bytes(data[:len(data) // 2])
    with pytest.raises(SourceError, match="truncated or corrupt"):
        to_cog(tmp_path / "cut.tif", tmp_path / "cog.tif")
    assert not (tmp_path / "cog.tif").exists()
