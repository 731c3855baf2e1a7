"""Versions and diffs over HTTP, as each role may see them."""

from __future__ import annotations

import pytest

from tests.tiles.conftest import headers


def test_versions_lists_only_the_layers_a_role_may_see(served):
    anonymous = served.get("/api/versions").json()["versions"]
    assert {v["layer"] for v in anonymous} == {"buildings"}
    assert [(v["version"], v["current"]) for v in anonymous] == [(2, True), (1, False)]
    assert anonymous[1]["valid_to"] == anonymous[0]["created_at"]
    operator = served.get("/api/versions", headers=headers("operator")).json()["versions"]
    assert {v["layer"] for v in operator} == {"buildings", "pipes"}
    only = served.get("/api/versions?layer=pipes").json()["versions"]
    assert only == []


def test_diff_endpoint_reports_the_known_edits(served):
    doc = served.get("/collections/buildings/diff?from=1&to=2").json()
    assert doc["summary"] == {"added": 1, "removed": 1, "modified": 3, "unchanged": 6}
    by = {c["id"]: c for c in doc["changes"]}
    assert by["buildings.b8"]["attributes"] == {"floors": {"old": 3, "new": 5}}
    assert by["buildings.b5"]["measures"]["height_delta"] == pytest.approx(15.0)
    geo = served.get("/collections/buildings/diff?from=1&f=geojson")
    assert geo.headers["content-type"].startswith("application/geo+json")
    features = geo.json()["features"]
    assert {f["properties"]["change"] for f in features} == {"added", "removed", "modified"}
    lon, lat = features[0]["geometry"]["coordinates"][0][0]
    assert 100 < lon < 130 and 20 < lat < 50


def test_diff_of_a_hidden_layer_is_404_and_bad_versions_are_400(served):
    assert served.get("/collections/pipes/diff?from=1&to=2").status_code == 404
    assert served.get("/collections/buildings/diff?from=9&to=2").status_code == 400
    assert served.get("/collections/buildings/diff?from=2026-01-01T00:00:00&to=2").status_code == 400


def test_coarse_view_diff_masks_changed_values_and_coarsens_geometry(served):
    coarse = served.get("/collections/pipes/diff?from=1&to=2", headers=headers("operator")).json()
    (change,) = coarse["changes"]
    assert change["id"] == "pipes.p1"
    assert change["attributes"] == {"pressure": {"old": "***", "new": "***"}}
    assert change["measures"]["moved"] % 50 == pytest.approx(0.0)   # snapped to the 50 m grid
    full = served.get("/collections/pipes/diff?from=1&to=2", headers=headers("admin")).json()
    assert full["changes"][0]["attributes"] == {"pressure": {"old": 0.4, "new": 0.8}}
    assert full["changes"][0]["measures"]["moved"] == pytest.approx(120.0)


def test_ignored_attributes_do_not_count_as_changes(served):
    doc = served.get("/collections/buildings/diff?from=1&to=2&ignore=floors").json()
    assert doc["summary"] == {"added": 1, "removed": 1, "modified": 2, "unchanged": 7}
    assert "buildings.b8" not in {c["id"] for c in doc["changes"]}
