"""GDAL opens the city: the OAPIF driver (through pyogrio) with a bbox, a CQL2 filter and an API key,
the WMTS driver (through rasterio) on the raster tile pyramid, the PMTiles and MVT drivers on an
exported archive, and the docs' ogr2ogr / gdal_translate recipe with Debian's GDAL."""

from __future__ import annotations

import io
import math
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pyogrio
import pytest
import rasterio
from PIL import Image
from rasterio.windows import from_bounds

from cim.testing import need
from tests.clients.conftest import DOC_BASE, OPERATOR_KEY, ROOT, recipe
from tests.tiles.conftest import file_copy

HALF = 20037508.342789244


@pytest.fixture
def gdal_headers(tmp_path: Path):
    """Send extra HTTP headers from GDAL for one test (a header file, as the docs say), cleared after."""

    def use(header: str) -> None:
        path = tmp_path / "headers.txt"
        path.write_text(header + "\n", encoding="utf-8")
        pyogrio.set_gdal_config_options({"GDAL_HTTP_HEADER_FILE": str(path)})

    yield use
    pyogrio.set_gdal_config_options({"GDAL_HTTP_HEADER_FILE": None})


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    x = int((lon + 180) / 360 * 2**z)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2**z)
    return x, y


def _centre(server: str, layer: str) -> tuple[float, float]:
    w, s, e, n = httpx.get(f"{server}/collections/{layer}").json()["extent"]["spatial"]["bbox"][0]
    return (w + e) / 2, (s + n) / 2


def test_gdal_oapif_reads_a_collection_in_its_storage_crs_and_a_bbox_selects_on_the_server(server, server_log):
    full = pyogrio.read_dataframe(f"OAPIF:{server}", layer="buildings")
    matched = httpx.get(f"{server}/collections/buildings/items?limit=1").json()["numberMatched"]
    assert len(full) == matched and full.crs.to_epsg() == 4549
    minx, miny, maxx, maxy = full.total_bounds
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    box = (cx - 250, cy - 250, cx + 250, cy + 250)
    part = pyogrio.read_dataframe(f"OAPIF:{server}", layer="buildings", bbox=box)
    expected = set(full.cx[box[0]:box[2], box[1]:box[3]]["id"])
    assert 0 < len(part) < len(full)
    assert set(part["id"]) == expected
    assert "bbox-crs=http://www.opengis.net/def/crs/EPSG/0/4549" in server_log.read_text()


def test_gdal_oapif_sends_a_cql2_filter_given_in_the_collection_url_and_the_server_applies_it(server, server_log):
    everything = pyogrio.read_dataframe(f"OAPIF:{server}", layer="buildings")
    url = f"OAPIF:{server}/collections/buildings?filter=height%20%3E%2030&filter-lang=cql2-text"
    tall = pyogrio.read_dataframe(url)
    assert 0 < len(tall) < len(everything)
    assert set(tall["id"]) == set(everything.loc[everything["height"] > 30, "id"])
    items = [line for line in server_log.read_text().splitlines() if "/collections/buildings/items?" in line]
    assert any("filter=height%20%3E%2030" in line for line in items), "GDAL did not send the filter"


def test_gdal_oapif_sees_an_internal_layer_only_with_an_api_key_header(server, gdal_headers):
    assert "inspections" not in pyogrio.list_layers(f"OAPIF:{server}")[:, 0]
    gdal_headers(f"X-API-Key: {OPERATOR_KEY}")
    assert "inspections" in pyogrio.list_layers(f"OAPIF:{server}")[:, 0]
    points = pyogrio.read_dataframe(f"OAPIF:{server}", layer="inspections")
    assert sorted(points["id"]) == [f"inspections.I{i}" for i in range(5)]


def test_gdal_wmts_driver_reads_the_dem_pyramid_pixel_for_pixel_as_the_raster_tiles(server):
    lon, lat = _centre(server, "dem")
    z = 15
    x, y = _tile_of(lon, lat, z)
    size = 2 * HALF / 2**z
    left, top = -HALF + x * size, HALF - y * size
    name = f"WMTS:{server}/wmts/1.0.0/WMTSCapabilities.xml,layer=dem,tilematrixset=WebMercatorQuad,zoom_level={z}"
    with rasterio.open(name) as ds:
        assert ds.crs.to_epsg() == 3857 and ds.count == 4
        assert ds.res[0] == pytest.approx(size / 256)
        window = from_bounds(left, top - size, left + size, top, ds.transform)
        got = ds.read(window=window.round_offsets().round_lengths(), boundless=True)
    png = httpx.get(f"{server}/collections/dem/map/tiles/WebMercatorQuad/{z}/{y}/{x}.png").content
    want = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA")).transpose(2, 0, 1)
    assert got.shape == want.shape
    seen = (got[3] > 0) | (want[3] > 0)  # transparent pixels may carry any colour
    assert seen.mean() > 0.3, "the middle tile of the DEM is mostly covered"
    assert np.array_equal(got[:, seen], want[:, seen])


def test_gdal_wmts_driver_reads_the_cgcs2000_tile_matrix_set_in_epsg_4490(server):
    lon, lat = _centre(server, "dem")
    name = f"WMTS:{server}/wmts/1.0.0/WMTSCapabilities.xml,layer=dem,tilematrixset=CGCS2000Quad,zoom_level=15"
    with rasterio.open(name) as ds:
        assert ds.crs.to_epsg() == 4490
        row, col = ds.index(lon, lat)
        block = ds.read(window=((row - 64, row + 64), (col - 64, col + 64)))
    assert (block[3] == 255).mean() > 0.9, "the DEM is drawn around its middle"
    assert block[:3].std() > 0, "and it is not a flat colour"


@pytest.fixture(scope="module")
def archive(demo_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`cim export pmtiles` of the buildings, as a user runs it (from a copy: the server holds its own)."""
    folder = tmp_path_factory.mktemp("pmtiles")
    city = file_copy(demo_path, folder)
    out = folder / "buildings.pmtiles"
    done = subprocess.run([sys.executable, "-m", "cim", "export", "pmtiles", str(city), str(out), "--layer",
                           "buildings"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return out


def _ids(path: str) -> list[str]:
    try:
        return sorted(pyogrio.read_dataframe(path, columns=["id"])["id"])
    except pyogrio.errors.DataSourceError:
        return []


def test_gdal_pmtiles_driver_reads_the_export_with_the_same_features_per_tile_as_the_server(server, archive,
                                                                                            tmp_path):
    layers = pyogrio.list_layers(archive)
    assert list(layers[:, 0]) == ["buildings"]
    lon, lat = _centre(server, "buildings")
    for z in (13, 15, 16):
        cx, cy = _tile_of(lon, lat, z)
        compared = 0
        for x in range(cx - 1, cx + 2):
            for y in range(cy - 1, cy + 2):
                served = tmp_path / f"{z}/{x}/{y}.mvt"
                served.parent.mkdir(parents=True, exist_ok=True)
                served.write_bytes(httpx.get(f"{server}/tiles/buildings/{z}/{x}/{y}.mvt").content)
                from_server = _ids(str(served)) if served.stat().st_size else []
                from_archive = _ids(f"/vsipmtiles/{archive}/{z}/{x}/{y}.mvt")
                assert from_archive == from_server, f"tile {z}/{x}/{y}"
                compared += bool(from_server)
        assert compared, f"no tile around the middle at zoom {z} had buildings"
    whole = pyogrio.read_dataframe(archive, layer="buildings", ZOOM_LEVEL=16)
    count = httpx.get(f"{server}/collections/buildings/items?limit=1").json()["numberMatched"]
    assert set(whole["id"]) == set(pyogrio.read_dataframe(f"OAPIF:{server}", layer="buildings")["id"])
    assert len(set(whole["id"])) == count


def test_the_docs_gdal_recipe_runs_with_debians_ogr2ogr_and_gdal_translate(server, tmp_path):
    need(shutil.which("ogr2ogr") is not None, "Debian's gdal-bin is missing: scripts/install-system.sh installs it")
    script = recipe("gdal").replace(DOC_BASE, server)
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "buildings" in done.stdout
    tall = pyogrio.read_dataframe(tmp_path / "tall_buildings.gpkg")
    assert len(tall) > 0 and (tall["height"] > 30).all()
    pipes = pyogrio.read_dataframe(tmp_path / "pipes.gpkg")
    assert len(pipes) > 0
    with rasterio.open(tmp_path / "dem.tif") as dem:
        assert dem.count == 4 and dem.crs.to_epsg() == 3857 and dem.read(4).max() == 255
