"""The city's time settings for sensors: its time zone, and the window of plausible observation times.

Both are city-wide settings (``cim_meta``), so every write path (file, HTTP, MQTT, Python) and every
reader (day buckets, the viewer) agrees on them without being told on each call:

``timezone``          IANA name; local midnight there is where day buckets are cut (default Asia/Shanghai)
``iot.time_floor``    observations before this instant are refused (default 1970-01-01T00:00:00Z)
``iot.max_skew_s``    observations later than now plus this many seconds are refused (default 600)

A call or CLI flag may widen the window for one load (``TimeWindow(floor=...)``), e.g. for a
historic archive older than the floor.

Example:
    >>> configure(city, timezone="Europe/Amsterdam", max_skew=timedelta(minutes=5))  # doctest: +SKIP
    IotSettings(timezone='Europe/Amsterdam', time_floor=..., max_skew=datetime.timedelta(seconds=300))
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from cim.errors import ValidationError
from cim.model.history import set_meta

if TYPE_CHECKING:
    from cim.city import City
    from cim.store.base import Store

DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_FLOOR = datetime(1970, 1, 1, tzinfo=UTC)
DEFAULT_SKEW = timedelta(minutes=10)
_KEYS = {"timezone": "timezone", "time_floor": "iot.time_floor", "max_skew": "iot.max_skew_s"}


@dataclass(frozen=True)
class TimeWindow:
    """Observation times a write accepts: not before ``floor``, not after now + ``max_skew``."""

    floor: datetime = DEFAULT_FLOOR
    max_skew: timedelta = DEFAULT_SKEW

    def limits_us(self, now: datetime | None = None) -> tuple[int, int]:
        """(lowest, highest) accepted time in microseconds since 1970 UTC, at ``now``."""
        now = now or datetime.now(UTC)
        return _micros(self.floor), _micros(now + self.max_skew)


@dataclass(frozen=True)
class IotSettings:
    """The city's time zone and default time window."""

    timezone: str = DEFAULT_TIMEZONE
    time_floor: datetime = DEFAULT_FLOOR
    max_skew: timedelta = DEFAULT_SKEW

    @property
    def window(self) -> TimeWindow:
        """The default window of plausible observation times."""
        return TimeWindow(self.time_floor, self.max_skew)


def iot_settings(city: City) -> IotSettings:
    """The city's settings (defaults where none was set)."""
    return read_settings(city.store)


def read_settings(store: Store) -> IotSettings:
    """``iot_settings`` from a store (one query)."""
    rows = dict(store.rows("SELECT key, value FROM cim_meta WHERE key IN (?, ?, ?)", list(_KEYS.values())))
    zone = rows.get(_KEYS["timezone"]) or DEFAULT_TIMEZONE
    floor = parse_instant(rows[_KEYS["time_floor"]], "time floor") if rows.get(_KEYS["time_floor"]) else DEFAULT_FLOOR
    skew = timedelta(seconds=float(rows[_KEYS["max_skew"]])) if rows.get(_KEYS["max_skew"]) else DEFAULT_SKEW
    return IotSettings(zone, floor, skew)


def window_for(city: City, *, time_floor: Any = None, max_skew: Any = None) -> TimeWindow:
    """The city's time window with a call's own floor and/or skew in place of the city's."""
    base = iot_settings(city)
    return TimeWindow(parse_instant(time_floor, "time floor") if time_floor is not None else base.time_floor,
                      parse_duration(max_skew) if max_skew is not None else base.max_skew)


def city_timezone(city: City) -> str:
    """The IANA name of the city's time zone (Asia/Shanghai unless set)."""
    return city.meta(_KEYS["timezone"]) or DEFAULT_TIMEZONE


def configure(city: City, *, timezone: str | None = None, time_floor: Any = None,
              max_skew: timedelta | str | float | None = None, actor: str | None = None) -> IotSettings:
    """Change the city's time zone and/or time window (the rest stays); returns the new settings.

    Why a setting and not an argument: day buckets, alerts and the viewer must agree on the zone, and
    every write path on the window; one place holds them.
    """
    changes: dict[str, str] = {}
    if timezone is not None:
        changes[_KEYS["timezone"]] = check_timezone(timezone)
    if time_floor is not None:
        changes[_KEYS["time_floor"]] = parse_instant(time_floor, "time floor").isoformat()
    if max_skew is not None:
        changes[_KEYS["max_skew"]] = repr(parse_duration(max_skew).total_seconds())
    if changes:
        with city.store.transaction():
            for key, value in changes.items():
                set_meta(city.store, key, value)
            city.record("settings", details=changes, actor=actor)
    return iot_settings(city)


def check_timezone(name: str) -> str:
    """``name`` when it is an IANA time zone this machine knows, else a ValidationError saying so."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(f"unknown time zone {name!r}: use an IANA name such as Asia/Shanghai or "
                              "Europe/Amsterdam") from exc
    return str(name)


def parse_instant(value: Any, what: str = "time") -> datetime:
    """An aware datetime from an aware datetime, ISO 8601 text with a zone, or a date (midnight UTC)."""
    if isinstance(value, datetime):
        when = value
    else:
        text = str(value).strip()
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValidationError(f"bad {what} {value!r}: use ISO 8601, e.g. 1900-01-01 or "
                                  "2017-01-01T00:00:00+08:00") from exc
        if when.tzinfo is None and len(text) == 10:  # a bare date is midnight UTC
            when = when.replace(tzinfo=UTC)
    if when.tzinfo is None:
        raise ValidationError(f"{what} {value!r} has no time zone: add Z or an offset such as +08:00")
    return when.astimezone(UTC)


def parse_duration(value: timedelta | str | float) -> timedelta:
    """A duration from a timedelta, seconds, or text such as ``0s``, ``90s``, ``10m``, ``2h``, ``1d``."""
    if isinstance(value, timedelta):
        out = value
    elif isinstance(value, int | float):
        out = timedelta(seconds=float(value))
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise ValidationError(f"bad duration {value!r}: use e.g. 90s, 10m, 2h or 1d")
        out = timedelta(seconds=float(m.group(1)) * _SECONDS[(m.group(2) or "s").lower()])
    if out < timedelta(0):
        raise ValidationError(f"a skew is a duration >= 0, got {value!r}")
    return out


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d)?\s*$", re.I)
_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def _micros(when: datetime) -> int:
    return (when - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
