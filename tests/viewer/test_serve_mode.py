"""服 (public service) mode in a real browser: population per grid cell from the demo city's synthetic
residents, occupancy cards, and a picked building's units — with residents masked for an operator and
without them for an anonymous visitor."""

from __future__ import annotations

import re

from tests.viewer.conftest import OPERATOR_KEY, artifact, assert_clean, get_json


def _populated_building(server: str) -> dict:
    rows = get_json(server, "/api/people/population?by=building", OPERATOR_KEY)["features"]
    best = max(rows, key=lambda f: f["properties"]["residents"] or 0)
    return get_json(server, f"/api/features/{best['id']}")


def test_serve_mode_draws_population_density_with_cards_and_a_legend(overview, traffic, server):
    overview.open("serve")
    stddev, unlike = overview.map_spread()
    overview.screenshot(artifact("viewer-serve.png"))
    assert stddev > 8 and unlike > 0.05, "the 服 map looks blank"
    legend = overview.legend_texts()
    assert any(line.startswith("≥") for line in legend) and "不足5人（不公开）" in legend
    published = get_json(server, "/api/people/population?by=grid&cell=200")
    total = sum(f["properties"]["residents"] or 0 for f in published["features"])
    cards = " ".join(overview.kpi_texts()).replace(",", "")
    assert total > 0 and str(total) in cards, (total, cards)
    assert_clean(traffic)


def test_a_picked_building_lists_its_units_masked_for_an_operator(overview, traffic, server):
    building = _populated_building(server)
    overview.open("serve", api_key=OPERATOR_KEY)
    assert building["id"] in overview.search(building["name"])
    overview.choose_result(building["id"])
    overview.page.wait_for_function(f"window.cim.selected === {building['id']!r}")
    overview.page.wait_for_selector("#panel section.units")
    text = overview.page.locator("#panel section.units").inner_text()
    assert re.search(r"9900\*{10}\d{3}[\dX]", text), text[:400]  # ID numbers masked
    assert not re.search(r"990000\d{11}[\dX]", text)  # never in full
    overview.screenshot(artifact("viewer-serve-units.png"))
    assert_clean(traffic)
