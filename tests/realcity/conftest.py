"""Cities made only from real files a bureau could bring (../shared/datasets), never by ``cim demo``.

* **Delft** (EPSG:28992): the BGT building footprints (OGR SQLite) and the 3D city model of the same
  buildings (CityJSON: buildings with heights, roads as polygons, plant cover, land use, water).
* **Qingdao** (EPSG:4549): the ten districts as AMap (GCJ-02) lon/lat and a national DEM of China
  (NetCDF, no CRS in the file, 0.2° cells).
* **New York** (EPSG:32618): the five boroughs (a Shapefile in US survey feet) and 8 333 TIGER roads.

Each is built once per session; tests read them (copy before changing).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import cim
from tests.conftest import sample


@pytest.fixture(scope="session")
def delft_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    footprints = sample("vector/delft_bgt_pand.sqlite")
    model = sample("cityjson/delft.json")
    path = tmp_path_factory.mktemp("delft") / "delft.duckdb"
    with cim.create(path, crs="EPSG:28992") as city:
        city.ingest(footprints, layer="bgt_pand")
        city.ingest(model, layer="delft_3d")
    return path


@pytest.fixture(scope="session")
def qingdao_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    districts = sample("vector/qingdao_districts_gcj02.geojson")
    dem = sample("raster/china_dem.nc")
    path = tmp_path_factory.mktemp("qingdao") / "qingdao.duckdb"
    with cim.create(path, crs="EPSG:4549") as city:
        city.ingest(districts, layer="districts", source_crs="GCJ-02", feature_class="District")
        city.ingest(dem, layer="china_dem", source_crs="EPSG:4326", role="dem")
    return path


@pytest.fixture(scope="session")
def nyc_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    boroughs = sample("vector/nybb.shp")
    roads = sample("vector/nyc_tiger_roads.geojson")
    path = tmp_path_factory.mktemp("nyc") / "nyc.duckdb"
    with cim.create(path, crs="EPSG:32618") as city:
        city.ingest(boroughs, layer="boroughs", feature_class="District")
        city.ingest(roads, layer="roads_tiger", feature_class="Road")
    return path


def _open(path: Path):
    city = cim.open(path, read_only=True)
    yield city
    city.close()


@pytest.fixture
def delft(delft_path: Path):
    yield from _open(delft_path)


@pytest.fixture
def qingdao(qingdao_path: Path):
    yield from _open(qingdao_path)


@pytest.fixture
def nyc(nyc_path: Path):
    yield from _open(nyc_path)
