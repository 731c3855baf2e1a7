"""``gis``: read, check, repair and reproject city GIS data (vector and raster), as a plain library.

Why: ``cim`` ingests parcels, roads, pipes and DEMs from whatever files a city has; this package
turns them into Arrow tables and COGs with their CRS attached, and refuses what it cannot read
with a message that says what, where and how to fix. No database, no HTTP.

Example:
    >>> import gis
    >>> gis.crs_label(gis.parse_crs(4549))
    'EPSG:4549'
"""

from gis.crs import crs_label, parse_crs, reproject, same_crs, transformer
from gis.dem import base_elevation, sample
from gis.errors import CRSError, GISError, SourceError
from gis.geometry import ABSURD_LIMIT, GeometryCheck, bounds_of, check_and_repair, finite_mask, force_2d
from gis.raster import RasterInfo, raster_info, to_cog
from gis.vector import VectorData, list_layers, list_tables, read_vector, require_crs, to_geopandas

__all__ = [
    "GISError", "SourceError", "CRSError",
    "parse_crs", "crs_label", "same_crs", "transformer", "reproject", "finite_mask",
    "GeometryCheck", "check_and_repair", "bounds_of", "force_2d", "ABSURD_LIMIT",
    "VectorData", "list_layers", "list_tables", "read_vector", "require_crs", "to_geopandas",
    "RasterInfo", "raster_info", "to_cog", "sample", "base_elevation",
]
