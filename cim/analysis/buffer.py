"""Buffer analysis: what lies within N metres of a place (a leak, an accident, a worksite).

Why: when a water main bursts the first question is what is around it — which buildings, which
other pipes and cables, which sensors can tell us more. One query over every current layer (or
the ones named), nearest first, with the distance in metres.

Example:
    >>> from cim.analysis import buffer_impact
    >>> buffer_impact(city, "pipes.W000123", 50)                 # doctest: +SKIP
    >>> buffer_impact(city, shapely.Point(515600, 3980100), 30, layers=["buildings", "sensors"])  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cim.analysis._common import deliver, positive, require_layer
from cim.model.reads import resolve_geometry
from cim.model.relations import features

if TYPE_CHECKING:
    from cim.city import City


def buffer_impact(city: City, where: Any, distance: float, *, layers: Sequence[str] | None = None,
                  crs: str | None = None, output: str = "geopandas") -> Any:
    """Features within ``distance`` m of ``where`` (feature id, WKT or shapely; ``crs`` if not the city's).

    Columns: ``layer``, ``id``, ``class``, ``name``, ``distance`` (m), ``z_min``, ``z_max``,
    ``properties``, ``geom``; sorted by distance. The feature itself (when ``where`` is an id) is left out.
    """
    distance = positive(distance, "the buffer distance", "give metres, e.g. 50")
    wkb = resolve_geometry(city, where, crs)
    names = list(layers) if layers else [r[0] for r in city.store.rows(
        "SELECT name FROM layers WHERE kind <> 'raster' ORDER BY name")]
    for name in names:
        require_layer(city, name, purpose="buffer analysis")
    if not names:
        return deliver(city.store.arrow("SELECT NULL AS layer WHERE false"), city, output)
    self_id = where if isinstance(where, str) and "." in where and " " not in where.strip() else ""
    sql = features(layers=names, columns="layer, id, class, name, ST_Distance(geom, ST_GeomFromWKB(?)) AS distance, "
                                         "z_min, z_max, properties, geom",
                   where="id <> ? AND ST_DWithin(geom, ST_GeomFromWKB(?), ?)")
    table = city.store.arrow(f"{sql} ORDER BY distance, id", [wkb, self_id, wkb, distance])
    return deliver(table, city, output)


__all__ = ["buffer_impact"]
