"""Units of measurement as UCUM codes: the table of codes cim knows, what each measures, conversions.

A datastream's unit must be a UCUM code that measures the same dimension as its observed property
(``ug/m3`` for PM10, ``kPa`` for pipe pressure); ``t`` for a noise level is refused. Codes outside
the built-in table can be allowed per city (``allow_unit``), which is how a site adds ``[psi]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from cim.errors import ValidationError

if TYPE_CHECKING:
    from cim.city import City

UCUM_DEFINITION = "http://unitsofmeasure.org/ucum.html"


@dataclass(frozen=True)
class Unit:
    """One UCUM code: human name, what it measures, and how to reach the dimension's base unit."""

    code: str
    name: str
    dimension: str
    factor: float = 1.0   # base = value * factor + offset
    offset: float = 0.0


_TABLE = [
    Unit("ug/m3", "microgram per cubic metre", "mass_concentration"),
    Unit("mg/m3", "milligram per cubic metre", "mass_concentration", 1e3),
    Unit("ng/m3", "nanogram per cubic metre", "mass_concentration", 1e-3),
    Unit("g/m3", "gram per cubic metre", "mass_concentration", 1e6),
    Unit("dB", "decibel", "sound_level"),
    Unit("dB{A}", "decibel, A-weighted", "sound_level"),
    Unit("kg", "kilogram", "mass"),
    Unit("g", "gram", "mass", 1e-3),
    Unit("t", "tonne", "mass", 1e3),
    Unit("deg", "degree", "angle"),
    Unit("rad", "radian", "angle", 180 / np.pi),
    Unit("m", "metre", "length"),
    Unit("cm", "centimetre", "length", 1e-2),
    Unit("mm", "millimetre", "length", 1e-3),
    Unit("km", "kilometre", "length", 1e3),
    Unit("K", "kelvin", "temperature"),
    Unit("Cel", "degree Celsius", "temperature", 1.0, 273.15),
    Unit("[degF]", "degree Fahrenheit", "temperature", 5 / 9, 273.15 - 32 * 5 / 9),
    Unit("Pa", "pascal", "pressure"),
    Unit("hPa", "hectopascal", "pressure", 1e2),
    Unit("kPa", "kilopascal", "pressure", 1e3),
    Unit("MPa", "megapascal", "pressure", 1e6),
    Unit("bar", "bar", "pressure", 1e5),
    Unit("mbar", "millibar", "pressure", 1e2),
    Unit("m/s", "metre per second", "velocity"),
    Unit("km/h", "kilometre per hour", "velocity", 1 / 3.6),
    Unit("m3/s", "cubic metre per second", "flow_rate"),
    Unit("m3/h", "cubic metre per hour", "flow_rate", 1 / 3600),
    Unit("L/s", "litre per second", "flow_rate", 1e-3),
    Unit("1", "ratio (0-1)", "ratio"),
    Unit("%", "percent", "ratio", 1e-2),
    Unit("[ppm]", "part per million", "ratio", 1e-6),
    Unit("[ppb]", "part per billion", "ratio", 1e-9),
    Unit("%{LEL}", "percent of the lower explosive limit", "lel"),
    Unit("{state}", "state code", "state"),
    Unit("{count}", "count", "count"),
    Unit("W", "watt", "power"),
    Unit("kW", "kilowatt", "power", 1e3),
    Unit("A", "ampere", "current"),
    Unit("V", "volt", "voltage"),
    Unit("lx", "lux", "illuminance"),
]

#: code → Unit, the built-in table
UNITS: dict[str, Unit] = {u.code: u for u in _TABLE}

#: dimensions a property may have
DIMENSIONS = tuple(sorted({u.dimension for u in _TABLE}))

#: observed properties cim knows: key → (name, dimension, default unit, definition)
PROPERTIES: dict[str, tuple[str, str, str, str]] = {
    "pm10": ("PM10", "mass_concentration", "ug/m3", "http://vocab.nerc.ac.uk/collection/P01/current/PM10/"),
    "pm2_5": ("PM2.5", "mass_concentration", "ug/m3", "http://vocab.nerc.ac.uk/collection/P01/current/PM25/"),
    "so2": ("SO2", "mass_concentration", "ug/m3", ""),
    "no2": ("NO2", "mass_concentration", "ug/m3", ""),
    "o3": ("O3", "mass_concentration", "ug/m3", ""),
    "co": ("CO", "mass_concentration", "ug/m3", ""),
    "noise": ("Noise level (LAeq)", "sound_level", "dB{A}", ""),
    "crane_load": ("Crane hook load", "mass", "t", ""),
    "tilt": ("Tower tilt", "angle", "deg", ""),
    "methane": ("Methane", "lel", "%{LEL}", ""),
    "water_level": ("Water level", "length", "m", ""),
    "temperature": ("Air temperature", "temperature", "Cel", ""),
    "dew_point": ("Dew point", "temperature", "Cel", ""),
    "humidity": ("Relative humidity", "ratio", "%", ""),
    "pressure": ("Pipe pressure", "pressure", "kPa", ""),
    "air_pressure": ("Air pressure", "pressure", "hPa", ""),
    "rain": ("Precipitation", "length", "mm", ""),
    "wind_speed": ("Wind speed", "velocity", "m/s", ""),
    "discharge": ("Discharge", "flow_rate", "m3/s", ""),
    "occupancy": ("Bay occupancy", "ratio", "1", ""),
    "charger_state": ("Charger state (0 free, 1 charging, 2 fault, 3 offline)", "state", "{state}", ""),
    "charging_power": ("Charging power", "power", "kW", ""),
}


def known_units(city: City | None = None) -> dict[str, Unit]:
    """The built-in table plus the codes this city allows (``allow_unit``)."""
    units = dict(UNITS)
    if city is not None:
        for code, name, dimension, factor in city.store.rows(
                "SELECT code, name, dimension, factor FROM iot_units"):
            units[code] = Unit(code, name, dimension, factor)
    return units


def get_unit(code: str, city: City | None = None, *, where: str = "") -> Unit:
    """The unit for a UCUM code; a ValidationError names close codes when it is unknown."""
    units = known_units(city)
    if code in units:
        return units[code]
    hint = [c for c in units if c.lower() == str(code).lower() or c.lower().replace("[", "") == str(code).lower()]
    suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
    raise ValidationError(
        f"unknown unit {code!r}{where}{suggestion}: use a UCUM code such as ug/m3, kPa, Cel, dB{{A}}, t, deg, "
        "m, %, or allow it for this city with cim.iot.allow_unit"
    )


def check_unit(code: str, dimension: str, prop: str, city: City | None = None) -> Unit:
    """The unit, when it measures ``dimension``; otherwise a ValidationError saying which fit."""
    unit = get_unit(code, city, where=f" for {prop}")
    if unit.dimension != dimension:
        fitting = [u.code for u in known_units(city).values() if u.dimension == dimension]
        raise ValidationError(
            f"unit {code!r} measures {unit.dimension}, but {prop} is a {dimension}: use one of "
            f"{', '.join(fitting)}"
        )
    return unit


def conversion(source: str, target: str, city: City | None = None) -> tuple[float, float]:
    """(scale, offset) with ``target_value = source_value * scale + offset``; refuses other dimensions."""
    a, b = get_unit(source, city), get_unit(target, city)
    if a.dimension != b.dimension:
        raise ValidationError(f"cannot convert {source} ({a.dimension}) to {target} ({b.dimension})")
    return a.factor / b.factor, (a.offset - b.offset) / b.factor


def allow_unit(city: City, code: str, *, name: str, dimension: str, factor: float = 1.0) -> Unit:
    """Allow a UCUM code the built-in table lacks, in this city.

    Example:
        >>> allow_unit(city, "[psi]", name="pound per square inch", dimension="pressure",
        ...            factor=6894.757)  # doctest: +SKIP
    """
    if dimension not in DIMENSIONS:
        raise ValidationError(f"unknown dimension {dimension!r}: use one of {', '.join(DIMENSIONS)}")
    if not code or any(ch.isspace() for ch in code):
        raise ValidationError(f"bad UCUM code {code!r}: a code has no spaces, e.g. [psi]")
    with city.store.transaction():
        city.store.execute("DELETE FROM iot_units WHERE code = ?", [code])
        city.store.execute("INSERT INTO iot_units VALUES (?, ?, ?, ?)", [code, name, dimension, float(factor)])
    return Unit(code, name, dimension, float(factor))
