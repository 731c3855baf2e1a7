"""What a layer IS: its class, CIM level, and which of its fields hold names, heights, floors,
base and roof, and zoning limits — declared on ingest, inferred where not, kept in the catalogue.

Why: users' data is never shaped like the demo. A footprint layer's ``height`` may count storeys,
floors may be called ``floors``, ``层数`` or ``building:levels``, a height limit ``限高``. The profile
says once, per layer, how to read them; the feature ``height`` column holds metres computed from
it (storeys × floor height when the field counts storeys), and consumers (analysis, tiles, the
viewer) read the profile instead of guessing field names.

Example:
    >>> p = LayerProfile(feature_class="Building", height_field="层数", height_unit="floors",
    ...                  floors_field="层数", zoning=(("height_limit", "限高"),))
    >>> p.height_source
    '层数 × 3 m'
    >>> LayerProfile.from_json(p.to_json()) == p
    True
    >>> p.zoning_field("height_limit")
    '限高'
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from cim.errors import ValidationError
from cim.model.relations import prop, prop_text

#: units a height field may be in: metres, or a count of storeys (× the floor height)
HEIGHT_UNITS = ("m", "floors")
_UNIT_ALIASES = {"m": "m", "metre": "m", "metres": "m", "meter": "m", "meters": "m", "米": "m",
                 "floors": "floors", "floor": "floors", "storeys": "floors", "stories": "floors", "层": "floors"}

#: the planning rules' field for each zoning limit (see datasets/planning_rules.yaml)
ZONING_KEYS = ("height_limit", "far_limit", "density_limit", "green_min", "setback", "land_use")
_ZONING_ALIASES = {"green_limit": "green_min", "setback_limit": "setback"}

DEFAULT_FLOOR_HEIGHT = 3.0


@dataclass(frozen=True)
class LayerProfile:
    """One layer's profile. ``zoning`` pairs a rule field with the source field holding it
    (``("height_limit", "限高")``); ``inferred`` names the facts ingest guessed rather than was told."""

    feature_class: str | None = None
    cim_level: int | None = None
    name_field: str | None = None
    height_field: str | None = None
    height_unit: str = "m"
    floor_height: float = DEFAULT_FLOOR_HEIGHT
    floors_field: str | None = None
    base_field: str | None = None
    roof_field: str | None = None
    zoning: tuple[tuple[str, str], ...] = ()
    inferred: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "height_unit", height_unit(self.height_unit))
        if not self.floor_height or self.floor_height <= 0:
            raise ValidationError(f"floor height {self.floor_height!r} must be a positive number of metres")
        if self.cim_level is not None and not 1 <= int(self.cim_level) <= 7:
            raise ValidationError(f"CIM level {self.cim_level!r} must be 1–7 (CJJ/T 315)")
        object.__setattr__(self, "zoning", tuple(sorted((zoning_key(k), v) for k, v in dict(self.zoning).items())))
        object.__setattr__(self, "inferred", tuple(sorted(set(self.inferred))))

    @property
    def height_source(self) -> str:
        """Where the feature heights come from, for people: ``height (m)``, ``层数 × 3 m``, ``none``."""
        if not self.height_field:
            return "none"
        if self.height_unit == "floors":
            return f"{self.height_field} × {self.floor_height:g} m"
        return f"{self.height_field} (m)"

    def zoning_field(self, key: str) -> str | None:
        """The source field holding a zoning limit (``height_limit`` → ``限高``), or None."""
        return dict(self.zoning).get(zoning_key(key))

    def source_fields(self) -> dict[str, str]:
        """Every field the profile names, by the role it plays (for checks against the layer's fields)."""
        roles = {"name_field": self.name_field, "height_field": self.height_field,
                 "floors_field": self.floors_field, "base_field": self.base_field, "roof_field": self.roof_field}
        out = {role: field for role, field in roles.items() if field}
        out.update({f"zoning {key}": field for key, field in self.zoning})
        return out

    def changed(self, **changes: Any) -> LayerProfile:
        """A copy with ``changes``; the facts changed are no longer counted as inferred."""
        return replace(self, **changes, inferred=tuple(i for i in self.inferred if i not in _facts(changes)))

    def to_json(self) -> dict[str, Any]:
        """Plain data for the catalogue (``layers.properties["profile"]``)."""
        return {"class": self.feature_class, "cim_level": self.cim_level, "name_field": self.name_field,
                "height": {"field": self.height_field, "unit": self.height_unit, "floor_height": self.floor_height},
                "floors_field": self.floors_field, "base_field": self.base_field, "roof_field": self.roof_field,
                "zoning": dict(self.zoning), "inferred": list(self.inferred)}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> LayerProfile | None:
        """The profile stored by ``to_json`` (None stays None)."""
        if not data:
            return None
        height = data.get("height") or {}
        return cls(feature_class=data.get("class"), cim_level=data.get("cim_level"), name_field=data.get("name_field"),
                   height_field=height.get("field"), height_unit=height.get("unit") or "m",
                   floor_height=float(height.get("floor_height") or DEFAULT_FLOOR_HEIGHT),
                   floors_field=data.get("floors_field"), base_field=data.get("base_field"),
                   roof_field=data.get("roof_field"), zoning=tuple((data.get("zoning") or {}).items()),
                   inferred=tuple(data.get("inferred") or ()))

    def column_sql(self) -> dict[str, str]:
        """The feature columns the profile decides, as SQL over a feature row's ``properties``
        (the same values ingest computes): class, CIM level, name, z range and height in metres."""
        height = "NULL"
        if self.height_field:
            height = prop(self.height_field)
            if self.height_unit == "floors":
                height = f"({height} * {float(self.floor_height)!r})"
            elif self.floors_field and self.floors_field != self.height_field:  # metres, else storeys × floor
                height = f"COALESCE({height}, {prop(self.floors_field)} * {float(self.floor_height)!r})"
        return {
            "class": _text(self.feature_class) if self.feature_class else "class",
            "cim_level": str(int(self.cim_level)) if self.cim_level is not None else "cim_level",
            "name": prop_text(self.name_field) if self.name_field else "NULL",
            "z_min": prop(self.base_field) if self.base_field else "NULL",
            "z_max": prop(self.roof_field) if self.roof_field else "NULL",
            "height": height,
        }


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


#: profile attributes → the fact names ``inferred`` uses
_FACT_OF = {"feature_class": "class", "cim_level": "cim_level", "name_field": "name", "height_field": "height",
            "height_unit": "height", "floor_height": "height", "floors_field": "floors", "base_field": "base",
            "roof_field": "roof", "zoning": "zoning"}


def _facts(changes: dict[str, Any]) -> set[str]:
    return {_FACT_OF[k] for k in changes if k in _FACT_OF}


def height_unit(text: str) -> str:
    """``m`` or ``floors`` from the spellings people use (metres, storeys, 层 …)."""
    unit = _UNIT_ALIASES.get(str(text).strip().lower())
    if unit is None:
        raise ValidationError(f"unknown height unit {text!r}: use m (metres) or floors (storeys × floor height)")
    return unit


def parse_height(text: str) -> tuple[str, str]:
    """``--height FIELD[:UNIT]`` → (field, unit); a field name may itself hold ':' (``building:levels``).

    Example:
        >>> parse_height("层数:floors"), parse_height("height"), parse_height("building:levels:floors")
        (('层数', 'floors'), ('height', 'm'), ('building:levels', 'floors'))
    """
    field, sep, unit = str(text).strip().rpartition(":")
    if sep and field and unit.strip().lower() in _UNIT_ALIASES:
        return field.strip(), height_unit(unit)
    if not str(text).strip():
        raise ValidationError("--height needs FIELD or FIELD:UNIT, e.g. --height 层数:floors")
    return str(text).strip(), "m"


def zoning_key(key: str) -> str:
    """A rule field of the zoning vocabulary (``green_limit`` is accepted for ``green_min``)."""
    key = _ZONING_ALIASES.get(str(key).strip(), str(key).strip())
    if key not in ZONING_KEYS:
        raise ValidationError(f"unknown zoning field {key!r}: map onto one of {', '.join(ZONING_KEYS)} "
                              "(e.g. --map 限高=height_limit)")
    return key


def parse_map(items: Any) -> tuple[tuple[str, str], ...]:
    """``--map SOURCE=RULE_FIELD`` items (a list of such strings, comma-separated ones, or a dict
    source → rule field) as (rule field, source field) pairs.

    Example:
        >>> parse_map(["限高=height_limit", "容积率=far_limit,绿地率=green_limit"])
        (('far_limit', '容积率'), ('green_min', '绿地率'), ('height_limit', '限高'))
    """
    if not items:
        return ()
    pairs: dict[str, str] = {}
    if isinstance(items, dict):
        entries = [(str(k), str(v)) for k, v in items.items()]
    else:
        texts = [items] if isinstance(items, str) else list(items)
        entries = []
        for text in (part for t in texts for part in str(t).split(",") if part.strip()):
            source, sep, target = text.partition("=")
            if not sep or not source.strip() or not target.strip():
                raise ValidationError(f"--map {text!r}: give SOURCE_FIELD=RULE_FIELD, e.g. --map 限高=height_limit")
            entries.append((source.strip(), target.strip()))
    for source, target in entries:
        pairs[zoning_key(target)] = source
    return tuple(sorted(pairs.items()))


__all__ = ["LayerProfile", "HEIGHT_UNITS", "ZONING_KEYS", "DEFAULT_FLOOR_HEIGHT", "height_unit", "parse_height",
           "parse_map", "zoning_key"]
