"""People on a city made of real files: the Delft BGT footprints (../shared/datasets) and a small
generated units/residents CSV naming them — nothing depends on a layer or field only `cim demo` writes."""

from __future__ import annotations

import re

import pytest

import cim
from cim.access import K_ANONYMITY
from cim.errors import PermissionDenied, ValidationError
from cim.people.read import for_role, ingest_people
from cim.people.synthetic import RESIDENT_HEADERS, UNIT_HEADERS, synthetic_residents, synthetic_units, write_csv
from tests.conftest import sample


@pytest.fixture(scope="module")
def delft(tmp_path_factory):
    footprints = sample("vector/delft_bgt_pand.sqlite")
    folder = tmp_path_factory.mktemp("delft_people")
    city = cim.create(folder / "delft.duckdb", crs="EPSG:28992")
    city.ingest(footprints, layer="panden")
    ids = sorted(city.features("panden", output="pandas")["id"])[:60]
    units = synthetic_units(ids, (1, 6), seed=3)
    write_csv(folder / "woningen.csv", UNIT_HEADERS, units)
    write_csv(folder / "bewoners.csv", RESIDENT_HEADERS, synthetic_residents([u[0] for u in units], 300, seed=3))
    units_report = ingest_people(city, folder / "woningen.csv", table="units")
    residents_report = ingest_people(city, folder / "bewoners.csv", table="residents")
    yield city, units_report, residents_report
    city.close()


def test_units_and_residents_link_to_real_footprints(delft):
    city, units, residents = delft
    assert units.rejected == 0 and units.read == units.stored
    assert residents.read == residents.stored == 300
    resident = city.feature(for_role(city, "admin").residents(limit=1)[0]["id"])
    assert [p["id"].split(".")[0] for p in resident["parents"]] == ["units", "panden"]


def test_a_planner_gets_k_anonymous_grid_counts_on_a_real_city_and_no_rows(delft):
    city, _, _ = delft
    planner = for_role(city, "planner")
    cells = planner.population("grid", cell=100)
    assert cells and all(c["residents"] is None or c["residents"] >= K_ANONYMITY for c in cells)
    assert sum(c["residents"] or 0 for c in cells) <= 300
    with pytest.raises(PermissionDenied):
        planner.residents(limit=5)
    with pytest.raises(ValidationError, match="no parcels"):
        planner.population("parcel")


def test_an_operator_reads_masked_residents_of_a_real_building(delft):
    city, _, _ = delft
    building = max(for_role(city, "admin").population("building"), key=lambda b: b["residents"])["id"]
    rows = for_role(city, "operator").residents(building=building)
    assert rows and all(re.fullmatch(r"9900\*{10}\d{3}[\dX]", r["id_number"]) for r in rows)
    assert all(r["unit"] == building for r in rows)
