"""Write element meshes as one binary glTF 2.0 (glb) with per-element feature ids for picking.

Why: 3D Tiles 1.1 serves glb content; a viewer picks an element and must learn its GlobalId.
All meshes are merged into at most two primitives (opaque and transparent, so windows can blend),
each vertex carrying `_FEATURE_ID_0` = index of its element. `EXT_mesh_features` declares the
feature ids and `EXT_structural_metadata` holds a property table (global_id, ifc_class) indexed by
them; the node's `extras.global_ids` repeats the ids for clients without those extensions.
Both extensions are "used", not "required": any glTF viewer still draws the model.

Axes and origin (3D Tiles 1.1 convention): glTF is Y-up. Map coordinates (east, north, up) are
written relative to `origin` (RTC, so float32 keeps millimetres) as glTF (x, y, z) =
(east, up, -north). A 3D Tiles client applies its standard Y-up -> Z-up rotation and then the
tile transform (local east-north-up at `origin` -> ECEF). `origin` is stored in
`asset.extras.cim.origin` (and the map CRS in `crs` when given).

No normals are written (clients shade flat); colours are per vertex (`COLOR_0`) from each
element's surface style; the materials are double-sided because IFC meshes are not always
consistently oriented.

Example:
    >>> import numpy as np
    >>> from bim.geometry import ElementMesh
    >>> tri = ElementMesh("1abc", "IfcWall", np.array([[0, 0, 0], [1, 0, 0], [0, 1, 1.0]]),
    ...                   np.array([[0, 1, 2]], dtype=np.uint32), 0.0, 1.0)
    >>> to_glb([tri], origin=(0, 0, 0))[:4]
    b'glTF'
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np

from bim.geometry import ElementMesh

__all__ = ["GlbBuffer", "default_origin", "pack_glb", "read_glb", "to_glb", "validate_glb"]

_FLOAT, _USHORT, _UINT, _UBYTE = 5126, 5123, 5125, 5121
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963
_DEFAULT_RGBA = (0.8, 0.8, 0.8, 1.0)
_TRANSPARENT_BELOW = 0.99


def default_origin(meshes: Sequence[ElementMesh]) -> tuple[float, float, float]:
    """Centre of the meshes' bounding box in x/y and their lowest z, rounded to whole metres."""
    lo = np.min([m.vertices.min(axis=0) for m in meshes if len(m.vertices)], axis=0)
    hi = np.max([m.vertices.max(axis=0) for m in meshes if len(m.vertices)], axis=0)
    return (float(np.round((lo[0] + hi[0]) / 2)), float(np.round((lo[1] + hi[1]) / 2)), float(np.floor(lo[2])))


def to_glb(
    meshes: Sequence[ElementMesh],
    *,
    origin: tuple[float, float, float] | None = None,
    crs: str | None = None,
) -> bytes:
    """Merge `meshes` into one glb (see the module docstring for layout, axes and ids).

    Example:
        >>> data = to_glb(meshes, origin=(527000, 4010000, 0))  # doctest: +SKIP
    """
    meshes = [m for m in meshes if len(m.vertices) and len(m.faces)]
    if not meshes:
        raise ValueError("to_glb needs at least one mesh with triangles")
    origin = default_origin(meshes) if origin is None else tuple(float(c) for c in origin)
    builder = _Builder(origin=origin)
    primitives, materials = [], []
    kinds = (("opaque", "OPAQUE"), ("transparent", "BLEND"))
    for (name, mode), ids in zip(kinds, _split_by_alpha(meshes), strict=True):
        if ids:
            primitives.append(builder.primitive(meshes, ids, len(materials)))
            materials.append(_material(name, mode))
    table = builder.property_table(meshes)
    doc = _document(meshes, primitives, materials, table, builder, origin, crs)
    return pack_glb(doc, builder.binary())


def _split_by_alpha(meshes: Sequence[ElementMesh]) -> list[list[int]]:
    opaque, transparent = [], []
    for i, m in enumerate(meshes):
        alpha = (m.color or _DEFAULT_RGBA)[3]
        (transparent if alpha < _TRANSPARENT_BELOW else opaque).append(i)
    return [opaque, transparent]


def _material(name: str, mode: str) -> dict[str, Any]:
    return {
        "name": name,
        "pbrMetallicRoughness": {"baseColorFactor": [1, 1, 1, 1], "metallicFactor": 0.0, "roughnessFactor": 0.9},
        "alphaMode": mode,
        "doubleSided": True,
    }


class GlbBuffer:
    """The BIN chunk of a glb being built: byte views appended 8-byte aligned, padded to 4 at the end."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.views: list[dict[str, Any]] = []
        self.size = 0

    def view(self, data: bytes, target: int | None = None) -> int:
        """Append ``data`` as a bufferView (8-byte aligned, fit for every accessor); its index."""
        pad = (-self.size) % 8
        if pad:
            self.parts.append(b"\0" * pad)
            self.size += pad
        view: dict[str, Any] = {"buffer": 0, "byteOffset": self.size, "byteLength": len(data)}
        if target is not None:
            view["target"] = target
        self.parts.append(data)
        self.size += len(data)
        self.views.append(view)
        return len(self.views) - 1

    def binary(self) -> bytes:
        """The chunk's bytes, padded to a multiple of 4."""
        data = b"".join(self.parts)
        return data + b"\0" * ((-len(data)) % 4)


class _Builder(GlbBuffer):
    def __init__(self, origin: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> None:
        super().__init__()
        self.accessors: list[dict[str, Any]] = []
        self.origin = origin

    def accessor(self, array: np.ndarray, component: int, kind: str, target: int, **extra: Any) -> int:
        acc = {"bufferView": self.view(array.tobytes(), target), "componentType": component,
               "count": int(array.shape[0]), "type": kind, **extra}
        self.accessors.append(acc)
        return len(self.accessors) - 1

    def primitive(self, meshes: Sequence[ElementMesh], ids: list[int], material: int) -> dict[str, Any]:
        positions, colors, features, indices = _merge(meshes, ids, self.origin)
        attrs = {
            "POSITION": self.accessor(positions, _FLOAT, "VEC3", _ARRAY_BUFFER,
                                      min=positions.min(axis=0).tolist(), max=positions.max(axis=0).tolist()),
            "COLOR_0": self.accessor(colors, _UBYTE, "VEC4", _ARRAY_BUFFER, normalized=True),
            # float32: vertex attributes must be 4-byte aligned; exact for ids below 2**24
            "_FEATURE_ID_0": self.accessor(features.astype(np.float32), _FLOAT, "SCALAR", _ARRAY_BUFFER),
        }
        index_type, index_dtype = (_USHORT, np.uint16) if len(positions) <= 65535 else (_UINT, np.uint32)
        return {
            "attributes": attrs,
            "indices": self.accessor(indices.astype(index_dtype), index_type, "SCALAR", _ELEMENT_ARRAY_BUFFER),
            "material": material,
            "mode": 4,
            "extensions": {"EXT_mesh_features": {"featureIds": [
                {"featureCount": len(meshes), "attribute": 0, "propertyTable": 0, "label": "element"}]}},
        }

    def property_table(self, meshes: Sequence[ElementMesh]) -> dict[str, Any]:
        props = {}
        columns = {"global_id": [m.global_id for m in meshes], "ifc_class": [m.ifc_class for m in meshes]}
        for name, values in columns.items():
            encoded = [v.encode("utf-8") for v in values]
            offsets = np.zeros(len(encoded) + 1, dtype=np.uint32)
            offsets[1:] = np.cumsum([len(b) for b in encoded])
            props[name] = {"values": self.view(b"".join(encoded)), "stringOffsets": self.view(offsets.tobytes()),
                           "stringOffsetType": "UINT32"}
        return {"class": "element", "count": len(meshes), "properties": props}


def _merge(meshes: Sequence[ElementMesh], ids: list[int], origin: tuple[float, float, float]) -> tuple[np.ndarray, ...]:
    """Stack the chosen meshes: Y-up float32 RTC positions, RGBA8 colours, feature ids, indices."""
    o = np.asarray(origin, dtype=np.float64)
    pos, col, fid, idx, base = [], [], [], [], 0
    for i in ids:
        m = meshes[i]
        rel = m.vertices - o
        pos.append(np.column_stack([rel[:, 0], rel[:, 2], -rel[:, 1]]).astype(np.float32))
        rgba = np.round(np.asarray(m.color or _DEFAULT_RGBA) * 255).astype(np.uint8)
        col.append(np.broadcast_to(rgba, (len(rel), 4)))
        fid.append(np.full(len(rel), i, dtype=np.uint32))
        idx.append(m.faces.astype(np.uint32).reshape(-1) + base)
        base += len(rel)
    return np.concatenate(pos), np.ascontiguousarray(np.concatenate(col)), np.concatenate(fid), np.concatenate(idx)


def _document(meshes, primitives, materials, table, builder, origin, crs) -> dict[str, Any]:  # noqa: ANN001
    cim: dict[str, Any] = {"origin": list(origin), "up_axis": "Y", "axes": "x=east, y=up, z=-north"}
    if crs:
        cim["crs"] = crs
    return {
        "asset": {"version": "2.0", "generator": "cim.bim", "extras": {"cim": cim}},
        "extensionsUsed": ["EXT_mesh_features", "EXT_structural_metadata"],
        "extensions": {"EXT_structural_metadata": {
            "schema": {"id": "cim_bim", "classes": {"element": {"properties": {
                "global_id": {"type": "STRING"}, "ifc_class": {"type": "STRING"}}}}},
            "propertyTables": [table],
        }},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"name": "elements", "mesh": 0, "extras": {"global_ids": [m.global_id for m in meshes]}}],
        "meshes": [{"name": "elements", "primitives": primitives}],
        "materials": materials,
        "accessors": builder.accessors,
        "bufferViews": builder.views,
        "buffers": [{"byteLength": builder.size + ((-builder.size) % 4)}],
    }


def pack_glb(doc: dict[str, Any], binary: bytes) -> bytes:
    """glTF JSON + BIN chunk → glb bytes (chunks padded to 4 bytes)."""
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * ((-len(text)) % 4)
    total = 12 + 8 + len(text) + 8 + len(binary)
    return b"".join([
        struct.pack("<4sII", b"glTF", 2, total),
        struct.pack("<I4s", len(text), b"JSON"), text,
        struct.pack("<I4s", len(binary), b"BIN\0"), binary,
    ])


def read_glb(data: bytes) -> tuple[dict[str, Any], bytes]:
    """Split a glb into its JSON document and binary chunk (for tests and tools)."""
    magic, version, total = struct.unpack_from("<4sII", data, 0)
    if magic != b"glTF" or version != 2 or total != len(data):
        raise ValueError("not a glTF 2.0 binary")
    json_len, _ = struct.unpack_from("<I4s", data, 12)
    doc = json.loads(data[20 : 20 + json_len])
    rest = 20 + json_len
    binary = b""
    if rest < len(data):
        bin_len, _ = struct.unpack_from("<I4s", data, rest)
        binary = data[rest + 8 : rest + 8 + bin_len]
    return doc, binary


_COMPONENTS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}
_SIZES = {5120: 1, _UBYTE: 1, 5122: 2, _USHORT: 2, _UINT: 4, _FLOAT: 4}


def validate_glb(data: bytes) -> list[str]:
    """Structural checks of a glb (what the Khronos validator would reject first); [] when fine.

    Checks the header and chunk lengths, 4-byte chunk padding, buffer views inside the buffer,
    accessor alignment and extent, POSITION min/max present and true, indices in range.

    Example:
        >>> validate_glb(to_glb(meshes))  # doctest: +SKIP
        []
    """
    problems: list[str] = []
    try:
        doc, binary = read_glb(data)
    except (ValueError, struct.error) as exc:
        return [f"header: {exc}"]
    if len(data) % 4:
        problems.append("file length is not a multiple of 4")
    if doc.get("asset", {}).get("version") != "2.0":
        problems.append("asset.version is not 2.0")
    buffers = doc.get("buffers", [])
    if buffers and buffers[0].get("byteLength", 0) > len(binary):
        problems.append("buffer 0 is longer than the BIN chunk")
    for i, view in enumerate(doc.get("bufferViews", [])):
        if view.get("byteOffset", 0) + view["byteLength"] > len(binary):
            problems.append(f"bufferView {i} runs past the buffer")
    for i, acc in enumerate(doc.get("accessors", [])):
        problems.extend(_check_accessor(i, acc, doc, binary))
    for mesh in doc.get("meshes", []):
        for prim in mesh.get("primitives", []):
            problems.extend(_check_primitive(prim, doc, binary))
    return problems


def _accessor_array(acc: dict[str, Any], doc: dict[str, Any], binary: bytes) -> np.ndarray:
    view = doc["bufferViews"][acc["bufferView"]]
    dtype = {_FLOAT: np.float32, _USHORT: np.uint16, _UINT: np.uint32, _UBYTE: np.uint8}[acc["componentType"]]
    n = _COMPONENTS[acc["type"]]
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    return np.frombuffer(binary, dtype=dtype, count=acc["count"] * n, offset=start).reshape(acc["count"], n)


def _check_accessor(i: int, acc: dict[str, Any], doc: dict[str, Any], binary: bytes) -> list[str]:
    view = doc["bufferViews"][acc["bufferView"]]
    size = _SIZES[acc["componentType"]]
    need = acc.get("byteOffset", 0) + acc["count"] * size * _COMPONENTS[acc["type"]]
    out = []
    if need > view["byteLength"]:
        out.append(f"accessor {i} needs {need} bytes, its view has {view['byteLength']}")
    if (view.get("byteOffset", 0) + acc.get("byteOffset", 0)) % size:
        out.append(f"accessor {i} is not aligned to its component size")
    return out


def _check_primitive(prim: dict[str, Any], doc: dict[str, Any], binary: bytes) -> list[str]:
    out = []
    pos_acc = doc["accessors"][prim["attributes"]["POSITION"]]
    if "min" not in pos_acc or "max" not in pos_acc:
        return ["POSITION accessor lacks min/max"]
    pos = _accessor_array(pos_acc, doc, binary)
    if not (np.allclose(pos.min(axis=0), pos_acc["min"]) and np.allclose(pos.max(axis=0), pos_acc["max"])):
        out.append("POSITION min/max do not match the data")
    for name, index in prim["attributes"].items():
        if doc["accessors"][index]["count"] != pos_acc["count"]:
            out.append(f"attribute {name} count differs from POSITION")
    if "indices" in prim:
        idx = _accessor_array(doc["accessors"][prim["indices"]], doc, binary)
        if idx.size % 3 or (idx.size and int(idx.max()) >= pos_acc["count"]):
            out.append("indices are not triangles within the vertex range")
    return out
