"""What the WMTS and WMS routers share: the picture service on ``app.state`` and OWS error replies.

The service is made on first use from what the app already holds (the vector tile renderer, the
raster tile service), so the map services need no start-up step of their own.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from fastapi import Request
from fastapi.responses import Response

from cim.errors import CIMError
from serving.maps import MapImages
from serving.wmts.errors import code_of
from tiles.errors import ows_status

log = logging.getLogger("tiles")
_LOCK = threading.Lock()
XML = "application/xml"


def map_images(request: Request) -> MapImages:
    """The app's ``MapImages`` (made once, over the vector and raster tile services and the shared cache)."""
    state = request.app.state
    images = getattr(state, "map_images", None)
    if images is None:
        with _LOCK:
            images = getattr(state, "map_images", None)
            if images is None:
                images = state.map_images = MapImages(state.city, state.vector_tiles.rendered, state.raster_tiles,
                                                      cache=state.tile_cache)
    return images


def ows_error(request: Request, exc: CIMError, report: Callable[..., bytes], service: str) -> Response:
    """The OWS exception report of a domain error, with the status ``tiles.errors.ows_status`` gives it."""
    status = ows_status(service, code_of(exc)[0], exc)
    media = "text/xml" if service == "WMS" else XML  # WMS 1.3's exception format "XML" is text/xml
    if status >= 500:
        log.error("%s on %s: %s", type(exc).__name__, request.url.path, exc)
        return Response(report(exc, message="the server could not answer this request"), status_code=status,
                        media_type=media)
    return Response(report(exc), status_code=status, media_type=media)


def not_modified(etag: str, if_none_match: str | None) -> bool:
    """True when the client already holds this ETag."""
    return bool(if_none_match) and etag in [t.strip() for t in if_none_match.split(",")]
