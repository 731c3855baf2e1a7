"""The app factory: ``create_app(settings | city)``.

Every router is mounted here, in order (the viewer's catch-all last). Resources live for the
app's lifespan and are kept on ``app.state``: the city behind the store its backend picks for a
server (``Store.for_server``), one byte-bounded tile cache, and one service per interface with
state — vector tiles (derived tables in the city's store, the background warm-up), raster tiles,
3D Tiles, live sensor events. Tests drive the app with ``with TestClient(app) as client:`` so the
lifespan runs.

Example:
    >>> app = create_app(Settings(city="demo/city.duckdb"))   # doctest: +SKIP
    >>> uvicorn.run(app)                                        # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware

import cim
from cim.city import City
from serving.cache import TileCache
from serving.processes import JobService
from serving.raster import RasterTileService
from serving.sensorthings.live import SensorEventService
from serving.threed import Tiles3DService
from serving.vector import VectorTileService
from tiles import errors
from tiles.limits import BodyLimitMiddleware, NullBytePathMiddleware, PrivateCachingMiddleware, QueryTimeoutMiddleware
from tiles.routers import annotations as annotation_routes
from tiles.routers import (
    city,
    compare,
    features,
    iot,
    landing,
    people,
    processes,
    proposals,
    raster,
    sensorthings,
    tiles3d,
    vector_tiles,
    viewer,
    wms,
    wmts,
)
from tiles.settings import Settings

_MB = 1024 * 1024


def create_app(source: Settings | City | str | None = None, **overrides: Any) -> FastAPI:
    """A FastAPI app serving one city.

    ``source`` is a ``Settings`` (the city — a DuckDB file or a ``postgresql://`` URL — is opened
    read-write in the lifespan and closed after), an open ``City`` (used as is, left open — for
    tests and notebooks), a path or URL, or None (settings from ``CIM_*`` environment variables).
    ``overrides`` set individual settings.
    """
    given_city = source if isinstance(source, City) else None
    if isinstance(source, Settings):
        settings = source.model_copy(update=overrides)
    elif isinstance(source, str):
        settings = Settings(city=source, **overrides)
    else:
        settings = Settings(**overrides)
    if given_city is None and settings.city is None:
        raise cim.CIMError("no city to serve: give a path (cim serve CITY) or set CIM_CITY")
    app = FastAPI(
        title="cim — city information model",
        version=cim.__version__,
        description="OGC API Features (Part 1–3) and Tiles, 3D Tiles and SensorThings over one city.",
        lifespan=_lifespan(settings, given_city),
        openapi_url="/api",
        docs_url="/api.html",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.api_keys = settings.keys()
    errors.install(app)
    _middleware(app, settings)
    for module in (landing, features, vector_tiles, city, tiles3d, raster, sensorthings, iot, wmts, wms, processes,
                   people, compare, proposals, annotation_routes, viewer):
        app.include_router(module.router)
    return app


def _middleware(app: FastAPI, settings: Settings) -> None:
    app.add_middleware(GZipMiddleware, minimum_size=settings.gzip_min_bytes)
    app.add_middleware(PrivateCachingMiddleware)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins,
                           allow_methods=["GET", "POST", "PATCH", "DELETE"],
                           allow_headers=["X-API-Key", "Content-Type", "If-None-Match"], expose_headers=["ETag"])
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(QueryTimeoutMiddleware, seconds=settings.query_timeout_s)
    app.add_middleware(NullBytePathMiddleware)


def _lifespan(settings: Settings, given: City | None) -> Callable[[FastAPI], Any]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        base = given or cim.open(settings.city)
        store = base.store.for_server(settings.catalog_refresh_s)
        served = app.state.city = City(store)
        cache = app.state.tile_cache = TileCache(settings.tile_cache_mb * _MB)
        services = {
            "vector_tiles": VectorTileService(served, cache, prepare=settings.prepare_tiles,
                                              seed_max_zoom=settings.seed_max_zoom),
            "raster_tiles": RasterTileService(cache),
            "tiles3d": Tiles3DService(cache),
            "sensor_events": SensorEventService(served, mqtt=settings.mqtt, auth=settings.mqtt_auth()),
            "jobs": JobService(served),
        }
        opened = []
        try:
            for name, service in services.items():
                setattr(app.state, name, service.open())
                opened.append(service)
            yield
        finally:
            for service in reversed(opened):
                service.close()
            if store is not base.store:
                store.close()
            if given is None:
                base.close()

    return lifespan
