"""Geometry streams element by element in map coordinates; failures are reported, counts reconcile."""

from __future__ import annotations

import re
from pathlib import Path

import ifcopenshell
import ifcopenshell.geom
import numpy as np
import pytest
import shapely
from pyproj import Geod, Transformer
from shapely.geometry import Polygon, box

from bim import (
    AbsurdCoordinates,
    Anchor,
    BuildingShape,
    ElementMesh,
    GeometryFailure,
    NoGeometry,
    building_footprint,
    read_model,
)
from bim.footprints import element_footprint
from bim.geometry import DEFAULT_EXCLUDE, _shares, iter_meshes
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


def shape_of(mesh: ElementMesh) -> tuple:
    """What must not depend on who meshed an element: counts, distinct points, bbox, footprint, colour."""
    return (len(mesh.vertices), len(mesh.faces), len(np.unique(mesh.vertices.round(6), axis=0)),
            tuple(mesh.vertices.min(axis=0).round(9)), tuple(mesh.vertices.max(axis=0).round(9)),
            None if mesh.footprint is None else round(mesh.footprint.area, 9), mesh.color)


@pytest.mark.parametrize("name", MESHABLE)
def test_two_workers_give_the_same_shapes_per_globalid_as_one_process(name: str, meshed, ifc_sample) -> None:
    two = run(meshed, ifc_sample, name)  # the session's run: two worker processes
    model = read_model(ifc_sample(name), anchor=None if IFC_SAMPLES[name][3] else ANCHOR, threads=1, workers=1)
    one = {m.global_id: shape_of(m) for m in model.iter_meshes()}
    assert {m.global_id: shape_of(m) for m in two.meshes} == one
    assert len(two.meshes) == len(one)  # each element once
    assert two.model.failures == model.failures
    for bid, building in model.buildings.items():
        other = two.model.buildings[bid]
        assert other.footprint.equals_exact(building.footprint, 1e-9)
        assert (other.z_min, other.z_max, other.element_count) == (building.z_min, building.z_max,
                                                                   building.element_count)


def test_shared_representations_placed_here_match_the_iterators_world_coordinates(ifc_sample) -> None:
    path = ifc_sample("duplex.ifc")  # 167 mapped items: doors and windows of a few types
    model = read_model(path, threads=1, workers=2)
    settings = ifcopenshell.geom.settings()
    settings.set("use-world-coords", True)
    world, ifc = {}, ifcopenshell.open(str(path))  # the iterator needs the file kept alive
    it = ifcopenshell.geom.iterator(settings, ifc, 1, exclude=list(DEFAULT_EXCLUDE))
    assert it.initialize()
    while True:
        shape = it.get()
        v = model.georef.to_map(np.frombuffer(shape.geometry.verts_buffer, dtype=np.float64).reshape(-1, 3))
        world[shape.guid] = (len(shape.geometry.faces_buffer) // 12, len(np.unique(v.round(6), axis=0)),
                             v.min(axis=0), v.max(axis=0))
        if not it.next():
            break
    ours = list(model.iter_meshes())
    assert {m.global_id for m in ours} == set(world) and len(ours) == 215
    for mesh in ours:
        faces, points, low, high = world[mesh.global_id]
        assert (len(mesh.faces), len(np.unique(mesh.vertices.round(6), axis=0))) == (faces, points)
        np.testing.assert_allclose(mesh.vertices.min(axis=0), low, rtol=0, atol=1e-6)
        np.testing.assert_allclose(mesh.vertices.max(axis=0), high, rtol=0, atol=1e-6)


def test_elements_sharing_a_representation_are_meshed_by_one_worker(ifc_sample) -> None:
    ifc = ifcopenshell.open(str(ifc_sample("duplex.ifc")))
    shares = _shares(ifc, DEFAULT_EXCLUDE, None, 2)
    assert len(shares) == 2 and not set(shares[0]) & set(shares[1])
    owner = {step: i for i, share in enumerate(shares) for step in share}
    expected = {p.id() for p in ifc.by_type("IfcProduct")
                if p.Representation is not None and not any(p.is_a(c) for c in DEFAULT_EXCLUDE)}
    assert set(owner) == expected
    users: dict[int, set[int]] = {}
    for item in ifc.by_type("IfcMappedItem"):
        for rep in ifc.get_inverse(item):
            for shape in ifc.get_inverse(rep):
                for product in ifc.get_inverse(shape):
                    if product.id() in owner:
                        users.setdefault(item.MappingSource.id(), set()).add(owner[product.id()])
    assert users and all(len(workers) == 1 for workers in users.values())
    assert min(map(len, shares)) > 0.3 * len(expected)  # both workers have a fair share


def test_a_failing_element_meshed_by_a_worker_is_reported_by_globalid(tmp_path: Path) -> None:
    f, body, storey = factory.skeleton()
    good = [factory.add_wall(f, body, storey, f"good {i}", x=6.0 * i) for i in range(20)]
    bad = factory.add_broken_wall(f, body, storey)
    factory.georeference(f)
    model = read_model(factory.write(f, tmp_path / "partly.ifc"), workers=2)
    meshes = list(model.iter_meshes())
    assert sorted(m.global_id for m in meshes) == sorted(w.GlobalId for w in good)
    (failure,) = model.failures
    assert (failure.global_id, failure.ifc_class) == (bad.GlobalId, "IfcWall")
    assert "extrusion" in failure.reason.lower()
    assert model.counts()["with_geometry"] == 21


def test_an_element_off_the_earth_in_a_worker_stops_the_stream_naming_the_file(tmp_path: Path) -> None:
    f, body, storey = factory.skeleton()
    for i in range(20):
        factory.add_wall(f, body, storey, f"wall {i}", x=6.0 * i)
    far = factory.add_wall(f, body, storey, "far", x=5.0e7)
    factory.georeference(f)
    path = factory.write(f, tmp_path / "one-far.ifc")
    model = read_model(path, workers=2)
    with pytest.raises(AbsurdCoordinates, match=re.escape(f"one-far.ifc: element {far.GlobalId}")) as info:
        list(model.iter_meshes())
    assert info.value.path == str(path)


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
