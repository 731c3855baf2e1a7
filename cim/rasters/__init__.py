"""Raster tiles from the city's COGs: PNG/WebP map tiles, terrain-RGB, TileJSON.

Example:
    >>> from cim.rasters import RasterTiles  # doctest: +SKIP
    >>> RasterTiles().map_tile(city, city.layer("dem"), 12, 3421, 1564, fmt="webp")  # doctest: +SKIP
"""

from cim.rasters.render import FORMATS, MAX_ZOOM, check_tile, encode_terrain_rgb
from cim.rasters.service import RasterTiles
from cim.rasters.source import RasterSource, raster_source

__all__ = ["FORMATS", "MAX_ZOOM", "RasterSource", "RasterTiles", "check_tile", "encode_terrain_rgb",
           "raster_source"]
