"""OGC API common: landing page and conformance."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from tiles.dependencies import CityDep

router = APIRouter(tags=["OGC API"])

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core",
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
]


@router.get("/landing", summary="Landing page", response_model=dict[str, Any])
def landing(request: Request, city: CityDep) -> dict[str, Any]:
    """Links to the API description, conformance, collections and the viewer."""
    base = str(request.base_url).rstrip("/")
    return {
        "title": city.meta("name") or "cim",
        "description": f"City information model in {city.crs}",
        "links": [
            {"rel": "self", "type": "application/json", "href": f"{base}/landing"},
            {"rel": "service-desc", "type": "application/vnd.oai.openapi+json;version=3.0", "href": f"{base}/api"},
            {"rel": "service-doc", "type": "text/html", "href": f"{base}/api.html"},
            {"rel": "conformance", "type": "application/json", "href": f"{base}/conformance"},
            {"rel": "data", "type": "application/json", "href": f"{base}/collections"},
            {"rel": "alternate", "type": "text/html", "title": "viewer", "href": f"{base}/"},
        ],
    }


@router.get("/conformance", summary="Conformance classes", response_model=dict[str, list[str]])
def conformance() -> dict[str, list[str]]:
    """The OGC conformance classes this server implements."""
    return {"conformsTo": CONFORMANCE}
