"""Browser tests of the viewer: a small demo city, the real server (`cim serve`) on a free loopback
port, and Debian chromium driven by playwright with software WebGL.

Every page is guarded: requests that would leave 127.0.0.1 are aborted and recorded, console errors
are collected, and the tests assert both lists are empty.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cim.testing import cim_serve
from cim.testing import need as _need

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "viewer" / "testing"))

from overview_page import CHROMIUM, OverviewPage, Traffic, chromium  # noqa: E402

ADMIN_KEY = "viewer-test-admin-key"
OPERATOR_KEY = "viewer-test-operator-key"
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="module")
def viewer_city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo city (about 400 buildings) built for this module."""
    from cim.demo import build_demo

    path = tmp_path_factory.mktemp("viewer") / "city.duckdb"
    build_demo(path, scale=400).close()
    return path


@contextmanager
def serving(city: Path, log: Path, *extra: str) -> Iterator[str]:
    """`cim serve CITY` on a free loopback port with the test keys (and `extra` options); its base URL."""
    _need((ROOT / "viewer" / "dist" / "index.html").is_file(), "the viewer is not built: run `make viewer`")
    keys = json.dumps({ADMIN_KEY: "admin", OPERATOR_KEY: "operator"})
    with cim_serve([str(city), "--api-keys", keys, "--log-level", "warning", *extra], log, probe="/api/city",
                   cwd=ROOT) as base:
        yield base


@pytest.fixture(scope="module")
def server(viewer_city: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`cim serve` on a free loopback port; yields its base URL."""
    with serving(viewer_city, tmp_path_factory.mktemp("serve") / "serve.log") as base:
        yield base


DUST_STREAM = "viewer-test.dust.pm10"


def build_city_with_dust_monitor(path: Path) -> Path:
    """The small demo city plus one dust monitor (扬尘监测 1) on a building, a PM10 alarm rule above
    150 ug/m3 and four hours of quiet readings."""
    import pyarrow as pa

    from cim.demo import build_demo
    from cim.iot import Rule, add_rules, register_sensors, write_observations

    city = build_demo(path, scale=400)
    try:
        first = "SELECT id FROM features WHERE layer = 'buildings' AND valid_to IS NULL ORDER BY id LIMIT 1"
        building = city.sql(first, output="pandas")["id"][0]
        made = register_sensors(city, [{"key": "viewer-test.dust", "name": "扬尘监测 1", "feature": building,
                                        "datastreams": [{"key": DUST_STREAM, "property": "pm10", "unit": "ug/m3"}]}])
        add_rules(city, [Rule("viewer-test-dust", "above", "alarm", property="pm10", threshold=150, clear=120,
                              message="PM10 超标")])
        now = datetime.now(UTC)
        times = [now - timedelta(minutes=10 * i) for i in range(24, 0, -1)]
        write_observations(city, pa.table({
            "datastream_id": pa.array([made.datastreams[DUST_STREAM]] * len(times), pa.int64()),
            "phenomenon_time": pa.array(times, pa.timestamp("us", tz="UTC")),
            "result": pa.array([40.0 + (i % 6) * 5 for i in range(len(times))], pa.float64()),
        }))
    finally:
        city.close()
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian chromium, headless, software WebGL; never a downloaded browser."""
    _need(Path(CHROMIUM).is_file(), f"{CHROMIUM} is missing: scripts/install-system.sh installs Debian chromium")
    with chromium() as b:
        yield b


@pytest.fixture
def traffic() -> Traffic:
    return Traffic()


@pytest.fixture
def overview(browser: object, server: str, traffic: Traffic) -> Iterator[OverviewPage]:
    """A fresh guarded page on the viewer (1400×850)."""
    context = browser.new_context(viewport={"width": 1400, "height": 850}, locale="zh-CN")
    traffic.guard(context)
    page = context.new_page()
    page.set_default_timeout(30_000)
    traffic.listen(page)
    yield OverviewPage(page, server)
    context.close()


def artifact(name: str) -> str:
    """Path under test-artifacts/ (gitignored) for a screenshot."""
    ARTIFACTS.mkdir(exist_ok=True)
    return str(ARTIFACTS / name)


def assert_clean(traffic: Traffic) -> None:
    """Nothing left 127.0.0.1, the console stayed clean, and the guard did see the page's requests."""
    assert traffic.outside == [], f"requests left 127.0.0.1: {traffic.outside[:5]}"
    assert traffic.console_errors == [], f"console errors: {traffic.console_errors[:5]}"
    assert traffic.local, "the page made no request at all: the guard saw nothing"


def get_json(base: str, path: str, key: str | None = None) -> object:
    """GET JSON from the server under test (as the viewer would)."""
    req = urllib.request.Request(base + path, headers={"X-API-Key": key} if key else {})
    with urllib.request.urlopen(req, timeout=30) as res:
        return json.loads(res.read().decode("utf-8"))
