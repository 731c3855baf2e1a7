"""A small city with parcels, buildings, housing units and residents (synthetic, valid ID numbers),
on each backend. Residents per building are chosen so some counts fall below k = 5."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from cim.people.idcard import make_id_number
from cim.people.synthetic import RESIDENT_HEADERS, UNIT_HEADERS, synthetic_residents, synthetic_units, write_csv

#: residents living in each building (b1, b4 and b6 below k = 5)
RESIDENTS = {"b0": 12, "b1": 3, "b2": 0, "b3": 7, "b4": 4, "b5": 20, "b6": 2}
X0, Y0 = 500_000.0, 4_000_000.0


def _square(x: float, y: float, size: float) -> list:
    return [[[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]]


def _collection(features: list[dict]) -> dict:
    return {"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4549"}},
            "features": features}


def write_city_files(folder: Path) -> dict[str, Path]:
    """Parcels P1 (b0–b2), P2 (b3–b5) and P3 (b6); units (4 per building) and residents CSVs."""
    parcels = [{"type": "Feature", "properties": {"parcel_id": f"P{i + 1}", "name": f"地块{i + 1}", "height_limit": 60},
                "geometry": {"type": "Polygon", "coordinates": _square(X0 + i * 400, Y0, 390)}} for i in range(3)]
    buildings = []
    for n, b in enumerate(RESIDENTS):
        parcel = n // 3
        x = X0 + parcel * 400 + (n % 3) * 120 + 20
        buildings.append({"type": "Feature", "properties": {"id": b, "name": f"楼{b}", "parcel_id": f"P{parcel + 1}"},
                          "geometry": {"type": "Polygon", "coordinates": _square(x, Y0 + 20, 40)}})
    (folder / "parcels.geojson").write_text(json.dumps(_collection(parcels)), encoding="utf-8")
    (folder / "buildings.geojson").write_text(json.dumps(_collection(buildings)), encoding="utf-8")
    units = synthetic_units([f"buildings.{b}" for b in RESIDENTS], 4)
    write_csv(folder / "units.csv", UNIT_HEADERS, units)
    rows = []
    for n, (b, count) in enumerate(RESIDENTS.items()):
        own = [u[0] for u in units if u[1] == f"buildings.{b}"]
        for r in synthetic_residents(own, count, seed=n):
            r[0] = f"{b}-{r[0]}"
            rows.append(r)
    # each call numbers its people from 0: make ID numbers and phones distinct across buildings
    for i, r in enumerate(rows):
        r[2] = make_id_number("990000", date(1950 + i % 50, 1 + i % 12, 1 + i % 28), i)
        r[3] = f"1990000{i:04d}"
    write_csv(folder / "residents.csv", RESIDENT_HEADERS, rows)
    return {"parcels": folder / "parcels.geojson", "buildings": folder / "buildings.geojson",
            "units": folder / "units.csv", "residents": folder / "residents.csv"}


def load_city(city, files: dict[str, Path]) -> None:
    from cim.people.read import ingest_people

    city.ingest(files["parcels"], layer="parcels", feature_class="Parcel", id_field="parcel_id")
    city.ingest(files["buildings"], layer="buildings", feature_class="Building", parent="parcels.parcel_id")
    ingest_people(city, files["units"], table="units")
    ingest_people(city, files["residents"], table="residents")


@pytest.fixture
def people_location(city_location):
    """Where ``people_city`` lives (a file, or a database URL with its password, for the command line)."""
    return city_location()


@pytest.fixture
def people_city(people_location, tmp_path):
    """A city on the backend under test with parcels, buildings, units and residents."""
    import cim

    files = write_city_files(tmp_path)
    city = cim.create(people_location)
    load_city(city, files)
    yield city
    city.close()


@pytest.fixture
def city_files(tmp_path):
    return write_city_files(tmp_path)
