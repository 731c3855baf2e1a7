"""3D Tiles 1.1: ``/3dtiles/{layer}/tileset.json`` and its glb content, generated on request.

Plans and content are cached per layer version and per view (``serving.threed.Tiles3DService``): the
first request of a tile builds it, later ones read it from disk; a new ingest makes a new version
and so new content. Responses carry an ETag (304 on a match). A layer the caller may not see is a
404, exactly like a missing one; a restricted layer seen "coarse" gets the desensitised tileset.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import Response

from cim.model.catalog import LayerInfo, etag_for
from cim.model.diff import layer_at
from serving.threed import Tiles3DService
from serving.threed.service import dumps
from tiles.dependencies import CityDep, Layer, Role

router = APIRouter(tags=["3D Tiles"])

GLB = "model/gltf-binary"
TILE_KEY = r"^[0-9]{1,2}_[0-9]{1,7}_[0-9]{1,7}$"
_HEIGHT_FIELDS = {"height", "z_max", "building_height", "高度"}


def layer_links(info: LayerInfo) -> dict[str, Any]:
    """``tileset3d`` for layers with 3D content (polygons with heights, BIM, CityJSON)."""
    if info.kind in ("bim", "cityjson") or (info.geometry_type == "polygon" and info.field_names & _HEIGHT_FIELDS):
        return {"tileset3d": f"/3dtiles/{info.name}/tileset.json"}
    return {}


def _cache(request: Request) -> Tiles3DService:
    return request.app.state.tiles3d


def _reply(body: bytes, media_type: str, etag: str, if_none_match: str | None) -> Response:
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if if_none_match and etag in [t.strip() for t in if_none_match.split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


IfNoneMatch = Annotated[str | None, Header(description="An ETag from an earlier response (304 if unchanged).")]
DateTime = Annotated[str | None, Query(max_length=64, description=(
    "The layer as it was: a version number or an ISO 8601 time with zone (the version valid then; "
    "docs/compare.md). Default: the current version."))]


def _as_of(city: CityDep, info: LayerInfo, when: str | None) -> LayerInfo:
    """``info`` at ``when`` (itself without one)."""
    return info if when is None else layer_at(city, info, when)


def _pin_contents(tile: dict[str, Any], version: int) -> None:
    """Content URIs of a past tileset ask for the same version (``?datetime=N``)."""
    if "content" in tile:
        tile["content"] = {**tile["content"], "uri": f"{tile['content']['uri']}?datetime={version}"}
    for child in tile.get("children", ()):
        _pin_contents(child, version)


@router.get("/3dtiles/{layer}/tileset.json", summary="3D Tiles 1.1 tileset of a layer",
            response_class=Response, responses={200: {"content": {"application/json": {}}}, 304: {}})
def tileset(request: Request, city: CityDep, info: Layer, role: Role, if_none_match: IfNoneMatch = None,
            datetime: DateTime = None) -> Response:
    """The layer's tileset.json: a quadtree of glb tiles, landmarks first (additive refinement);
    with ``datetime``, the tileset of the version valid then (its content URIs pinned to it)."""
    past = _as_of(city, info, datetime)
    doc = _cache(request).tileset_json(city, info.name, role=role, version=None if datetime is None else past.version)
    if past.version != info.version:
        doc = {**doc, "root": dict(doc["root"])}
        _pin_contents(doc["root"], past.version)
    etag = etag_for("3dtiles", info.name, past.version, info.view)
    return _reply(dumps(doc), "application/json", etag, if_none_match)


@router.get("/3dtiles/{layer}/content/{key}.glb", summary="One tile's glb content",
            response_class=Response, responses={200: {"content": {GLB: {}}}, 304: {}})
def content(
    request: Request, city: CityDep, info: Layer, role: Role,
    key: Annotated[str, Path(description="Tile address level_x_y, as in tileset.json.", pattern=TILE_KEY)],
    if_none_match: IfNoneMatch = None, datetime: DateTime = None,
) -> Response:
    """A tile of LOD1 blocks with per-feature ids and metadata (EXT_mesh_features, EXT_structural_metadata)."""
    past = _as_of(city, info, datetime)
    etag = etag_for("3dtiles", info.name, past.version, info.view, key)
    if if_none_match and etag in [t.strip() for t in if_none_match.split(",")]:
        return Response(status_code=304, headers={"ETag": etag, "Cache-Control": "no-cache"})
    data = _cache(request).content(city, info.name, key, role=role, version=None if datetime is None else past.version)
    return _reply(data, GLB, etag, None)
