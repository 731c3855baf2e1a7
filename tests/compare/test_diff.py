"""A layer ingested twice with known edits: the diff reports exactly those, on both backends."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from cim.errors import QueryError


def test_diff_of_two_ingests_reports_exactly_the_known_edits(two_versions):
    d = two_versions.diff("buildings", 1, 2)
    assert d.summary == {"added": 1, "removed": 1, "modified": 3, "unchanged": 6}
    changes = d.by_id()
    assert {i: c.change for i, c in changes.items()} == {
        "buildings.b10": "added", "buildings.b3": "removed",
        "buildings.b5": "modified", "buildings.b7": "modified", "buildings.b8": "modified"}
    b5 = changes["buildings.b5"]
    assert b5.geometry_changed
    assert b5.measures["area_delta"] == pytest.approx(200.0)
    assert b5.measures["height_delta"] == pytest.approx(15.0)
    assert b5.attributes["height"] == {"old": 15.0, "new": 30.0}
    assert b5.measures["moved"] == pytest.approx(5.0)       # centroid of a 30 m wide box: 5 m east
    assert b5.measures["hausdorff"] == pytest.approx(10.0)
    b7 = changes["buildings.b7"]
    assert b7.attributes == {}
    assert b7.measures["moved"] == pytest.approx(4.0)
    assert b7.measures["hausdorff"] == pytest.approx(4.0)
    assert b7.measures["area_delta"] == pytest.approx(0.0)
    b8 = changes["buildings.b8"]
    assert b8.attributes == {"floors": {"old": 3, "new": 5}}
    assert not b8.geometry_changed and b8.measures["moved"] == pytest.approx(0.0)
    assert changes["buildings.b10"].measures == {"area_new": pytest.approx(400.0), "height_new": 24.0}
    assert changes["buildings.b3"].measures == {"area_old": pytest.approx(400.0), "height_old": 13.0}


def test_a_version_named_by_time_is_the_version_valid_then(two_versions):
    versions = two_versions.versions("buildings")
    assert list(versions["version"]) == [2, 1] and list(versions["current"]) == [True, False]
    v1_time = versions.loc[versions["version"] == 1, "created_at"].item()
    by_time = two_versions.diff("buildings", v1_time, None)
    assert (by_time.from_.version, by_time.to.version) == (1, 2)
    assert by_time.summary == two_versions.diff("buildings", 1, 2).summary
    before_all = two_versions.diff("buildings", "2000-01-01T00:00:00Z", 1)
    assert before_all.from_.version == 0 and before_all.summary["added"] == 10


def test_the_same_version_has_no_differences_and_the_reverse_diff_swaps_added_and_removed(two_versions):
    assert two_versions.diff("buildings", 2, 2).summary == {"added": 0, "removed": 0, "modified": 0, "unchanged": 10}
    back = two_versions.diff("buildings", 2, 1)
    assert back.summary == {"added": 1, "removed": 1, "modified": 3, "unchanged": 6}
    assert back.by_id()["buildings.b3"].change == "added"
    assert back.by_id()["buildings.b5"].measures["area_delta"] == pytest.approx(-200.0)


def test_an_unknown_version_or_a_time_without_zone_is_a_clear_error(two_versions):
    with pytest.raises(QueryError, match="no version 7"):
        two_versions.diff("buildings", 1, 7)
    with pytest.raises(QueryError, match="time zone"):
        two_versions.diff("buildings", "2026-01-01T00:00:00", 2)


def test_diff_geojson_puts_removed_features_at_their_old_place(two_versions):
    doc = two_versions.diff("buildings", 1, 2).to_geojson(crs=None)
    by = {f["id"]: f for f in doc["features"]}
    assert by["buildings.b3"]["geometry"]["coordinates"][0][0] == [515150.0, 3980000.0]
    assert by["buildings.b5"]["properties"]["area_delta"] == pytest.approx(200.0)


def test_cli_versions_and_diff(two_versions_at, tmp_path):
    location = two_versions_at
    run = [sys.executable, "-m", "cim"]
    out = subprocess.run([*run, "versions", location, "buildings", "--json"], capture_output=True, text=True,
                         check=True).stdout
    assert [(v["layer"], v["version"], v["current"]) for v in json.loads(out)] == [
        ("buildings", 2, True), ("buildings", 1, False)]
    geo = tmp_path / "diff.geojson"
    subprocess.run([*run, "diff", location, "buildings", "--from", "1", "--to", "2", "--format", "geojson",
                    "-o", str(geo)], capture_output=True, text=True, check=True)
    doc = json.loads(geo.read_text())
    assert doc["summary"] == {"added": 1, "removed": 1, "modified": 3, "unchanged": 6}
    assert doc["features"][0]["geometry"]["coordinates"][0][0][0] < 180  # lon/lat
    table = subprocess.run([*run, "diff", location, "buildings", "--from", "1", "--to", "2"],
                           capture_output=True, text=True, check=True, env={**os.environ, "COLUMNS": "200"}).stdout
    assert "buildings.b8" in table and "floors 3 → 5" in table
    html = tmp_path / "diff.html"
    subprocess.run([*run, "diff", location, "buildings", "--from", "1", "--to", "2", "--format", "html",
                    "-o", str(html)], capture_output=True, text=True, check=True)
    assert "buildings.b5" in html.read_text() and "<table" in html.read_text()


def test_a_version_number_beyond_any_version_is_the_same_clear_error(two_versions):
    with pytest.raises(QueryError, match="no version 99999999999999"):
        two_versions.diff("buildings", "99999999999999", 2)
