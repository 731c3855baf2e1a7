"""Sensors follow the visibility of the feature they are bound to (``cim.access``): a role that may
not see a layer does not see its sensors; a role with a desensitised ("coarse") view sees their
positions snapped to the coarse grid and their depths rounded, like the feature itself in features,
tiles and 3D Tiles.

This module is the one place that decides; every IoT read path calls it — lists (latest, alerts,
SensorThings entities), counts and aggregates (KPIs, ``$count``, series, the live event stream) and
spatial filters (a bbox or distance is tested against the position the role sees, never the exact
one, so a filter cannot be used to bisect a protected position below the grid).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cim.access import coarse_geometry_sql, coarsen_geometry, coarsen_z, visible_classifications
from gis.crs import transformer

if TYPE_CHECKING:
    from cim.city import City


def sees_everything(role: str | None) -> bool:
    """True when ``role`` (None: the library caller) sees every sensor at its exact position."""
    if role is None:
        return True
    views = visible_classifications(role)
    return set(views) == {"public", "internal", "restricted"} and set(views.values()) == {"full"}


def visible_predicate(role: str | None, alias: str = "t") -> tuple[str, list[str]]:
    """SQL predicate (and params) keeping the things ``role`` may see (all when role is None)."""
    if role is None:
        return "true", []
    allowed = sorted(visible_classifications(role))
    marks = ", ".join("?" * len(allowed))
    return f"coalesce({alias}.classification, 'restricted') IN ({marks})", allowed


def visible_datastreams_sql(role: str | None, column: str = "datastream_id") -> tuple[str, list[str]]:
    """SQL predicate (and params) keeping rows whose ``column`` is a datastream ``role`` may see."""
    if sees_everything(role):
        return "true", []
    visible, allowed = visible_predicate(role, "vt")
    return (f"{column} IN (SELECT vd.id FROM iot_datastreams vd JOIN iot_things vt ON vt.id = vd.thing_id "
            f"WHERE {visible})"), allowed


def in_use_predicate(role: str | None, column: str, ref: str) -> tuple[str, list[str]]:
    """SQL predicate (and params) keeping a Sensor or ObservedProperty (``ref``, its id) that a
    datastream the role may see uses (``column``: ``sensor_id`` or ``property_id``); all for a role
    that sees everything."""
    if sees_everything(role):
        return "true", []
    visible, allowed = visible_predicate(role, "vt")
    return (f"EXISTS (SELECT 1 FROM iot_datastreams vd JOIN iot_things vt ON vt.id = vd.thing_id "
            f"WHERE vd.{column} = {ref} AND {visible})"), allowed


def visible_datastreams(city: City, role: str | None) -> set[int] | None:
    """Ids of the datastreams ``role`` may see; None when it sees them all."""
    if sees_everything(role):
        return None
    visible, allowed = visible_predicate(role)
    rows = city.store.rows(f"SELECT d.id FROM iot_datastreams d JOIN iot_things t ON t.id = d.thing_id "
                           f"WHERE {visible}", allowed)
    return {int(r[0]) for r in rows}


def _coarse_classes(role: str | None) -> list[str]:
    if role is None:
        return []
    return sorted(c for c, view in visible_classifications(role).items() if view == "coarse")


def position_sql(role: str | None, geom: str = "loc.geom", alias: str = "t") -> str:
    """SQL for a Thing's position as ``role`` sees it: snapped to the coarse grid where its view is
    coarse, exact elsewhere. Spatial filters test this, not ``geom``."""
    coarse = _coarse_classes(role)
    if not coarse:
        return geom
    names = ", ".join(f"'{c}'" for c in coarse)  # classification names from cim.access, not from requests
    return (f"(CASE WHEN coalesce({alias}.classification, 'restricted') IN ({names}) "
            f"THEN {coarse_geometry_sql(geom)} ELSE {geom} END)")


def xy_columns(role: str | None, geom: str = "loc.geom", alias: str = "t") -> str:
    """SQL for the ``x``, ``y`` helper columns: the position as the role sees it, when its view is coarse."""
    if _coarse_classes(role):
        position = position_sql(role, geom, alias)
        return f"ST_X({position}) AS x, ST_Y({position}) AS y"
    return "NULL::DOUBLE AS x, NULL::DOUBLE AS y"


def apply_view(table: pa.Table, role: str | None, crs: str) -> pa.Table:
    """Desensitise rows the role sees coarse: ``lon``/``lat`` from the snapped position, ``z`` rounded.

    Needs ``classification``, ``x``, ``y`` (the position from ``xy_columns``); rows must already be
    filtered with ``visible_predicate``. The helper columns are dropped from the result.
    """
    helpers = [c for c in ("x", "y", "classification") if c in table.column_names]
    coarse = _coarse_classes(role)
    if not coarse or not table.num_rows or "classification" not in table.column_names:
        return table.drop_columns(helpers)
    classes = pc.fill_null(table.column("classification"), "restricted")
    mask = pc.is_in(classes, pa.array(coarse, pa.string())).to_numpy(zero_copy_only=False)
    if not mask.any():
        return table.drop_columns(helpers)
    if {"x", "y", "lon", "lat"} <= set(table.column_names):
        table = _coarse_lon_lat(table, mask, crs)
    if "z" in table.column_names:
        z = table.column("z").to_pylist()
        table = table.set_column(table.schema.get_field_index("z"), "z", pa.array(
            [coarsen_z(v) if m and v is not None else v for v, m in zip(z, mask, strict=True)], pa.float64()))
    return table.drop_columns(helpers)


def _coarse_lon_lat(table: pa.Table, mask: np.ndarray, crs: str) -> pa.Table:
    import shapely

    x = table.column("x").to_numpy(zero_copy_only=False)[mask]
    y = table.column("y").to_numpy(zero_copy_only=False)[mask]
    snapped = shapely.get_coordinates(coarsen_geometry(shapely.points(x, y)))  # idempotent on snapped points
    lon_c, lat_c = transformer(crs, "EPSG:4326").transform(snapped[:, 0].tolist(), snapped[:, 1].tolist())
    lon = table.column("lon").to_numpy(zero_copy_only=False).astype(float)
    lat = table.column("lat").to_numpy(zero_copy_only=False).astype(float)
    lon[mask], lat[mask] = lon_c, lat_c
    table = table.set_column(table.schema.get_field_index("lon"), "lon", pa.array(lon))
    return table.set_column(table.schema.get_field_index("lat"), "lat", pa.array(lat))
