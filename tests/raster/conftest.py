"""Every raster sample ingested into one city, served by the real app (in-process client)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.conftest import sample

#: sample file → (layer name, ingest options)
SAMPLES = {
    "raster/sfdem.tif": ("sfdem", {}),
    "raster/pysheds_dem.tif": ("pysheds_dem", {}),
    "raster/china_dem.nc": ("china_dem", {"source_crs": "EPSG:4326"}),
    "raster/shade.tif": ("shade", {}),
    "raster/RGB.byte.tif": ("rgb_byte", {}),
    "raster/cogeo_rgb_jpeg.tif": ("cogeo_rgb", {}),
    "raster/hro_colorado_CL_1_nodata.tif": ("hro_colorado", {}),
}
DEMS = ("sfdem", "pysheds_dem", "china_dem")
KEYS = '{"operator-key-0001": "operator", "admin-key-00000001": "admin"}'


@pytest.fixture(scope="session")
def raster_city(tmp_path_factory: pytest.TempPathFactory):
    """A city holding every raster sample as a layer (plus a restricted copy of sfdem)."""
    import cim

    c = cim.create(tmp_path_factory.mktemp("rasters") / "city.duckdb")
    for path, (name, options) in SAMPLES.items():
        c.ingest(sample(path), layer=name, **options)
    c.ingest(sample("raster/sfdem.tif"), layer="secret_dem", classification="restricted", role="dem")
    yield c
    c.close()


@pytest.fixture(scope="session")
def client(raster_city):
    """An HTTP client of the app serving ``raster_city`` (operator and admin keys configured)."""
    from fastapi.testclient import TestClient

    from tiles.app import create_app

    with TestClient(create_app(raster_city, api_keys=KEYS)) as c:
        yield c


def cog_path(city, layer: str):
    return city.data_dir / city.layer(layer)["properties"]["path"]


def lonlat_of_pixels(city, layer: str, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lon/lat of source pixel centres of a layer's COG."""
    import rasterio
    from pyproj import Transformer

    with rasterio.open(cog_path(city, layer)) as ds:
        xs, ys = rasterio.transform.xy(ds.transform, rows, cols, offset="center")
        to_ll = Transformer.from_crs(ds.crs.to_wkt(), "EPSG:4326", always_xy=True)
    lon, lat = to_ll.transform(np.asarray(xs), np.asarray(ys))
    return np.asarray(lon), np.asarray(lat)


def tile_pixel(lon: float, lat: float, z: int) -> tuple[int, int, int, int]:
    """(x, y) of the WebMercatorQuad tile holding a point at zoom z, and the point's pixel in it."""
    n = 1 << z
    fx = (lon + 180.0) / 360.0 * n
    fy = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    x, y = int(fx), int(fy)
    return x, y, min(int((fx - x) * 256), 255), min(int((fy - y) * 256), 255)


def interior_pixels(valid: np.ndarray, want_valid: bool, count: int, rng: np.random.Generator) -> tuple:
    """Up to ``count`` (rows, cols) whose 3×3 neighbourhood is all valid (or all invalid)."""
    v = valid if want_valid else ~valid
    core = v[1:-1, 1:-1] & v[:-2, 1:-1] & v[2:, 1:-1] & v[1:-1, :-2] & v[1:-1, 2:]
    core &= v[:-2, :-2] & v[:-2, 2:] & v[2:, :-2] & v[2:, 2:]
    rows, cols = np.nonzero(core)
    if rows.size == 0:
        return np.array([], int), np.array([], int)
    pick = rng.choice(rows.size, size=min(count, rows.size), replace=False)
    return rows[pick] + 1, cols[pick] + 1
