"""One error hierarchy: the readers' errors leave the model as cim errors, chosen by class."""

from __future__ import annotations

import inspect

import pytest

import cim
from cim.errors import CIMError, reader_errors, to_domain
from tests.cim.helpers import parcels_geojson


def _error_classes(module) -> list[type[Exception]]:
    return [cls for _, cls in inspect.getmembers(module, inspect.isclass)
            if issubclass(cls, Exception) and cls.__module__ == module.__name__]


def test_every_error_class_of_gis_and_bim_maps_to_one_cim_class_in_the_table():
    from bim import errors as bim_errors
    from gis import errors as gis_errors

    table = reader_errors()
    for cls in _error_classes(gis_errors) + _error_classes(bim_errors):
        assert cls in table, f"{cls.__module__}.{cls.__name__} has no cim class"
        assert issubclass(table[cls], CIMError)


def test_a_reader_error_becomes_its_cim_class_with_the_readers_message():
    from bim.errors import InvalidIFC, NoGeoreference
    from gis.errors import CRSError, SourceError

    cases = [(CRSError("x.shp has no CRS"), cim.CRSError), (SourceError("x.gpkg is truncated"), cim.SourceError),
             (InvalidIFC("a.ifc: not an IFC file"), cim.SourceError),
             (NoGeoreference("a.ifc: give --anchor"), cim.GeoreferenceError)]
    for error, expected in cases:
        mapped = to_domain(error)
        assert type(mapped) is expected and str(mapped) == str(error)


def test_an_error_of_a_subclass_the_table_does_not_list_takes_its_bases_class():
    from gis.errors import CRSError

    class DatumError(CRSError):
        pass

    assert type(to_domain(DatumError("no datum"))) is cim.CRSError


def test_other_exceptions_pass_unchanged():
    error = KeyError("x")
    assert to_domain(error) is error


def test_create_with_a_bogus_crs_raises_a_cim_crs_error(tmp_path):
    with pytest.raises(cim.CRSError, match="unknown CRS 'bogus'"):
        cim.create(tmp_path / "c.duckdb", crs="bogus")
    assert not (tmp_path / "c.duckdb").exists()


def test_a_bbox_in_a_bogus_crs_raises_a_cim_crs_error(city, tmp_path):
    city.ingest(parcels_geojson(tmp_path / "parcels.geojson"))
    with pytest.raises(cim.CRSError, match="unknown CRS"):
        city.features("parcels", bbox=(0, 0, 1, 1), bbox_crs="EPSG:999999")


def test_a_text_file_named_ifc_raises_a_cim_source_error_with_the_readers_message(city, tmp_path):
    path = tmp_path / "notes.ifc"
    path.write_text("a shopping list, not a building\n", encoding="utf-8")
    with pytest.raises(cim.SourceError, match=r"notes\.ifc: not an IFC file") as caught:
        city.ingest(path)
    assert caught.value.__cause__ is not None and type(caught.value.__cause__).__module__ == "bim.errors"
    assert city.layers.empty
