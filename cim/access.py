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


def view_of(classification: str | None, role: str) -> View | None:
    """How ``role`` sees data of ``classification``: "full", "coarse" (desensitised) or None (hidden)."""
    row = _MATRIX.get(classification or "restricted", _MATRIX["restricted"])
    return row[check_role(role)]


def visible_classifications(role: str) -> dict[str, View]:
    """Classification → view for every classification ``role`` may see at all."""
    return {c: v for c, row in _MATRIX.items() if (v := row[check_role(role)]) is not None}


def coarse_geometry_sql(column: str = "geom") -> str:
    """SQL expression snapping ``column`` (city CRS, metres) to the coarse grid."""
    return f"ST_ReducePrecision({column}, {COARSE_GRID_M})"


def coarsen_geometry(geometry: Any) -> Any:
    """The same snapping for shapely geometries (city CRS), for paths that do not go through SQL."""
    import shapely

    return shapely.set_precision(geometry, COARSE_GRID_M)


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
    "view_of",
    "visible_classifications",
    "coarse_geometry_sql",
    "coarsen_geometry",
    "coarsen_z",
    "mask_properties",
]
