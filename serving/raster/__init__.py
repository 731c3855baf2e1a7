"""Raster tiles from the city's COGs: PNG/WebP map tiles, terrain-RGB, TileJSON.

Example:
    >>> from serving.raster import RasterTileService  # doctest: +SKIP
    >>> RasterTileService().map_tile(city, city.layer("dem"), 12, 3421, 1564, fmt="webp")  # doctest: +SKIP
"""

from serving.raster.render import FORMATS, MAX_ZOOM, check_tile, encode_terrain_rgb
from serving.raster.service import RasterTileService
from serving.raster.source import RasterSource, raster_source

__all__ = ["FORMATS", "MAX_ZOOM", "RasterSource", "RasterTileService", "check_tile", "encode_terrain_rgb",
           "raster_source"]
