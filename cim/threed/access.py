"""Who may fetch a layer's 3D tiles: the city's roles and classifications, applied to 3D content.

Why: a restricted layer must not leak through 3D Tiles to a role that may not see it in features
or vector tiles. The rule is the model's own (``cim.access``) when that module is present; until
then, the documented default below holds. A tileset is cached per *view*, so two roles that see
different things never share cached content.

Default rule: ``public`` layers are seen by everyone (anonymous included); ``internal`` layers by
any signed-in role (viewer, operator, planner, admin); ``restricted`` layers by planner and admin
only. 3D meshes cannot be coarsened the way 2D coordinates can, so a role that would only see a
desensitised restricted layer gets no 3D tiles for it.

Example:
    >>> view_for({"name": "buildings", "classification": "public"}, None)
    'full'
"""

from __future__ import annotations

from typing import Any

from cim.errors import PermissionDenied

__all__ = ["view_for", "ROLES"]

#: roles from least to most trusted; None is the anonymous caller
ROLES = ("viewer", "operator", "planner", "admin")
_NEEDS = {"public": None, "internal": "viewer", "restricted": "planner"}


def _rank(role: str | None) -> int:
    return -1 if role is None else (ROLES.index(role) if role in ROLES else -1)


def view_for(layer: dict[str, Any], role: str | None) -> str:
    """The cache key of what ``role`` sees of ``layer`` in 3D; ``PermissionDenied`` if nothing."""
    classification = layer.get("classification") or "public"
    decided = _model_rule(layer, role)
    if decided is not None:
        allowed, view = decided
    else:
        need = _NEEDS.get(classification, "admin")
        allowed = need is None or _rank(role) >= _rank(need)
        view = "full"
    if not allowed:
        who = f"role {role!r}" if role else "an anonymous caller"
        raise PermissionDenied(f"layer {layer['name']!r} is {classification}: {who} may not see it; "
                               "use an API key of a role that may")
    return view


def _model_rule(layer: dict[str, Any], role: str | None) -> tuple[bool, str] | None:
    """(allowed, view) from ``cim.access`` when it offers ``can_see_layer(role, layer)``."""
    try:
        from cim import access
    except ImportError:
        return None
    rule = getattr(access, "can_see_layer", None)
    if rule is None:
        return None
    allowed = bool(rule(role, layer))
    return allowed, "full"
