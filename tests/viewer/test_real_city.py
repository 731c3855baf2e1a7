"""The one screen on cities made from real files (not the demo): it opens on the city, each mode's
legend names only what the city has, and the map draws — screenshots of each mode are kept."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from overview_page import OverviewPage

from tests.realcity.conftest import delft_path as delft_path
from tests.realcity.conftest import qingdao_path as qingdao_path
from tests.viewer.conftest import artifact, assert_clean, get_json, serving

DEMO_ONLY = ("停车场", "Parking", "综合管廊", "Utility tunnel", "施工工地", "Worksite", "充电桩", "告警", "Alert")


@pytest.fixture(scope="module")
def delft_server(delft_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(delft_path, tmp_path_factory.mktemp("serve") / "serve.log") as base:
        yield base


def _page(browser, base: str, traffic) -> OverviewPage:
    context = browser.new_context(viewport={"width": 1400, "height": 850}, locale="zh-CN")
    traffic.guard(context)
    page = context.new_page()
    page.set_default_timeout(60_000)
    traffic.listen(page)
    return OverviewPage(page, base)


def test_each_mode_on_delft_frames_the_city_and_lists_only_what_it_has(browser, delft_server, traffic):
    w, s, e, n = get_json(delft_server, "/api/city")["bbox"]
    view = _page(browser, delft_server, traffic).open("plan")
    view.settle()
    state = view.view_state()
    assert w <= state["longitude"] <= e and s <= state["latitude"] <= n and state["zoom"] > 13
    for mode in ("plan", "build", "manage", "operate"):
        view.switch_mode(mode)
        view.settle()
        view.screenshot(artifact(f"delft-{mode}.png"))
        legend = " ".join(view.legend_texts())
        assert not [word for word in DEMO_ONLY if word in legend], (mode, legend)
    view.switch_mode("plan")
    view.settle()
    assert "建筑体量" in " ".join(view.legend_texts())
    assert view.map_spread()[1] > 0.02  # the buildings are drawn
    assert_clean(traffic)
    view.page.context.close()


def test_a_city_with_a_national_dem_opens_on_its_districts_not_on_china(browser, qingdao_path, traffic,
                                                                       tmp_path):
    with serving(qingdao_path, tmp_path / "serve.log") as base:
        view = _page(browser, base, traffic).open("plan")
        view.settle()
        state = view.view_state()
        assert 119.4 < state["longitude"] < 121.2 and 35.5 < state["latitude"] < 37.2 and state["zoom"] > 7
        view.screenshot(artifact("qingdao-plan.png"))
        view.page.context.close()
