"""OGC API Features: collections (= layers), items, single item, queryables."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from cim.catalog import LayerInfo, visible_layers
from tiles.dependencies import CityDep, Layer, Role

router = APIRouter(tags=["OGC API Features"])

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


def collection_doc(base: str, info: LayerInfo, city_crs: str) -> dict[str, Any]:
    """The OGC collection description of one layer."""
    href = f"{base}/collections/{info.name}"
    links = [{"rel": "self", "type": "application/json", "href": href},
             {"rel": "items", "type": "application/geo+json", "href": f"{href}/items"},
             {"rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables", "type": "application/schema+json",
              "href": f"{href}/queryables"}]
    if info.is_vector:
        links.append({"rel": "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector", "type": "application/json",
                      "href": f"{href}/tiles"})
    doc: dict[str, Any] = {
        "id": info.name, "title": info.name, "itemType": "feature",
        "description": f"{info.feature_class or info.kind} layer ({info.phase}, {info.classification})",
        "links": links,
        "crs": supported_crs(city_crs),
        "storageCrs": crs_uri(city_crs),
        "cim:kind": info.kind, "cim:phase": info.phase, "cim:classification": info.classification,
        "cim:count": info.count, "cim:view": info.view,
    }
    if info.bbox_4326:
        doc["extent"] = {"spatial": {"bbox": [list(info.bbox_4326)], "crs": CRS84}}
    return doc


def crs_uri(crs: str) -> str:
    """``EPSG:4549`` → its OGC URI."""
    if crs.upper() in ("CRS84", "OGC:CRS84"):
        return CRS84
    auth, _, code = crs.partition(":")
    return f"http://www.opengis.net/def/crs/{auth.upper()}/0/{code}"


def supported_crs(city_crs: str) -> list[str]:
    """CRSs items can be asked in (``crs=``) and bboxes given in (``bbox-crs=``)."""
    out = [CRS84, crs_uri("EPSG:4326"), crs_uri("EPSG:3857")]
    if crs_uri(city_crs) not in out:
        out.append(crs_uri(city_crs))
    return out


@router.get("/collections", summary="The layers you may see", response_model=dict[str, Any])
def collections(request: Request, city: CityDep, role: Role) -> dict[str, Any]:
    """Every layer the caller's role may see, as OGC collections."""
    base = str(request.base_url).rstrip("/")
    return {"links": [{"rel": "self", "type": "application/json", "href": f"{base}/collections"}],
            "collections": [collection_doc(base, i, city.crs) for i in visible_layers(city, role)]}


@router.get("/collections/{layer}", summary="One layer", response_model=dict[str, Any])
def collection(request: Request, city: CityDep, info: Layer) -> dict[str, Any]:
    """One layer as an OGC collection (404 when it does not exist or your role may not see it)."""
    return collection_doc(str(request.base_url).rstrip("/"), info, city.crs)
