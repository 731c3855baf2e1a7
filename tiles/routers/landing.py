"""OGC API common: landing page and conformance, and which rendition a client asked for.

Content negotiation follows OGC API: JSON unless the client names ``text/html`` explicitly in its
``Accept`` header (``*/*`` is not asking for HTML); ``?f=json`` / ``?f=html`` wins over any header.
So browsers get the viewer at ``/`` and owslib, GDAL, QGIS or curl get the landing page.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from tiles.dependencies import CityDep

router = APIRouter(tags=["OGC API"])

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/json",
    "http://www.opengis.net/spec/ogcapi-common-2/1.0/conf/collections",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/json",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/job-list",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/dismiss",
]

_HTML_TYPES = ("text/html", "application/xhtml+xml")
Format = Annotated[Literal["json", "html"] | None,
                   Query(description="json or html; wins over the Accept header (default: JSON unless "
                                     "Accept names text/html).")]


def wants_html(accept: str | None, f: str | None = None) -> bool:
    """True when the client asked for HTML: ``f=html``, or (without ``f``) an ``Accept`` header that
    names ``text/html`` explicitly and ranks it at least as high as any JSON type it names.

    Example:
        >>> wants_html("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
        True
        >>> wants_html("*/*"), wants_html(None), wants_html("text/html", "json")
        (False, False, False)
    """
    if f is not None:
        return f == "html"
    html = json = 0.0
    for item in (accept or "").split(","):
        media, _, params = item.strip().partition(";")
        media = media.strip().lower()
        q = _quality(params)
        if media in _HTML_TYPES:
            html = max(html, q)
        elif media.endswith(("/json", "+json")):
            json = max(json, q)
    return html > 0 and html >= json


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                return max(0.0, min(1.0, float(value)))
            except ValueError:
                return 0.0
    return 1.0


def landing_doc(request: Request, city: CityDep) -> dict[str, Any]:
    """The OGC API landing page: links to the API description, conformance, collections, the map
    services (WMTS, WMS) and the viewer."""
    base = str(request.base_url).rstrip("/")
    return {
        "title": city.meta("name") or "cim",
        "description": f"City information model in {city.crs}",
        "links": [
            {"rel": "self", "type": "application/json", "href": f"{base}/?f=json"},
            {"rel": "alternate", "type": "text/html", "title": "viewer", "href": f"{base}/?f=html"},
            {"rel": "service-desc", "type": "application/vnd.oai.openapi+json;version=3.0", "href": f"{base}/api"},
            {"rel": "service-doc", "type": "text/html", "href": f"{base}/api.html"},
            {"rel": "conformance", "type": "application/json", "href": f"{base}/conformance"},
            {"rel": "data", "type": "application/json", "href": f"{base}/collections"},
            {"rel": "http://www.opengis.net/def/rel/ogc/1.0/processes", "type": "application/json",
             "title": "analyses (OGC API – Processes)", "href": f"{base}/processes"},
            {"rel": "service", "type": "application/xml", "title": "WMTS 1.0.0 capabilities",
             "href": f"{base}/wmts/1.0.0/WMTSCapabilities.xml"},
            {"rel": "service", "type": "application/xml", "title": "WMS 1.3.0 capabilities",
             "href": f"{base}/wms?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0"},
        ],
    }


@router.get("/landing", summary="Landing page (JSON)", response_model=dict[str, Any])
def landing(request: Request, city: CityDep, f: Format = None) -> Any:
    """The landing page as JSON; a client asking for HTML is sent to ``/`` (the viewer)."""
    if wants_html(request.headers.get("accept"), f):
        return RedirectResponse("/?f=html", status_code=303)
    return landing_doc(request, city)


@router.get("/conformance", summary="Conformance classes", response_model=dict[str, list[str]])
def conformance() -> dict[str, list[str]]:
    """The OGC conformance classes this server implements."""
    return {"conformsTo": CONFORMANCE}


def vary_accept(response: Response) -> Response:
    """Mark a negotiated response so caches keep one copy per ``Accept``."""
    response.headers["Vary"] = "Accept"
    return response
