"""Joins on a city made from a bureau's real files: the id pairs geopandas.sjoin finds, no fewer, no more."""

from __future__ import annotations

import geopandas as gpd
import pytest


def _reference(left: gpd.GeoDataFrame, right: gpd.GeoDataFrame, predicate: str) -> set[tuple[str, str]]:
    """geopandas.sjoin over the features as the city reads them out (its own read path, not the join's)."""
    if predicate == "contains_centroid":
        right = gpd.GeoDataFrame({"id": right["id"]}, geometry=right.geometry.centroid, crs=right.crs)
    joined = gpd.sjoin(right[["id", "geometry"]], left[["id", "geometry"]],
                       predicate="intersects" if predicate == "intersects" else "within")
    return set(zip(joined["id_right"], joined["id_left"], strict=True))


@pytest.mark.parametrize("predicate", ["contains", "contains_centroid", "intersects"])
def test_which_borough_holds_each_tiger_road_matches_geopandas(nyc, predicate):
    boroughs, roads = nyc.features("boroughs"), nyc.features("roads_tiger")
    pairs = nyc.spatial_join("boroughs", "roads_tiger", predicate=predicate)
    found = set(zip(pairs.column("left_id").to_pylist(), pairs.column("right_id").to_pylist(), strict=True))
    expected = _reference(boroughs, roads, predicate)
    assert found == expected and pairs.num_rows == len(expected)
    assert len({r for _, r in found}) > 1000  # most of the 8 333 roads lie in a borough


def test_which_delft_3d_features_touch_which_bgt_footprints_matches_geopandas(delft):
    model = delft.features("delft_3d", where="class <> 'Building'")
    footprints = delft.features("bgt_pand")
    pairs = delft.spatial_join("delft_3d", "bgt_pand", predicate="intersects")
    found = set(zip(pairs.column("left_id").to_pylist(), pairs.column("right_id").to_pylist(), strict=True))
    everything = _reference(delft.features("delft_3d"), footprints, "intersects")
    assert found == everything
    assert {p for p in found if p[0] in set(model["id"])}  # not only the model's buildings touch footprints
