"""Live data in the viewer: a reading that breaks a rule raises an alert that appears in the operate
panel without reload; the sensor turns to alarm; the alert flies to its sensor with a sparkline;
the time slider hides alerts opened after the chosen time."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.viewer.conftest import (
    ADMIN_KEY,
    DUST_STREAM,
    OPERATOR_KEY,
    artifact,
    assert_clean,
    build_city_with_dust_monitor,
    get_json,
)


@pytest.fixture(scope="module")
def viewer_city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small demo city with one dust monitor, a PM10 rule and a few hours of readings."""
    return build_city_with_dust_monitor(tmp_path_factory.mktemp("viewer-live") / "city.duckdb")


def _post_reading(base: str, datastream_id: int, value: float) -> None:
    body = json.dumps({"Datastream": {"@iot.id": datastream_id}, "result": value,
                       "phenomenonTime": datetime.now(UTC).isoformat()}).encode()
    req = urllib.request.Request(f"{base}/sta/v1.1/Observations", data=body, method="POST",
                                 headers={"Content-Type": "application/json", "X-API-Key": OPERATOR_KEY})
    with urllib.request.urlopen(req, timeout=30) as res:
        assert res.status in (200, 201)


def _stream(server: str) -> dict:
    sensors = get_json(server, "/api/sensors/latest", ADMIN_KEY)
    return next(s for s in sensors if s.get("key") == DUST_STREAM or s["name"] == DUST_STREAM)


def test_an_alert_raised_by_a_posted_reading_appears_in_the_operate_list_without_reload(overview, traffic, server):
    sensor = _stream(server)
    overview.open("operate", api_key=ADMIN_KEY)
    overview.page.wait_for_function("window.cim.live === true", timeout=20_000)
    overview.page.evaluate("window.__sameDocument = true")
    before = set(overview.alert_ids())
    _post_reading(server, sensor["datastream_id"], 320.0)
    raised = {str(a["id"]) for a in get_json(server, "/api/alerts?state=open", ADMIN_KEY)
              if a["datastream_id"] == sensor["datastream_id"]}
    assert raised, "the reading above the rule's threshold raised no alert"
    overview.page.wait_for_function(
        f"document.querySelectorAll('#alert-list li.alert').length >= {len(before | raised)}", timeout=20_000)
    assert overview.page.evaluate("window.__sameDocument") is True
    new = set(overview.alert_ids()) - before
    assert new == raised, f"the list shows {new}, the server raised {raised}"
    overview.page.wait_for_function(
        f"window.cim.state.sensors.some(s => s.datastream_id === {sensor['datastream_id']} && s.status === 'alarm')")
    assert "PM10" in overview.page.locator("#alert-list").inner_text()

    overview.page.locator(f"#alert-list li[data-alert-id='{new.pop()}']").click()
    overview.page.wait_for_selector("#sparkline svg", timeout=20_000)
    points = int(overview.page.locator("#sparkline svg").get_attribute("data-points"))
    assert points >= 10
    assert "扬尘监测 1" in overview.page.locator("#panel-title").inner_text()
    overview.screenshot(artifact("viewer-operate-live-alert.png"))
    assert_clean(traffic)


def test_the_time_slider_hides_alerts_opened_after_the_chosen_time(overview, traffic, server):
    sensor = _stream(server)
    _post_reading(server, sensor["datastream_id"], 400.0)
    open_alerts = get_json(server, "/api/alerts?state=open", ADMIN_KEY)
    assert open_alerts, "the reading above the rule's threshold raised no alert"
    overview.open("operate", api_key=ADMIN_KEY)
    overview.page.wait_for_selector("#alert-list li.alert")
    count = "document.querySelectorAll('#alert-list li.alert').length"
    assert overview.set_time(0.0) != "现在"
    overview.page.wait_for_function(f"{count} === 0")
    assert overview.set_time(1.0) == "现在"
    overview.page.wait_for_function(f"{count} === {len(open_alerts)}")
    assert_clean(traffic)


def test_a_reading_reaches_an_anonymous_page_through_eventsource(overview, traffic, server):
    sensor = _stream(server)
    overview.open("operate")
    overview.page.wait_for_function("window.cim.live === true", timeout=20_000)
    _post_reading(server, sensor["datastream_id"], 77.5)
    overview.page.wait_for_function(
        f"window.cim.state.sensors.some(s => s.datastream_id === {sensor['datastream_id']} && s.value === 77.5)",
        timeout=20_000)
    assert_clean(traffic)
