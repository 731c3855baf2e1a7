"""Reading sensor data: latest value per datastream with status, time series with downsampling,
sensors within a geometry or near a feature, values as of a time.

``latest`` reads the maintained ``iot_latest`` table (one row per datastream), never the
observations, so it stays fast at 100 000 datastreams whatever the history holds.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from cim.errors import QueryError
from cim.model.reads import parse_time, resolve_geometry

if TYPE_CHECKING:
    from cim.city import City

_LATEST = """
WITH act AS (
  SELECT a.datastream_id, bool_or(r.kind <> 'stale' AND a.level = 'alarm') AS alarm,
         bool_or(r.kind <> 'stale' AND a.level = 'warn') AS warn, bool_or(r.kind = 'stale') AS stale
  FROM iot_alerts a JOIN iot_rules r ON r.id = a.rule_id WHERE a.active GROUP BY 1)
SELECT d.id AS datastream_id, d.thing_id, t.feature_id, d.name, p.key AS property, d.unit,
  l.result AS value, l.phenomenon_time AS time,
  CASE WHEN act.alarm THEN 'alarm' WHEN act.warn THEN 'warn'
       WHEN act.stale OR l.phenomenon_time IS NULL OR l.phenomenon_time < ? THEN 'stale' ELSE 'ok' END AS status,
  loc.lon, loc.lat, d.key, t.name AS thing, t.feature_class, {xy}, t.classification
FROM iot_datastreams d JOIN iot_things t ON t.id = d.thing_id JOIN iot_properties p ON p.id = d.property_id
LEFT JOIN iot_latest l ON l.datastream_id = d.id LEFT JOIN act ON act.datastream_id = d.id
LEFT JOIN iot_locations loc ON loc.thing_id = t.id
"""


def latest(city: City, *, bbox: tuple[float, float, float, float] | None = None, bbox_crs: str | None = None,
           datastreams: list[int] | None = None, stale_after: timedelta = timedelta(hours=1),
           now: datetime | None = None, role: str | None = None) -> pa.Table:
    """The newest value of every datastream with its status (ok, warn, alarm, stale) and position.

    ``bbox`` is in the city CRS unless ``bbox_crs`` says otherwise (``"EPSG:4326"`` for lon/lat).
    A datastream is stale when a stale rule says so, or when its newest value is older than
    ``stale_after`` (or it has none). With a ``role``, only the sensors on features that role may
    see are listed, desensitised where the role's view of the feature is coarse.

    Example:
        >>> latest(city, bbox=(120.0, 35.9, 120.3, 36.1), bbox_crs="EPSG:4326").to_pylist()  # doctest: +SKIP
    """
    from datetime import UTC

    from cim.iot.visibility import apply_view, visible_predicate, xy_columns

    now = parse_time(now) if now is not None else datetime.now(UTC)
    visible, allowed = visible_predicate(role)
    where, params = [visible], [now - stale_after, *allowed]
    if bbox is not None:
        minx, miny, maxx, maxy = _bbox(city, bbox, bbox_crs)
        where.append("ST_Intersects(loc.geom, ST_MakeEnvelope(?, ?, ?, ?))")
        params += [minx, miny, maxx, maxy]
    if datastreams is not None:
        where.append("d.id IN (SELECT UNNEST(CAST(? AS INTEGER[])))")
        params.append([int(i) for i in datastreams])
    sql = _LATEST.format(xy=xy_columns(role)) + " WHERE " + " AND ".join(where)
    table = city.store.arrow(sql, params)  # sorted here: DuckDB would sort every wide row
    return apply_view(table.take(pc.sort_indices(table.column("datastream_id"))), role, city.crs)


def series(city: City, datastream: int | str, *, start: Any = None, end: Any = None, bucket: str | None = None,
           max_points: int | None = None) -> pa.Table:
    """Observations of one datastream in [start, end): raw (``time``, ``value``) or, with a bucket
    such as ``"5m"``, ``"1h"`` or ``"PT15M"``, one row per bucket with avg (``value``), min, max, count.

    Example:
        >>> series(city, "ws.dust.1.pm10", start="2026-05-01T00:00+08:00", bucket="15m")  # doctest: +SKIP
    """
    from cim.iot.lookup import datastream_id

    ds = datastream_id(city, datastream)
    where, params = ["datastream_id = ?"], [ds]
    if start is not None:
        where.append("phenomenon_time >= ?")
        params.append(parse_time(start))
    if end is not None:
        where.append("phenomenon_time < ?")
        params.append(parse_time(end))
    cond = " AND ".join(where)
    if bucket is None:
        if max_points is not None:
            count = city.store.scalar(f"SELECT count(*) FROM iot_observations WHERE {cond}", params)
            if count > max_points:
                raise QueryError(f"{count} observations in that range, more than {max_points}: "
                                 "give a bucket (e.g. 5m, 1h) or a shorter range")
        return city.store.arrow(f"SELECT phenomenon_time AS time, result AS value FROM iot_observations "
                                f"WHERE {cond} ORDER BY 1", params)
    micros = parse_bucket(bucket)
    return city.store.arrow(
        "SELECT time_bucket(to_microseconds(CAST(? AS BIGINT)), phenomenon_time) AS time, avg(result) AS value, "
        f"min(result) AS min, max(result) AS max, count(*) AS count FROM iot_observations WHERE {cond} "
        "GROUP BY 1 ORDER BY 1", [micros, *params])


_BUCKET = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d)\s*$", re.I)
_ISO = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$", re.I)
_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def parse_bucket(text: str) -> int:
    """Microseconds in a bucket written ``30s``, ``5m``, ``1h``, ``1d`` or ISO 8601 ``PT15M``."""
    text = str(text).strip()
    m = _BUCKET.match(text)
    if m:
        seconds = float(m.group(1)) * _SECONDS[m.group(2).lower()]
    else:
        iso = _ISO.match(text)
        if not iso or not any(iso.groups()):
            raise QueryError(f"bad bucket {text!r}: use e.g. 30s, 5m, 1h, 1d or PT15M")
        d, h, mi, s = (int(g or 0) for g in iso.groups())
        seconds = ((d * 24 + h) * 60 + mi) * 60 + s
    if seconds < 1 or seconds > 366 * 86400:
        raise QueryError(f"bucket {text!r} out of range: 1 second to 366 days")
    return int(seconds * 1_000_000)


_SENSORS = """
SELECT t.id AS thing_id, t.key, t.name, t.feature_id, t.feature_class, loc.lon, loc.lat, loc.z,
  coalesce(d.ids, CAST([] AS INTEGER[])) AS datastreams, ST_X(loc.geom) AS x, ST_Y(loc.geom) AS y,
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
    from cim.iot.visibility import apply_view, visible_predicate

    wkb = resolve_geometry(city, geometry, crs)
    visible, allowed = visible_predicate(role)
    sql = _SENSORS.format(extra="", predicate="ST_Intersects(loc.geom, ST_GeomFromWKB(?))", order="t.id",
                          visible=visible)
    return apply_view(city.store.arrow(sql, [wkb, *allowed]), role, city.crs)


def sensors_near(city: City, geometry: Any, distance: float, *, crs: str | None = None,
                 role: str | None = None) -> pa.Table:
    """Things within ``distance`` metres of a geometry or feature, nearest first, with ``distance``.

    Example:
        >>> sensors_near(city, "pipes.W1", 50)  # doctest: +SKIP
    """
    if not distance >= 0:
        raise QueryError(f"distance must be a number of metres >= 0, got {distance!r}")
    from cim.iot.visibility import apply_view, visible_predicate

    wkb = resolve_geometry(city, geometry, crs)
    visible, allowed = visible_predicate(role)
    sql = _SENSORS.format(extra=", ST_Distance(loc.geom, ST_GeomFromWKB(?)) AS distance",
                          predicate="ST_DWithin(loc.geom, ST_GeomFromWKB(?), ?)", order="distance, t.id",
                          visible=visible)
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
        from gis.crs import parse_crs, transformer

        minx, miny, maxx, maxy = transformer(parse_crs(bbox_crs), parse_crs(city.crs)).transform_bounds(
            minx, miny, maxx, maxy)
    return minx, miny, maxx, maxy
