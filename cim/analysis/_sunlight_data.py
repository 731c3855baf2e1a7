"""The buildings a sunlight analysis needs: residential targets and every building that can shade them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from cim.analysis._common import sql_text
from cim.analysis.indicators import building_ctes
from cim.analysis.sunlight import _MAX_SHADOW

if TYPE_CHECKING:
    from cim.analysis.rules import RuleSet
    from cim.analysis.sunlight import SunPath
    from cim.city import City


@dataclass
class SunlightBuildings:
    """Buildings as arrays; ``target`` marks the residential ones whose sunlight is measured."""

    ids: np.ndarray
    parcels: np.ndarray
    geoms: np.ndarray
    heights: np.ndarray
    target: np.ndarray


def load_buildings(city: City, rules: RuleSet, settings: dict[str, Any], *, parcels: Sequence[str] | None,
                   ids: Sequence[str] | None, extra: str | None, sun: SunPath,
                   z: float) -> SunlightBuildings:
    """Targets (residential, on ``parcels`` / among ``ids`` when given) and the buildings near enough to shade them."""
    rules.input("buildings").require("sunlight analysis")
    uses = ", ".join(sql_text(u) for u in settings.get("applies_to_use", ["住宅"]))
    ctes = building_ctes(city, rules, extra=extra)  # sunlight needs no parcels: buildings alone will do
    sql = (f"WITH {', '.join(ctes)} SELECT id, parcel, height, "
           f"COALESCE(use IN ({uses}), false) AS residential, ST_AsWKB(geom) AS wkb FROM bp ORDER BY id")
    table = city.store.arrow(sql)
    all_ids = np.asarray(table["id"].to_pylist(), dtype=object)
    parcel = np.asarray(table["parcel"].to_pylist(), dtype=object)
    heights = np.nan_to_num(table["height"].to_numpy(zero_copy_only=False).astype(float), nan=0.0)
    geoms = shapely.from_wkb(table["wkb"].to_numpy(zero_copy_only=False))
    target = table["residential"].to_numpy(zero_copy_only=False).astype(bool)
    if parcels:  # Arrow's hash lookup: numpy's isin over object arrays sorts them (seconds at 1 M buildings)
        target &= pc.is_in(table["parcel"], value_set=pa.array([str(p) for p in parcels], pa.string())).to_numpy(
            zero_copy_only=False).astype(bool)
    if ids:
        target &= pc.is_in(table["id"], value_set=pa.array([str(i) for i in ids], pa.string())).to_numpy(
            zero_copy_only=False).astype(bool)
    keep = _near(geoms, heights, target, sun, z)
    return SunlightBuildings(all_ids[keep], parcel[keep], geoms[keep], heights[keep], target[keep])


def _near(geoms: np.ndarray, heights: np.ndarray, target: np.ndarray, sun: SunPath, z: float) -> np.ndarray:
    """Targets plus every building whose longest shadow in the window could reach one."""

    keep = target.copy()
    if not target.any() or len(sun.altitude) == 0:
        return keep
    reach = max(min((float(heights.max()) - z) / np.tan(np.radians(float(sun.altitude.min()))), _MAX_SHADOW), 0.0)
    minx, miny, maxx, maxy = shapely.total_bounds(geoms[target])
    area = shapely.box(minx - reach, miny - reach, maxx + reach, maxy + reach)
    keep[shapely.STRtree(geoms).query(area, predicate="intersects")] = True  # one box, not a query per target
    return keep
