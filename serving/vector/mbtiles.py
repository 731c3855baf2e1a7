"""An MBTiles 1.3 writer (SQLite): the vector tile package desktop and mobile GIS open directly.

Why beside PMTiles: QGIS, GDAL, tippecanoe-based pipelines, tileserver-gl and many offline mobile
apps read MBTiles; the file is one SQLite database, written to a temporary name and renamed when
complete, so a failed export leaves nothing half-written.

Example:
    >>> writer = MBTilesWriter(Path("city.mbtiles"))        # doctest: +SKIP
    >>> writer.add(14, 13661, 6436, gz); writer.finish({"name": "city", ...})  # doctest: +SKIP
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

__all__ = ["MBTilesWriter"]


class MBTilesWriter:
    """Collects gzipped MVT tiles (XYZ addressing; stored with MBTiles' flipped TMS rows)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.part = path.with_name(path.name + ".part")
        self.part.unlink(missing_ok=True)
        self.con = sqlite3.connect(self.part)
        self.con.executescript(
            "CREATE TABLE metadata (name TEXT, value TEXT);"
            "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB);"
            "CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row);")
        self.addressed = 0

    def add(self, z: int, x: int, y: int, gzipped: bytes) -> None:
        """Add one tile (gzipped MVT), addressed z/x/y from the top as web maps do."""
        self.con.execute("INSERT INTO tiles VALUES (?, ?, ?, ?)", (z, x, (1 << z) - 1 - y, gzipped))
        self.addressed += 1

    def finish(self, metadata: dict[str, Any], *, minzoom: int, maxzoom: int,
               bounds: tuple[float, float, float, float], center: tuple[float, float, int]) -> int:
        """Write the metadata table and move the file into place; returns its size in bytes."""
        rows = {
            "name": metadata.get("name", ""), "description": metadata.get("description", ""),
            "attribution": metadata.get("attribution", ""), "type": "overlay", "version": "1", "format": "pbf",
            "minzoom": str(minzoom), "maxzoom": str(maxzoom), "bounds": ",".join(f"{v:.7f}" for v in bounds),
            "center": f"{center[0]:.7f},{center[1]:.7f},{center[2]}",
            "json": json.dumps({"vector_layers": metadata.get("vector_layers", [])}, ensure_ascii=False),
        }
        try:
            self.con.executemany("INSERT INTO metadata VALUES (?, ?)", list(rows.items()))
            self.con.commit()
            self.con.close()
            self.part.replace(self.path)
        finally:
            self.part.unlink(missing_ok=True)
        return self.path.stat().st_size

    def abort(self) -> None:
        """Drop the unfinished file."""
        self.con.close()
        self.part.unlink(missing_ok=True)
