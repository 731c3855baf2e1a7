"""SensorThings API and the viewer's IoT endpoints over HTTP (real app, real city on DuckDB and on PostGIS)."""

from __future__ import annotations

import json
import threading
import time

import pytest
from fastapi.testclient import TestClient

from cim.iot import Rule, add_rules, datastream_id, write_observations
from tests.iot.conftest import at, iot_city, iot_location, iot_pg_template, iot_template  # noqa: F401 - fixtures
from tests.iot.test_write import obs

KEYS = {"operator-key-0001": "operator", "viewer-key-00001": "viewer", "admin-key-000001": "admin"}
OPERATOR = {"X-API-Key": "operator-key-0001"}


@pytest.fixture
def client(iot_city):  # noqa: F811
    from tiles import create_app

    app = create_app(iot_city, api_keys=json.dumps(KEYS), prepare_tiles=False)
    with TestClient(app) as c:
        yield c


@pytest.fixture
def dust(iot_city):  # noqa: F811
    ds = datastream_id(iot_city, "ws.dust")
    add_rules(iot_city, [Rule("dust", "above", "alarm", property="pm10", threshold=150, clear=120)])
    write_observations(iot_city, obs([(ds, at(m), 100.0 + 5 * m) for m in range(20)]))
    return ds


def test_service_root_lists_the_entity_sets(client):
    body = client.get("/sta/v1.1").json()
    assert {e["name"] for e in body["value"]} == {"Things", "Locations", "Sensors", "ObservedProperties",
                                                  "Datastreams", "Observations"}


def test_anonymous_sees_public_things_with_links_and_pages(client):
    body = client.get("/sta/v1.1/Things", params={"$count": "true", "$top": "1"}).json()
    assert body["@iot.count"] == 2  # the tunnel gauge is on a restricted layer
    assert body["value"][0]["@iot.selfLink"].startswith("http://testserver/sta/v1.1/Things(")
    nxt = body["@iot.nextLink"]
    second = client.get(nxt.replace("http://testserver", "")).json()
    assert len(second["value"]) == 1 and "@iot.nextLink" not in second
    admin = client.get("/sta/v1.1/Things", params={"$count": "true"}, headers={"X-API-Key": "admin-key-000001"})
    assert admin.json()["@iot.count"] == 3


def test_nested_observations_with_orderby_and_time_filter(client, dust):
    url = f"/sta/v1.1/Datastreams({dust})/Observations"
    body = client.get(url, params={"$orderby": "phenomenonTime desc", "$top": "3",
                                   "$filter": f"phenomenonTime lt {at(10).isoformat().replace('+00:00', 'Z')}"}).json()
    assert [o["result"] for o in body["value"]] == [145.0, 140.0, 135.0]
    one = client.get(body["value"][0]["@iot.selfLink"].replace("http://testserver", ""))
    assert one.status_code == 200 and one.json()["result"] == 145.0
    assert client.get(f"/sta/v1.1/Datastreams({dust})/Thing").json()["properties"]["cim:feature"] == "parcels.P1"


@pytest.mark.parametrize("url, status", [
    ("/sta/v1.1/Things(99999)", 404),
    ("/sta/v1.1/Things(abc)", 400),
    ("/sta/v1.1/Observations?$filter=result gt 1 or 1 eq 1", 400),
    ("/sta/v1.1/Observations?$top=1000000", 400),
    ("/sta/v1.1/Observations?$orderby=secret", 400),
    ("/sta/v1.1/Things(1)/Secrets", 404),
])
def test_bad_requests_get_problem_json(client, url, status):
    response = client.get(url)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")


def test_posting_observations_needs_an_operator_key(client, iot_city):  # noqa: F811
    ds = datastream_id(iot_city, "ws.noise")
    body = {"phenomenonTime": "2026-05-01T08:00:00+08:00", "result": 61.5, "Datastream": {"@iot.id": ds}}
    for key, status in ((None, 403), ("viewer-key-00001", 403), ("wrong-key-9999", 401)):
        headers = {"X-API-Key": key} if key else {}
        assert client.post("/sta/v1.1/Observations", json=body, headers=headers).status_code == status
    created = client.post("/sta/v1.1/Observations", json=body, headers=OPERATOR)
    assert created.status_code == 201 and created.headers["Location"].endswith(f"'{ds}-1777593600000000')")
    array = client.post("/sta/v1.1/CreateObservations", headers=OPERATOR, json=[
        {"Datastream": {"@iot.id": ds}, "components": ["phenomenonTime", "result"],
         "dataArray": [["2026-05-01T00:05:00Z", 62], ["2026-05-01T00:10:00Z", "loud"]]}])
    assert array.status_code == 201
    links = array.json()
    assert links[0].endswith("')") and links[1].startswith("error: non-numeric")
    bad = client.post("/sta/v1.1/Observations", headers=OPERATOR,
                      json={**body, "phenomenonTime": "2026-05-01 08:00"})
    assert bad.status_code == 400 and "zone" in bad.json()["detail"]


def test_latest_series_and_alerts_for_the_viewer(client, dust):
    latest = {r["datastream_id"]: r for r in client.get("/api/sensors/latest").json()}
    assert latest[dust]["value"] == 195.0 and latest[dust]["status"] == "alarm"
    assert {"lon", "lat", "time", "unit", "property", "feature_id", "thing_id", "name"} <= latest[dust].keys()
    series = client.get(f"/api/sensors/{dust}/series", params={"bucket": "5m"}).json()
    assert series["values"][:2] == [110.0, 135.0] and len(series["times"]) == 4
    (alert,) = client.get("/api/alerts", params={"state": "open"}).json()
    assert {"id", "rule", "level", "state", "datastream_id", "feature_id", "message", "opened_at", "lon", "lat"} \
        <= alert.keys()
    assert client.post(f"/api/alerts/{alert['id']}/acknowledge").status_code == 403
    acked = client.post(f"/api/alerts/{alert['id']}/acknowledge", headers=OPERATOR, json={"by": "wang"}).json()
    assert acked["state"] == "acknowledged" and acked["acknowledged_by"] == "wang (operator)"
    assert client.post("/api/alerts/99999/acknowledge", headers=OPERATOR).status_code == 404


def test_operate_kpis_count_sensors_and_alerts(client, dust):
    figures = {k["key"]: k for k in client.get("/api/kpis", params={"mode": "operate"}).json()}
    assert figures["alerts_alarm"]["value"] == 1 and figures["alerts_alarm"]["level"] == "alarm"
    assert figures["sensors_online"]["unit"] == "/ 4"  # public sensors only for anonymous


def test_events_stream_observations_and_alerts_as_they_are_posted(client, iot_city):  # noqa: F811
    add_rules(iot_city, [Rule("noise", "above", "warn", property="noise", threshold=70)])
    ds = datastream_id(iot_city, "ws.noise")
    received: list[str] = []

    def post_later() -> None:
        time.sleep(0.5)
        client.post(f"/sta/v1.1/Datastreams({ds})/Observations", headers=OPERATOR,
                    json=[{"phenomenonTime": "2026-05-01T00:00:00Z", "result": 60},
                          {"phenomenonTime": "2026-05-01T00:01:00Z", "result": 80}])

    threading.Thread(target=post_later).start()
    with client.stream("GET", "/api/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            received.append(line)
            if sum(1 for r in received if r.startswith("data:")) >= 2:
                break
    events = [r for r in received if r.startswith("event:")]
    data = [json.loads(r[len("data: "):]) for r in received if r.startswith("data:")]
    assert events == ["event: observation", "event: alert"]
    assert data[0]["datastream_id"] == ds and data[0]["value"] == 80 and data[0]["status"] == "warn"
    assert data[1]["rule"] == "noise" and data[1]["level"] == "warn"
