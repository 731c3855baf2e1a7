"""glb output: valid glTF 2.0 structure, Y-up RTC positions, per-element feature ids for picking."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from bim import ElementMesh, to_glb
from bim.gltf import read_glb, validate_glb

REPO = Path(__file__).resolve().parents[2]


def accessor(doc: dict, binary: bytes, index: int) -> np.ndarray:
    acc = doc["accessors"][index]
    view = doc["bufferViews"][acc["bufferView"]]
    dtype = {5126: np.float32, 5123: np.uint16, 5125: np.uint32, 5121: np.uint8}[acc["componentType"]]
    width = {"SCALAR": 1, "VEC3": 3, "VEC4": 4}[acc["type"]]
    return np.frombuffer(binary, dtype=dtype, count=acc["count"] * width, offset=view["byteOffset"]).reshape(-1, width)


def strings(doc: dict, binary: bytes, prop: dict) -> list[str]:
    values, offsets = (doc["bufferViews"][prop[k]] for k in ("values", "stringOffsets"))
    raw = binary[values["byteOffset"] : values["byteOffset"] + values["byteLength"]]
    offs = np.frombuffer(binary, dtype=np.uint32, offset=offsets["byteOffset"], count=offsets["byteLength"] // 4)
    return [raw[a:b].decode("utf-8") for a, b in zip(offs[:-1], offs[1:], strict=True)]


def two_triangles() -> list[ElementMesh]:
    v = np.array([[500000.0, 4000000.0, 10.0], [500001.0, 4000000.0, 10.0], [500000.0, 4000002.0, 13.0]])
    faces = np.array([[0, 1, 2]], dtype=np.uint32)
    return [
        ElementMesh("wall-1", "IfcWall", v, faces, 10.0, 13.0, color=(1.0, 0.0, 0.0, 1.0)),
        ElementMesh("window-1", "IfcWindow", v + [5, 0, 0], faces, 10.0, 13.0, color=(0.0, 0.0, 1.0, 0.4)),
    ]


def test_glb_is_structurally_valid_and_4_byte_aligned() -> None:
    data = to_glb(two_triangles(), origin=(500000.0, 4000000.0, 10.0))
    assert data[:4] == b"glTF" and len(data) % 4 == 0
    assert validate_glb(data) == []
    doc, _ = read_glb(data)
    assert doc["asset"]["version"] == "2.0"
    assert all(view["byteOffset"] % 4 == 0 for view in doc["bufferViews"])


def test_positions_are_y_up_relative_to_the_origin() -> None:
    doc, binary = read_glb(to_glb(two_triangles()[:1], origin=(500000.0, 4000000.0, 10.0)))
    prim = doc["meshes"][0]["primitives"][0]
    pos = accessor(doc, binary, prim["attributes"]["POSITION"])
    # map (east, north, up) -> glTF (east, up, -north)
    assert pos.tolist() == [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 3.0, -2.0]]
    assert doc["accessors"][prim["attributes"]["POSITION"]]["min"] == [0.0, 0.0, -2.0]
    assert doc["asset"]["extras"]["cim"]["origin"] == [500000.0, 4000000.0, 10.0]


def test_feature_ids_map_every_vertex_to_its_element_globalid() -> None:
    meshes = two_triangles()
    doc, binary = read_glb(to_glb(meshes, crs="EPSG:4549"))
    table = doc["extensions"]["EXT_structural_metadata"]["propertyTables"][0]
    ids = strings(doc, binary, table["properties"]["global_id"])
    assert ids == ["wall-1", "window-1"] == doc["nodes"][0]["extras"]["global_ids"]
    assert strings(doc, binary, table["properties"]["ifc_class"]) == ["IfcWall", "IfcWindow"]
    assert "EXT_mesh_features" in doc["extensionsUsed"] and "extensionsRequired" not in doc
    seen = {}
    for prim in doc["meshes"][0]["primitives"]:
        feature = prim["extensions"]["EXT_mesh_features"]["featureIds"][0]
        assert feature["featureCount"] == 2 and feature["attribute"] == 0
        fid = accessor(doc, binary, prim["attributes"]["_FEATURE_ID_0"]).ravel()
        seen[doc["materials"][prim["material"]]["alphaMode"]] = sorted({ids[int(i)] for i in fid})
    assert seen == {"OPAQUE": ["wall-1"], "BLEND": ["window-1"]}  # the glass blends, the wall does not


def test_a_real_model_becomes_one_valid_glb(meshed, ifc_sample) -> None:
    result = meshed(ifc_sample("AC20-FZK-Haus.ifc"))
    data = to_glb(result.meshes, crs=result.model.georef.crs)
    assert validate_glb(data) == []
    doc, _ = read_glb(data)
    assert len(doc["nodes"][0]["extras"]["global_ids"]) == len(result.meshes)


def test_to_glb_refuses_an_empty_list() -> None:
    with pytest.raises(ValueError):
        to_glb([])


def _khronos_validator() -> list[str] | None:
    """The Khronos validator when it is already installed (never installed by the tests)."""
    node = shutil.which("node")
    for base in (REPO / "tests" / "threed" / "validator" / "node_modules", REPO / "viewer" / "node_modules"):
        if node and (base / "gltf-validator").is_dir():
            return [node, "-e", (
                "const v=require(process.argv[1]);const d=new Uint8Array(require('fs').readFileSync(process.argv[2]));"
                "v.validateBytes(d).then(r=>console.log(JSON.stringify(r.issues)))"
            ), str(base / "gltf-validator")]
    return None


def test_khronos_validator_finds_no_errors_when_it_is_installed(tmp_path: Path) -> None:
    command = _khronos_validator()
    if command is None:
        pytest.skip("gltf-validator is not installed: run `make install` (npm ci in tests/threed/validator)")
    path = tmp_path / "model.glb"
    path.write_bytes(to_glb(two_triangles()))
    issues = json.loads(subprocess.run([*command, str(path)], capture_output=True, text=True, check=True).stdout)
    assert issues["numErrors"] == 0 and issues["numWarnings"] == 0
