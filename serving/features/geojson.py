"""Arrow feature rows → GeoJSON text, reprojected once per page, desensitised when the view says so.

Geometries are decoded and reprojected as one vectorised array (shapely + pyproj) and written by
``shapely.to_geojson``; properties are parsed from the stored JSON once. The result is a list of
Feature JSON strings a server can join into a FeatureCollection without re-encoding.

Example:
    >>> features = to_features(page.table, city_crs="EPSG:4549", crs="OGC:CRS84")  # doctest: +SKIP
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
import shapely

from cim.access import coarsen_z, mask_properties
from cim.model.relations import shown_name
from serving.features.crs import CRS84, crs_name, from_city


def geometries(table: pa.Table, *, city_crs: str, crs: str = CRS84) -> np.ndarray:
    """Shapely geometries of the rows' ``wkb`` column in ``crs`` (its axis order), rounded sensibly."""
    wkb = table.column("wkb").to_numpy(zero_copy_only=False)
    geoms = shapely.from_wkb(wkb)
    geoms = from_city(geoms, crs, city_crs)
    digits = 7 if _is_degrees(crs) else 3
    return shapely.transform(geoms, lambda c: np.round(c, digits))


def _is_degrees(crs: str) -> bool:
    return crs_name(crs) in (CRS84, "EPSG:4326", "EPSG:4490")


def properties_of(row: dict[str, Any], *, view: str = "full") -> dict[str, Any]:
    """The GeoJSON properties of a row: the feature columns, then the layer's own attributes — one whose
    name the model uses (``class``, ``id``, ``height`` …) as ``source:<name>`` (``shown_name``)."""
    own = json.loads(row["properties"]) if row.get("properties") else {}
    if view == "coarse":
        own = mask_properties(own)
    props: dict[str, Any] = {"class": row["class"], "name": row["name"]}
    for key in ("height", "z_min", "z_max"):
        value = row.get(key)
        props[key] = coarsen_z(value) if view == "coarse" else value
    if row.get("parent"):
        props["parent"] = row["parent"]
    for key in ("valid_from", "valid_to"):
        if row.get(key) is not None:
            props[key] = row[key].isoformat()
    for key, value in own.items():
        props[shown_name(key)] = value
    return props


def to_features(table: pa.Table, *, city_crs: str, crs: str = CRS84, view: str = "full",
                links: Any = None) -> list[str]:
    """One GeoJSON Feature (JSON text) per row. ``links(id)`` may add a ``links`` array."""
    geoms = geometries(table, city_crs=city_crs, crs=crs)
    geo_text = shapely.to_geojson(geoms)
    rows = table.drop_columns(["wkb"]).to_pylist()
    out = []
    for row, g in zip(rows, geo_text, strict=True):
        head = {"type": "Feature", "id": row["id"]}
        body = json.dumps(head, ensure_ascii=False)[:-1]
        body += ', "geometry": ' + (g if g is not None else "null")
        body += ', "properties": ' + json.dumps(properties_of(row, view=view), ensure_ascii=False, default=str)
        if links is not None:
            body += ', "links": ' + json.dumps(links(row["id"]), ensure_ascii=False)
        out.append(body + "}")
    return out


__all__ = ["geometries", "properties_of", "to_features"]
