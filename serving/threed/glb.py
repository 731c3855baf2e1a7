"""A mesh and its features' attributes as one glb with 3D Tiles 1.1 feature metadata.

Why: 3D Tiles 1.1 content is plain glTF 2.0. Each vertex carries ``_FEATURE_ID_0`` (the row of
its feature in a property table); ``EXT_mesh_features`` declares the ids and
``EXT_structural_metadata`` stores the table (id, class, name, height, base), so a client that
picks a triangle learns the feature's stable id and can ask the server for more. Both extensions
are "used", not "required": any glTF viewer still draws the model.

Example:
    >>> data = mesh_glb(mesh, {"id": ids, "class": classes, "name": names,
    ...                        "height": heights, "base": bases})  # doctest: +SKIP
    >>> data[:4]  # doctest: +SKIP
    b'glTF'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bim.gltf import GlbBuffer, pack_glb
from serving.threed.lod1 import Mesh

__all__ = ["mesh_glb", "FEATURE_CLASS", "PROPERTIES"]

_FLOAT, _USHORT, _UINT, _UBYTE = 5126, 5123, 5125, 5121
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963

#: the metadata class of every feature in LOD1 content, and its properties (name → schema)
FEATURE_CLASS = "feature"
PROPERTIES: dict[str, dict[str, Any]] = {
    "id": {"type": "STRING", "description": "stable feature id (GET /api/features/{id})"},
    "class": {"type": "STRING", "description": "feature class (Building, Wall, ...)"},
    "name": {"type": "STRING"},
    "height": {"type": "SCALAR", "componentType": "FLOAT64", "description": "height in metres"},
    "base": {"type": "SCALAR", "componentType": "FLOAT64", "description": "base height in metres"},
}


def mesh_glb(mesh: Mesh, table: dict[str, Sequence[Any]], *, color: Sequence[float] = (0.82, 0.82, 0.8, 1.0),
             extras: dict[str, Any] | None = None) -> bytes:
    """One glb: one primitive with POSITION, _FEATURE_ID_0 (NORMAL, COLOR_0 when given) and the
    property table. With per-vertex colours the material's base colour is white (colours multiply)."""
    if mesh.indices.size == 0:
        raise ValueError("mesh_glb needs at least one triangle")
    count = len(next(iter(table.values())))
    buf = GlbBuffer()
    accessors: list[dict[str, Any]] = []

    def accessor(array: np.ndarray, component: int, kind: str, target: int, **more: Any) -> int:
        accessors.append({"bufferView": buf.view(np.ascontiguousarray(array).tobytes(), target),
                          "componentType": component, "count": int(array.shape[0]), "type": kind, **more})
        return len(accessors) - 1

    pos = mesh.positions
    attributes = {
        "POSITION": accessor(pos, _FLOAT, "VEC3", _ARRAY_BUFFER,
                             min=pos.min(axis=0).tolist(), max=pos.max(axis=0).tolist()),
        # float32 because custom attributes may not be UNSIGNED_INT; exact below 2**24 features
        "_FEATURE_ID_0": accessor(mesh.feature_ids.astype(np.float32), _FLOAT, "SCALAR", _ARRAY_BUFFER),
    }
    if mesh.normals is not None:
        attributes["NORMAL"] = accessor(mesh.normals, _FLOAT, "VEC3", _ARRAY_BUFFER)
    if mesh.colors is not None:
        attributes["COLOR_0"] = accessor(mesh.colors, _UBYTE, "VEC4", _ARRAY_BUFFER, normalized=True)
    small = len(pos) <= 65535
    indices = accessor(mesh.indices.astype(np.uint16 if small else np.uint32), _USHORT if small else _UINT,
                       "SCALAR", _ELEMENT_ARRAY_BUFFER)
    primitive = {"attributes": attributes, "indices": indices, "material": 0, "mode": 4,
                 "extensions": {"EXT_mesh_features": {"featureIds": [
                     {"featureCount": count, "attribute": 0, "propertyTable": 0, "label": "feature"}]}}}
    properties = {name: _column(buf, PROPERTIES[name], values) for name, values in table.items()}
    doc = {
        "asset": {"version": "2.0", "generator": "serving.threed", **({"extras": extras} if extras else {})},
        "extensionsUsed": ["EXT_mesh_features", "EXT_structural_metadata"],
        "extensions": {"EXT_structural_metadata": {
            "schema": {"id": "cim", "classes": {FEATURE_CLASS: {"properties": {
                name: PROPERTIES[name] for name in table}}}},
            "propertyTables": [{"class": FEATURE_CLASS, "count": count, "properties": properties}],
        }},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0}],
        "meshes": [{"primitives": [primitive]}],
        "materials": [{"pbrMetallicRoughness": {"baseColorFactor": [1.0, 1.0, 1.0, 1.0] if mesh.colors is not None
                                                else [float(c) for c in color],
                                                "metallicFactor": 0.0, "roughnessFactor": 0.9},
                       "doubleSided": True}],
        "accessors": accessors,
        "bufferViews": buf.views,
        "buffers": [{"byteLength": 0}],
    }
    binary = buf.binary()
    doc["buffers"][0]["byteLength"] = len(binary)
    return pack_glb(doc, binary)


def _column(buf: GlbBuffer, schema: dict[str, Any], values: Sequence[Any]) -> dict[str, Any]:
    if schema["type"] == "STRING":
        encoded = [("" if v is None else str(v)).encode("utf-8") for v in values]
        offsets = np.zeros(len(encoded) + 1, dtype=np.uint32)
        offsets[1:] = np.cumsum([len(b) for b in encoded])
        return {"values": buf.view(b"".join(encoded)), "stringOffsets": buf.view(offsets.tobytes()),
                "stringOffsetType": "UINT32"}
    array = np.asarray(values, dtype=np.float64)
    return {"values": buf.view(np.nan_to_num(array, nan=0.0).tobytes())}
