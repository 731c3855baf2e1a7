"""Static vector tiles: the docs' `cim export pmtiles/mbtiles` commands, the archive served by a plain
static server with range requests (as any CDN), and the docs' MapLibre page reading it with the
pmtiles protocol in Chromium — no tile server involved, no request leaving 127.0.0.1."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pyogrio
import pytest

from tests.clients.browser import Record, browser, open_page, site  # noqa: F401 - fixtures
from tests.clients.conftest import artifact, recipe
from tests.tiles.conftest import file_copy

SETTLED = ("window.map && typeof window.map.loaded === 'function' && window.map.loaded() "
           "&& window.map.areTilesLoaded() && !window.map.isMoving()")


@pytest.fixture(scope="module")
def exported(demo_path: Path, site, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    """The docs' export commands run as written, in a folder where demo/city.duckdb is the demo city and
    site/ is the static site's folder."""
    work = tmp_path_factory.mktemp("export")
    (work / "demo").mkdir()
    file_copy(demo_path, work / "demo")
    (work / "site").symlink_to(site[1], target_is_directory=True)
    for line in recipe("static-tiles.md:export").splitlines():
        args = shlex.split(line, comments=True)
        if not args:
            continue
        assert args[0] == "cim", line
        done = subprocess.run([sys.executable, "-m", "cim", *args[1:]], cwd=work, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, f"{line}: {done.stderr}"
    return work


def test_the_exports_hold_the_public_layers_and_gdal_reads_both_formats(exported):
    folder = exported / "site"
    city_layers = set(pyogrio.list_layers(folder / "city.pmtiles")[:, 0])
    assert {"buildings", "roads", "parcels"} <= city_layers
    assert not city_layers & {"pipes", "utility_tunnel", "inspections", "worksite_bim"}, "only public layers"
    assert list(pyogrio.list_layers(folder / "buildings.pmtiles")[:, 0]) == ["buildings"]
    assert set(pyogrio.list_layers(folder / "city.mbtiles")[:, 0]) == city_layers
    for name in ("city.pmtiles", "city.mbtiles"):
        frame = pyogrio.read_dataframe(folder / name, layer="buildings", ZOOM_LEVEL=16)
        assert frame["id"].str.startswith("buildings.").all() and len(set(frame["id"])) > 100


def test_maplibre_draws_the_city_from_the_static_archive_through_range_requests(browser, site, exported):  # noqa: F811
    base, folder = site
    (folder / "static.html").write_text(recipe("static-tiles.md:maplibre-pmtiles"), encoding="utf-8")
    record = Record()
    page = open_page(browser, f"{base}/static.html", record)
    page.wait_for_function(SETTLED)
    page.wait_for_timeout(500)
    page.wait_for_function(SETTLED)
    drawn = page.evaluate("""() => ({
        buildings: new Set(map.queryRenderedFeatures({layers: ['buildings']}).map(f => f.properties.id)).size,
        roads: map.queryRenderedFeatures({layers: ['roads']}).length,
        parcels: map.queryRenderedFeatures({layers: ['parcels']}).length})""")
    page.locator("#map canvas").screenshot(path=artifact("maplibre-pmtiles.png"))
    record.assert_clean()
    assert drawn["buildings"] > 100 and drawn["roads"] > 0 and drawn["parcels"] > 0
    archive_requests = [u for u in record.requests if u.endswith("/city.pmtiles")]
    assert len(archive_requests) >= 2, "the page read the header, then tiles, from the one file"
    assert all(u.startswith(base) for u in record.requests), "only the static site was asked"
    page.context.close()
