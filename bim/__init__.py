"""bim — IFC models and 3D buildings into the city: read, georeference, mesh, footprint, glb, CityJSON.

The only room that imports ifcopenshell. No database code and no HTTP: the city model (`cim`)
calls these functions and stores what they return (flat records, Arrow tables, glb bytes).
Public names are loaded lazily, so `from bim import read_cityjson` works without ifcopenshell.

Example:
    >>> from bim import read_model, Anchor  # doctest: +SKIP
    >>> model = read_model("house.ifc", anchor=Anchor(527000, 4010000, crs="EPSG:4549"))  # doctest: +SKIP
    >>> for item in model.iter_meshes():  # doctest: +SKIP
    ...     ...
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "BIMError": "bim.errors",
    "InvalidIFC": "bim.errors",
    "InvalidCityJSON": "bim.errors",
    "NoGeoreference": "bim.errors",
    "AbsurdCoordinates": "bim.errors",
    "NoGeometry": "bim.errors",
    "Anchor": "bim.georef",
    "Georeference": "bim.georef",
    "resolve_georeference": "bim.georef",
    "IfcElement": "bim.reader",
    "open_ifc": "bim.reader",
    "read_elements": "bim.reader",
    "elements_table": "bim.reader",
    "ElementMesh": "bim.geometry",
    "GeometryFailure": "bim.geometry",
    "BuildingShape": "bim.footprints",
    "BuildingFootprint": "bim.footprints",
    "building_footprint": "bim.footprints",
    "iter_meshes": "bim.geometry",
    "to_glb": "bim.gltf",
    "BimModel": "bim.ifc_model",
    "read_model": "bim.ifc_model",
    "CIM_LEVELS": "bim.cim_levels",
    "classify": "bim.cim_levels",
    "write_demo_building": "bim.generate",
    "CityJSONData": "bim.cityjson",
    "CityObjectRecord": "bim.cityjson",
    "read_cityjson": "bim.cityjson",
    "write_cityjson": "bim.cityjson",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'bim' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return __all__
