"""Every vector layer of the city as GeoParquet 1.1, for engines that read a city at cluster scale.

Why: dask-geopandas, Apache Sedona, Spark, BigQuery and DuckDB itself read GeoParquet directly,
in parallel and with pruning; a city file needs one process to read it. The export writes each
layer's current features (or the features as they were at ``as_of``) with a ``bbox`` covering
column, rows in Hilbert order of their bbox centres, so row-group statistics and the Hive
partitions of a large layer let an engine skip what a query cannot touch.

Layout of ``DIR`` (see docs/geoparquet.md):

    DIR/<layer>.parquet                         a layer of at most ``partition_rows`` features
    DIR/<layer>/cell=<N>/part-0.parquet         a larger layer, one folder per Hilbert cell

A cell is one of the ``4 ** level`` equal rectangles of the extent of the layer's bbox centres,
numbered along a Hilbert curve; ``level`` is the smallest whose fullest cell holds at most
``partition_rows`` rows. Features without a geometry sit in cell ``4 ** level``.

Only the store interface (``city.features``) is used, so the export reads any store backend.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import shapely

from cim.errors import CIMError, ValidationError

if TYPE_CHECKING:
    from cim.city import City

#: layers with more features than this are Hive-partitioned by Hilbert cell
DEFAULT_PARTITION_ROWS = 500_000
#: rows per Parquet row group: each carries min/max statistics of the bbox column
ROW_GROUP_ROWS = 65_536
#: bits per axis of the Hilbert index used to sort rows
HILBERT_BITS = 16
#: the deepest partition level (4 ** 8 cells); a layer whose points pile up stops splitting here
MAX_LEVEL = 8
#: property fields that cannot become typed columns because the export uses the name
_OWN_COLUMNS = {"bbox", "cell", "geometry"}
_TYPE_NAMES = {
    0: "Point",
    1: "LineString",
    2: "LineString",
    3: "Polygon",
    4: "MultiPoint",
    5: "MultiLineString",
    6: "MultiPolygon",
    7: "GeometryCollection",
}
_COVERING = {"bbox": {key: ["bbox", key] for key in ("xmin", "ymin", "xmax", "ymax")}}


@dataclass
class LayerWritten:
    """One exported layer: where it went and how many rows were read from the city and written."""

    layer: str
    path: Path
    rows_read: int
    rows_written: int
    files: int
    bytes: int
    level: int | None  # Hilbert partition level, None for a single file


@dataclass
class GeoParquetExport:
    """What ``export_geoparquet`` wrote, and which layers it left out and why."""

    directory: Path
    layers: list[LayerWritten] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        """Rows written over all layers."""
        return sum(w.rows_written for w in self.layers)

    @property
    def bytes(self) -> int:
        """Bytes written over all layers."""
        return sum(w.bytes for w in self.layers)

    def lines(self) -> list[str]:
        """For people: one line per layer written (rows read and written, files, MB), one per skip."""
        lines = []
        for w in self.layers:
            cells = f" ({w.files} Hilbert cells at level {w.level})" if w.level is not None else ""
            lines.append(
                f"{w.layer}: read {w.rows_read}, wrote {w.rows_written} rows in {w.files} "
                f"file{'s' if w.files != 1 else ''}{cells}, {w.bytes / 1e6:.2f} MB -> {w.path}"
            )
        return lines + [f"{name}: skipped, {why}" for name, why in self.skipped.items()]


def export_geoparquet(
    city: City,
    directory: str | Path,
    *,
    layers: list[str] | None = None,
    as_of: datetime | str | None = None,
    partition_rows: int = DEFAULT_PARTITION_ROWS,
    overwrite: bool = False,
) -> GeoParquetExport:
    """Write ``layers`` (default: every layer with features) as GeoParquet 1.1 files under ``directory``.

    Columns: the feature columns (id, layer, class, name, cim_level, lod, phase, z_min, z_max,
    height, parent, classification, version, valid_from, valid_to), ``properties`` (all of them,
    as JSON), each of the layer's fields as a typed column, ``bbox`` and ``geometry`` (WKB in the
    city CRS, given as PROJJSON). Raster layers are skipped and listed in ``skipped``. The folder
    appears whole or not at all: it is written beside ``directory`` and renamed at the end.

    Example:
        >>> export_geoparquet(city, "qingdao-parquet", layers=["buildings", "parcels"])  # doctest: +SKIP
        >>> dask_geopandas.read_parquet("qingdao-parquet/buildings.parquet")          # doctest: +SKIP
    """
    start = time.perf_counter()
    if partition_rows < 1:
        raise ValidationError(f"partition_rows must be at least 1, not {partition_rows}")
    out = Path(directory)
    if out.exists() and not out.is_dir():
        raise ValidationError(f"{out} is a file, not a folder: choose a folder to write the layers into")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise ValidationError(f"{out} exists and is not empty: choose another folder or pass --overwrite")
    report = GeoParquetExport(out)
    names = _layers_to_write(city, layers, report.skipped)
    crs = _projjson(city.crs)
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.mkdir(parents=True)
    try:
        for name in names:
            table = city.features(name, as_of=as_of, output="arrow")
            if table.num_rows == 0:
                report.skipped[name] = "no features" + (f" at {as_of}" if as_of else "")
                continue
            written = _write_layer(name, _prepared(table), tmp, crs, partition_rows)
            if written.rows_written != written.rows_read:
                raise CIMError(f"{name}: read {written.rows_read} rows but wrote {written.rows_written}")
            report.layers.append(written)
        if not report.layers:
            raise ValidationError(f"nothing to export from {city.location}: " + _skipped_text(report.skipped))
        _replace(out, tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for written in report.layers:
        written.path = out / written.path.relative_to(tmp)
    report.seconds = round(time.perf_counter() - start, 3)
    return report


def _replace(out: Path, tmp: Path) -> None:
    """Put the written folder in place: an old export is moved aside first and removed after."""
    if not out.exists():
        tmp.rename(out)
        return
    old = tmp.with_suffix(".old")
    out.rename(old)
    try:
        tmp.rename(out)
    except BaseException:
        old.rename(out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _layers_to_write(city: City, layers: list[str] | None, skipped: dict[str, str]) -> list[str]:
    """The named layers (each must exist) or all of them; raster layers go to ``skipped``, and so do
    ``secret`` layers (residents: read only through ``cim people``, masked and audited)."""
    if layers:
        kinds = {name: city.layer(name)["kind"] for name in dict.fromkeys(layers)}
    else:
        kinds = dict(city.store.rows("SELECT name, kind FROM layers ORDER BY name"))
        if not kinds:
            raise ValidationError(f"{city.location} has no layers yet: ingest a source first")
    secret = {r[0] for r in city.store.rows("SELECT name FROM layers WHERE classification = 'secret'")}
    for name, kind in kinds.items():
        if kind == "raster":
            skipped[name] = "raster layer (its Cloud-Optimised GeoTIFF is already cluster-readable)"
        elif name in secret:
            skipped[name] = "secret layer (people: read it with `cim people list`, masked and audited)"
    return [name for name in kinds if name not in skipped]


def _skipped_text(skipped: dict[str, str]) -> str:
    return "; ".join(f"{name}: {why}" for name, why in skipped.items()) or "no layers"


def _projjson(crs: str) -> dict[str, Any]:
    from pyproj import CRS

    return CRS(crs).to_json_dict()


def _prepared(table: pa.Table) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """Rows in Hilbert order with a ``bbox`` struct and plain-WKB ``geometry``; their keys and types."""
    wkb = table["geom"].to_numpy(zero_copy_only=False)
    geoms = shapely.from_wkb(wkb)
    bounds = shapely.bounds(geoms)
    missing = np.isnan(bounds).any(axis=1)
    key = _hilbert_of_centres(bounds, missing)
    order = np.argsort(key, kind="stable")
    drop = [name for name in table.schema.names if name == "geom" or name.lower() in _OWN_COLUMNS]
    box = pa.StructArray.from_arrays(
        [pa.array(bounds[:, i], mask=missing) for i in range(4)],
        names=["xmin", "ymin", "xmax", "ymax"],
        mask=pa.array(missing),
    )
    out = (
        table.drop_columns(drop)
        .append_column("bbox", box)
        .append_column(pa.field("geometry", pa.binary()), pa.array(wkb, pa.binary()))
    )
    return out.take(pa.array(order)), key[order], _type_names(geoms)[order]


def _type_names(geoms: np.ndarray) -> np.ndarray:
    """GeoParquet's name of each geometry's type (``"Polygon"``, ``"Point Z"``), None when missing."""
    names = np.array([None] + [_TYPE_NAMES.get(i % 8, "") + (" Z" if i >= 8 else "") for i in range(16)], dtype=object)
    code = np.where(shapely.is_missing(geoms), -1, shapely.get_type_id(geoms) + 8 * shapely.has_z(geoms))
    return names[code + 1]


def _hilbert_of_centres(bounds: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Hilbert index of each bbox centre over the layer's extent; rows without geometry sort last."""
    key = np.full(len(bounds), 1 << (2 * HILBERT_BITS), dtype=np.int64)
    if missing.all():
        return key
    good = bounds[~missing]
    cx, cy = (good[:, 0] + good[:, 2]) / 2, (good[:, 1] + good[:, 3]) / 2
    side = (1 << HILBERT_BITS) - 1
    key[~missing] = _hilbert_index(_scaled(cx, side), _scaled(cy, side), HILBERT_BITS)
    return key


def _scaled(values: np.ndarray, side: int) -> np.ndarray:
    low, span = values.min(), values.max() - values.min()
    if span <= 0:
        return np.zeros(len(values), dtype=np.int64)
    return np.clip(((values - low) / span * side).astype(np.int64), 0, side)


def _hilbert_index(x: np.ndarray, y: np.ndarray, bits: int) -> np.ndarray:
    """Distance along the Hilbert curve of integer cells (``0 <= x, y < 2 ** bits``), vectorised."""
    x, y = x.astype(np.int64).copy(), y.astype(np.int64).copy()
    n = 1 << bits
    d = np.zeros(len(x), dtype=np.int64)
    s = n >> 1
    while s > 0:
        rx, ry = (x & s) > 0, (y & s) > 0
        d += s * s * ((3 * rx.astype(np.int64)) ^ ry.astype(np.int64))
        flip = ~ry & rx
        x = np.where(flip, n - 1 - x, x)
        y = np.where(flip, n - 1 - y, y)
        swap = ~ry
        x, y = np.where(swap, y, x), np.where(swap, x, y)
        s >>= 1
    return d


def _write_layer(
    name: str, prepared: tuple[pa.Table, np.ndarray, np.ndarray], root: Path, crs: dict[str, Any], partition_rows: int
) -> LayerWritten:
    """One file, or one file per Hilbert cell when the layer has more than ``partition_rows`` rows."""
    table, key, types = prepared
    if table.num_rows <= partition_rows:
        path = root / f"{name}.parquet"
        _write_file(table, path, crs, types)
        return LayerWritten(name, path, table.num_rows, *_written([path]), None)
    level = _partition_level(key, partition_rows)
    cells = key >> (2 * (HILBERT_BITS - level))
    starts = np.flatnonzero(np.r_[True, cells[1:] != cells[:-1]])
    paths = []
    for start, stop in zip(starts, [*starts[1:], len(cells)], strict=True):
        path = root / name / f"cell={int(cells[start])}" / "part-0.parquet"
        path.parent.mkdir(parents=True)
        _write_file(table.slice(start, stop - start), path, crs, types[start:stop])
        paths.append(path)
    return LayerWritten(name, root / name, table.num_rows, *_written(paths), level)


def _partition_level(key: np.ndarray, partition_rows: int) -> int:
    """The smallest Hilbert level whose fullest cell holds at most ``partition_rows`` rows."""
    located = key[key < (1 << (2 * HILBERT_BITS))]
    for level in range(1, MAX_LEVEL + 1):
        counts = np.bincount(located >> (2 * (HILBERT_BITS - level)))
        if counts.size == 0 or counts.max() <= partition_rows:
            return level
    return MAX_LEVEL


def _written(paths: list[Path]) -> tuple[int, int, int]:
    """Rows (read back from the Parquet footers), files and bytes of the written files."""
    rows = sum(pq.read_metadata(p).num_rows for p in paths)
    return rows, len(paths), sum(p.stat().st_size for p in paths)


def _write_file(table: pa.Table, path: Path, crs: dict[str, Any], types: np.ndarray) -> None:
    """One GeoParquet 1.1 file with its ``geo`` metadata (types, bbox, CRS, bbox covering)."""
    column: dict[str, Any] = {"encoding": "WKB", "geometry_types": sorted(set(types.tolist()) - {None})}
    box = table["bbox"]
    if box.null_count < len(box):
        low = pc.min_max(pc.struct_field(box, "xmin"))["min"], pc.min_max(pc.struct_field(box, "ymin"))["min"]
        high = pc.min_max(pc.struct_field(box, "xmax"))["max"], pc.min_max(pc.struct_field(box, "ymax"))["max"]
        column["bbox"] = [v.as_py() for v in (*low, *high)]
    column.update(crs=crs, covering=_COVERING)
    geo = {"version": "1.1.0", "primary_column": "geometry", "columns": {"geometry": column}}
    metadata = {**(table.schema.metadata or {}), b"geo": json.dumps(geo).encode("utf-8")}
    pq.write_table(
        table.replace_schema_metadata(metadata),
        path,
        compression="zstd",
        row_group_size=ROW_GROUP_ROWS,
        write_statistics=True,
    )


__all__ = ["export_geoparquet", "GeoParquetExport", "LayerWritten"]
