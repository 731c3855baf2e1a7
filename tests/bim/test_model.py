"""read_model: refuse before returning, then stream; counts, summary and records for the city model."""

from __future__ import annotations

import pyarrow as pa

from bim import Anchor, BimModel, read_model
from bim.cim_levels import CIM_LEVELS, LEVEL_LOD, RULES, classify

REPO_DOCS = __import__("pathlib").Path(__file__).resolve().parents[2] / "docs" / "bim.md"


def test_read_model_is_cheap_and_geometry_comes_when_asked(ifc_sample) -> None:
    model = read_model(ifc_sample("duplex.ifc"))
    assert isinstance(model, BimModel) and not model.geometry_done
    assert model.georef_method == "IfcSite RefLatitude/RefLongitude"
    assert "meshes" not in model.counts() and model.buildings == {}


def test_summary_and_counts_after_streaming(meshed, ifc_sample) -> None:
    model = meshed(ifc_sample("duplex.ifc")).model
    counts = model.counts()
    assert counts["products"] == 295 and counts["storeys"] == 4 and counts["buildings"] == 1
    assert sum(counts["by_cim_level"].values()) == 295
    assert counts["meshes"] == 215 and counts["failures"] == 0
    text = model.summary()
    assert "IFC2X3" in text and "EPSG:32616" in text and "215 meshes" in text and "footprint" in text


def test_anchor_override_is_visible_in_the_summary(ifc_sample) -> None:
    model = read_model(ifc_sample("duplex.ifc"), anchor=Anchor(527000, 4010000))
    assert "file offers IfcSite RefLatitude/RefLongitude" in model.summary()


def test_records_are_arrow_friendly(meshed, ifc_sample) -> None:
    result = meshed(ifc_sample("AC20-FZK-Haus.ifc"))
    table = result.model.elements_table()
    assert isinstance(table, pa.Table) and table.num_rows == 127
    (building,) = result.model.buildings.values()
    rec = building.to_record()
    assert isinstance(rec["footprint_wkb"], bytes) and rec["height"] > 0
    assert pa.Table.from_pylist([rec]).num_rows == 1
    assert pa.Table.from_pylist([result.model.georef.to_record()]).num_rows == 1


def test_cim_level_rules_give_every_level_a_name_and_an_lod() -> None:
    assert set(CIM_LEVELS) == set(LEVEL_LOD) == set(range(1, 8))
    assert {level for _, level in RULES} <= set(CIM_LEVELS)
    assert classify(lambda c: c in ("IfcSlab", "IfcProduct"), predefined_type="ROOF") == (4, "LOD3")
    assert classify(lambda c: c in ("IfcMechanicalFastener", "IfcElementComponent", "IfcProduct")) == (7, "LOD4.0")
    assert classify(lambda c: False) == (6, "LOD3.0")


def test_docs_list_every_cim_level_and_every_rule_class() -> None:
    text = REPO_DOCS.read_text(encoding="utf-8")
    for level, (name, _) in CIM_LEVELS.items():
        assert f"CIM{level}" in text and name in text
    for cls, _ in RULES:
        assert cls in text
