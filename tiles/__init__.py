"""The city's web server: OGC API Features, vector tiles, raster tiles, 3D Tiles, SensorThings.

``create_app(settings_or_city)`` builds the FastAPI app; ``cim serve CITY`` runs it with uvicorn.
"""

from tiles.app import create_app
from tiles.settings import Settings

__all__ = ["create_app", "Settings"]
