"""CityJSON: every sample reads with its CRS, LODs and footprints; our export is valid CityJSON 2.0."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from shapely.geometry import MultiPolygon, Polygon, box

from bim import InvalidCityJSON, read_cityjson, write_cityjson
from tests.bim.cityjson_check import check_cityjson
from tests.bim.conftest import CITYJSON_SAMPLES, require_sample

# name -> (version, crs, object count, LOD picked for the first building)
EXPECTED = {
    "3dbag_b2.city.json": ("2.0", "EPSG:7415", 4, "2.2"),
    "3dbag_b2.city.jsonl": ("2.0", "EPSG:7415", 4, "2.2"),
    "delft.json": ("2.0", "EPSG:7415", 570, "1"),
    "multi_lod.json": ("2.0", None, 10, "2.2"),
    "rotterdam_one.json": ("1.1", "EPSG:7415", 1, "2"),
}


@pytest.mark.parametrize("name", CITYJSON_SAMPLES)
def test_every_cityjson_sample_reads_with_crs_objects_and_lod(name: str) -> None:
    version, crs, count, lod = EXPECTED[name]
    data = read_cityjson(require_sample(f"cityjson/{name}"))
    assert (data.version, data.crs, len(data.objects)) == (version, crs, count)
    buildings = data.buildings()
    assert buildings and buildings[0].lod == lod
    for b in buildings:
        assert b.footprint is not None and b.footprint.area > 1 and b.footprint.is_valid
        assert b.height is not None and 0 < b.height < 100
    assert data.table().num_rows == count


def test_3dbag_buildings_take_their_geometry_from_their_parts() -> None:
    data = read_cityjson(require_sample("cityjson/3dbag_b2.city.json"))
    index = data.by_id()
    for b in data.buildings():
        (part,) = (index[c] for c in b.children)
        assert b.geometry_type is None and part.parents == [b.id]
        assert b.footprint.equals_exact(part.footprint, 1e-6) and (b.z_min, b.z_max) == (part.z_min, part.z_max)
        assert b.semantics == ["GroundSurface", "RoofSurface", "WallSurface"]


def test_cityjsonseq_reads_the_same_buildings_as_the_json_file() -> None:
    whole = read_cityjson(require_sample("cityjson/3dbag_b2.city.json")).by_id()
    seq = read_cityjson(require_sample("cityjson/3dbag_b2.city.jsonl")).by_id()
    assert set(whole) == set(seq)
    for oid, obj in whole.items():
        assert seq[oid].footprint.area == pytest.approx(obj.footprint.area)
        assert seq[oid].z_min == pytest.approx(obj.z_min)


def test_multi_lod_picks_the_best_lod_up_to_2_and_lists_the_others() -> None:
    data = read_cityjson(require_sample("cityjson/multi_lod.json"))
    b = data.buildings()[0]
    assert b.available_lods == ["1.2", "1.3", "2.2"] and b.lod == "2.2"
    assert data.crs is None  # the caller must supply it


def test_delft_keeps_non_building_objects_and_their_attributes() -> None:
    data = read_cityjson(require_sample("cityjson/delft.json"))
    types = {o.type for o in data.objects}
    assert {"Building", "Road", "PlantCover", "LandUse", "Bridge", "WaterBody", "GenericCityObject"} <= types
    building = data.buildings()[0]
    assert "bgt_status" in building.attributes and building.geometry_type == "Solid"
    xmin, ymin, xmax, ymax = building.footprint.bounds
    assert 84616 < xmin < xmax < 85141 and 447422 < ymin < ymax < 447751  # dequantised with transform


def test_reading_garbage_raises_invalid_cityjson(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"type": "FeatureCollection"}', encoding="utf-8")
    with pytest.raises(InvalidCityJSON, match="bad.json"):
        read_cityjson(path)
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(InvalidCityJSON):
        read_cityjson(path)


def buildings_to_write() -> list[dict]:
    holed = Polygon([(527000, 4010000), (527020, 4010000), (527020, 4010020), (527000, 4010020)],
                    [[(527005, 4010005), (527005, 4010010), (527010, 4010010), (527010, 4010005)]])
    tri = (np.array([[527100.0, 4010000.0, 5.0], [527110.0, 4010000.0, 5.0], [527100.0, 4010010.0, 15.0]]),
           np.array([[0, 1, 2]]))
    return [
        {"id": "b1", "attributes": {"名称": "一号楼", "floors": np.int64(6)},
         "footprint": box(527050, 4010050, 527080, 4010068), "z_min": 5.0, "height": 19.5},
        {"id": "b2", "attributes": {}, "footprint": MultiPolygon([box(527200, 4010000, 527210, 4010010),
                                                                   box(527220, 4010000, 527230, 4010010)]),
         "z_min": 0.0, "height": 9.0},
        {"id": "b3", "attributes": {"source": "IFC"}, "footprint": holed, "z_min": 2.0, "height": 6.0, "mesh": tri},
    ]


def signed_volume(doc: dict, geometry: dict) -> float:
    """Volume of an LOD1 solid from its oriented faces (positive when the normals point outwards)."""
    verts = np.asarray(doc["vertices"], float) * doc["transform"]["scale"] + doc["transform"]["translate"]
    total = 0.0
    for surface in geometry["boundaries"][0]:
        for ring in surface:
            p = verts[ring]
            newell = np.sum(np.cross(p, np.roll(p, -1, axis=0)), axis=0) / 2  # vector area, holes negative
            total += float(np.dot(p.mean(axis=0), newell)) / 3
    return total


def test_export_is_valid_cityjson_2_with_outward_lod1_solids(tmp_path: Path) -> None:
    path = write_cityjson(buildings_to_write(), "EPSG:4549", tmp_path / "out.city.json")
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert check_cityjson(doc) == []
    assert doc["metadata"]["referenceSystem"] == "https://www.opengis.net/def/crs/EPSG/0/4549"
    b1 = doc["CityObjects"]["b1"]
    assert b1["attributes"]["名称"] == "一号楼" and b1["attributes"]["measuredHeight"] == 19.5
    assert signed_volume(doc, b1["geometry"][0]) == pytest.approx(30 * 18 * 19.5, rel=1e-6)
    holed = doc["CityObjects"]["b3"]["geometry"][0]
    assert signed_volume(doc, holed) == pytest.approx((400 - 25) * 6.0, rel=1e-6)
    assert doc["CityObjects"]["b2"]["children"] == ["b2-0", "b2-1"]
    assert [g["lod"] for g in doc["CityObjects"]["b3"]["geometry"]] == ["1", "2.2"]


def test_a_part_of_a_split_building_never_takes_another_buildings_id(tmp_path: Path) -> None:
    buildings = buildings_to_write()
    buildings[0]["id"] = "b2-0"  # a building whose id is what b2's first part would be called
    doc = json.loads(write_cityjson(buildings, "EPSG:4549", tmp_path / "out.city.json").read_text("utf-8"))
    assert doc["CityObjects"]["b2-0"]["type"] == "Building"
    assert doc["CityObjects"]["b2"]["children"] == ["b2-0.1", "b2-1"]
    assert len(doc["CityObjects"]) == 3 + 2 and check_cityjson(doc) == []


def test_a_building_id_given_twice_is_refused_naming_it(tmp_path: Path) -> None:
    buildings = buildings_to_write()
    buildings[2]["id"] = "b1"
    with pytest.raises(ValueError, match="'b1' is given twice"):
        write_cityjson(buildings, "EPSG:4549", tmp_path / "out.city.json")
    assert not (tmp_path / "out.city.json").exists()


def test_export_reads_back_with_the_same_footprints_and_heights(tmp_path: Path) -> None:
    path = write_cityjson(buildings_to_write(), "EPSG:4549", tmp_path / "out.city.json")
    back = read_cityjson(path).by_id()
    assert back["b1"].footprint.area == pytest.approx(540.0) and back["b1"].height == pytest.approx(19.5)
    assert back["b2"].footprint.area == pytest.approx(200.0)  # from its two BuildingParts
    assert back["b3"].lod == "2.2" and read_cityjson(path).crs == "EPSG:4549"


def test_export_of_a_meshed_bim_building_validates(tmp_path: Path, meshed, demo_ifc) -> None:
    result = meshed(demo_ifc)
    (bid, building), = result.model.buildings.items()
    verts = np.vstack([m.vertices for m in result.meshes])
    offsets = np.cumsum([0] + [len(m.vertices) for m in result.meshes[:-1]])
    faces = np.vstack([m.faces.astype(np.int64) + o for m, o in zip(result.meshes, offsets, strict=True)])
    record = {"id": bid, "attributes": {"建筑名称": "示范楼"}, "footprint": building.footprint,
              "z_min": building.z_min, "height": building.height, "mesh": (verts, faces)}
    path = write_cityjson([record], result.model.georef.crs, tmp_path / "bim.city.json")
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert check_cityjson(doc) == []
    assert read_cityjson(path).by_id()[bid].footprint.area == pytest.approx(540.0, rel=0.01)


def test_cjio_loads_the_export_and_validates_it_when_cjvalpy_is_available(tmp_path: Path) -> None:
    cjio = shutil.which("cjio") or str(Path(sys.executable).with_name("cjio"))
    if not Path(cjio).exists():
        pytest.skip("cjio is not installed (pip install 'cim[dev]')")
    path = write_cityjson(buildings_to_write(), "EPSG:4549", tmp_path / "out.city.json")
    info = subprocess.run([cjio, str(path), "info"], capture_output=True, text=True, timeout=120)
    assert info.returncode == 0 and "CityJSON version = 2.0" in info.stdout and "EPSG = 4549" in info.stdout
    if importlib.util.find_spec("cjvalpy") is None:
        pytest.skip("cjio validate needs cjvalpy, which has no Linux wheel for this Python; structural checks ran")
    result = subprocess.run([cjio, str(path), "validate"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "is valid" in result.stdout.lower(), result.stdout + result.stderr
