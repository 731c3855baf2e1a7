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
==============  =========  ======  ========  =======  =====

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
]
