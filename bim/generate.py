"""Generate a real, georeferenced multi-storey IFC building with ifcopenshell.api.

Why: the demo city's worksite parcel needs a building that goes through exactly the same ingest
path as a customer's IFC file (phase "build"), and tests need small IFC files whose truth is
known (storeys, elements, georeferencing). The building is a rectangular frame of `storeys`
floors: a slab per storey, four external walls per storey with window openings filled by
windows, and a flat roof; materials with colours (glass is transparent), property sets including
Chinese text (建筑名称, 结构类型), and georeferencing at `anchor`: IfcMapConversion +
IfcProjectedCRS for IFC4 (ePSet_MapConversion for IFC2X3), plus the site's RefLatitude/RefLongitude.
The anchor point is the centre of the building at ground-floor level.

Example:
    >>> from bim.georef import Anchor
    >>> write_demo_building("site.ifc", anchor=Anchor(527000, 4010000, 5, crs="EPSG:4549"))  # doctest: +SKIP
    PosixPath('site.ifc')
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pyproj import Transformer

from bim._compat import ifcopenshell
from bim.georef import Anchor

__all__ = ["write_demo_building"]

_WALL_T = 0.25
_SLAB_T = 0.2
_WINDOW_W, _WINDOW_H, _SILL = 1.5, 1.5, 0.9
_COLOURS = {
    "混凝土 C30": (0.62, 0.62, 0.6, 0.0),
    "加气混凝土砌块": (0.86, 0.8, 0.68, 0.0),
    "中空玻璃": (0.45, 0.65, 0.85, 0.6),
    "防水卷材": (0.35, 0.3, 0.3, 0.0),
}


def _api() -> Any:
    import ifcopenshell.api

    for sub in ("aggregate", "context", "feature", "georeference", "geometry", "material", "project",
                "pset", "root", "spatial", "style", "unit"):
        __import__(f"ifcopenshell.api.{sub}")
    return ifcopenshell.api


@dataclass
class _Ctx:
    file: Any
    body: Any
    materials: dict[str, Any]


def write_demo_building(
    path: str | Path,
    *,
    storeys: int = 6,
    width: float = 30.0,
    depth: float = 18.0,
    storey_height: float = 3.2,
    anchor: Anchor,
    name: str = "示范楼 Demo Building",
    schema: str = "IFC4",
) -> Path:
    """Write the building to `path` and return it (see the module docstring for what is in it)."""
    api = _api()
    f = api.project.create_file(version=schema)
    add_owner(f)
    project = api.root.create_entity(f, ifc_class="IfcProject", name=f"{name} 项目")
    api.unit.assign_unit(f, length={"is_metric": True, "raw": "METERS"})
    model_ctx = api.context.add_context(f, context_type="Model")
    body = api.context.add_context(f, context_type="Model", context_identifier="Body",
                                   target_view="MODEL_VIEW", parent=model_ctx)
    ctx = _Ctx(f, body, _add_materials(f, body))
    site, building = _spatial(ctx, project, name, anchor)
    levels = [_storey(ctx, building, i, storey_height) for i in range(storeys)]
    for i, storey in enumerate(levels):
        _floor(ctx, storey, i * storey_height, width, depth)
        _walls(ctx, storey, i * storey_height, width, depth, storey_height)
    _roof(ctx, levels[-1] if levels else building, storeys * storey_height, width, depth)
    _building_psets(ctx, building, name, storeys, storey_height, width, depth)
    _georeference(f, anchor)
    path = Path(path)
    f.write(str(path))
    return path


def add_owner(f: Any, name: str = "cim") -> None:
    """Author and application entities: IFC2X3 requires an IfcOwnerHistory on every rooted entity.

    ifcopenshell.api picks the first IfcPersonAndOrganization / IfcApplication of the file, so no
    global settings need patching.
    """
    person = f.createIfcPerson(None, name, None)
    org = f.createIfcOrganization(None, name, None, None, None)
    f.createIfcPersonAndOrganization(person, org, None)
    f.createIfcApplication(org, "0.1", "cim.bim", "cim.bim")


def _add_materials(f: Any, body: Any) -> dict[str, Any]:
    api = ifcopenshell.api
    out = {}
    for mat_name, (r, g, b, transparency) in _COLOURS.items():
        material = api.material.add_material(f, name=mat_name)
        style = api.style.add_style(f, name=mat_name)
        api.style.add_surface_style(f, style=style, ifc_class="IfcSurfaceStyleRendering", attributes={
            "SurfaceColour": {"Name": None, "Red": r, "Green": g, "Blue": b}, "Transparency": transparency,
            "ReflectanceMethod": "NOTDEFINED"})
        api.style.assign_material_style(f, material=material, style=style, context=body)
        out[mat_name] = material
    return out


def _spatial(ctx: _Ctx, project: Any, name: str, anchor: Anchor) -> tuple[Any, Any]:
    api, f = ifcopenshell.api, ctx.file
    site = api.root.create_entity(f, ifc_class="IfcSite", name="工地 Worksite")
    building = api.root.create_entity(f, ifc_class="IfcBuilding", name=name)
    api.aggregate.assign_object(f, products=[site], relating_object=project)
    api.aggregate.assign_object(f, products=[building], relating_object=site)
    for product in (site, building):
        api.geometry.edit_object_placement(f, product=product)
    lon, lat = Transformer.from_crs(anchor.crs, "EPSG:4326", always_xy=True).transform(anchor.x, anchor.y)
    site.RefLatitude, site.RefLongitude = _to_dms(lat), _to_dms(lon)
    site.RefElevation = float(anchor.z)
    return site, building


def _to_dms(value: float) -> tuple[int, int, int, int]:
    """Decimal degrees -> IFC compound angle (all parts carry the sign, millionths of a second)."""
    sign = -1 if value < 0 else 1
    micro = round(abs(value) * 3600 * 1_000_000)
    deg, rest = divmod(micro, 3600 * 1_000_000)
    minutes, rest = divmod(rest, 60 * 1_000_000)
    seconds, millionths = divmod(rest, 1_000_000)
    return (sign * deg, sign * minutes, sign * seconds, sign * millionths)


def _storey(ctx: _Ctx, building: Any, index: int, height: float) -> Any:
    api, f = ifcopenshell.api, ctx.file
    storey = api.root.create_entity(f, ifc_class="IfcBuildingStorey", name=f"{index + 1}F 第{index + 1}层")
    storey.Elevation = index * height
    api.aggregate.assign_object(f, products=[storey], relating_object=building)
    api.geometry.edit_object_placement(f, product=storey, matrix=_move(0, 0, index * height))
    return storey


def _move(x: float, y: float, z: float, angle_deg: float = 0.0) -> np.ndarray:
    a = math.radians(angle_deg)
    m = np.eye(4)
    m[:2, :2] = [[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]]
    m[:3, 3] = (x, y, z)
    return m


def _place(ctx: _Ctx, product: Any, container: Any, matrix: np.ndarray, rep: Any, material: str) -> Any:
    api, f = ifcopenshell.api, ctx.file
    api.geometry.assign_representation(f, product=product, representation=rep)
    api.geometry.edit_object_placement(f, product=product, matrix=matrix)
    if container is not None:
        api.spatial.assign_container(f, products=[product], relating_structure=container)
    api.material.assign_material(f, products=[product], type="IfcMaterial", material=ctx.materials[material])
    return product


def _floor(ctx: _Ctx, storey: Any, z: float, width: float, depth: float) -> Any:
    api, f = ifcopenshell.api, ctx.file
    slab = api.root.create_entity(f, ifc_class="IfcSlab", predefined_type="FLOOR", name=f"{storey.Name} 楼板")
    outline = [(-width / 2, -depth / 2), (width / 2, -depth / 2), (width / 2, depth / 2), (-width / 2, depth / 2)]
    rep = api.geometry.add_slab_representation(f, context=ctx.body, depth=_SLAB_T, polyline=outline)
    _place(ctx, slab, storey, _move(0, 0, z), rep, "混凝土 C30")
    pset = api.pset.add_pset(f, product=slab, name="Pset_SlabCommon")
    api.pset.edit_pset(f, pset=pset, properties={"IsExternal": False, "LoadBearing": True})
    return slab


def _walls(ctx: _Ctx, storey: Any, z: float, width: float, depth: float, height: float) -> None:
    w, d = width / 2, depth / 2
    # (start x, start y, length, angle): counter-clockwise round the outline, thickness inwards (+Y local)
    sides = [(-w, -d, width, 0.0), (w, -d, depth, 90.0), (w, d, width, 180.0), (-w, d, depth, 270.0)]
    for n, (x, y, length, angle) in enumerate(sides):
        matrix = _move(x, y, z + _SLAB_T, angle)
        wall = _wall(ctx, storey, matrix, length, height - _SLAB_T, f"{storey.Name} 外墙 {n + 1}")
        count = max(1, int(length // 6))
        for k in range(count):
            along = (k + 0.5) * length / count - _WINDOW_W / 2
            _window(ctx, storey, wall, matrix @ _move(along, 0, _SILL), f"{wall.Name} 窗 {k + 1}")


def _wall(ctx: _Ctx, storey: Any, matrix: np.ndarray, length: float, height: float, name: str) -> Any:
    api, f = ifcopenshell.api, ctx.file
    wall = api.root.create_entity(f, ifc_class="IfcWall", predefined_type="SOLIDWALL", name=name)
    rep = api.geometry.add_wall_representation(f, context=ctx.body, length=length, height=height, thickness=_WALL_T)
    _place(ctx, wall, storey, matrix, rep, "加气混凝土砌块")
    pset = api.pset.add_pset(f, product=wall, name="Pset_WallCommon")
    api.pset.edit_pset(f, pset=pset, properties={"IsExternal": True, "LoadBearing": False})
    return wall


def _window(ctx: _Ctx, storey: Any, wall: Any, matrix: np.ndarray, name: str) -> Any:
    api, f = ifcopenshell.api, ctx.file
    opening = api.root.create_entity(f, ifc_class="IfcOpeningElement", name=f"{name} 洞口")
    rep = api.geometry.add_wall_representation(f, context=ctx.body, length=_WINDOW_W, height=_WINDOW_H,
                                               thickness=_WALL_T + 0.2)
    api.geometry.assign_representation(f, product=opening, representation=rep)
    api.geometry.edit_object_placement(f, product=opening, matrix=matrix @ _move(0, -0.1, 0))
    api.feature.add_feature(f, feature=opening, element=wall)
    window = api.root.create_entity(f, ifc_class="IfcWindow", name=name)
    window.OverallWidth, window.OverallHeight = _WINDOW_W, _WINDOW_H
    rep = api.geometry.add_window_representation(f, context=ctx.body, overall_height=_WINDOW_H,
                                                 overall_width=_WINDOW_W)
    _place(ctx, window, storey, matrix, rep, "中空玻璃")
    api.feature.add_filling(f, opening=opening, element=window)
    return window


def _roof(ctx: _Ctx, container: Any, z: float, width: float, depth: float) -> Any:
    api, f = ifcopenshell.api, ctx.file
    roof = api.root.create_entity(f, ifc_class="IfcRoof", predefined_type="FLAT_ROOF", name="屋面 Roof")
    outline = [(-width / 2, -depth / 2), (width / 2, -depth / 2), (width / 2, depth / 2), (-width / 2, depth / 2)]
    rep = api.geometry.add_slab_representation(f, context=ctx.body, depth=0.3, polyline=outline)
    return _place(ctx, roof, container, _move(0, 0, z), rep, "防水卷材")


def _building_psets(ctx: _Ctx, building: Any, name: str, storeys: int, storey_height: float,
                    width: float, depth: float) -> None:
    api, f = ifcopenshell.api, ctx.file
    common = api.pset.add_pset(f, product=building, name="Pset_BuildingCommon")
    api.pset.edit_pset(f, pset=common, properties={"NumberOfStoreys": storeys, "YearOfConstruction": "2026"})
    info = api.pset.add_pset(f, product=building, name="CIM_建筑信息")
    api.pset.edit_pset(f, pset=info, properties={
        "建筑名称": name,
        "结构类型": "钢筋混凝土框架结构",
        "建筑用途": "办公",
        "地上层数": storeys,
        "建筑高度": round(storeys * storey_height + 0.3, 3),
        "占地面积": round(width * depth, 3),
    })


def _georeference(f: Any, anchor: Anchor) -> None:
    api = ifcopenshell.api
    api.georeference.add_georeferencing(f)
    angle = math.radians(anchor.rotation_deg)
    api.georeference.edit_georeferencing(
        f,
        projected_crs={"Name": anchor.crs},
        coordinate_operation={
            "Eastings": float(anchor.x),
            "Northings": float(anchor.y),
            "OrthogonalHeight": float(anchor.z),
            "XAxisAbscissa": math.cos(angle),
            "XAxisOrdinate": math.sin(angle),
            "Scale": 1.0,
        },
    )
