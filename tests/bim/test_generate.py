"""The demo building is a real IFC: written, read back, georeferenced at its anchor."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from pyproj import Geod, Transformer

from bim import Anchor, read_model, write_demo_building
from bim.gltf import validate_glb


def test_demo_building_round_trips_with_storeys_elements_and_chinese_psets(demo_ifc: Path) -> None:
    model = read_model(demo_ifc)
    counts = model.counts()
    assert model.schema == "IFC4" and counts["storeys"] == 6 and counts["buildings"] == 1
    assert counts["by_class"]["IfcWall"] == 24 and counts["by_class"]["IfcWindow"] == 96
    assert counts["by_class"]["IfcSlab"] == 6 and counts["by_class"]["IfcRoof"] == 1
    storeys = sorted(e.elevation for e in model.elements if e.ifc_class == "IfcBuildingStorey")
    assert storeys == pytest.approx([0.0, 3.2, 6.4, 9.6, 12.8, 16.0])
    building = next(e for e in model.elements if e.ifc_class == "IfcBuilding")
    info = building.properties["CIM_建筑信息"]
    assert info["建筑名称"] == "示范楼 Demo Building" and info["结构类型"] == "钢筋混凝土框架结构"
    windows = [e for e in model.elements if e.ifc_class == "IfcWindow"]
    assert all(w.material == "中空玻璃" and w.storey_id for w in windows)


def test_demo_building_lands_within_1_m_of_its_anchor(demo_ifc: Path, demo_anchor: Anchor) -> None:
    geo = read_model(demo_ifc).georef
    assert (geo.method, geo.crs) == ("IfcMapConversion", "EPSG:4549")
    assert np.linalg.norm(geo.to_map(np.zeros((1, 3)))[0] - [demo_anchor.x, demo_anchor.y, demo_anchor.z]) < 1.0
    assert geo.rotation_deg == pytest.approx(demo_anchor.rotation_deg)


def test_demo_building_site_latitude_longitude_agrees_with_its_anchor(demo_ifc: Path, demo_anchor: Anchor) -> None:
    model = read_model(demo_ifc)
    site = model.ifc.by_type("IfcSite")[0]
    lat = sum(v / d for v, d in zip(site.RefLatitude, (1, 60, 3600, 3.6e9), strict=False))
    lon = sum(v / d for v, d in zip(site.RefLongitude, (1, 60, 3600, 3.6e9), strict=False))
    a_lon, a_lat = Transformer.from_crs(demo_anchor.crs, "EPSG:4326", always_xy=True).transform(
        demo_anchor.x, demo_anchor.y)
    assert Geod(ellps="WGS84").inv(a_lon, a_lat, lon, lat)[2] < 1.0


def test_demo_building_meshes_into_a_rotated_30_by_18_m_footprint(meshed, demo_ifc: Path, demo_anchor) -> None:
    result = meshed(demo_ifc)
    assert result.model.failures == [] and len(result.meshes) == 127
    (building,) = result.model.buildings.values()
    assert building.footprint.area == pytest.approx(30 * 18, rel=0.01)
    assert (building.z_min, building.z_max) == pytest.approx((5.0, 5.0 + 6 * 3.2 + 0.3), abs=0.01)
    rect = np.asarray(building.footprint.minimum_rotated_rectangle.exterior.coords)
    edges = np.diff(rect, axis=0)
    angles = {round(math.degrees(math.atan2(dy, dx)) % 90, 1) for dx, dy in edges}
    assert angles == {15.0}
    assert validate_glb(__import__("bim").to_glb(result.meshes)) == []
    glass = [m for m in result.meshes if m.ifc_class == "IfcWindow"]
    assert glass and all(m.color is not None and m.color[3] < 1 for m in glass)


def test_demo_building_can_be_written_as_ifc2x3_with_epset_georeferencing(tmp_path: Path, demo_anchor) -> None:
    path = write_demo_building(tmp_path / "old.ifc", storeys=2, width=12, depth=8, anchor=demo_anchor,
                               schema="IFC2X3")
    model = read_model(path)
    assert model.schema == "IFC2X3" and model.georef.method == "ePset_MapConversion"
    assert model.counts()["storeys"] == 2
