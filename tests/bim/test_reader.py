"""Every IFC sample opens and reads element by element, with its spatial structure and properties."""

from __future__ import annotations

import json
from collections import Counter

import pyarrow as pa
import pytest

from bim import elements_table, open_ifc, read_elements
from tests.bim.conftest import IFC_SAMPLES

SPATIAL = ("IfcSite", "IfcBuilding", "IfcBuildingStorey", "IfcSpace")


@pytest.mark.parametrize("name", sorted(IFC_SAMPLES))
def test_every_ifc_sample_reads_all_its_products_with_schema_and_storeys(name: str, ifc_sample) -> None:
    schema, products, storeys, _ = IFC_SAMPLES[name]
    model = open_ifc(ifc_sample(name))
    elements = read_elements(model)
    assert model.schema_identifier == schema
    assert len(elements) == products
    assert sum(e.ifc_class == "IfcBuildingStorey" for e in elements) == storeys
    assert len({e.global_id for e in elements}) == len(elements)
    assert all(1 <= e.cim_level <= 7 and e.lod for e in elements)


@pytest.mark.parametrize("name", sorted(IFC_SAMPLES))
def test_parent_links_and_spatial_ids_point_at_elements_of_the_same_model(name: str, ifc_sample) -> None:
    elements = read_elements(open_ifc(ifc_sample(name)))
    by_id = {e.global_id: e for e in elements}
    for e in elements:
        for ref in (e.parent_id, e.storey_id, e.building_id, e.site_id):
            assert ref is None or ref in by_id
        if e.storey_id:
            assert by_id[e.storey_id].ifc_class == "IfcBuildingStorey"
        if e.building_id:
            assert by_id[e.building_id].ifc_class == "IfcBuilding"


def test_elements_of_fzk_haus_sit_in_storeys_of_one_building_with_psets_and_quantities(ifc_sample) -> None:
    elements = read_elements(open_ifc(ifc_sample("AC20-FZK-Haus.ifc")))
    storeys = {e.global_id: e for e in elements if e.ifc_class == "IfcBuildingStorey"}
    assert sorted((s.name, s.elevation) for s in storeys.values()) == [("Dachgeschoss", 2.7), ("Erdgeschoss", 0.0)]
    walls = [e for e in elements if e.ifc_class == "IfcWallStandardCase"]
    assert len(walls) == 13
    assert all(w.storey_id in storeys and w.parent_id == w.storey_id for w in walls)
    assert len({e.building_id for e in elements if e.building_id}) == 1
    wall = walls[0]
    assert "Pset_WallCommon" in wall.properties
    assert any(name.startswith("BaseQuantities") or "Qto" in name for name in wall.properties)
    assert wall.material
    openings = [e for e in elements if e.ifc_class == "IfcOpeningElement"]
    assert openings and all(by_host.ifc_class.startswith("IfcWall") or by_host.ifc_class == "IfcSlab"
                            for by_host in (next(x for x in elements if x.global_id == o.parent_id) for o in openings))


def test_x2_escaped_spanish_text_is_decoded(ifc_sample) -> None:
    raw = ifc_sample("tested_sample_project.ifc").read_text(encoding="ascii")
    assert "\\X2\\00F3\\X0\\" in raw
    elements = read_elements(open_ifc(ifc_sample("tested_sample_project.ifc")))
    text = json.dumps([(e.name, e.type_name, e.properties) for e in elements], ensure_ascii=False)
    assert "ó" in text
    assert "\\X2\\" not in text


def test_building_architecture_keeps_both_sites_nested(ifc_sample) -> None:
    elements = read_elements(open_ifc(ifc_sample("Building-Architecture.ifc")))
    sites = {e.name: e for e in elements if e.ifc_class == "IfcSite"}
    assert set(sites) == {"environment - site", "house - site"}
    assert sites["house - site"].parent_id == sites["environment - site"].global_id
    building = next(e for e in elements if e.ifc_class == "IfcBuilding")
    assert building.site_id == sites["house - site"].global_id


def test_tekla_parts_hang_under_their_assemblies(ifc_sample) -> None:
    elements = read_elements(open_ifc(ifc_sample("ISSUE_021_Mini_Project.ifc")))
    by_id = {e.global_id: e for e in elements}
    counts = Counter(e.ifc_class for e in elements)
    assert counts["IfcBeam"] == 1949 and counts["IfcElementAssembly"] == 1051
    in_assembly = [e for e in elements if e.parent_id and by_id[e.parent_id].ifc_class == "IfcElementAssembly"]
    assert len(in_assembly) > 1000
    assert all(e.storey_id for e in in_assembly)


def test_unnamed_spatial_elements_read_with_no_name_and_no_properties(ifc_sample) -> None:
    elements = read_elements(open_ifc(ifc_sample("IfcOpenHouse_IFC4.ifc")))
    spatial = [e for e in elements if e.ifc_class in SPATIAL]
    assert spatial and all(e.name is None for e in spatial if e.ifc_class != "IfcSpace")
    assert all(e.properties == {} for e in elements)


def test_elements_become_an_arrow_table_with_json_properties(ifc_sample) -> None:
    elements = read_elements(open_ifc(ifc_sample("duplex.ifc")))
    table = elements_table(elements)
    assert isinstance(table, pa.Table) and table.num_rows == len(elements)
    props = json.loads(table.column("properties")[0].as_py())
    assert props == elements[0].properties


def test_cim_levels_cover_spatial_structure_and_components(ifc_sample) -> None:
    elements = read_elements(open_ifc(ifc_sample("duplex.ifc")))
    level = {e.ifc_class: e.cim_level for e in elements}
    assert level["IfcSite"] == 1 and level["IfcBuilding"] == 3 and level["IfcBuildingStorey"] == 5
    assert level["IfcDoor"] == 6 and level["IfcWindow"] == 6 and level["IfcOpeningElement"] == 7
    external = [e for e in elements if e.ifc_class.startswith("IfcWall")
                and e.properties.get("Pset_WallCommon", {}).get("IsExternal") is True]
    assert external and all(e.cim_level == 4 for e in external)
