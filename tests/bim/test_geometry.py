"""Geometry streams element by element in map coordinates; failures are reported, counts reconcile."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely
from pyproj import Geod, Transformer
from shapely.geometry import Polygon, box

from bim import Anchor, BuildingShape, ElementMesh, GeometryFailure, NoGeometry, building_footprint, read_model
from bim.geometry import DEFAULT_EXCLUDE, element_footprint, iter_meshes
from tests.bim import ifc_factory as factory
from tests.bim.conftest import IFC_SAMPLES

ANCHOR = Anchor(527000.0, 4010000.0, 0.0, crs="EPSG:4549")
MESHABLE = sorted(n for n in IFC_SAMPLES if n != "geographic-referencing.ifc")


def products_with_body(ifc) -> set[str]:
    """Independent count: products outside the default exclusions with a 3D body representation."""
    out = set()
    for p in ifc.by_type("IfcProduct"):
        if p.Representation is None or any(p.is_a(c) for c in DEFAULT_EXCLUDE):
            continue
        for rep in p.Representation.Representations:
            ctx = rep.ContextOfItems
            while ctx.is_a("IfcGeometricRepresentationSubContext"):
                ctx = ctx.ParentContext
            if ctx.CoordinateSpaceDimension == 3 and (rep.RepresentationIdentifier or "Body") in ("Body", "Facetation"):
                out.add(p.GlobalId)
    return out


def run(meshed, ifc_sample, name: str):
    anchor = None if IFC_SAMPLES[name][3] else ANCHOR
    return meshed(ifc_sample(name), anchor)


@pytest.mark.parametrize("name", MESHABLE)
def test_meshes_plus_failures_reconcile_with_products_that_have_geometry(name: str, meshed, ifc_sample) -> None:
    result = run(meshed, ifc_sample, name)
    model, meshes = result.model, result.meshes
    expected = products_with_body(model.ifc)
    got = {m.global_id for m in meshes} | {f.global_id for f in model.failures}
    assert got == expected
    assert model.counts()["with_geometry"] == len(expected) == len(meshes) + len(model.failures)
    assert model.failures == []  # every sample here meshes completely with ifcopenshell 0.9


@pytest.mark.parametrize("name", MESHABLE)
def test_meshes_are_well_formed_and_in_the_map_crs(name: str, meshed, ifc_sample) -> None:
    result = run(meshed, ifc_sample, name)
    geo = result.model.georef
    for mesh in result.meshes:
        assert mesh.vertices.dtype == np.float64 and mesh.vertices.shape[1] == 3
        assert mesh.faces.dtype == np.uint32 and int(mesh.faces.max()) < len(mesh.vertices)
        assert mesh.z_min <= mesh.z_max
    centre = np.vstack([m.vertices for m in result.meshes]).mean(axis=0)
    assert np.hypot(centre[0] - geo.eastings, centre[1] - geo.northings) < 2000  # near its anchor point
    assert result.model.buildings, "every sample has an IfcBuilding with meshed elements"


def test_fzk_haus_footprint_stands_on_its_site_coordinates(meshed, ifc_sample) -> None:
    result = meshed(ifc_sample("AC20-FZK-Haus.ifc"))
    (building,) = result.model.buildings.values()
    assert 100 < building.footprint.area < 200  # a 12 x 10 m house plus eaves
    assert 109.0 < building.z_min < 111.0 and 5 < building.height < 10  # RefElevation 110 m
    centroid = building.footprint.centroid
    lon, lat = Transformer.from_crs(result.model.georef.crs, "EPSG:4326", always_xy=True).transform(
        centroid.x, centroid.y)
    assert Geod(ellps="WGS84").inv(8.436539, 49.100435, lon, lat)[2] < 30


def test_the_large_tekla_model_streams_all_2636_shapes_once(meshed, ifc_sample) -> None:
    result = meshed(ifc_sample("ISSUE_021_Mini_Project.ifc"), ANCHOR)
    assert len(result.meshes) == 2636 and result.model.failures == []
    (building,) = result.model.buildings.values()
    assert building.element_count == 2636 and building.footprint.area > 100


def test_a_failing_element_is_reported_by_globalid_and_the_rest_goes_in(tmp_path: Path) -> None:
    f, body, storey = factory.skeleton()
    good = factory.add_wall(f, body, storey, "good")
    bad = factory.add_broken_wall(f, body, storey)
    factory.georeference(f)
    model = read_model(factory.write(f, tmp_path / "partly.ifc"))
    meshes = list(model.iter_meshes())
    assert [m.global_id for m in meshes] == [good.GlobalId]
    (failure,) = model.failures
    assert (failure.global_id, failure.ifc_class) == (bad.GlobalId, "IfcWall")
    assert "extrusion" in failure.reason.lower()
    assert model.counts()["with_geometry"] == 2


def test_a_model_whose_only_element_fails_raises_no_geometry_after_reporting_it(ifc_sample) -> None:
    model = read_model(ifc_sample("geographic-referencing.ifc"))  # CSG cone + cylinder: not meshable in 0.9
    with pytest.raises(NoGeometry, match="none of 1 elements"):
        list(model.iter_meshes())
    assert [f.ifc_class for f in model.failures] == ["IfcBuildingElementProxy"]
    assert "IfcRightCircularCone" in model.failures[0].reason


def test_spaces_and_openings_are_skipped_by_default_but_can_be_asked_for(ifc_sample) -> None:
    model = read_model(ifc_sample("AC20-FZK-Haus.ifc"))
    spaces = model.ifc.by_type("IfcSpace")
    items = list(iter_meshes(model.ifc, model.georef, threads=1, include=spaces))
    assert len(items) == 7 and all(isinstance(i, ElementMesh) and i.ifc_class == "IfcSpace" for i in items)


def test_one_and_two_threads_give_the_same_meshes(ifc_sample) -> None:
    model = read_model(ifc_sample("example_ifc2x3_revit.ifc"))
    one = {m.global_id: len(m.faces) for m in iter_meshes(model.ifc, model.georef, threads=1)}
    two = {m.global_id: len(m.faces) for m in iter_meshes(model.ifc, model.georef, threads=2)}
    assert one == two and len(one) == 115


def test_an_l_shaped_slab_keeps_its_l_shaped_footprint() -> None:
    outline = [(0, 0), (10, 0), (10, 4), (4, 4), (4, 10), (0, 10)]
    poly = Polygon(outline)
    tris = shapely.delaunay_triangles(poly)
    triangles = [t for t in shapely.get_parts(tris) if poly.contains(t.representative_point())]
    verts, faces = [], []
    for t in triangles:
        faces.append([len(verts), len(verts) + 1, len(verts) + 2])
        verts.extend([(x, y, 0.0) for x, y in list(t.exterior.coords)[:3]])
    fp = element_footprint(np.array(verts), np.array(faces, dtype=np.uint32), "IfcSlab")
    assert fp.area == pytest.approx(poly.area, rel=1e-6)  # a convex hull would be 88 m2, not 64


def test_building_footprint_closes_cracks_between_elements_and_drops_slivers() -> None:
    fp = building_footprint([box(0, 0, 5, 5), box(5.02, 0, 10, 5), box(20, 20, 20.05, 20.05)])
    assert fp.geom_type == "Polygon" and fp.area == pytest.approx(50, abs=0.3)


def test_building_shape_accumulates_per_building_while_streaming() -> None:
    shapes = BuildingShape(merge_every=2)
    for i, bid in enumerate(["A", "A", "A", "B", None]):
        v = np.array([[i, 0, i], [i + 1, 0, i], [i + 1, 1, i + 3], [i, 1, i + 3]], dtype=float)
        faces = np.array([[0, 1, 2], [0, 2, 3]], dtype=np.uint32)
        shapes.add(ElementMesh(f"e{i}", "IfcWall", v, faces, float(i), float(i + 3), element_footprint(v, faces)), bid)
    result = shapes.result()
    assert result["A"].element_count == 3 and result["A"].footprint.area == pytest.approx(3.0, abs=0.01)
    assert (result["A"].z_min, result["A"].z_max, result["A"].height) == (0.0, 5.0, 5.0)
    assert result["B"].to_record()["footprint_wkb"] is not None


def test_geometry_failure_is_a_plain_record() -> None:
    failure = GeometryFailure("2O2Fr$t4X7Zf8NOew3FLOH", "IfcWall", "boom")
    assert failure.global_id == "2O2Fr$t4X7Zf8NOew3FLOH"
