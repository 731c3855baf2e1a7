"""Raster tiles (OGC API Maps-style paths) and terrain-RGB from the city's COGs, plus TileJSON.

``/collections/{layer}/map/tiles/WebMercatorQuad/{z}/{y}/{x}.png|.webp`` — a coloured RGBA tile;
``/collections/{layer}/terrain/{z}/{y}/{x}.png`` — terrain-RGB of a DEM. A tile none of whose
pixels falls on the raster is **204 No Content** (clients draw nothing); any other tile is a full
256 px image, transparent where there is no data. z/x/y outside WebMercatorQuad is 400; an unknown (or
hidden) layer is 404; a vector layer asked for raster tiles is 400.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import Response

from cim.errors import ValidationError
from cim.model.catalog import LayerInfo, etag_for
from serving.raster import MAX_ZOOM, RasterTileService
from tiles.dependencies import CityDep, Layer

router = APIRouter(tags=["Raster tiles"])

_MEDIA = {"png": "image/png", "webp": "image/webp"}


def layer_links(info: LayerInfo) -> dict[str, Any]:
    """``raster_tiles`` (and ``terrain_tiles`` for a DEM) of a raster layer in /api/city."""
    if info.kind != "raster":
        return {}
    links = {"raster_tiles": f"/collections/{info.name}/map/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}.png"}
    if (info.properties or {}).get("role") == "dem":
        links["terrain_tiles"] = f"/collections/{info.name}/terrain/{{z}}/{{y}}/{{x}}.png"
    return links


def _service(request: Request) -> RasterTileService:
    return request.app.state.raster_tiles


def _row(info: LayerInfo) -> dict[str, Any]:
    return {"name": info.name, "kind": info.kind, "version": info.version, "properties": info.properties}


Z = Annotated[int, Path(ge=0, le=MAX_ZOOM, description="Zoom level (tile matrix).")]
Y = Annotated[int, Path(ge=0, description="Tile row (from the north).")]
X = Annotated[int, Path(ge=0, description="Tile column (from the west).")]
IfNoneMatch = Annotated[str | None, Header(description="An ETag from an earlier response (304 if unchanged).")]


@dataclass
class StyleParams:
    """How a single-band raster is coloured."""

    colormap: Annotated[str | None, Query(description="Colour map for single-band rasters (terrain, viridis, "
                                                      "greys, …).", max_length=40, pattern=r"^[a-z0-9_]+$")] = None
    rescale: Annotated[str | None, Query(description="min,max of the values mapped onto the colours.",
                                         max_length=60, examples=["0,500"])] = None

    def value_range(self) -> tuple[float, float] | None:
        if self.rescale is None:
            return None
        try:
            low, high = (float(v) for v in self.rescale.split(","))
        except ValueError as exc:
            raise ValidationError(f"rescale={self.rescale!r}: give two numbers, min,max (e.g. 0,500)") from exc
        if not (low < high) or any(v != v or abs(v) == float("inf") for v in (low, high)):
            raise ValidationError(f"rescale={self.rescale!r}: min must be a finite number below max")
        return low, high


def _tile_response(data: bytes | None, media: str, etag: str) -> Response:
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if data is None:
        return Response(status_code=204, headers=headers)
    return Response(data, media_type=media, headers=headers)


def _not_modified(etag: str, if_none_match: str | None) -> bool:
    return bool(if_none_match) and etag in [t.strip() for t in if_none_match.split(",")]


@router.get("/collections/{layer}/map/tiles/WebMercatorQuad/{z}/{y}/{x}.{fmt}", summary="Raster map tile",
            response_class=Response,
            responses={200: {"content": {"image/png": {}, "image/webp": {}}}, 204: {}, 304: {}})
def map_tile(request: Request, city: CityDep, info: Layer, z: Z, y: Y, x: X, fmt: Literal["png", "webp"],
             style: Annotated[StyleParams, Depends()], if_none_match: IfNoneMatch = None) -> Response:
    """A 256 px RGBA tile of a raster layer; nodata is transparent; 204 outside the raster."""
    value_range = style.value_range()
    etag = etag_for("raster", info.name, info.version, info.view, z, x, y, fmt, style.colormap, value_range)
    if _not_modified(etag, if_none_match):
        return Response(status_code=304, headers={"ETag": etag})
    data = _service(request).map_tile(city, _row(info), z, x, y, fmt=fmt, colormap=style.colormap,
                                      rescale=value_range, view=info.view)
    return _tile_response(data, _MEDIA[fmt], etag)


@router.get("/collections/{layer}/terrain/{z}/{y}/{x}.png", summary="Terrain-RGB tile of a DEM",
            response_class=Response, responses={200: {"content": {"image/png": {}}}, 204: {}, 304: {}})
def terrain(request: Request, city: CityDep, info: Layer, z: Z, y: Y, x: X,
            if_none_match: IfNoneMatch = None) -> Response:
    """Mapbox terrain-RGB: height = -10000 + (R·65536 + G·256 + B)·0.1 m; nodata has alpha 0."""
    etag = etag_for("terrain", info.name, info.version, info.view, z, x, y)
    if _not_modified(etag, if_none_match):
        return Response(status_code=304, headers={"ETag": etag})
    data = _service(request).terrain_tile(city, _row(info), z, x, y, view=info.view)
    return _tile_response(data, "image/png", etag)


@router.get("/collections/{layer}/map/tiles/WebMercatorQuad", summary="TileJSON of a raster layer",
            response_model=dict[str, Any])
def map_tilejson(request: Request, city: CityDep, info: Layer,
                 f: Annotated[Literal["png", "webp"], Query(description="Tile format.")] = "png") -> dict[str, Any]:
    """TileJSON 3.0 for the layer's map tiles."""
    base = str(request.base_url).rstrip("/")
    url = f"{base}/collections/{info.name}/map/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}.{f}"
    return _service(request).tilejson(city, _row(info), tiles_url=url, view=info.view)


@router.get("/collections/{layer}/terrain", summary="TileJSON of a DEM's terrain-RGB tiles",
            response_model=dict[str, Any])
def terrain_tilejson(request: Request, city: CityDep, info: Layer) -> dict[str, Any]:
    """TileJSON 3.0 with ``encoding: mapbox`` for the DEM's terrain tiles."""
    base = str(request.base_url).rstrip("/")
    url = f"{base}/collections/{info.name}/terrain/{{z}}/{{y}}/{{x}}.png"
    return _service(request).tilejson(city, _row(info), tiles_url=url, encoding="mapbox", view=info.view)
