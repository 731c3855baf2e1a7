"""What is current at a time: sensor values and statuses, alerts and the operate figures as they were at
the time asked (the viewer's slider), in the library and over HTTP (`?at=`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from cim.iot import Rule, add_rules, datastream_id, latest, list_alerts, write_observations
from cim.iot.kpis import kpis
from tests.iot.conftest import at
from tests.iot.test_write import obs

KEYS = {"admin-key-000001": "admin", "operator-key-0001": "operator"}
ADMIN = {"X-API-Key": "admin-key-000001"}


@pytest.fixture
def incident(iot_city):
    """PM10 over an hour: quiet, an alarm from minute 20 to minute 40, quiet again."""
    add_rules(iot_city, [Rule("dust", "above", "alarm", property="pm10", threshold=150, clear=120)])
    ds = datastream_id(iot_city, "ws.dust")
    values = [100.0 if m < 20 or m >= 40 else 200.0 for m in range(60)]
    write_observations(iot_city, obs([(ds, at(m), v) for m, v in enumerate(values)]))
    return ds


def _figures(rows: list[dict]) -> dict:
    return {k["key"]: k["value"] for k in rows}


def test_latest_at_a_time_reads_the_value_and_status_of_that_time(iot_city, incident):
    during = latest(iot_city, at=at(25.5), datastreams=[incident]).to_pylist()[0]
    assert (during["value"], during["time"], during["status"]) == (200.0, at(25), "alarm")
    after = latest(iot_city, at=at(45), datastreams=[incident]).to_pylist()[0]
    assert (after["value"], after["status"]) == (100.0, "ok")
    now = latest(iot_city, datastreams=[incident]).to_pylist()[0]
    assert now["time"] == at(59) and now["status"] == "stale"  # the wall clock is long past 2026-05-01
    before = latest(iot_city, at=at(-10), datastreams=[incident]).to_pylist()[0]
    assert before["value"] is None and before["status"] == "stale"


def test_operate_figures_are_taken_at_the_time_asked(iot_city, incident):
    during = _figures(kpis(iot_city, "operate", "admin", at=at(30)))
    after = _figures(kpis(iot_city, "operate", "admin", at=at(50)))
    assert during["alerts_alarm"] == 1 and after["alerts_alarm"] == 0
    assert during["readings_24h"] == 31 and after["readings_24h"] == 51  # readings up to that time
    assert during["sensors_online"] == 1  # only the dust sensor had reported within the hour before
    latest_figures = _figures(kpis(iot_city, "operate", "admin"))
    assert latest_figures["readings_24h"] == 60  # no time: the 24 h up to the newest reading
    assert latest_figures["alerts_alarm"] == 0  # the alarm ended at minute 40: nothing is red for ever


def test_the_http_endpoints_answer_for_the_time_asked(iot_city, incident):
    from tiles import create_app

    with TestClient(create_app(iot_city, api_keys=json.dumps(KEYS), prepare_tiles=False)) as client:
        during = client.get("/api/alerts", params={"at": at(30).isoformat()}, headers=ADMIN).json()
        later = client.get("/api/alerts", params={"at": at(50).isoformat()}, headers=ADMIN).json()
        now = client.get("/api/alerts", params={"current": "true"}, headers=ADMIN).json()
        every = client.get("/api/alerts", headers=ADMIN).json()
        sensors = client.get("/api/sensors/latest", params={"at": at(30).isoformat()}, headers=ADMIN).json()
        figures = client.get("/api/kpis", params={"mode": "operate", "at": at(30).isoformat()}, headers=ADMIN)
        naive = client.get("/api/alerts", params={"at": "2026-05-01T00:30:00"})
    assert [a["rule"] for a in during] == ["dust"] and later == [] and now == []
    assert len(every) == 1 and every[0]["state"] == "closed" and every[0]["closed_at"] == at(40).isoformat()
    dust = next(s for s in sensors if s["datastream_id"] == incident)
    assert (dust["value"], dust["status"]) == (200.0, "alarm")
    assert _figures(figures.json())["alerts_alarm"] == 1
    assert naive.status_code == 400 and "time zone" in naive.json()["detail"]


def test_a_hand_closed_alert_stops_being_current_when_it_was_closed(iot_city):
    from cim.iot import close_alert

    add_rules(iot_city, [Rule("gas", "above", "alarm", property="methane", threshold=20)])
    ds = datastream_id(iot_city, "tunnel.gas")
    recent = datetime.now(UTC) - timedelta(minutes=30)
    write_observations(iot_city, obs([(ds, recent, 25.0)]))
    (alert,) = list_alerts(iot_city, current=True)
    closed = close_alert(iot_city, alert["id"], by="admin")
    assert list_alerts(iot_city, current=True) == []
    assert [a["id"] for a in list_alerts(iot_city, at=recent + timedelta(minutes=1))] == [alert["id"]]
    assert list_alerts(iot_city, at=closed["closed_at"] + timedelta(seconds=1)) == []
