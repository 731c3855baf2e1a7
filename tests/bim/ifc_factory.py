"""Small IFC files built with ifcopenshell.api for the tests: the shapes of bad input we must refuse."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import ifcopenshell
import ifcopenshell.api
import ifcopenshell.api.aggregate
import ifcopenshell.api.context
import ifcopenshell.api.geometry
import ifcopenshell.api.georeference
import ifcopenshell.api.project
import ifcopenshell.api.root
import ifcopenshell.api.spatial
import ifcopenshell.api.unit

from bim.generate import add_owner

api = ifcopenshell.api


def skeleton(schema: str = "IFC4") -> tuple[Any, Any, Any]:
    """A project in metres with site, building and one storey; returns (file, body context, storey)."""
    f = api.project.create_file(version=schema)
    add_owner(f)
    project = api.root.create_entity(f, ifc_class="IfcProject", name="test")
    api.unit.assign_unit(f, length={"is_metric": True, "raw": "METERS"})
    model = api.context.add_context(f, context_type="Model")
    body = api.context.add_context(f, context_type="Model", context_identifier="Body",
                                   target_view="MODEL_VIEW", parent=model)
    site = api.root.create_entity(f, ifc_class="IfcSite", name="site")
    building = api.root.create_entity(f, ifc_class="IfcBuilding", name="building")
    storey = api.root.create_entity(f, ifc_class="IfcBuildingStorey", name="L0")
    api.aggregate.assign_object(f, products=[site], relating_object=project)
    api.aggregate.assign_object(f, products=[building], relating_object=site)
    api.aggregate.assign_object(f, products=[storey], relating_object=building)
    return f, body, storey


def georeference(f: Any, *, eastings: float = 527000.0, northings: float = 4010000.0,
                 crs: str = "EPSG:4549", rotation_deg: float = 0.0) -> None:
    api.georeference.add_georeferencing(f)
    a = math.radians(rotation_deg)
    api.georeference.edit_georeferencing(f, projected_crs={"Name": crs}, coordinate_operation={
        "Eastings": eastings, "Northings": northings, "OrthogonalHeight": 0.0,
        "XAxisAbscissa": math.cos(a), "XAxisOrdinate": math.sin(a), "Scale": 1.0})


def add_wall(f: Any, body: Any, storey: Any, name: str = "wall", x: float = 0.0) -> Any:
    wall = api.root.create_entity(f, ifc_class="IfcWall", name=name)
    rep = api.geometry.add_wall_representation(f, context=body, length=5.0, height=3.0, thickness=0.2)
    api.geometry.assign_representation(f, product=wall, representation=rep)
    matrix = [[1, 0, 0, x], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]
    api.geometry.edit_object_placement(f, product=wall, matrix=matrix)
    api.spatial.assign_container(f, products=[wall], relating_structure=storey)
    return wall


def add_broken_wall(f: Any, body: Any, storey: Any) -> Any:
    """A wall whose body is an extrusion of depth 0: the geometry kernel refuses it."""
    wall = api.root.create_entity(f, ifc_class="IfcWall", name="broken")
    line = f.createIfcPolyline([f.createIfcCartesianPoint((0.0, 0.0)), f.createIfcCartesianPoint((1.0, 0.0))])
    profile = f.createIfcArbitraryClosedProfileDef("AREA", None, line)
    origin = f.createIfcAxis2Placement3D(f.createIfcCartesianPoint((0.0, 0.0, 0.0)))
    solid = f.createIfcExtrudedAreaSolid(profile, origin, f.createIfcDirection((0.0, 0.0, 1.0)), 0.0)
    rep = f.createIfcShapeRepresentation(body, "Body", "SweptSolid", [solid])
    wall.Representation = f.createIfcProductDefinitionShape(None, None, [rep])
    api.geometry.edit_object_placement(f, product=wall)
    api.spatial.assign_container(f, products=[wall], relating_structure=storey)
    return wall


def write(f: Any, path: Path) -> Path:
    f.write(str(path))
    return path
