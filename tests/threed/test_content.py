"""glb content: valid glTF, ids that lead back to features, vertices where the footprints are."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from pyproj import Transformer

from serving.threed import plan_tileset
from tests.threed import decode


@pytest.fixture(scope="module")
def small_tiles(small_city):
    """(tileset.json, {uri: glb bytes}) of the small city, 20 features per tile."""
    plan = plan_tileset(small_city, "buildings", max_features=20)
    return plan.tileset_json(), {f"content/{n.key}.glb": plan.content(n.key) for n in plan.nodes}


def test_every_glb_passes_the_khronos_gltf_validator_without_errors(small_tiles, demo_city, gltf_validator,
                                                                     tmp_path):
    _, contents = small_tiles
    demo = plan_tileset(demo_city, "buildings", max_features=1500)
    contents = dict(contents)
    contents.update({f"demo/{n.key}.glb": demo.content(n.key) for n in demo.nodes})
    paths = []
    for i, data in enumerate(contents.values()):
        path = tmp_path / f"{i}.glb"
        path.write_bytes(data)
        paths.append(path)
    reports = gltf_validator(paths)
    assert len(reports) == len(paths)
    for report in reports:
        issues = report["issues"]
        assert issues["numErrors"] == 0, json.dumps(issues["messages"][:5])
        assert issues["numWarnings"] == 0, json.dumps(issues["messages"][:5])


def test_the_gltf_validator_reports_a_damaged_glb(small_tiles, gltf_validator, tmp_path):
    _, contents = small_tiles
    doc, binary = decode.split_glb(next(iter(contents.values())))
    position = doc["meshes"][0]["primitives"][0]["attributes"]["POSITION"]
    doc["accessors"][position]["max"] = [0.0, 0.0, 0.0]  # lies about the bounds
    from serving.threed.glb import pack_glb

    path = tmp_path / "bad.glb"
    path.write_bytes(pack_glb(doc, binary))
    assert gltf_validator([path])[0]["issues"]["numErrors"] > 0


def test_feature_metadata_follows_ext_structural_metadata_and_its_schema_is_valid(small_tiles, tileset_validator):
    from jsonschema import Draft202012Validator

    _, registry = tileset_validator
    _, contents = small_tiles
    schema_schema = registry.contents("Schema/schema.schema.json")
    for data in contents.values():
        doc, _ = decode.split_glb(data)
        meta = doc["extensions"]["EXT_structural_metadata"]
        errors = list(Draft202012Validator(schema_schema, registry=registry).iter_errors(meta["schema"]))
        assert errors == []
        ids = doc["meshes"][0]["primitives"][0]["extensions"]["EXT_mesh_features"]["featureIds"][0]
        assert ids["propertyTable"] == 0 and ids["featureCount"] == meta["propertyTables"][0]["count"]
        assert set(doc["extensionsUsed"]) == {"EXT_mesh_features", "EXT_structural_metadata"}
        assert "extensionsRequired" not in doc


def test_every_feature_id_in_the_content_maps_back_to_one_feature(small_city, small_tiles):
    _, contents = small_tiles
    seen = []
    for data in contents.values():
        doc, binary = decode.split_glb(data)
        table = decode.property_table(doc, binary)
        prim = decode.primitive(doc, binary)
        used = np.unique(prim["_FEATURE_ID_0"].astype(np.int64))
        assert used.min() >= 0 and used.max() < len(table["id"])
        assert len(used) == len(table["id"])  # every row of the table is drawn
        for i, fid in enumerate(table["id"]):
            feature = small_city.feature(fid)
            assert feature["class"] == table["class"][i] == "Building"
            assert feature["name"] == table["name"][i]
            assert table["height"][i] == pytest.approx(feature["height"])
        seen += table["id"]
    assert len(seen) == len(set(seen))
    drawable = small_city.sql("SELECT id FROM features WHERE layer = 'buildings' AND height > 0 "
                              "AND valid_to IS NULL").column("id").to_pylist()
    assert sorted(seen) == sorted(drawable)


def test_vertices_land_within_a_metre_of_their_footprint_on_the_dem(small_city, small_tiles):
    tileset, contents = small_tiles
    worlds = decode.world_matrices(tileset)
    to_city = Transformer.from_crs("EPSG:4978", "EPSG:4549", always_xy=True)
    for uri, data in contents.items():
        doc, binary = decode.split_glb(data)
        prim = decode.primitive(doc, binary)
        table = decode.property_table(doc, binary)
        x, y, z = to_city.transform(*decode.to_ecef(prim["POSITION"], worlds[uri]).T)
        owner = prim["_FEATURE_ID_0"].astype(np.int64)
        for row, fid in enumerate(table["id"]):
            footprint = shapely.from_wkt(small_city.feature(fid)["wkt"])
            mine = owner == row
            points = shapely.points(x[mine], y[mine])
            assert shapely.distance(footprint.boundary, points).max() < 1.0
            base, top = table["base"][row], table["base"][row] + table["height"][row]
            assert np.all((np.abs(z[mine] - base) < 0.05) | (np.abs(z[mine] - top) < 0.05))
            # the sloping DEM rises 0.1 m per metre eastwards from 20 m at x = X0 - 1000
            minx = footprint.bounds[0]
            assert base == pytest.approx(20.0 + 0.1 * (minx - (530000.0 - 1000.0)), abs=1.0)


def test_roofs_face_up_and_cover_exactly_the_footprint_courtyards_and_l_shapes_included(small_city, small_tiles):
    tileset, contents = small_tiles
    worlds = decode.world_matrices(tileset)
    to_city = Transformer.from_crs("EPSG:4978", "EPSG:4549", always_xy=True)
    checked = set()
    for uri, data in contents.items():
        doc, binary = decode.split_glb(data)
        table = decode.property_table(doc, binary)
        prim = decode.primitive(doc, binary)
        tri = prim["indices"].reshape(-1, 3).astype(np.int64)
        roof = prim["NORMAL"][tri[:, 0], 1] > 0.99
        g = prim["POSITION"].astype(float)[tri[roof]]
        facing = np.cross(g[:, 1] - g[:, 0], g[:, 2] - g[:, 0])
        assert (facing[:, 1] > 0).all()  # counter-clockwise seen from above (glTF +y is up)
        x, y, _ = to_city.transform(*decode.to_ecef(prim["POSITION"], worlds[uri]).T)
        p = np.stack([x, y], axis=1)[tri[roof]]
        u, v = p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]
        area = 0.5 * np.abs(u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0])
        owner = prim["_FEATURE_ID_0"][tri[roof][:, 0]].astype(np.int64)
        for row, fid in enumerate(table["id"]):
            footprint = shapely.from_wkt(small_city.feature(fid)["wkt"])
            assert area[owner == row].sum() == pytest.approx(footprint.area, rel=1e-3), fid
            checked.add(fid)
    # the courtyard block (a hole), the L-shape (not convex) and the two-part building are among them
    assert {"buildings.B0196", "buildings.B0197", "buildings.B0198"} <= checked
