"""A minimal WMS 1.3.0: GetCapabilities and GetMap (PNG) of the layers the caller's role may see.

Maps are drawn from the same tiles as WMTS and ``/collections/{layer}/tiles`` (``serving.maps``),
in EPSG:3857, EPSG:4326, EPSG:4490, CRS:84 or the city's CRS; errors are WMS service exception
reports (XML). Logic: ``serving.wms``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from cim.errors import CIMError
from cim.model.catalog import etag_for, layer_info, visible_layers
from serving.wms import capabilities_xml, exception_report, get_map, operation
from tiles.dependencies import CityDep, Role, layer_token
from tiles.routers.maps_common import XML, map_images, not_modified, ows_error

router = APIRouter(tags=["WMS"])

PNG = "image/png"


def _capabilities(request: Request, city: CityDep, role: str) -> Response:
    layers = [(i.name, f"{i.feature_class or i.kind} layer ({i.phase}, {i.classification})", i.bbox_4326)
              for i in visible_layers(city, role) if i.bbox_4326 is not None]
    base = str(request.base_url).rstrip("/")
    doc = capabilities_xml(base, city.meta("name") or "cim", city.crs, layers)
    return Response(doc, media_type="text/xml", headers={"Cache-Control": "no-cache", "Vary": "X-API-Key"})


async def _map(request: Request, city: CityDep, role: str, if_none_match: str | None) -> Response:
    req = get_map(dict(request.query_params), city_crs=city.crs)
    infos = [layer_info(city, name, role) for name in req.layers]
    etag = etag_for("wms", [(layer_token(i), i.view) for i in infos], req)
    headers = {"ETag": etag, "Cache-Control": "no-cache", "Vary": "X-API-Key"}
    if not_modified(etag, if_none_match):
        return Response(status_code=304, headers=headers)
    images = map_images(request)
    png = await run_in_threadpool(lambda: images.map_png(
        infos, req.crs, req.bbox, req.width, req.height, background=None if req.transparent else req.background))
    return Response(png, media_type=PNG, headers=headers)


@router.get("/wms", summary="WMS 1.3.0: GetCapabilities or GetMap", response_class=Response,
            responses={200: {"content": {PNG: {}, "text/xml": {}}}, 400: {"content": {XML: {}}},
                       404: {"content": {XML: {}}}})
async def wms(request: Request, city: CityDep, role: Role,
              if_none_match: Annotated[str | None, Header(description="ETag of a map you hold.")] = None
              ) -> Response:
    """``SERVICE=WMS&REQUEST=GetCapabilities``, or ``REQUEST=GetMap`` with LAYERS, STYLES, CRS, BBOX
    (in the CRS's axis order), WIDTH, HEIGHT, FORMAT=image/png and optionally TRANSPARENT, BGCOLOR."""
    try:
        if operation(dict(request.query_params)) == "GetCapabilities":
            return _capabilities(request, city, role)
        return await _map(request, city, role, if_none_match)
    except CIMError as exc:
        return ows_error(request, exc, exception_report, "WMS")
