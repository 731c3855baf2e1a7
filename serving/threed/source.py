"""What 3D tiles are made from, read out of the city: footprints, heights, DEM base heights.

All SQL of the 3D Tiles path lives here. Reads are pinned to one layer version, so a tileset
planned from version 3 still gets version 3's rows while version 4 is being ingested.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from cim.errors import ValidationError
from cim.model.relations import features

if TYPE_CHECKING:
    from cim.city import City

__all__ = ["plan_inputs", "tile_features", "dem_raster", "base_heights"]

_POLYGONAL = "ST_GeometryType(geom) IN ('POLYGON', 'MULTIPOLYGON')"


def plan_inputs(city: City, layer: str, version: int) -> pa.Table:
    """One row per drawable feature: id, bbox, z_min, height (NULLs kept), footprint area.

    Drawable = polygonal with a positive height (``height``, else ``z_max - z_min``).
    """
    columns = ("id, ST_XMin(geom) AS minx, ST_YMin(geom) AS miny, ST_XMax(geom) AS maxx, ST_YMax(geom) AS maxy, "
               "z_min, coalesce(height, z_max - z_min) AS height, ST_Area(geom) AS area")
    where = f"{_POLYGONAL} AND coalesce(height, z_max - z_min) > 0"
    return city.store.arrow(features(layers=[layer], version=version, columns=columns, where=where) + " ORDER BY id")


def tile_features(city: City, layer: str, version: int, ids: np.ndarray | None = None) -> pa.Table:
    """id, class, name, WKB geometry of the given features (all drawable ones when ``ids`` is None).

    The id list joins as a hash semi-join (a few ms on a million rows); a bbox filter through the
    RTREE was measured slower here, since the ids already pin the rows.
    """
    sql = features(layers=[layer], version=version, columns="id, class, name, ST_AsWKB(geom) AS wkb",
                   where=_POLYGONAL)
    params: list[Any] = []
    if ids is not None:
        sql += " AND id IN (SELECT unnest(?::VARCHAR[]))"
        params.append([str(i) for i in ids])
    return city.store.arrow(sql, params)


def dem_raster(city: City) -> tuple[str, str] | None:
    """(path, crs) of the city's DEM raster layer (role ``dem``), or None when it has none."""
    from cim.errors import CIMError
    from cim.terrain import dem_layer, dem_path

    try:
        layer = dem_layer(city)
        path = dem_path(city)
    except CIMError:
        return None
    return (str(path), layer["properties"].get("crs") or city.crs) if path.is_file() else None


def base_heights(city: City, plan: pa.Table) -> np.ndarray:
    """Ground height under each feature: its ``z_min`` if set, else the DEM's lowest sample at the
    bbox corners and centre (never floating on a slope), else 0."""
    n = plan.num_rows
    base = plan.column("z_min").to_numpy(zero_copy_only=False).astype(float)
    missing = np.flatnonzero(~np.isfinite(base))
    dem = dem_raster(city) if missing.size else None
    if dem is not None:
        from gis.dem import sample

        cols = [plan.column(c).to_numpy(zero_copy_only=False)[missing] for c in ("minx", "miny", "maxx", "maxy")]
        minx, miny, maxx, maxy = cols
        xs = np.concatenate([minx, maxx, maxx, minx, (minx + maxx) / 2])
        ys = np.concatenate([miny, miny, maxy, maxy, (miny + maxy) / 2])
        values = sample(dem[0], xs, ys, crs=city.crs, dem_crs=None).reshape(5, missing.size)
        with np.errstate(all="ignore"):
            ground = np.where(np.isfinite(values).any(axis=0), np.nanmin(np.where(np.isfinite(values),
                              values, np.inf), axis=0), np.nan)
        base[missing] = ground
    base[~np.isfinite(base)] = 0.0
    if base.size != n:  # pragma: no cover - defensive
        raise ValidationError("base heights do not match the planned features")
    return base
