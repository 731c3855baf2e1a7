"""Geometry checks and repair, vectorised over whole layers.

Why: city sources are dirty (self-intersecting parcels, null shapes, sentinel coordinates such as
1e20). Ingest must keep every good row, repair what can be repaired, and reject the rest *with
the row it came from*, fast enough for a million footprints.

Rejection reasons (the strings in :attr:`GeometryCheck.rejected`):

* ``"null geometry"`` – the source row has no geometry;
* ``"unreadable geometry"`` – bytes that are not WKB (or text that was not WKT);
* ``"empty geometry"`` – e.g. ``POLYGON EMPTY``;
* ``"non-finite coordinates"`` – NaN or infinity in x, y or z;
* ``"absurd coordinates"`` – any ``|coordinate| > 1e9``. No CRS in use has coordinates that large
  (Web Mercator tops out at 2.0e7 m, Gauss-Krüger false eastings at 4.0e7 m), so such a value is
  a sentinel or a unit error, never a place;
* ``"unrepairable geometry"`` – invalid, and ``make_valid`` gives nothing of the input's dimension.

Example:
    >>> import shapely
    >>> bowtie = shapely.to_wkb(shapely.from_wkt("POLYGON ((0 0, 2 2, 2 0, 0 2, 0 0))"))
    >>> check = check_and_repair([bowtie, None])
    >>> check.repaired.tolist(), check.rejected
    ([True, False], [(1, 'null geometry')])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import shapely

__all__ = ["GeometryCheck", "check_and_repair", "finite_mask", "bounds_of", "force_2d", "ABSURD_LIMIT"]

ABSURD_LIMIT = 1e9
_POLYGONAL = (3, 6)  # shapely type ids of Polygon, MultiPolygon
_COLLECTION = 7


@dataclass
class GeometryCheck:
    """Outcome of :func:`check_and_repair`, aligned with the input (one slot per input row).

    ``geoms[i]`` is the (possibly repaired) geometry of row ``i``, or ``None`` when row ``i`` is in
    ``rejected``; ``repaired[i]`` says whether ``make_valid`` changed it.
    """

    geoms: np.ndarray
    repaired: np.ndarray
    rejected: list[tuple[int, str]] = field(default_factory=list)

    @property
    def kept(self) -> np.ndarray:
        """Boolean mask of rows that were not rejected (use it to filter the attribute table)."""
        keep = np.ones(len(self.geoms), dtype=bool)
        keep[[index for index, _ in self.rejected]] = False
        return keep

    @property
    def n_repaired(self) -> int:
        """How many geometries ``make_valid`` changed."""
        return int(np.count_nonzero(self.repaired))


def check_and_repair(wkb: Any, *, valid: np.ndarray | None = None) -> GeometryCheck:
    """Parse WKB, reject null/empty/non-finite/absurd geometries, repair invalid ones.

    Why: one vectorised pass (about 2 s per million polygons) that tells ingest which rows to keep
    and why the others were dropped. Accepts WKB ``bytes`` (or hex), shapely geometries, or an
    Arrow binary column. Polygon input stays polygonal: when ``make_valid`` returns a
    GeometryCollection, only the parts of the input's dimension are kept. ``valid`` marks rows
    already known valid (``gis.valid.certainly_valid``): GEOS's validity test skips them.

    Example:
        >>> import shapely
        >>> check = check_and_repair([shapely.to_wkb(shapely.Point(1e20, 0)), shapely.Point(1, 1)])
        >>> check.rejected
        [(0, 'absurd coordinates')]
    """
    geoms, reasons = _parse(wkb)
    live = reasons == None  # noqa: E711 - elementwise comparison on an object array
    reasons[live & shapely.is_empty(geoms)] = "empty geometry"
    live = reasons == None  # noqa: E711
    invalid = np.zeros(len(geoms), dtype=bool)
    tested = live if valid is None else live & ~valid
    invalid[tested] = ~shapely.is_valid(geoms[tested])
    nonfinite, absurd = _coordinate_flags(geoms, live & (invalid | _suspicious_bounds(geoms)))
    reasons[nonfinite] = "non-finite coordinates"
    reasons[absurd & ~nonfinite] = "absurd coordinates"
    invalid &= reasons == None  # noqa: E711
    repaired = np.zeros(len(geoms), dtype=bool)
    if invalid.any():
        fixed = _repair(geoms[invalid])
        failed = shapely.is_missing(fixed)
        index = np.flatnonzero(invalid)
        reasons[index[failed]] = "unrepairable geometry"
        geoms[index[~failed]] = fixed[~failed]
        repaired[index[~failed]] = True
    bad = np.flatnonzero(reasons != None)  # noqa: E711
    geoms[bad] = None
    return GeometryCheck(geoms=geoms, repaired=repaired, rejected=[(int(i), str(reasons[i])) for i in bad])


def _parse(wkb: Any) -> tuple[np.ndarray, np.ndarray]:
    """Geometries plus a reason array (``None`` = fine so far) for null and unreadable input."""
    if isinstance(wkb, pa.ChunkedArray | pa.Array) and pa.types.is_binary(wkb.type):
        # Arrow WKB (the ingest path): nothing but bytes and nulls, so parse in one call
        null = np.asarray(wkb.is_null())
        geoms = _from_wkb(wkb.to_numpy(zero_copy_only=False))
        reasons = np.full(len(geoms), None, dtype=object)
        reasons[null] = "null geometry"
        reasons[~null & shapely.is_missing(geoms)] = "unreadable geometry"
        return geoms, reasons
    if isinstance(wkb, pa.ChunkedArray | pa.Array):
        wkb = wkb.to_numpy(zero_copy_only=False)
    values = np.empty(len(wkb), dtype=object)
    values[:] = list(wkb) if not isinstance(wkb, np.ndarray) else wkb
    reasons = np.full(len(values), None, dtype=object)
    null = values == None  # noqa: E711
    reasons[null] = "null geometry"
    is_geom = shapely.is_geometry(values)
    geoms = np.full(len(values), None, dtype=object)
    geoms[is_geom] = values[is_geom]
    raw = ~null & ~is_geom
    if raw.any():
        geoms[raw] = _from_wkb(values[raw])
    reasons[raw & shapely.is_missing(geoms)] = "unreadable geometry"
    return geoms, reasons


def _from_wkb(values: np.ndarray) -> np.ndarray:
    try:
        return shapely.from_wkb(values, on_invalid="fix")
    except Exception:  # noqa: BLE001 - curves, garbage bytes or buffers: parse one by one
        return np.array([_one_from_wkb(v) for v in values], dtype=object)


def _one_from_wkb(value: Any) -> shapely.Geometry | None:
    try:
        return shapely.from_wkb(value if isinstance(value, bytes | str) else bytes(value), on_invalid="fix")
    except Exception:  # noqa: BLE001 - one unreadable row must not sink the layer
        return None


def _suspicious_bounds(geoms: np.ndarray) -> np.ndarray:
    """Cheap pre-filter: inf or huge values show in the bounds; NaN makes GEOS call a geometry
    invalid; Z is not in the bounds. Only these geometries get the exact per-coordinate check."""
    bounds = shapely.bounds(geoms)
    with np.errstate(invalid="ignore"):
        odd = ~np.isfinite(bounds).all(axis=1) | (np.abs(bounds) > ABSURD_LIMIT).any(axis=1)
    return odd | shapely.has_z(geoms)


def _coordinate_flags(geoms: np.ndarray, live: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-geometry masks: any NaN/inf coordinate, any |coordinate| > ABSURD_LIMIT."""
    nonfinite = np.zeros(len(geoms), dtype=bool)
    absurd = np.zeros(len(geoms), dtype=bool)
    if not live.any():
        return nonfinite, absurd
    subset = np.flatnonzero(live)
    has_z = shapely.has_z(geoms[subset])
    coords, owner = shapely.get_coordinates(geoms[subset], include_z=bool(has_z.any()), return_index=True)
    if coords.shape[1] == 3:
        coords[~has_z[owner], 2] = 0.0  # 2D members get NaN z from get_coordinates
    with np.errstate(invalid="ignore"):
        bad_value = ~np.isfinite(coords).all(axis=1)
        huge = (np.abs(coords) > ABSURD_LIMIT).any(axis=1)
    nonfinite[subset[owner[bad_value]]] = True
    absurd[subset[owner[huge]]] = True
    return nonfinite, absurd


def finite_mask(geoms: np.ndarray, *, limit: float = ABSURD_LIMIT) -> np.ndarray:
    """True where every coordinate is finite and within ±``limit`` (1e9); null/empty count as True.

    Why: PROJ returns ``inf`` for points outside a projection's domain, and sources carry
    sentinel values such as 1e20; both must be found after :func:`gis.crs.reproject`.

    Example:
        >>> import shapely
        >>> finite_mask(np.array([shapely.Point(1, 2), shapely.Point(float("inf"), 0),
        ...                       shapely.Point(1e20, 0), None])).tolist()
        [True, False, False, True]
    """
    geoms = np.asarray(geoms, dtype=object)
    live = ~shapely.is_missing(geoms)
    if limit == ABSURD_LIMIT:
        nonfinite, absurd = _coordinate_flags(geoms, live)
        return ~(nonfinite | absurd)
    coords, owner = shapely.get_coordinates(geoms, return_index=True)
    with np.errstate(invalid="ignore"):
        bad = ~(np.isfinite(coords) & (np.abs(coords) <= limit)).all(axis=1)
    mask = np.ones(len(geoms), dtype=bool)
    mask[owner[bad]] = False
    return mask


def _repair(geoms: np.ndarray) -> np.ndarray:
    """``make_valid`` keeping the input's dimension; ``None`` where nothing valid remains."""
    out = np.full(len(geoms), None, dtype=object)
    types = shapely.get_type_id(geoms)
    polygonal = np.isin(types, _POLYGONAL)
    if polygonal.any():
        out[polygonal] = shapely.make_valid(geoms[polygonal], method="structure", keep_collapsed=False)
    if (~polygonal).any():
        out[~polygonal] = shapely.make_valid(geoms[~polygonal])
    keep_dim = types != _COLLECTION
    if keep_dim.any():
        out[keep_dim] = _keep_dimension(out[keep_dim], shapely.get_dimensions(geoms[keep_dim]))
    ok = ~shapely.is_missing(out)
    ok[ok] = ~shapely.is_empty(out[ok]) & shapely.is_valid(out[ok])
    out[~ok] = None
    return out


def _keep_dimension(fixed: np.ndarray, dims: np.ndarray) -> np.ndarray:
    """Drop the parts of a GeometryCollection whose dimension differs from the input's."""
    out = fixed.copy()
    mixed = np.flatnonzero(shapely.get_type_id(fixed) == _COLLECTION)
    if mixed.size == 0:
        return out
    parts, owner = shapely.get_parts(fixed[mixed], return_index=True)
    while parts.size and (shapely.get_type_id(parts) >= 4).any():  # flatten nested multi-parts
        parts, sub = shapely.get_parts(parts, return_index=True)
        owner = owner[sub]
    wanted = shapely.get_dimensions(parts) == dims[mixed][owner]
    parts, owner = parts[wanted], owner[wanted]
    out[mixed] = None
    counts = np.bincount(owner, minlength=len(mixed))
    makers = {0: shapely.multipoints, 1: shapely.multilinestrings, 2: shapely.multipolygons}
    for position in np.flatnonzero(counts):
        members = parts[owner == position]
        dim = int(dims[mixed][position])
        out[mixed[position]] = members[0] if len(members) == 1 else makers[dim](members)
    return out


def bounds_of(geoms: np.ndarray) -> tuple[float, float, float, float]:
    """(minx, miny, maxx, maxy) over all non-null geometries; NaNs when there are none.

    Example:
        >>> import shapely
        >>> bounds_of(np.array([shapely.Point(0, 1), shapely.Point(2, 3), None]))
        (0.0, 1.0, 2.0, 3.0)
    """
    minx, miny, maxx, maxy = shapely.total_bounds(np.asarray(geoms, dtype=object))
    return float(minx), float(miny), float(maxx), float(maxy)


def force_2d(geoms: np.ndarray) -> np.ndarray:
    """Drop Z (and M) from every geometry; many consumers (MVT, 2D storage) want flat geometries.

    Example:
        >>> import shapely
        >>> force_2d(np.array([shapely.Point(1, 2, 3)]))[0].has_z
        False
    """
    return shapely.force_2d(np.asarray(geoms, dtype=object))
