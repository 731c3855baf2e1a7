"""Models land where they really are: each georeferencing source, checked independently with pyproj."""

from __future__ import annotations

import math
import re
from pathlib import Path

import ifcopenshell.util.placement
import numpy as np
import pytest
from pyproj import Geod, Transformer

from bim import Anchor, open_ifc, resolve_georeference
from bim.georef import dms_to_degrees
from tests.bim import ifc_factory as factory
from tests.bim.conftest import IFC_SAMPLES

GEOD = Geod(ellps="WGS84")
_SITE_RE = re.compile(r"IFCSITE\(.*?,\.\w+\.,\(([-\d,]+)\),\(([-\d,]+)\),([-\d.E]+)", re.IGNORECASE)


def file_lat_lon(path: Path) -> tuple[float, float]:
    """RefLatitude/RefLongitude straight from the file text, converted by hand."""
    match = _SITE_RE.search(path.read_text(encoding="utf-8", errors="replace"))
    assert match, f"no IFCSITE with RefLatitude in {path}"

    def to_degrees(text: str) -> float:
        parts = [int(p) for p in text.split(",")] + [0, 0, 0]
        d, m, s, us = parts[:4]
        return d + m / 60 + s / 3600 + us / 3.6e9  # all parts carry the sign in IFC

    return to_degrees(match.group(1)), to_degrees(match.group(2))


def site_origin_m(model) -> np.ndarray:
    site = next(s for s in model.by_type("IfcSite") if s.RefLatitude)
    scale = ifcopenshell.util.unit.calculate_unit_scale(model)
    return ifcopenshell.util.placement.get_local_placement(site.ObjectPlacement)[:3, 3] * scale


def distance_to_lonlat(crs: str, xy: np.ndarray, lon: float, lat: float) -> float:
    back_lon, back_lat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(xy[0], xy[1])
    return GEOD.inv(lon, lat, back_lon, back_lat)[2]


@pytest.mark.parametrize("name", sorted(IFC_SAMPLES))
def test_each_sample_uses_the_georeferencing_it_has(name: str, ifc_sample) -> None:
    expected = IFC_SAMPLES[name][3]
    model = open_ifc(ifc_sample(name))
    if expected is None:
        with pytest.raises(Exception, match="no usable georeferencing"):
            resolve_georeference(model)
    else:
        assert resolve_georeference(model).method == expected


@pytest.mark.parametrize("name", ["AC20-FZK-Haus.ifc", "duplex.ifc", "example_ifc2x3_revit.ifc",
                                  "tested_sample_project.ifc", "geographic-referencing.ifc"])
def test_a_model_with_site_coordinates_lands_within_1_m_of_them(name: str, ifc_sample) -> None:
    path = ifc_sample(name)
    model = open_ifc(path)
    geo = resolve_georeference(model)
    lat, lon = file_lat_lon(path)
    landed = geo.to_map(site_origin_m(model)[None])[0]
    assert distance_to_lonlat(geo.crs, landed, lon, lat) < 1.0


def test_negative_dms_longitude_lands_west_of_greenwich(ifc_sample) -> None:
    geo = resolve_georeference(open_ifc(ifc_sample("duplex.ifc")))
    lon, lat = Transformer.from_crs(geo.crs, "EPSG:4326", always_xy=True).transform(geo.eastings, geo.northings)
    assert lon == pytest.approx(-87.6394, abs=1e-4) and lat == pytest.approx(41.8744, abs=1e-4)
    assert geo.crs == "EPSG:32616"


def test_dms_conversion_handles_signs_and_millionths() -> None:
    assert dms_to_degrees((49, 6, 1, 566000)) == pytest.approx(49.100435, abs=1e-6)
    assert dms_to_degrees((-87, -38, -21, -839999)) == pytest.approx(-87.6394, abs=1e-6)
    assert dms_to_degrees((-3, 42, 20)) == pytest.approx(-3.705556, abs=1e-6)  # sign only on degrees
    assert dms_to_degrees(None) is None


def test_true_north_turns_the_model_so_model_north_is_not_grid_north(ifc_sample) -> None:
    geo = resolve_georeference(open_ifc(ifc_sample("AC20-FZK-Haus.ifc")))
    # TrueNorth (0.766, 0.643) is 40 deg from model +X; grid north at 8.44E in UTM 32 is 0.43 deg off true north
    assert geo.rotation_deg == pytest.approx(90 - 40.0 - 0.43, abs=0.05)


def test_map_conversion_in_millimetres_with_rotation_lands_in_metres(ifc_sample) -> None:
    geo = resolve_georeference(open_ifc(ifc_sample("Building-Architecture.ifc")))
    origin, east = geo.to_map(np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]))
    assert geo.crs == "EPSG:32760"
    assert origin[:2] == pytest.approx([729013348.8297 / 1000, 9063992684.6974 / 1000], abs=1.0)
    assert origin[2] == pytest.approx(1.3, abs=0.01)
    step = east - origin
    assert math.hypot(step[0], step[1]) == pytest.approx(1.0, abs=1e-9)
    assert math.degrees(math.atan2(step[1], step[0])) == pytest.approx(60.0, abs=1e-6)


def test_map_conversion_with_scale_omitted_and_mm_project_is_not_1000_times_too_large(ifc_sample) -> None:
    path = ifc_sample("geographic-referencing.ifc")
    geo = resolve_georeference(open_ifc(path))
    assert (geo.method, geo.crs, geo.scale) == ("IfcMapConversion", "EPSG:25832", 1.0)
    origin, east = geo.to_map(np.array([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0]]))
    assert origin[:2] == pytest.approx([458658.78, 5438232.79], abs=0.01)
    assert np.linalg.norm(east - origin) == pytest.approx(10.0)
    lat, lon = file_lat_lon(path)  # the same file's RefLatitude/RefLongitude agree within centimetres
    assert distance_to_lonlat(geo.crs, origin, lon, lat) < 1.0


def test_an_ifc2x3_epset_map_conversion_is_used(tmp_path: Path) -> None:
    f, body, storey = factory.skeleton("IFC2X3")
    factory.add_wall(f, body, storey)
    factory.georeference(f, eastings=527100.0, northings=4010200.0, rotation_deg=30.0)
    geo = resolve_georeference(open_ifc(factory.write(f, tmp_path / "epset.ifc")))
    assert (geo.method, geo.crs) == ("ePset_MapConversion", "EPSG:4549")
    assert geo.to_map(np.zeros((1, 3)))[0][:2] == pytest.approx([527100.0, 4010200.0])
    assert geo.rotation_deg == pytest.approx(30.0)


def test_scale_that_carries_the_unit_conversion_is_recognised(tmp_path: Path) -> None:
    f, body, storey = factory.skeleton()  # project in metres
    factory.add_wall(f, body, storey)
    factory.georeference(f, eastings=527_000_000.0, northings=4_010_000_000.0)  # map in millimetres
    f.by_type("IfcMapConversion")[0].Scale = 1000.0  # the exporter put m -> mm into Scale
    f.by_type("IfcProjectedCRS")[0].MapUnit = f.createIfcSIUnit(None, "LENGTHUNIT", "MILLI", "METRE")
    geo = resolve_georeference(open_ifc(factory.write(f, tmp_path / "mm-map.ifc")))
    assert geo.scale == pytest.approx(1.0)
    origin, east = geo.to_map(np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]))
    assert origin[:2] == pytest.approx([527000.0, 4010000.0])
    assert np.linalg.norm(east - origin) == pytest.approx(1.0)


def test_an_explicit_anchor_wins_over_the_file_and_says_so(ifc_sample) -> None:
    anchor = Anchor(527000.0, 4010000.0, 3.0, rotation_deg=20.0, crs="EPSG:4549")
    geo = resolve_georeference(open_ifc(ifc_sample("duplex.ifc")), anchor)
    assert (geo.method, geo.source, geo.crs) == ("anchor", "IfcSite RefLatitude/RefLongitude", "EPSG:4549")
    assert geo.to_map(np.array([[0.0, 0.0, 0.0]]))[0] == pytest.approx([527000.0, 4010000.0, 3.0])
    assert geo.rotation_deg == pytest.approx(20.0)


def test_an_anchor_in_longitude_latitude_is_projected_to_utm(ifc_sample) -> None:
    anchor = Anchor(120.38, 36.07, 0.0, rotation_deg=0.0, crs="EPSG:4326")
    geo = resolve_georeference(open_ifc(ifc_sample("IfcOpenHouse_IFC4.ifc")), anchor)
    assert geo.crs == "EPSG:32651"
    origin = geo.to_map(np.zeros((1, 3)))[0]
    assert distance_to_lonlat(geo.crs, origin, 120.38, 36.07) < 0.01
    north = geo.to_map(np.array([[0.0, 100.0, 0.0]]))[0]  # rotation 0: model +Y is true north
    lon, lat = Transformer.from_crs(geo.crs, "EPSG:4326", always_xy=True).transform(north[0], north[1])
    assert GEOD.inv(120.38, 36.07, lon, lat)[0] == pytest.approx(0.0, abs=0.01)


def test_anchor_parses_the_cli_form() -> None:
    assert Anchor.parse("527000,4010000", rotation=5, crs="EPSG:4547") == Anchor(527000.0, 4010000.0, 0.0, 5.0,
                                                                                "EPSG:4547")
    with pytest.raises(ValueError):
        Anchor.parse("1,2,3,4")


def test_georeference_record_is_flat() -> None:
    from bim import Georeference

    rec = Georeference("anchor", "EPSG:4549", 1.0, 2.0, notes=("a", "b")).to_record()
    assert rec["notes"] == "a; b" and rec["rotation_deg"] == 0.0
    assert all(not isinstance(v, (list, tuple, dict)) for v in rec.values())
