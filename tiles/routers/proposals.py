"""Planning proposals over HTTP: ``GET /api/proposals``, ``/api/proposals/{name}/features`` and
``/api/proposals/compare?names=a,b`` (docs/compare.md).

Proposals are planning material: listing and drawing them needs the viewer role, comparing them
(the parcels' indicators and limits, compliance failures, neighbours' sunlight) the planner role —
the same as the analyses they run (``cim/access``). Nothing here writes to the city.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import numpy as np
import shapely
from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse

from cim.analysis.proposals import compare
from cim.errors import ValidationError
from cim.model.proposals import list_proposals, proposal_buildings
from gis.crs import parse_crs, reproject
from tiles.dependencies import CityDep, requires

router = APIRouter(prefix="/api/proposals", tags=["compare"])

GEOJSON = "application/geo+json"
MAX_COMPARED = 5


@router.get("", summary="The planning proposals", response_model=dict[str, Any],
            dependencies=[Depends(requires("viewer", "listing proposals"))])
def proposals(city: CityDep) -> dict[str, Any]:
    """Every proposal: name, kind (bim | massing), source file, parcel, buildings, created_at, note."""
    return {"proposals": list_proposals(city)}


@router.get("/compare", summary="The current city and proposals side by side", response_model=dict[str, Any],
            dependencies=[Depends(requires("planner", "comparing proposals"))])
def compare_proposals(city: CityDep,
                      names: Annotated[str, Query(max_length=400, description="Proposals, comma-separated.")] = "",
                      sunlight: Annotated[bool, Query(description="Include the neighbours' sunlight hours.")] = True,
                      ) -> dict[str, Any]:
    """Indicators of the parcels the proposals stand on, compliance failures there and the residential
    neighbours' sunlight hours — for the current city and each proposal (columns)."""
    chosen = [n.strip() for n in names.split(",") if n.strip()]
    if len(chosen) > MAX_COMPARED:
        raise ValidationError(f"compare at most {MAX_COMPARED} proposals at once (got {len(chosen)})")
    return compare(city, chosen, sunlight=sunlight).as_dict()


@router.get("/{name}/features", summary="A proposal's buildings as GeoJSON", response_class=JSONResponse,
            responses={200: {"content": {GEOJSON: {}}}},
            dependencies=[Depends(requires("viewer", "drawing proposals"))])
def proposal_features(city: CityDep, name: Annotated[str, Path(max_length=64)]) -> JSONResponse:
    """Footprints (EPSG:4326) with id, name, height, floors and use, for drawing the proposal."""
    table = proposal_buildings(city, name)
    geoms = shapely.from_wkb(np.asarray(table["wkb"].to_pylist(), dtype=object))
    if len(geoms):
        geoms = reproject(geoms, parse_crs(city.crs), parse_crs("EPSG:4326"))
    rows = table.drop_columns(["wkb"]).to_pylist()
    doc = {"type": "FeatureCollection", "proposal": name, "features": [
        {"type": "Feature", "id": r["id"], "properties": r, "geometry": json.loads(shapely.to_geojson(g))}
        for r, g in zip(rows, geoms, strict=True)]}
    return JSONResponse(doc, media_type=GEOJSON)


__all__ = ["router"]
