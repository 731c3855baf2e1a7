"""Putting sources into the city. One entry point, ``ingest``, dispatching on the kind of file."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cim.errors import CIMError, CRSError, SourceError
from cim.ingest.report import IngestReport, Reject
from cim.ingest.source import source_kind

if TYPE_CHECKING:
    from cim.city import City

__all__ = ["ingest", "IngestReport", "Reject"]

#: source kind → (module, function) that ingests it
_READERS = {
    "vector": ("cim.ingest.vector", "ingest_vector"),
    "raster": ("cim.ingest.raster", "ingest_raster"),
    "ifc": ("cim.ingest.ifc", "ingest_ifc"),
    "cityjson": ("cim.ingest.cityjson", "ingest_cityjson"),
}


def ingest(city: City, path: str | Path, **options: Any) -> IngestReport | list[IngestReport]:
    """Ingest any supported file: vector (list of reports, one per layer), raster, IFC, CityJSON.

    Errors from the readers come out as ``cim`` errors with the reader's message.
    """
    path = Path(path)
    kind = options.pop("kind", None) or source_kind(path)
    progress = options.pop("progress", None)
    if kind not in _READERS:
        raise SourceError(f"{path}: unknown source kind {kind!r}; use one of {', '.join(_READERS)}")
    module, name = _READERS[kind]
    function = getattr(importlib.import_module(module), name)
    if progress is not None and "progress" in inspect.signature(function).parameters:
        options["progress"] = progress
    try:
        return function(city, path, **options)
    except CIMError:
        raise
    except Exception as exc:
        translated = _translate(exc)
        if translated is exc:
            raise
        raise translated from exc


def _translate(exc: Exception) -> Exception:
    """Reader errors (gis, bim) become the matching cim error; anything else passes unchanged."""
    name = type(exc).__name__
    module = type(exc).__module__.split(".")[0]
    if module not in {"gis", "bim"}:
        return exc
    if "CRS" in name:
        return CRSError(str(exc))
    return SourceError(str(exc))
