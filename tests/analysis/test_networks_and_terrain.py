"""Viewshed, line of sight, flood, pipe failure and buffer analysis on small cities with known answers."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from cim.analysis import buffer_impact, flood, line_of_sight, pipe_failure, viewshed
from cim.errors import FeatureNotFound, ValidationError
from tests.analysis.conftest import ingest_frame

X0, Y0 = 515000.0, 3979500.0


@pytest.fixture
def terrain_city(city, tmp_path):
    """A DEM rising 1 m per 10 m northwards from 2 m; a wall of a building across the middle."""
    import rasterio
    from rasterio.transform import from_origin

    z = 2.0 + np.repeat(np.arange(100)[::-1, None] * 1.0, 100, axis=1)  # 100 × 100 cells of 10 m
    dem = tmp_path / "dem.tif"
    with rasterio.open(dem, "w", driver="GTiff", width=100, height=100, count=1, dtype="float32", crs="EPSG:4549",
                       transform=from_origin(X0, Y0 + 1000, 10, 10)) as dst:
        dst.write(z.astype("float32"), 1)
    city.ingest(dem, layer="dem", role="dem")
    b = gpd.GeoDataFrame({"building_id": ["wall", "low", "high"], "height": [40.0, 5.0, 5.0]},
                         geometry=[shapely.box(X0 + 300, Y0 + 500, X0 + 700, Y0 + 510),
                                   shapely.box(X0 + 480, Y0 + 15, X0 + 520, Y0 + 35),
                                   shapely.box(X0 + 480, Y0 + 900, X0 + 520, Y0 + 920)], crs="EPSG:4549")
    ingest_frame(city, b, "buildings", "Building", "building_id", tmp_path)
    return city


def test_line_of_sight_is_blocked_by_a_building_and_clear_beside_it(terrain_city):
    behind = line_of_sight(terrain_city, (X0 + 500, Y0 + 300), (X0 + 500, Y0 + 800))
    assert not behind["visible"]
    assert behind["blocked_at"][1] == pytest.approx(Y0 + 505, abs=6)
    beside = line_of_sight(terrain_city, (X0 + 100, Y0 + 300), (X0 + 100, Y0 + 800))
    assert beside["visible"] and beside["blocked_at"] is None


def test_viewshed_sees_the_near_face_but_not_what_hides_behind_the_wall(terrain_city):
    view = viewshed(terrain_city, (X0 + 500, Y0 + 300), radius=450, cell=5, observer_height=1.6)
    ids = set(view.buildings["id"])
    assert "buildings.wall" in ids and "buildings.low" in ids
    row = lambda y: int(round((view.north - y) / view.cell - 0.5))  # noqa: E731
    col = int(round((X0 + 500 - view.west) / view.cell - 0.5))
    assert view.visible[row(Y0 + 450), col] and not view.visible[row(Y0 + 560), col]
    assert 0 < view.visible_fraction < 1


def test_flood_lists_what_lies_below_the_level_with_its_depth(terrain_city):
    result = flood(terrain_city, level=5.0)
    assert result.features["id"].tolist() == ["buildings.low"]  # ground 2–6 m there, the others are higher
    assert result.features["depth"].iloc[0] == pytest.approx(5.0 - result.features["ground"].iloc[0])
    assert result.area_m2 == pytest.approx(_water_area_in_city(terrain_city, 5.0))
    cut_off = flood(terrain_city, level=5.0, connected_to=(X0 + 500, Y0 + 600))
    assert cut_off.features.empty and cut_off.area_m2 == 0


def _water_area_in_city(city, level: float) -> float:
    """Independently: DEM cells below ``level`` as polygons (rasterio), clipped to the city's vector extent."""
    import numpy as np
    import rasterio

    from cim.terrain import dem_path

    layers = city.layers[city.layers.kind != "raster"]
    extent = shapely.box(layers.minx.min(), layers.miny.min(), layers.maxx.max(), layers.maxy.max())
    with rasterio.open(dem_path(city)) as ds:
        ground = ds.read(1, masked=True).filled(np.inf)
        cells = [shapely.box(*rasterio.windows.bounds(rasterio.windows.Window(c, r, 1, 1), ds.transform))
                 for r, c in zip(*np.nonzero(ground < level), strict=True)]
    return sum(cell.intersection(extent).area for cell in cells)


@pytest.fixture
def network_city(city, tmp_path):
    """S ─ A ─ B ─ C and A ─ D: a water tree fed at S; a house next to each pipe."""
    pts = {"S": (0, 0), "A": (100, 0), "B": (200, 0), "C": (300, 0), "D": (100, 100)}
    edges = [("S", "A", 300), ("A", "B", 200), ("B", "C", 200), ("A", "D", 200)]
    pipes = gpd.GeoDataFrame({
        "pipe_id": [f"{a}{b}" for a, b, _ in edges], "network": "water", "from_node": [a for a, _, _ in edges],
        "to_node": [b for _, b, _ in edges], "diameter_mm": [float(d) for _, _, d in edges]},
        geometry=[shapely.LineString([(X0 + pts[a][0], Y0 + pts[a][1]), (X0 + pts[b][0], Y0 + pts[b][1])])
                  for a, b, _ in edges], crs="EPSG:4549")
    houses = gpd.GeoDataFrame({"building_id": ["hSA", "hAB", "hBC", "hAD"], "height": 10.0}, geometry=[
        shapely.box(X0 + 40, Y0 + 10, X0 + 60, Y0 + 20), shapely.box(X0 + 140, Y0 + 10, X0 + 160, Y0 + 20),
        shapely.box(X0 + 240, Y0 + 10, X0 + 260, Y0 + 20), shapely.box(X0 + 110, Y0 + 40, X0 + 120, Y0 + 60)],
        crs="EPSG:4549")
    ingest_frame(city, pipes, "pipes", "Pipe", "pipe_id", tmp_path)
    ingest_frame(city, houses, "buildings", "Building", "building_id", tmp_path)
    return city


def test_a_failed_pipe_cuts_off_everything_downstream_of_it(network_city):
    out = pipe_failure(network_city, "pipes.AB", sources=["S"])
    assert out.valves == ["A", "B"] and out.isolated == ["pipes.AB"]
    assert out.segments_out == ["pipes.AB", "pipes.BC"]
    assert out.buildings_out == ["buildings.hAB", "buildings.hBC"]


def test_with_few_valves_the_shut_off_spreads_to_the_next_valves(network_city):
    out = pipe_failure(network_city, "pipes.AB", sources=["S"], valves=["A", "C"])
    assert out.valves == ["A", "C"] and out.isolated == ["pipes.AB", "pipes.BC"]


def test_the_entry_node_is_found_from_the_largest_pipe_at_the_edge(network_city):
    out = pipe_failure(network_city, "pipes.AD")
    assert out.sources == ["S"] and out.segments_out == ["pipes.AD"] and out.buildings_out == ["buildings.hAD"]


def test_pipe_failure_names_unknown_pipes_and_nodes(network_city):
    with pytest.raises(FeatureNotFound, match="no pipe 'pipes.XY'"):
        pipe_failure(network_city, "pipes.XY")
    with pytest.raises(ValidationError, match="unknown source node 'Q'"):
        pipe_failure(network_city, "pipes.AB", sources=["Q"])


def test_buffer_lists_what_lies_near_a_leak_nearest_first(network_city):
    near = buffer_impact(network_city, "pipes.AB", 25.0, output="pandas")
    assert set(near.loc[near["layer"] == "pipes", "id"]) == {"pipes.BC", "pipes.SA", "pipes.AD"}  # they touch it
    assert (near.loc[near["layer"] == "pipes", "distance"] == 0).all()
    assert "pipes.AB" not in set(near["id"]) and near["distance"].is_monotonic_increasing
    assert near.loc[near["layer"] == "buildings", "id"].tolist() == ["buildings.hAB"]  # 10 m away; others 40 m
    assert near.loc[near["id"] == "buildings.hAB", "distance"].iloc[0] == pytest.approx(10.0)
    with pytest.raises(ValidationError, match="positive"):
        buffer_impact(network_city, "pipes.AB", -1)
