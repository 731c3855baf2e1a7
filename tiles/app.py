"""The app factory: ``create_app(settings | city)``.

Core routers are always there; subsystem routers plug in by adding their module to
``OPTIONAL_ROUTERS``. Such a module exposes ``router`` (an ``APIRouter``) and may expose
``lifespan(app)`` (an async context manager run while the app lives) and
``layer_links(info) -> dict`` (extra keys for a layer in ``/api/city``, e.g. ``tileset3d``).
A module that is not installed yet is skipped.

Example:
    >>> app = create_app(Settings(city="demo/city.duckdb"))   # doctest: +SKIP
    >>> uvicorn.run(app)                                        # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from types import ModuleType
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware

import cim
from cim.city import City
from cim.store.base import Store
from cim.store.duckdb import DuckDBStore
from cim.store.threaded import ThreadedStore
from cim.store.watched import WatchedStore
from serving.vector.rendered import RenderedTiles
from serving.vector.tiles import VectorTiles
from tiles import errors
from tiles.limits import BodyLimitMiddleware
from tiles.settings import Settings
from tiles.tilecache import TileCache

log = logging.getLogger("tiles")

#: always mounted, in this order (the viewer's catch-all last)
CORE_ROUTERS = ["tiles.routers.landing", "tiles.routers.features", "tiles.routers.vector_tiles",
                "tiles.routers.city"]

#: subsystems that mount themselves when their module exists
OPTIONAL_ROUTERS = ["tiles.routers.processes", "tiles.routers.tiles3d", "tiles.routers.raster", "tiles.routers.sensorthings",
                    "tiles.routers.iot", "tiles.routers.wmts", "tiles.routers.wms"]

VIEWER_ROUTER = "tiles.routers.viewer"


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
    app.state.layer_link_hooks = []
    errors.install(app)
    _middleware(app, settings)
    for module in CORE_ROUTERS:
        app.include_router(importlib.import_module(module).router)
    plugins = [m for name in OPTIONAL_ROUTERS if (m := _optional(name)) is not None]
    for mod in plugins:
        app.include_router(mod.router)
        if hasattr(mod, "layer_links"):
            app.state.layer_link_hooks.append(mod.layer_links)
    app.state.plugins = plugins
    app.include_router(importlib.import_module(VIEWER_ROUTER).router)
    return app


def _middleware(app: FastAPI, settings: Settings) -> None:
    app.add_middleware(GZipMiddleware, minimum_size=settings.gzip_min_bytes)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["X-API-Key", "Content-Type", "If-None-Match"], expose_headers=["ETag"])
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)


def _lifespan(settings: Settings, given: City | None) -> Callable[[FastAPI], Any]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = given is None
        base = given or cim.open(settings.city)
        store = _server_store(base, settings)
        app.state.city = City(store)
        app.state.vector_tiles = VectorTiles(app.state.city, settings.tile_store)
        app.state.rendered_tiles = RenderedTiles(app.state.vector_tiles)
        app.state.tile_cache = TileCache(settings.tile_cache_mb * 1024 * 1024)
        warm = (_prepare_in_background(app.state.rendered_tiles, app.state.city, settings.seed_max_zoom)
                if settings.prepare_tiles else None)
        try:
            async with AsyncExitStack() as stack:
                for mod in app.state.plugins:
                    if hasattr(mod, "lifespan"):
                        await stack.enter_async_context(mod.lifespan(app))
                yield
        finally:
            if warm is not None:
                warm[0].set()
                warm[1].join()
            app.state.vector_tiles.close()
            if store is not base.store:
                store.close()
            if owned:
                base.close()

    return lifespan


def _prepare_in_background(tiles: RenderedTiles, city: City, max_zoom: int) -> tuple[threading.Event, threading.Thread]:
    """Prepare every vector layer's tile store in every view; seed public ones up to ``max_zoom``.

    Returns the stop event and the thread; shutdown sets the one and joins the other (the layer
    being prepared finishes first).
    """
    from cim.model.catalog import visible_layers

    stop = threading.Event()

    def run() -> None:
        try:
            public = {i.name for i in visible_layers(city, "anonymous")}
            for role in ("anonymous", "operator", "admin"):  # every view: full, coarse, restricted full
                for info in visible_layers(city, role):
                    if stop.is_set():
                        return
                    if info.is_vector and (role == "anonymous" or info.name not in public):
                        tiles.seed(info, max_zoom=max_zoom if role == "anonymous" else -1, stop=stop)
        except Exception:  # noqa: BLE001 - a failed warm-up only means the first tile prepares
            log.exception("preparing vector tiles in the background failed")

    thread = threading.Thread(target=run, name="prepare-tiles", daemon=True)
    thread.start()
    return stop, thread


def _server_store(city: City, settings: Settings) -> Store:
    """The store the server reads through; both kinds count writes, so caches re-read the catalogue
    only after one. A DuckDB file (one writer: this process) gets per-thread read cursors; a
    database other processes write too (PostGIS: a connection per thread already) is watched for
    their changes every ``catalog_refresh_s`` seconds."""
    if isinstance(city.store, (ThreadedStore, WatchedStore)):
        return city.store
    if isinstance(city.store, DuckDBStore):
        return ThreadedStore(city.store)
    if settings.catalog_refresh_s > 0:
        return WatchedStore(city.store, interval=settings.catalog_refresh_s).start()
    return city.store


def _optional(module: str) -> ModuleType | None:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return None
        raise
