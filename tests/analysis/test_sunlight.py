"""Solar position and sunlight hours, checked against published values and plain geometry."""

from __future__ import annotations

from datetime import date

import geopandas as gpd
import numpy as np
import pytest
import shapely
import shapely.affinity

from cim.analysis.solar import solar_position, solar_term_date, true_solar_times
from cim.analysis.sunlight import SunPath, facade_points, lit_hours, sun_path, sunlight
from tests.analysis.conftest import ingest_frame


def test_solar_position_matches_the_nrel_spa_reference_example():
    # NREL SPA report (Reda & Andreas 2008), example: 2003-10-17 12:30:30 MST, Golden, Colorado
    alt, az = solar_position(np.array(["2003-10-17T19:30:30"], dtype="datetime64[ns]"), 39.742476, -105.1786)
    assert 90.0 - alt[0] == pytest.approx(50.11162, abs=0.02)
    assert az[0] == pytest.approx(194.34024, abs=0.02)


@pytest.mark.parametrize("year, term, expected", [
    (2025, "大寒", date(2025, 1, 20)), (2025, "冬至", date(2025, 12, 21)),
    (2026, "大寒", date(2026, 1, 20)), (2026, "冬至", date(2026, 12, 22)),
])
def test_solar_terms_fall_on_their_calendar_dates(year, term, expected):
    assert solar_term_date(year, term) == expected


def test_true_solar_noon_puts_the_sun_due_south_at_its_highest():
    day = solar_term_date(2026, "冬至")
    times = true_solar_times(day, 120.2, ["11:00", "14:00"], step_minutes=60, midpoints=False)
    alt, az = solar_position(times, 36.0, 120.2)
    assert az[1] == pytest.approx(180.0, abs=0.1)
    assert alt[1] == pytest.approx(90 - 36.0 - 23.44, abs=0.2)
    assert alt[1] > alt[0] and alt[1] > alt[2]


def _south_wall_hours(sun: SunPath, depth: float, height: float, z: float) -> float:
    """Hours a point gets in front of an endless east-west wall ``depth`` m to its south."""
    lit = 0
    for alt, az in zip(sun.altitude, sun.azimuth, strict=True):
        toward_south = -np.cos(np.radians(az))
        if toward_south <= 0:
            continue  # the sun is behind the façade
        rise_at_wall = depth / toward_south * np.tan(np.radians(alt))
        lit += rise_at_wall + z >= height
    return lit * sun.step_hours


@pytest.mark.parametrize("depth, height", [(20.0, 10.0), (30.0, 25.0), (40.0, 60.0)])
def test_hours_in_front_of_a_long_wall_match_the_direct_geometry(depth, height):
    sun = sun_path(36.0, 120.2, {"day": "大寒", "window": ["08:00", "16:00"], "step_minutes": 5})
    home = shapely.box(0, 0, 20, 10)
    wall = shapely.box(-3000, -depth - 5, 3000, -depth)
    xy, owner, normals = facade_points(np.array([home]), 4.0)
    south = normals[:, 1] < -0.99
    point = xy[south][2:3]  # a point in the middle of the south façade
    hours = lit_hours(point, normals[south][2:3], np.array([home, wall]), np.array([20.0, height]), sun, 0.9)
    assert hours[0] == pytest.approx(_south_wall_hours(sun, depth + 0.05, height, 0.9), abs=sun.step_hours)


def test_a_lone_house_gets_the_whole_window_and_a_tower_to_its_south_takes_it(city, tmp_path):
    homes = gpd.GeoDataFrame({"building_id": ["home", "tower"], "height": [18.0, 90.0], "use": ["住宅", "商业"]},
                             geometry=[shapely.box(515000, 3979600, 515020, 3979612),
                                       shapely.box(514940, 3979560, 515080, 3979580)], crs="EPSG:4549")
    ingest_frame(city, homes.iloc[:1], "buildings", "Building", "building_id", tmp_path)
    alone = sunlight(city, output="pandas")
    assert alone["hours"].tolist() == [pytest.approx(8.0)] and alone["passed"].all()
    ingest_frame(city, homes, "buildings", "Building", "building_id", tmp_path)
    shaded = sunlight(city, output="pandas")
    assert shaded["subject"].tolist() == ["buildings.home"]  # the tower is not residential
    assert shaded["hours"].iloc[0] < 2.0 and not shaded["passed"].iloc[0]
    winter = sunlight(city, day="冬至", window=["09:00", "15:00"], min_hours=1.0, output="pandas")
    assert winter["hours_max"].iloc[0] <= 6.0


def test_sunlight_results_join_the_compliance_table(demo):
    from cim.analysis import check_compliance

    parcel = demo.features("parcels", where="kind = 'residential'", limit=1, output="pandas")["id"][0]
    rows = check_compliance(demo, only=["sunlight"], parcels=[parcel], output="pandas")
    assert len(rows) > 0 and set(rows["rule"]) == {"sunlight"} and set(rows["parcel"]) == {parcel}
    assert rows["status"].isin(["pass", "fail"]).all()
    assert rows["reason_zh"].str.contains("大寒").all() and (rows["limit"] == 2.0).all()


def _hours_point_by_point(points: np.ndarray, normals: np.ndarray, obstacles: np.ndarray, heights: np.ndarray,
                          sun: SunPath, z: float) -> np.ndarray:
    """Hours by the definition, one point and one building at a time: a point is shaded at a step when
    it lies in the union of every triangle of a taller footprint swept away from the sun."""
    lit = np.zeros(len(points))
    for alt, az in zip(sun.altitude, sun.azimuth, strict=True):
        s = np.array([np.sin(np.radians(az)), np.cos(np.radians(az))])
        shadows = []
        for geom, h in zip(obstacles, heights, strict=True):
            if h <= z:
                continue
            length = min((h - z) / np.tan(np.radians(alt)), 1500.0)
            for tri in shapely.get_parts(shapely.constrained_delaunay_triangles(geom)):
                ring = np.asarray(tri.exterior.coords)
                shadows.append(shapely.MultiPoint(np.vstack([ring, ring - length * s])).convex_hull)
        shade = shapely.union_all(shadows) if shadows else shapely.Polygon()
        for i, (p, n) in enumerate(zip(points, normals, strict=True)):
            if n @ s > 1e-9 and not shade.intersects(shapely.Point(p)):
                lit[i] += 1
    return lit * sun.step_hours


def test_hours_of_a_mixed_block_match_the_definition_point_by_point():
    # L- and U-shaped (non-convex) blocks, towers to the south, low sheds, and towers too far away to matter
    rng = np.random.default_rng(7)
    sun = sun_path(36.0, 120.2, {"day": "大寒", "window": ["08:00", "16:00"], "step_minutes": 20})
    homes = [shapely.box(x, y, x + 30, y + 12) for x, y in ((0, 0), (45, 5), (90, -3))]
    others = [
        shapely.Polygon([(-10, -40), (30, -40), (30, -30), (0, -30), (0, -15), (-10, -15)]),  # L
        shapely.Polygon([(50, -50), (90, -50), (90, -20), (80, -20), (80, -40), (60, -40), (60, -20),
                         (50, -20)]),  # U
        shapely.box(100, -60, 115, -45), shapely.box(-30, 20, -20, 30), shapely.box(5000, 5000, 5020, 5020),
        *[shapely.box(x, y, x + 8, y + 8) for x, y in rng.uniform(-150, 150, (12, 2))],
    ]
    geoms = np.array(homes + others)
    heights = np.concatenate([[18.0, 27.0, 54.0], [60.0, 45.0, 100.0, 3.0, 200.0], rng.uniform(2, 80, 12)])
    xy, _, normals = facade_points(geoms[:3], 4.0)
    got = lit_hours(xy, normals, geoms, heights, sun, 0.9)
    want = _hours_point_by_point(xy, normals, geoms, heights, sun, 0.9)
    assert 0 < got.sum() < len(xy) * len(sun.altitude) * sun.step_hours  # some shade, some sun
    np.testing.assert_allclose(got, want, atol=1 / 60)  # the same hours to a minute


def test_hours_of_a_random_district_match_the_definition_point_by_point():
    # rotated slabs and L-shapes in every direction, on winter and summer paths (shadows north and south)
    rng = np.random.default_rng(11)
    geoms = []
    for x, y in rng.uniform(-200, 200, (40, 2)):
        w, d = rng.uniform(8, 40), rng.uniform(6, 14)
        shape = shapely.box(x, y, x + w, y + d)
        if rng.random() < 0.3:
            shape = shapely.union(shape, shapely.box(x, y, x + d, y + w))
        geoms.append(shapely.affinity.rotate(shape, rng.uniform(0, 90), origin="centroid"))
    geoms = np.array(shapely.get_parts(shapely.union_all(geoms)))  # no overlaps: each a real footprint
    heights = rng.uniform(3, 90, len(geoms))
    xy, _, normals = facade_points(geoms[:8], 3.0)
    for day in ("大寒", "2026-06-21"):
        sun = sun_path(23.0, 113.3, {"day": day, "window": ["08:00", "16:00"], "step_minutes": 30})
        got = lit_hours(xy, normals, geoms, heights, sun, 0.9)
        want = _hours_point_by_point(xy, normals, geoms, heights, sun, 0.9)
        assert 0 < got.sum() < len(xy) * len(sun.altitude) * sun.step_hours
        np.testing.assert_allclose(got, want, atol=1 / 60)
