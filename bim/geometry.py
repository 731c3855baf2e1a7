"""Stream element meshes of an IFC model in city coordinates, and their footprints per building.

Why: geometry is where the time goes (PERF-NOTES: tens of seconds for a few MB of IFC), so it is
streamed: ifcopenshell's multi-threaded geometry iterator (world coordinates) yields one shape at
a time, we place it in the map CRS and hand it on; nothing keeps all meshes in memory.

- Elements whose geometry fails are yielded as `GeometryFailure` (GlobalId, class, reason) after
  the meshes, not raised: the rest of the model still goes in.
- By default `IfcOpeningElement` (voids, already cut out of their hosts), `IfcSpace` (room volumes
  that would hide the building inside them), `IfcGrid` and `IfcAnnotation` (curves, no surfaces)
  are not meshed. Pass `exclude=()` to mesh them too.
- Each mesh carries a cheap 2D footprint: the convex hull of its vertices, or for slab-like classes
  (slabs, roofs, coverings, sites, proxies, footings) the union of its projected triangles, so that
  an L-shaped floor stays L-shaped. `BuildingShape` unions them per building while streaming.

Example:
    >>> shapes = BuildingShape()
    >>> for item in iter_meshes(model, georef, threads=2):  # doctest: +SKIP
    ...     if isinstance(item, ElementMesh):
    ...         shapes.add(item, building_of[item.global_id])
    >>> shapes.result()  # doctest: +SKIP
    {'2hQBAVPOr5VxhS3Jl0O47h': BuildingFootprint(...)}
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
import shapely.errors
from shapely.geometry.base import BaseGeometry

from bim._compat import ifcopenshell
from bim.errors import AbsurdCoordinates
from bim.georef import Georeference
from bim.reader import source_name

__all__ = [
    "DEFAULT_EXCLUDE",
    "BuildingFootprint",
    "BuildingShape",
    "ElementMesh",
    "GeometryFailure",
    "building_footprint",
    "element_footprint",
    "iter_meshes",
]

DEFAULT_EXCLUDE: tuple[str, ...] = ("IfcOpeningElement", "IfcSpace", "IfcGrid", "IfcAnnotation")
_SLAB_LIKE = ("IfcSlab", "IfcRoof", "IfcCovering", "IfcSite", "IfcBuildingElementProxy", "IfcFooting",
              "IfcGeographicElement", "IfcSpace", "IfcPlate")
_MAX_UNION_TRIANGLES = 4096
_MAX_PLANAR_M = 4.0e7
_MAX_HEIGHT_M = 1.0e5
_LOG_DRAIN_EVERY = 512


@dataclass
class ElementMesh:
    """One element's triangle mesh in the map CRS (metres, float64), with z range and footprint.

    `color` is the RGBA (0–1) of the element's dominant surface style, or None.
    """

    global_id: str
    ifc_class: str
    vertices: np.ndarray
    faces: np.ndarray
    z_min: float
    z_max: float
    footprint: BaseGeometry | None = None
    color: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class GeometryFailure:
    """An element whose geometry could not be built, and why (from ifcopenshell's log)."""

    global_id: str
    ifc_class: str
    reason: str


def iter_meshes(
    model: ifcopenshell.file,
    georef: Georeference,
    *,
    threads: int = 2,
    exclude: Sequence[str] = DEFAULT_EXCLUDE,
    include: Sequence[Any] | None = None,
) -> Iterator[ElementMesh | GeometryFailure]:
    """Yield an `ElementMesh` per meshed element, then a `GeometryFailure` per element that failed.

    `include` (products or class names) restricts the run to those, e.g. for a quick preview.
    Raises AbsurdCoordinates when an element lands off the earth (a unit/placement error).

    Example:
        >>> items = list(iter_meshes(model, georef, threads=1))  # doctest: +SKIP
    """
    name = source_name(model)
    it = _iterator(model, threads, exclude, include)
    ifcopenshell.get_log()  # drop older messages: the log is process-wide
    started = it.initialize()
    expected = _task_products(it)
    if not expected:
        return
    seen: set[int] = set()
    errors: list[tuple[int, str]] = []
    while started:
        shape = it.get()
        seen.add(shape.id)
        yield _to_mesh(shape, georef, name)
        if len(seen) % _LOG_DRAIN_EVERY == 0:
            errors.extend(_log_errors())
        if not it.next():
            break
    errors.extend(_log_errors())
    for step_id, product in expected.items():
        if step_id not in seen:
            yield GeometryFailure(product.GlobalId, product.is_a(), _reason(model, product, errors))


def _iterator(model: Any, threads: int, exclude: Sequence[str], include: Sequence[Any] | None) -> Any:
    import ifcopenshell.geom as geom

    settings = geom.settings()
    settings.set("use-world-coords", True)
    threads = max(1, int(threads))
    if include is not None:
        return geom.iterator(settings, model, threads, include=list(include))
    if exclude:
        return geom.iterator(settings, model, threads, exclude=list(exclude))
    return geom.iterator(settings, model, threads)


def _task_products(it: Any) -> dict[int, Any]:
    """Products the iterator will try to mesh (a product may appear in several tasks)."""
    tasks = ifcopenshell.ifcopenshell_wrapper.iterator.get_task_products(it)
    return {p.id(): p for task in tasks for p in task}


def _to_mesh(shape: Any, georef: Georeference, name: str) -> ElementMesh:
    geometry = shape.geometry
    local = np.frombuffer(geometry.verts_buffer, dtype=np.float64).reshape(-1, 3)
    faces = np.frombuffer(geometry.faces_buffer, dtype=np.int32).reshape(-1, 3).astype(np.uint32)
    vertices = georef.to_map(local)
    z_min, z_max = (float(vertices[:, 2].min()), float(vertices[:, 2].max())) if len(vertices) else (0.0, 0.0)
    if len(vertices):
        _check_extent(vertices, shape, name)
    return ElementMesh(
        global_id=shape.guid,
        ifc_class=shape.type,
        vertices=vertices,
        faces=faces,
        z_min=z_min,
        z_max=z_max,
        footprint=element_footprint(vertices, faces, shape.type),
        color=_dominant_color(geometry),
    )


def _check_extent(vertices: np.ndarray, shape: Any, name: str) -> None:
    xy = np.abs(vertices[:, :2]).max()
    z = np.abs(vertices[:, 2]).max()
    if xy > _MAX_PLANAR_M or z > _MAX_HEIGHT_M or not math.isfinite(xy + z):
        raise AbsurdCoordinates(
            f"{name}: element {shape.guid} ({shape.type}) lands at |x|,|y| up to {xy:.3g} m and |z| up "
            f"to {z:.3g} m, which is not on the earth; check its placement and the length unit",
            path=name,
        )


def _dominant_color(geometry: Any) -> tuple[float, float, float, float] | None:
    materials = geometry.materials
    if not materials:
        return None
    ids = np.frombuffer(geometry.material_ids_buffer, dtype=np.int32)
    index = int(np.bincount(ids[ids >= 0]).argmax()) if (ids >= 0).any() else 0
    style = materials[min(index, len(materials) - 1)]
    try:
        d = style.diffuse
        alpha = 1.0 - float(style.transparency) if style.has_transparency() else 1.0
        rgba = (float(d.r()), float(d.g()), float(d.b()), alpha)
    except (AttributeError, TypeError, RuntimeError):
        return None
    return tuple(min(1.0, max(0.0, c)) if math.isfinite(c) else 1.0 for c in rgba)  # type: ignore[return-value]


def element_footprint(vertices: np.ndarray, faces: np.ndarray, ifc_class: str = "") -> BaseGeometry | None:
    """2D footprint of a mesh: union of projected triangles for slab-like classes, else convex hull.

    Example:
        >>> v = np.array([[0, 0, 0], [4, 0, 0], [4, 3, 0], [0, 3, 0]], float)
        >>> element_footprint(v, np.array([[0, 1, 2], [0, 2, 3]]), "IfcSlab").area
        12.0
    """
    if len(vertices) < 3 or len(faces) == 0:
        return None
    if ifc_class.startswith(_SLAB_LIKE):
        tri = vertices[faces][:, :, :2]
        area2 = (tri[:, 1, 0] - tri[:, 0, 0]) * (tri[:, 2, 1] - tri[:, 0, 1]) - (
            tri[:, 2, 0] - tri[:, 0, 0]
        ) * (tri[:, 1, 1] - tri[:, 0, 1])
        tri = tri[np.abs(area2) > 1e-6]
        if 0 < len(tri) <= _MAX_UNION_TRIANGLES:
            rings = np.concatenate([tri, tri[:, :1]], axis=1)
            return _clean(_union(shapely.polygons(rings)))
    hull = shapely.convex_hull(shapely.multipoints(vertices[:, :2]))
    return hull if hull.area > 0 else None


def _union(geoms: Sequence[BaseGeometry] | np.ndarray) -> BaseGeometry:
    """Union, falling back to a 1 mm precision grid when GEOS meets a robustness problem."""
    try:
        return shapely.union_all(geoms)
    except shapely.errors.GEOSException:
        return shapely.union_all(geoms, grid_size=1e-3)


def _clean(geom: BaseGeometry) -> BaseGeometry | None:
    if geom.is_empty or geom.area <= 0:
        return None
    return geom


@dataclass
class BuildingFootprint:
    """Per building: 2D footprint (map CRS), z range and height (z_max - z_min), element count."""

    building_id: str | None
    footprint: BaseGeometry | None
    z_min: float
    z_max: float
    element_count: int

    @property
    def height(self) -> float:
        return self.z_max - self.z_min

    def to_record(self) -> dict[str, Any]:
        """Arrow-friendly: footprint as WKB bytes, plus height."""
        wkb = shapely.to_wkb(self.footprint) if self.footprint is not None else None
        return {
            "building_id": self.building_id,
            "footprint_wkb": wkb,
            "z_min": self.z_min,
            "z_max": self.z_max,
            "height": self.height,
            "element_count": self.element_count,
        }


@dataclass
class _Acc:
    parts: list[BaseGeometry] = field(default_factory=list)
    z_min: float = math.inf
    z_max: float = -math.inf
    count: int = 0


class BuildingShape:
    """Collects element footprints and z ranges per building while meshes stream past.

    Memory stays bounded: every `merge_every` footprints are unioned into one.

    Example:
        >>> shapes = BuildingShape()
        >>> v = np.array([[0, 0, 0], [4, 0, 0], [4, 3, 9], [0, 3, 9]], float)
        >>> shapes.add(ElementMesh("a", "IfcWall", v, np.array([[0, 1, 2]]), 0.0, 9.0,
        ...     element_footprint(v, np.array([[0, 1, 2], [0, 2, 3]]))), "B")
        >>> round(shapes.result()["B"].height, 1)
        9.0
    """

    def __init__(self, *, merge_every: int = 1000) -> None:
        self._acc: dict[str | None, _Acc] = {}
        self._merge_every = merge_every

    def add(self, mesh: ElementMesh, building_id: str | None) -> None:
        """Account `mesh` to `building_id` (None = not in any building, e.g. site terrain)."""
        acc = self._acc.setdefault(building_id, _Acc())
        acc.z_min = min(acc.z_min, mesh.z_min)
        acc.z_max = max(acc.z_max, mesh.z_max)
        acc.count += 1
        if mesh.footprint is not None:
            acc.parts.append(mesh.footprint)
            if len(acc.parts) >= self._merge_every:
                acc.parts = [_union(acc.parts)]

    def result(self) -> dict[str | None, BuildingFootprint]:
        """Footprint, z range and count per building id."""
        return {
            bid: BuildingFootprint(bid, building_footprint(acc.parts), acc.z_min, acc.z_max, acc.count)
            for bid, acc in self._acc.items()
        }


def building_footprint(parts: Iterable[BaseGeometry | ElementMesh], *, tolerance: float = 0.05) -> BaseGeometry | None:
    """Union of element footprints (or meshes), with cracks closed and simplified by `tolerance` m.

    Example:
        >>> from shapely.geometry import box
        >>> building_footprint([box(0, 0, 1, 1), box(1.02, 0, 2, 1)]).area > 1.99
        True
    """
    geoms = [p.footprint if isinstance(p, ElementMesh) else p for p in parts]
    geoms = [g for g in geoms if g is not None and not g.is_empty]
    if not geoms:
        return None
    merged = _union(geoms)
    closed = merged.buffer(tolerance, join_style="mitre").buffer(-tolerance, join_style="mitre")
    simple = shapely.make_valid(closed.simplify(tolerance / 2))
    return _largest_area_part(simple)


def _largest_area_part(geom: BaseGeometry) -> BaseGeometry | None:
    """Drop slivers and stray lines/points left by make_valid; keep polygons above 0.01 m2."""
    polys = [g for g in shapely.get_parts(geom) if g.geom_type == "Polygon" and g.area > 0.01]
    if not polys:
        return None
    return polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)


_INSTANCE_RE = re.compile(r"#(\d+)\s*=")


def _log_errors() -> list[tuple[int, str]]:
    """(step id, message) of error entries in ifcopenshell's log since the last call (JSON or text)."""
    out: list[tuple[int, str]] = []
    text = ifcopenshell.get_log() or ""
    for block in re.split(r"\n(?=[\[{])", text):
        entry = _parse_log_entry(block)
        if entry is not None:
            out.append(entry)
    return out


def _parse_log_entry(block: str) -> tuple[int, str] | None:
    block = block.strip()
    if block.startswith("{"):
        try:
            data = json.loads(block)
        except ValueError:
            return None
        if data.get("level") != "error":
            return None
        instance = str(data.get("instance") or data.get("product") or "")
        message, step = str(data.get("message", "")), _INSTANCE_RE.search(instance)
    else:
        if not block.startswith("[error]"):
            return None
        first, _, instance = block.partition("\n")
        message = re.sub(r"^(\[[^\]]*\]\s*)+", "", first)
        step = _INSTANCE_RE.search(instance)
    return (int(step.group(1)) if step else -1, f"{message.strip()} {instance.strip()}".strip())


def _reason(model: Any, product: Any, errors: list[tuple[int, str]]) -> str:
    """The first logged error about `product` or anything in its representation, or a default."""
    ids = {product.id()}
    if getattr(product, "Representation", None) is not None:
        ids.update(e.id() for e in model.traverse(product.Representation))
    for step, message in errors:
        if step in ids:
            return message
    return "the geometry kernel produced no mesh for this element"
