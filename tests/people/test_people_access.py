"""Each role against each path sees exactly what cim.access allows: masked rows for person roles,
k-anonymous counts for the others, nothing unmasked in any response to a role below admin."""

from __future__ import annotations

import csv
import json
import re

import pytest
from fastapi.testclient import TestClient
from pyproj import Transformer

from cim.access import K_ANONYMITY, ROLES
from cim.errors import PermissionDenied
from cim.people.read import for_role, ingest_people
from tests.people.conftest import RESIDENTS, X0, Y0
from tiles import create_app

KEYS = {f"{role}-key-0001": role for role in ROLES if role != "anonymous"}


def _source(path):
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return {r["人员编号"]: r for r in rows}


def test_admin_reads_residents_in_full_and_an_operator_masked(people_city, city_files):
    source = _source(city_files["residents"])
    full = for_role(people_city, "admin").residents(building="buildings.b0", limit=100)
    assert len(full) == RESIDENTS["b0"]
    for row in full:
        src = source[row["resident_id"]]
        assert (row["name"], row["id_number"], row["phone"]) == (src["姓名"], src["公民身份号码"], src["联系电话"])
        assert row["unit"] == f"units.{src['房屋编号']}"
    masked = for_role(people_city, "operator").residents(building="buildings.b0", limit=100)
    assert len(masked) == RESIDENTS["b0"]
    for row in masked:
        src = source[row["resident_id"]]
        assert row["name"] == src["姓名"][0] + "*" * (len(src["姓名"]) - 1)
        assert re.fullmatch(r"9900\*{10}\d{3}[\dX]", row["id_number"])
        assert row["id_number"][-4:] == src["公民身份号码"][-4:]
        assert re.fullmatch(r"199\*{4}\d{4}", row["phone"])
        assert row["unit"] == "buildings.b0"  # the exact address only to the building
        assert row["birth_year"].endswith("0s")


@pytest.mark.parametrize("role", ["anonymous", "viewer", "planner"])
def test_roles_without_person_access_are_refused_rows(people_city, role):
    with pytest.raises(PermissionDenied):
        for_role(people_city, role).residents(building="buildings.b0")
    units = for_role(people_city, role).units("buildings.b0")
    assert "residents" not in units and all("residents" not in u for u in units["units"])


def test_a_secret_field_is_masked_even_for_admin_and_hidden_from_operators(people_city, city_files):
    ingest_people(people_city, city_files["residents"], table="residents", levels=["phone=secret"])
    admin = for_role(people_city, "admin").residents(building="buildings.b0")
    assert admin and all(re.fullmatch(r"199\*{4}\d{4}", r["phone"]) for r in admin)
    operator = for_role(people_city, "operator").residents(building="buildings.b0")
    assert operator and all("phone" not in r for r in operator)


def test_planner_sees_population_per_parcel_without_names(people_city):
    rows = for_role(people_city, "planner").population("parcel")
    by_key = {r["key"]: r for r in rows}
    # P1: b0 12 + b1 3 (suppressed) + b2 0 (suppressed) → 12 published; P2: b3 7 + b4 4 (suppressed) + b5 20 → 27
    assert by_key["parcels.P1"]["residents"] == 12
    assert by_key["parcels.P2"]["residents"] == 27
    assert by_key["parcels.P3"]["residents"] is None  # b6 holds 2
    assert all(set(r) == {"key", "residents", "units", "occupied_units", "buildings"} for r in rows)


@pytest.mark.parametrize("by", ["building", "parcel", "grid"])
def test_no_count_below_k_reaches_a_role_without_person_access(people_city, by):
    for role in ("anonymous", "viewer", "planner"):
        for cell in (100.0, 200.0, 500.0):
            rows = for_role(people_city, role).population(by, cell=cell)
            assert rows
            for r in rows:
                assert r["residents"] is None or r["residents"] >= K_ANONYMITY, (role, by, cell, r)
                assert r["occupied_units"] is None or r["residents"] is not None


def test_coarser_counts_are_sums_of_published_building_counts_so_subtraction_reveals_nothing(people_city):
    view = for_role(people_city, "planner")
    published = {r["id"]: r["residents"] for r in view.population("building")}
    assert published["buildings.b1"] is None and published["buildings.b4"] is None
    for cell in (100.0, 250.0, 1000.0):
        total = sum(r["residents"] or 0 for r in view.population("grid", cell=cell))
        assert total <= sum(v for v in published.values() if v is not None)
    parcels = {r["key"]: r["residents"] for r in view.population("parcel")}
    assert parcels["parcels.P2"] - published["buildings.b3"] - published["buildings.b5"] == 0


def test_person_roles_get_exact_counts(people_city):
    rows = {r["id"]: r["residents"] for r in for_role(people_city, "operator").population("building")}
    assert rows == {f"buildings.{b}": n for b, n in RESIDENTS.items()}


def _tile(z):
    lon, lat = Transformer.from_crs("EPSG:4549", "EPSG:4326", always_xy=True).transform(X0 + 400, Y0 + 40)
    x, y = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True).transform(lon, lat)
    half = 20037508.342789244
    size = 2 * half / (1 << z)
    return int((x + half) // size), int((half - y) // size)


def test_generated_requests_never_show_an_unmasked_person_value_to_a_role_below_admin(people_city, city_files):
    source = _source(city_files["residents"]).values()
    secrets = ({r["姓名"] for r in source} | {r["公民身份号码"] for r in source} | {r["联系电话"] for r in source})
    rid = next(iter(_source(city_files["residents"])))
    by_role = {role: key for key, role in KEYS.items()}
    tx, ty = _tile(14)
    paths = ["/collections", "/api/city", "/collections/residents", "/collections/residents/items",
             f"/collections/residents/items/residents.{rid}", f"/api/features/residents.{rid}",
             "/collections/units/items?limit=1000", "/collections/units/items/units.U000000-000",
             f"/collections/units/tiles/WebMercatorQuad/14/{ty}/{tx}", "/3dtiles/residents/tileset.json",
             "/api/people/population?by=grid", "/api/people/population?by=building",
             "/api/people/population?by=parcel", f"/api/people/population/tiles/14/{tx}/{ty}.mvt",
             "/api/people/buildings/buildings.b0/units", "/api/people/residents?building=buildings.b0&limit=1000",
             "/api/people/residents?limit=1000", "/api/people/audit",
             *[f"/api/kpis?mode={m}" for m in ("plan", "build", "manage", "operate")]]
    for value in sorted(secrets)[:40]:
        paths.append(f"/api/search?q={value}")
    app = create_app(people_city, api_keys=json.dumps(KEYS))
    seen_admin_secret = False
    with TestClient(app) as client:
        for role in ROLES:
            headers = {"X-API-Key": by_role[role]} if role != "anonymous" else {}
            for path in paths:
                response = client.get(path, headers=headers)
                assert response.status_code < 500, (role, path, response.text[:300])
                body = response.content.decode("utf-8", errors="ignore")
                leaked = [s for s in secrets if s in body]
                if role == "admin":
                    seen_admin_secret |= bool(leaked)
                    continue
                assert not leaked, (role, path, leaked[:3])
    assert seen_admin_secret, "the admin should read residents in full somewhere (else the test proves nothing)"


def test_population_tiles_carry_counts_of_at_least_k_for_roles_without_person_access(people_city):
    import mapbox_vector_tile

    tx, ty = _tile(14)
    app = create_app(people_city, api_keys=json.dumps(KEYS))
    with TestClient(app) as client:
        response = client.get(f"/api/people/population/tiles/14/{tx}/{ty}.mvt?cell=100")
        assert response.status_code == 200
        cells = mapbox_vector_tile.decode(response.content)["population"]["features"]
        counts = [f["properties"].get("residents") for f in cells]
        assert cells and all(c is None or c >= K_ANONYMITY for c in counts)
        assert any(c is None for c in counts)  # the small buildings' cells are there, suppressed
