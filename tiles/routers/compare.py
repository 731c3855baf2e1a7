"""Versions and diffs over HTTP: ``GET /api/versions`` and ``GET /collections/{layer}/diff`` (docs/compare.md).

Both obey ``cim/access``: only layers the caller's role may see are listed or diffed (a hidden layer
is a 404 like a missing one); a layer seen coarse is diffed on its desensitised geometry, with
heights rounded and changed attribute values masked.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse

from cim.access import coarse_geometry_sql, coarsen_z, mask_properties
from cim.model.catalog import visible_layers
from cim.model.diff import DEFAULT_LIMIT, diff_layer, list_versions
from tiles.dependencies import CityDep, Layer, Role

router = APIRouter(tags=["compare"])

GEOJSON = "application/geo+json"
MAX_DIFF_LIMIT = 100_000


@router.get("/api/versions", summary="Versions of the layers you may see", response_model=dict[str, Any])
def versions(city: CityDep, role: Role,
             layer: Annotated[str | None, Query(max_length=64, description="Only this layer.")] = None,
             ) -> dict[str, Any]:
    """Every version of each visible layer, newest first: ``created_at`` (valid from), ``valid_to``
    (null: current), source and counts. Give a version's number or time as ``from``/``to`` of a diff
    or as ``datetime`` of tiles."""
    names = [i.name for i in visible_layers(city, role) if layer is None or i.name == layer]
    return {"versions": list_versions(city, layer, layers=names) if names else []}


@router.get("/collections/{layer}/diff", summary="What changed in a layer between two versions",
            response_model=dict[str, Any],
            responses={200: {"content": {"application/json": {}, GEOJSON: {}}}})
def diff(city: CityDep, info: Layer,
         from_: Annotated[str, Query(alias="from", max_length=64,
                                     description="A version number or an ISO time with zone.")],
         to: Annotated[str | None, Query(max_length=64, description="The same; default: the current version.")] = None,
         f: Annotated[Literal["json", "geojson"] | None, Query(description="json (default) or geojson.")] = None,
         limit: Annotated[int, Query(ge=0, le=MAX_DIFF_LIMIT, description="Most changes listed.")] = DEFAULT_LIMIT,
         ignore: Annotated[str | None, Query(max_length=400, description=(
             "Attributes whose changes do not count, comma-separated (e.g. fid)."))] = None,
         accept: Annotated[str | None, Header()] = None) -> JSONResponse:
    """Added, removed and modified features by id with attribute changes (old → new) and geometry
    measures (area and height deltas, centroid move, Hausdorff distance, metres)."""
    coarse = info.view == "coarse"
    d = diff_layer(city, info.name, from_, info.version if to is None else to, limit=limit, coarse=coarse,
                   coarse_geometry=coarse_geometry_sql, mask=mask_properties, round_z=coarsen_z,
                   ignore=[i.strip() for i in (ignore or "").split(",") if i.strip()])
    if f == "geojson" or (f is None and accept and GEOJSON in accept):
        return JSONResponse(d.to_geojson(), media_type=GEOJSON)
    return JSONResponse(d.as_dict())


__all__ = ["router"]
