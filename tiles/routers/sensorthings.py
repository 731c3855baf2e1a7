"""OGC SensorThings API 1.1 (subset) at ``/sta/v1.1``: Things, Locations, Sensors, ObservedProperties,
Datastreams, Observations with query options and navigation; posting observations (single, arrays,
DataArray ``CreateObservations``) needs an API key with the operator role or above.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from serving.sensorthings.entities import NAVIGATION, SETS, read, service_root
from serving.sensorthings.write import create_observations
from tiles.dependencies import CityDep, Role, requires
from tiles.routers.iot import publish_batch

PREFIX = "/sta/v1.1"
router = APIRouter(prefix=PREFIX, tags=["SensorThings API 1.1"])

Top = Annotated[int | None, Query(alias="$top", ge=0, le=10_000, description="Page size (default 100).")]
Skip = Annotated[int | None, Query(alias="$skip", ge=0, le=10_000_000, description="Entities to skip.")]
Count = Annotated[bool | None, Query(alias="$count", description="Add @iot.count (the total).")]
OrderBy = Annotated[str | None, Query(alias="$orderby", max_length=200,
                                      description="e.g. phenomenonTime desc")]
Filter = Annotated[str | None, Query(alias="$filter", max_length=500,
                                     description="Comparisons joined by and, e.g. "
                                                 "phenomenonTime ge 2026-05-01T00:00:00Z")]
Id = Annotated[str, Path(max_length=40, pattern=r"^'?[0-9]+(-[0-9]+)?'?$",
                         description="Entity id (Observations: '<datastream>-<µs since 1970>').")]
Writer = Annotated[str, Depends(requires("operator", "posting observations"))]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + PREFIX


def _query(request: Request) -> dict[str, str]:
    return {k: v for k, v in request.query_params.items() if k.startswith("$")}


@router.get("", summary="Service root: the entity sets", response_model=dict[str, Any])
def root(request: Request) -> dict[str, Any]:
    """Entity sets and the conformance classes this subset implements."""
    return service_root(_base(request))


def _collection_route(entity_set: str) -> None:
    def collection(request: Request, city: CityDep, role: Role, top: Top = None, skip: Skip = None,
                   count: Count = None, orderby: OrderBy = None, filter_: Filter = None) -> dict[str, Any]:
        return read(city, entity_set, query=_query(request), base_url=_base(request), role=role)

    collection.__doc__ = f"{entity_set}, paged with $top/$skip and @iot.nextLink."
    router.add_api_route(f"/{entity_set}", collection, methods=["GET"], summary=f"List {entity_set}",
                         response_model=dict[str, Any], name=f"sta_{entity_set}")


def _entity_route(entity_set: str) -> None:
    def entity(request: Request, city: CityDep, role: Role, entity_id: Id) -> dict[str, Any]:
        return read(city, entity_set, entity_id=entity_id, base_url=_base(request), role=role)

    entity.__doc__ = f"One of the {entity_set} by id."
    router.add_api_route(f"/{entity_set}({{entity_id}})", entity, methods=["GET"], summary=f"One of {entity_set}",
                         response_model=dict[str, Any], name=f"sta_{entity_set}_one")


def _navigation_route(entity_set: str, navigation: str) -> None:
    def navigate(request: Request, city: CityDep, role: Role, entity_id: Id, top: Top = None, skip: Skip = None,
                 count: Count = None, orderby: OrderBy = None, filter_: Filter = None) -> dict[str, Any]:
        return read(city, entity_set, entity_id=entity_id, navigation=navigation, query=_query(request),
                    base_url=_base(request), role=role)

    navigate.__doc__ = f"The {navigation} of one of the {entity_set}."
    router.add_api_route(f"/{entity_set}({{entity_id}})/{navigation}", navigate, methods=["GET"],
                         summary=f"{entity_set} → {navigation}", response_model=dict[str, Any],
                         name=f"sta_{entity_set}_{navigation}")


for _set in SETS:
    _collection_route(_set)
    _entity_route(_set)
for _set, _nav in NAVIGATION:
    _navigation_route(_set, _nav)


_OBS_BODY = Body(description="An Observation {phenomenonTime, result, Datastream: {@iot.id}} or an array of them",
                 examples=[{"phenomenonTime": "2026-05-01T08:00:00+08:00", "result": 41.5,
                            "Datastream": {"@iot.id": 1}}])


def _created(request: Request, report: Any, outcomes: list[str], single: bool) -> JSONResponse:
    publish_batch(request, report)
    base = _base(request)
    links = [o if o.startswith("error") else f"{base}/Observations('{o}')" for o in outcomes]
    if single:
        if links[0].startswith("error"):
            return JSONResponse({"type": "about:blank", "title": "Bad Request", "status": 400,
                                 "detail": links[0][len("error: "):]}, status_code=400,
                                media_type="application/problem+json")
        return JSONResponse({"@iot.selfLink": links[0]}, status_code=201, headers={"Location": links[0]})
    return JSONResponse(links, status_code=201)


@router.post("/Observations", summary="Post observations (operator and above)", status_code=201,
             response_model=Any)
def post_observations(request: Request, city: CityDep, role: Writer,
                      body: Annotated[Any, _OBS_BODY]) -> JSONResponse:
    """One Observation (answer: its selfLink) or an array (answer: a selfLink or "error: why" for each)."""
    report, outcomes = create_observations(city, body, actor=role)
    return _created(request, report, outcomes, single=not isinstance(body, list))


@router.post("/Datastreams({entity_id})/Observations", summary="Post observations to one datastream",
             status_code=201, response_model=Any)
def post_datastream_observations(request: Request, city: CityDep, role: Writer, entity_id: Id,
                                 body: Annotated[Any, _OBS_BODY]) -> JSONResponse:
    """Observations that name no Datastream go to this one."""
    read(city, "Datastreams", entity_id=entity_id, base_url=_base(request), role=role)
    report, outcomes = create_observations(city, body, datastream=int(entity_id.strip("'")), actor=role)
    return _created(request, report, outcomes, single=not isinstance(body, list))


@router.post("/CreateObservations", summary="Post observations in the DataArray form", status_code=201,
             response_model=list[str])
def post_data_array(request: Request, city: CityDep, role: Writer,
                    body: Annotated[list[dict[str, Any]], Body(examples=[[{
                        "Datastream": {"@iot.id": 1}, "components": ["phenomenonTime", "result"],
                        "dataArray": [["2026-05-01T08:00:00Z", 41.5], ["2026-05-01T08:05:00Z", 43.0]]}]])],
                    ) -> JSONResponse:
    """SensorThings 1.1 DataArray extension: one selfLink or "error: why" per row, in order."""
    report, outcomes = create_observations(city, body, actor=role)
    return _created(request, report, outcomes, single=False)
