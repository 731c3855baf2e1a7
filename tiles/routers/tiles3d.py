"""3D Tiles 1.1: ``/3dtiles/{layer}/tileset.json`` and its glb content, generated on request.

Plans and content are cached per layer version and per view (``serving.threed.Tiles3DService``): the
first request of a tile builds it, later ones read it from disk; a new ingest makes a new version
and so new content. Responses carry an ETag (304 on a match). A layer the caller may not see is a
404, exactly like a missing one; a restricted layer seen "coarse" gets the desensitised tileset.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Request
from fastapi.responses import Response

from cim.model.catalog import LayerInfo, etag_for
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


@router.get("/3dtiles/{layer}/tileset.json", summary="3D Tiles 1.1 tileset of a layer",
            response_class=Response, responses={200: {"content": {"application/json": {}}}, 304: {}})
def tileset(request: Request, city: CityDep, info: Layer, role: Role, if_none_match: IfNoneMatch = None) -> Response:
    """The layer's tileset.json: a quadtree of glb tiles, landmarks first (additive refinement)."""
    doc = _cache(request).tileset_json(city, info.name, role=role)
    etag = etag_for("3dtiles", info.name, info.version, info.view)
    return _reply(dumps(doc), "application/json", etag, if_none_match)


@router.get("/3dtiles/{layer}/content/{key}.glb", summary="One tile's glb content",
            response_class=Response, responses={200: {"content": {GLB: {}}}, 304: {}})
def content(
    request: Request, city: CityDep, info: Layer, role: Role,
    key: Annotated[str, Path(description="Tile address level_x_y, as in tileset.json.", pattern=TILE_KEY)],
    if_none_match: IfNoneMatch = None,
) -> Response:
    """A tile of LOD1 blocks with per-feature ids and metadata (EXT_mesh_features, EXT_structural_metadata)."""
    etag = etag_for("3dtiles", info.name, info.version, info.view, key)
    if if_none_match and etag in [t.strip() for t in if_none_match.split(",")]:
        return Response(status_code=304, headers={"ETag": etag, "Cache-Control": "no-cache"})
    data = _cache(request).content(city, info.name, key, role=role)
    return _reply(data, GLB, etag, None)
