"""3D Tiles 1.1 from the city model: LOD1 extrusions as tilesets, on request or as a folder.

Example:
    >>> from cim.threed import TilesetCache, export_3dtiles  # doctest: +SKIP
    >>> export_3dtiles(city, "out/buildings", layer="buildings")  # doctest: +SKIP
"""

from cim.threed.access import view_for
from cim.threed.cache import TilesetCache
from cim.threed.export import ExportReport, export_3dtiles
from cim.threed.tileset import Tileset3D, content_uri, plan_tileset

__all__ = ["ExportReport", "Tileset3D", "TilesetCache", "content_uri", "export_3dtiles", "plan_tileset", "view_for"]
