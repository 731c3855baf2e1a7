"""The demo city's population: housing units in its residential buildings and a clearly synthetic,
deterministic set of residents (``cim.people.synthetic``: region code 990000, valid check digits),
loaded through the same ingest as a housing bureau's spreadsheet, so the 服 screen works out of the box."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from cim.people.read import ingest_people
from cim.people.synthetic import RESIDENT_HEADERS, UNIT_HEADERS, synthetic_residents, write_csv

if TYPE_CHECKING:
    from cim.city import City
    from cim.demo import DemoContext

#: building uses that hold homes
HOMES = ("住宅",)
#: units per storey of a residential building, and residents per unit on average
UNITS_PER_FLOOR = 2
RESIDENTS_PER_UNIT = 2.4


def demo_step(city: City, ctx: DemoContext) -> None:
    """Units on every storey of the residential buildings, about 2.4 residents per occupied unit."""
    buildings = ctx.frames["buildings"]
    homes = buildings[buildings["use"].isin(HOMES)]
    if homes.empty:
        return
    rng = random.Random(int(ctx.recipe["seed"]))
    units: list[list[object]] = []
    for b, row in enumerate(homes.itertuples()):
        for u in range(max(1, int(row.floors)) * UNITS_PER_FLOOR):
            floor = u // UNITS_PER_FLOOR + 1
            units.append([f"U{b:06d}-{u:03d}", row.building_id, f"{floor}{u % UNITS_PER_FLOOR + 1:02d}", floor,
                          round(rng.uniform(55, 140), 1), "住宅", rng.choice(["商品房", "房改房", "公租房"])])
    occupied = [u[0] for u in units if rng.random() < 0.85]
    residents = synthetic_residents(occupied, int(len(occupied) * RESIDENTS_PER_UNIT), seed=int(ctx.recipe["seed"]))
    write_csv(ctx.source_dir / "units.csv", UNIT_HEADERS, units)
    write_csv(ctx.source_dir / "residents.csv", RESIDENT_HEADERS, residents)
    ctx.reports.append(ingest_people(city, ctx.source_dir / "units.csv", table="units", parent_layer="buildings",
                                     actor="cim demo"))
    ctx.reports.append(ingest_people(city, ctx.source_dir / "residents.csv", table="residents", actor="cim demo"))
