"""Small generated sources for ingest tests."""

from __future__ import annotations

import json
from pathlib import Path

from pyproj import Transformer


def lonlat(x: float, y: float) -> tuple[float, float]:
    """EPSG:4549 metres → lon/lat, to write sources in EPSG:4326 that land at known city points."""
    return Transformer.from_crs(4549, 4326, always_xy=True).transform(x, y)


def square(x: float, y: float, size: float = 20.0) -> list[list[float]]:
    """A square ring in lon/lat whose south-west corner is (x, y) in EPSG:4549."""
    pts = [(x, y), (x + size, y), (x + size, y + size), (x, y + size), (x, y)]
    return [list(lonlat(*p)) for p in pts]


def write_geojson(path: Path, features: list[dict], crs: str | None = None) -> Path:
    """A FeatureCollection; ``features`` are dicts of properties plus a ``geometry`` entry."""
    doc: dict = {"type": "FeatureCollection", "features": []}
    if crs:
        doc["crs"] = {"type": "name", "properties": {"name": crs}}
    for f in features:
        props = {k: v for k, v in f.items() if k != "geometry"}
        doc["features"].append({"type": "Feature", "properties": props, "geometry": f["geometry"]})
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def parcels_geojson(path: Path, n: int = 3, *, height: float = 30.0) -> Path:
    """``n`` square parcels with Chinese attributes, 100 m apart, near 515 000 / 3 980 000."""
    feats = []
    for i in range(n):
        feats.append({"id": f"p{i}", "名称": f"地块{i}", "land_use": "R2", "far_limit": 2.0 + i,
                      "height": height + i,
                      "geometry": {"type": "Polygon", "coordinates": [square(515000 + 100 * i, 3980000)]}})
    return write_geojson(path, feats)
