"""Buildings of the city as CityJSON 2.0: GIS footprints as LOD1 extrusions (LOD0 footprints when no
height is known), BIM buildings as shells; what is left out is named, with the reason."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
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


#: how many ids a note names (its count covers them all)
_NAMED = 5


@dataclass
class CityJSONExport:
    """What was written: ``buildings`` in all, of which ``footprints`` as LOD0 only (no height) and
    ``shells`` with a BIM shell; ``notes`` say, per layer, what was not written and why, what is
    LOD0 only and which ids were prefixed with their layer to stay unique."""

    path: Path
    buildings: int
    shells: int
    footprints: int = 0
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Sentences for the user besides the totals."""
        return list(self.notes)


def export_cityjson(city: City, path: str | Path, *, layers: list[str] | None = None,
                    bbox: tuple[float, float, float, float] | None = None) -> CityJSONExport:
    """Write the current buildings of ``layers`` (default: every layer with Building features).

    A vector building becomes an LOD1 block from its footprint and ``height`` (base ``z_min`` or 0),
    or its LOD0 footprint when it has no height; a BIM building (a ``bim`` layer) also carries its
    elements' meshes as one shell. A building without a polygon, and the features of a vector or
    CityJSON layer that are not buildings, are not written: ``notes`` name them. A building whose
    id an earlier layer already wrote is written as ``layer/id``.

    Example:
        >>> export_cityjson(city, "buildings.city.json", layers=["buildings", "worksite_bim"])  # doctest: +SKIP
    """

    layers = layers or [r[0] for r in city.store.rows(
        features(classes=["Building"], columns="DISTINCT layer") + " ORDER BY layer")]
    if not layers:
        raise ValidationError(f"{city.location} has no buildings to export")
    buildings, shells, notes, flat, taken = [], 0, [], 0, set()
    for layer in layers:
        kind = city.layer(layer)["kind"]
        frame = city.features(layer, bbox=bbox, where="class = 'Building'")
        meshes = _building_shells(city, layer, list(frame["id"])) if kind == "bim" else {}
        unshaped, heightless, renamed = [], [], []
        for row in frame.itertuples():
            if not _is_polygonal(row.geometry):
                unshaped.append(str(row.id))
                continue
            oid = str(row.id)
            if oid in taken:  # an id an earlier layer used: CityJSON ids are unique, so prefix the layer
                oid = f"{layer}/{oid}"
                renamed.append(str(row.id))
            taken.add(oid)
            record = {"id": oid, "footprint": row.geometry, "z_min": _num(row.z_min, 0.0),
                      "height": _num(row.height, 0.0),
                      "attributes": {"layer": layer, "name": row.name, **json.loads(row.properties or "{}")}}
            if row.id in meshes:
                record["mesh"] = meshes[row.id]
                shells += 1
            if not record["height"] > 0:
                heightless.append(str(row.id))
            buildings.append(record)
        flat += len(heightless)
        notes += _notes(city, layer, kind, bbox, unshaped, heightless)
        if renamed:
            notes.append(f"{layer}: {len(renamed)} buildings share their id with a building of an earlier layer "
                            f"and are written as {layer}/ID ({_named(renamed)})")
    target = write_cityjson(buildings, city.crs, path)
    return CityJSONExport(Path(target), len(buildings), shells, flat, notes)


def _is_polygonal(geom: Any) -> bool:
    return geom is not None and not shapely.is_empty(geom) and geom.geom_type in ("Polygon", "MultiPolygon")


def _named(ids: list[str]) -> str:
    return ", ".join(ids[:_NAMED]) + (" …" if len(ids) > _NAMED else "")


def _notes(city: City, layer: str, kind: str, bbox: tuple[float, float, float, float] | None,
           unshaped: list[str], heightless: list[str]) -> list[str]:
    """What the user should know about one layer's export: LOD0-only buildings (and how to give
    them a height), buildings left out, other features left out."""
    notes = []
    if heightless:
        notes.append(f"{layer}: {len(heightless)} buildings have no height and are written as LOD0 footprints "
                     f"only ({_named(heightless)}); give them one with `cim layers set CITY {layer} "
                     "--height FIELD:m` (or FIELD:floors)")
    if unshaped:
        notes.append(f"{layer}: {len(unshaped)} buildings are left out, having no footprint polygon "
                     f"({_named(unshaped)})")
    if kind != "bim":  # a BIM layer's elements are written inside their building's shell
        others = city.features(layer, bbox=bbox, where="class IS DISTINCT FROM 'Building'")
        if len(others):
            classes = others["class"].fillna("no class").value_counts()
            listed = ", ".join(f"{n} {cls}" for cls, n in classes.items())
            notes.append(f"{layer}: {len(others)} features are left out, not being buildings ({listed})")
    return notes


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
