"""CRS parsing, labelling and reprojection."""

from __future__ import annotations

import numpy as np
import pyproj
import pytest
import shapely

from gis import CRSError, crs_label, finite_mask, parse_crs, reproject, same_crs, transformer


@pytest.mark.parametrize("value", ["EPSG:4549", 4549, "4549", "epsg:4549", pyproj.CRS.from_epsg(4549)])
def test_parse_crs_accepts_codes_in_every_spelling(value):
    assert parse_crs(value).to_epsg() == 4549


def test_parse_crs_accepts_wkt_and_ogc_crs84():
    assert parse_crs(pyproj.CRS.from_epsg(4490).to_wkt()).to_epsg() == 4490
    assert crs_label(parse_crs("OGC:CRS84")) == "OGC:CRS84"


def test_parse_crs_rejects_an_unknown_code_with_a_hint():
    with pytest.raises(CRSError, match=r"unknown CRS 'EPSG:999999': use an EPSG code such as EPSG:4490"):
        parse_crs("EPSG:999999")


@pytest.mark.parametrize("value", ["", None, 3.5, "not a crs at all"])
def test_parse_crs_rejects_garbage_as_a_crs_error(value):
    with pytest.raises(CRSError):
        parse_crs(value)


def test_crs_label_gives_the_authority_code_and_wkt_for_a_crs_without_one():
    assert crs_label("EPSG:4549") == "EPSG:4549"
    custom = pyproj.CRS.from_proj4("+proj=tmerc +lon_0=120.5 +k=1 +x_0=500000 +ellps=GRS80 +units=m")
    label = crs_label(custom)
    assert label.startswith("PROJCRS")
    assert same_crs(parse_crs(label), custom)


def test_same_crs_ignores_axis_order_only():
    assert same_crs("OGC:CRS84", "EPSG:4326")
    assert not same_crs("EPSG:4326", "EPSG:4490")


def test_transformer_is_cached_and_always_xy():
    first = transformer("EPSG:4326", "EPSG:4549")
    assert transformer(4326, parse_crs("EPSG:4549")) is first
    x, _ = first.transform(120.0, 36.0)
    assert abs(x - 500000) < 1


@pytest.mark.parametrize("src", ["EPSG:4326", "EPSG:4490"])
def test_reproject_puts_120e_on_the_central_meridian_of_epsg_4549(src):
    expected = pyproj.Transformer.from_crs(src, "EPSG:4549", always_xy=True).transform(120.0, 36.0)
    out = reproject(np.array([shapely.Point(120.0, 36.0)]), src, "EPSG:4549")
    assert abs(out[0].x - 500000) < 1
    assert abs(out[0].x - expected[0]) < 1 and abs(out[0].y - expected[1]) < 1


def test_reproject_keeps_z_and_nulls_and_2d_geometries_in_a_mixed_array():
    geoms = np.array([shapely.Point(120.0, 36.0, 12.5), None, shapely.Point(120.1, 36.1)], dtype=object)
    out = reproject(geoms, "EPSG:4490", "EPSG:4549")
    assert out[0].has_z and out[0].z == pytest.approx(12.5)
    assert out[1] is None
    assert not out[2].has_z and np.isfinite(out[2].x)


def test_reproject_polygons_in_one_call():
    squares = shapely.box(np.linspace(119.5, 120.5, 1000), 36.0, np.linspace(119.5, 120.5, 1000) + 0.01, 36.01)
    out = reproject(squares, 4326, 4549)
    assert len(out) == 1000 and finite_mask(out).all()
    assert shapely.area(out).min() > 800_000  # about 900 m x 1100 m


def test_unprojectable_points_are_found_by_finite_mask():
    out = reproject(np.array([shapely.Point(0, 91), shapely.Point(10, 10)]), "EPSG:4326", "EPSG:3857")
    assert finite_mask(out).tolist() == [False, True]


def test_finite_mask_flags_absurd_coordinates_and_passes_nulls():
    geoms = np.array([shapely.Point(1e20, 0), shapely.Point(500000, 4e6), None, shapely.Point()], dtype=object)
    assert finite_mask(geoms).tolist() == [False, True, True, True]
