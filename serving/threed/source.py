"""What 3D tiles are made from, read out of the city: footprints, heights, DEM base heights.

All SQL of the 3D Tiles path lives here. Reads are pinned to one layer version, so a tileset
planned from version 3 still gets version 3's rows while version 4 is being ingested.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from cim.errors import ValidationError
from cim.model.relations import features

if TYPE_CHECKING:
    from cim.city import City

__all__ = ["NotDrawn", "plan_inputs", "not_drawn", "tile_features", "dem_raster", "base_heights"]

_POLYGONAL = "ST_GeometryType(geom) IN ('POLYGON', 'MULTIPOLYGON')"
_HEIGHT = "coalesce(height, z_max - z_min)"
#: how many of the features left out a report names (the counts cover them all)
NAMED = 5

#: why a feature of an extruded (LOD1) layer is left out, as SQL over its row
_LOD1_REASON = (f"CASE WHEN geom IS NULL THEN 'no geometry' WHEN NOT {_POLYGONAL} THEN 'not a polygon' "
                "ELSE 'no height (height, or z_max - z_min, missing or not above 0)' END")
#: why a feature of a meshed layer (BIM, CityJSON) is left out; ``{parents}`` selects the ids
#: other features of the layer version name as their parent
_MESH_REASON = ("CASE WHEN f.id IN ({parents}) THEN 'no mesh of its own (a container of other features)' "
                "WHEN f.geom IS NULL THEN 'no geometry' "
                "ELSE 'no mesh (its surfaces could not be triangulated)' END")


@dataclass(frozen=True)
class NotDrawn:
    """The features of a layer version a tileset leaves out: how many, how many per reason, and
    the first few (id, class, reason) by id."""

    count: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    first: list[tuple[str, str | None, str]] = field(default_factory=list)

    def summary(self, layer: str) -> str | None:
        """One sentence naming what is left out and why; None when nothing is."""
        if not self.count:
            return None
        why = "; ".join(f"{n} {reason}" for reason, n in self.reasons.items())
        named = ", ".join(f"{i} ({cls or '?'}: {reason})" for i, cls, reason in self.first)
        more = " …" if self.count > len(self.first) else ""
        return f"{self.count} features of {layer} have no 3D shape and are not in the tileset ({why}): {named}{more}"

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count, "reasons": self.reasons,
                "first": [{"id": i, "class": cls, "reason": reason} for i, cls, reason in self.first]}


def plan_inputs(city: City, layer: str, version: int) -> pa.Table:
    """One row per drawable feature: id, bbox, z_min, height (NULLs kept), footprint area.

    Drawable = polygonal with a positive height (``height``, else ``z_max - z_min``).
    """
    columns = ("id, ST_XMin(geom) AS minx, ST_YMin(geom) AS miny, ST_XMax(geom) AS maxx, ST_YMax(geom) AS maxy, "
               "z_min, coalesce(height, z_max - z_min) AS height, ST_Area(geom) AS area")
    where = f"{_POLYGONAL} AND {_HEIGHT} > 0"
    return city.store.arrow(features(layers=[layer], version=version, columns=columns, where=where) + " ORDER BY id")


def not_drawn(city: City, layer: str, version: int, *, meshed: bool) -> NotDrawn:
    """The features of ``layer`` (``version``) that its tileset leaves out, and why.

    An extruded layer leaves out what ``plan_inputs`` does not draw (no polygon, no height); a
    meshed layer (``meshed``) leaves out the features without a row in the ``meshes`` table.
    """
    if meshed:
        parents = features(layers=[layer], version=version, columns="parent", where="parent IS NOT NULL")
        reason = _MESH_REASON.format(parents=parents)
        where = ("NOT EXISTS (SELECT 1 FROM meshes m WHERE m.layer = f.layer "
                 "AND m.version = f.version AND m.feature_id = f.id)")
    else:
        reason, where = _LOD1_REASON, f"NOT coalesce({_POLYGONAL} AND {_HEIGHT} > 0, false)"
    layer_rows = features(layers=[layer], version=version, columns="id, class, layer, version, geom, height, "
                          "z_min, z_max", alias="f")
    rows = f"(SELECT f.id, f.class, {reason} AS reason FROM {layer_rows} WHERE {where}) AS t"
    counts = city.store.rows(f"SELECT reason, count(*) FROM {rows} GROUP BY reason ORDER BY count(*) DESC, reason")
    if not counts:
        return NotDrawn()
    # one of each reason first, then by id
    first = city.store.rows(f"SELECT id, class, reason FROM (SELECT id, class, reason, row_number() OVER "
                            f"(PARTITION BY reason ORDER BY id) AS k FROM {rows}) AS r ORDER BY k, id LIMIT {NAMED}")
    return NotDrawn(sum(n for _, n in counts), {r: int(n) for r, n in counts}, [tuple(r) for r in first])


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
