"""Sensors follow the visibility of the feature they are bound to (``cim.access``): a role that may
not see a layer does not see its sensors; a role with a desensitised ("coarse") view sees their
positions snapped to the coarse grid, like the feature itself in features, tiles and 3D Tiles.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cim.access import COARSE_GRID_M, visible_classifications


def visible_predicate(role: str | None, alias: str = "t") -> tuple[str, list[str]]:
    """SQL predicate (and params) keeping the things ``role`` may see (all when role is None)."""
    if role is None:
        return "true", []
    allowed = sorted(visible_classifications(role))
    marks = ", ".join("?" * len(allowed))
    return f"coalesce({alias}.classification, 'restricted') IN ({marks})", allowed


def xy_columns(role: str | None, geom: str = "loc.geom") -> str:
    """SQL for the ``x``, ``y`` helper columns: the position only when the role has a coarse view."""
    if role is not None and "coarse" in visible_classifications(role).values():
        return f"ST_X({geom}) AS x, ST_Y({geom}) AS y"
    return "NULL::DOUBLE AS x, NULL::DOUBLE AS y"


def apply_view(table: pa.Table, role: str | None, crs: str) -> pa.Table:
    """Coarsen ``lon``/``lat`` of rows the role sees desensitised; needs ``classification``, ``x``, ``y``.

    Rows must already be filtered with ``visible_predicate``. The helper columns ``x``, ``y`` and
    ``classification`` are dropped from the result.
    """
    helpers = [c for c in ("x", "y", "classification") if c in table.column_names]
    if role is None or not table.num_rows or not {"x", "y", "lon", "lat"} <= set(table.column_names):
        return table.drop_columns(helpers)
    coarse = [c for c, view in visible_classifications(role).items() if view == "coarse"]
    classes = pc.fill_null(table.column("classification"), "restricted")
    mask = pc.is_in(classes, pa.array(coarse, pa.string())).to_numpy(zero_copy_only=False) if coarse else None
    if mask is None or not mask.any():
        return table.drop_columns(helpers)
    from gis.crs import transformer

    x = table.column("x").to_numpy(zero_copy_only=False)[mask]
    y = table.column("y").to_numpy(zero_copy_only=False)[mask]
    snapped_x = (np.round(x / COARSE_GRID_M) * COARSE_GRID_M).tolist()
    snapped_y = (np.round(y / COARSE_GRID_M) * COARSE_GRID_M).tolist()
    lon_c, lat_c = transformer(crs, "EPSG:4326").transform(snapped_x, snapped_y)
    lon = table.column("lon").to_numpy(zero_copy_only=False).astype(float)
    lat = table.column("lat").to_numpy(zero_copy_only=False).astype(float)
    lon[mask], lat[mask] = lon_c, lat_c
    table = table.set_column(table.schema.get_field_index("lon"), "lon", pa.array(lon))
    table = table.set_column(table.schema.get_field_index("lat"), "lat", pa.array(lat))
    return table.drop_columns(helpers)
