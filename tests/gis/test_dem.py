"""DEM sampling: reprojection, nodata and outside points as NaN, base heights per footprint."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import shapely

from gis import CRSError, base_elevation, reproject, sample


def test_sample_returns_the_pixel_value_at_a_known_point(require):
    path = require("raster/pysheds_dem.tif")
    with rasterio.open(path) as ds:
        x, y = ds.xy(100, 200)
        expected = float(ds.read(1)[100, 200])
    values = sample(path, [x, 0.0], [y, 0.0], crs="EPSG:4326")
    assert values[0] == expected and np.isnan(values[1])


def test_sample_reprojects_points_given_in_another_crs(require):
    path = require("raster/sfdem.tif")
    with rasterio.open(path) as ds:
        x, y = ds.xy(200, 300)
        expected = float(ds.read(1)[200, 300])
    lonlat = reproject(np.array([shapely.Point(x, y)]), "EPSG:26713", "EPSG:4326")[0]
    assert sample(path, [lonlat.x], [lonlat.y], crs="EPSG:4326")[0] == pytest.approx(expected)


def test_nodata_pixels_are_nan_not_the_nodata_number(require):
    path = require("raster/sfdem.tif")
    with rasterio.open(path) as ds:
        rows, cols = np.nonzero(ds.read_masks(1) == 0)
        x, y = ds.xy(rows[0], cols[0])
    assert np.isnan(sample(path, [x], [y], crs="EPSG:26713")[0])


def test_bilinear_sampling_lies_between_neighbours(require):
    path = require("raster/pysheds_dem.tif")
    with rasterio.open(path) as ds:
        (x0, y0), (x1, _) = ds.xy(100, 200), ds.xy(100, 201)
        a, b = ds.read(1)[100, 200:202].astype(float)
    mid = sample(path, [(x0 + x1) / 2], [y0], crs="EPSG:4326", bilinear=True)[0]
    assert mid == pytest.approx((a + b) / 2)


def test_a_dem_without_crs_needs_dem_crs(require):
    path = require("raster/china_dem.nc")
    with pytest.raises(CRSError, match="has no CRS: pass dem_crs="):
        sample(path, [120.3], [36.1], crs="EPSG:4490")
    everest = sample(path, [86.925], [27.988], crs="EPSG:4490", dem_crs="EPSG:4326")[0]
    assert 3000 < everest < 8849


def test_base_elevation_is_the_lowest_sample_by_default(require):
    path = require("raster/pysheds_dem.tif")
    with rasterio.open(path) as ds:
        x, y = ds.xy(150, 150)
    footprints = np.array([shapely.box(x - 0.002, y - 0.002, x + 0.002, y + 0.002), None,
                           shapely.Point(0, 0)], dtype=object)
    low = base_elevation(path, footprints, crs="EPSG:4326")
    mean = base_elevation(path, footprints, crs="EPSG:4326", stat="mean")
    high = base_elevation(path, footprints, crs="EPSG:4326", stat="max")
    assert low[0] <= mean[0] <= high[0] and low[0] < high[0]
    assert np.isnan(low[1:]).all()
