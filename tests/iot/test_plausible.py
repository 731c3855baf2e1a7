"""Times outside the plausibility window are refused per row with the reason on every write path (Python,
file, HTTP/SensorThings, MQTT), and never move a datastream's latest value: one future-dated reading must
not silence a sensor for good."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from cim.iot import Rule, TimeWindow, add_rules, configure, datastream_id, latest, list_alerts, write_observations
from cim.iot.load import load_observations
from tests.iot.conftest import wait_for

OPERATOR = {"X-API-Key": "operator-key-0001"}
#: far-off times a broken clock or a hostile sender produces, as ISO text
ABSURD = ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "2262-04-12T00:00:00Z", "1969-12-31T23:00:00Z"]


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _latest_time(city, key: str) -> datetime | None:
    return city.store.scalar("SELECT phenomenon_time FROM iot_latest WHERE datastream_id = ?",
                             [datastream_id(city, key)])


def _observation_count(city) -> int:
    return int(city.store.scalar("SELECT count(*) FROM iot_observations"))


def test_a_future_dated_reading_is_refused_and_the_sensor_keeps_raising_alerts(iot_city):
    add_rules(iot_city, [Rule("dust", "above", "alarm", property="pm10", threshold=150, clear=120)])
    ds = datastream_id(iot_city, "ws.dust")
    now = _now()
    times = [now - timedelta(minutes=5), datetime(9999, 12, 31, tzinfo=UTC), now + timedelta(hours=1),
             now - timedelta(minutes=1)]
    report = write_observations(iot_city, pa.table({
        "datastream_id": pa.array([ds] * 4, pa.int64()),
        "phenomenon_time": pa.array(times, pa.timestamp("us", tz="UTC")),
        "result": pa.array([40.0, 41.0, 42.0, 200.0])}))
    assert (report.stored, report.rejected) == (2, 2) and report.reconciles
    assert {why.split(":")[0] for _, why in report.rejects} == {"time in the future"}
    assert "9999-12-31T00:00:00Z" in report.rejects[0][1]
    assert _latest_time(iot_city, "ws.dust") == now - timedelta(minutes=1)
    assert [a["value"] for a in list_alerts(iot_city)] == [200.0]  # the sensor was not silenced
    row = latest(iot_city, datastreams=[ds]).to_pylist()[0]
    assert (row["value"], row["status"]) == (200.0, "alarm")
    stored = iot_city.store.rows("SELECT count(*) FROM iot_rejects WHERE reason LIKE 'time in the future%'")
    assert stored == [(2,)]


def test_times_before_the_floor_are_refused_unless_the_call_lowers_it(iot_city):
    ds = datastream_id(iot_city, "ws.dust")
    old = [datetime(1969, 7, 20, 20, 17, tzinfo=UTC), datetime(1900, 1, 1, tzinfo=UTC)]
    batch = pa.table({"datastream_id": pa.array([ds, ds], pa.int64()),
                      "phenomenon_time": pa.array(old, pa.timestamp("us", tz="UTC")), "result": [1.0, 2.0]})
    refused = write_observations(iot_city, batch)
    assert refused.rejected == 2 and all(why.startswith("time before the floor") for _, why in refused.rejects)
    assert _latest_time(iot_city, "ws.dust") is None
    taken = write_observations(iot_city, batch, window=TimeWindow(floor=datetime(1800, 1, 1, tzinfo=UTC)))
    assert taken.stored == 2 and _latest_time(iot_city, "ws.dust") == old[0]


def test_the_city_window_is_a_setting_every_path_reads(iot_city):
    configure(iot_city, max_skew="0s")
    ds = datastream_id(iot_city, "ws.dust")
    soon = _now() + timedelta(minutes=2)
    report = write_observations(iot_city, pa.table({"datastream_id": pa.array([ds], pa.int64()),
                                                    "phenomenon_time": pa.array([soon], pa.timestamp("us", tz="UTC")),
                                                    "result": [1.0]}))
    assert report.rejected == 1
    configure(iot_city, max_skew="10m")
    again = write_observations(iot_city, pa.table({"datastream_id": pa.array([ds], pa.int64()),
                                                   "phenomenon_time": pa.array([soon], pa.timestamp("us", tz="UTC")),
                                                   "result": [1.0]}))
    assert again.stored == 1


def test_a_file_with_absurd_times_loads_the_rest_and_names_each_refused_row(iot_city, tmp_path):
    now = _now()
    good = [(now - timedelta(hours=2)).isoformat(), (now - timedelta(hours=1)).isoformat()]
    path = tmp_path / "obs.csv"
    path.write_text("datastream,time,result\n" + "".join(
        f"ws.dust,{t},{i}\n" for i, t in enumerate([good[0], *ABSURD, good[1]])), encoding="utf-8")
    report = load_observations(iot_city, path)
    assert (report.read, report.stored, report.rejected) == (6, 2, 4) and report.reconciles
    rows = sorted(int(where.split()[1]) for where, _ in report.rejects)
    assert rows == [2, 3, 4, 5]
    assert _latest_time(iot_city, "ws.dust") == now - timedelta(hours=1)
    lowered = load_observations(iot_city, path, time_floor="1900-01-01")
    assert lowered.stored == 1  # 1969-12-31 is plausible under a 1900 floor; the rest still are not


def test_a_historic_file_loads_with_a_lower_floor_from_the_command_line(iot_template, tmp_path):
    import shutil
    import subprocess
    import sys

    city = tmp_path / "city.duckdb"
    shutil.copy(iot_template, city)
    (tmp_path / "old.csv").write_text("time,PM10\n1965-05-01 08:00,90\n1965-05-01 09:00,95\n", encoding="utf-8")
    base = [sys.executable, "-m", "cim", "iot", "load", str(city), str(tmp_path / "old.csv"), "--timezone",
            "Asia/Shanghai", "--column", "PM10=ws.dust"]
    refused = subprocess.run(base, capture_output=True, text=True, timeout=300)
    assert "stored 0" in refused.stdout and "time before the floor" in refused.stdout
    taken = subprocess.run([*base, "--time-floor", "1900-01-01"], capture_output=True, text=True, timeout=300)
    assert "read 2, stored 2" in taken.stdout, taken.stderr


def test_posted_observations_with_absurd_times_are_refused_per_row(iot_city):
    from tiles import create_app

    ds = datastream_id(iot_city, "ws.dust")
    good = (_now() - timedelta(minutes=3)).isoformat()
    rows = [[good, 40]] + [[t, 41] for t in ABSURD] + [[(_now() + timedelta(days=400)).isoformat(), 42]]
    keys = json.dumps({"operator-key-0001": "operator"})
    with TestClient(create_app(iot_city, api_keys=keys, prepare_tiles=False)) as client:
        answer = client.post("/sta/v1.1/CreateObservations", headers=OPERATOR, json=[
            {"Datastream": {"@iot.id": ds}, "components": ["phenomenonTime", "result"], "dataArray": rows}])
        single = client.post("/sta/v1.1/Observations", headers=OPERATOR, json={
            "Datastream": {"@iot.id": ds}, "phenomenonTime": ABSURD[0], "result": 1})
        epoch = client.post("/sta/v1.1/Observations", headers=OPERATOR, json=[
            {"Datastream": {"@iot.id": ds}, "phenomenonTime": 99_999_999_999, "result": 1}])
    outcomes = answer.json()
    assert answer.status_code == 201 and not outcomes[0].startswith("error")
    assert all(o.startswith("error: ") for o in outcomes[1:]), outcomes
    assert single.status_code == 400 and "time in the future" in single.json()["detail"]
    assert epoch.json()[0].startswith("error: time in the future")  # 5138 in epoch seconds
    assert _latest_time(iot_city, "ws.dust") == datetime.fromisoformat(good)
    assert _observation_count(iot_city) == 1


def test_an_mqtt_message_from_the_future_is_refused_and_does_not_move_the_latest_value(iot_city, broker):
    from cim.iot.mqtt import MqttListener, topic_prefix
    from cim.iot.publish import Publisher

    prefix = topic_prefix(iot_city)
    listener = MqttListener(iot_city, broker.address, client_id="plausible-test", flush_interval=0.05,
                            stale_every=0).start()
    assert listener.connected.wait(10)
    good = _now() - timedelta(minutes=2)
    try:
        with Publisher(broker.address) as pub:
            pub.observation(prefix, "ws.dust", good.isoformat(), 40.0)
            for t in ABSURD:
                pub.observation(prefix, "ws.dust", t, 41.0)
            pub.batch(prefix, [["ws.dust", 90_000_000_000_000, 5.0],  # epoch ms: the year 4822
                               ["ws.dust", (_now() + timedelta(hours=3)).timestamp(), 6.0]])
        assert wait_for(lambda: listener.stats.observations >= 7)
    finally:
        listener.stop()
    assert listener.stats.stored == 1 and listener.stats.rejected == 6
    assert _latest_time(iot_city, "ws.dust") == good
    reasons = listener.stats.reasons
    assert reasons.get("time in the future", 0) >= 3 and reasons.get("time before the floor", 0) >= 1


@pytest.mark.parametrize("text", ABSURD[:3])
def test_absurd_times_never_become_a_latest_value(iot_city, text):
    from serving.sensorthings.write import create_observations

    report, outcomes = create_observations(iot_city, {"phenomenonTime": text, "result": 1.0}, datastream="ws.dust")
    assert report.rejected == 1 and outcomes[0].startswith("error")
    assert _latest_time(iot_city, "ws.dust") is None and _observation_count(iot_city) == 0
