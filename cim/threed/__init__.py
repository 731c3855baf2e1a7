"""3D Tiles 1.1 from the city model: LOD1 extrusions (and BIM meshes) as tilesets.

Example:
    >>> from cim.threed import plan_tileset, export_3dtiles  # doctest: +SKIP
    >>> export_3dtiles(city, "out/buildings", layer="buildings")  # doctest: +SKIP
"""

from cim.threed.tileset import Tileset3D, content_uri, plan_tileset

__all__ = ["Tileset3D", "content_uri", "plan_tileset"]
