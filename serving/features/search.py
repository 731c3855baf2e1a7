"""Find features by name or id (substring, case-insensitive; Chinese works) in the layers a role sees.

Exact matches come first, then names that start with the text, then shorter names. Each hit
carries its centre and bbox in lon/lat so a viewer can fly to it. Desensitised layers answer with
their coarsened geometry.

Example:
    >>> search(city, "1号楼", role="anonymous", limit=5)[0]["layer"]   # doctest: +SKIP
    'buildings'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cim.access import coarse_geometry_sql, view_of
from cim.errors import QueryError
from cim.model.catalog import all_layers
from cim.model.relations import features, in_list
from serving.features.crs import bounds_to_4326

if TYPE_CHECKING:
    from cim.city import City

MAX_LIMIT = 100


def search(city: City, q: str, *, role: str = "anonymous", limit: int = 20) -> list[dict[str, Any]]:
    """Features whose name or id contains ``q`` (see the module docstring)."""
    text = (q or "").strip()
    if not text:
        raise QueryError("search needs some text: /api/search?q=<name or id>")
    if not 1 <= limit <= MAX_LIMIT:
        raise QueryError(f"limit must be between 1 and {MAX_LIMIT}")
    views = {name: view_of(info.classification, role) for name, info in all_layers(city).items()}
    full = [n for n, v in views.items() if v == "full"]
    coarse = [n for n, v in views.items() if v == "coarse"]
    if not full and not coarse:
        return []
    geom = f"CASE WHEN {in_list('layer', coarse)} THEN {coarse_geometry_sql('geom')} ELSE geom END"
    hits = features(
        layers=full + coarse, alias="hits",
        columns=f"id, name, class, layer, {geom} AS g, "
                "CASE WHEN lower(name) = lower(?) OR lower(id) = lower(?) THEN 0 "
                "WHEN starts_with(lower(name), lower(?)) THEN 1 ELSE 2 END AS rank",
        where="strpos(lower(name), lower(?)) > 0 OR strpos(lower(id), lower(?)) > 0")
    sql = (f"SELECT id, name, class, layer, ST_XMin(g), ST_YMin(g), ST_XMax(g), ST_YMax(g) FROM {hits} "
           "ORDER BY rank, length(name), id LIMIT ?")
    rows = city.store.rows(sql, [text, text, text, text, text, limit])
    return [_hit(r, city.crs) for r in rows]


def _hit(row: tuple, crs: str) -> dict[str, Any]:
    fid, name, cls, layer, *bounds = row
    hit: dict[str, Any] = {"id": fid, "name": name, "class": cls, "layer": layer, "center": None, "bbox": None}
    if None not in bounds:
        w, s, e, n = bounds_to_4326(tuple(bounds), crs)
        hit["bbox"] = [w, s, e, n]
        hit["center"] = [round((w + e) / 2, 7), round((s + n) / 2, 7)]
    return hit


__all__ = ["search", "MAX_LIMIT"]
