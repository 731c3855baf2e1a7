"""city.map(): a deck.gl map that renders in a real headless Chromium with the network cut off."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pydeck")

CHROMIUM = "/usr/bin/chromium"


def _chromium() -> str:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing: scripts/install-system.sh installs it")
        pytest.skip(f"{CHROMIUM} is missing")
    return CHROMIUM


def _run(page: Path, *args: str) -> subprocess.CompletedProcess:
    # --proxy-server to a closed port: any request for an http(s) resource would fail
    cmd = [_chromium(), "--headless", "--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
           "--proxy-server=127.0.0.1:9", "--virtual-time-budget=8000", "--window-size=900,600",
           f"--user-data-dir={page.parent / 'profile'}", *args, page.as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)  # software GL on a busy machine


def test_the_exported_map_references_no_remote_scripts_or_styles(demo, tmp_path):
    import json

    m = demo.map(["parcels", "buildings"])
    page = m.to_html(tmp_path / "map.html")
    assert "createDeck" in page and len(page) > 1_000_000  # deck.gl itself is inside the page
    assert not re.search(r"<(script|link)[^>]+(src|href)=[\"']?https?://", page)
    assert not json.loads(m.deck.to_json()).get("mapStyle")  # no basemap tiles to fetch


def test_the_map_renders_buildings_in_chromium_with_no_network(demo, tmp_path):
    from PIL import Image

    failures = demo.check(only=["height"], only_failures=True)
    page = tmp_path / "map.html"
    html = demo.map(["parcels", "buildings"], highlight=failures).to_html()
    probe = ("<script>setTimeout(() => { document.title = 'resources:' + performance.getEntriesByType('resource')"
             ".length + ' canvas:' + document.querySelectorAll('canvas').length; }, 3000);</script></body>")
    page.write_text(html.replace("</body>", probe), encoding="utf-8")
    dom = _run(page, "--dump-dom")
    assert "resources:0 canvas:1" in dom.stdout, dom.stderr[-2000:]
    shot = tmp_path / "map.png"
    _run(page, f"--screenshot={shot}")
    pixels = np.asarray(Image.open(shot).convert("RGB")).reshape(-1, 3).astype(int)
    background = np.array([0xF7, 0xF7, 0xF5])
    drawn = np.abs(pixels - background).sum(axis=1) > 30
    assert drawn.mean() > 0.05  # parcels and buildings cover the view
    bluish = (pixels[:, 2] > pixels[:, 0] + 15) & drawn  # the buildings' blue-grey
    assert bluish.sum() > 1000
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)


def test_map_refuses_empty_selections_and_unlabelled_frames(demo):
    import geopandas as gpd
    import shapely

    from cim.errors import ValidationError

    with pytest.raises(ValidationError, match="nothing to draw"):
        demo.map(["buildings"], where={"buildings": "height > 100000"})
    with pytest.raises(ValidationError, match="no CRS"):
        demo.map([gpd.GeoDataFrame(geometry=[shapely.Point(0, 0)])])
