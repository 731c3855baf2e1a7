"""Reading sensor data: latest with status, downsampled series, sensors in space, values as of."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cim.errors import QueryError
from cim.iot import (
    Rule,
    add_rules,
    check_stale,
    configure,
    datastream_id,
    latest,
    parse_bucket,
    register_sensors,
    sensors_near,
    sensors_within,
    series,
    values_as_of,
    write_observations,
)
from tests.iot.conftest import at
from tests.iot.test_write import obs


def test_latest_gives_value_status_and_lon_lat_of_every_datastream(iot_city):
    dust, gas = datastream_id(iot_city, "ws.dust"), datastream_id(iot_city, "tunnel.gas")
    add_rules(iot_city, [Rule("gas", "above", "alarm", property="methane", threshold=20)])
    write_observations(iot_city, obs([(dust, at(0), 30.0), (dust, at(1), 35.0), (gas, at(1), 25.0)]))
    rows = {r["datastream_id"]: r for r in latest(iot_city, now=at(2)).to_pylist()}
    assert len(rows) == 6
    assert (rows[dust]["value"], rows[dust]["status"], rows[dust]["unit"]) == (35.0, "ok", "ug/m3")
    assert rows[gas]["status"] == "alarm"
    noise = datastream_id(iot_city, "ws.noise")
    assert rows[noise]["value"] is None and rows[noise]["status"] == "stale"
    assert 119 < rows[dust]["lon"] < 121 and 35 < rows[dust]["lat"] < 37
    assert rows[dust]["feature_id"] == "parcels.P1"


def test_latest_marks_old_values_stale_and_filters_by_lon_lat_bbox(iot_city):
    dust = datastream_id(iot_city, "ws.dust")
    write_observations(iot_city, obs([(dust, at(0), 30.0)]))
    row = latest(iot_city, now=at(120), datastreams=[dust]).to_pylist()[0]
    assert row["status"] == "stale"
    everything = latest(iot_city).to_pylist()
    lon, lat = everything[0]["lon"], everything[0]["lat"]
    near = latest(iot_city, bbox=(lon - 1e-4, lat - 1e-4, lon + 1e-4, lat + 1e-4), bbox_crs="EPSG:4326")
    assert set(near["thing_id"].to_pylist()) == {everything[0]["thing_id"]}


def test_stale_alert_makes_the_status_stale(iot_city):
    noise = datastream_id(iot_city, "ws.noise")
    add_rules(iot_city, [Rule("silent", "stale", "warn", datastream="ws.noise", minutes=10)])
    write_observations(iot_city, obs([(noise, at(0), 50.0)]))
    check_stale(iot_city, now=at(30))
    row = latest(iot_city, datastreams=[noise], now=at(30), stale_after=timedelta(days=1)).to_pylist()[0]
    assert row["status"] == "stale"


def test_series_downsamples_into_buckets_with_avg_min_max(iot_city):
    dust = datastream_id(iot_city, "ws.dust")
    write_observations(iot_city, obs([(dust, at(m), float(m)) for m in range(60)]))
    table = series(iot_city, "ws.dust", start=at(0), end=at(30), bucket="10m")
    assert table["value"].to_pylist() == [4.5, 14.5, 24.5]
    assert table["min"].to_pylist() == [0, 10, 20] and table["max"].to_pylist() == [9, 19, 29]
    assert table["time"].to_pylist() == [at(0), at(10), at(20)]
    raw = series(iot_city, dust, start=at(58))
    assert raw["value"].to_pylist() == [58.0, 59.0]
    with pytest.raises(QueryError, match="bucket"):
        series(iot_city, dust, max_points=10)


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "UTC", "Asia/Kolkata"])
def test_buckets_count_from_local_midnight_of_2000_01_03_on_every_backend(iot_city, zone):
    configure(iot_city, timezone=zone)
    dust = datastream_id(iot_city, "ws.dust")
    write_observations(iot_city, obs([(dust, at(m), float(m)) for m in range(15)]))
    table = series(iot_city, "ws.dust", start=at(0), end=at(15), bucket="7m")  # 7 min does not divide an hour
    origin = datetime(2000, 1, 3, tzinfo=ZoneInfo(zone))  # a Monday, on the city's wall clock
    step = timedelta(minutes=7)
    first = origin + ((at(0) - origin) // step) * step
    expected = [first + i * step for i in range(3)]
    assert table["time"].to_pylist() == expected
    assert table["count"].to_pylist() == [sum(1 for m in range(15) if b <= at(m) < b + step) for b in expected]


@pytest.mark.parametrize("text, seconds", [("30s", 30), ("5m", 300), ("1h", 3600), ("PT15M", 900), ("P1D", 86400)])
def test_buckets_are_read_in_short_and_iso_forms(text, seconds):
    assert parse_bucket(text) == seconds * 1_000_000


@pytest.mark.parametrize("text", ["", "5 parsecs", "0s", "PT", "-5m"])
def test_bad_buckets_are_refused(text):
    with pytest.raises(QueryError):
        parse_bucket(text)


def test_sensors_within_a_parcel_and_near_a_pipe(iot_city):
    inside = sensors_within(iot_city, "parcels.P1").to_pylist()
    assert [t["key"] for t in inside] == ["ws"] and len(inside[0]["datastreams"]) == 3
    assert sensors_within(iot_city, "parcels.P2").num_rows == 0
    near = sensors_near(iot_city, "pipes.W1", 25).to_pylist()
    assert [t["key"] for t in near] == ["pipe", "tunnel"]
    assert near[0]["distance"] == pytest.approx(0) and near[1]["distance"] == pytest.approx(20)


def test_a_thing_without_datastreams_lists_none(iot_city):
    register_sensors(iot_city, [{"key": "gate", "feature": "parcels.P2", "datastreams": []}])
    (gate,) = sensors_within(iot_city, "parcels.P2").to_pylist()
    assert (gate["key"], gate["datastreams"]) == ("gate", [])


def test_values_as_of_a_time_read_the_last_value_before_it(iot_city):
    dust = datastream_id(iot_city, "ws.dust")
    write_observations(iot_city, obs([(dust, at(m), float(m)) for m in range(0, 60, 10)]))
    (row,) = values_as_of(iot_city, at(25)).to_pylist()
    assert (row["time"], row["value"]) == (at(20), 20.0)
    assert values_as_of(iot_city, at(25), lookback=timedelta(minutes=2)).num_rows == 0


def test_sensors_follow_the_visibility_of_their_feature(iot_city):
    tunnel = {datastream_id(iot_city, "tunnel.gas"), datastream_id(iot_city, "tunnel.level")}
    exact = {r["datastream_id"]: r for r in latest(iot_city, role="admin").to_pylist()}
    anonymous = {r["datastream_id"] for r in latest(iot_city, role="anonymous").to_pylist()}
    assert len(exact) == 6 and anonymous == set(exact) - tunnel  # the tunnel layer is restricted
    coarse = {r["datastream_id"]: r for r in latest(iot_city, role="operator").to_pylist()}
    gas = datastream_id(iot_city, "tunnel.gas")
    assert coarse[gas]["lon"] != exact[gas]["lon"]  # snapped to the 50 m grid
    assert abs(coarse[gas]["lon"] - exact[gas]["lon"]) < 0.001
    dust = datastream_id(iot_city, "ws.dust")
    assert coarse[dust]["lon"] == exact[dust]["lon"]
    assert "classification" not in exact[dust] and "x" not in exact[dust]
    assert sensors_near(iot_city, "pipes.W1", 25, role="anonymous").num_rows == 1
