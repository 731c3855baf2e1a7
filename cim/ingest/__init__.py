"""Putting sources into the city. One entry point, ``ingest``, dispatching on the kind of file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from cim.errors import CIMError, CRSError, SourceError
from cim.ingest.report import IngestReport, Reject
from cim.ingest.source import source_kind

if TYPE_CHECKING:
    from cim.city import City

__all__ = ["ingest", "IngestReport", "Reject"]


def ingest(city: City, path: str | Path, **options: Any) -> IngestReport | list[IngestReport]:
    """Ingest any supported file: vector (list of reports, one per layer), raster, IFC, CityJSON.

    Errors from the readers come out as ``cim`` errors with the reader's message.
    """
    path = Path(path)
    kind = options.pop("kind", None) or source_kind(path)
    try:
        if kind == "vector":
            from cim.ingest.vector import ingest_vector

            return ingest_vector(city, path, **options)
        if kind == "raster":
            from cim.ingest.raster import ingest_raster

            return ingest_raster(city, path, **options)
        if kind == "ifc":
            from cim.ingest.ifc import ingest_ifc

            return ingest_ifc(city, path, **options)
        if kind == "cityjson":
            from cim.ingest.cityjson import ingest_cityjson

            return ingest_cityjson(city, path, **options)
    except CIMError:
        raise
    except Exception as exc:
        translated = _translate(exc)
        if translated is exc:
            raise
        raise translated from exc
    raise SourceError(f"{path}: unknown source kind {kind!r}")


def _translate(exc: Exception) -> Exception:
    """Reader errors (gis, bim) become the matching cim error; anything else passes unchanged."""
    name = type(exc).__name__
    module = type(exc).__module__.split(".")[0]
    if module not in {"gis", "bim"}:
        return exc
    if "CRS" in name:
        return CRSError(str(exc))
    return SourceError(str(exc))
