"""Footprints of IFC elements and of whole buildings, in the map CRS.

Each mesh carries a cheap 2D footprint (`element_footprint`): the convex hull of its vertices, or
for slab-like classes (slabs, roofs, coverings, sites, proxies, footings) the union of its projected
triangles, so that an L-shaped floor stays L-shaped. `BuildingShape` collects them per building
while meshes stream past (`bim.geometry.iter_meshes`) and unions them in GlobalId order, closing the
cracks between elements (`building_footprint`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
import shapely.errors
from shapely.geometry.base import BaseGeometry

if TYPE_CHECKING:  # bim.geometry imports this module to give each mesh its footprint
    from bim.geometry import ElementMesh

__all__ = ["BuildingFootprint", "BuildingShape", "building_footprint", "element_footprint"]

_SLAB_LIKE = ("IfcSlab", "IfcRoof", "IfcCovering", "IfcSite", "IfcBuildingElementProxy", "IfcFooting",
              "IfcGeographicElement", "IfcSpace", "IfcPlate")
_MAX_UNION_TRIANGLES = 4096


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
    parts: list[tuple[str, BaseGeometry]] = field(default_factory=list)
    z_min: float = math.inf
    z_max: float = -math.inf
    count: int = 0


class BuildingShape:
    """Collects element footprints and z ranges per building while meshes stream past.

    The footprints are unioned in GlobalId order, so the result does not depend on the order in
    which meshes arrive (with several workers it varies). Memory stays bounded: every
    `merge_every` footprints of a building are unioned into one.

    Example:
        >>> from bim.geometry import ElementMesh
        >>> shapes = BuildingShape()
        >>> v = np.array([[0, 0, 0], [4, 0, 0], [4, 3, 9], [0, 3, 9]], float)
        >>> shapes.add(ElementMesh("a", "IfcWall", v, np.array([[0, 1, 2]]), 0.0, 9.0,
        ...     element_footprint(v, np.array([[0, 1, 2], [0, 2, 3]]))), "B")
        >>> round(shapes.result()["B"].height, 1)
        9.0
    """

    def __init__(self, *, merge_every: int = 20000) -> None:
        self._acc: dict[str | None, _Acc] = {}
        self._merge_every = merge_every

    def add(self, mesh: ElementMesh, building_id: str | None) -> None:
        """Account `mesh` to `building_id` (None = not in any building, e.g. site terrain)."""
        acc = self._acc.setdefault(building_id, _Acc())
        acc.z_min = min(acc.z_min, mesh.z_min)
        acc.z_max = max(acc.z_max, mesh.z_max)
        acc.count += 1
        if mesh.footprint is not None:
            acc.parts.append((mesh.global_id, mesh.footprint))
            if len(acc.parts) >= self._merge_every:
                acc.parts = [("", _union(_in_id_order(acc.parts)))]

    def result(self) -> dict[str | None, BuildingFootprint]:
        """Footprint, z range and count per building id."""
        return {
            bid: BuildingFootprint(bid, building_footprint(_in_id_order(acc.parts)), acc.z_min, acc.z_max, acc.count)
            for bid, acc in self._acc.items()
        }


def _in_id_order(parts: list[tuple[str, BaseGeometry]]) -> list[BaseGeometry]:
    return [geom for _, geom in sorted(parts, key=lambda part: part[0])]


def building_footprint(parts: Iterable[BaseGeometry | ElementMesh], *, tolerance: float = 0.05) -> BaseGeometry | None:
    """Union of element footprints (or meshes), with cracks closed and simplified by `tolerance` m.

    Example:
        >>> from shapely.geometry import box
        >>> building_footprint([box(0, 0, 1, 1), box(1.02, 0, 2, 1)]).area > 1.99
        True
    """
    geoms = [getattr(p, "footprint", p) for p in parts]  # an ElementMesh gives its footprint
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
