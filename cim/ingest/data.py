"""What a reader hands the ingest pipeline: typed source data, and the little it is given to read with.

Why: readers only read. They turn a file into Arrow feature tables (plus attribute tables for the
fast JSON path), a mesh stream, rejects and catalogue facts; the pipeline alone checks, locks,
numbers and commits (``cim.ingest.pipeline``). A reader that writes nothing can be tested, timed
and replaced on its own.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from cim.ingest.report import Progress, Reject, quiet
from cim.model.meshes import StoredMesh
from cim.model.profile import LayerProfile


@dataclass(frozen=True)
class Target:
    """One layer a source fills: the city layer's name, and the part of the source it comes from
    (a GeoPackage's layer; None for single-layer sources)."""

    layer: str
    part: str | None = None


@dataclass
class SourceLayer:
    """One layer's worth of a source, read and checked, in the city CRS, not yet stored.

    ``features`` has the columns of ``cim.model.versions.FEATURE_COLUMNS`` (``id``, ``class`` and
    ``geom`` at least). ``attributes`` (same rows) become each feature's ``properties`` inside the
    database. ``meshes`` is a stream the pipeline stores inside its transaction; when features can
    only be built once that stream is drained (an IFC's footprints come from its meshes),
    ``finish`` builds them then. ``profile`` says what the layer is (stored in the catalogue).
    ``parcel_links`` (feature id → footprint) asks the pipeline to set
    those features' parent to the current parcel under most of the footprint. ``side_files``
    (catalogue property → file) are moved beside the city under the new version's name.
    """

    target: Target
    kind: str  # the layer kind recorded in the catalogue: vector, raster, bim, cityjson
    feature_class: str | None = None
    features: pa.Table | None = None
    attributes: pa.Table | None = None
    read: int = 0
    repaired: int = 0
    rejects: list[Reject] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    source_crs: str | None = None
    fields: list[dict[str, str]] = field(default_factory=list)
    properties: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    profile: LayerProfile | None = None
    meshes: Iterable[StoredMesh] | None = None
    mesh_total: int = 0
    finish: Callable[[SourceLayer], None] | None = None
    parcel_links: dict[str, Any] | None = None
    side_files: dict[str, Path] = field(default_factory=dict)

    def reject(self, source: str, row: object, reason: str) -> None:
        """Record a refused row (1-based row number, or GlobalId) and why."""
        self.rejects.append(Reject(source, str(row), reason))

    def complete(self) -> None:
        """Run what waits for the mesh stream, once."""
        if self.finish is not None:
            finish, self.finish = self.finish, None
            finish(self)


class ReadContext:
    """What a reader is given besides the file and its options: the city's CRS, a progress
    callback, a read-only look-up of features already in the city, and (on request) a scratch
    folder on the city's side-file disk that the pipeline removes afterwards."""

    def __init__(self, city_crs: str, progress: Progress = quiet,
                 scratch_root: Callable[[], Path] | None = None,
                 lookup: Callable[..., dict[str, bytes | None]] | None = None) -> None:
        self.city_crs = city_crs
        self.progress = progress
        #: ``lookup(ids, point=True)``: the current features among ``ids`` → their shape (WKB; a point
        #: on it when ``point``), for readers that link rows to features already in the city
        self.lookup = lookup
        #: what the ingest has said once for the whole source (e.g. the GeoPackage tables it leaves out)
        self.said: set[str] = set()
        self._root = scratch_root
        self._scratch: Path | None = None

    def scratch(self) -> Path:
        """A fresh folder for files the reader makes (e.g. a COG), on the same disk as the city's."""
        if self._scratch is None:
            root = self._root() if self._root is not None else None
            if root is not None:
                root.mkdir(parents=True, exist_ok=True)
            self._scratch = Path(tempfile.mkdtemp(prefix=".incoming-", dir=root))
        return self._scratch

    def cleanup(self) -> None:
        """Remove the scratch folder and whatever is left in it."""
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None


__all__ = ["Target", "SourceLayer", "ReadContext"]
