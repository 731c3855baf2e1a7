"""MapLibre GL JS (from npm, in Chromium) draws the city from our TileJSON and vector tiles with the
docs' page and style; no request leaves 127.0.0.1 and the console stays clean."""

from __future__ import annotations

import io

import httpx
import numpy as np
from PIL import Image

from tests.clients.browser import Record, browser, open_page, site  # noqa: F401 - fixtures
from tests.clients.conftest import artifact, recipe

SETTLED = ("window.map && typeof window.map.loaded === 'function' && window.map.loaded() "
           "&& window.map.areTilesLoaded() && !window.map.isMoving()")


def test_maplibre_draws_the_buildings_and_roads_of_the_docs_page_from_our_tilejson(browser, server, site):  # noqa: F811
    base, folder = site
    (folder / "maplibre.html").write_text(recipe("maplibre", base=server), encoding="utf-8")
    record = Record()
    page = open_page(browser, f"{base}/maplibre.html", record)
    page.wait_for_function(SETTLED)
    page.wait_for_timeout(500)
    page.wait_for_function(SETTLED)
    drawn = page.evaluate("""() => ({
        buildings: [...new Set(map.queryRenderedFeatures({layers: ['buildings']}).map(f => f.properties.id))],
        roads: map.queryRenderedFeatures({layers: ['roads']}).length,
        zoom: map.getZoom()})""")
    record.assert_clean()
    served = httpx.get(f"{server}/collections/buildings/items?limit=10000").json()
    ids = {f["id"] for f in served["features"]}
    assert len(drawn["buildings"]) > 0.5 * len(ids), "most buildings are in view and drawn"
    assert set(drawn["buildings"]) <= ids
    assert drawn["roads"] > 0
    assert any("/collections/buildings/tiles/WebMercatorQuad/" in u and u.count("/") >= 9 for u in record.requests)
    assert any(u.endswith("/collections/roads/tiles/WebMercatorQuad") for u in record.requests)
    shot = page.locator("#map canvas").screenshot(path=artifact("maplibre.png"))
    rgb = np.asarray(Image.open(io.BytesIO(shot)).convert("RGB")).astype(int)
    orange = (rgb[..., 0] > 150) & (rgb[..., 1] > 70) & (rgb[..., 1] < 170) & (rgb[..., 2] < 110)
    assert orange.mean() > 0.01, "the extruded buildings are on the canvas"
    page.context.close()
