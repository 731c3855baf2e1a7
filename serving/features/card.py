"""One feature as the viewer shows it: attributes, z range, parent chain, GeoJSON in lon/lat.

The role decides everything: a feature in a hidden layer is reported as not found (exactly like a
missing one), a desensitised one comes with masked attributes and coarsened coordinates, and
parents in layers the role may not see are left out of the chain.

Example:
    >>> feature_card(city, "buildings.BLD0000001", role="anonymous")["parents"]   # doctest: +SKIP
    [{'id': 'parcels.P000-000-00', 'class': 'Parcel', 'name': ...}]
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from cim.access import coarse_geometry_sql, coarsen_z, mask_properties, view_of
from cim.errors import FeatureNotFound
from cim.model.catalog import all_layers
from cim.model.reads import parents
from cim.model.relations import features
from serving.features.crs import from_city

if TYPE_CHECKING:
    from cim.city import City

def feature_card(city: City, feature_id: str, *, role: str = "anonymous") -> dict[str, Any]:
    """The feature with ``feature_id`` as ``role`` may see it (FeatureNotFound when hidden)."""
    row = city.store.arrow(features(
        ids=[feature_id], columns="id, layer, class, name, height, z_min, z_max, properties, classification, parent, "
        f"ST_AsWKB(geom) AS wkb, ST_AsWKB({coarse_geometry_sql('geom')}) AS coarse_wkb") + " LIMIT 1").to_pylist()
    layers = all_layers(city)
    info = layers.get(row[0]["layer"]) if row else None
    view = view_of(info.classification if info else row[0]["classification"], role) if row else None
    if not row or view is None:
        raise FeatureNotFound(f"no feature {feature_id[:120]!r}; search for one with /api/search?q=")
    r = row[0]
    props = json.loads(r["properties"]) if r["properties"] else {}
    wkb = r["coarse_wkb"] if view == "coarse" else r["wkb"]
    card: dict[str, Any] = {
        "id": r["id"], "layer": r["layer"], "class": r["class"], "name": r["name"],
        "properties": mask_properties(props) if view == "coarse" else props,
        "height": r["height"], "z_min": r["z_min"], "z_max": r["z_max"],
        "parents": _parents(city, r["parent"], role, layers), "view": view,
    }
    if view == "coarse":
        card.update({k: coarsen_z(card[k]) for k in ("height", "z_min", "z_max")})
    card.update(_geometry(wkb, city.crs))
    return card


def _parents(city: City, parent: str | None, role: str, layers: dict[str, Any]) -> list[dict[str, Any]]:
    """The parent chain, leaving out links in layers the role may not see."""
    out = []
    for link in parents(city, parent, columns="id, class, name, layer"):
        info = layers.get(link["layer"])
        if info is not None and view_of(info.classification, role) is not None:
            out.append(link)
    return out


def _geometry(wkb: bytes | None, crs: str) -> dict[str, Any]:
    if wkb is None:
        return {"geometry": None, "bbox": None}
    geom = from_city(np.array([shapely.from_wkb(wkb)], dtype=object), "OGC:CRS84", crs)[0]
    geom = shapely.transform(geom, lambda c: np.round(c, 7))
    return {"geometry": json.loads(shapely.to_geojson(geom)), "bbox": [round(v, 7) for v in geom.bounds]}


__all__ = ["feature_card"]
