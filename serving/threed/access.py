"""What a role sees of a layer in 3D: the model's own rule (``cim.access``) applied to meshes.

Why: a restricted layer must not leak through 3D Tiles to a role that may not see it in features
or vector tiles, and a desensitised ("coarse") view must be as coarse in a glb as in GeoJSON.
For 3D, coarse means: each footprint becomes the box of ``COARSE_GRID_M`` grid cells that
covers it (a location to that grid, never the outline), heights are rounded like depths
(``coarsen_z``); ids, class and name stay (they are open fields). A tileset is planned and cached
per view, so two views never share content.

Example:
    >>> view_for({"name": "buildings", "classification": "public"}, None)
    'full'
    >>> view_for({"name": "pipes", "classification": "restricted"}, "operator")
    'coarse'
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cim.access import COARSE_GRID_M, COARSE_Z_M, view_of
from cim.errors import PermissionDenied

__all__ = ["view_for", "coarse_bounds", "coarse_heights"]


def view_for(layer: dict[str, Any] | Any, role: str | None) -> str:
    """"full" or "coarse" for ``role`` (None = anonymous); ``PermissionDenied`` when hidden."""
    name = layer["name"] if isinstance(layer, dict) else layer.name
    classification = layer["classification"] if isinstance(layer, dict) else layer.classification
    who = role or "anonymous"
    view = view_of(classification, who)
    if view is None:
        raise PermissionDenied(f"layer {name!r} is {classification}: the {who} role may not see it; "
                               "use an API key of a role that may")
    return view


def coarse_bounds(bounds: np.ndarray) -> np.ndarray:
    """(n, 4) boxes grown outwards to the coarse grid: where something is, to ``COARSE_GRID_M``."""
    g = COARSE_GRID_M
    out = np.empty_like(bounds, dtype=float)
    out[:, :2] = np.floor(bounds[:, :2] / g) * g
    out[:, 2:] = np.maximum(np.ceil(bounds[:, 2:] / g) * g, out[:, :2] + g)
    return out


def coarse_heights(values: np.ndarray) -> np.ndarray:
    """Heights rounded to ``COARSE_Z_M`` (as ``cim.access.coarsen_z`` does for one value)."""
    return np.round(np.asarray(values, dtype=float) / COARSE_Z_M) * COARSE_Z_M
