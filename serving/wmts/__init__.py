"""WMTS 1.0.0 (KVP and RESTful) over the city's raster and vector tiles: tile matrix sets
(WebMercatorQuad and CGCS2000Quad), the capabilities document, request checking and OWS exceptions.

The pictures themselves come from ``serving.maps``; the HTTP wiring is ``tiles/routers/wmts.py``.
"""

from serving.wmts.capabilities import FORMATS, MVT, PNG, MapLayer, capabilities_xml
from serving.wmts.errors import OWSError, exception_report
from serving.wmts.matrixsets import CGCS2000, MATRIX_SETS, WEB_MERCATOR, TileMatrixSet, matrix_set
from serving.wmts.requests import TileRequest, format_of_extension, kvp, operation, tile_request

__all__ = ["CGCS2000", "FORMATS", "MATRIX_SETS", "MVT", "PNG", "WEB_MERCATOR", "MapLayer", "OWSError", "TileMatrixSet",
           "TileRequest", "capabilities_xml", "exception_report", "format_of_extension", "kvp",
           "matrix_set", "operation", "tile_request"]
