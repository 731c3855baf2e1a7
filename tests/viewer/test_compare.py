"""The viewer's compare, section, height and annotation tools in a real browser against the real
server: swipe (卷帘) and side by side (分屏) between two versions of the city, the section plane
(剖切) through buildings, height measurement, the time slider moving the map, and an annotation
(批注) round trip read by role.

The city is the small demo city whose buildings layer is ingested a second time with known edits
(three buildings raised, one removed), so there are two versions to compare.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.viewer.conftest import ADMIN_KEY, OPERATOR_KEY, artifact, get_json

RAISED = 30.0  # metres added to the edited buildings


@pytest.fixture(scope="module")
def viewer_city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo city, its buildings ingested twice: version 2 raises three buildings and drops one."""
    import geopandas as gpd

    import cim
    from cim.demo import build_demo

    folder = tmp_path_factory.mktemp("viewer-compare")
    path = folder / "city.duckdb"
    build_demo(path, scale=400).close()
    with cim.open(path) as city:
        source = Path(city.layer("buildings")["source"])
        frame = gpd.read_parquet(source)
        tallest = frame.sort_values("height", ascending=False).index[:3]
        frame.loc[tallest, "height"] = frame.loc[tallest, "height"] + RAISED
        frame = frame.drop(frame.sort_values("height").index[0])
        edited = folder / "buildings_v2.parquet"
        frame.to_parquet(edited, index=False)
        # as the demo ingests it: the same ids, class and parents
        city.ingest(edited, layer="buildings", feature_class="Building", phase="manage", classification="public",
                    id_field="building_id", parent="parcels.parcel_id")
        assert city.layer("buildings")["version"] == 2
    return path


def _has(base: str, path: str) -> bool:
    """Does the server answer `path` (an optional part: the version list, the diff)?"""
    try:
        with urllib.request.urlopen(urllib.request.Request(base + path, headers={"X-API-Key": ADMIN_KEY}),
                                    timeout=30):
            return True
    except urllib.error.HTTPError as exc:
        if exc.code in (404, 501):
            return False
        raise


def _assert_clean(traffic) -> None:
    """Nothing left 127.0.0.1 and the console stayed clean: optional endpoints the server lacks are
    not asked for (the viewer reads the server's OpenAPI paths first), so not even a 404 line."""
    assert traffic.outside == [], f"requests left 127.0.0.1: {traffic.outside[:5]}"
    assert traffic.console_errors == [], f"console errors: {traffic.console_errors[:5]}"
    assert traffic.local


def _tallest(server: str) -> dict:
    items = get_json(server, "/collections/buildings/items?limit=5000")
    best = max(items["features"], key=lambda f: f["properties"].get("height") or 0)
    return get_json(server, f"/api/features/{best['id']}")


def _center(feature: dict) -> tuple[float, float]:
    b = feature["bbox"]
    return (b[0] + b[2]) / 2, (b[1] + b[3]) / 2


def _pick(overview, x: float, y: float) -> dict | None:
    """What the deck picks at map pixel x, y: {layer, coordinate}."""
    return overview.page.evaluate("([x, y]) => window.cim.pickAt(x, y)", [x, y])


def _look_at(overview, feature: dict, zoom: float = 17) -> None:
    lon, lat = _center(feature)
    overview.page.evaluate("([lon, lat, zoom]) => window.cim.flyTo([lon, lat], {zoom, duration: 200})",
                           [lon, lat, zoom])
    overview.settle()


def _open_compare(overview) -> None:
    overview.page.click("#compare-toggle")
    overview.page.wait_for_function("document.getElementById('compare-bar').dataset.ready === 'true'")
    overview.settle()


def _choose_time(overview, side: str, iso_local: str) -> None:
    """Pick 'a time…' for a side and enter it (local time, as the datetime input takes it)."""
    overview.page.select_option(f"#compare-{side}", "time")
    overview.page.fill(f"#compare-{side}-time", iso_local)
    overview.page.locator(f"#compare-{side}-time").dispatch_event("change")
    overview.page.wait_for_function(
        f"document.getElementById('compare-bar').dataset.{side}.startsWith('t:')")
    overview.page.wait_for_function("document.getElementById('compare-bar').dataset.ready === 'true'")
    overview.settle()


def _datetimes(traffic, layer: str) -> set[str | None]:
    """The datetime= of every vector tile request of `layer` so far (None: without one)."""
    out = set()
    for url in traffic.local:
        parts = urlsplit(url)
        if parts.path.startswith(f"/collections/{layer}/tiles/"):
            out.add(parse_qs(parts.query).get("datetime", [None])[0])
    return out


def _local_time(overview, offset_s: float) -> str:
    """'YYYY-MM-DDTHH:MM:SS' in the browser's zone, `offset_s` seconds from now."""
    return overview.page.evaluate(
        "(s) => { const d = new Date(Date.now() + s * 1000); const p = (n) => String(n).padStart(2, '0');"
        " return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:"
        "${p(d.getMinutes())}:${p(d.getSeconds())}`; }", offset_s)


def test_swipe_shows_side_a_left_of_the_handle_and_side_b_right_of_it(overview, traffic, server):
    building = _tallest(server)
    overview.open("plan", api_key=ADMIN_KEY)
    _look_at(overview, building)
    _open_compare(overview)
    versions = _has(server, "/api/versions?layer=buildings")
    if not versions:
        assert "/api/versions" in overview.page.locator("#compare-message").inner_text()
        _choose_time(overview, "a", _local_time(overview, -1))
    a_side = overview.page.locator("#compare-bar").get_attribute("data-a")
    assert a_side != "now"
    expected_a = a_side.split(":", 2)[2] if a_side.startswith("v:") else None
    layers = overview.page.evaluate("window.cim.deck.props.layers.map(l => l.id)")
    assert "city-buildings@a" in layers and "city-buildings@b" in layers
    asked = _datetimes(traffic, "buildings")
    assert None in asked and any(d for d in asked), f"side A asked for no past tiles: {asked}"
    if expected_a:
        assert expected_a in asked

    # the building's roof, seen through each side of the handle
    box = overview.page.locator("#map").bounding_box()
    lon, lat = _center(building)
    x, y = overview.page.evaluate("([lon, lat, z]) => window.cim.project(lon, lat, z)",
                                  [lon, lat, building["height"] * 0.8])
    handle = overview.page.locator("#swipe-handle")
    hb = handle.bounding_box()

    def drag_handle_to(px: float) -> None:
        start = handle.bounding_box()
        overview.page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
        overview.page.mouse.down()
        overview.page.mouse.move(box["x"] + px, start["y"] + start["height"] / 2, steps=5)
        overview.page.mouse.up()
        overview.page.wait_for_timeout(300)

    assert hb is not None
    drag_handle_to(min(box["width"] - 20, x + 150))  # the building is left of the handle: side A
    left = _pick(overview, x, y)
    drag_handle_to(max(20, x - 150))  # now right of it: side B
    right = _pick(overview, x, y)
    overview.screenshot(artifact("viewer-compare-swipe.png"))
    assert left and left["layer"] == "city-buildings@a", left
    assert right and right["layer"] == "city-buildings@b", right
    if versions:  # the diff of version 1 to now: exactly the edits made
        counts = {k: overview.page.locator(f"#compare-summary [data-change={k}]").inner_text()
                  for k in ("added", "removed", "modified")}
        assert counts == {"added": "新增 0", "removed": "删除 1", "modified": "修改 3"}
        assert "compare-diff" in overview.page.evaluate("window.cim.deck.props.layers.map(l => l.id)")
    _assert_clean(traffic)


def test_side_by_side_views_move_together_and_draw_one_side_each(overview, traffic, server):
    building = _tallest(server)
    overview.open("plan", api_key=ADMIN_KEY)
    _look_at(overview, building)
    _open_compare(overview)
    overview.page.select_option("#compare-view", "split")
    overview.page.wait_for_function("document.body.dataset.compare === 'split'")
    overview.settle()
    lon, lat = _center(building)
    views = overview.page.evaluate(
        "([lon, lat]) => window.cim.deck.getViewports().map(v => ({id: v.id, x: v.x, width: v.width,"
        " p: v.project([lon, lat, 0]), lon: v.longitude}))", [lon, lat])
    assert [v["id"] for v in views] == ["a", "b"]
    a, b = views
    assert b["x"] == pytest.approx(a["width"], abs=1)
    assert b["p"][0] == pytest.approx(a["p"][0], abs=1) and b["p"][1] == pytest.approx(a["p"][1], abs=1)

    # each half draws its own side
    x, y = a["p"][0], a["p"][1]
    roof = overview.page.evaluate("([lon, lat, z]) => window.cim.project(lon, lat, z)",
                                  [lon, lat, building["height"] * 0.8])
    left = _pick(overview, roof[0], roof[1])
    right = _pick(overview, roof[0] + b["x"], roof[1])
    assert left and left["layer"] == "city-buildings@a", left
    assert right and right["layer"] == "city-buildings@b", right

    # dragging the left view moves the right one with it
    box = overview.page.locator("#map").bounding_box()
    overview.page.mouse.move(box["x"] + x, box["y"] + y + 60)
    overview.page.mouse.down()
    overview.page.mouse.move(box["x"] + x - 120, box["y"] + y + 20, steps=8)
    overview.page.mouse.up()
    overview.settle()
    moved = overview.page.evaluate(
        "window.cim.deck.getViewports().map(v => ({lon: v.longitude, lat: v.latitude, zoom: v.zoom}))")
    assert moved[0]["lon"] != pytest.approx(a["lon"], abs=1e-7), "the drag did not move the view"
    assert moved[1] == pytest.approx(moved[0], abs=1e-9)
    overview.screenshot(artifact("viewer-compare-split.png"))

    # back to one view
    overview.page.click("#compare-toggle")
    overview.page.wait_for_function("document.body.dataset.compare === ''")
    assert overview.page.evaluate("window.cim.deck.getViewports().length") == 1
    _assert_clean(traffic)


def test_a_horizontal_section_cuts_the_buildings_above_its_elevation(overview, traffic, server):
    building = _tallest(server)
    overview.open("plan", api_key=ADMIN_KEY)
    _look_at(overview, building, zoom=16)  # its roof in view
    lon, lat = _center(building)
    top = building["height"]
    x, y = overview.page.evaluate("([lon, lat, z]) => window.cim.project(lon, lat, z)", [lon, lat, top])
    whole = _pick(overview, x, y)
    assert whole and whole["layer"] == "city-buildings", whole
    assert whole["coordinate"][2] == pytest.approx(top, abs=1.5)
    before = overview.map_png()

    overview.page.click("#section-toggle")
    cut = round(top / 2)
    overview.page.locator("#section-range").evaluate(
        "(el, v) => { el.value = String(v); el.dispatchEvent(new Event('input')); }", cut)
    overview.page.wait_for_function(f"document.getElementById('section-bar').dataset.value === '{cut}'")
    overview.settle()
    after = _pick(overview, x, y)
    # the roof is gone: the pick reaches through to what is below the plane, or to nothing
    assert after is None or after["coordinate"] is None or after["coordinate"][2] <= cut + 0.5, after
    assert overview.map_png() != before
    overview.screenshot(artifact("viewer-section.png"))

    overview.page.click("#section-toggle")  # off: the roof is back
    overview.settle()
    again = _pick(overview, x, y)
    assert again and again["coordinate"][2] == pytest.approx(top, abs=1.5)
    _assert_clean(traffic)


def test_height_measurement_reads_a_buildings_height_from_ground_to_roof(overview, traffic, server):
    building = _tallest(server)
    overview.open("plan", api_key=ADMIN_KEY)
    _look_at(overview, building, zoom=16)
    lon, lat = _center(building)
    b = building["bbox"]
    ground = (b[0] - (b[2] - b[0]) * 0.8, lat)  # beside the building
    overview.page.click("[data-measure=height]")
    readout = overview.page.locator("#measure-readout")
    for point, z in ((ground, 0.0), ((lon, lat), building["height"])):
        before = int(readout.get_attribute("data-points") or 0) if readout.is_visible() else 0
        overview.click_map(point[0], point[1], z)
        overview.page.wait_for_function(
            f"Number(document.getElementById('measure-readout').dataset.points || 0) > {before}")
    # the picked points come from the depth buffer: a few decimetres per hundred metres of error
    ground_z, roof_z = json.loads(readout.get_attribute("data-elevations"))
    assert ground_z == 0  # flat ground layers lie at z = 0
    assert roof_z == pytest.approx(building["height"], rel=0.02)
    height = float(readout.get_attribute("data-height"))
    assert height == pytest.approx(roof_z - ground_z) and height == pytest.approx(building["height"], rel=0.02)
    assert "高差" in readout.inner_text()
    _assert_clean(traffic)


def test_the_time_slider_moves_the_map_layers_too(overview, traffic, server):
    overview.open("plan", api_key=ADMIN_KEY)
    assert _datetimes(traffic, "buildings") == {None}
    overview.set_time(0.999)
    overview.page.wait_for_function("document.getElementById('time-map').dataset.datetime")
    overview.settle()
    shown = overview.page.locator("#time-map").get_attribute("data-datetime")
    note = overview.page.locator("#time-map").inner_text()
    starts = overview.page.evaluate("window.cim.state.layerStart")
    for name in ("parcels", "buildings"):  # drawn in plan mode
        if name in starts and starts[name] > _ms(shown):
            # the layer did not exist yet: named in the note, not asked for (its tiles would be 404)
            assert name in note and shown not in _datetimes(traffic, name)
        else:
            assert shown in _datetimes(traffic, name), f"{name} tiles were not asked for at {shown}"
    overview.set_time(1.0)
    overview.page.wait_for_function("document.getElementById('time-map').hidden")
    _assert_clean(traffic)


def _ms(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000


def _listed(overview) -> list[str]:
    overview.page.wait_for_function("document.body.dataset.annotations === 'loaded'")
    return overview.page.locator("#annotation-list li[data-id]").evaluate_all("els => els.map(e => e.dataset.id)")


def test_an_annotation_written_in_the_viewer_is_stored_and_read_by_allowed_roles_only(
        browser, overview, traffic, server):
    city = get_json(server, "/api/city")
    w, s, e, n = city["bbox"]
    spot = (w + (e - w) * 0.55, s + (n - s) * 0.5)
    overview.open("plan", api_key=ADMIN_KEY)
    overview.page.click("#annotate-toggle")
    overview.page.wait_for_selector("#annotation-form:not([hidden])")
    overview.click_map(*spot)
    overview.page.wait_for_function("document.getElementById('annotation-form').dataset.points === '1'")
    overview.page.fill("#annotation-text", "东侧围挡破损，需复查")
    overview.page.select_option("#annotation-role", "operator")
    overview.page.click("#annotation-save")
    overview.page.wait_for_function("document.getElementById('annotation-form').dataset.saved")
    made = overview.page.locator("#annotation-form").get_attribute("data-saved")

    stored = get_json(server, f"/api/annotations/{made}", ADMIN_KEY)
    assert stored["text"] == "东侧围挡破损，需复查" and stored["min_role"] == "operator"
    assert stored["author"] == "admin" and stored["kind"] == "point"
    assert stored["geometry"]["coordinates"] == pytest.approx(list(spot), abs=2e-5)
    assert made in _listed(overview)

    overview.page.reload()
    overview.wait_ready()
    assert made in _listed(overview)

    def listed_as(key: str | None) -> list[str]:
        context = browser.new_context(viewport={"width": 1400, "height": 850}, locale="zh-CN")
        traffic.guard(context)
        page = context.new_page()
        traffic.listen(page)
        if key:
            page.add_init_script(f"localStorage.setItem('cim.apiKey', {key!r});")
        page.goto(server + "/#plan")
        page.wait_for_function("document.body.dataset.annotations === 'loaded'", timeout=60_000)
        ids = page.locator("#annotation-list li[data-id]").evaluate_all("els => els.map(e => e.dataset.id)")
        context.close()
        return ids

    assert made in listed_as(OPERATOR_KEY)
    assert made not in listed_as(None)  # anonymous is below the operator role
    req = urllib.request.Request(server + "/api/annotations")
    with urllib.request.urlopen(req, timeout=30) as res:
        assert made not in [a["id"] for a in json.loads(res.read())["annotations"]]
    _assert_clean(traffic)


def _bim_picks(overview, cells: list[tuple[int, int]]) -> list[tuple[int, int, float]]:
    """(x, y, z) of every map pixel in `cells` where a BIM model (a 3D tileset) is picked."""
    return overview.page.evaluate(
        "(cells) => cells.map(([x, y]) => [x, y, window.cim.pickAt(x, y)])"
        ".filter(([, , r]) => r && r.layer && r.layer.startsWith('3d-') && r.coordinate)"
        ".map(([x, y, r]) => [x, y, r.coordinate[2]])", cells)


def test_a_horizontal_section_cuts_the_bim_model_above_its_elevation(overview, traffic):
    overview.open("build", api_key=ADMIN_KEY)  # build mode opens on the worksite with its BIM tower
    box = overview.page.locator("#map").bounding_box()
    # a pick with depth is ~0.1 s in software WebGL: a 40 px grid (~250 picks) over the worksite
    cells = [(x, y) for x in range(int(box["width"] * 0.3), int(box["width"] * 0.75), 40)
             for y in range(int(box["height"] * 0.15), int(box["height"] * 0.9), 40)]
    before = _bim_picks(overview, cells)
    cut = 5.0
    assert any(z > cut + 3 for _, _, z in before), f"no BIM storey above {cut} m in view: {before[:5]}"
    overview.page.click("#section-toggle")
    overview.page.locator("#section-range").evaluate(
        "(el, v) => { el.value = String(v); el.dispatchEvent(new Event('input')); }", cut)
    overview.page.wait_for_function(f"document.getElementById('section-bar').dataset.value === '{cut:g}'")
    overview.settle()
    after = _bim_picks(overview, cells)
    overview.screenshot(artifact("viewer-section-bim.png"))
    assert after, "the section cut the whole model away"
    assert max(z for _, _, z in after) <= cut + 0.5, sorted(z for _, _, z in after)[-5:]
    _assert_clean(traffic)
