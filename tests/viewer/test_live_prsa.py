"""A city built from the real PRSA air-quality files: three Beijing stations bound as Things at the
coordinates of prsa_stations.csv, February 2017 loaded with --timezone Asia/Shanghai, one rule there
while the data arrived and one added afterwards with --backfill.

Checked against independent pandas computations: day buckets (local midnight in Beijing) and the alert
open/close times of both rules; in Chromium: the time slider reaches 2017 and rests on the last reading,
times show on Beijing's clock, the figures are not stuck at red, and every station's sparkline draws.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd
import pytest

from tests.conftest import sample
from tests.iot.reference import alerts_above
from tests.viewer.conftest import assert_clean, get_json

ZONE = "Asia/Shanghai"
STATIONS = ("Aotizhongxin", "Dongsi", "Tiantan")
#: (name, datastream suffix, file column, threshold, clear, level): one rule on ingest, one backfilled
PM10_RULE = ("pm10-high", "pm10", "PM10", 300.0, 250.0, "warn")
PM25_RULE = ("pm25-alarm", "pm25", "PM2.5", 150.0, 115.0, "alarm")


def _cim(*args: str) -> str:
    run = subprocess.run([sys.executable, "-m", "cim", *args], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    return run.stdout


def _month(station: str) -> pd.DataFrame:
    """February 2017 of one station's file, as the file has it (local times, NA markers)."""
    frame = pd.read_csv(sample(f"iot/PRSA_Data_{station}_20130301-20170228.csv"))
    return frame[(frame.year == 2017) & (frame.month == 2)].reset_index(drop=True)


def _rules_yaml(path: Path, rule: tuple) -> Path:
    name, suffix, _col, threshold, clear, level = rule
    prop = {"pm10": "pm10", "pm25": "pm2_5"}[suffix]
    path.write_text(f"rules:\n  - {{name: {name}, kind: above, property: {prop}, threshold: {threshold}, "
                    f"clear: {clear}, level: {level}}}\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def viewer_city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The PRSA city, made with the command line as a bureau would."""
    folder = tmp_path_factory.mktemp("prsa")
    stations = pd.read_csv(sample("iot/prsa_stations.csv"))
    city = str(folder / "bj.duckdb")
    _cim("init", city, "--crs", "EPSG:4547", "--timezone", ZONE, "--name", "北京空气")
    (folder / "stations.csv").write_text("station,name,wkt\n" + "".join(
        f"{s},{n},POINT ({x} {y})\n" for s, n, x, y in
        zip(stations.station, stations.name_zh, stations.lon, stations.lat, strict=True)), encoding="utf-8")
    _cim("ingest", city, str(folder / "stations.csv"), "--layer", "stations", "--id-field", "station",
         "--source-crs", "EPSG:4326", "--class", "Station", "--phase", "operate")
    things = "".join(
        f"  - key: {s.lower()}\n    name: {n}\n    feature: stations.{s}\n    location: {{lon: {x}, lat: {y}}}\n"
        f"    datastreams:\n      - {{key: {s.lower()}.pm25, property: pm2_5, unit: ug/m3}}\n"
        f"      - {{key: {s.lower()}.pm10, property: pm10, unit: ug/m3}}\n"
        f"      - {{key: {s.lower()}.co, property: co, unit: mg/m3}}\n"
        for s, n, x, y in zip(stations.station, stations.name_zh, stations.lon, stations.lat, strict=True))
    (folder / "sensors.yaml").write_text("things:\n" + things, encoding="utf-8")
    _cim("iot", "register", city, str(folder / "sensors.yaml"))
    _cim("iot", "rules", city, str(_rules_yaml(folder / "ingest-rules.yaml", PM10_RULE)))
    for station in STATIONS:
        month = folder / f"{station}-2017-02.csv"
        _month(station).to_csv(month, index=False, na_rep="NA")
        key = station.lower()
        out = _cim("iot", "load", city, str(month), "--timezone", ZONE, "--time-parts", "year,month,day,hour",
                   "--column", f"PM2.5={key}.pm25", "--column", f"PM10={key}.pm10", "--column", f"CO={key}.co:ug/m3")
        assert "read 2016" in out  # 28 days × 24 hours × 3 columns
    backfilled = _cim("iot", "rules", city, str(_rules_yaml(folder / "later-rules.yaml", PM25_RULE)), "--backfill")
    assert "backfilled 1 rules" in backfilled
    return Path(city)


@pytest.fixture
def city(viewer_city: Path):
    """The city read-only, closed after each test (the server opens the file for writing later)."""
    import cim

    c = cim.open(viewer_city, read_only=True)
    yield c
    c.close()


def _readings(station: str, column: str) -> pd.DataFrame:
    """One column of the month as (UTC time, value), missing values dropped — computed with pandas only."""
    month = _month(station)
    local = pd.to_datetime(month[["year", "month", "day", "hour"]])
    frame = pd.DataFrame({"local": local, "v": pd.to_numeric(month[column], errors="coerce")}).dropna()
    frame["t"] = frame["local"].dt.tz_localize(ZONE).dt.tz_convert("UTC")
    return frame.reset_index(drop=True)


@pytest.mark.parametrize("station", STATIONS)
def test_day_buckets_match_a_pandas_computation_on_beijing_days(city, station):
    from cim.iot import series

    frame = _readings(station, "PM2.5")
    days = frame.groupby(frame["local"].dt.date)["v"].agg(["mean", "min", "max", "count"])
    expected_times = [pd.Timestamp(d).tz_localize(ZONE).tz_convert("UTC") for d in days.index]
    table = series(city, f"{station.lower()}.pm25", bucket="1d").to_pandas()
    assert len(table) == 28 and list(table["time"]) == expected_times
    assert expected_times[0] == pd.Timestamp("2017-01-31T16:00:00Z")  # 1 February begins at 16:00 UTC
    assert list(table["count"]) == list(days["count"])
    assert np.allclose(table["value"], days["mean"]) and np.allclose(table["min"], days["min"])
    assert np.allclose(table["max"], days["max"])


@pytest.mark.parametrize("rule", [PM10_RULE, PM25_RULE], ids=["on-ingest", "backfilled"])
@pytest.mark.parametrize("station", STATIONS)
def test_alert_open_and_close_times_match_a_pandas_recomputation(city, station, rule):
    from cim.iot import datastream_id, list_alerts

    name, suffix, column, threshold, clear, level = rule
    ds = datastream_id(city, f"{station.lower()}.{suffix}")
    got = sorted((a["opened_at"], a["cleared_at"], a["value"]) for a in list_alerts(city, limit=100_000)
                 if a["datastream_id"] == ds and a["rule"] == name)
    expected = alerts_above(_readings(station, column), threshold=threshold, clear=clear)
    assert got == expected and len(expected) >= 1
    closed = [a for a in list_alerts(city, limit=100_000) if a["datastream_id"] == ds and a["cleared_at"]]
    assert all(a["state"] == "closed" and a["closed_at"] == a["cleared_at"] for a in closed)


def test_the_operate_figures_at_the_last_reading_count_what_was_current_then(server):
    period = get_json(server, "/api/sensors/period")
    assert period["timezone"] == ZONE and period["live"] is False
    assert period["first"].startswith("2017-01-31T16:00") and period["last"].startswith("2017-02-28T15:00")
    last = datetime.fromisoformat(period["last"])
    figures = {k["key"]: k for k in get_json(server, f"/api/kpis?mode=operate&at={quote(period['last'])}")}
    every = get_json(server, "/api/alerts?limit=10000")
    ended = [a for a in every if a["cleared_at"]]
    assert ended and all(a["state"] == "closed" for a in ended)  # nothing that ended stays red
    current = [a for a in every if datetime.fromisoformat(a["opened_at"]) <= last
               and (a["cleared_at"] is None or datetime.fromisoformat(a["cleared_at"]) > last)]
    assert figures["alerts_alarm"]["value"] == sum(1 for a in current if a["level"] == "alarm")
    assert figures["alerts_warn"]["value"] == sum(1 for a in current if a["level"] == "warn")
    assert figures["sensors_online"]["value"] == 9 and figures["sensors_online"]["level"] == "ok"
    readings = {k["key"]: k["value"] for k in get_json(server, "/api/kpis?mode=operate")}["readings_24h"]
    assert readings == figures["readings_24h"]["value"] > 0  # the last day of data, not the empty day before now
    assert last < datetime(2018, 1, 1, tzinfo=UTC)


def test_the_slider_reaches_2017_and_every_station_draws_its_sparkline(overview, traffic, server):
    overview.open("operate")
    slider = overview.page.locator("#time-range")
    assert slider.get_attribute("data-end").startswith("2017-02-28T15:00")
    assert slider.get_attribute("data-start").startswith("2017-01-31T16:00")
    assert overview.page.locator("#time-value").inner_text() == "2017-02-28 23:00"  # Beijing's clock
    kpis = overview.page.locator("#kpis .kpi[data-key='sensors_online']")
    assert "level-alarm" not in (kpis.get_attribute("class") or "")
    pm25 = "window.cim.state.sensors.filter(s => s.property === 'pm2_5')"
    assert overview.set_time(0.0) == "2017-02-01 00:00"  # the values as they were at the first reading
    overview.page.wait_for_function(f"{pm25}.length === 3 && {pm25}.every(s => s.time?.startsWith('2017-01-31T16'))")
    assert overview.set_time(1.0) == "2017-02-28 23:00"
    overview.page.wait_for_function(f"{pm25}.length === 3 && {pm25}.every(s => s.time?.startsWith('2017-02-28'))")
    sensors = overview.page.evaluate(pm25)
    for sensor in sensors:
        overview.page.evaluate("(s) => window.cim.select(s.feature_id, {sensor: s})", sensor)
        overview.page.wait_for_function(
            f"document.querySelector('#sensor-value')?.dataset.stream === '{sensor['datastream_id']}' && "
            "document.querySelector('#sparkline svg')", timeout=20_000)
        points = int(overview.page.locator("#sparkline svg").get_attribute("data-points"))
        assert points >= 20, f"{sensor['thing']}: {points} points"
        assert "2017-02-28" in overview.page.locator("#sparkline .spark-scale").inner_text()
    assert_clean(traffic)
