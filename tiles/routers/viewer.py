"""The viewer's built files: ``/`` → viewer/dist/index.html, ``/static/...`` → viewer/dist/...

Paths are resolved inside the dist folder and anything that escapes it is a 404, so
``/static/../../etc/passwd`` cannot read outside.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path as FsPath

from fastapi import APIRouter, Path, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from tiles.errors import NotFound
from tiles.routers.landing import Format, landing_doc, vary_accept, wants_html

router = APIRouter(tags=["viewer"])


_NO_BUILD = """<!doctype html><meta charset="utf-8"><title>cim</title>
<h1>The viewer is not built</h1>
<p>Build it once with <code>make viewer</code> (or <code>cd viewer && npm ci && npm run build</code>),
then reload. The APIs are already here: <a href="/landing">/landing</a>,
<a href="/collections">/collections</a>, <a href="/api.html">/api.html</a>.</p>
"""


def _dist(request: Request) -> FsPath:
    return FsPath(request.app.state.settings.viewer_dist).resolve()


@router.get("/", summary="The OGC landing page (JSON) or, for browsers, the viewer (HTML)",
            response_model=dict, responses={200: {"content": {"text/html": {}}}})
def index(request: Request, f: Format = None) -> Response:
    """The landing page (JSON) unless the client asks for HTML (``Accept: text/html`` as browsers
    send, or ``?f=html``): then the one-screen viewer, or how to build it."""
    if not wants_html(request.headers.get("accept"), f):
        return vary_accept(JSONResponse(landing_doc(request, request.app.state.city)))
    page = _dist(request) / "index.html"
    if not page.is_file():
        return vary_accept(HTMLResponse(_NO_BUILD, status_code=200))
    return vary_accept(FileResponse(page, media_type="text/html"))


@router.get("/static/{path:path}", summary="Viewer assets", response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}}}, 404: {"description": "No such file"}})
def static(request: Request, path: str = Path(..., max_length=512, description="File under viewer/dist.")) -> Response:
    """A file of the built viewer."""
    root = _dist(request)
    if "\x00" in path:  # no file name holds one; the OS would refuse it
        raise NotFound("no such file in the viewer build")
    target = (root / path).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        raise NotFound(f"no file {path!r} in the viewer build")
    media = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    return FileResponse(target, media_type=media, headers={"Cache-Control": "public, max-age=3600"})
