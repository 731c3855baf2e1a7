"""A datastream's values over time — raw, or in buckets cut on the city's wall clock — and the period
the city's data covers (what the viewer's time slider spans).

Example:
    >>> series(city, "dongsi.pm10", start="2017-02-01T00:00+08:00", bucket="1d")  # doctest: +SKIP
    >>> data_period(city, role="anonymous")                                        # doctest: +SKIP
    {'first': datetime(2017, 1, 31, 16, 0, tzinfo=UTC), 'last': ..., 'timezone': 'Asia/Shanghai'}
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from cim.errors import QueryError
from cim.iot.buckets import bucket_key_sql, bucket_starts, local_offset_sql
from cim.iot.errors import EntityNotFound
from cim.iot.lookup import datastream_id
from cim.iot.settings import city_timezone
from cim.iot.visibility import visible_datastreams, visible_datastreams_sql
from cim.model.reads import parse_time

if TYPE_CHECKING:
    from cim.city import City

_EMPTY = pa.schema([("time", pa.timestamp("us", tz="UTC")), ("value", pa.float64()), ("min", pa.float64()),
                    ("max", pa.float64()), ("count", pa.int64())])


def series(city: City, datastream: int | str, *, start: Any = None, end: Any = None, bucket: str | None = None,
           max_points: int | None = None, role: str | None = None) -> pa.Table:
    """Observations of one datastream in [start, end): raw (``time``, ``value``) or, with a bucket
    such as ``"5m"``, ``"1h"``, ``"1d"`` or ``"PT15M"``, one row per bucket with avg (``value``),
    min, max, count. Buckets follow the city's wall clock: ``1d`` runs from local midnight to local
    midnight in the city's time zone. With a ``role``, a datastream it may not see is not found.

    Example:
        >>> series(city, "ws.dust.1.pm10", start="2026-05-01T00:00+08:00", bucket="15m")  # doctest: +SKIP
    """

    ds = datastream_id(city, datastream)
    seen = visible_datastreams(city, role)
    if seen is not None and ds not in seen:
        raise EntityNotFound(f"no sensor datastream {datastream!r}")
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
    return _bucketed(city, cond, params, parse_bucket(bucket))


def _bucketed(city: City, cond: str, params: list[Any], width: int) -> pa.Table:

    lo, hi = city.store.rows(f"SELECT epoch_us(min(phenomenon_time)), epoch_us(max(phenomenon_time)) "
                             f"FROM iot_observations WHERE {cond}", params)[0]
    if lo is None:
        return _EMPTY.empty_table()
    zone = city_timezone(city)
    offset, offset_params = local_offset_sql(zone, int(lo), int(hi))
    table = city.store.arrow(
        f"SELECT {bucket_key_sql(offset)} AS k, avg(result) AS value, min(result) AS min, max(result) AS max, "
        f"count(*) AS count FROM iot_observations WHERE {cond} GROUP BY 1 ORDER BY 1",
        [*offset_params, width, *params])
    starts = bucket_starts(table.column("k"), width, zone)
    return table.drop_columns(["k"]).add_column(0, "time", starts).cast(_EMPTY)


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


def last_time_before(city: City, datastream: int, end: datetime) -> datetime | None:
    """The newest observation time of ``datastream`` before ``end`` (None when there is none)."""
    return city.store.scalar("SELECT max(phenomenon_time) FROM iot_observations "
                             "WHERE datastream_id = ? AND phenomenon_time < ?", [int(datastream), end])


def data_period(city: City, *, role: str | None = None, live_within: timedelta = timedelta(days=1),
                now: datetime | None = None) -> dict[str, Any]:
    """The first and last observation of the datastreams ``role`` may see, the city's time zone, and
    whether the data is live (its last observation within ``live_within`` of now) or history.

    The viewer's time slider spans this period: a city whose readings are all from 2017 gets a
    slider over 2017 that rests on its last reading, not one that ends at an empty "now".
    """

    now = now or datetime.now(UTC)
    visible, allowed = visible_datastreams_sql(role)
    last = city.store.scalar(f"SELECT max(phenomenon_time) FROM iot_latest WHERE {visible}", allowed)
    first = None
    if last is not None:
        first = city.store.scalar(f"SELECT min(phenomenon_time) FROM iot_observations WHERE {visible}", allowed)
    live = last is not None and last >= now - live_within
    return {"first": first, "last": last, "timezone": city_timezone(city), "live": bool(live), "now": now}
