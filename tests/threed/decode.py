"""Read back what the 3D Tiles path wrote: glb accessors, property tables, tile transforms.

Independent of the writer: it follows the glTF / 3D Tiles specifications (accessor layout,
EXT_structural_metadata string offsets, column-major tile transforms, the y-up → z-up rotation).
"""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np

_DTYPES = {5126: np.float32, 5125: np.uint32, 5123: np.uint16, 5121: np.uint8}
_WIDTH = {"SCALAR": 1, "VEC3": 3, "VEC4": 4}
Y_UP_TO_Z_UP = np.array([[1.0, 0, 0, 0], [0, 0, -1, 0], [0, 1, 0, 0], [0, 0, 0, 1]])


def split_glb(data: bytes) -> tuple[dict[str, Any], bytes]:
    magic, version, length = struct.unpack_from("<4sII", data, 0)
    assert magic == b"glTF" and version == 2 and length == len(data)
    json_len, kind = struct.unpack_from("<I4s", data, 12)
    assert kind == b"JSON"
    doc = json.loads(data[20:20 + json_len])
    bin_len, kind = struct.unpack_from("<I4s", data, 20 + json_len)
    assert kind == b"BIN\0"
    return doc, data[28 + json_len:28 + json_len + bin_len]


def accessor(doc: dict[str, Any], binary: bytes, index: int) -> np.ndarray:
    acc = doc["accessors"][index]
    view = doc["bufferViews"][acc["bufferView"]]
    width = _WIDTH[acc["type"]]
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    arr = np.frombuffer(binary, dtype=_DTYPES[acc["componentType"]], count=acc["count"] * width, offset=start)
    return arr.reshape(acc["count"], width) if width > 1 else arr


def view_bytes(doc: dict[str, Any], binary: bytes, index: int) -> bytes:
    view = doc["bufferViews"][index]
    return binary[view.get("byteOffset", 0):view.get("byteOffset", 0) + view["byteLength"]]


def property_table(doc: dict[str, Any], binary: bytes) -> dict[str, list[Any]]:
    """Columns of the first EXT_structural_metadata property table."""
    meta = doc["extensions"]["EXT_structural_metadata"]
    table = meta["propertyTables"][0]
    schema = meta["schema"]["classes"][table["class"]]["properties"]
    out: dict[str, list[Any]] = {}
    for name, col in table["properties"].items():
        raw = view_bytes(doc, binary, col["values"])
        if schema[name]["type"] == "STRING":
            offsets = np.frombuffer(view_bytes(doc, binary, col["stringOffsets"]), dtype=np.uint32)
            out[name] = [raw[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(table["count"])]
        else:
            out[name] = np.frombuffer(raw, dtype=np.float64, count=table["count"]).tolist()
    return out


def primitive(doc: dict[str, Any], binary: bytes) -> dict[str, np.ndarray]:
    prim = doc["meshes"][0]["primitives"][0]
    out = {name: accessor(doc, binary, i) for name, i in prim["attributes"].items()}
    out["indices"] = accessor(doc, binary, prim["indices"])
    return out


def column_major(values: list[float]) -> np.ndarray:
    return np.asarray(values, dtype=float).reshape(4, 4).T


def world_matrices(tileset: dict[str, Any]) -> dict[str, np.ndarray]:
    """Content URI → the product of every ancestor's and its own transform."""
    out: dict[str, np.ndarray] = {}

    def walk(tile: dict[str, Any], parent: np.ndarray) -> None:
        world = parent @ column_major(tile["transform"]) if "transform" in tile else parent
        if "content" in tile:
            out[tile["content"]["uri"]] = world
        for child in tile.get("children", []):
            walk(child, world)

    walk(tileset["root"], np.eye(4))
    return out


def to_ecef(positions: np.ndarray, world: np.ndarray) -> np.ndarray:
    """glTF positions → ECEF through the y-up → z-up rotation and the tile's world transform."""
    homo = np.column_stack([positions.astype(float), np.ones(len(positions))])
    return (world @ Y_UP_TO_Z_UP @ homo.T).T[:, :3]


def tiles(tileset: dict[str, Any]) -> list[dict[str, Any]]:
    """Every tile, depth first."""
    out, stack = [], [tileset["root"]]
    while stack:
        tile = stack.pop()
        out.append(tile)
        stack.extend(tile.get("children", []))
    return out
