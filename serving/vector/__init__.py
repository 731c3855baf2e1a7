"""Vector tiles (MVT 2.1): layers prepared per version and view, generalised per zoom, encoded by
compiled loops (``serving.vector.kernels``).

``VectorTileService`` is what a server opens; ``VectorTiles`` renders, ``RenderedTiles`` keeps.
"""

from serving.vector.service import SEED_MAX_ZOOM, RenderedTiles, VectorTileService
from serving.vector.tiles import VectorTiles

__all__ = ["RenderedTiles", "SEED_MAX_ZOOM", "VectorTileService", "VectorTiles"]
