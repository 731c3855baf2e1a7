"""The one-screen viewer in a real browser against the real server: modes, picking, search,
language, measuring, below-ground view — with nothing leaving 127.0.0.1 and no
console errors."""

from __future__ import annotations

import io
from urllib.parse import quote

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from pyproj import Geod

from tests.viewer.conftest import ADMIN_KEY, artifact, assert_clean, get_json

WGS84 = Geod(ellps="WGS84")

#: legend lines each mode must show for the demo city (admin sees the restricted pipes)
LEGEND = {
    "plan": ["二类居住用地", "商业用地", "违反规划条件的建筑"],
    "build": ["施工工地", "正常"],
    "manage": ["给水", "燃气", "电力", "综合管廊"],
    "operate": ["正常", "告警", "告警位置"],
}


@pytest.mark.parametrize("mode", ["plan", "build", "manage", "operate"])
def test_each_mode_draws_the_city_with_its_legend_and_kpi_cards(overview, traffic, server, mode):
    overview.open(mode, api_key=ADMIN_KEY)
    overview.settle()
    stddev, unlike = overview.map_spread()
    overview.screenshot(artifact(f"viewer-{mode}.png"))
    assert stddev > 8 and unlike > 0.05, f"the {mode} map looks blank (stddev {stddev:.1f}, drawn {unlike:.0%})"
    legend = overview.legend_texts()
    for line in LEGEND[mode]:
        assert line in legend, f"{mode} legend lacks {line!r}: {legend}"
    kpis = get_json(server, f"/api/kpis?mode={mode}", ADMIN_KEY)
    cards = overview.kpi_texts()
    assert len(cards) == len(kpis)
    for kpi, card in zip(kpis, cards, strict=True):
        assert kpi["label_zh"] in card
    assert_clean(traffic)


def test_switching_modes_in_one_page_changes_the_picture_and_legend(overview, traffic):
    overview.open("plan", api_key=ADMIN_KEY)
    overview.settle()
    before = overview.map_png()
    overview.switch_mode("manage")
    assert "给水" in overview.legend_texts()
    assert "二类居住用地" not in overview.legend_texts()
    assert _difference(before, overview.map_png()) > 3
    assert_clean(traffic)


def _tallest_building(server: str) -> dict:
    items = get_json(server, "/collections/buildings/items?limit=5000")
    best = max(items["features"], key=lambda f: f["properties"].get("height") or 0)
    return get_json(server, f"/api/features/{best['id']}")


def test_clicking_a_building_shows_its_attributes_and_parent_chain(overview, traffic, server):
    building = _tallest_building(server)
    overview.open("plan")
    ids = overview.search(building["name"])
    assert building["id"] in ids
    overview.choose_result(building["id"])
    overview.settle()
    overview.close_panel()
    lon = (building["bbox"][0] + building["bbox"][2]) / 2
    lat = (building["bbox"][1] + building["bbox"][3]) / 2
    overview.click_map(lon, lat, building["height"])
    overview.page.wait_for_function(f"window.cim.selected === {building['id']!r}")
    text = overview.panel_text()
    assert building["id"] in text and building["name"] in text
    assert "号楼" in text  # the Chinese name renders as text, not mojibake
    assert str(building["properties"]["floors"]) in text
    expected = [f"{p['class']} · {p['name'] or p['id']}" for p in building["parents"]]
    assert overview.parent_chain() == expected
    overview.screenshot(artifact("viewer-picked-building.png"))
    assert_clean(traffic)


def test_clicking_the_worksite_model_picks_one_element_with_its_chain_to_the_parcel(overview, traffic, server):
    city = get_json(server, "/api/city", ADMIN_KEY)
    bim = [layer["name"] for layer in city["layers"] if layer["kind"] == "bim"]
    assert bim, "the demo city has no BIM layer to pick from"
    overview.open("build", api_key=ADMIN_KEY)
    overview.page.wait_for_function("window.cim.state.worksiteBoxes.length > 0")
    overview.settle()
    w, s, e, n = overview.page.evaluate("window.cim.state.worksiteBoxes[0]")
    for _ in range(3):  # as a person would click again when the model was not drawn yet on a busy machine
        overview.click_map((w + e) / 2, (s + n) / 2, 12.0)
        try:
            overview.page.wait_for_function("window.cim.selected !== null", timeout=15_000)
            break
        except PlaywrightTimeout:
            overview.settle()
    else:
        raise AssertionError("three clicks on the worksite model picked nothing")
    picked = overview.page.evaluate("window.cim.selected")
    card = get_json(server, f"/api/features/{quote(picked, safe='')}", ADMIN_KEY)
    assert card["layer"] in bim
    assert card["class"] not in {"Site", "Building", "Storey"}, f"picked the container {card['class']}"
    classes = [p["class"] for p in card["parents"]]
    assert "Storey" in classes and "Building" in classes and "Parcel" in classes, classes
    assert overview.parent_chain() == [f"{p['class']} · {p['name'] or p['id']}" for p in card["parents"]]
    overview.screenshot(artifact("viewer-build-picked-element.png"))
    assert_clean(traffic)


def test_search_by_a_chinese_road_name_flies_to_it(overview, traffic, server):
    hits = get_json(server, "/api/search?q=%E9%95%BF%E6%B1%9F%E8%B7%AF&limit=5")  # 长江路
    target = hits[0]
    overview.open("plan")
    start = overview.view_state()
    assert target["id"] in overview.search("长江路")
    overview.choose_result(target["id"])
    view = overview.view_state()
    w, s, e, n = target["bbox"]
    assert w - 0.002 <= view["longitude"] <= e + 0.002 and s - 0.002 <= view["latitude"] <= n + 0.002
    assert view["zoom"] > start["zoom"]
    overview.page.wait_for_function(f"window.cim.selected === {target['id']!r}")
    assert "长江路" in overview.page.locator("#panel-title").inner_text()
    assert_clean(traffic)


def test_the_english_toggle_relabels_modes_legend_and_kpis(overview, traffic, server):
    overview.open("plan")
    assert overview.mode_labels() == ["规划", "建设", "管理", "运行", "服务"]
    overview.toggle_language()
    assert overview.mode_labels() == ["Plan", "Build", "Manage", "Operate", "Services"]
    assert "Residential (class 2)" in overview.legend_texts()
    kpis = get_json(server, "/api/kpis?mode=plan")
    if kpis:
        overview.page.wait_for_function(
            f"document.querySelector('#kpis').innerText.includes({kpis[0]['label_en']!r})")
    overview.toggle_language()
    assert overview.mode_labels() == ["规划", "建设", "管理", "运行", "服务"]
    assert_clean(traffic)


def test_measuring_reports_geodesic_length_and_area(overview, traffic, server):
    city = get_json(server, "/api/city")
    w, s, e, n = city["bbox"]
    pts = [(w + (e - w) * 0.35, s + (n - s) * 0.4), (w + (e - w) * 0.6, s + (n - s) * 0.45),
           (w + (e - w) * 0.55, s + (n - s) * 0.65)]
    overview.open("plan")
    overview.page.click("[data-measure=distance]")
    for lon, lat in pts[:2]:
        overview.measure_at(lon, lat)
    length = float(overview.page.locator("#measure-readout").get_attribute("data-length"))
    expected = WGS84.inv(pts[0][0], pts[0][1], pts[1][0], pts[1][1])[2]
    assert length == pytest.approx(expected, rel=0.01)
    assert "m" in overview.page.locator("#measure-readout .value").inner_text()

    overview.page.click("[data-measure=area]")
    for lon, lat in pts:
        overview.measure_at(lon, lat)
    overview.page.keyboard.press("Escape")
    area = float(overview.page.locator("#measure-readout").get_attribute("data-area"))
    lons, lats = zip(*pts, strict=True)
    expected_area = abs(WGS84.polygon_area_perimeter(lons, lats)[0])
    assert area == pytest.approx(expected_area, rel=0.02)
    assert "m²" in overview.page.locator("#measure-readout .value").inner_text()
    assert_clean(traffic)


def test_the_below_ground_view_tilts_the_camera_and_redraws(overview, traffic):
    overview.open("manage", api_key=ADMIN_KEY)
    overview.settle()
    before = overview.map_png()
    overview.page.click("#below-toggle")
    overview.page.wait_for_function("window.cim.state.below === true")
    overview.settle()
    overview.page.wait_for_timeout(800)
    assert overview.view_state()["pitch"] > 60
    after = overview.map_png()
    overview.screenshot(artifact("viewer-manage-below-ground.png"))
    assert _difference(before, after) > 3
    assert_clean(traffic)


def test_the_guard_would_catch_a_request_leaving_loopback(overview, traffic):
    overview.open("plan")
    overview.page.evaluate("fetch('http://tiles.example.invalid/tile.png').catch(() => null)")
    overview.page.wait_for_timeout(300)
    assert traffic.outside == ["http://tiles.example.invalid/tile.png"]
    traffic.console_errors.clear()  # the aborted request logs its own failure


def _difference(a: bytes, b: bytes) -> float:
    """Mean absolute pixel difference of two PNG screenshots (0–255)."""
    from PIL import Image, ImageChops, ImageStat

    ia = Image.open(io.BytesIO(a)).convert("RGB")
    ib = Image.open(io.BytesIO(b)).convert("RGB").resize(ia.size)
    return sum(ImageStat.Stat(ImageChops.difference(ia, ib)).mean) / 3
