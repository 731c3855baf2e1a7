"""The city's web server: OGC API Features, vector tiles, raster tiles, 3D Tiles, SensorThings.

``create_app(settings_or_city)`` builds the FastAPI app; ``cim serve CITY`` runs it with uvicorn.

Both names load on first use (PEP 562), so ``cim``'s other commands, which find ``cim serve``
through this package, do not import FastAPI and every router first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tiles.app import create_app
    from tiles.settings import Settings

__all__ = ["create_app", "Settings"]


def __getattr__(name: str) -> object:
    if name == "create_app":
        from tiles.app import create_app

        return create_app
    if name == "Settings":
        from tiles.settings import Settings

        return Settings
    raise AttributeError(f"module 'tiles' has no attribute {name!r}")
