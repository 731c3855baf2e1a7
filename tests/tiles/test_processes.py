"""OGC API – Processes: the analyses over HTTP give what the Python API gives, at once or as jobs."""

from __future__ import annotations

import time

import pytest

from cim.analysis import check_compliance, indicators
from tests.tiles.conftest import headers

PLANNER = headers("planner")


def _wait(client, url: str) -> dict:
    for _ in range(600):
        status = client.get(url, headers=PLANNER).json()
        if status["status"] in ("successful", "failed", "dismissed"):
            return status
        time.sleep(0.1)
    raise AssertionError(f"job {url} did not finish")


def test_the_processes_are_listed_and_described_with_their_inputs(client):
    listed = {p["id"] for p in client.get("/processes").json()["processes"]}
    assert listed == {"indicators", "check", "check-ifc", "flood", "viewshed"}
    flood = client.get("/processes/flood").json()
    assert flood["inputs"]["level"]["minOccurs"] == 1 and "area_m2" in flood["outputs"]
    assert client.get("/processes/nothing").status_code == 404
    assert "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/core" in client.get("/conformance").json()[
        "conformsTo"]


@pytest.mark.parametrize("role, status", [("anonymous", 403), ("viewer", 403), ("operator", 403),
                                          ("planner", 200), ("admin", 200)])
def test_running_an_analysis_needs_the_planner_role(client, role, status):
    resp = client.post("/processes/check/execution", json={"inputs": {"rules": ["height"]}}, headers=headers(role))
    assert resp.status_code == status


def test_a_synchronous_check_answers_what_check_compliance_answers(client, served_city):
    resp = client.post("/processes/check/execution", json={"inputs": {"rules": ["height"], "only_failures": True}},
                       headers=PLANNER)
    got = {f["properties"]["subject"] for f in resp.json()["results"]["features"]}
    expected = set(check_compliance(served_city, only=["height"], only_failures=True, output="pandas")["subject"])
    assert got == expected and got
    assert resp.json()["summary"]["height"]["fail"] == len(expected)


def test_an_asynchronous_run_is_a_job_to_poll_and_its_results_equal_the_synchronous_ones(client, served_city):
    resp = client.post("/processes/indicators/execution", json={"inputs": {"by": "district"}},
                       headers={**PLANNER, "Prefer": "respond-async"})
    assert resp.status_code == 201 and resp.headers["Location"].endswith(f"/jobs/{resp.json()['jobID']}")
    status = _wait(client, resp.headers["Location"])
    assert status["status"] == "successful"
    results = client.get(resp.headers["Location"] + "/results", headers=PLANNER).json()
    rows = {f["properties"]["district"]: f["properties"]["far"] for f in results["indicators"]["features"]}
    expected = indicators(served_city, by="district", output="pandas").set_index("district")["far"]
    assert rows == pytest.approx(expected.to_dict())
    assert any(j["jobID"] == resp.json()["jobID"] for j in client.get("/jobs", headers=PLANNER).json()["jobs"])


def test_a_job_that_cannot_answer_fails_with_the_reason_and_has_no_results(client):
    resp = client.post("/processes/viewshed/execution", json={"inputs": {"point": [0.0, 0.0], "radius": 100}},
                       headers={**PLANNER, "Prefer": "respond-async"})
    status = _wait(client, resp.headers["Location"])
    assert status["status"] == "failed" and "DEM" in status["message"]
    assert client.get(resp.headers["Location"] + "/results", headers=PLANNER).status_code == 404


@pytest.mark.parametrize("body, word", [({"inputs": {"levels": 3}}, "no input"), ({"inputs": {}}, "needs input"),
                                        ({"inputs": {"level": 3, "connected_to": [500, 1]}}, "longitude")])
def test_bad_inputs_are_refused_before_anything_runs(client, body, word):
    resp = client.post("/processes/flood/execution", json=body, headers=PLANNER)
    assert resp.status_code == 400 and word in resp.json()["detail"]


def test_a_dismissed_job_is_forgotten(client):
    resp = client.post("/processes/check/execution", json={"inputs": {"rules": ["far"]}},
                       headers={**PLANNER, "Prefer": "respond-async"})
    url = resp.headers["Location"]
    assert client.delete(url, headers=PLANNER).json()["status"] == "dismissed"
    assert client.get(url, headers=PLANNER).status_code == 404
