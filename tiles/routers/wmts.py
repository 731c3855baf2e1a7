"""WMTS 1.0.0 over the city's raster and vector tiles, KVP and RESTful.

``/wmts?SERVICE=WMTS&REQUEST=GetCapabilities`` (or ``/wmts/1.0.0/WMTSCapabilities.xml``) lists the
layers the caller's role may see (``X-API-Key``); tiles come as PNG in WebMercatorQuad and
CGCS2000Quad, and vector layers also as MVT in WebMercatorQuad — the same tiles as
``/collections/{layer}/tiles``. Errors are OWS exception reports (XML). Logic: ``serving.wmts``,
pictures: ``serving.maps``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from cim.errors import CIMError
from cim.model.catalog import LayerInfo, etag_for, layer_info, visible_layers
from serving.maps import MapImages
from serving.vector import served
from serving.wmts import MVT, PNG, MapLayer, OWSError, TileRequest, capabilities_xml, exception_report
from serving.wmts.requests import format_of_extension, kvp, operation, tile_request
from tiles.dependencies import CityDep, Role, layer_token
from tiles.routers.maps_common import XML, map_images, not_modified, ows_error

router = APIRouter(tags=["WMTS"])

IfNoneMatch = Annotated[str | None, Header(description="An ETag from an earlier response (304 if unchanged).")]
_TILE_RESPONSES = {200: {"content": {PNG: {}, MVT: {}}}, 204: {"description": "Empty vector tile"},
                   304: {"description": "Not modified"}, 400: {"content": {XML: {}}}, 404: {"content": {XML: {}}}}


def _capabilities(request: Request, city: CityDep, role: str) -> Response:
    layers = []
    for info in visible_layers(city, role):
        if info.bbox_4326 is None:
            continue
        formats = (PNG, MVT) if info.is_vector else (PNG,)
        abstract = f"{info.feature_class or info.kind} layer ({info.phase}, {info.classification})"
        layers.append(MapLayer(info.name, abstract, info.bbox_4326, formats))
    base = str(request.base_url).rstrip("/")
    return Response(capabilities_xml(base, city.meta("name") or "cim", layers), media_type=XML,
                    headers={"Cache-Control": "no-cache", "Vary": "X-API-Key"})


async def _tile(request: Request, city: CityDep, role: str, req: TileRequest, if_none_match: str | None) -> Response:
    info = layer_info(city, req.layer, role)
    if req.format == MVT and not info.is_vector:
        raise OWSError(f"layer {info.name!r} is a raster: its tiles are image/png", locator="Format")
    etag = etag_for("wmts", layer_token(info), info.view, req.tms.identifier, req.level, req.row,
                    req.col, req.format)
    headers = {"ETag": etag, "Cache-Control": "no-cache", "Vary": "X-API-Key"}
    if not_modified(etag, if_none_match):
        return Response(status_code=304, headers=headers)
    images = map_images(request)
    if req.format == MVT:
        data = await run_in_threadpool(served.tile, images.tiles, info, req.level, req.col, req.row)
        return Response(data, media_type=MVT, headers=headers) if data else Response(status_code=204, headers=headers)
    png = await run_in_threadpool(_png, images, info, req)
    return Response(png, media_type=PNG, headers=headers)


def _png(images: MapImages, info: LayerInfo, req: TileRequest) -> bytes:
    return images.tile_png(info, req.tms, req.level, req.col, req.row)


@router.get("/wmts", summary="WMTS 1.0.0, KVP: GetCapabilities or GetTile", response_class=Response,
            responses=_TILE_RESPONSES)
async def wmts(request: Request, city: CityDep, role: Role, if_none_match: IfNoneMatch = None) -> Response:
    """``SERVICE=WMTS&REQUEST=GetCapabilities``, or ``REQUEST=GetTile`` with LAYER, STYLE, FORMAT,
    TILEMATRIXSET, TILEMATRIX, TILEROW and TILECOL (parameter names in any letter case)."""
    params = dict(request.query_params)
    try:
        if operation(params) == "GetCapabilities":
            return _capabilities(request, city, role)
        return await _tile(request, city, role, kvp(params), if_none_match)
    except CIMError as exc:
        return ows_error(request, exc, exception_report, "WMTS")


@router.get("/wmts/1.0.0/WMTSCapabilities.xml", summary="WMTS 1.0.0 capabilities (RESTful)",
            response_class=Response, responses={200: {"content": {XML: {}}}})
def capabilities(request: Request, city: CityDep, role: Role) -> Response:
    """The capabilities document: the layers your role may see, their formats and tile limits."""
    try:
        return _capabilities(request, city, role)
    except CIMError as exc:
        return ows_error(request, exc, exception_report, "WMTS")


@router.get("/wmts/1.0.0/{layer}/{style}/{tileMatrixSet}/{tileMatrix}/{tileRow}/{tileCol}.{ext}",
            summary="A WMTS tile (RESTful)", response_class=Response, responses=_TILE_RESPONSES)
async def rest_tile(
    request: Request, city: CityDep, role: Role,
    layer: Annotated[str, Path(max_length=64, description="Layer, as the capabilities list it.")],
    style: Annotated[str, Path(max_length=40, description="Style: default.")],
    tms: Annotated[str, Path(alias="tileMatrixSet", max_length=40, description="WebMercatorQuad or CGCS2000Quad.")],
    level: Annotated[str, Path(alias="tileMatrix", max_length=4, description="Tile matrix (level).")],
    row: Annotated[str, Path(alias="tileRow", max_length=12, description="Tile row, from the top.")],
    col: Annotated[str, Path(alias="tileCol", max_length=12, description="Tile column, from the left.")],
    ext: Annotated[str, Path(max_length=4, description="png, or mvt for vector tiles.")],
    if_none_match: IfNoneMatch = None,
) -> Response:
    """One tile as ``ResourceURL`` templates in the capabilities address it."""
    try:
        req = tile_request(layer, tms, level, row, col, format_of_extension(ext, style))
        return await _tile(request, city, role, req, if_none_match)
    except CIMError as exc:
        return ows_error(request, exc, exception_report, "WMTS")
