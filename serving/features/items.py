"""Pages of features for OGC API Features: bbox, datetime, CQL2 filter, paging, output CRS, views.

One parametrised query for the page and one for ``numberMatched`` — left out (None) when it would be
costly: a CQL2 filter over a layer of more than ``count_max_rows`` features, or a count stopped by
the statement time limit (``cim.store.timeout``); the page is answered either way. The bbox predicate is a plain
``ST_Intersects(geom, ST_MakeEnvelope(...))`` on the indexed column so DuckDB uses the RTREE; for a role
that gets the coarse view the desensitised shape decides (the exact one only finds candidates), so
a bbox can never locate a protected asset more finely than the grid it is shown on.
Rows come back as Arrow; GeoJSON is written by ``serving.features.geojson``.

Example:
    >>> page = query_items(city, ItemsQuery(layer="buildings", limit=10, bbox=(515000, 3979500, 515500, 3980000)))
    >>> page.matched, len(page.table)                                               # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from cim.access import COARSE_GRID_M, coarse_geometry_sql
from cim.errors import FeatureNotFound, QueryError, QueryTimeout
from cim.model.reads import parse_time
from cim.model.relations import AsOf, features
from serving.features.filters import Where

if TYPE_CHECKING:
    from cim.city import City

COLUMNS = "id, class, name, height, z_min, z_max, parent, properties, valid_from, valid_to"


@dataclass
class ItemsQuery:
    """What a client asked for; ``bbox`` is already in the city CRS."""

    layer: str
    limit: int = 100
    offset: int = 0
    bbox: tuple[float, float, float, float] | None = None
    datetime: str | None = None
    where: Where | None = None
    view: str = "full"
    #: features the layer holds (the catalogue's count), to judge what counting would cost
    layer_rows: int = 0
    #: a filtered layer with more features than this gets no numberMatched (counting would scan them)
    count_max_rows: int = 100_000


@dataclass
class ItemsPage:
    """One page: Arrow rows (geometry as WKB in ``wkb``) and the total that matched (None: not counted)."""

    table: pa.Table
    matched: int | None
    query: ItemsQuery
    extra: dict[str, Any] = field(default_factory=dict)


def validity_of(value: str | None) -> AsOf:
    """The OGC ``datetime`` parameter as the versions it selects (see ``cim.model.relations.validity``).

    An instant reads the city as it was then; an interval ``a/b`` (either end may be ``..``)
    selects every feature version valid at some moment of it. None means the current city.
    """
    if value is None or value == "":
        return None
    if "/" not in value:
        return _time(value)
    start_s, _, end_s = value.partition("/")
    start = None if start_s in ("", "..") else _time(start_s)
    end = None if end_s in ("", "..") else _time(end_s)
    if start and end and start > end:
        raise QueryError(f"datetime interval {value!r} ends before it starts")
    return (start, end)


def _time(text: str) -> datetime:
    text = text.strip()
    if len(text) == 10 and text[4] == "-" and text[7] == "-":
        text += "T00:00:00Z"
    try:
        return parse_time(text)
    except QueryError as exc:
        raise QueryError(f"bad datetime {text[:40]!r}: use RFC 3339, e.g. 2026-01-31T12:00:00Z, "
                         "or an interval a/b with '..' for an open end") from exc


def _predicates(q: ItemsQuery) -> tuple[str, list[Any]]:
    """The caller's own predicates (bbox, CQL2) and their parameters."""
    parts: list[str] = []
    params: list[Any] = []
    if q.bbox is not None:
        parts.append("ST_Intersects(geom, ST_MakeEnvelope(?, ?, ?, ?))")
        if q.view == "coarse":  # the index finds candidates near the box; the coarse shape decides
            m = COARSE_GRID_M
            minx, miny, maxx, maxy = q.bbox
            params += [minx - m, miny - m, maxx + m, maxy + m]
            parts.append(f"ST_Intersects({coarse_geometry_sql('geom')}, ST_MakeEnvelope(?, ?, ?, ?))")
        params += list(q.bbox)
    if q.where is not None:
        parts.append(f"({q.where.sql})")
        params += q.where.params
    return " AND ".join(parts), params


def query_items(city: City, q: ItemsQuery) -> ItemsPage:
    """A page of features and the number that matched in all."""
    where, params = _predicates(q)
    geom = coarse_geometry_sql("geom") if q.view == "coarse" else "geom"
    when = validity_of(q.datetime)
    sql = features(layers=[q.layer], as_of=when, columns=f"{COLUMNS}, ST_AsWKB({geom}) AS wkb", where=where or None)
    try:
        table = city.store.arrow(f"{sql} ORDER BY id LIMIT ? OFFSET ?", [*params, int(q.limit), int(q.offset)])
        matched = _count(city, q, when, where, params, table.num_rows)
    except (QueryError, QueryTimeout):
        raise
    except Exception as exc:  # a filter that type-checks but fails at run time (e.g. a bad cast)
        raise QueryError(f"the filter could not be evaluated: {_reason(exc)}") from exc
    return ItemsPage(table, matched, q)


def _count(city: City, q: ItemsQuery, when: AsOf, where: str, params: list[Any], got: int) -> int | None:
    if q.offset == 0 and got < q.limit:
        return got
    if q.where is not None and q.layer_rows > q.count_max_rows:
        return None
    try:
        return int(city.store.scalar(
            features(layers=[q.layer], as_of=when, columns="count(*)", where=where or None), params))
    except QueryTimeout:  # the page is there; only its total was too costly
        return None


def get_item(city: City, layer: str, feature_id: str, *, view: str = "full",
             as_of: str | None = None) -> pa.Table:
    """One feature of a layer (one-row Arrow table, same columns as a page)."""
    geom = coarse_geometry_sql("geom") if view == "coarse" else "geom"
    sql = features(layers=[layer], ids=[feature_id], as_of=validity_of(as_of),
                   columns=f"{COLUMNS}, ST_AsWKB({geom}) AS wkb")
    table = city.store.arrow(f"{sql} ORDER BY valid_from DESC LIMIT 1")
    if table.num_rows == 0:
        raise FeatureNotFound(f"no feature {feature_id[:120]!r} in layer {layer!r}")
    return table


def _reason(exc: BaseException) -> str:
    """The kind of failure, without SQL text."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if "Conversion Error" in text or "Could not convert" in text:
        return "a value could not be converted to the property's type"
    return type(exc).__name__


def now() -> datetime:
    """The current time (UTC), for links and timestamps."""
    return datetime.now(UTC)


__all__ = ["ItemsQuery", "ItemsPage", "query_items", "get_item", "validity_of"]
