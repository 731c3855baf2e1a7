"""Who may see what: roles, the classification matrix and desensitisation.

Every output path (features, search, vector tiles, 3D Tiles) asks the same two questions here:
*may this role see the layer?* (``view_of``) and, when the answer is "coarse", *what does the
desensitised feature look like?* (``coarse_geometry_sql`` / ``coarsen_geometry`` for
coordinates, ``mask_properties`` for attributes). Keeping them in one module means a restricted
pipe looks the same in GeoJSON, in an MVT tile and in a glb.

The matrix (docs/security.md):

==============  =========  ======  ========  =======  =====
classification  anonymous  viewer  operator  planner  admin
==============  =========  ======  ========  =======  =====
public          full       full    full      full     full
internal        hidden     full    full      full     full
restricted      hidden     hidden  coarse    coarse   full
secret          hidden     hidden  hidden    hidden   hidden
==============  =========  ======  ========  =======  =====

A ``secret`` layer (residents) is hidden from every generic path (features, tiles, 3D Tiles,
search, KPIs, exports); it is read only through ``cim.people``, which applies the field-level
matrix below and audits each read.

Field level (people, land and housing: each field of such a layer has a level, from its profile)::

    level       anonymous  viewer  operator  planner  admin
    public      full       full    full      full     full
    internal    hidden     full    full      full     full
    restricted  hidden     hidden  masked    hidden   full
    secret      hidden     hidden  hidden    hidden   masked

Only ``PERSON_ROLES`` get rows about people at all; every other role gets aggregates (counts per
building, parcel, grid cell or district) with counts below ``K_ANONYMITY`` suppressed.

Example:
    >>> view_of("restricted", "operator")
    'coarse'
    >>> view_of("internal", "anonymous") is None
    True
"""

from __future__ import annotations

import math
from typing import Any, Literal

from cim.errors import PermissionDenied, ValidationError

#: roles, lowest first; ``anonymous`` is everyone without an API key
ROLES = ("anonymous", "viewer", "operator", "planner", "admin")

View = Literal["full", "coarse"]

_MATRIX: dict[str, dict[str, View | None]] = {
    "public": dict.fromkeys(ROLES, "full"),
    "internal": {"anonymous": None, "viewer": "full", "operator": "full", "planner": "full", "admin": "full"},
    "restricted": {"anonymous": None, "viewer": None, "operator": "coarse", "planner": "coarse", "admin": "full"},
    "secret": dict.fromkeys(ROLES, None),
}

#: coordinates of protected assets are snapped to a grid this many metres wide
COARSE_GRID_M = 50.0
#: depths and heights of protected assets are rounded to this many metres
COARSE_Z_M = 1.0
#: the value shown in place of a masked attribute
MASK = "***"
#: attributes that stay readable on a desensitised feature (what kind of asset, not where/how)
OPEN_FIELDS = frozenset({"network", "kind", "use", "land_use", "land_use_name", "class", "name"})


def check_role(role: str) -> str:
    """The role, or a ValidationError naming the roles there are."""
    if role not in ROLES:
        raise ValidationError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    return role


def role_rank(role: str) -> int:
    """Position of ``role`` in ``ROLES`` (anonymous = 0)."""
    return ROLES.index(check_role(role))


def require_role(role: str, minimum: str, action: str) -> None:
    """Raise PermissionDenied unless ``role`` is at least ``minimum``."""
    if role_rank(role) < role_rank(minimum):
        raise PermissionDenied(f"{action} needs the {minimum} role or higher; "
                               f"send an X-API-Key that carries it (you are {role})")


def readable_minimums(role: str) -> tuple[str, ...]:
    """The minimum roles of what ``role`` may read: data marked for a role is read by it and every
    higher role (annotations carry such a minimum).

    Example:
        >>> readable_minimums("operator")
        ('anonymous', 'viewer', 'operator')
    """
    return ROLES[: role_rank(role) + 1]


def may_read(minimum: str | None, role: str) -> bool:
    """Whether ``role`` may read data marked for ``minimum`` and above (unknown or missing → admin only)."""
    return (minimum if minimum in ROLES else "admin") in readable_minimums(role)


def view_of(classification: str | None, role: str) -> View | None:
    """How ``role`` sees data of ``classification``: "full", "coarse" (desensitised) or None (hidden)."""
    row = _MATRIX.get(classification or "restricted", _MATRIX["restricted"])
    return row[check_role(role)]


def visible_classifications(role: str) -> dict[str, View]:
    """Classification → view for every classification ``role`` may see at all."""
    return {c: v for c, row in _MATRIX.items() if (v := row[check_role(role)]) is not None}


def coarse_geometry_sql(column: str = "geom") -> str:
    """SQL expression for the desensitised shape of ``column`` (city CRS, metres).

    Vertices snap to the ``COARSE_GRID_M`` grid. A line or polygon narrower than a cell would
    collapse to an empty geometry (invalid GeoJSON, a tile with nothing in it): it becomes the cells
    it crosses instead — the grid-aligned box around it (its outline, for a line), which tells no
    more than its position to the grid.
    """
    g, m = column, COARSE_GRID_M
    cells = (f"ST_MakeEnvelope(floor(ST_XMin({g}) / {m}) * {m}, floor(ST_YMin({g}) / {m}) * {m}, "
             f"(floor(ST_XMax({g}) / {m}) + 1) * {m}, (floor(ST_YMax({g}) / {m}) + 1) * {m})")
    snapped = f"ST_ReducePrecision({g}, {m})"
    return (f"CASE WHEN {g} IS NULL OR NOT ST_IsEmpty({snapped}) THEN {snapped} "
            f"WHEN ST_Dimension({g}) = 1 THEN ST_Boundary({cells}) ELSE {cells} END")


def coarsen_geometry(geometry: Any) -> Any:
    """The same desensitised shape for shapely geometries (city CRS), for paths that do not go through SQL."""
    import numpy as np
    import shapely

    snapped = shapely.set_precision(geometry, COARSE_GRID_M)
    collapsed = np.asarray(shapely.is_empty(snapped) & ~shapely.is_empty(geometry))
    if not collapsed.any():
        return snapped
    b = np.asarray(shapely.bounds(geometry), dtype=float).reshape(-1, 4)
    m = COARSE_GRID_M
    cells = shapely.box(np.floor(b[:, 0] / m) * m, np.floor(b[:, 1] / m) * m,
                        (np.floor(b[:, 2] / m) + 1) * m, (np.floor(b[:, 3] / m) + 1) * m)
    lines = np.asarray(shapely.get_dimensions(geometry)).reshape(-1) == 1
    cells = np.where(lines, shapely.boundary(cells), cells)
    out = np.where(collapsed.reshape(-1), cells, np.asarray(snapped, dtype=object).reshape(-1))
    return out[0] if np.ndim(snapped) == 0 else out.reshape(np.shape(snapped))


def coarsen_z(value: float | None) -> float | None:
    """A depth or height rounded to ``COARSE_Z_M``."""
    if value is None or not math.isfinite(value):
        return value
    return round(value / COARSE_Z_M) * COARSE_Z_M


def mask_properties(properties: dict[str, Any]) -> dict[str, Any]:
    """Attributes of a desensitised feature: open fields kept, every other value masked.

    Example:
        >>> mask_properties({"network": "gas", "diameter_mm": 300})
        {'network': 'gas', 'diameter_mm': '***'}
    """
    return {k: (v if k in OPEN_FIELDS or v is None else MASK) for k, v in properties.items()}


# -- field level (people, land and housing) -------------------------------------------------------

#: levels a field of a layer may have, lowest first
FIELD_LEVELS = ("public", "internal", "restricted", "secret")

FieldView = Literal["full", "masked"]

_FIELD_MATRIX: dict[str, dict[str, FieldView | None]] = {
    "public": dict.fromkeys(ROLES, "full"),
    "internal": {"anonymous": None, "viewer": "full", "operator": "full", "planner": "full", "admin": "full"},
    "restricted": {"anonymous": None, "viewer": None, "operator": "masked", "planner": None, "admin": "full"},
    "secret": {"anonymous": None, "viewer": None, "operator": None, "planner": None, "admin": "masked"},
}

#: roles that may read rows about people (masked per field); the others get aggregates only
PERSON_ROLES = frozenset({"operator", "admin"})
#: an aggregate counting fewer people than this is suppressed for roles without person access
K_ANONYMITY = 5
#: population grid cells are this many metres wide by default
POPULATION_CELL_M = 200.0


def check_field_level(level: str) -> str:
    """The field level, or a ValidationError naming the levels there are."""
    if level not in FIELD_LEVELS:
        raise ValidationError(f"unknown field level {level!r}: use one of {', '.join(FIELD_LEVELS)}")
    return level


def field_view(level: str | None, role: str) -> FieldView | None:
    """How ``role`` sees a field of ``level``: "full", "masked" or None (left out); no level = restricted."""
    return _FIELD_MATRIX[level if level in _FIELD_MATRIX else "restricted"][check_role(role)]


def may_read_people(role: str) -> bool:
    """True when ``role`` may read rows about people (masked per field); others get aggregates only."""
    return check_role(role) in PERSON_ROLES


def require_people(role: str, action: str) -> None:
    """PermissionDenied unless ``role`` may read rows about people."""
    if not may_read_people(role):
        raise PermissionDenied(f"{action} shows people one by one, which needs the operator or admin role "
                               f"(you are {role}); ask for counts per building, parcel or grid cell instead")


def mask_name(value: str) -> str:
    """张三 → 张*: the first character kept."""
    text = str(value)
    return text[:1] + "*" * max(1, len(text) - 1)


def mask_id_number(value: str) -> str:
    """370102199001011234 → 3701**********1234: region and last four kept."""
    text = str(value)
    return text[:4] + "*" * max(1, len(text) - 8) + text[-4:] if len(text) > 8 else "*" * len(text)


def mask_phone(value: str) -> str:
    """13812345678 → 138****5678."""
    text = str(value)
    return text[:3] + "****" + text[-4:] if len(text) >= 8 else "*" * len(text)


def mask_year(value: Any) -> str:
    """1987 → 1980s."""
    try:
        return f"{int(value) // 10 * 10}s"
    except (TypeError, ValueError):
        return MASK


def mask_date(value: Any) -> str:
    """2021-03-14 → 2021-03: the day left out."""
    text = str(value)
    return text[:7] if len(text) >= 7 else MASK


def mask_region(value: Any) -> str:
    """山东省济南市历下区… → 山东省济南市***: the first six characters kept."""
    text = str(value)
    return text[:6] + MASK if len(text) > 6 else MASK


#: field type → how a masked value of it looks (``address`` is replaced by the building, by the caller)
_MASKS = {"name": mask_name, "id_number": mask_id_number, "phone": mask_phone, "year": mask_year,
          "date": mask_date, "region": mask_region}


def mask_value(kind: str | None, value: Any, *, building: str | None = None) -> Any:
    """A desensitised value of a field of type ``kind``: names 张*, ID numbers 3701**********1234,
    phones 138****5678, years to the decade, dates to the month, an exact address to its building.

    Example:
        >>> mask_value("id_number", "370102199001011234"), mask_value("phone", "13812345678")
        ('3701**********1234', '138****5678')
    """
    if value is None:
        return None
    if kind == "address":
        return building if building is not None else MASK
    return _MASKS.get(kind or "", lambda _v: MASK)(value)


def mask_record(record: dict[str, Any], levels: dict[str, str], kinds: dict[str, str], role: str,
                *, building: str | None = None) -> dict[str, Any]:
    """One row about a person as ``role`` may see it: fields left out, masked or kept by their level."""
    out: dict[str, Any] = {}
    for name, value in record.items():
        view = field_view(levels.get(name), role)
        if view == "full":
            out[name] = value
        elif view == "masked":
            out[name] = mask_value(kinds.get(name), value, building=building)
    return out


def suppress_small(counts: dict[Any, int], k: int = K_ANONYMITY) -> dict[Any, int | None]:
    """Counts below ``k`` become None (suppressed), so no one can be singled out.

    Example:
        >>> suppress_small({"a": 12, "b": 3})
        {'a': 12, 'b': None}
    """
    return {key: (n if n >= k else None) for key, n in counts.items()}


__all__ = [
    "ROLES",
    "COARSE_GRID_M",
    "MASK",
    "OPEN_FIELDS",
    "check_role",
    "role_rank",
    "require_role",
    "readable_minimums",
    "may_read",
    "view_of",
    "visible_classifications",
    "coarse_geometry_sql",
    "coarsen_geometry",
    "coarsen_z",
    "mask_properties",
    "FIELD_LEVELS",
    "PERSON_ROLES",
    "K_ANONYMITY",
    "POPULATION_CELL_M",
    "check_field_level",
    "field_view",
    "may_read_people",
    "require_people",
    "mask_value",
    "mask_record",
    "suppress_small",
]
