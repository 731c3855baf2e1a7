"""Buildings of the city as CityJSON 2.0: GIS footprints as LOD1 extrusions, BIM buildings as shells."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from bim.cityjson import write_cityjson
from cim.errors import ValidationError
from cim.model.meshes import read_meshes
from cim.model.relations import features, prop_text

if TYPE_CHECKING:
    from cim.city import City


@dataclass
class CityJSONExport:
    """What was written."""

    path: Path
    buildings: int
    shells: int


def export_cityjson(city: City, path: str | Path, *, layers: list[str] | None = None,
                    bbox: tuple[float, float, float, float] | None = None) -> CityJSONExport:
    """Write the current buildings of ``layers`` (default: every layer with Building features).

    A vector building becomes an LOD1 block from its footprint and ``height`` (base ``z_min`` or 0);
    a BIM building (a ``bim`` layer) also carries its elements' meshes as one shell.

    Example:
        >>> export_cityjson(city, "buildings.city.json", layers=["buildings", "worksite_bim"])  # doctest: +SKIP
    """

    layers = layers or [r[0] for r in city.store.rows(
        features(classes=["Building"], columns="DISTINCT layer") + " ORDER BY layer")]
    if not layers:
        raise ValidationError(f"{city.location} has no buildings to export")
    buildings, shells = [], 0
    for layer in layers:
        kind = city.layer(layer)["kind"]
        frame = city.features(layer, bbox=bbox, where="class = 'Building' AND geom IS NOT NULL")
        meshes = _building_shells(city, layer, list(frame["id"])) if kind == "bim" else {}
        for row in frame.itertuples():
            record = {"id": row.id, "footprint": row.geometry, "z_min": _num(row.z_min, 0.0),
                      "height": _num(row.height, 0.0),
                      "attributes": {"layer": layer, "name": row.name, **json.loads(row.properties or "{}")}}
            if row.id in meshes:
                record["mesh"] = meshes[row.id]
                shells += 1
            if record["height"] > 0 and not shapely.is_empty(row.geometry):
                buildings.append(record)
    target = write_cityjson(buildings, city.crs, path)
    return CityJSONExport(Path(target), len(buildings), shells)


def _num(value: Any, default: float) -> float:
    return default if value is None or value != value else float(value)


def _building_shells(city: City, layer: str, building_ids: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per BIM building, the meshes of its elements merged into one (vertices, faces)."""
    rows = city.store.rows(features(layers=[layer], columns=f"id, {prop_text('building')}"))
    owner = {fid: b for fid, b in rows if b in building_ids}
    parts: dict[str, list[Any]] = {}
    for mesh in read_meshes(city, layer):
        building = owner.get(mesh.feature_id)
        if building:
            parts.setdefault(building, []).append(mesh)
    shells = {}
    for building, meshes in parts.items():
        offsets = np.cumsum([0] + [len(m.vertices) for m in meshes[:-1]])
        vertices = np.vstack([m.vertices for m in meshes])
        faces = np.vstack([m.faces + o for m, o in zip(meshes, offsets, strict=True)])
        shells[building] = (vertices, faces)
    return shells
