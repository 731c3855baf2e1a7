"""A real IFC model edited with ifcopenshell and ingested again: the element diff names exactly the edits."""

from __future__ import annotations

import ifcopenshell
import ifcopenshell.api
import ifcopenshell.util.placement
import pytest

from tests.conftest import sample

DOOR, WINDOW, WALL, COPIED = "0Tif_$wI1FwAwq$OJt24I8", "3lY7vAqg1AOuHmhrmPSRNL", "3xUPAVO39FGgNkCUQqf4JV", \
    "1$ROshSLD8PxvcHXbFnnTi"
ANCHOR = "515000,3980000"


def edit(source, target):
    """Move the door 1 m along x, delete a window, give the north wall a property set, copy another
    window (a new GlobalId). Returns the copy's GlobalId."""
    f = ifcopenshell.open(str(source))
    door = f.by_guid(DOOR)
    matrix = ifcopenshell.util.placement.get_local_placement(door.ObjectPlacement).copy()
    matrix[0][3] += 1000.0  # the model's unit is the millimetre
    ifcopenshell.api.run("geometry.edit_object_placement", f, product=door, matrix=matrix, is_si=False)
    ifcopenshell.api.run("root.remove_product", f, product=f.by_guid(WINDOW))
    pset = ifcopenshell.api.run("pset.add_pset", f, product=f.by_guid(WALL), name="Pset_Review")
    ifcopenshell.api.run("pset.edit_pset", f, pset=pset, properties={"Status": "approved"})
    copy = ifcopenshell.api.run("root.copy_class", f, product=f.by_guid(COPIED))
    f.write(str(target))
    return copy.GlobalId


def test_an_ifc_edited_with_ifcopenshell_diffs_by_globalid(new_city, tmp_path):
    source = sample("ifc/IfcOpenHouse_IFC4.ifc")
    added = edit(source, tmp_path / "edited.ifc")
    city = new_city()
    city.ingest(source, layer="house", anchor=ANCHOR)
    parts_of_window = {r[0] for r in city.store.rows(
        "SELECT id FROM features WHERE layer = 'house' AND parent = ?", [WINDOW])}
    city.ingest(tmp_path / "edited.ifc", layer="house", anchor=ANCHOR)
    d = city.diff("house", 1, 2)
    by = d.by_id()
    assert {i for i, c in by.items() if c.change == "added"} == {added}
    assert {i for i, c in by.items() if c.change == "removed"} == {WINDOW}
    door = by[DOOR]
    assert door.change == "modified" and door.attributes == {}
    assert door.measures["moved"] == pytest.approx(1.0, abs=1e-6)
    assert door.measures["hausdorff"] == pytest.approx(1.0, abs=1e-6)
    assert door.measures["area_delta"] == pytest.approx(0.0, abs=1e-6)
    wall = by[WALL]
    assert not wall.geometry_changed
    assert list(wall.attributes) == ["Pset_Review"]
    assert wall.attributes["Pset_Review"]["old"] is None
    assert wall.attributes["Pset_Review"]["new"]["Status"] == "approved"
    # the rest follows from the edits: the window's parts lost their parent, and the storey and
    # building whose footprints hold the moved door changed shape
    others = {i for i, c in by.items() if c.change == "modified"} - {DOOR, WALL}
    containers = {r[0] for r in city.store.rows(
        "SELECT id FROM features WHERE layer = 'house' AND valid_to IS NULL AND class IN ('Storey', 'Building')")}
    assert parts_of_window and others <= parts_of_window | containers
    for i in others & parts_of_window:
        assert by[i].attributes["parent"] == {"old": WINDOW, "new": None}
    total = city.sql("SELECT count(*) AS n FROM features WHERE layer = 'house' AND version = 2").to_pylist()[0]["n"]
    assert d.summary["unchanged"] == total - 1 - len(others) - 2
