"""Compare on a city of real files: the Delft BGT footprints edited in a GIS and brought in again."""

from __future__ import annotations

import pyogrio
import pytest
import shapely

import cim
from tests.conftest import sample


@pytest.fixture
def delft_twice(tmp_path):
    """A Delft city whose footprints were ingested, edited (2 deleted, 1 moved 2 m, 1 status changed)
    as a planner would in a GIS, and ingested again; the edited gml_ids."""
    source = sample("vector/delft_bgt_pand.sqlite")
    frame = pyogrio.read_dataframe(source)
    ids = sorted(frame["gml_id"])
    gone, moved, restated = ids[:2], ids[10], ids[20]
    edited = frame[~frame["gml_id"].isin(gone)].copy()
    at = edited["gml_id"] == moved
    edited.loc[at, "geometry"] = edited.loc[at, "geometry"].translate(xoff=2.0)
    edited.loc[edited["gml_id"] == restated, "bgt_status"] = "historie"
    copy = tmp_path / "delft_bgt_pand_edited.gpkg"
    pyogrio.write_dataframe(edited, copy, driver="GPKG")
    path = tmp_path / "delft.duckdb"
    with cim.create(path, crs="EPSG:28992") as city:
        city.ingest(source, layer="bgt_pand", id_field="gml_id")
        city.ingest(copy, layer="bgt_pand", id_field="gml_id")
    return path, {"removed": gone, "moved": moved, "restated": restated, "count": len(frame)}


def test_real_footprints_edited_in_a_gis_diff_to_exactly_the_edits(delft_twice):
    path, edits = delft_twice
    with cim.open(path, read_only=True) as city:
        everything = city.diff("bgt_pand", 1, 2)
        d = city.diff("bgt_pand", 1, 2, ignore=["fid", "ogc_fid"])
        before = shapely.from_wkt(city.feature(f"bgt_pand.{edits['moved']}", as_of=d.from_.time)["wkt"])
    # the GeoPackage numbers its rows afresh (fid) where the SQLite file had ogc_fid: a real difference …
    assert everything.summary["modified"] == edits["count"] - 2
    assert everything.by_id()[f"bgt_pand.{edits['restated']}"].attributes.keys() >= {"fid", "ogc_fid", "bgt_status"}
    # … that the planner can set aside, leaving exactly the edits
    assert d.summary == {"added": 0, "removed": 2, "modified": 2, "unchanged": edits["count"] - 4}
    by = d.by_id()
    assert {i for i, c in by.items() if c.change == "removed"} == {f"bgt_pand.{g}" for g in edits["removed"]}
    moved = by[f"bgt_pand.{edits['moved']}"]
    assert moved.attributes == {} and moved.measures["moved"] == pytest.approx(2.0, abs=1e-6)
    assert moved.measures["area_delta"] == pytest.approx(0.0, abs=1e-6)
    assert moved.old_geom.equals_exact(before, 1e-6)
    restated = by[f"bgt_pand.{edits['restated']}"]
    assert not restated.geometry_changed
    assert list(restated.attributes) == ["bgt_status"] and restated.attributes["bgt_status"]["new"] == "historie"
