"""The same live path over MQTT: a reading published to a real mosquitto is stored by the server's
in-process listener (`cim serve --mqtt`), breaks the PM10 rule, and the alert appears in the
operate panel without reload."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.viewer.conftest import (
    ADMIN_KEY,
    DUST_STREAM,
    artifact,
    assert_clean,
    build_city_with_dust_monitor,
    get_json,
    serving,
)


@pytest.fixture(scope="module")
def viewer_city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_city_with_dust_monitor(tmp_path_factory.mktemp("viewer-mqtt") / "city.duckdb")


@pytest.fixture(scope="module")
def prefix(viewer_city: Path) -> str:
    """The city's MQTT topic prefix (cim/<city name>), read before the server takes the file."""
    import cim
    from cim.iot.mqtt import topic_prefix

    city = cim.open(viewer_city, read_only=True)
    try:
        return topic_prefix(city)
    finally:
        city.close()


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A real mosquitto on a free loopback port."""
    if not shutil.which("mosquitto") and not Path("/usr/sbin/mosquitto").exists():
        if os.environ.get("CI") == "true":
            pytest.fail("mosquitto is missing: run scripts/install-system.sh")
        pytest.skip("mosquitto is not installed")
    from cim.iot.broker import LocalBroker

    with LocalBroker(tmp_path_factory.mktemp("broker")) as b:
        yield b


@pytest.fixture(scope="module")
def server(viewer_city: Path, prefix: str, broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(viewer_city, tmp_path_factory.mktemp("serve") / "serve.log", "--mqtt", broker.address) as base:
        yield base


def test_an_alert_published_over_mqtt_appears_in_the_operate_panel_without_reload(overview, traffic, server,
                                                                                   broker, prefix):
    from cim.iot.publish import Publisher

    sensor = next(s for s in get_json(server, "/api/sensors/latest", ADMIN_KEY) if s.get("key") == DUST_STREAM)
    overview.open("operate", api_key=ADMIN_KEY)
    overview.page.wait_for_function("window.cim.live === true", timeout=20_000)
    overview.page.evaluate("window.__sameDocument = true")
    before = set(overview.alert_ids())

    with Publisher(broker.address) as pub:
        pub.observation(prefix, DUST_STREAM, datetime.now(UTC).isoformat(), 410.0)
        assert pub.flush(30), "mosquitto did not acknowledge the reading"

    overview.page.wait_for_function(
        f"window.cim.state.sensors.some(s => s.datastream_id === {sensor['datastream_id']} && s.value === 410)",
        timeout=30_000)
    raised = {str(a["id"]) for a in get_json(server, "/api/alerts?state=open", ADMIN_KEY)
              if a["datastream_id"] == sensor["datastream_id"]}
    assert raised, "the reading above the rule's threshold raised no alert"
    overview.page.wait_for_function(
        f"document.querySelectorAll('#alert-list li.alert').length >= {len(before | raised)}", timeout=20_000)
    assert overview.page.evaluate("window.__sameDocument") is True
    assert set(overview.alert_ids()) - before == raised
    assert "PM10 超标" in overview.page.locator("#alert-list").inner_text()
    overview.screenshot(artifact("viewer-operate-mqtt-alert.png"))
    assert_clean(traffic)
