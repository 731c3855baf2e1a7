"""A buildings layer written twice with known edits, in the city's CRS (EPSG:4549) so deltas are exact."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

X0, Y0 = 515000.0, 3980000.0


def box(x: float, y: float, w: float = 20.0, h: float = 20.0) -> dict[str, Any]:
    """A rectangle with its south-west corner at (x, y), in metres."""
    return {"type": "Polygon", "coordinates": [[[x, y], [x + w, y], [x + w, y + h], [x, y + h], [x, y]]]}


def buildings(n: int = 10) -> list[dict[str, Any]]:
    """``n`` 20 × 20 m buildings 50 m apart, height 10 + i, three floors."""
    return [{"id": f"b{i}", "use": "residential", "floors": 3, "height": 10.0 + i,
             "geometry": box(X0 + 50 * i, Y0)} for i in range(n)]


def edited(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The known edits: b3 removed, b10 added, b5 taller (15 → 30 m) and 10 m wider (+200 m²),
    b7 moved 4 m east, b8 two more floors (attributes only)."""
    out = [dict(r) for r in rows if r["id"] != "b3"]
    by = {r["id"]: r for r in out}
    by["b5"].update(height=30.0, geometry=box(X0 + 250, Y0, w=30.0))
    by["b7"].update(geometry=box(X0 + 350 + 4.0, Y0))
    by["b8"].update(floors=5)
    out.append({"id": "b10", "use": "office", "floors": 8, "height": 24.0, "geometry": box(X0 + 500, Y0)})
    return out


def write(path: Path, rows: list[dict[str, Any]]) -> Path:
    """A GeoJSON FeatureCollection in EPSG:4549."""
    doc = {"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "EPSG:4549"}},
           "features": [{"type": "Feature", "properties": {k: v for k, v in r.items() if k != "geometry"},
                         "geometry": r["geometry"]} for r in rows]}
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path
