"""OGC API Features: collections (= layers), items, single item, queryables."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from cim.city import City
from cim.errors import QueryError
from cim.model.catalog import LayerInfo, visible_layers
from serving.features import crs as ogc_crs
from serving.features.filters import compile_filter, queryables
from serving.features.geojson import to_features
from serving.features.items import ItemsQuery, get_item, query_items
from tiles.dependencies import CityDep, Layer, PageParams, Role, SettingsDep, page_limit
from tiles.settings import Settings

router = APIRouter(tags=["OGC API Features"])

CRS84 = ogc_crs.CRS84_URI


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
    return ogc_crs.crs_uri(crs)


def supported_crs(city_crs: str) -> list[str]:
    """CRSs items can be asked in (``crs=``) and bboxes given in (``bbox-crs=``)."""
    return [ogc_crs.crs_uri(c) for c in ogc_crs.supported(city_crs)]


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


GEOJSON = "application/geo+json"


@dataclass
class ItemsParams:
    """Query parameters of /items (OGC API Features Parts 1–3)."""

    bbox: Annotated[str | None, Query(description="minx,miny,maxx,maxy (or 6 numbers with z) in bbox-crs.",
                                      max_length=400, examples=["120.17,35.95,120.19,35.97"])] = None
    datetime: Annotated[str | None, Query(description="Instant or interval a/b ('..' = open) over feature "
                                          "validity; default: the current city.", max_length=100)] = None
    filter: Annotated[str | None, Query(description="CQL2 filter (text or JSON, see filter-lang).",
                                        max_length=20_000, examples=["floors > 10 AND use = '住宅'"])] = None
    filter_lang: Annotated[Literal["cql2-text", "cql2-json"], Query(alias="filter-lang",
                                                                    description="Language of filter.")] = "cql2-text"
    filter_crs: Annotated[str | None, Query(alias="filter-crs", max_length=200,
                                            description="CRS of geometries in filter (default CRS84).")] = None
    crs: Annotated[str | None, Query(max_length=200,
                                     description="CRS of the response geometries (default CRS84).")] = None
    bbox_crs: Annotated[str | None, Query(alias="bbox-crs", max_length=200,
                                          description="CRS of bbox (default CRS84).")] = None


def parse_bbox(text: str | None, crs: str | None, city_crs: str, max_km2: float) -> tuple[float, ...] | None:
    """``bbox`` text → city-CRS bounds, refused when malformed, non-finite or too large."""
    if text is None or text == "":
        return None
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError as exc:
        raise QueryError("bbox must be comma-separated numbers: minx,miny,maxx,maxy") from exc
    name = ogc_crs.check_crs(crs, city_crs, "bbox-crs")
    bounds = ogc_crs.bbox_to_city(values, name, city_crs)
    if ogc_crs.bbox_area_km2(bounds) > max_km2:
        raise QueryError(f"bbox covers more than {max_km2:g} km²: ask for a smaller area or page without bbox")
    return bounds


def _query(city: City, info: LayerInfo, p: ItemsParams, page: PageParams,
           settings: Settings) -> tuple[ItemsQuery, str]:
    crs = ogc_crs.check_crs(p.crs, city.crs)
    ogc_crs.check_crs(p.bbox_crs, city.crs, "bbox-crs")
    filter_crs = ogc_crs.check_crs(p.filter_crs, city.crs, "filter-crs")
    where = None
    if p.filter:
        where = compile_filter(p.filter, p.filter_lang, queryables(info.fields, view=info.view),
                               city_crs=city.crs, filter_crs=filter_crs, view=info.view)
    bbox = parse_bbox(p.bbox, p.bbox_crs, city.crs, settings.max_bbox_area_km2)
    q = ItemsQuery(layer=info.name, limit=page_limit(page, settings), offset=page.offset, bbox=bbox,
                   datetime=p.datetime, where=where, view=info.view, layer_rows=info.count,
                   count_max_rows=settings.count_max_rows)
    return q, crs


@router.get("/collections/{layer}/items", summary="Features of a layer",
            response_class=Response, responses={200: {"content": {GEOJSON: {}}, "description": "FeatureCollection"}})
def items(request: Request, city: CityDep, info: Layer, settings: SettingsDep,
          p: Annotated[ItemsParams, Depends()], page: Annotated[PageParams, Depends()]) -> Response:
    """A page of features as GeoJSON, with numberMatched/numberReturned and next/prev links."""
    q, crs = _query(city, info, p, page, settings)
    result = query_items(city, q)
    features = to_features(result.table, city_crs=city.crs, crs=crs, view=info.view)
    links = _page_links(request, q, result.matched, len(features))
    matched = "" if result.matched is None else f'"numberMatched": {result.matched}, '
    body = (f'{{"type": "FeatureCollection", {matched}'
            f'"numberReturned": {len(features)}, "timeStamp": "{_now()}", "links": {_dumps(links)}, '
            f'"features": [{", ".join(features)}]}}')
    return Response(body.encode(), media_type=GEOJSON, headers={"Content-Crs": f"<{ogc_crs.crs_uri(crs)}>"})


@router.get("/collections/{layer}/items/{featureId}", summary="One feature",
            response_class=Response, responses={200: {"content": {GEOJSON: {}}, "description": "Feature"}})
def item(request: Request, city: CityDep, info: Layer,
         feature_id: Annotated[str, Path(alias="featureId", max_length=256, description="Feature id.")],
         crs: Annotated[str | None, Query(max_length=200, description="CRS of the geometry (default CRS84).")] = None,
         ) -> Response:
    """One feature of a layer as GeoJSON (404 when it is not in that layer)."""
    out_crs = ogc_crs.check_crs(crs, city.crs)
    table = get_item(city, info.name, feature_id, view=info.view)
    base = str(request.base_url).rstrip("/") + f"/collections/{info.name}"
    links = [{"rel": "self", "type": GEOJSON, "href": str(request.url)},
             {"rel": "collection", "type": "application/json", "href": base}]
    feature = to_features(table, city_crs=city.crs, crs=out_crs, view=info.view, links=lambda _id: links)[0]
    return Response(feature.encode(), media_type=GEOJSON, headers={"Content-Crs": f"<{ogc_crs.crs_uri(out_crs)}>"})


@router.get("/collections/{layer}/queryables", summary="Properties a filter may use",
            response_class=Response, responses={200: {"content": {"application/schema+json": {}}}})
def queryables_doc(request: Request, info: Layer) -> Response:
    """JSON Schema of the layer's queryable properties (OGC API Features Part 3)."""
    props = {}
    for name, kind in queryables(info.fields, view=info.view).items():
        if kind == "geometry":
            props[name] = {"title": name, "format": "geometry-any"}
        elif kind in ("date-time", "date"):
            props[name] = {"title": name, "type": "string", "format": kind}
        else:
            props[name] = {"title": name, "type": kind}
    doc = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": str(request.url),
           "type": "object", "title": info.name, "properties": props, "additionalProperties": False}
    return Response(_dumps(doc).encode(), media_type="application/schema+json")


def _page_links(request: Request, q: ItemsQuery, matched: int | None, returned: int) -> list[dict[str, str]]:
    links = [{"rel": "self", "type": GEOJSON, "href": str(request.url)}]
    if (q.offset + returned < matched) if matched is not None else returned == q.limit:
        nxt = request.url.include_query_params(offset=q.offset + returned, limit=q.limit)
        links.append({"rel": "next", "type": GEOJSON, "href": str(nxt)})
    if q.offset > 0:
        prev = request.url.include_query_params(offset=max(q.offset - q.limit, 0), limit=q.limit)
        links.append({"rel": "prev", "type": GEOJSON, "href": str(prev)})
    return links


def _dumps(value: object) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
