"""Reading sensor data: latest value per datastream with status, time series with downsampling,
sensors within a geometry or near a feature, values as of a time.

``latest`` reads the maintained ``iot_latest`` table (one row per datastream), never the
observations, so it stays fast at 100 000 datastreams whatever the history holds.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from cim.errors import QueryError
from cim.iot.alerts import current_sql
from cim.iot.series import parse_bucket, series  # noqa: F401 - re-exported: the read API lives here
from cim.iot.visibility import apply_view, position_sql, visible_predicate, xy_columns
from cim.model.reads import parse_time, resolve_geometry
from gis.crs import parse_crs, transformer

if TYPE_CHECKING:
    from cim.city import City

_LATEST = """
WITH act AS (
  SELECT a.datastream_id, bool_or(r.kind <> 'stale' AND a.level = 'alarm') AS alarm,
         bool_or(r.kind <> 'stale' AND a.level = 'warn') AS warn, bool_or(r.kind = 'stale') AS stale
  FROM iot_alerts a JOIN iot_rules r ON r.id = a.rule_id WHERE {current} GROUP BY 1),
lv AS ({values})
SELECT d.id AS datastream_id, d.thing_id, t.feature_id, d.name, p.key AS property, d.unit,
  l.result AS value, l.phenomenon_time AS time,
  CASE WHEN act.alarm THEN 'alarm' WHEN act.warn THEN 'warn'
       WHEN act.stale OR l.phenomenon_time IS NULL OR l.phenomenon_time < ? THEN 'stale' ELSE 'ok' END AS status,
  loc.lon, loc.lat, d.key, t.name AS thing, t.feature_class, {xy}, t.classification
FROM iot_datastreams d JOIN iot_things t ON t.id = d.thing_id JOIN iot_properties p ON p.id = d.property_id
LEFT JOIN lv l ON l.datastream_id = d.id LEFT JOIN act ON act.datastream_id = d.id
LEFT JOIN iot_locations loc ON loc.thing_id = t.id
"""

_EARLIEST = datetime(1, 1, 1, tzinfo=UTC)

_AS_OF = ("SELECT datastream_id, max(phenomenon_time) AS phenomenon_time, arg_max(result, phenomenon_time) AS result "
          "FROM iot_observations WHERE phenomenon_time <= ? GROUP BY 1")


def latest(city: City, *, bbox: tuple[float, float, float, float] | None = None, bbox_crs: str | None = None,
           datastreams: list[int] | None = None, stale_after: timedelta = timedelta(hours=1),
           now: datetime | None = None, at: Any = None, role: str | None = None) -> pa.Table:
    """The newest value of every datastream with its status (ok, warn, alarm, stale) and position.

    ``at`` asks for the state at a past time: each datastream's last value at or before it, and the
    alerts current then; without it, the newest values and the alerts current now. A datastream is
    stale when a stale rule says so, or when its value is older than ``stale_after`` before ``at``
    (or ``now``, or the wall clock), or it has none. ``bbox`` is in the city CRS unless ``bbox_crs``
    says otherwise (``"EPSG:4326"`` for lon/lat). With a ``role``, only the sensors on features that
    role may see are listed, desensitised (and bbox-filtered) where its view of the feature is coarse.

    Example:
        >>> latest(city, bbox=(120.0, 35.9, 120.3, 36.1), bbox_crs="EPSG:4326").to_pylist()  # doctest: +SKIP
    """

    at = parse_time(at) if at is not None else None
    reference = at or (parse_time(now) if now is not None else datetime.now(UTC))
    current, params = current_sql(at)
    values = "SELECT * FROM iot_latest"
    if at is not None and not _all_before(city, at):
        values = _AS_OF
        params.append(at)
    visible, allowed = visible_predicate(role)
    where = [visible]
    params += [max(reference, _EARLIEST + stale_after) - stale_after, *allowed]  # no overflow at year 1
    if bbox is not None:
        minx, miny, maxx, maxy = _bbox(city, bbox, bbox_crs)
        where.append(f"ST_Intersects({position_sql(role)}, ST_MakeEnvelope(?, ?, ?, ?))")
        params += [minx, miny, maxx, maxy]
    if datastreams is not None:
        where.append("d.id IN (SELECT UNNEST(CAST(? AS INTEGER[])))")
        params.append([int(i) for i in datastreams])
    sql = _LATEST.format(current=current, values=values, xy=xy_columns(role)) + " WHERE " + " AND ".join(where)
    table = city.store.arrow(sql, params)  # sorted here: DuckDB would sort every wide row
    return apply_view(table.take(pc.sort_indices(table.column("datastream_id"))), role, city.crs)


def _all_before(city: City, at: datetime) -> bool:
    """True when every datastream's newest value is at or before ``at`` (``iot_latest`` then answers)."""
    newest = city.store.scalar("SELECT max(phenomenon_time) FROM iot_latest")
    return newest is None or newest <= at


_SENSORS = """
SELECT t.id AS thing_id, t.key, t.name, t.feature_id, t.feature_class, loc.lon, loc.lat, loc.z,
  coalesce(d.ids, CAST([] AS INTEGER[])) AS datastreams, {xy},
  t.classification{extra}
FROM iot_things t JOIN iot_locations loc ON loc.thing_id = t.id
LEFT JOIN (SELECT thing_id, list(id ORDER BY id) AS ids FROM iot_datastreams GROUP BY thing_id) d ON d.thing_id = t.id
WHERE {predicate} AND {visible} ORDER BY {order}
"""


def sensors_within(city: City, geometry: Any, *, crs: str | None = None, role: str | None = None) -> pa.Table:
    """Things whose location lies within a geometry (shapely, WKT, or a feature id such as a parcel).

    Example:
        >>> sensors_within(city, "parcels.P0042")  # doctest: +SKIP
    """

    wkb = resolve_geometry(city, geometry, crs)
    visible, allowed = visible_predicate(role)
    sql = _SENSORS.format(extra="", predicate=f"ST_Intersects({position_sql(role)}, ST_GeomFromWKB(?))",
                          order="t.id", visible=visible, xy=xy_columns(role))
    return apply_view(city.store.arrow(sql, [wkb, *allowed]), role, city.crs)


def sensors_near(city: City, geometry: Any, distance: float, *, crs: str | None = None,
                 role: str | None = None) -> pa.Table:
    """Things within ``distance`` metres of a geometry or feature, nearest first, with ``distance``
    (measured from the position the role sees: snapped to the coarse grid where its view is coarse).

    Example:
        >>> sensors_near(city, "pipes.W1", 50)  # doctest: +SKIP
    """
    if not distance >= 0:
        raise QueryError(f"distance must be a number of metres >= 0, got {distance!r}")

    wkb = resolve_geometry(city, geometry, crs)
    visible, allowed = visible_predicate(role)
    position = position_sql(role)
    sql = _SENSORS.format(extra=f", ST_Distance({position}, ST_GeomFromWKB(?)) AS distance",
                          predicate=f"ST_DWithin({position}, ST_GeomFromWKB(?), ?)", order="distance, t.id",
                          visible=visible, xy=xy_columns(role))
    return apply_view(city.store.arrow(sql, [wkb, wkb, float(distance), *allowed]), role, city.crs)


def values_as_of(city: City, when: Any, *, datastreams: list[int] | None = None,
                 lookback: timedelta | None = None) -> pa.Table:
    """Each datastream's last value at or before ``when`` (``time``, ``value``).

    ``lookback`` bounds how far back to search (faster on long histories).

    Example:
        >>> values_as_of(city, "2026-05-01T12:00+08:00", lookback=timedelta(hours=6))  # doctest: +SKIP
    """
    when = parse_time(when)
    where, params = ["phenomenon_time <= ?"], [when]
    if lookback is not None:
        where.append("phenomenon_time > ?")
        params.append(when - lookback)
    if datastreams is not None:
        where.append("datastream_id IN (SELECT UNNEST(CAST(? AS INTEGER[])))")
        params.append([int(i) for i in datastreams])
    return city.store.arrow(
        "SELECT datastream_id, max(phenomenon_time) AS time, arg_max(result, phenomenon_time) AS value "
        f"FROM iot_observations WHERE {' AND '.join(where)} GROUP BY 1 ORDER BY 1", params)


def _bbox(city: City, bbox: Any, bbox_crs: str | None) -> tuple[float, float, float, float]:
    try:
        minx, miny, maxx, maxy = (float(v) for v in bbox)
    except (TypeError, ValueError) as exc:
        raise QueryError(f"bad bbox {bbox!r}: give minx,miny,maxx,maxy") from exc
    if not all(v == v and abs(v) != float("inf") for v in (minx, miny, maxx, maxy)) or minx > maxx or miny > maxy:
        raise QueryError(f"bad bbox {bbox!r}: need finite numbers with min <= max")
    if bbox_crs:

        minx, miny, maxx, maxy = transformer(parse_crs(bbox_crs), parse_crs(city.crs)).transform_bounds(
            minx, miny, maxx, maxy)
    return minx, miny, maxx, maxy
