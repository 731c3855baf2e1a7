"""CesiumJS (from npm, in Chromium) loads the city's LOD1 buildings and the BIM worksite as 3D Tiles
with the docs' page and an API key; a click on a building shows its metadata; no request leaves
127.0.0.1, no tile fails and the console stays clean."""

from __future__ import annotations

import httpx
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.clients.browser import Record, browser, open_page, site  # noqa: F401 - fixtures
from tests.clients.conftest import ADMIN_KEY, artifact, recipe

LOADED = "window.tilesets && window.tilesets.length === 2 && window.tilesets.every((t) => t.tilesLoaded)"

#: looks for a pickable feature of one tileset, in rings around the middle of the canvas; its pixel and id
FIND = """([which, step]) => {
  const canvas = viewer.scene.canvas;
  const cx = Math.round(canvas.clientWidth / 2), cy = Math.round(canvas.clientHeight / 2);
  for (let r = 0; r < Math.max(cx, cy); r += step) {
    for (let dx = -r; dx <= r; dx += step) {
      for (const dy of (Math.abs(dx) === r ? [...Array(2 * r / step + 1).keys()].map((i) => -r + i * step) : [-r, r])) {
        const x = cx + dx, y = cy + dy;
        if (x < 0 || y < 0 || x >= canvas.clientWidth || y >= canvas.clientHeight) continue;
        const picked = viewer.scene.pick(new Cesium.Cartesian2(x, y));
        if (picked instanceof Cesium.Cesium3DTileFeature && picked.tileset === tilesets[which]) {
          return {x, y, id: picked.getProperty("id")};
        }
      }
    }
  }
  return null;
}"""


def _settle(page) -> None:
    """Wait until a few frames were drawn with every tile of the current view loaded: ``tilesLoaded``
    can still be true from a frame before the camera moved, and on a busy machine (software GL) the
    next frames come seconds apart."""
    first = page.evaluate("() => viewer.scene.frameState.frameNumber")
    page.wait_for_function(f"() => viewer.scene.frameState.frameNumber >= {first + 5} && {LOADED}",
                           timeout=180_000, polling=500)


def _find(page, which: int) -> dict | None:
    """A pickable feature of tileset ``which``; polled, since on a busy machine the tiles can be loaded a
    frame or two before they are drawn (and so before anything can be picked). One scan picks up to a
    few thousand pixels, each a render of the scene: on a slow machine that alone can take tens of seconds."""
    try:
        handle = page.wait_for_function(f"() => ({FIND})([{which}, 10])", timeout=180_000, polling=1000)
    except PlaywrightTimeout:
        return None
    return handle.json_value()


def _info_after_click(page, spot: dict) -> dict[str, str]:
    box = page.locator("#globe canvas").first.bounding_box()
    page.mouse.click(box["x"] + spot["x"], box["y"] + spot["y"])
    page.wait_for_function("document.getElementById('info').textContent.startsWith('id: ')", timeout=30_000)
    text = page.locator("#info").inner_text()
    return dict(line.split(": ", 1) for line in text.splitlines())


def test_cesium_loads_the_city_and_the_bim_worksite_and_shows_a_picked_features_metadata(browser, server, site):  # noqa: F811
    base, folder = site
    page_text = recipe("cesium", base=server)
    assert 'const KEY = "";' in page_text
    (folder / "cesium.html").write_text(page_text.replace('const KEY = "";', f'const KEY = "{ADMIN_KEY}";'),
                                        encoding="utf-8")
    record = Record()
    page = open_page(browser, f"{base}/cesium.html", record)
    page.wait_for_function(LOADED, timeout=180_000)
    _settle(page)
    page.screenshot(path=artifact("cesium.png"))

    city_spot = _find(page, 0)
    assert city_spot is not None, "no LOD1 building could be picked in the view"
    building = _info_after_click(page, city_spot)
    assert building["id"] == city_spot["id"] and building["id"].startswith("buildings.")
    assert building["class"] == "Building" and float(building["height"]) > 0
    served = httpx.get(f"{server}/collections/buildings/items/{building['id']}", timeout=60).json()
    assert served["properties"]["height"] == float(building["height"])

    page.evaluate("() => viewer.zoomTo(tilesets[1])")  # a person zooms in on the worksite
    _settle(page)
    bim_spot = _find(page, 1)
    assert bim_spot is not None, "no BIM element could be picked on the worksite"
    element = _info_after_click(page, bim_spot)
    assert element["id"] == bim_spot["id"] and not element["id"].startswith("buildings.")
    assert element["class"] in {"Wall", "Slab", "Window", "Roof", "Storey", "Building"}
    assert any("/3dtiles/worksite_bim/content/" in u for u in record.requests)
    assert any("/3dtiles/buildings/content/" in u for u in record.requests)
    record.assert_clean()
    page.context.close()
