"""人·地·房 endpoints for the 服 (public service) screen: population per grid cell, building or parcel
(GeoJSON and MVT), a building's units, a page of residents, the audit trail.

What each role sees is decided by ``cim.access`` through ``cim.people.read.for_role``: residents
masked field by field for roles with person access (each read audited under the caller's named
user), k-anonymous counts for the others.
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

import numpy as np
import pyarrow as pa
import shapely
from fastapi import APIRouter, Path, Query
from fastapi.responses import PlainTextResponse, Response

from cim.access import K_ANONYMITY, POPULATION_CELL_M, require_role
from cim.audit import audit_entries, export_audit
from cim.city import City
from cim.model.catalog import per_version
from cim.model.reads import parse_time
from cim.people.read import for_role
from gis.crs import transformer
from serving.tilegrid import check_tile, tile_bounds
from serving.vector.encode import encode_tile
from tiles.dependencies import CityDep, Role, UserDep

router = APIRouter(prefix="/api/people", tags=["people"])

_lock = threading.Lock()


def _population(city: City, role: str, by: str, cell: float) -> list[dict[str, Any]]:
    """Counts per group as ``role`` may see them, cached per model version (counts hold no names)."""
    def count() -> list[dict[str, Any]]:
        return for_role(city, role, path="http").population(by, cell=cell)  # type: ignore[arg-type]

    return per_version(city, "people", (role, by, cell), count, keep=64)


_mercator: dict[int, tuple[list[dict[str, Any]], np.ndarray]] = {}


def _mercator_cells(city: City, rows: list[dict[str, Any]]) -> np.ndarray:
    """The cells of ``rows`` in Web Mercator, kept beside the cached counts they belong to."""
    hit = _mercator.get(id(rows))
    if hit is not None and hit[0] is rows:
        return hit[1]
    geoms = _cells(city, rows, "EPSG:3857")
    with _lock:
        if len(_mercator) > 64:
            _mercator.clear()
        _mercator[id(rows)] = (rows, geoms)
    return geoms


def _cells(city: City, rows: list[dict[str, Any]], crs: str) -> np.ndarray:
    boxes = shapely.box(*np.asarray([r["bounds"] for r in rows], dtype=float).reshape(-1, 4).T)
    t = transformer(city.crs, crs)
    return shapely.transform(boxes, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))


@router.get("/population", summary="Residents and housing per grid cell, building or parcel (GeoJSON)",
            response_model=dict[str, Any])
def population(city: CityDep, role: Role,
               by: Annotated[str, Query(description="grid | building | parcel | district")] = "grid",
               cell: Annotated[float, Query(ge=10, le=5000, description="Grid cell width, metres")] = POPULATION_CELL_M,
               ) -> dict[str, Any]:
    """Counts below k (5) are null for roles without person access."""
    rows = _population(city, role, by, cell)
    features = []
    if by == "grid" and rows:
        for row, geom in zip(rows, _cells(city, rows, "EPSG:4326"), strict=True):
            props = {k: v for k, v in row.items() if k != "bounds"}
            features.append({"type": "Feature", "id": row["key"], "properties": props,
                             "geometry": shapely.geometry.mapping(geom)})
    elif by == "building" and rows:
        t = transformer(city.crs, "EPSG:4326")
        lon, lat = t.transform([r["x"] for r in rows], [r["y"] for r in rows])
        for row, x, y in zip(rows, lon, lat, strict=True):
            props = {k: v for k, v in row.items() if k not in ("x", "y")}
            features.append({"type": "Feature", "id": row["id"], "properties": props,
                             "geometry": {"type": "Point", "coordinates": [x, y]}})
    else:
        features = [{"type": "Feature", "id": r["key"], "properties": r, "geometry": None} for r in rows]
    return {"type": "FeatureCollection", "features": features, "k": K_ANONYMITY, "role": role, "by": by}


@router.get("/population/tiles/{z}/{x}/{y}.mvt", summary="Population per grid cell as a vector tile",
            response_class=Response)
def population_tile(city: CityDep, role: Role, z: Annotated[int, Path(ge=0, le=24)],
                    x: Annotated[int, Path(ge=0)], y: Annotated[int, Path(ge=0)],
                    cell: Annotated[float, Query(ge=10, le=5000)] = POPULATION_CELL_M) -> Response:
    """One MVT layer ``population``: grid cells with residents (null below k), units, occupied units."""
    check_tile(z, x, y)
    rows = _population(city, role, "grid", cell)
    bounds = tile_bounds(z, x, y)
    data = b""
    if rows:
        geoms = _mercator_cells(city, rows)
        hit = shapely.intersects(geoms, shapely.box(*bounds))
        if hit.any():
            chosen = [r for r, h in zip(rows, hit, strict=True) if h]
            props = pa.table({"residents": pa.array([r["residents"] for r in chosen], pa.int64()),
                              "units": pa.array([r["units"] for r in chosen], pa.int64()),
                              "occupied_units": pa.array([r["occupied_units"] for r in chosen], pa.int64())})
            data = encode_tile("population", geoms[hit], props, bounds)
    return Response(data, status_code=200 if data else 204, media_type="application/vnd.mapbox-vector-tile")


@router.get("/buildings/{building}/units", summary="The housing units of a building (masked per role)",
            response_model=dict[str, Any])
def units(city: CityDep, role: Role, user: UserDep, building: Annotated[str, Path(max_length=200)]) -> dict[str, Any]:
    """Units with fields by level; with residents (masked, audited) for roles that may see people."""
    return for_role(city, role, user=user, path="http:units").units(building)


@router.get("/residents", summary="A page of residents (masked per role; audited)",
            response_model=list[dict[str, Any]])
def residents(city: CityDep, role: Role, user: UserDep,
              building: Annotated[str | None, Query(max_length=200)] = None,
              unit: Annotated[str | None, Query(max_length=200)] = None,
              parcel: Annotated[str | None, Query(max_length=200)] = None,
              limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
              offset: Annotated[int, Query(ge=0)] = 0) -> list[dict[str, Any]]:
    """403 for roles without person access (and the refusal is audited)."""
    return for_role(city, role, user=user, path="http:residents").residents(
        building=building, unit=unit, parcel=parcel, limit=limit, offset=offset)


@router.get("/audit", summary="The audit trail (admin)", response_class=PlainTextResponse)
def audit(city: CityDep, role: Role, user: Annotated[str | None, Query(max_length=64)] = None,
          since: Annotated[str | None, Query(description="ISO 8601 time with a zone")] = None,
          action: Annotated[str | None, Query()] = None,
          fmt: Annotated[str, Query(alias="format", pattern="^(csv|json)$")] = "json") -> PlainTextResponse:
    """Who read person-level fields, who wrote, who was refused."""
    require_role(role, "admin", "reading the audit trail")
    text = export_audit(audit_entries(city, user=user, since=parse_time(since) if since else None, action=action), fmt)
    return PlainTextResponse(text, media_type="application/json" if fmt == "json" else "text/csv")
