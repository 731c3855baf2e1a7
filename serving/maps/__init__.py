"""Map pictures (PNG) of the city's layers for WMTS and WMS: vector tiles drawn, raster tiles
reused, any other grid composed from them (``images.MapImages``)."""

from serving.maps.compose import compose
from serving.maps.images import MapImages, blank_png, encode_png
from serving.maps.mvt_draw import LayerStyle, decode_geometries, draw_tile

__all__ = ["LayerStyle", "MapImages", "blank_png", "compose", "decode_geometries", "draw_tile", "encode_png"]
