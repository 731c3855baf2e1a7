"""Bad input is refused with its own error class and a message that names the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from bim import AbsurdCoordinates, Anchor, BIMError, InvalidIFC, NoGeometry, NoGeoreference, open_ifc, read_model
from tests.bim import ifc_factory as factory


def test_open_refuses_a_zero_byte_file_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "empty.ifc"
    path.write_bytes(b"")
    with pytest.raises(InvalidIFC, match=r"empty\.ifc.*empty \(0 bytes\)") as info:
        open_ifc(path)
    assert info.value.path == str(path)


def test_open_refuses_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidIFC, match="no such file"):
        open_ifc(tmp_path / "nowhere.ifc")


def test_open_refuses_a_truncated_ifc(tmp_path: Path, ifc_sample) -> None:
    data = ifc_sample("duplex.ifc").read_bytes()
    path = tmp_path / "cut.ifc"
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(InvalidIFC, match=r"cut\.ifc.*truncated"):
        open_ifc(path)


def test_open_refuses_a_text_file_that_is_not_ifc(tmp_path: Path) -> None:
    path = tmp_path / "notes.ifc"
    path.write_text("this is a shopping list, not a building\n", encoding="utf-8")
    with pytest.raises(InvalidIFC, match=r"notes\.ifc: not an IFC file"):
        open_ifc(path)


def test_open_refuses_a_zip_archive_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "model.ifczip"
    path.write_bytes(b"PK\x03\x04" + b"\0" * 64)
    with pytest.raises(InvalidIFC, match="unzip"):
        open_ifc(path)


def test_open_refuses_an_unknown_schema_naming_it_and_the_supported_ones(tmp_path: Path, ifc_sample) -> None:
    text = ifc_sample("polygonal-face-tessellation.ifc").read_text(encoding="utf-8")
    path = tmp_path / "future.ifc"
    path.write_text(text.replace("IFC4X3_ADD2", "IFC5X9"), encoding="utf-8")
    with pytest.raises(InvalidIFC, match=r"future\.ifc.*'IFC5X9'.*IFC2X3, IFC4, IFC4X3"):
        open_ifc(path)


def test_open_reads_an_ifc4x3_draft_schema_with_the_add2_schema(tmp_path: Path, ifc_sample) -> None:
    text = ifc_sample("polygonal-face-tessellation.ifc").read_text(encoding="utf-8")
    path = tmp_path / "draft.ifc"
    path.write_text(text.replace("IFC4X3_ADD2", "IFC4X3"), encoding="utf-8")
    assert open_ifc(path).schema_identifier == "IFC4X3_ADD2"


def test_open_refuses_a_step_file_without_a_project(tmp_path: Path) -> None:
    path = tmp_path / "bare.ifc"
    path.write_text(
        "ISO-10303-21;\nHEADER;\nFILE_DESCRIPTION((''),'2;1');\nFILE_NAME('','',(''),(''),'','','');\n"
        "FILE_SCHEMA(('IFC4'));\nENDSEC;\nDATA;\n#1=IFCCARTESIANPOINT((0.,0.,0.));\nENDSEC;\nEND-ISO-10303-21;\n",
        encoding="utf-8",
    )
    with pytest.raises(InvalidIFC, match="no IfcProject"):
        open_ifc(path)


def test_read_model_refuses_an_ifc_without_geometry(tmp_path: Path) -> None:
    f, _, _ = factory.skeleton()
    factory.georeference(f)
    path = factory.write(f, tmp_path / "hollow.ifc")
    with pytest.raises(NoGeometry, match=r"hollow\.ifc: no element has 3D geometry"):
        read_model(path)


def test_read_model_refuses_an_ifc_without_georeferencing_and_lists_the_options(tmp_path: Path) -> None:
    f, body, storey = factory.skeleton()
    factory.add_wall(f, body, storey)
    path = factory.write(f, tmp_path / "nowhere.ifc")
    with pytest.raises(NoGeoreference) as info:
        read_model(path)
    message = str(info.value)
    assert "nowhere.ifc" in message
    for option in ("IfcMapConversion", "ePset_MapConversion", "RefLatitude", "--anchor", "--rotation", "--anchor-crs"):
        assert option in message


def test_a_sample_without_georeferencing_is_refused_unless_anchored(ifc_sample) -> None:
    path = ifc_sample("IfcOpenHouse_IFC4.ifc")
    with pytest.raises(NoGeoreference, match="IfcOpenHouse_IFC4.ifc"):
        read_model(path)
    assert read_model(path, anchor=Anchor(527000, 4010000)).georef.method == "anchor"


def test_read_model_refuses_absurd_map_coordinates(tmp_path: Path) -> None:
    f, body, storey = factory.skeleton()
    factory.add_wall(f, body, storey)
    factory.georeference(f, eastings=1e9)
    path = factory.write(f, tmp_path / "far.ifc")
    with pytest.raises(AbsurdCoordinates, match=r"far\.ifc.*not on the earth"):
        read_model(path)


def test_a_real_map_conversion_edited_to_1e9_eastings_is_refused(tmp_path: Path, ifc_sample) -> None:
    text = ifc_sample("geographic-referencing.ifc").read_text(encoding="utf-8")
    assert "458658.78" in text
    path = tmp_path / "geo-far.ifc"
    path.write_text(text.replace("458658.78", "1000000000."), encoding="utf-8")
    with pytest.raises(AbsurdCoordinates, match="geo-far.ifc"):
        read_model(path)


def test_map_coordinates_far_outside_the_crs_area_are_refused(tmp_path: Path) -> None:
    f, body, storey = factory.skeleton()
    factory.add_wall(f, body, storey)
    factory.georeference(f, eastings=527000.0, northings=-9_000_000.0)  # EPSG:4549 is China, not the south pole
    path = factory.write(f, tmp_path / "south.ifc")
    with pytest.raises(AbsurdCoordinates, match="south.ifc"):
        read_model(path)


def test_every_error_is_a_bim_error() -> None:
    for cls in (InvalidIFC, NoGeoreference, AbsurdCoordinates, NoGeometry):
        assert issubclass(cls, BIMError)
