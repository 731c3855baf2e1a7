"""Which polygon holds each feature's centroid, planned per backend: parcel ⊃ building by centroid.

Why: the question behind ``spatial_join(predicate="contains_centroid")`` and behind every planning
indicator (a building belongs to the parcel holding its centroid). DuckDB plans
``ST_Contains(p.geom, ST_Centroid(b.geom))`` as a SPATIAL_JOIN. PostgreSQL has no spatial join
operator: it probes the GiST index once per building (a nested loop, ~30 µs a probe), so the
same text was 4–6× slower than the file at 100 000 buildings and worse at a million.

On PostGIS the pairs come from an equality join instead: space is cut into square cells about
the size of a polygon, each polygon is listed once per cell its box touches, each centroid falls
in exactly one cell, and a hash or merge join on the cell pairs them up before the exact test
(``_ST_Contains``, the test without the index rewrite). Every centroid inside a polygon lies in a
cell the polygon's box touches, so no pair is lost, and since a centroid is in one cell only, no
pair comes twice. The cell size is only a matter of speed, never of the result.

Example:
    >>> centroid_pairs(city.store, parcels, buildings)          # doctest: +SKIP
    'SELECT l.id AS left_id, r.id AS right_id FROM … '
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cim.store.base import SQLRunner

#: polygons whose box size sets the cell size (a sample is enough: the size only tunes speed)
_SAMPLE = 2_000


def centroid_pairs(store: SQLRunner, polygons: str, points: str) -> str:
    """SQL of the pairs (``left_id``, ``right_id``) where a polygon of ``polygons`` holds the centroid
    of a feature of ``points``.

    ``polygons`` is a relation the store can read on its own (a bare ``SELECT id, geom …``);
    ``points`` a bare ``SELECT id, geom …`` or the name of a CTE of the statement the pairs go in.
    """
    if getattr(store, "kind", "duckdb") != "postgis":
        return (f"SELECT l.id AS left_id, r.id AS right_id FROM ({polygons}) AS l "
                f"JOIN {_relation(points)} AS r ON ST_Contains(l.geom, ST_Centroid(r.geom))")
    return cell_join(polygons, points, cell_size(store, polygons))


def holders(store: SQLRunner | None, polygons: str, points: str) -> str:
    """SQL of (``id``, ``parcel``): each feature of ``points`` (a CTE name) whose centroid a polygon
    holds, with the least id among the polygons that hold it (so overlaps answer one, always the same)."""
    if getattr(store, "kind", "duckdb") != "postgis":
        return (f"SELECT {points}.id, min(p.id) AS parcel FROM {points} JOIN ({polygons}) AS p "
                f"ON ST_Contains(p.geom, ST_Centroid({points}.geom)) GROUP BY {points}.id")
    pairs = cell_join(polygons, points, cell_size(store, polygons))
    return f"SELECT right_id AS id, min(left_id) AS parcel FROM ({pairs}) AS pairs GROUP BY right_id"


def cell_size(store: SQLRunner, polygons: str) -> float:
    """The grid's cell size: the mean of the larger side of the polygons' boxes (of a sample)."""
    size = store.rows(
        "SELECT avg(greatest(ST_XMax(geom) - ST_XMin(geom), ST_YMax(geom) - ST_YMin(geom))) "
        f"FROM ({polygons} LIMIT {_SAMPLE}) AS sample")
    value = float(size[0][0]) if size and size[0][0] is not None else 0.0
    return value if math.isfinite(value) and value > 0 else 1.0


def contained_pairs(store: SQLRunner, polygons: str, shapes: str) -> str:
    """SQL of the pairs (``left_id``, ``right_id``) where a polygon of ``polygons`` wholly holds a
    feature of ``shapes``: on PostGIS the same cell join, since a shape inside a polygon has its
    centroid inside the polygon's box (the box is convex), then the exact test on the whole shape."""
    if getattr(store, "kind", "duckdb") != "postgis":
        return (f"SELECT l.id AS left_id, r.id AS right_id FROM ({polygons}) AS l "
                f"JOIN {_relation(shapes)} AS r ON ST_Contains(l.geom, r.geom)")
    return cell_join(polygons, shapes, cell_size(store, polygons), whole=True)


def cell_join(polygons: str, points: str, size: float, *, whole: bool = False) -> str:
    """The pairs by an equality join on grid cells of side ``size`` (see the module's docstring);
    ``whole``: the polygon must hold the whole feature, not only its centroid."""
    s = repr(float(size))
    cells = (f"SELECT id, geom, CAST(floor(ST_XMin(geom) / {s}) AS BIGINT) AS x0, "
             f"CAST(floor(ST_XMax(geom) / {s}) AS BIGINT) AS x1, CAST(floor(ST_YMin(geom) / {s}) AS BIGINT) AS y0, "
             f"CAST(floor(ST_YMax(geom) / {s}) AS BIGINT) AS y1 FROM ({polygons}) AS polygons")
    # OFFSET 0 keeps the centroid a computed column: flattened, it would be computed once per use
    shape, test = (", geom", "_ST_Contains(l.geom, r.geom)") if whole else ("", "_ST_Contains(l.geom, r.c)")
    centroids = f"SELECT id{shape}, ST_Centroid(geom) AS c FROM {_relation(points)} AS points OFFSET 0"
    return (
        "SELECT l.id AS left_id, r.id AS right_id FROM "
        f"(SELECT id, geom, kx, generate_series(y0, y1) AS ky FROM "
        f"(SELECT id, geom, generate_series(x0, x1) AS kx, y0, y1 FROM ({cells}) AS boxes) AS columns_) AS l "
        f"JOIN (SELECT id{shape}, c, CAST(floor(ST_X(c) / {s}) AS BIGINT) AS kx, "
        f"CAST(floor(ST_Y(c) / {s}) AS BIGINT) AS ky "
        f"FROM ({centroids}) AS centroids) AS r "
        f"ON l.kx = r.kx AND l.ky = r.ky AND {test}")


def _relation(points: str) -> str:
    return f"({points})" if points.lstrip().upper().startswith("SELECT") else points


__all__ = ["centroid_pairs", "contained_pairs", "holders", "cell_size", "cell_join"]
