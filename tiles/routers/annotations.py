"""Annotations (批注) over HTTP: list, read, write, edit and delete notes on the map.

Reading follows the caller's role (``cim.access.may_read``: an annotation's minimum role and above);
writing needs at least the viewer role, and the author is the caller's named user (`cim users`), else its role.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Response

from cim.model.annotations import (
    add_annotation,
    annotation_history,
    delete_annotation,
    edit_annotation,
    get_annotation,
    list_annotations,
)
from cim.model.reads import parse_time
from tiles.dependencies import CityDep, Role, UserDep, lonlat_bbox, requires

router = APIRouter(tags=["Annotations"])

AnnotationId = Annotated[str, Path(max_length=64, description="The annotation's id (a-…).")]


@router.get("/api/annotations", summary="The annotations your role may read", response_model=dict[str, Any])
def annotations_list(
    city: CityDep, role: Role,
    bbox: Annotated[str | None, Query(max_length=200, description="west,south,east,north (lon/lat)")] = None,
    datetime: Annotated[str | None, Query(max_length=64, description="As of this time (ISO 8601 with zone); "
                                                                    "default now.")] = None,
    feature: Annotated[str | None, Query(max_length=256, description="Only those about this feature id.")] = None,
) -> dict[str, Any]:
    """``{"annotations": [...], "role": ...}``; each with id, version, kind (point/area), geometry
    (GeoJSON, lon/lat), text, author, role, min_role, created_at, valid_from."""
    when = parse_time(datetime) if datetime else None
    items = list_annotations(city.store, role=role, as_of=when, bbox=lonlat_bbox(bbox), feature=feature)
    return {"annotations": items, "role": role}


@router.get("/api/annotations/{annotation_id}", summary="One annotation, with its versions",
            response_model=dict[str, Any])
def annotations_get(city: CityDep, role: Role, annotation_id: AnnotationId) -> dict[str, Any]:
    """The current version, and ``versions``: every version of it, oldest first (404 when hidden)."""
    current = get_annotation(city.store, annotation_id, role=role)
    return {**current, "versions": annotation_history(city.store, annotation_id, role=role)}


@router.post("/api/annotations", summary="Write an annotation (viewer role or higher)", status_code=201,
             response_model=dict[str, Any])
def annotations_post(
    city: CityDep, response: Response,
    role: Annotated[str, Depends(requires("viewer", "writing an annotation"))], user: UserDep,
    body: Annotated[dict[str, Any], Body(examples=[{
        "text": "东侧围挡破损", "geometry": {"type": "Point", "coordinates": [120.17, 35.95]},
        "min_role": "operator"}])],
) -> dict[str, Any]:
    """Body: ``text``, ``geometry`` (GeoJSON Point or Polygon in lon/lat), optional ``min_role`` (the
    lowest role that may read it; default your role, never above it) and ``feature`` (an id)."""
    note = add_annotation(city.store, text=body.get("text"), geometry=body.get("geometry"), author=user or role,
                          role=role, min_role=body.get("min_role"), feature=body.get("feature"))
    response.headers["Location"] = f"/api/annotations/{note['id']}"
    return note


@router.patch("/api/annotations/{annotation_id}", summary="Edit an annotation (its next version)",
              response_model=dict[str, Any])
def annotations_patch(
    city: CityDep, annotation_id: AnnotationId,
    role: Annotated[str, Depends(requires("viewer", "editing an annotation"))], user: UserDep,
    body: Annotated[dict[str, Any], Body()],
) -> dict[str, Any]:
    """Body: any of ``text``, ``geometry``, ``min_role``. The writer's role or a higher one may edit."""
    return edit_annotation(city.store, annotation_id, role=role, by=user or role, text=body.get("text"),
                           geometry=body.get("geometry"), min_role=body.get("min_role"))


@router.delete("/api/annotations/{annotation_id}", summary="Delete an annotation (its versions stay)",
               status_code=204)
def annotations_delete(
    city: CityDep, annotation_id: AnnotationId,
    role: Annotated[str, Depends(requires("viewer", "deleting an annotation"))], user: UserDep,
) -> Response:
    """Closes the annotation; ``?datetime=`` before now still reads it. The writer's role or a higher one may."""
    delete_annotation(city.store, annotation_id, role=role, by=user or role)
    return Response(status_code=204)
