"""Putting sources into the city: one pipeline (``ingest``), one reader plugin per kind of file.

Each kind (vector, raster, ifc, cityjson) declares its options in ``cim.ingest.options`` and reads
files into typed source data (``cim.ingest.data``); ``cim.ingest.pipeline.ingest`` does the rest.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from cim.ingest.report import IngestReport, Reject

if TYPE_CHECKING:
    from cim.city import City

__all__ = ["ingest", "IngestReport", "Reject"]


def ingest(city: City, path: str | Path, **options: Any) -> IngestReport | list[IngestReport]:
    """Ingest any supported file: vector (list of reports, one per layer), raster, IFC, CityJSON.

    See ``cim.ingest.pipeline.ingest``.
    """
    from cim.ingest.pipeline import ingest as run

    return run(city, path, **options)
