"""Domain errors → HTTP, in one table; every error leaves as application/problem+json (RFC 9457).

Clients get the domain message (what, where, how to fix) and never SQL or a traceback; anything
unexpected is logged here and answered with a bare 500.
"""

from __future__ import annotations

import logging
import math

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from cim import errors as e
from cim.errors import first_line

log = logging.getLogger("tiles")

#: cim error class → HTTP status; the first matching class (in MRO order) wins
STATUS: dict[type[Exception], int] = {
    e.LayerNotFound: 404,
    e.FeatureNotFound: 404,
    e.QueryError: 400,
    e.ValidationError: 400,
    e.CRSError: 400,
    e.SourceError: 400,
    e.PermissionDenied: 403,
    e.QueryTimeout: 503,
    e.CityNotFound: 503,
    e.SchemaTooNew: 503,
    e.CIMError: 500,
}

_TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 406: "Not Acceptable", 413: "Content Too Large",
           415: "Unsupported Media Type", 422: "Unprocessable Content", 500: "Internal Server Error",
           503: "Service Unavailable"}

PROBLEM = "application/problem+json"


class Unauthorized(e.CIMError):
    """An API key was sent but is not known."""


class NotFound(e.CIMError):
    """A resource other than a layer or feature (a file, a tile matrix set) does not exist."""


STATUS = {Unauthorized: 401, NotFound: 404, **STATUS}


def problem(status: int, detail: str, *, instance: str | None = None, **extra: object) -> JSONResponse:
    """A problem+json response."""
    body: dict[str, object] = {"type": "about:blank", "title": _TITLES.get(status, "Error"),
                               "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    body.update(extra)
    headers = {"WWW-Authenticate": 'ApiKey header="X-API-Key"'} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def status_of(exc: Exception) -> int:
    """HTTP status for a domain error."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


#: WMTS 1.0.0 (OGC 07-057r7, table 28): the HTTP status of each exception code
WMTS_STATUS = {"OperationNotSupported": 501, "MissingParameterValue": 400, "InvalidParameterValue": 400,
               "TileOutOfRange": 400}


def ows_status(service: str, code: str, exc: Exception) -> int:
    """HTTP status of an OGC web service exception report. WMS 1.3 clients (owslib, QGIS, GDAL) read
    the report only from a 200 answer, as WMS servers send it; WMTS names a status per code; an
    internal error stays a 5xx, and a missing or unknown key keeps its 401/403."""
    status = status_of(exc)
    if status >= 500 or status in (401, 403):
        return status
    if service == "WMS":
        return 200
    return WMTS_STATUS.get(code, status)


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(e.CIMError)
    async def _domain(request: Request, exc: e.CIMError) -> JSONResponse:
        status = status_of(exc)
        if isinstance(exc, e.QueryTimeout):  # the caller's own query: say so, and when to come back
            log.warning("query stopped after %gs on %s", exc.seconds, request.url.path)
            resp = problem(status, first_line(exc), instance=request.url.path)
            resp.headers["Retry-After"] = str(max(1, math.ceil(exc.seconds)))
            return resp
        if status >= 500:
            log.error("%s on %s: %s", type(exc).__name__, request.url.path, exc)
            return problem(status, "the server could not answer this request", instance=request.url.path)
        return problem(status, first_line(exc), instance=request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem(400, _describe_validation(exc), instance=request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "Error")
        resp = problem(exc.status_code, detail, instance=request.url.path)
        for k, v in (exc.headers or {}).items():
            resp.headers[k] = v
        return resp

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s", request.url.path)
        return problem(500, "the server could not answer this request", instance=request.url.path)




def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("query", "path", "header", "body"))
        parts.append(f"{where or 'request'}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"
