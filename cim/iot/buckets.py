"""Time buckets cut on the city's wall clock: a day bucket runs from local midnight to local midnight
in the city's time zone (``cim.iot.settings``), not in UTC.

Buckets are counted on local time from 2000-01-03 00:00 (a Monday, so 7-day buckets are weeks), as
TimescaleDB's ``time_bucket(…, timezone)`` does. In SQL each row's local time is its UTC time plus
the zone's offset, written as a CASE over the few offset changes (daylight saving) inside the rows'
time range, so the same statement runs on every backend; bucket keys become instants again in
Python, over the buckets only. Where clocks go back, the repeated local hour falls into one bucket.

Example:
    >>> local_offset_sql("Asia/Shanghai", 1_483_228_800_000_000, 1_514_764_800_000_000)  # 2017
    ('?', [28800000000])
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa

#: local 2000-01-03 00:00 as microseconds on the local clock
ORIGIN_US = int((datetime(2000, 1, 3) - datetime(1970, 1, 1)) / timedelta(microseconds=1))
_HOUR_US = 3_600_000_000


def local_offset_sql(zone: str, lo_us: int, hi_us: int, column: str = "phenomenon_time") -> tuple[str, list[int]]:
    """SQL (and parameters) for the zone's UTC offset in µs at ``column``, valid for times in [lo, hi]."""
    segments = offset_segments(zone, lo_us, hi_us)
    if len(segments) == 1:
        return "?", [segments[0][1]]
    params: list[int] = []
    parts = []
    for (_start, offset), (nxt, _o) in zip(segments, segments[1:], strict=False):
        parts.append(f"WHEN epoch_us({column}) < ? THEN ?")
        params += [nxt, offset]
    params.append(segments[-1][1])
    return f"(CASE {' '.join(parts)} ELSE ? END)", params


def offset_segments(zone: str, lo_us: int, hi_us: int) -> list[tuple[int, int]]:
    """[(from µs, offset µs)] covering [lo, hi]: the zone's UTC offset and where it changes."""
    lo_h, hi_h = lo_us // _HOUR_US, -(-hi_us // _HOUR_US)
    hours = np.arange(lo_h, hi_h + 1, dtype=np.int64) * _HOUR_US
    offsets = _offsets(zone, hours)
    changes = np.flatnonzero(np.diff(offsets)) + 1
    out = [(int(lo_us), int(offsets[0]))]
    for i in changes:
        at = _refine(zone, int(hours[i - 1]), int(hours[i]), int(offsets[i - 1]))
        out.append((at, int(offsets[i])))
    return out


def _offsets(zone: str, micros: np.ndarray) -> np.ndarray:
    """The zone's UTC offset (µs) at each instant."""
    utc = pd.DatetimeIndex(micros.astype("datetime64[us]")).tz_localize("UTC")
    local = utc.tz_convert(zone).tz_localize(None).as_unit("us")
    return local.asi8 - micros


def _refine(zone: str, lo: int, hi: int, before: int) -> int:
    """The first µs in (lo, hi] whose offset is not ``before`` (offsets change on whole seconds)."""
    lo_s, hi_s = lo // 1_000_000, hi // 1_000_000
    while hi_s - lo_s > 1:
        mid = (lo_s + hi_s) // 2
        if int(_offsets(zone, np.array([mid * 1_000_000]))[0]) == before:
            lo_s = mid
        else:
            hi_s = mid
    return hi_s * 1_000_000


def bucket_key_sql(offset_sql: str) -> str:
    """SQL for a row's bucket number: ``floor((utc µs + offset − origin) / width)``; width is the last ``?``."""
    return (f"CAST(floor(CAST(epoch_us(phenomenon_time) + {offset_sql} - {ORIGIN_US} AS DOUBLE) "
            "/ CAST(? AS DOUBLE)) AS BIGINT)")


def bucket_starts(keys: pa.Array, width_us: int, zone: str) -> pa.Array:
    """The instant (UTC) each bucket number starts at: its local start time placed in the zone."""
    numbers = np.asarray(keys.to_numpy(zero_copy_only=False), dtype=np.int64)
    local = pd.DatetimeIndex((numbers * width_us + ORIGIN_US).astype("datetime64[us]"))
    placed = local.tz_localize(zone, ambiguous=np.ones(len(local), dtype=bool), nonexistent="shift_forward")
    return pa.array(placed.tz_convert(UTC), pa.timestamp("us", tz="UTC"))
