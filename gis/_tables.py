"""Readers that go through pyarrow rather than GDAL: CSV with geometry columns, and GeoParquet.

Why: the GDAL in the pyogrio wheel has no Parquet driver, and its CSV driver reads every column
as text; pyarrow reads both faster, infers column types, and keeps GeoParquet metadata.
"""

from __future__ import annotations

import codecs
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pyproj
import shapely

from gis._shapefile import check_codec, guess_encoding
from gis._sources import truncated
from gis.crs import parse_crs
from gis.errors import CRSError, SourceError

_WKT_NAMES = ("wkt", "geometry", "geom", "the_geom", "wkb_geometry", "shape")
_X_NAMES = ("lon", "lng", "long", "longitude", "x", "经度")
_Y_NAMES = ("lat", "latitude", "y", "纬度")
_HEX_WKB = re.compile(r"^\s*(00|01)[0-9A-Fa-f]{8,}\s*$")
_UNREADABLE = b""  # check_and_repair reports an empty WKB as "unreadable geometry"


def read_csv(path: Path, *, encoding: str | None, wkt_column: str | None, x_column: str | None,
             y_column: str | None) -> tuple[pa.Table, str]:
    """(table with a WKB ``geometry`` column, encoding used) from a CSV with WKT or x/y columns."""
    codec = check_codec(encoding) if encoding else "utf8"
    if encoding is None:
        _require_utf8(path)
    try:
        table = pacsv.read_csv(path, read_options=pacsv.ReadOptions(encoding=codec))
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise SourceError(f"{path.name} cannot be read as CSV: {_first_line(exc)}") from exc
    names = {name.strip().lower(): name for name in table.column_names}
    if wkt_column or not (x_column or y_column):
        column = wkt_column or _first(names, _WKT_NAMES)
        if column is not None:
            return _with_wkt(path, table, column), codec.upper().replace("UTF8", "UTF-8")
    return _with_points(path, table, names, x_column, y_column), codec.upper().replace("UTF8", "UTF-8")


def _require_utf8(path: Path, chunk: int = 1 << 24) -> None:
    """Refuse a CSV whose bytes are not UTF-8, naming the likely encoding (a BOM is fine)."""
    decoder, offset = codecs.getincrementaldecoder("utf-8")(), 0
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            try:
                decoder.decode(block)
                offset += len(block)
            except UnicodeDecodeError as exc:
                lines = [line for line in block[max(exc.start - 4096, 0): exc.start + 4096].splitlines()
                         if any(b >= 0x80 for b in line)]
                guess = guess_encoding(lines[1:-1] or lines)
                raise SourceError(
                    f"{path.name}: its text is not UTF-8 (first bad byte at offset {offset + exc.start}); "
                    f"it looks like "
                    f"{guess}: pass --encoding {guess} (encoding='{guess}')"
                ) from exc


def _first(names: dict[str, str], candidates: tuple[str, ...]) -> str | None:
    return next((names[c] for c in candidates if c in names), None)


def _column(path: Path, table: pa.Table, name: str) -> pa.ChunkedArray:
    if name not in table.column_names:
        columns = ", ".join(table.column_names)
        raise SourceError(f"{path.name} has no column '{name}'; its columns are: {columns}")
    return table.column(name)


def _with_wkt(path: Path, table: pa.Table, name: str) -> pa.Table:
    text = _column(path, table, name).cast(pa.string()).to_numpy(zero_copy_only=False)
    present = np.array([isinstance(v, str) and bool(v.strip()) for v in text], dtype=bool)
    first = text[present][0] if present.any() else ""
    if present.any() and _HEX_WKB.match(first):
        geoms = shapely.from_wkb(np.where(present, text, None), on_invalid="ignore")
    else:
        geoms = shapely.from_wkt(np.where(present, text, None), on_invalid="ignore")
    readable = ~shapely.is_missing(geoms)
    if present.any() and not readable.any():
        shown = first if len(first) < 60 else first[:57] + "..."
        raise SourceError(
            f"column '{name}' of {path.name} holds no WKT geometry (row 1: {shown!r}): "
            "name the geometry column with --wkt-column, or the coordinates with --x-column/--y-column"
        )
    wkb = shapely.to_wkb(geoms)
    wkb[present & ~readable] = _UNREADABLE
    return table.drop_columns([name]).append_column(
        pa.field("geometry", pa.binary()), pa.array(wkb, pa.binary()))


def _with_points(path: Path, table: pa.Table, names: dict[str, str], x_column: str | None,
                 y_column: str | None) -> pa.Table:
    x_name, y_name = x_column or _first(names, _X_NAMES), y_column or _first(names, _Y_NAMES)
    if x_name is None or y_name is None:
        raise SourceError(
            f"{path.name} has no geometry column: found neither a WKT column ({', '.join(_WKT_NAMES)}) "
            f"nor lon/lat columns; columns are: {', '.join(table.column_names)}. "
            "Name them with --wkt-column or --x-column and --y-column"
        )
    x, y = (_numbers(path, _column(path, table, n), n) for n in (x_name, y_name))
    geoms = shapely.points(np.nan_to_num(x, nan=0.0), np.nan_to_num(y, nan=0.0))
    geoms[np.isnan(x) | np.isnan(y)] = None
    values = shapely.to_wkb(geoms)
    return table.append_column(pa.field("geometry", pa.binary()), pa.array(values, pa.binary()))


def _numbers(path: Path, column: pa.ChunkedArray, name: str) -> np.ndarray:
    try:
        return column.cast(pa.float64()).to_numpy(zero_copy_only=False).astype(float)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise SourceError(f"column '{name}' of {path.name} is not numeric ({_first_line(exc)})") from exc


def read_geoparquet(path: Path) -> tuple[pa.Table, pa.ChunkedArray, pyproj.CRS | None]:
    """(attributes, WKB geometry column, CRS) of a GeoParquet 1.0/1.1/2.0-dev file.

    CRS rules of the spec: no ``crs`` key means OGC:CRS84; ``"crs": null`` means unknown (None).
    """
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise truncated(path, _first_line(exc)) from exc
    raw = (table.schema.metadata or {}).get(b"geo")
    if raw is None:
        return _plain_parquet(path, table)
    try:
        geo = json.loads(raw)
        primary = geo["primary_column"]
        meta = geo["columns"][primary]
    except (ValueError, KeyError, TypeError) as exc:
        raise SourceError(f"{path.name} has unreadable GeoParquet 'geo' metadata: {exc}") from exc
    wkb = _to_wkb(path, table.column(primary), str(meta.get("encoding", "WKB")).lower())
    drop = [primary] + _covering_columns(meta)
    return table.drop_columns([c for c in drop if c in table.column_names]), wkb, _geo_crs(path, meta)


def _plain_parquet(path: Path, table: pa.Table) -> tuple[pa.Table, pa.ChunkedArray, None]:
    for name in ("geometry", "geom", "wkb_geometry", "wkb"):
        if name in table.column_names and pa.types.is_binary(_storage(table.column(name).type)):
            return table.drop_columns([name]), _to_wkb(path, table.column(name), "wkb"), None
    raise SourceError(
        f"{path.name} is plain Parquet: it has no GeoParquet 'geo' metadata and no WKB 'geometry' "
        "column. Write it with GeoPandas .to_parquet(), GDAL or DuckDB COPY … (FORMAT parquet)"
    )


def _geo_crs(path: Path, meta: dict[str, Any]) -> pyproj.CRS | None:
    if "crs" not in meta:
        return pyproj.CRS.from_user_input("OGC:CRS84")
    value = meta["crs"]
    if value is None:
        return None
    try:
        return pyproj.CRS.from_json_dict(value) if isinstance(value, dict) else parse_crs(value)
    except (pyproj.exceptions.CRSError, CRSError) as exc:
        raise CRSError(f"{path.name}: the GeoParquet CRS cannot be read ({_first_line(exc)})") from exc


def _covering_columns(meta: dict[str, Any]) -> list[str]:
    bbox = (meta.get("covering") or {}).get("bbox") or {}
    return sorted({path[0] for path in bbox.values() if isinstance(path, list) and path})


def _storage(kind: pa.DataType) -> pa.DataType:
    return kind.storage_type if isinstance(kind, pa.ExtensionType) else kind


def _to_wkb(path: Path, column: pa.ChunkedArray, encoding: str) -> pa.ChunkedArray:
    chunks = [c.storage if isinstance(c, pa.ExtensionArray) else c for c in column.chunks]
    if encoding == "wkb":
        return pa.chunked_array([c.cast(pa.binary()) for c in chunks], pa.binary())
    if encoding not in _NATIVE:
        raise SourceError(f"{path.name}: unsupported GeoParquet geometry encoding '{encoding}'")
    return pa.chunked_array([_native_to_wkb(c, encoding) for c in chunks], pa.binary())


_NATIVE = {"point": 0, "linestring": 1, "multipoint": 1, "polygon": 2, "multilinestring": 2,
           "multipolygon": 3}


def _native_to_wkb(chunk: pa.Array, encoding: str) -> pa.Array:
    """GeoArrow native (point/linestring/polygon/multi*) to WKB via ``shapely.from_ragged_array``."""
    offsets, inner = [], chunk
    for _ in range(_NATIVE[encoding]):
        offsets.append(np.asarray(inner.offsets))
        inner = inner.values
    coords = _coords(inner)
    kind = shapely.GeometryType[encoding.upper()]
    geoms = shapely.from_ragged_array(kind, coords, tuple(reversed(offsets)) or None)
    geoms[np.asarray(chunk.is_null())] = None
    return pa.array(shapely.to_wkb(geoms), pa.binary())


def _coords(inner: pa.Array) -> np.ndarray:
    if pa.types.is_struct(inner.type):
        names = [inner.type.field(i).name for i in range(inner.type.num_fields)]
        keep = [n for n in ("x", "y", "z") if n in names]
        return np.column_stack([np.asarray(inner.field(n)) for n in keep])
    width = inner.type.list_size
    values = np.asarray(inner.flatten()).reshape(-1, width)
    dims = inner.type.value_field.name.lower()
    return values[:, :3] if "z" in dims and width >= 3 else values[:, :2]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
