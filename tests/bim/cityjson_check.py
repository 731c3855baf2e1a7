"""A structural CityJSON 2.0 check for tests: the parts of the schema and of cjval our writer touches.

cjio's `validate` needs the `cjvalpy` module, which has no wheel for Linux / Python 3.11 on PyPI
(and no source distribution), so the tests run cjio's validator only when it is importable and
always run these checks: root members, transform, integer vertices, object types, geometry
nesting depth per type, LOD strings, semantic values shaped like the boundaries, vertex indices
in range, no unused or duplicate vertices, rings of >= 3 distinct vertices, parent/child links.
"""

from __future__ import annotations

import re
from typing import Any

BUILDING_SURFACES = {"RoofSurface", "GroundSurface", "WallSurface", "ClosureSurface", "OuterCeilingSurface",
                     "OuterFloorSurface", "Window", "Door", "InteriorWallSurface", "CeilingSurface", "FloorSurface"}
DEPTH = {"MultiSurface": 3, "CompositeSurface": 3, "Solid": 4, "MultiSolid": 5, "CompositeSolid": 5}
BUILDING_GEOMETRIES = {"MultiSurface", "CompositeSurface", "Solid", "CompositeSolid"}


def check_cityjson(doc: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    if doc.get("type") != "CityJSON" or doc.get("version") != "2.0":
        problems.append("root: type must be CityJSON and version 2.0")
    transform = doc.get("transform") or {}
    if len(transform.get("scale", [])) != 3 or len(transform.get("translate", [])) != 3:
        problems.append("transform needs 3 scale and 3 translate numbers")
    ref = (doc.get("metadata") or {}).get("referenceSystem", "")
    if not re.fullmatch(r"https://www\.opengis\.net/def/crs/\w+/\d+/\d+", ref):
        problems.append(f"metadata.referenceSystem {ref!r} is not an OGC CRS URL")
    vertices = doc.get("vertices", [])
    if not all(len(v) == 3 and all(isinstance(c, int) for c in v) for v in vertices):
        problems.append("vertices must be triples of integers")
    if len({tuple(v) for v in vertices}) != len(vertices):
        problems.append("duplicate vertices")
    used: set[int] = set()
    objects = doc.get("CityObjects", {})
    for oid, obj in objects.items():
        problems.extend(_check_object(oid, obj, objects, len(vertices), used))
    if used != set(range(len(vertices))):
        problems.append(f"{len(vertices) - len(used)} unused vertices")
    return problems


def _check_object(oid: str, obj: dict[str, Any], objects: dict, n_vertices: int, used: set[int]) -> list[str]:
    out = []
    if obj.get("type") not in ("Building", "BuildingPart"):
        out.append(f"{oid}: unexpected type {obj.get('type')!r}")
    if obj.get("type") == "BuildingPart" and not obj.get("parents"):
        out.append(f"{oid}: a BuildingPart needs parents")
    for parent in obj.get("parents", []):
        if oid not in objects.get(parent, {}).get("children", []):
            out.append(f"{oid}: parent {parent} does not list it as a child")
    for child in obj.get("children", []):
        if oid not in objects.get(child, {}).get("parents", []):
            out.append(f"{oid}: child {child} does not point back")
    for geom in obj.get("geometry", []):
        out.extend(_check_geometry(oid, geom, n_vertices, used))
    return out


def _check_geometry(oid: str, geom: dict[str, Any], n_vertices: int, used: set[int]) -> list[str]:
    kind = geom.get("type")
    if kind not in BUILDING_GEOMETRIES:
        return [f"{oid}: geometry type {kind!r} not allowed for buildings"]
    out = []
    if not isinstance(geom.get("lod"), str) or not re.fullmatch(r"\d(\.\d)?", geom["lod"]):
        out.append(f"{oid}: lod must be a string like '1' or '2.2'")
    if _depth(geom["boundaries"]) != DEPTH[kind]:
        out.append(f"{oid}: {kind} boundaries nested {_depth(geom['boundaries'])} deep, expected {DEPTH[kind]}")
    rings = list(_rings(geom["boundaries"], DEPTH[kind]))
    for ring in rings:
        used.update(ring)
        if len(set(ring)) < 3 or len(set(ring)) != len(ring):
            out.append(f"{oid}: ring {ring} has repeated or fewer than 3 vertices")
        if any(not 0 <= i < n_vertices for i in ring):
            out.append(f"{oid}: ring {ring} refers to missing vertices")
    sem = geom.get("semantics")
    if sem:
        types = [s.get("type") for s in sem["surfaces"]]
        if not set(types) <= BUILDING_SURFACES:
            out.append(f"{oid}: semantic surface types {types} not allowed")
        if _shape(sem["values"], DEPTH[kind] - 2) != _shape(geom["boundaries"], DEPTH[kind] - 2):
            out.append(f"{oid}: semantic values are not shaped like the boundaries")
    return out


def _depth(value: Any) -> int:
    return 1 + _depth(value[0]) if isinstance(value, list) and value else (1 if isinstance(value, list) else 0)


def _rings(value: Any, depth: int):
    if depth == 2:
        yield from value
    else:
        for item in value:
            yield from _rings(item, depth - 1)


def _shape(value: Any, depth: int) -> Any:
    return len(value) if depth <= 1 else [_shape(v, depth - 1) for v in value]
