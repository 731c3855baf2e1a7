"""Named users with hashed keys, and the audit trail: one entry per read of person data, refusals too."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

import cim
from cim.audit import audit_entries, export_audit
from cim.errors import PermissionDenied, ValidationError
from cim.people.read import for_role
from cim.users import add_user, authenticate, list_users, revoke_user, rotate_key
from tiles import create_app


def _entries(city, **kw):
    return audit_entries(city, **kw).to_pylist()


def test_a_key_is_stored_only_as_a_salted_hash_and_resolves_to_its_user(people_city):
    key = add_user(people_city, "wang.li", name="王丽", organisation="住建局", role="operator")
    stored = people_city.store.rows("SELECT * FROM users")
    assert all(key not in str(v) and key.split("_")[-1] not in str(v) for row in stored for v in row)
    user = authenticate(people_city, key)
    assert (user.id, user.name, user.organisation, user.role) == ("wang.li", "王丽", "住建局", "operator")
    assert authenticate(people_city, key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert list_users(people_city).column_names == ["id", "name", "organisation", "role", "created_at",
                                                    "rotated_at", "revoked_at"]
    with pytest.raises(ValidationError, match="exists"):
        add_user(people_city, "wang.li", name="x", role="viewer")


def test_a_rotated_key_stops_working_and_a_revoked_user_cannot_sign_in(people_city):
    old = add_user(people_city, "li.na", name="李娜", role="planner")
    new = rotate_key(people_city, "li.na")
    assert authenticate(people_city, old) is None and authenticate(people_city, new).id == "li.na"
    revoke_user(people_city, "li.na")
    assert authenticate(people_city, new) is None
    with pytest.raises(ValidationError, match="revoked"):
        rotate_key(people_city, "li.na")
    changes = [json.loads(e["filter"]) for e in _entries(people_city, layer="users")]
    assert changes == [{"add": "li.na", "role": "planner"}, {"rotate": "li.na"}, {"revoke": "li.na"}]


def test_each_read_of_person_data_is_one_audit_entry_and_counts_are_not(people_city):
    before = len(_entries(people_city))
    view = for_role(people_city, "operator", user="zhao.min")
    rows = view.residents(building="buildings.b0", limit=5)
    view.population("parcel")
    view.population("grid")
    after = _entries(people_city)[before:]
    assert len(after) == 1
    entry = after[0]
    assert (entry["actor"], entry["role"], entry["action"], entry["layer"], entry["row_count"]) == \
        ("zhao.min", "operator", "read", "residents", len(rows))
    assert json.loads(entry["filter"])["building"] == "buildings.b0"
    assert set(entry["fields"].split(",")) >= {"name", "id_number", "phone"}
    view.units("buildings.b0")
    assert len(_entries(people_city)) == before + 2


def test_a_refused_read_is_recorded_too(people_city):
    before = len(_entries(people_city, action="refused"))
    with pytest.raises(PermissionDenied):
        for_role(people_city, "planner", user="sun.yu").residents(parcel="parcels.P1")
    refused = _entries(people_city, action="refused")[before:]
    assert [(e["actor"], e["role"], e["row_count"]) for e in refused] == [("sun.yu", "planner", 0)]


def test_http_reads_are_audited_under_the_named_user_and_unknown_keys_are_refused(people_city):
    key = add_user(people_city, "qian.hong", name="钱红", organisation="街道办", role="operator")
    start = datetime.now(UTC) - timedelta(seconds=1)
    with TestClient(create_app(people_city)) as client:
        ok = client.get("/api/people/residents?building=buildings.b3", headers={"X-API-Key": key})
        assert ok.status_code == 200 and len(ok.json()) == 7
        assert client.get("/api/people/residents", headers={"X-API-Key": key + "x"}).status_code == 401
        assert client.get("/api/people/residents").status_code == 403
    mine = _entries(people_city, user="qian.hong", since=start)
    assert [(e["action"], e["path"], e["row_count"]) for e in mine] == [("read", "http:residents", 7)]
    anonymous = _entries(people_city, action="refused", since=start)
    assert [e["role"] for e in anonymous] == ["anonymous"]


def test_audit_exports_as_csv_and_json_and_the_cli_filters_by_user_and_time(people_city, people_location, tmp_path):
    for_role(people_city, "admin", user="a1").residents(limit=3)
    for_role(people_city, "operator", user="o1").residents(limit=2)
    entries = audit_entries(people_city, user="o1")
    assert export_audit(entries, "csv").splitlines()[0].startswith("at_time,actor,role,action")
    assert json.loads(export_audit(entries, "json"))[0]["actor"] == "o1"
    location = str(people_location)
    if not location.startswith("postgresql"):
        people_city.close()  # one writer per DuckDB file
    out = tmp_path / "audit.json"
    proc = subprocess.run([sys.executable, "-m", "cim", "audit", location, "--user", "o1", "--since",
                           (datetime.now(UTC) - timedelta(hours=1)).isoformat(), "--format", "json", "-o", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(out.read_text(encoding="utf-8"))
    assert [(r["actor"], r["row_count"]) for r in rows] == [("o1", 2)]


def test_postgis_ignores_updates_and_deletes_of_the_audit_trail(people_city, backend):
    if backend != "postgis":
        pytest.skip("the append-only rule is the database's own on PostGIS; DuckDB has no rules")
    for_role(people_city, "admin", user="a1").residents(limit=1)
    before = _entries(people_city)
    people_city.store.execute("UPDATE audit SET actor = 'someone else'")
    people_city.store.execute("DELETE FROM audit")
    assert _entries(people_city) == before


def test_population_of_a_city_without_housing_units_says_how_to_load_them(tmp_path):
    path = tmp_path / "empty.duckdb"
    cim.create(path, crs="EPSG:28992").close()
    proc = subprocess.run([sys.executable, "-m", "cim", "people", "stats", str(path), "--by", "building", "--json"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and json.loads(proc.stdout) == []
    assert "no housing units in the city" in proc.stderr and "cim people ingest" in proc.stderr


def test_the_people_group_help_names_the_commands_it_has():
    """Its summary once promised `load` and `count`, which do not exist."""
    import re

    from typer.main import get_command

    from cim.cli.people import people_app

    group = get_command(people_app)
    summary = people_app.info.help.split("—", 1)[1]
    named = {re.sub(r"\(.*?\)", "", part).strip(" .") for part in summary.split(",")}
    assert named == set(group.commands), (named, sorted(group.commands))
