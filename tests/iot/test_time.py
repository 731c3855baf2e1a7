"""The city's time zone: set at creation or later, and where day buckets are cut (local midnight, not UTC),
through the library, the HTTP series endpoint and the command line."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from cim.errors import ValidationError
from cim.iot import configure, datastream_id, iot_settings, series, write_observations
from tests.iot.test_write import obs


def _hourly(city, key: str, start: datetime, hours: int) -> pd.DataFrame:
    """Write one reading an hour (value = hour number) and return them as a frame."""
    ds = datastream_id(city, key)
    times = [start + timedelta(hours=h) for h in range(hours)]
    write_observations(city, obs([(ds, t, float(h)) for h, t in enumerate(times)]))
    return pd.DataFrame({"time": pd.to_datetime(times, utc=True), "value": [float(h) for h in range(hours)]})


def _pandas_days(frame: pd.DataFrame, zone: str) -> pd.DataFrame:
    """Day buckets computed independently: group by the local calendar date in ``zone``."""
    local = frame["time"].dt.tz_convert(zone)
    groups = frame.groupby(local.dt.date)["value"]
    days = pd.DataFrame({"value": groups.mean(), "min": groups.min(), "max": groups.max(), "count": groups.size()})
    starts = [pd.Timestamp(d).tz_localize(zone).tz_convert("UTC").to_pydatetime() for d in days.index]
    return days.assign(time=starts).reset_index(drop=True)


def test_a_new_city_keeps_its_days_in_asia_shanghai_unless_told_otherwise(new_city):
    assert iot_settings(new_city()).timezone == "Asia/Shanghai"
    assert iot_settings(new_city(timezone="Europe/Amsterdam")).timezone == "Europe/Amsterdam"
    with pytest.raises(ValidationError, match="unknown time zone 'Mars/Olympus'"):
        new_city(timezone="Mars/Olympus")


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "America/New_York"])
def test_day_buckets_start_at_local_midnight_of_the_city(iot_city, zone):
    configure(iot_city, timezone=zone)
    frame = _hourly(iot_city, "ws.dust", datetime(2026, 5, 1, 3, tzinfo=UTC), 72)
    table = series(iot_city, "ws.dust", bucket="1d")
    expected = _pandas_days(frame, zone)
    assert table["time"].to_pylist() == list(expected["time"])
    assert table["count"].to_pylist() == list(expected["count"])
    assert table["value"].to_pylist() == pytest.approx(list(expected["value"]))
    assert table["min"].to_pylist() == list(expected["min"]) and table["max"].to_pylist() == list(expected["max"])


def test_day_buckets_follow_daylight_saving_in_the_city_zone(iot_city):
    configure(iot_city, timezone="Europe/Amsterdam")
    spring = _hourly(iot_city, "ws.noise", datetime(2026, 3, 27, 23, tzinfo=UTC), 96)  # clocks go forward 29 March
    autumn = _hourly(iot_city, "ws.crane", datetime(2026, 10, 23, 22, tzinfo=UTC), 96)  # and back 25 October
    for key, frame, day, hours in (("ws.noise", spring, "2026-03-29", 23), ("ws.crane", autumn, "2026-10-25", 25)):
        table = series(iot_city, key, bucket="P1D").to_pandas()
        expected = _pandas_days(frame, "Europe/Amsterdam")
        assert list(table["time"]) == list(expected["time"]) and list(table["count"]) == list(expected["count"])
        local = table["time"].dt.tz_convert("Europe/Amsterdam")
        assert all((local.dt.hour == 0) & (local.dt.minute == 0))
        assert int(table.loc[local.dt.strftime("%Y-%m-%d") == day, "count"].iloc[0]) == hours


def test_changing_the_city_zone_moves_where_days_begin(iot_city):
    _hourly(iot_city, "ws.dust", datetime(2026, 5, 1, tzinfo=UTC), 48)
    shanghai = series(iot_city, "ws.dust", bucket="1d")["time"].to_pylist()
    configure(iot_city, timezone="UTC")
    utc = series(iot_city, "ws.dust", bucket="1d")["time"].to_pylist()
    assert shanghai[1] == datetime(2026, 5, 1, 16, tzinfo=UTC) and utc[0] == datetime(2026, 5, 1, tzinfo=UTC)


def test_the_http_series_cuts_days_at_the_city_midnight(iot_city):
    from tiles import create_app

    frame = _hourly(iot_city, "ws.dust", datetime(2026, 5, 1, 3, tzinfo=UTC), 72)
    ds = datastream_id(iot_city, "ws.dust")
    with TestClient(create_app(iot_city, prepare_tiles=False)) as client:
        got = client.get(f"/api/sensors/{ds}/series", params={
            "bucket": "1d", "start": "2026-04-30T00:00:00Z", "end": "2026-05-05T00:00:00Z"}).json()
        period = client.get("/api/sensors/period").json()
    expected = _pandas_days(frame, "Asia/Shanghai")
    assert [datetime.fromisoformat(t) for t in got["times"]] == list(expected["time"])
    assert got["count"] == list(expected["count"])
    assert period["timezone"] == "Asia/Shanghai"
    assert datetime.fromisoformat(period["first"]) == frame["time"].min()


def _cim(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cim", *args], capture_output=True, text=True, timeout=300)


def test_the_time_zone_is_set_by_cim_init_and_changed_by_cim_iot_settings(tmp_path):
    city = str(tmp_path / "ams.duckdb")
    made = _cim("init", city, "--crs", "EPSG:28992", "--timezone", "Europe/Amsterdam")
    assert made.returncode == 0 and "Europe/Amsterdam" in made.stdout, made.stderr
    assert "timezone Europe/Amsterdam" in _cim("iot", "settings", city).stdout
    changed = _cim("iot", "settings", city, "--timezone", "Asia/Tokyo", "--max-skew", "5m",
                   "--time-floor", "1900-01-01")
    assert changed.returncode == 0, changed.stderr
    shown = _cim("iot", "settings", city).stdout
    assert "timezone Asia/Tokyo" in shown and "max_skew 300s" in shown and "1900-01-01T00:00:00+00:00" in shown
    refused = _cim("iot", "settings", city, "--timezone", "Nowhere/Land")
    assert refused.returncode != 0 and "unknown time zone 'Nowhere/Land'" in refused.stderr
    assert "Traceback" not in refused.stderr
    bad_init = _cim("init", str(tmp_path / "x.duckdb"), "--timezone", "UTC+8")
    assert bad_init.returncode != 0 and not (tmp_path / "x.duckdb").exists()
