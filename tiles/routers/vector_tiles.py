"""OGC API Tiles (vector): tilesets and TileJSON 3.0 per layer, MVT tiles in WebMercatorQuad.

A matching ``If-None-Match`` is answered 304 before anything is looked up; then the tile comes
from the app's ``serving.vector.VectorTileService`` (in-process cache keyed by layer, view, z/x/y and
model version; kept tiles; rendering — no SQL here); gzip is served from the cache when the client
accepts it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from cim.model.catalog import LayerInfo
from cim.model.diff import layer_at
from serving.tilegrid import MAX_ZOOM, check_tile
from serving.vector import VectorTileService
from serving.vector.archive import vector_layer
from tiles.dependencies import CityDep, Layer, get_layer, layer_token
from tiles.errors import NotFound

router = APIRouter(tags=["OGC API Tiles"])

MVT = "application/vnd.mapbox-vector-tile"
TMS = "WebMercatorQuad"
TMS_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
MAX_TILE_ZOOM = 22

Z = Annotated[int, Path(ge=0, le=MAX_ZOOM, description="Zoom level (tile matrix).")]
X = Annotated[int, Path(ge=0, description="Tile column.")]
Y = Annotated[int, Path(ge=0, description="Tile row (from the top).")]
DateTime = Annotated[str | None, Query(max_length=64, description=(
    "The map as it was: a version number of the layer or an ISO 8601 time with zone (the version valid "
    "then; docs/compare.md). Default: the current version."))]
#: (model token, layer, view, datetime) → the layer as it was; bounded, cleared when full
_PAST: dict[tuple[str, str, str, str], LayerInfo] = {}
_PAST_MAX = 4096
TILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {MVT: {}}, "description": "Mapbox Vector Tile"},
    204: {"description": "No features in this tile"},
    304: {"description": "Not modified (ETag matched)"},
}


def _vector(info: LayerInfo) -> LayerInfo:
    if not info.is_vector:
        raise NotFound(f"layer {info.name!r} is a {info.kind} layer: it has map tiles, not vector tiles")
    return info


def _tms(tms: str) -> None:
    if tms != TMS:
        raise NotFound(f"unknown tile matrix set {tms[:40]!r}: use {TMS}")


async def past_layer(city: CityDep, info: LayerInfo, when: str | None, token: str) -> LayerInfo:
    """``info`` as it was at ``when`` (a version or a time), remembered per model token; itself without ``when``."""
    if when is None:
        return info
    key = (token, info.name, info.view, when)
    found = _PAST.get(key)
    if found is None:
        found = await run_in_threadpool(layer_at, city, info, when)
        if len(_PAST) >= _PAST_MAX:
            _PAST.clear()
        _PAST[key] = found
    return found


async def serve_tile(request: Request, city: CityDep, info: LayerInfo, z: int, x: int, y: int,
                     if_none_match: str | None, accept_encoding: str | None, when: str | None = None) -> Response:
    """The shared path of both tile URLs: ETag/304, the in-process cache, then the kept or freshly
    rendered tile (``serving.vector.VectorTileService``).

    Runs on the event loop; only a cache miss goes to a worker thread (a lookup in the kept tiles,
    or a render), so cached tiles cost no thread hop.
    """
    check_tile(z, x, y)
    _vector(info)
    service: VectorTileService = request.app.state.vector_tiles
    token = layer_token(info)
    if when is not None:  # a past version: its own prepared tables, kept tiles and cache entries
        past = await past_layer(city, info, when, token)
        if past.version != info.version:
            info, token = past, f"{token}.v{past.version}"
    etag = service.etag(info, z, x, y, token)
    headers = {"ETag": etag, "Cache-Control": "no-cache" if info.view != "full" or info.classification != "public"
               else "public, max-age=0, must-revalidate", "Vary": "Accept-Encoding, X-API-Key"}
    if if_none_match and etag in [t.strip() for t in if_none_match.split(",")]:
        return Response(status_code=304, headers=headers)
    item = service.cached(info, z, x, y, token)
    if item is None:
        item = await run_in_threadpool(service.render, info, z, x, y, token)
    if not item.data:
        return Response(status_code=204, headers=headers)
    if accept_encoding and "gzip" in accept_encoding.lower():
        return Response(item.gzipped, media_type=MVT, headers={**headers, "Content-Encoding": "gzip"})
    return Response(item.data, media_type=MVT, headers=headers)


@router.get("/collections/{layer}/tiles/{tileMatrixSetId}/{z}/{y}/{x}", summary="A vector tile (MVT)",
            response_class=Response, responses=TILE_RESPONSES)
async def tile(request: Request, city: CityDep, info: Layer, z: Z, y: Y, x: X,
         tms: Annotated[str, Path(alias="tileMatrixSetId", max_length=40, description="Only WebMercatorQuad.")],
         if_none_match: Annotated[str | None, Header(description="ETag of a copy you hold.")] = None,
         accept_encoding: Annotated[str | None, Header(description="gzip is honoured.")] = None,
         datetime: DateTime = None) -> Response:
    """One MVT tile of a layer (OGC API Tiles order z/y/x); 204 when the tile is empty."""
    _tms(tms)
    return await serve_tile(request, city, info, z, x, y, if_none_match, accept_encoding, datetime)


@router.get("/tiles/{layer}/{z}/{x}/{y}.mvt", summary="A vector tile (XYZ order)",
            response_class=Response, responses=TILE_RESPONSES)
async def tile_xyz(request: Request, city: CityDep, info: Layer, z: Z, x: X, y: Y,
             if_none_match: Annotated[str | None, Header(description="ETag of a copy you hold.")] = None,
             accept_encoding: Annotated[str | None, Header(description="gzip is honoured.")] = None,
             datetime: DateTime = None) -> Response:
    """The same tile for clients that build z/x/y URLs."""
    return await serve_tile(request, city, info, z, x, y, if_none_match, accept_encoding, datetime)


def tilejson(base: str, info: LayerInfo) -> dict[str, Any]:
    """TileJSON 3.0 of one layer."""
    doc: dict[str, Any] = {
        "tilejson": "3.0.0", "name": info.name, "scheme": "xyz", "minzoom": 0, "maxzoom": MAX_TILE_ZOOM,
        "tiles": [f"{base}/collections/{info.name}/tiles/{TMS}/{{z}}/{{y}}/{{x}}"],
        "vector_layers": [vector_layer(info, 0, MAX_TILE_ZOOM)],
    }
    if info.bbox_4326:
        w, s, e, n = info.bbox_4326
        doc["bounds"] = [w, s, e, n]
        doc["center"] = [round((w + e) / 2, 6), round((s + n) / 2, 6), 14]
    return doc


@router.get("/collections/{layer}/tiles/{tileMatrixSetId}", summary="TileJSON 3.0 of a layer",
            response_model=dict[str, Any])
def tileset(request: Request, info: Layer,
            tms: Annotated[str, Path(alias="tileMatrixSetId", max_length=40, description="Only WebMercatorQuad.")],
            ) -> JSONResponse:
    """TileJSON 3.0 (also an OGC tileset description) of a layer's vector tiles."""
    _tms(tms)
    doc = tilejson(str(request.base_url).rstrip("/"), _vector(info))
    doc.update({"dataType": "vector", "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
                "tileMatrixSetURI": TMS_URI})
    return JSONResponse(doc)


@router.get("/collections/{layer}/tiles", summary="Tilesets of a layer", response_model=dict[str, Any])
def tilesets(request: Request, info: Layer) -> dict[str, Any]:
    """The layer's vector tilesets (one: WebMercatorQuad)."""
    base = str(request.base_url).rstrip("/") + f"/collections/{_vector(info).name}/tiles/{TMS}"
    return {"tilesets": [{
        "title": f"{info.name} vector tiles", "dataType": "vector", "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
        "tileMatrixSetURI": TMS_URI,
        "links": [{"rel": "self", "type": "application/json", "href": base},
                  {"rel": "item", "type": MVT, "templated": True, "href": base + "/{z}/{y}/{x}"}]}]}


__all__ = ["router", "serve_tile", "tilejson", "get_layer"]
