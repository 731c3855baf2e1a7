"""Annotations (批注): stored in the model, versioned, read by role — in Python, over HTTP and on the
command line, on both backends."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cim.cli import app as cli_app
from cim.errors import FeatureNotFound, PermissionDenied, ValidationError
from cim.model.annotations import (
    add_annotation,
    annotation_history,
    delete_annotation,
    edit_annotation,
    list_annotations,
)
from cim.users import add_user
from tiles import create_app

KEYS = {"viewer-key-0001": "viewer", "operator-key-0001": "operator", "planner-key-0001": "planner",
        "admin-key-000001": "admin"}
POINT = {"type": "Point", "coordinates": [120.171, 35.948]}
AREA = {"type": "Polygon", "coordinates": [[[120.17, 35.94], [120.18, 35.94], [120.18, 35.95], [120.17, 35.94]]]}


def key(role: str) -> dict[str, str]:
    return {"X-API-Key": next(k for k, v in KEYS.items() if v == role)}


def test_an_operator_note_is_read_by_operators_and_above_not_by_viewers(new_city):
    city = new_city()
    note = add_annotation(city.store, text="井盖松动", geometry=POINT, author="wang", role="operator",
                          min_role="operator")
    add_annotation(city.store, text="公开说明", geometry=AREA, author="li", role="viewer", min_role="anonymous")
    texts = {role: [a["text"] for a in list_annotations(city.store, role=role)]
             for role in ("anonymous", "viewer", "operator", "admin")}
    assert texts == {"anonymous": ["公开说明"], "viewer": ["公开说明"],
                     "operator": ["井盖松动", "公开说明"], "admin": ["井盖松动", "公开说明"]}
    assert note["kind"] == "point" and note["author"] == "wang" and note["role"] == "operator"
    assert list_annotations(city.store, role="admin")[1]["kind"] == "area"


def test_an_edit_is_a_new_version_and_a_deletion_keeps_the_past_readable(new_city):
    city = new_city()
    note = add_annotation(city.store, text="first", geometry=POINT, author="wang", role="planner")
    time.sleep(0.01)
    between = datetime.now(UTC)
    time.sleep(0.01)
    edit_annotation(city.store, note["id"], role="planner", by="zhao", text="second")
    assert [a["text"] for a in list_annotations(city.store, role="planner")] == ["second"]
    assert [a["text"] for a in list_annotations(city.store, role="planner", as_of=between)] == ["first"]
    delete_annotation(city.store, note["id"], role="admin", by="admin")
    assert list_annotations(city.store, role="admin") == []
    assert [a["text"] for a in list_annotations(city.store, role="planner", as_of=between)] == ["first"]
    versions = annotation_history(city.store, note["id"], role="planner")
    assert [(v["version"], v["text"], v["author"], v["closed_by"]) for v in versions] == [
        (1, "first", "wang", "zhao"), (2, "second", "zhao", "admin")]


def test_a_lower_role_may_not_delete_or_see_a_higher_roles_note(new_city):
    city = new_city()
    note = add_annotation(city.store, text="x", geometry=POINT, author="a", role="planner", min_role="viewer")
    with pytest.raises(PermissionDenied):
        delete_annotation(city.store, note["id"], role="viewer", by="v")
    hidden = add_annotation(city.store, text="y", geometry=POINT, author="a", role="admin", min_role="admin")
    with pytest.raises(FeatureNotFound):
        delete_annotation(city.store, hidden["id"], role="planner", by="p")
    assert len(list_annotations(city.store, role="admin")) == 2


@pytest.mark.parametrize(("geometry", "message"), [
    ({"type": "LineString", "coordinates": [[0, 0], [1, 1]]}, "Point or Polygon"),
    ({"type": "Point", "coordinates": [500, 35]}, "outside lon/lat"),
    ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1]]]}, "at least 4"),
    ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}, "closed"),
    ({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [2, 2], [0, 0]]]}, "no area"),
])
def test_a_bad_place_is_refused_with_the_reason(city, geometry, message):
    with pytest.raises(ValidationError, match=message):
        add_annotation(city.store, text="t", geometry=geometry, author="a", role="admin")
    assert list_annotations(city.store, role="admin") == []


def test_nobody_writes_a_note_above_their_own_role(city):
    with pytest.raises(ValidationError, match="above your role"):
        add_annotation(city.store, text="t", geometry=POINT, author="a", role="viewer", min_role="planner")


@pytest.fixture
def client(new_city, tmp_path):
    city = new_city()
    app = create_app(city, api_keys=json.dumps(KEYS), viewer_dist=str(tmp_path / "no-viewer"))
    with TestClient(app) as c:
        yield c


def test_http_round_trip_visible_to_allowed_roles_only(client):
    body = {"text": "围挡破损", "geometry": POINT, "min_role": "operator"}
    assert client.post("/api/annotations", json=body).status_code == 403  # anonymous may not write
    made = client.post("/api/annotations", json=body, headers=key("planner"))
    assert made.status_code == 201, made.text
    note = made.json()
    assert note["author"] == "planner" and note["min_role"] == "operator"
    assert made.headers["Location"] == f"/api/annotations/{note['id']}"
    seen = {role: [a["id"] for a in client.get("/api/annotations", headers=key(role)).json()["annotations"]]
            for role in ("viewer", "operator", "admin")}
    assert seen == {"viewer": [], "operator": [note["id"]], "admin": [note["id"]]}
    assert client.get(f"/api/annotations/{note['id']}", headers=key("viewer")).status_code == 404
    assert client.delete(f"/api/annotations/{note['id']}", headers=key("operator")).status_code == 403
    assert client.delete(f"/api/annotations/{note['id']}", headers=key("planner")).status_code == 204
    assert client.get("/api/annotations", headers=key("admin")).json()["annotations"] == []
    past = client.get("/api/annotations", params={"datetime": note["created_at"]}, headers=key("admin"))
    assert [a["id"] for a in past.json()["annotations"]] == [note["id"]]


def test_http_refuses_a_bad_body_with_a_clear_message(client):
    answer = client.post("/api/annotations", json={"text": "", "geometry": POINT}, headers=key("viewer"))
    assert answer.status_code == 400 and "needs a text" in answer.text
    answer = client.post("/api/annotations", json={"text": "t", "geometry": {"type": "Point"}},
                         headers=key("viewer"))
    assert answer.status_code == 400 and "lon and lat in degrees" in answer.text


def test_http_bbox_keeps_notes_that_touch_it(client):
    client.post("/api/annotations", json={"text": "in", "geometry": POINT}, headers=key("viewer"))
    client.post("/api/annotations", json={"text": "out", "geometry": {"type": "Point", "coordinates": [10, 10]}},
                headers=key("viewer"))
    got = client.get("/api/annotations", params={"bbox": "120,35,121,36"}, headers=key("viewer")).json()
    assert [a["text"] for a in got["annotations"]] == ["in"]


def test_cli_lists_the_notes_a_role_may_read(tmp_path):
    import cim

    path = tmp_path / "city.duckdb"
    with cim.create(path) as c:
        add_annotation(c.store, text="内部", geometry=POINT, author="wang", role="operator", min_role="operator")
    runner = CliRunner()
    admin = runner.invoke(cli_app, ["annotations", "list", str(path)])
    assert admin.exit_code == 0 and "内部" in admin.output and "wang (operator)" in admin.output
    viewer = runner.invoke(cli_app, ["annotations", "list", str(path), "--role", "viewer"])
    assert viewer.exit_code == 0 and "no annotations" in viewer.output
    added = runner.invoke(cli_app, ["annotations", "add", str(path), "公开", "--lon", "120.1", "--lat", "35.9",
                                    "--min-role", "anonymous"])
    assert added.exit_code == 0, added.output
    listed = json.loads(runner.invoke(cli_app, ["annotations", "list", str(path), "--role", "anonymous",
                                                "--json"]).output)
    assert [a["text"] for a in listed] == ["公开"]
    # as a user runs it: one line saying what to fix, no traceback
    refused = subprocess.run([sys.executable, "-m", "cim", "annotations", "add", str(path), "x", "--lon", "500",
                              "--lat", "35.9"], capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "outside lon/lat: give lon and lat in degrees" in refused.stderr


def test_a_named_users_note_carries_their_name_as_author(new_city, tmp_path):
    city = new_city()
    wang = add_user(city, "wang.li", name="王丽", role="operator")
    app = create_app(city, api_keys=json.dumps(KEYS), viewer_dist=str(tmp_path / "no-viewer"))
    with TestClient(app) as client:
        made = client.post("/api/annotations", json={"text": "井盖缺失", "geometry": POINT},
                           headers={"X-API-Key": wang})
        assert made.status_code == 201, made.text
        assert made.json()["author"] == "wang.li" and made.json()["role"] == "operator"
