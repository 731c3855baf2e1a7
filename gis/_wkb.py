"""Reading WKB headers without parsing geometries: type codes, Z flags, curves.

Why: summarising a million-row layer's geometry type or spotting curve types (which GEOS cannot
parse) must not cost a full parse; the first five bytes of each WKB say it all.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import shapely

_NAMES = {1: "Point", 2: "LineString", 3: "Polygon", 4: "MultiPoint", 5: "MultiLineString",
          6: "MultiPolygon", 7: "GeometryCollection", 8: "CircularString", 9: "CompoundCurve",
          10: "CurvePolygon", 11: "MultiCurve", 12: "MultiSurface", 13: "Curve", 14: "Surface",
          15: "PolyhedralSurface", 16: "TIN", 17: "Triangle"}
_LINEAR = {"Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon"}


def wkb_types(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(base type code, has-Z flag) per non-null, non-empty WKB value (ISO and EWKB flavours)."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    array = array.cast(pa.binary())
    if len(array) == 0:
        return np.zeros(0, np.int64), np.zeros(0, bool)
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)[array.offset: array.offset + len(array) + 1]
    data = np.frombuffer(array.buffers()[2], dtype=np.uint8) if array.buffers()[2] else np.zeros(0, np.uint8)
    valid = np.diff(offsets) >= 5
    if array.null_count:
        valid &= np.asarray(array.is_valid())
    starts = offsets[:-1][valid]
    b1, b2, b3, b4 = (data[starts + i].astype(np.uint32) for i in range(1, 5))
    code = np.where(data[starts] == 1, b1 | (b2 << 8) | (b3 << 16) | (b4 << 24),
                    b4 | (b3 << 8) | (b2 << 16) | (b1 << 24))
    ewkb_z = (code & np.uint32(0x80000000)) != 0
    base = (code & np.uint32(0x0FFFFFFF)).astype(np.int64)
    iso_dims = base // 1000
    return base % 1000, ewkb_z | (iso_dims == 1) | (iso_dims == 3)


def geometry_type_of(column: pa.ChunkedArray | pa.Array) -> str | None:
    """One name for the geometries present: "Polygon", "MultiPolygon Z", "Geometry" when mixed.

    Example:
        >>> wkb = pa.array(shapely.to_wkb([shapely.Point(0, 0), shapely.MultiPoint([(1, 1)])]))
        >>> geometry_type_of(wkb)
        'MultiPoint'
    """
    codes, has_z = wkb_types(column)
    names = {_NAMES.get(int(c), "Geometry") for c in np.unique(codes)}
    if not names:
        return None
    if len(names) == 2:
        single = min(names, key=len)
        if f"Multi{single}" in names:
            names = {f"Multi{single}"}
    name = names.pop() if len(names) == 1 else "Geometry"
    return f"{name} Z" if has_z.any() else name


def has_curves(column: pa.ChunkedArray, declared: str | None) -> bool:
    """True when some WKB holds a curve type (top level or nested) that GEOS cannot read."""
    codes, _ = wkb_types(column)
    if (codes >= 8).any():
        return True
    base = (declared or "Unknown").replace(" Z", "").replace(" M", "").replace("Z", "")
    if base in _LINEAR:
        return False
    try:
        shapely.from_wkb(column.to_numpy(zero_copy_only=False), on_invalid="ignore")
    except NotImplementedError:
        return True
    except Exception:  # noqa: BLE001 - other damage is check_and_repair's business
        return False
    return False
