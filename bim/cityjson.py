"""Read CityJSON (1.1, 2.0, CityJSONSeq) buildings and write CityJSON 2.0 LOD1/LOD2 buildings.

Why: CityJSON is how 3D city models travel (3DBAG, city portals); the city model imports LOD0–2
buildings with their semantics and attributes next to IFC models, and exports any set of
buildings (GIS footprints as LOD1 extrusions, BIM buildings as shells) for other tools.

Reading: per city object, the best geometry with LOD <= 2 (LOD given as "2.2" or 2; when only
higher LODs exist, the lowest of those), vertices dequantised with `transform`, the CRS from
`metadata.referenceSystem` (None when absent: the caller must supply it), and a 2D footprint
(GroundSurface semantics if present, else the union of the projected non-vertical surfaces), z
range and height. An object without geometry of its own (a 3DBAG Building whose geometry sits on
its BuildingParts) takes the union of its children. Geometry templates are not expanded.

Writing: CityJSON 2.0 with `transform` (millimetres), `metadata.referenceSystem` and
`geographicalExtent`; each building an LOD1 Solid extruded from its footprint with
GroundSurface/RoofSurface/WallSurface semantics (a MultiPolygon becomes one BuildingPart per
polygon), or, when its height is unknown (None or not above 0), an LOD0 MultiSurface of its
footprint at its base; and, when a mesh is given, an LOD2.2 MultiSurface of its triangles.

Example:
    >>> data = read_cityjson("3dbag_b2.city.json")  # doctest: +SKIP
    >>> data.crs, [o.type for o in data.objects]  # doctest: +SKIP
    ('EPSG:7415', ['BuildingPart', 'Building', 'BuildingPart', 'Building'])
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import shapely
import shapely.errors
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from bim.errors import InvalidCityJSON

__all__ = ["CityJSONData", "CityObjectRecord", "read_cityjson", "write_cityjson"]

_SURFACE_TYPES = {"MultiSurface", "CompositeSurface"}
_SOLID_TYPES = {"Solid"}
_MULTISOLID_TYPES = {"MultiSolid", "CompositeSolid"}
_EPSG_RE = re.compile(r"EPSG(?:/0/|::|:)(\d+)", re.IGNORECASE)


@dataclass
class CityObjectRecord:
    """One city object: id, type, attributes, links, chosen LOD and its 2D/3D summary (file CRS)."""

    id: str
    type: str
    attributes: dict[str, Any] = field(default_factory=dict)
    parents: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    lod: str | None = None
    geometry_type: str | None = None
    available_lods: list[str] = field(default_factory=list)
    semantics: list[str] = field(default_factory=list)
    footprint: BaseGeometry | None = None
    z_min: float | None = None
    z_max: float | None = None
    surfaces: list[list[np.ndarray]] = field(default_factory=list, repr=False)

    @property
    def height(self) -> float | None:
        """z_max - z_min of the chosen geometry, or None without geometry."""
        return None if self.z_min is None or self.z_max is None else self.z_max - self.z_min

    def to_record(self) -> dict[str, Any]:
        """Arrow-friendly: attributes as JSON, footprint as WKB, lists kept as lists."""
        return {
            "id": self.id, "type": self.type,
            "attributes": json.dumps(self.attributes, ensure_ascii=False, default=str),
            "parent_id": self.parents[0] if self.parents else None, "children": self.children,
            "lod": self.lod, "geometry_type": self.geometry_type, "semantics": self.semantics,
            "footprint_wkb": shapely.to_wkb(self.footprint) if self.footprint is not None else None,
            "z_min": self.z_min, "z_max": self.z_max, "height": self.height,
        }


@dataclass
class CityJSONData:
    """A read CityJSON document: version, CRS ('EPSG:xxxx', other text, or None) and objects."""

    version: str
    crs: str | None
    objects: list[CityObjectRecord]
    metadata: dict[str, Any] = field(default_factory=dict)

    def by_id(self) -> dict[str, CityObjectRecord]:
        return {o.id: o for o in self.objects}

    def buildings(self) -> list[CityObjectRecord]:
        """Top-level buildings (type Building), parts already merged into them."""
        return [o for o in self.objects if o.type == "Building"]

    def table(self) -> pa.Table:
        """All objects as an Arrow table (see `CityObjectRecord.to_record`)."""
        return pa.Table.from_pylist([o.to_record() for o in self.objects])


def read_cityjson(path: str | Path) -> CityJSONData:
    """Read a CityJSON file (.json, 1.1/2.0) or a CityJSONSeq file (.jsonl); see the module docstring."""
    path = Path(path)
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidCityJSON(f"{name}: cannot be read: {exc}", path=name) from exc
    try:
        header, features = _split_documents(text)
    except ValueError as exc:
        raise InvalidCityJSON(f"{name}: not valid JSON / JSON lines: {exc}", path=name) from exc
    if header.get("type") != "CityJSON":
        raise InvalidCityJSON(f"{name}: not a CityJSON document (type={header.get('type')!r})", path=name)
    objects: list[CityObjectRecord] = []
    for doc in [header, *features]:
        vertices = _vertices(doc.get("vertices", []), doc.get("transform") or header.get("transform"))
        objects.extend(_object(oid, obj, vertices) for oid, obj in (doc.get("CityObjects") or {}).items())
    _inherit_from_children(objects)
    metadata = header.get("metadata") or {}
    return CityJSONData(str(header.get("version", "")), _crs_of(metadata), objects, metadata)


def _split_documents(text: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    stripped = text.lstrip()
    try:
        return json.loads(stripped), []
    except json.JSONDecodeError:
        lines = [json.loads(line) for line in stripped.splitlines() if line.strip()]
        if not lines:
            raise
        return lines[0], [d for d in lines[1:] if d.get("type") == "CityJSONFeature"]


def _crs_of(metadata: Mapping[str, Any]) -> str | None:
    ref = metadata.get("referenceSystem")
    if not ref:
        return None
    match = _EPSG_RE.search(str(ref))
    return f"EPSG:{match.group(1)}" if match else str(ref)


def _vertices(raw: list[Any], transform: Mapping[str, Any] | None) -> np.ndarray:
    pts = np.asarray(raw, dtype=np.float64).reshape(-1, 3)
    if transform:
        pts = pts * np.asarray(transform["scale"], dtype=np.float64) + np.asarray(transform["translate"])
    return pts


def _lod_value(lod: Any) -> float:
    try:
        return float(str(lod))
    except ValueError:
        return math.inf


def _choose_geometry(geoms: list[dict[str, Any]]) -> dict[str, Any] | None:
    usable = [g for g in geoms if g.get("type") not in (None, "GeometryInstance") and "boundaries" in g]
    if not usable:
        return None
    upto2 = [g for g in usable if _lod_value(g.get("lod")) < 3.0]
    if upto2:
        return max(upto2, key=lambda g: _lod_value(g.get("lod")))
    return min(usable, key=lambda g: _lod_value(g.get("lod")))


def _object(oid: str, obj: Mapping[str, Any], vertices: np.ndarray) -> CityObjectRecord:
    geoms = obj.get("geometry") or []
    rec = CityObjectRecord(
        id=oid, type=str(obj.get("type", "")), attributes=dict(obj.get("attributes") or {}),
        parents=list(obj.get("parents") or []), children=list(obj.get("children") or []),
        available_lods=sorted({str(g.get("lod")) for g in geoms if "lod" in g}),
    )
    geom = _choose_geometry(geoms)
    if geom is None:
        return rec
    surfaces, kinds = _surfaces(geom, vertices)
    rec.lod, rec.geometry_type, rec.surfaces = str(geom.get("lod")), geom["type"], surfaces
    rec.semantics = sorted({k for k in kinds if k})
    if surfaces:
        zs = np.concatenate([ring[:, 2] for surface in surfaces for ring in surface])
        rec.z_min, rec.z_max = float(zs.min()), float(zs.max())
        rec.footprint = _footprint(surfaces, kinds, geom["type"] in _SOLID_TYPES | _MULTISOLID_TYPES)
    return rec


def _surfaces(geom: Mapping[str, Any], vertices: np.ndarray) -> tuple[list[list[np.ndarray]], list[str | None]]:
    """Flatten boundaries to surfaces (lists of (k,3) rings) with their semantic type (or None)."""
    kind, bounds = geom["type"], geom["boundaries"]
    sem = geom.get("semantics") or {}
    names = [s.get("type") for s in sem.get("surfaces", [])]
    values = sem.get("values")
    if kind in _SURFACE_TYPES:
        surface_lists, value_lists = [bounds], [values]
    elif kind in _SOLID_TYPES:
        surface_lists, value_lists = bounds, values or [None] * len(bounds)
    elif kind in _MULTISOLID_TYPES:
        surface_lists = [shell for solid in bounds for shell in solid]
        value_lists = [v for solid in (values or [[None] * len(s) for s in bounds]) for v in solid]
    else:
        return [], []
    surfaces, kinds = [], []
    for shell, shell_values in zip(surface_lists, value_lists, strict=False):
        for i, surface in enumerate(shell):
            surfaces.append([vertices[np.asarray(ring, dtype=np.int64)] for ring in surface if len(ring) >= 3])
            v = shell_values[i] if isinstance(shell_values, list) and i < len(shell_values) else None
            kinds.append(names[v] if isinstance(v, int) and 0 <= v < len(names) else None)
    return surfaces, kinds


def _footprint(surfaces: list[list[np.ndarray]], kinds: list[str | None], solid: bool) -> BaseGeometry | None:
    """GroundSurfaces if labelled; else a solid's downward faces; else every non-vertical surface."""
    chosen = [s for s, k in zip(surfaces, kinds, strict=True) if k == "GroundSurface"]
    if not chosen:
        facing = [(s, _facing(s[0])) for s in surfaces if s]
        down = [s for s, nz in facing if nz < -0.5]
        chosen = down if solid and down else [s for s, nz in facing if abs(nz) > 0.1]
    polys = [p for p in (_polygon2d(s) for s in chosen) if p is not None]
    if not polys:
        return None
    try:
        merged = polys[0] if len(polys) == 1 else shapely.union_all(polys)
    except shapely.errors.GEOSException:
        merged = shapely.union_all(polys, grid_size=1e-4)
    parts = [g for g in shapely.get_parts(shapely.make_valid(merged)) if g.geom_type == "Polygon" and g.area > 0]
    return None if not parts else parts[0] if len(parts) == 1 else MultiPolygon(parts)


def _facing(ring: np.ndarray) -> float:
    """z of the unit normal of a ring (Newell): 1 faces up, -1 faces down, 0 is vertical."""
    local = ring - ring[0]
    normal = np.cross(local, np.roll(local, -1, axis=0)).sum(axis=0)
    length = float(np.linalg.norm(normal))
    return float(normal[2]) / length if length > 0 else 0.0


def _polygon2d(surface: list[np.ndarray]) -> Polygon | None:
    if not surface or len(surface[0]) < 3:
        return None
    poly = Polygon(surface[0][:, :2], [r[:, :2] for r in surface[1:] if len(r) >= 3])
    if poly.area < 1e-6:
        return None  # a vertical wall projects to a line
    return poly if poly.is_valid else shapely.make_valid(poly)


def _inherit_from_children(objects: list[CityObjectRecord]) -> None:
    """Objects without geometry take the union footprint, z range, LODs and semantics of children."""
    index = {o.id: o for o in objects}
    for obj in objects:
        kids = [index[c] for c in obj.children if c in index and index[c].footprint is not None]
        if obj.footprint is not None or not kids:
            continue
        obj.footprint = shapely.union_all([k.footprint for k in kids], grid_size=1e-4)
        obj.z_min = min(k.z_min for k in kids if k.z_min is not None)
        obj.z_max = max(k.z_max for k in kids if k.z_max is not None)
        obj.lod = max((k.lod for k in kids if k.lod), key=_lod_value, default=None)
        obj.semantics = sorted({s for k in kids for s in k.semantics})


# ----------------------------------------------------------------------------------------- writing


class _VertexPool:
    """Collects float vertices, deduplicated at the output resolution (1 mm)."""

    def __init__(self, scale: float = 0.001) -> None:
        self.scale = scale
        self.index: dict[tuple[int, int, int], int] = {}

    def add(self, xyz: Iterable[float]) -> int:
        key = tuple(int(round(c / self.scale)) for c in xyz)
        return self.index.setdefault(key, len(self.index))  # type: ignore[arg-type]

    def finish(self) -> tuple[list[list[int]], dict[str, Any], list[float]]:
        keys = np.asarray(list(self.index), dtype=np.int64).reshape(-1, 3)
        base = keys.min(axis=0) if len(keys) else np.zeros(3, dtype=np.int64)
        ints = (keys - base).tolist()
        translate = (base * self.scale).tolist()
        hi = (keys.max(axis=0) * self.scale).tolist() if len(keys) else translate
        return ints, {"scale": [self.scale] * 3, "translate": translate}, [*translate, *hi]


def write_cityjson(
    buildings: Iterable[Mapping[str, Any] | Any],
    crs: str,
    path: str | Path,
    *,
    mesh_lod: str = "2.2",
) -> Path:
    """Write buildings as CityJSON 2.0: LOD1 extrusions (and LOD `mesh_lod` shells from meshes).

    Each building provides `id`, `attributes` (dict), `footprint` (Polygon / MultiPolygon in `crs`),
    `z_min`, `height` (None or 0 when unknown: an LOD0 footprint, no `measuredHeight`), and
    optionally `mesh` (an object with `vertices` (N,3) and `faces` (M,3),
    or a (vertices, faces) pair), as mapping keys or attributes.

    Example:
        >>> from shapely.geometry import box
        >>> write_cityjson([{"id": "b1", "attributes": {"名称": "一号楼"}, "footprint": box(0, 0, 10, 8),
        ...                  "z_min": 2.0, "height": 12.0}], "EPSG:4549", "out.city.json")  # doctest: +SKIP
    """
    buildings = list(buildings)
    taken = _building_ids(buildings)
    pool, objects = _VertexPool(), {}
    for b in buildings:
        objects.update(_building_objects(b, pool, mesh_lod, taken))
    ints, transform, extent = pool.finish()
    doc = {
        "type": "CityJSON",
        "version": "2.0",
        "transform": transform,
        "metadata": {"referenceSystem": _crs_url(crs), "geographicalExtent": extent},
        "CityObjects": objects,
        "vertices": ints,
    }
    path = Path(path)
    path.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":"), default=_json_default),
                    encoding="utf-8")
    return path


def _crs_url(crs: str) -> str:
    match = _EPSG_RE.search(crs)
    return f"https://www.opengis.net/def/crs/EPSG/0/{match.group(1)}" if match else crs


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _get(b: Mapping[str, Any] | Any, key: str, default: Any = None) -> Any:
    return b.get(key, default) if isinstance(b, Mapping) else getattr(b, key, default)


def _building_ids(buildings: list[Any]) -> set[str]:
    """The buildings' ids, or a ValueError naming one given twice (CityJSON keys objects by id)."""
    taken: set[str] = set()
    for b in buildings:
        bid = str(_get(b, "id"))
        if bid in taken:
            raise ValueError(f"building id {bid!r} is given twice: a CityJSON object id must be unique")
        taken.add(bid)
    return taken


def _part_id(bid: str, k: int, taken: set[str]) -> str:
    """``bid-k`` for the k-th part of a building, or ``bid-k.n`` when some object already has that id."""
    pid, n = f"{bid}-{k}", 0
    while pid in taken:
        n += 1
        pid = f"{bid}-{k}.{n}"
    taken.add(pid)
    return pid


def _building_objects(b: Any, pool: _VertexPool, mesh_lod: str, taken: set[str]) -> dict[str, dict[str, Any]]:
    bid = str(_get(b, "id"))
    footprint = _get(b, "footprint")
    z0, height = float(_get(b, "z_min", 0.0) or 0.0), float(_get(b, "height", 0.0) or 0.0)
    polys = [shapely.geometry.polygon.orient(p, sign=1.0) for p in shapely.get_parts(footprint)
             if p.geom_type == "Polygon" and p.area > 0] if footprint is not None else []
    building: dict[str, Any] = {"type": "Building", "attributes": dict(_get(b, "attributes") or {}), "geometry": []}
    out = {bid: building}
    mesh = _get(b, "mesh")
    if mesh is not None:
        building["geometry"].append(_mesh_surface(mesh, pool, mesh_lod))
    if not height > 0:  # height unknown: the footprint alone, as LOD0
        if polys:
            building["geometry"].insert(0, _footprint_surface(polys, z0, pool))
        return out
    building["attributes"].setdefault("measuredHeight", round(height, 3))
    if len(polys) == 1:
        building["geometry"].insert(0, _extrusion(polys[0], z0, height, pool))
    elif len(polys) > 1:
        building["children"] = [_part_id(bid, k, taken) for k in range(len(polys))]
        for pid, poly in zip(building["children"], polys, strict=True):
            out[pid] = {"type": "BuildingPart", "parents": [bid], "geometry": [_extrusion(poly, z0, height, pool)]}
    return out


def _extrusion(poly: Polygon, z0: float, height: float, pool: _VertexPool) -> dict[str, Any]:
    """LOD1 Solid of a CCW polygon: ground (reversed), roof, one wall per ring edge, outward normals."""
    rings = [np.asarray(poly.exterior.coords)[:-1]] + [np.asarray(r.coords)[:-1] for r in poly.interiors]
    z1 = z0 + max(height, 0.001)
    bottom = [[pool.add((x, y, z0)) for x, y in ring[::-1, :2]] for ring in rings]
    top = [[pool.add((x, y, z1)) for x, y in ring[:, :2]] for ring in rings]
    walls = []
    for ring_bottom, ring_top in zip(bottom, top, strict=True):
        lo, hi = ring_bottom[::-1], ring_top
        for i in range(len(lo)):
            j = (i + 1) % len(lo)
            walls.append([[lo[i], lo[j], hi[j], hi[i]]])
    return {
        "type": "Solid",
        "lod": "1",
        "boundaries": [[bottom, top, *walls]],
        "semantics": {
            "surfaces": [{"type": "GroundSurface"}, {"type": "RoofSurface"}, {"type": "WallSurface"}],
            "values": [[0, 1, *([2] * len(walls))]],
        },
    }


def _footprint_surface(polys: list[Polygon], z0: float, pool: _VertexPool) -> dict[str, Any]:
    """LOD0 MultiSurface of CCW polygons at height ``z0``, one surface per polygon (holes kept)."""
    surfaces = [[[pool.add((x, y, z0)) for x, y in np.asarray(ring.coords)[:-1, :2]]
                 for ring in (p.exterior, *p.interiors)] for p in polys]
    return {"type": "MultiSurface", "lod": "0", "boundaries": surfaces}


def _mesh_surface(mesh: Any, pool: _VertexPool, lod: str) -> dict[str, Any]:
    vertices, faces = (mesh if isinstance(mesh, tuple) else (mesh.vertices, mesh.faces))
    ids = [pool.add(v) for v in np.asarray(vertices, dtype=np.float64)]
    surfaces = []
    for a, b, c in np.asarray(faces, dtype=np.int64):
        tri = (ids[a], ids[b], ids[c])
        if len(set(tri)) == 3:  # triangles collapsed by the 1 mm grid are dropped
            surfaces.append([list(tri)])
    return {"type": "MultiSurface", "lod": lod, "boundaries": surfaces}
