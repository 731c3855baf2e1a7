"""Analyses on cities made from a bureau's real files: right answers, checked independently, or a
plain statement of why there is no answer — never a silent wrong one."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely

from cim.analysis import check_compliance, flood, indicators, viewshed
from cim.analysis.inputs import find_inputs
from cim.errors import LayerNotFound, ValidationError
from cim.terrain import dem_path


def test_roles_are_found_from_what_the_layers_hold_not_from_their_names(delft):
    inputs = find_inputs(delft)
    assert inputs["buildings"].layers == ("bgt_pand", "delft_3d")  # footprints and the 3D model's buildings
    assert inputs["green_space"].layers == ("delft_3d",)           # its PlantCover polygons
    assert not inputs["parcels"].present and not inputs["roads"].present  # Delft's roads are polygons


def test_a_city_without_parcels_still_checks_spacing_and_says_why_parcel_rules_have_no_answer(delft):
    rules = {"layers": {"buildings": ["delft_3d"]}}  # one source of the buildings (the BGT duplicates them)
    r = check_compliance(delft, rules=rules, only=["height", "far", "road_red_line", "spacing"], output="pandas")
    for rule, missing in (("height", "class Parcel"), ("far", "class Parcel"), ("road_red_line", "class Road")):
        rows = r[r.rule == rule]
        assert len(rows) == 1 and rows.status.iloc[0] == "no_data" and missing in rows.reason_en.iloc[0]
    spacing = r[r.rule == "spacing"]
    buildings = delft.features("delft_3d", where="class = 'Building'")
    assert sorted(spacing.subject) == sorted(buildings.id)
    assert set(spacing.loc[spacing.status == "fail", "subject"]) == _too_close(buildings)


def _too_close(b: gpd.GeoDataFrame) -> set[str]:
    """GB 50016 spacing, read independently with shapely: 6 / 9 / 13 m by high-rise (> 24 m) class."""
    geoms, h = b.geometry.values, b["height"].to_numpy(dtype=float)
    i, j = shapely.STRtree(geoms).query(geoms, predicate="dwithin", distance=13.0)
    keep = i != j
    i, j = i[keep], j[keep]
    need = np.where((h[i] > 24) & (h[j] > 24), 13.0, np.where((h[i] > 24) | (h[j] > 24), 9.0, 6.0))
    close = shapely.distance(geoms[i], geoms[j]) < need - 1e-6
    return set(b["id"].to_numpy()[np.unique(i[close])])


def test_indicators_without_parcels_refuse_and_say_what_to_ingest(delft):
    with pytest.raises(LayerNotFound, match=r"needs parcels .*--class Parcel"):
        indicators(delft)


def test_flood_over_a_lon_lat_national_dem_lists_the_districts_below_the_level(qingdao):
    result = flood(qingdao, level=10.0, layers=["districts"])
    districts = qingdao.features("districts")
    ground = _lowest_ground(qingdao, districts)
    assert set(result.features["id"]) == set(districts.loc[ground < 10.0, "id"])
    assert 0 < len(result.features) < len(districts)
    assert result.area_m2 == pytest.approx(_flooded_area(qingdao, 10.0), rel=1e-6)
    assert result.area_m2 < 1e11  # m² of the city, not of China, and never square degrees


def _lowest_ground(city, frame: gpd.GeoDataFrame) -> np.ndarray:
    """The lowest DEM value under each feature's vertices and centroid, read with rasterio."""
    with rasterio.open(dem_path(city)) as ds:
        lonlat = frame.to_crs(ds.crs)
        out = []
        for geom in lonlat.geometry:
            pts = np.vstack([shapely.get_coordinates(shapely.segmentize(geom, abs(ds.transform.a))),
                             shapely.get_coordinates(geom.centroid)])
            values = np.array([v[0] for v in ds.sample(pts, masked=True)], dtype=float)
            out.append(np.nanmin(values))
    return np.array(out)


def _flooded_area(city, level: float) -> float:
    """DEM cells below ``level`` as lon/lat squares, moved to the city CRS and clipped to its vector extent."""
    vector = city.layers[city.layers.kind != "raster"]
    extent = shapely.box(vector.minx.min(), vector.miny.min(), vector.maxx.max(), vector.maxy.max())
    with rasterio.open(dem_path(city)) as ds:
        ground = ds.read(1, masked=True).filled(np.inf)
        rows, cols = np.nonzero(ground < level)
        cells = [shapely.box(*rasterio.windows.bounds(rasterio.windows.Window(c, r, 1, 1), ds.transform))
                 for r, c in zip(rows, cols, strict=True)]
        frame = gpd.GeoSeries(cells, crs=ds.crs).to_crs(city.crs)
    return float(frame.intersection(extent).area.sum())


def test_a_viewshed_over_bare_ground_says_so_and_a_point_off_the_dem_is_refused(qingdao):
    district = qingdao.features("districts").iloc[0].geometry.representative_point()
    view = viewshed(qingdao, (district.x, district.y), radius=20_000, cell=2_000)
    assert any("no buildings" in note for note in view.notes)
    with pytest.raises(ValidationError, match="DEM has no ground height"):
        viewshed(qingdao, (-5_000_000, 0), radius=1_000, cell=100)


def test_the_map_of_a_city_without_parcels_draws_its_own_layers(nyc):
    from cim.map import default_layers

    assert default_layers(nyc) == ["boroughs", "roads_tiger"]
    assert "roads_tiger" in nyc.map().to_html()


def test_manage_kpis_measure_the_roads_the_city_has(nyc):
    from cim.analysis.kpis import kpis

    figures = {k["key"]: k["value"] for k in kpis(nyc, "manage")}
    roads = nyc.features("roads_tiger")
    assert figures["roads_km"] == pytest.approx(round(roads.length.sum() / 1000, 1))
    plan = {k["key"] for k in kpis(nyc, "plan")}
    assert not plan & {"height_violations", "setback_violations", "far_violations"}  # no parcels, no cards
