"""The tileset.json of a layer: valid 3D Tiles 1.1, partitioned, progressive, bounded."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from cim.errors import LayerNotFound, ValidationError
from serving.threed import plan_tileset
from tests.threed import decode


def test_tileset_json_passes_the_3d_tiles_1_1_schema(small_city, demo_city, tileset_validator):
    validator, _ = tileset_validator
    for city, max_features in ((small_city, 20), (demo_city, 1500)):
        doc = plan_tileset(city, "buildings", max_features=max_features).tileset_json()
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]
        assert errors == []
        assert doc["asset"]["version"] == "1.1"


def test_the_schema_check_catches_a_broken_tileset(small_city, tileset_validator):
    validator, _ = tileset_validator
    doc = plan_tileset(small_city, "buildings", max_features=20).tileset_json()
    broken = copy.deepcopy(doc)
    broken["root"]["boundingVolume"]["region"] = broken["root"]["boundingVolume"]["region"][:4]
    del broken["root"]["geometricError"]
    assert len(list(validator.iter_errors(broken))) >= 2


def test_no_tile_holds_more_than_max_features_and_every_feature_is_in_exactly_one_tile(small_city):
    plan = plan_tileset(small_city, "buildings", max_features=20)
    counts = [node.content.size for node in plan.nodes]
    assert max(counts) <= 20 and len(plan.nodes) > 5
    members = np.concatenate([node.content for node in plan.nodes])
    assert sorted(members.tolist()) == list(range(plan.ids.size))
    drawable = small_city.sql("SELECT count(*) AS n FROM features WHERE layer = 'buildings' "
                              "AND height > 0 AND valid_to IS NULL").column("n")[0].as_py()
    assert plan.ids.size == drawable  # the building without a height is left out


def test_coarse_tiles_hold_the_largest_buildings_and_errors_shrink_with_depth(small_city):
    plan = plan_tileset(small_city, "buildings", max_features=20)
    doc = plan.tileset_json()

    def walk(tile, node_index, parent_error):
        node = plan.nodes[node_index]
        assert tile["geometricError"] <= parent_error
        if node.children:
            below = np.concatenate([_subtree(plan, c) for c in node.children])
            # a coarse tile shows what is at least as important as anything left to its children,
            # and its error is the most important thing still missing
            assert plan.importance[node.content].min() >= plan.importance[below].max()
            assert tile["geometricError"] == pytest.approx(plan.importance[below].max())
        else:
            assert tile["geometricError"] == 0
        for child_tile, child in zip(tile.get("children", []), node.children, strict=True):
            walk(child_tile, child, tile["geometricError"])

    assert doc["root"]["geometricError"] <= doc["geometricError"]
    walk(doc["root"], 0, doc["geometricError"])


def _subtree(plan, index):
    node = plan.nodes[index]
    return np.concatenate([node.content, *[_subtree(plan, c) for c in node.children]])


def test_every_tile_region_encloses_its_content_and_its_children(small_city):
    doc = plan_tileset(small_city, "buildings", max_features=20).tileset_json()
    for tile in decode.tiles(doc):
        outer = tile["boundingVolume"]["region"]
        inner = [tile["content"]["boundingVolume"]["region"]] + [c["boundingVolume"]["region"]
                                                                 for c in tile.get("children", [])]
        for region in inner:
            assert outer[0] <= region[0] and outer[1] <= region[1]
            assert outer[2] >= region[2] and outer[3] >= region[3]
            assert outer[4] <= region[4] and outer[5] >= region[5]
        west, south, east, north = outer[:4]
        assert -math.pi <= west < east <= math.pi and -math.pi / 2 <= south < north <= math.pi / 2


def test_content_uris_are_relative_and_unique(demo_city):
    doc = plan_tileset(demo_city, "buildings", max_features=500).tileset_json()
    uris = [t["content"]["uri"] for t in decode.tiles(doc)]
    assert len(uris) == len(set(uris))
    assert all(u.startswith("content/") and u.endswith(".glb") and ".." not in u for u in uris)


def test_a_layer_without_heights_or_polygons_is_refused_with_a_reason(demo_city):
    with pytest.raises(ValidationError, match="no polygons with a height"):
        plan_tileset(demo_city, "roads")
    with pytest.raises(ValidationError, match="raster"):
        plan_tileset(demo_city, "dem")
    with pytest.raises(LayerNotFound, match="layers are"):
        plan_tileset(demo_city, "no_such_layer")


def test_an_unknown_tile_key_is_refused(small_city):
    plan = plan_tileset(small_city, "buildings", max_features=20)
    with pytest.raises(LayerNotFound, match="no tile"):
        plan.content("9_99_99")
