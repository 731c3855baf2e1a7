"""Demo step: the worksite parcel gets a multi-storey building, written as a real IFC4 file and
ingested through the same path as any model (phase ``build``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cim.city import City
    from cim.demo import DemoContext

#: the generated tower: storeys, footprint (m), storey height (m)
TOWER = {"storeys": 8, "width": 30.0, "depth": 18.0, "storey_height": 3.6}
LAYER = "worksite_bim"


def demo_step(city: City, ctx: DemoContext) -> None:
    """Write ``worksite.ifc`` centred on the worksite parcel and ingest it as ``worksite_bim``."""
    from bim.generate import write_demo_building
    from bim.georef import Anchor

    parcels = ctx.frames["parcels"]
    parcel = parcels[parcels["parcel_id"] == ctx.worksite_parcel].geometry.iloc[0]
    centre = parcel.centroid
    name = ctx.recipe.raw.get("worksite", {}).get("name", "示范工地")
    anchor = Anchor(centre.x, centre.y, 0.0, crs=city.crs)  # the generated building is centred on it
    path = write_demo_building(ctx.source_dir / "worksite.ifc", anchor=anchor, name=name, **TOWER)
    ctx.reports.append(city.ingest(path, layer=LAYER, phase="build", classification="internal"))
