"""How IFC content maps onto the CIM levels CIM1–CIM7 of CJJ/T 315-2022 (城市信息模型基础平台技术标准).

Why: the city model filters and styles features by CIM level (a planner's city view shows CIM3
massing; a construction bureau drills into CIM6 components). Each IfcProduct gets one level,
decided by its class (inheritance-aware, first matching rule wins) with two refinements:
an external wall (Pset_WallCommon.IsExternal) and a roof slab (PredefinedType ROOF) belong to
the building's exterior, CIM4.

LOD strings: CityGML LODs for city-scale levels (CIM1–2 "LOD0", CIM3 "LOD1", CIM4 "LOD3") and the
GB/T 51301-2018 model precision (模型精细度) that CJJ/T 315 pairs with CIM5–7 ("LOD2.0" functional,
"LOD3.0" component, "LOD4.0" part). See docs/bim.md for the full table.

Example:
    >>> classify(lambda c: c in ("IfcProduct", "IfcElement", "IfcDoor"))
    (6, 'LOD3.0')
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["CIM_LEVELS", "LEVEL_LOD", "RULES", "base_level", "classify", "refine"]

CIM_LEVELS: dict[int, tuple[str, str]] = {
    1: ("地表模型", "terrain surface and planning-scale land: site, terrain, geographic elements"),
    2: ("框架模型", "2D / framework content: grids, annotations, footprints"),
    3: ("标准模型", "massing: a building or facility as a whole (LOD1 block)"),
    4: ("精细模型", "building exterior: roofs, external walls, curtain walls, shading (LOD2–3 shell)"),
    5: ("功能模型", "interior and structure: storeys, spaces, internal walls, slabs, columns, beams, stairs"),
    6: ("构件模型", "components: doors, windows, members, plates, railings, MEP, furniture, proxies"),
    7: ("零件模型", "parts: fasteners, accessories, reinforcement, element parts, openings, ports"),
}

LEVEL_LOD: dict[int, str] = {1: "LOD0", 2: "LOD0", 3: "LOD1", 4: "LOD3", 5: "LOD2.0", 6: "LOD3.0", 7: "LOD4.0"}

# (IFC class, level). Order matters: the first class the product `is_a` decides. Names missing
# from a schema (e.g. IfcFacility in IFC2X3) simply never match.
RULES: tuple[tuple[str, int], ...] = (
    ("IfcSite", 1),
    ("IfcGeographicElement", 1),
    ("IfcGrid", 2),
    ("IfcAnnotation", 2),
    ("IfcBuilding", 3),
    ("IfcFacility", 3),
    ("IfcBuildingStorey", 5),
    ("IfcFacilityPart", 5),
    ("IfcSpace", 5),
    ("IfcSpatialZone", 5),
    ("IfcExternalSpatialElement", 1),
    ("IfcRoof", 4),
    ("IfcCurtainWall", 4),
    ("IfcShadingDevice", 4),
    ("IfcWall", 5),
    ("IfcSlab", 5),
    ("IfcColumn", 5),
    ("IfcBeam", 5),
    ("IfcStair", 5),
    ("IfcRamp", 5),
    ("IfcCovering", 5),
    ("IfcFooting", 5),
    ("IfcPile", 5),
    ("IfcChimney", 5),
    ("IfcFeatureElement", 7),
    ("IfcElementComponent", 7),
    ("IfcDistributionPort", 7),
    ("IfcVirtualElement", 7),
    ("IfcBuildingElementPart", 7),
    ("IfcBuildingElementComponent", 7),  # IFC2X3 parent of reinforcement and parts
    ("IfcReinforcingElement", 7),
    ("IfcElementAssembly", 6),
    ("IfcDoor", 6),
    ("IfcWindow", 6),
    ("IfcDistributionElement", 6),
    ("IfcFurnishingElement", 6),
    ("IfcTransportElement", 6),
    ("IfcBuildingElementProxy", 6),
    ("IfcProduct", 6),
)


def classify(
    is_a: Callable[[str], Any],
    *,
    predefined_type: str | None = None,
    properties: dict[str, dict[str, Any]] | None = None,
) -> tuple[int, str]:
    """(CIM level, LOD string) of a product, given its `is_a` (e.g. `entity.is_a`).

    Example:
        >>> classify(lambda c: c in ("IfcWall", "IfcProduct"),
        ...          properties={"Pset_WallCommon": {"IsExternal": True}})
        (4, 'LOD3')
    """
    return refine(base_level(is_a), is_a, predefined_type=predefined_type, properties=properties)


def base_level(is_a: Callable[[str], Any]) -> int:
    """The level decided by class alone (the same for every product of a class: cache it by class)."""
    return next((lvl for cls, lvl in RULES if _safe_is_a(is_a, cls)), 6)


def refine(
    level: int,
    is_a: Callable[[str], Any],
    *,
    predefined_type: str | None = None,
    properties: dict[str, dict[str, Any]] | None = None,
) -> tuple[int, str]:
    """Apply the per-product refinements (external walls, roof slabs -> CIM4) to a class level."""
    if level == 5 and _is_exterior(is_a, predefined_type, properties or {}):
        level = 4
    return level, LEVEL_LOD[level]


def _is_exterior(is_a: Callable[[str], Any], predefined_type: str | None, properties: dict) -> bool:
    if _safe_is_a(is_a, "IfcSlab") and (predefined_type or "").upper() == "ROOF":
        return True
    if _safe_is_a(is_a, "IfcWall"):
        return (properties.get("Pset_WallCommon") or {}).get("IsExternal") is True
    return False


def _safe_is_a(is_a: Callable[[str], Any], cls: str) -> bool:
    try:
        return bool(is_a(cls))
    except (RuntimeError, ValueError, TypeError):
        return False
