"""Values between Arrow/Python and PostgreSQL's forms, for ``cim.store.postgis``: the Arrow type of
each PostgreSQL type, WKB as PostGIS sends it, parameters, and COPY's CSV and JSON text.

Why apart: the store is connections, transactions and SQL; these are pure functions of values,
testable and readable without a database.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa

GEOARROW = {b"ARROW:extension:name": b"geoarrow.wkb", b"ARROW:extension:metadata": b"{}"}
_UTC = pa.timestamp("us", tz="UTC")
#: PostgreSQL type oid → Arrow type (geometry is looked up per database)
ARROW_TYPES = {
    16: pa.bool_(), 17: pa.binary(), 18: pa.string(), 19: pa.string(), 20: pa.int64(), 21: pa.int16(),
    23: pa.int32(), 25: pa.string(), 114: pa.string(), 700: pa.float32(), 701: pa.float64(),
    1043: pa.string(), 1082: pa.date32(), 1114: pa.timestamp("us"), 1184: _UTC, 1700: pa.float64(),
    3802: pa.string(), 1042: pa.string(), 2950: pa.string(),
    # arrays (meshes.color is REAL[4]) as Arrow lists, not as text
    1000: pa.list_(pa.bool_()), 1005: pa.list_(pa.int16()), 1007: pa.list_(pa.int32()),
    1016: pa.list_(pa.int64()), 1021: pa.list_(pa.float32()), 1022: pa.list_(pa.float64()),
    1009: pa.list_(pa.string()), 1015: pa.list_(pa.string()),
}


#: a point of a little-endian MultiPoint's WKB: byte order, type, x, y
_WKB_POINT = np.dtype({"names": ["order", "type", "x", "y"], "formats": ["u1", "<u4", "<f8", "<f8"],
                       "offsets": [0, 1, 5, 13], "itemsize": 21})


def multipoint_xy(wkb: bytes | None, count: int) -> tuple[np.ndarray, np.ndarray] | None:
    """x and y of a little-endian 2D MultiPoint's ``count`` points (an empty point's are NaN), or
    None when the WKB is anything else."""
    if wkb is None or len(wkb) != 9 + 21 * count:
        return None
    head = np.frombuffer(wkb, dtype="<u4", count=2, offset=1)
    if wkb[0] != 1 or head[0] != 4 or head[1] != count:
        return None
    points = np.frombuffer(wkb, dtype=_WKB_POINT, count=count, offset=9)
    if count and ((points["order"] != 1).any() or (points["type"] != 1).any()):
        return None
    return points["x"].copy(), points["y"].copy()


def ewkb_to_wkb(raw: bytes) -> bytes:
    """PostGIS EWKB (SRID or Z/M flag bits) as ISO WKB; plain 2D WKB is returned as it is."""
    if len(raw) < 5:
        return raw
    order = "little" if raw[0] == 1 else "big"
    code = int.from_bytes(raw[1:5], order)
    if code & 0xE0000000 == 0:
        return raw
    import shapely

    return shapely.to_wkb(shapely.from_wkb(raw), flavor="iso", include_srid=False)


def param(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, (list, tuple)):
        return [param(v) for v in value]
    return value


def plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return value


def csv_column(column: pa.ChunkedArray, *, wkb: bool) -> pa.Array | pa.ChunkedArray:
    """A column as COPY's CSV reads it: WKB as hex, bytea as ``\\x`` hex, arrays as ``{…}``, JSON as text."""
    t = column.type
    if pa.types.is_dictionary(t):
        column, t = column.cast(t.value_type), t.value_type
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        prefix = "" if wkb else "\\x"
        return pa.array([None if v is None else prefix + v.hex() for v in column.to_pylist()], pa.string())
    if pa.types.is_list(t) or pa.types.is_fixed_size_list(t) or pa.types.is_large_list(t):
        return pa.array([None if v is None else "{" + ",".join("NULL" if x is None else repr(x) for x in v) + "}"
                         for v in column.to_pylist()], pa.string())
    if pa.types.is_struct(t) or pa.types.is_map(t):
        return pa.array([None if v is None else json.dumps(v, ensure_ascii=False, default=str)
                         for v in column.to_pylist()], pa.string())
    return column


def json_texts(attrs: pa.Table, n: int) -> list[str]:
    if attrs.num_columns == 0:
        return ["{}"] * n
    names = attrs.column_names
    cols = []
    for column in attrs.columns:
        if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
            cols.append([None] * n)
        else:
            if pa.types.is_dictionary(column.type):
                column = column.cast(column.type.value_type)
            cols.append(column.to_pylist())
    return [json.dumps(dict(zip(names, row, strict=True)), ensure_ascii=False, default=_json_default)
            for row in zip(*cols, strict=True)]


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return str(value)


def pg_type(t: pa.DataType) -> str:
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_integer(t):
        return "bigint"
    if pa.types.is_floating(t):
        return "double precision"
    if pa.types.is_timestamp(t):
        return "timestamptz" if t.tz else "timestamp"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return "bytea"
    return "text"
