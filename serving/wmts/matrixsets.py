"""The tile matrix sets the map services offer: WebMercatorQuad and a CGCS2000 geographic quadtree.

Why two: web clients (MapLibre, OpenLayers, QGIS's XYZ layers) tile in Web Mercator; the national
CIM platform standard and most Chinese GIS clients (天地图-style services) tile in CGCS2000
geographic coordinates (EPSG:4490). ``CGCS2000Quad`` follows the 天地图 ``c`` set: level ``L`` is
``2^L × 2^(L-1)`` tiles of 256 px from (-180°, 90°), so level 1 is two tiles of 180° and a level
has about the ground resolution of Web Mercator zoom ``L`` at the equator.

Coordinates here are always x = east (lon), y = north (lat); the capabilities document writes
corners in the CRS's own axis order (lat, lon for EPSG:4490).

Example:
    >>> WEB_MERCATOR.bounds(0, 0, 0)[2] == HALF_WORLD
    True
    >>> CGCS2000.bounds(1, 1, 0)
    (0.0, -90.0, 180.0, 90.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from serving.tilegrid import HALF_WORLD
from serving.wmts.errors import OWSError

__all__ = ["TileMatrixSet", "WEB_MERCATOR", "CGCS2000", "MATRIX_SETS", "matrix_set", "TILE_SIZE"]

TILE_SIZE = 256
#: OGC's "standardized rendering pixel size" (0.28 mm), which scale denominators are based on
PIXEL_M = 0.00028
_METRES_PER_DEGREE = 2 * math.pi * 6378137.0 / 360.0


@dataclass(frozen=True)
class TileMatrixSet:
    """A quadtree of 256 px tiles in one CRS: origin at (``left``, ``top``), level ``L`` tiles
    ``tile_span(L)`` CRS units wide."""

    identifier: str
    crs: str                 # EPSG:3857 / EPSG:4490
    crs_urn: str             # as WMTS capabilities name it
    left: float
    top: float
    span0: float             # tile width at level 0 (an imaginary level for CGCS2000Quad)
    first: int               # first level offered
    last: int                # deepest level offered
    north_first: bool        # the CRS's axis order is (north, east): corners are written lat, lon
    metres_per_unit: float
    well_known_scale_set: str | None = None

    def levels(self) -> range:
        """The levels offered, first to last."""
        return range(self.first, self.last + 1)

    def tile_span(self, level: int) -> float:
        """Width (= height) of one tile at ``level``, in CRS units."""
        return self.span0 / (1 << level)

    def matrix_size(self, level: int) -> tuple[int, int]:
        """(columns, rows) of the matrix at ``level``."""
        span = self.tile_span(level)
        cols = round(2 * abs(self.left) / span)
        rows = max(1, round(2 * abs(self.top) / span))
        return cols, rows

    def scale_denominator(self, level: int) -> float:
        """The OGC scale denominator of ``level`` (pixel size in metres / 0.28 mm)."""
        return self.tile_span(level) / TILE_SIZE * self.metres_per_unit / PIXEL_M

    def bounds(self, level: int, col: int, row: int) -> tuple[float, float, float, float]:
        """minx, miny, maxx, maxy (east, north) of a tile; ``OWSError`` outside the matrix."""
        self.check(level, col, row)
        span = self.tile_span(level)
        minx, maxy = self.left + col * span, self.top - row * span
        return (minx, maxy - span, minx + span, maxy)

    def check(self, level: int, col: int, row: int) -> None:
        """``OWSError`` unless ``level`` is offered and col/row lie in its matrix."""
        if level not in self.levels():
            raise OWSError(f"TileMatrix {level} is not in {self.identifier}: levels go from {self.first} "
                           f"to {self.last}", "InvalidParameterValue", "TileMatrix")
        cols, rows = self.matrix_size(level)
        if not (0 <= col < cols and 0 <= row < rows):
            raise OWSError(f"tile col {col}, row {row} is outside TileMatrix {level} of {self.identifier} "
                           f"({cols} columns × {rows} rows)", "TileOutOfRange", "TileCol" if not 0 <= col < cols
                           else "TileRow")

    def covering(self, level: int, bbox: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
        """min col, min row, max col, max row of the tiles at ``level`` touching ``bbox`` (east, north)."""
        span = self.tile_span(level)
        cols, rows = self.matrix_size(level)

        def clamp(v: float, n: int) -> int:
            return min(max(int(math.floor(v)), 0), n - 1)

        return (clamp((bbox[0] - self.left) / span, cols), clamp((self.top - bbox[3]) / span, rows),
                clamp((bbox[2] - self.left) / span, cols), clamp((self.top - bbox[1]) / span, rows))

    def corner(self) -> str:
        """The top-left corner as WMTS writes it: in the CRS's axis order."""
        return f"{_num(self.top)} {_num(self.left)}" if self.north_first else f"{_num(self.left)} {_num(self.top)}"


def _num(v: float) -> str:
    return repr(float(v)) if v != int(v) else f"{v:.1f}"


WEB_MERCATOR = TileMatrixSet(
    "WebMercatorQuad", "EPSG:3857", "urn:ogc:def:crs:EPSG::3857", -HALF_WORLD, HALF_WORLD, 2 * HALF_WORLD,
    0, 22, False, 1.0, "urn:ogc:def:wkss:OGC:1.0:GoogleMapsCompatible")
CGCS2000 = TileMatrixSet(
    "CGCS2000Quad", "EPSG:4490", "urn:ogc:def:crs:EPSG::4490", -180.0, 90.0, 360.0, 1, 20, True,
    _METRES_PER_DEGREE)

MATRIX_SETS = {t.identifier: t for t in (WEB_MERCATOR, CGCS2000)}


def matrix_set(identifier: str) -> TileMatrixSet:
    """The set of that identifier; ``OWSError`` naming the ones there are."""
    found = MATRIX_SETS.get(identifier)
    if found is None:
        raise OWSError(f"unknown TileMatrixSet {identifier[:40]!r}: use {' or '.join(MATRIX_SETS)}",
                       "InvalidParameterValue", "TileMatrixSet")
    return found
