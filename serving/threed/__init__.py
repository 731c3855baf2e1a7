"""3D Tiles 1.1 from the city model: LOD1 extrusions as tilesets, on request or as a folder.

Example:
    >>> from serving.threed import Tiles3DService, export_3dtiles  # doctest: +SKIP
    >>> export_3dtiles(city, "out/buildings", layer="buildings")  # doctest: +SKIP
"""

from serving.threed.access import view_for
from serving.threed.export import ExportReport, export_3dtiles
from serving.threed.service import Tiles3DService
from serving.threed.tileset import Tileset3D, content_uri, plan_tileset

__all__ = ["ExportReport", "Tiles3DService", "Tileset3D", "content_uri", "export_3dtiles", "plan_tileset", "view_for"]
