"""A static file server for the tiles bench's floor: ``uvicorn bench._static_app:app`` over ``$CIM_BENCH_TILES``.

The same ASGI server as ``cim serve`` (uvicorn), serving files already on disk: what answering a
tile costs when nothing is rendered or looked up (the physical floor of warm serving).
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles


async def _ok(_request: object) -> PlainTextResponse:
    return PlainTextResponse("ok")


app = Starlette(routes=[Route("/conformance", _ok),
                        Mount("/tiles", StaticFiles(directory=os.environ["CIM_BENCH_TILES"]))])
