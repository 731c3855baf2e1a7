"""Synthetic sensor signals for demos and benchmarks: daily profiles by observed property, noise,
and scheduled incidents (a dust spike, a gas leak, a pipe burst, a silent charger …).

Deterministic for a given random generator; times are interpreted in the city's local time so a
worksite is noisy by day and quiet at night.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

LOCAL = timedelta(hours=8)  # Beijing time, UTC+8, no daylight saving


@dataclass(frozen=True)
class Incident:
    """Something that happens to one stream: from ``start`` (local minutes after midnight) for
    ``minutes``; ``peak`` is the value reached; ``shape`` is spike, ramp, drop, hold or silent."""

    start: float
    minutes: float
    peak: float
    shape: str = "spike"


@dataclass(frozen=True)
class Profile:
    """How one stream behaves: a property's daily shape around ``base`` with ``amp`` and ``noise``."""

    key: str
    prop: str
    base: float
    amp: float = 0.0
    noise: float = 0.0
    incident: Incident | None = None


def local_minutes(times: np.ndarray) -> np.ndarray:
    """Minutes after local midnight of UTC ``datetime64[us]`` times."""
    local = (times + np.timedelta64(int(LOCAL.total_seconds()), "s")).astype("datetime64[us]")
    return (local - local.astype("datetime64[D]")).astype("timedelta64[s]").astype(np.int64) / 60.0


def _work(minutes: np.ndarray) -> np.ndarray:
    """0 at night, 1 during working hours (07:00–19:00), with a half-hour ramp at each end."""
    return np.clip(np.minimum((minutes - 420) / 30, (1140 - minutes) / 30), 0, 1)


def _daily(p: Profile, m: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    day = np.sin((m - 360) / 1440 * 2 * np.pi)  # peaks mid-afternoon
    work = _work(m)
    shape = {
        "pm10": p.base + p.amp * work, "noise": p.base + p.amp * work,
        "crane_load": work * (p.base + p.amp * np.abs(np.sin(m / 7.0))), "tilt": p.base + p.amp * work,
        "temperature": p.base + p.amp * day, "occupancy": p.base + p.amp * work,
    }.get(p.prop, np.full(len(m), p.base))
    values = shape + rng.normal(0, p.noise, len(m)) if p.noise else shape.astype(float)
    if p.prop == "occupancy":
        return (rng.random(len(m)) < np.clip(values, 0, 1)).astype(float)
    if p.prop == "charger_state":
        return (rng.random(len(m)) < 0.25 + 0.4 * work).astype(float)  # 0 free, 1 charging
    if p.prop in ("methane", "water_level", "crane_load", "pm10", "tilt"):
        values = np.maximum(values, 0.0)
    return values


def simulate(p: Profile, times: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Values of stream ``p`` at UTC ``times`` (``datetime64[us]``), and which times it reported."""
    m = local_minutes(times)
    values = _daily(p, m, rng)
    reported = np.ones(len(times), dtype=bool)
    inc = p.incident
    if inc is None:
        return values, reported
    into = (m - inc.start) % 1440  # incidents recur daily at the same local time
    on = (into >= 0) & (into < inc.minutes)
    frac = np.clip(into / max(inc.minutes, 1), 0, 1)
    if inc.shape == "spike":
        values[on] = inc.peak * (0.9 + 0.1 * np.sin(frac[on] * np.pi))
    elif inc.shape == "ramp":  # rises to the peak by the middle, then falls back
        values[on] = values[on] + (inc.peak - values[on]) * np.sin(frac[on] * np.pi)
    elif inc.shape == "drop":
        values[on] = inc.peak
    elif inc.shape == "hold":
        values[on] = inc.peak
    elif inc.shape == "silent":
        reported &= ~on
    return values, reported


def day_times(end: datetime, *, step_minutes: int = 5, hours: int = 24) -> np.ndarray:
    """Regular UTC times (``datetime64[us]``) over the ``hours`` up to ``end`` (aware)."""
    stop = np.datetime64(end.astimezone(UTC).replace(tzinfo=None), "us")
    n = hours * 60 // step_minutes
    return stop - np.arange(n)[::-1] * np.timedelta64(step_minutes * 60_000_000, "us")
