"""One ingest pipeline for every kind of source: detect, check, lock, read, number, commit — once each.

Why: a source is one unit of work whatever its format. The pipeline tells its kind, checks the
options against that kind's options class, takes the file's checksum, and then, in one
transaction: queues behind other writers of the same layers (``lock_layers``), skips the layers
whose source is unchanged, has the kind's reader turn the rest into typed source data, streams
meshes, links buildings to parcels, moves side files into place and commits every layer's new
version (``commit_version``). A failure anywhere leaves the city as it was; a GeoPackage's
layers commit together.

Example:
    >>> ingest(city, "parcels.gpkg", phase="plan")  # doctest: +SKIP
    [IngestReport(layer='parcels', ...)]
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from cim.errors import SourceError
from cim.ingest.data import ReadContext, SourceLayer, Target
from cim.ingest.options import Options, options_for
from cim.ingest.report import IngestReport, Progress, quiet
from cim.ingest.source import checksum, file_digest, source_kind, split_gdal_name
from cim.model.meshes import write_meshes
from cim.model.reads import current_shapes
from cim.model.versions import LayerSpec, LayerState, commit_version, lock_layers

if TYPE_CHECKING:
    from cim.city import City


@dataclass(frozen=True)
class Reader:
    """A reader plugin: the layers a source fills (``plan``, cheap) and how to read one (``read``)."""

    kind: str
    plan: Callable[[Path, Any], list[Target]]
    read: Callable[[Path, Any, Target, ReadContext], SourceLayer]
    many: bool = False  # True when one source may fill several layers (the result is then a list)


#: source kind → (module, plan function, read function, may fill several layers)
_READERS = {
    "vector": ("cim.ingest.vector", "plan_vector", "read_vector_layer", True),
    "raster": ("cim.ingest.raster", "plan_raster", "read_raster", False),
    "ifc": ("cim.ingest.ifc", "plan_ifc", "read_ifc", False),
    "cityjson": ("cim.ingest.cityjson", "plan_cityjson", "read_cityjson_layer", False),
    "people": ("cim.people.ingest", "plan_people", "read_people", False),
}


def reader_for(kind: str, path: Path) -> Reader:
    """The reader plugin of a source kind (imported on first use)."""
    if kind not in _READERS:
        raise SourceError(f"{path}: unknown source kind {kind!r}; use one of {', '.join(_READERS)}")
    module_name, plan, read, many = _READERS[kind]
    module = importlib.import_module(module_name)
    return Reader(kind, getattr(module, plan), getattr(module, read), many)


def ingest(city: City, path: str | Path, *, kind: str | None = None, progress: Progress | None = None,
           **given: Any) -> IngestReport | list[IngestReport]:
    """Put one source into the city: a vector source gives a list of reports (one per layer), a
    raster, IFC or CityJSON file one report.

    ``given`` are the options of the source's kind (``cim.ingest.options``); one it does not
    take is refused before anything is read. A GeoPackage's raster table is a raster source:
    ``source_layer="dtm"``, or GDAL's name ``GPKG:city.gpkg:dtm``. An unchanged source (same file, same options) is a
    no-op that reports the current version. ``progress(message, fraction)`` hears how far it is.
    """
    path, given = split_gdal_name(path, given)
    kind = kind or source_kind(path, part=given.get("source_layer"))
    reader = reader_for(kind, path)
    options = options_for(kind, given, source=path)
    targets = reader.plan(path, options)
    digest = file_digest(path)
    sums = {t.layer: checksum(digest, {**options.checksum_items(), "source_layer": t.part}) for t in targets}
    ctx = ReadContext(city.crs, progress or quiet, lambda: city.data_dir,
                      lookup=lambda ids, point=True: current_shapes(city, ids, point=point))
    moved: list[Path] = []
    try:
        with city.store.transaction():
            states = lock_layers(city, list(sums))
            reports = []
            for t in targets:
                try:
                    reports.append(_ingest_layer(city, path, reader, options, t, sums[t.layer], states[t.layer],
                                                 ctx, moved))
                except SourceError as exc:
                    if len(targets) < 2:
                        raise
                    raise type(exc)(f"{exc}. {_one_layer_at_a_time(path, targets, t)}") from exc
    except BaseException:
        for file in moved:
            file.unlink(missing_ok=True)
        raise
    finally:
        ctx.cleanup()
    return reports if reader.many else reports[0]


def _ingest_layer(city: City, path: Path, reader: Reader, options: Options, target: Target, digest: str,
                  state: LayerState, ctx: ReadContext, moved: list[Path]) -> IngestReport:
    """Read and commit one target layer (inside the transaction, holding its lock)."""
    report = IngestReport(layer=target.layer, source=str(path), kind=reader.kind)
    if state.checksum == digest:
        report.unchanged, report.version = True, state.version
        report.notes.append("source unchanged since the last ingest: nothing to do")
        return report
    data = reader.read(path, options, target, ctx)
    version = state.next_version
    if data.meshes is not None:
        _store_meshes(city, data, version, ctx.progress)
    data.complete()
    _link_parcels(city, data, report)
    _fill(report, data)
    _refuse_when_all_rejected(path, report)
    for key, file in data.side_files.items():
        placed = city.data_dir / f"{target.layer}.v{version}{file.suffix}"
        os.replace(file, placed)
        moved.append(placed)
        data.properties[key] = placed.name
    if data.profile is not None:
        data.properties["profile"] = data.profile.to_json()
    spec = LayerSpec(name=target.layer, kind=data.kind, phase=options.phase, classification=options.classification,
                     feature_class=data.feature_class, source=str(path), source_crs=data.source_crs, checksum=digest,
                     fields=data.fields, properties=data.properties)
    if data.features is None:
        raise RuntimeError(f"the {reader.kind} reader left layer {target.layer} without features")
    ctx.progress(f"{target.layer}: writing {data.features.num_rows:,} features", 0.9)
    return commit_version(city, spec, version, data.features, report, attributes=data.attributes)


def _store_meshes(city: City, data: SourceLayer, version: int, progress: Progress) -> None:
    layer, total = data.target.layer, max(1, data.mesh_total)

    def said(done: int) -> None:
        progress(f"{layer}: {done:,} meshes", min(0.9, 0.05 + 0.85 * done / total))

    write_meshes(city, data.meshes or (), layer, version, progress=said)


def _link_parcels(city: City, data: SourceLayer, report: IngestReport) -> None:
    """Features that asked for it get the current parcel under most of their footprint as parent."""
    if data.parcel_links is None:
        return
    from cim.ingest.ifc import parcel_under

    found = {fid: parcel_under(city, footprint) for fid, footprint in data.parcel_links.items()}
    report.extra["buildings"] = found
    links = {fid: parcel for fid, parcel in found.items() if parcel}
    if links and data.features is not None and "parent" in data.features.column_names:
        table = data.features
        parents = [links.get(fid, parent) for fid, parent in
                   zip(table.column("id").to_pylist(), table.column("parent").to_pylist(), strict=True)]
        data.features = table.set_column(table.column_names.index("parent"), "parent",
                                          pa.array(parents, pa.string()))


def _fill(report: IngestReport, data: SourceLayer) -> None:
    report.read, report.repaired, report.source_crs = data.read, data.repaired, data.source_crs
    report.rejects, report.rejected = list(data.rejects), len(data.rejects)
    report.notes += data.notes
    report.extra.update(data.extra)


def _one_layer_at_a_time(path: Path, targets: list[Target], failed: Target) -> str:
    """What to do when one layer of a multi-layer source cannot go in: the source goes in whole or
    not at all, and each of its other layers can go in on its own."""
    others = [t.part or t.layer for t in targets if t is not failed]
    shown = ", ".join(others[:8]) + (f" … ({len(others)} in all)" if len(others) > 8 else "")
    return (f"{path.name} holds {len(targets)} layers and goes in whole or not at all: ingest the others one at "
            f"a time with --source-layer NAME (source_layer=), each then going in or refused on its own: {shown}")


def _refuse_when_all_rejected(path: Path, report: IngestReport, shown: int = 3) -> None:
    """A source none of whose rows could be stored is an error, not an empty new version."""
    if not report.read or report.rejected < report.read:
        return
    reasons = {r.reason for r in report.rejects}
    if len(reasons) == 1:  # one reason for every row (the whole source lies outside the city's area): said once
        rows = ", ".join(r.row for r in report.rejects[:shown])
        label = "row" if report.rejected == 1 else "rows"
        why = f"{label} {rows}{f' … of {report.rejected:,}' if report.rejected > shown else ''}: {reasons.pop()}"
    else:
        first = "; ".join(f"row {r.row}: {r.reason}" for r in report.rejects[:shown])
        why = first + (f" (first {shown} of {report.rejected:,})" if report.rejected > shown else "")
    every = "the one row" if report.read == 1 else f"all {report.read:,} rows"
    raise SourceError(f"{path.name}: {every} of layer {report.layer} {'was' if report.read == 1 else 'were'} "
                      f"rejected, so nothing was stored and the city is unchanged — {why}; see the reasons and "
                      "fix the source")


__all__ = ["Reader", "ingest", "reader_for"]
