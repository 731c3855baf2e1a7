"""BIM meshes (the meshes table) as 3D Tiles: valid glb, element ids, vertices where the model put them."""

from __future__ import annotations

import numpy as np
import pytest
from pyproj import Transformer

from serving.threed import plan_tileset
from tests.threed import decode


@pytest.fixture(scope="session")
def bim_city(tmp_path_factory):
    """A city with a generated two-storey IFC building ingested as layer ``tower``."""
    pytest.importorskip("ifcopenshell")
    import cim
    from bim.generate import write_demo_building
    from bim.georef import Anchor

    folder = tmp_path_factory.mktemp("bim")
    c = cim.create(folder / "city.duckdb")
    path = write_demo_building(folder / "tower.ifc", storeys=2,
                               anchor=Anchor(530000.0, 3990000.0, 0.0, crs="EPSG:4549"))
    c.ingest(path, layer="tower")
    yield c
    c.close()


@pytest.fixture(scope="session")
def bim_tiles(bim_city):
    plan = plan_tileset(bim_city, "tower", max_features=10)
    return plan, plan.tileset_json(), {f"content/{n.key}.glb": plan.content(n.key) for n in plan.nodes}


def test_a_bim_layer_tiles_its_element_meshes_not_extrusions(bim_tiles, tileset_validator):
    plan, doc, contents = bim_tiles
    assert plan.source_kind == "mesh" and len(plan.nodes) > 1
    assert list(tileset_validator[0].iter_errors(doc)) == []
    for data in contents.values():
        gltf, _ = decode.split_glb(data)
        attributes = gltf["meshes"][0]["primitives"][0]["attributes"]
        assert "COLOR_0" in attributes and "_FEATURE_ID_0" in attributes


def test_bim_glb_passes_the_khronos_validator(bim_tiles, gltf_validator, tmp_path):
    _, _, contents = bim_tiles
    paths = []
    for i, data in enumerate(contents.values()):
        paths.append(tmp_path / f"{i}.glb")
        paths[-1].write_bytes(data)
    for report in gltf_validator(paths):
        assert report["issues"]["numErrors"] == 0 and report["issues"]["numWarnings"] == 0, report


def test_element_vertices_land_where_the_model_stored_them(bim_city, bim_tiles):
    from cim.model.meshes import read_meshes

    _, doc, contents = bim_tiles
    stored = {m.feature_id: m for m in read_meshes(bim_city, "tower")}
    worlds = decode.world_matrices(doc)
    to_city = Transformer.from_crs("EPSG:4978", "EPSG:4549", always_xy=True)
    seen = set()
    for uri, data in contents.items():
        gltf, binary = decode.split_glb(data)
        prim = decode.primitive(gltf, binary)
        table = decode.property_table(gltf, binary)
        xyz = np.column_stack(to_city.transform(*decode.to_ecef(prim["POSITION"], worlds[uri]).T))
        owner = prim["_FEATURE_ID_0"].astype(np.int64)
        for row, fid in enumerate(table["id"]):
            assert bim_city.feature(fid)["class"] == table["class"][row]
            mine = xyz[owner == row]
            expected = stored[fid].vertices
            assert len(mine) == len(expected)
            assert np.abs(np.sort(mine, axis=0) - np.sort(expected, axis=0)).max() < 0.01
            seen.add(fid)
    assert seen == set(stored)
