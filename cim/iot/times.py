"""Observation times from JSON payloads: ISO 8601 text with a zone, or epoch numbers (UTC)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

NO_TIME = np.iinfo(np.int64).min
_ZONED = re.compile(r"(?:Z|[+-]\d\d(?::?\d\d)?)$")


def parse_times(values: Sequence[Any]) -> tuple[np.ndarray, dict[int, str]]:
    """Microseconds since the epoch (UTC) for each value, and the positions that are unusable.

    Text must carry a zone (``2026-05-01T08:00:00+08:00`` or ``…Z``); a number is seconds since
    1970 UTC, or milliseconds when above 10^11.
    """
    if values and all(type(v) in (int, float) for v in values):  # epoch numbers: one array operation
        return _epochs(np.asarray(values, dtype=np.float64))
    out = np.full(len(values), NO_TIME, dtype=np.int64)
    rejects: dict[int, str] = {}
    texts, text_at = [], []
    for i, value in enumerate(values):
        if isinstance(value, bool) or value is None:
            rejects[i] = "missing time" if value is None else f"unreadable time {value!r}"
        elif isinstance(value, int | float):
            if value != value or abs(value) > 1e14:
                rejects[i] = f"unreadable time {value!r}"
            else:
                out[i] = int(round(value * (1_000 if abs(value) > 1e11 else 1_000_000)))
        elif isinstance(value, str):
            stripped = value.strip()
            if "/" in stripped:
                rejects[i] = f"time intervals are not supported: {value!r}"
            elif not _ZONED.search(stripped):
                rejects[i] = f"time without a zone: {value!r} (add Z or an offset such as +08:00)"
            else:
                texts.append(stripped)
                text_at.append(i)
        else:
            rejects[i] = f"unreadable time {value!r}"
    if texts:
        parsed = pd.to_datetime(pd.Series(texts, dtype="string"), utc=True, errors="coerce", format="ISO8601")
        micros = parsed.to_numpy(dtype="datetime64[us]").astype(np.int64)
        bad = parsed.isna().to_numpy()
        at = np.asarray(text_at)
        out[at[~bad]] = micros[~bad]
        for j in np.flatnonzero(bad):
            rejects[int(at[j])] = f"unreadable time {texts[j]!r}"
    return out, rejects


def _epochs(numbers: np.ndarray) -> tuple[np.ndarray, dict[int, str]]:
    ok = np.isfinite(numbers) & (np.abs(numbers) <= 1e14)
    scaled = np.where(np.abs(numbers) > 1e11, numbers * 1e3, numbers * 1e6)
    out = np.where(ok, np.round(np.where(ok, scaled, 0)), 0).astype(np.int64)
    out[~ok] = NO_TIME
    return out, {int(i): f"unreadable time {numbers[i]!r}" for i in np.flatnonzero(~ok)}


def as_number(value: Any) -> float | None:
    """A JSON result as a float, or None when it is not a number (text, null, true/false, object)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
