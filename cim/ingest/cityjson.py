"""CityJSON (1.1, 2.0, CityJSONSeq) into the city: city objects as features, surfaces as meshes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import shapely

from cim.errors import CRSError
from cim.ingest.data import ReadContext, SourceLayer, Target
from cim.ingest.options import CityJSONOptions
from cim.ingest.source import layer_name_for
from cim.model.meshes import StoredMesh

#: CityJSON LOD → CJJ/T 315 CIM level (LOD0 footprints CIM2, LOD1 blocks CIM3, LOD2 roofs CIM4)
_LEVEL_BY_LOD = {"0": 2, "1": 3, "2": 4, "3": 5}


def plan_cityjson(path: Path, options: CityJSONOptions) -> list[Target]:
    """A CityJSON file fills one layer, named after the file unless ``layer`` names it."""
    return [Target(options.layer or layer_name_for(path.name.split(".")[0]))]


def read_cityjson_layer(path: Path, options: CityJSONOptions, target: Target, ctx: ReadContext) -> SourceLayer:
    """CityJSON buildings (and other city objects) with their attributes and LOD0–2 geometry.

    Footprints become features (city CRS), surfaces of the chosen LOD a stream of triangle
    meshes. A file without ``metadata.referenceSystem`` needs ``source_crs``.

    Example:
        >>> read_cityjson_layer(Path("delft.json"), CityJSONOptions(), Target("delft"), ctx)  # doctest: +SKIP
    """
    from bim.cityjson import read_cityjson
    from gis.crs import crs_label, parse_crs

    name = target.layer
    ctx.progress(f"{name}: reading {path.name}", 0.05)
    data = read_cityjson(path)
    src = _source_crs(path, data.crs, options.source_crs)
    out = SourceLayer(target, kind="cityjson", feature_class="Building", source_crs=crs_label(src),
                      read=len(data.objects), properties={"cityjson_version": data.version})
    _within_city_area(path, data.objects, src, ctx.city_crs, out)
    ctx.progress(f"{name}: placing {out.read:,} city objects", 0.4)
    out.features, meshes, out.repaired = _rows(data.objects, src, parse_crs(ctx.city_crs))
    out.fields = attribute_fields(data.objects)
    out.meshes, out.mesh_total = meshes, len(meshes)
    out.extra["meshes"] = len(meshes)
    unmeshed = _unmeshed(data.objects, {m.feature_id for m in meshes})
    if unmeshed:
        out.notes.append(f"{len(unmeshed)} city objects are stored without a 3D shape (none of their surfaces has "
                         f"three corners and finite coordinates), so 3D tiles leave them out: "
                         f"{', '.join(unmeshed[:5])}{' …' if len(unmeshed) > 5 else ''}")
    return out


def attribute_fields(objects: list[Any]) -> list[dict[str, str]]:
    """The layer's field list: every attribute name of the city objects, in first-seen order, with the
    Arrow type its values share (``bool``, ``int64``, ``double``, else ``string``), as a vector layer
    records it, so queries, filters and tiles can name a CityJSON attribute as they name any field.

    Example:
        >>> from types import SimpleNamespace as O
        >>> attribute_fields([O(attributes={"storeys": 3, "class": "dek"}), O(attributes={"storeys": 2.5})])
        [{'name': 'storeys', 'type': 'double'}, {'name': 'class', 'type': 'string'}]
    """
    values: dict[str, list[Any]] = {}
    for obj in objects:
        for name, value in obj.attributes.items():
            seen = values.setdefault(name, [])  # a name whose every value is null still is a field
            if value is not None:
                seen.append(value)
    return [{"name": name, "type": _value_type(vals)} for name, vals in values.items()]


def _value_type(values: list[Any]) -> str:
    if values and all(isinstance(v, bool) for v in values):
        return "bool"
    if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "int64"
    if values and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return "double"
    return "string"


def _unmeshed(objects: list[Any], meshed: set[str]) -> list[str]:
    """Ids of the objects that have surfaces of their own but got no mesh from them."""
    return [obj.id for obj in objects if obj.surfaces and obj.id not in meshed]


def _within_city_area(path: Path, objects: list[Any], src: Any, city_crs: str, out: SourceLayer) -> None:
    """A CityJSON file is one place: refused whole when its footprints lie wholly away from the area
    the city's CRS is defined for (projected there, every shape and size would be wrong), noted when
    they reach beyond it."""
    from gis.crs import beyond_area_of_use

    shapes = [obj.footprint for obj in objects if obj.footprint is not None]
    if not shapes:
        return
    extent = shapely.box(*shapely.total_bounds(np.array(shapes, dtype=object)))
    found = beyond_area_of_use(np.array([extent], dtype=object), src, city_crs)
    if found is None:
        return
    if found.far[0]:
        raise CRSError(f"{path} lies {found.wholly_outside(f'the city CRS {city_crs}')}: projected there its "
                       "buildings' shapes and sizes would be wrong; keep it in a city whose CRS covers it")
    if found.part[0]:
        out.notes.append(f"{path.name} reaches {found.beyond(f'the city CRS {city_crs}')}: its objects out there "
                         "are stored distorted")


def _source_crs(path: Path, declared: str | None, stated: str | None) -> Any:
    from gis.crs import parse_crs, same_crs

    if declared and stated and not same_crs(parse_crs(declared), parse_crs(stated)):
        raise CRSError(f"{path} declares {declared} but --source-crs says {stated}: drop --source-crs")
    if not (declared or stated):
        raise CRSError(f"{path} has no metadata.referenceSystem: state it with --source-crs EPSG:…")
    try:
        return parse_crs(declared or stated)
    except Exception as exc:
        raise CRSError(f"{path}: reference system {declared!r} is not one cim knows: "
                       "state it with --source-crs EPSG:…") from exc


def _rows(objects: list[Any], src: Any, dst: Any) -> tuple[pa.Table, list[StoredMesh], int]:
    from gis.crs import same_crs, transformer

    move = None if same_crs(src, dst) else transformer(src, dst)
    rows, meshes, repaired = [], [], 0
    for obj in objects:
        footprint = obj.footprint
        if footprint is not None and move is not None:
            footprint = shapely.transform(footprint, lambda c: np.column_stack(move.transform(c[:, 0], c[:, 1])))
        if footprint is not None and not (footprint.is_valid and np.isfinite(footprint.bounds).all()):
            footprint = shapely.make_valid(footprint) if np.isfinite(footprint.bounds).all() else None
            repaired += footprint is not None
        mesh = _mesh(obj, move)
        if mesh is not None:
            meshes.append(mesh)
        lod = str(obj.lod) if obj.lod is not None else None
        rows.append({
            "id": obj.id, "class": obj.type, "name": _name(obj.attributes),
            "cim_level": _LEVEL_BY_LOD.get((lod or "")[:1], 3), "lod": lod,
            "geom": shapely.to_wkb(footprint) if footprint is not None else None,
            "z_min": obj.z_min, "z_max": obj.z_max, "height": obj.height,
            "parent": obj.parents[0] if obj.parents else None,
            "properties": json.dumps(obj.attributes, ensure_ascii=False, default=str),
        })
    schema = pa.schema([("id", pa.string()), ("class", pa.string()), ("name", pa.string()),
                        ("cim_level", pa.int8()), ("lod", pa.string()), ("geom", pa.binary()),
                        ("z_min", pa.float64()), ("z_max", pa.float64()), ("height", pa.float64()),
                        ("parent", pa.string()), ("properties", pa.string())])
    return pa.Table.from_pylist(rows, schema=schema), meshes, repaired


def _name(attributes: dict[str, Any]) -> str | None:
    for key in ("name", "名称", "identificatie", "identificatie_bag"):
        if attributes.get(key):
            return str(attributes[key])
    return None


def _mesh(obj: Any, move: Any) -> StoredMesh | None:
    """Fan-triangulated outer rings of the object's surfaces (holes are not cut)."""
    vertices, faces = [], []
    offset = 0
    for surface in obj.surfaces or []:
        if not surface or len(surface[0]) < 3:
            continue
        ring = np.asarray(surface[0], dtype=float)[:, :3]
        if np.array_equal(ring[0], ring[-1]):  # a closing vertex; CityJSON rings normally have none
            ring = ring[:-1]
        if len(ring) < 3:
            continue
        vertices.append(ring)
        faces.extend((offset, offset + i, offset + i + 1) for i in range(1, len(ring) - 1))
        offset += len(ring)
    if not faces:
        return None
    v = np.vstack(vertices)
    if move is not None:
        x, y = move.transform(v[:, 0], v[:, 1])
        v = np.column_stack([x, y, v[:, 2]])
    if not np.isfinite(v).all():
        return None
    return StoredMesh(obj.id, v, np.asarray(faces, dtype=np.uint32))
