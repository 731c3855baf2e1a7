"""The viewer's IoT endpoints: latest values, series, alerts (list, acknowledge, close) and the live
Server-Sent Events stream of the app's ``serving.sensorthings.live.SensorEventService``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse

from cim.errors import QueryError
from cim.iot import acknowledge_alert, close_alert, data_period, get_alert, latest, list_alerts, series
from cim.iot.errors import EntityNotFound
from cim.iot.events import EventBus, jsonable
from cim.iot.series import last_time_before
from tiles.dependencies import CityDep, Role, lonlat_bbox, query_time, requires

router = APIRouter(tags=["IoT"])

#: a series without a bucket is downsampled to about this many points
SERIES_POINTS = 2_000
_NICE_BUCKETS = (60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 86400, 7 * 86400)


def publish_batch(request: Request, report: Any) -> None:
    """Send the events a written batch causes to the live stream (used by POST endpoints)."""
    request.app.state.sensor_events.publish_report(report)


_LATEST_KEYS = ("datastream_id", "thing_id", "feature_id", "name", "property", "unit", "value", "time", "status",
                "lon", "lat", "key", "thing", "feature_class")


At = Annotated[datetime | None, Query(description="As of this time (ISO 8601 with zone): values, statuses and "
                                                   "alerts current then; default now.")]


def _aware(name: str, when: datetime | None) -> datetime | None:
    return query_time(name, when)


@router.get("/api/sensors/latest", summary="Newest value and status of every sensor you may see",
            response_model=list[dict[str, Any]])
def sensors_latest(city: CityDep, role: Role,
                   bbox: Annotated[str | None, Query(max_length=200, description="west,south,east,north (lon/lat); "
                                                     "tested against the position you may see")] = None,
                   at: At = None) -> list[dict[str, Any]]:
    """One row per datastream: value, time, status (ok, warn, alarm, stale) and position (lon/lat)."""
    table = latest(city, bbox=lonlat_bbox(bbox), bbox_crs="EPSG:4326" if bbox else None, role=role,
                   at=_aware("at", at))
    return [jsonable({k: r[k] for k in _LATEST_KEYS}) for r in table.to_pylist()]


@router.get("/api/sensors/period", summary="The period your sensors' data covers, and the city's time zone",
            response_model=dict[str, Any])
def sensors_period(city: CityDep, role: Role) -> dict[str, Any]:
    """``first`` and ``last`` observation, ``live`` (last within a day of now), ``timezone``, ``now``."""
    return jsonable(data_period(city, role=role))


@router.get("/api/sensors/{datastream_id}/series", summary="A sensor's values over time",
            response_model=dict[str, Any])
def sensor_series(
    city: CityDep, role: Role,
    datastream_id: Annotated[int, Path(ge=1, le=2**31 - 1, description="Datastream id.")],
    start: Annotated[datetime | None, Query(description="From (ISO 8601 with zone); default: the 24 h up to the "
                                                        "last reading before end.")] = None,
    end: Annotated[datetime | None, Query(description="Until (ISO 8601 with zone); default just after the "
                                                      "newest value.")] = None,
    bucket: Annotated[str | None, Query(max_length=20, description="Downsample: 30s, 5m, 1h, 1d, PT15M (days "
                                                                   "start at local midnight in the city's time "
                                                                   "zone); default chosen for about 2000 points.")]
    = None,
) -> dict[str, Any]:
    """``{"times", "values"}`` (and ``min``, ``max``, ``count`` per bucket when downsampled)."""
    row = latest(city, datastreams=[datastream_id], role=role).to_pylist()
    if not row:
        raise EntityNotFound(f"no sensor datastream {datastream_id}")
    start, end = _aware("start", start), _aware("end", end)
    end = end or (row[0]["time"] + timedelta(microseconds=1) if row[0]["time"] else datetime.now(UTC))
    if start is None:  # the last readings before end, even when the 24 h before end are empty
        last = last_time_before(city, datastream_id, end)
        start = (last + timedelta(microseconds=1) if last else end) - timedelta(hours=24)
    if start >= end:
        raise QueryError("start must be before end")
    bucket = bucket or _auto_bucket(start, end)
    table = series(city, datastream_id, start=start, end=end, bucket=bucket, role=role)
    out: dict[str, Any] = {"datastream_id": datastream_id, "unit": row[0]["unit"], "bucket": bucket,
                           "times": [t.isoformat() for t in table.column("time").to_pylist()],
                           "values": table.column("value").to_pylist()}
    for extra in ("min", "max", "count"):
        if extra in table.column_names:
            out[extra] = table.column(extra).to_pylist()
    return out


def _auto_bucket(start: datetime, end: datetime) -> str | None:
    seconds = (end - start).total_seconds() / SERIES_POINTS
    if seconds <= 30:
        return None
    return f"{next((b for b in _NICE_BUCKETS if b >= seconds), int(seconds))}s"


@router.get("/api/alerts", summary="Alerts of the sensors you may see, newest first",
            response_model=list[dict[str, Any]])
def alerts(city: CityDep, role: Role,
           state: Annotated[Literal["open", "acknowledged", "closed"] | None,
                            Query(description="open = not closed yet")] = None,
           level: Annotated[Literal["warn", "alarm"] | None, Query()] = None,
           current: Annotated[bool | None, Query(description="Only alerts current at `at` (default now): raised "
                                                             "by then and not ended by then.")] = None,
           at: Annotated[datetime | None, Query(description="Alerts current at this time (ISO 8601 with zone).")]
           = None,
           limit: Annotated[int, Query(ge=1, le=10_000)] = 500) -> list[dict[str, Any]]:
    """Each alert with rule, level, state, datastream, feature, message, times and position."""
    return [jsonable(a) for a in list_alerts(city, state=state, level=level, limit=limit, role=role,
                                             at=_aware("at", at), current=current)]


def _who(role: str, body: dict[str, Any] | None) -> tuple[str, str | None]:
    body = body or {}
    name = str(body.get("by") or "").strip()[:80]
    note = body.get("note")
    return (f"{name} ({role})" if name else role), (str(note)[:500] if note is not None else None)


_ACTION_BODY = Body(description='Optional {"by": "<who>", "note": "<text>"}',
                    examples=[{"by": "wang", "note": "crew sent"}])


@router.post("/api/alerts/{alert_id}/acknowledge", summary="Acknowledge an alert (operator and above)",
             response_model=dict[str, Any])
def acknowledge(request: Request, city: CityDep,
                role: Annotated[str, Depends(requires("operator", "acknowledging alerts"))],
                alert_id: Annotated[int, Path(ge=1, le=2**62)],
                body: Annotated[dict[str, Any] | None, _ACTION_BODY] = None) -> dict[str, Any]:
    """Records who and when; an alert whose condition has cleared is closed by it."""
    get_alert(city, alert_id, role=role)  # 404 for alerts the role may not see
    by, note = _who(role, body)
    alert = jsonable(acknowledge_alert(city, alert_id, by=by, note=note))
    _publish_alert(request, alert)
    return alert


@router.post("/api/alerts/{alert_id}/close", summary="Close an alert by hand (operator and above)",
             response_model=dict[str, Any])
def close(request: Request, city: CityDep,
          role: Annotated[str, Depends(requires("operator", "closing alerts"))],
          alert_id: Annotated[int, Path(ge=1, le=2**62)],
          body: Annotated[dict[str, Any] | None, _ACTION_BODY] = None) -> dict[str, Any]:
    """Records who and when."""
    get_alert(city, alert_id, role=role)
    by, note = _who(role, body)
    alert = jsonable(close_alert(city, alert_id, by=by, note=note))
    _publish_alert(request, alert)
    return alert


def _publish_alert(request: Request, alert: dict[str, Any]) -> None:
    request.app.state.sensor_events.publish("alert", alert)


@router.get("/api/events", summary="Live events (Server-Sent Events)",
            response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}},
                             "description": "`event: observation` and `event: alert` messages"}})
async def events(request: Request, city: CityDep, role: Role) -> StreamingResponse:
    """``event: observation`` ``{datastream_id, value, time, status}`` and ``event: alert`` ``{…}``."""
    bus: EventBus = request.app.state.sensor_events.bus
    queue = bus.subscribe(asyncio.get_running_loop())
    visible = await asyncio.to_thread(_visible_datastreams, city, role)
    return StreamingResponse(_stream(request, city, role, bus, queue, visible), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _stream(request: Request, city: Any, role: str, bus: EventBus, queue: asyncio.Queue,
                  visible: set[int] | None) -> AsyncIterator[str]:
    try:
        yield "retry: 3000\n: connected\n\n"
        while True:
            try:
                kind, data = await asyncio.wait_for(queue.get(), timeout=15)
            except TimeoutError:
                if await request.is_disconnected():
                    return
                yield ": keep-alive\n\n"
                continue
            if visible is not None and data.get("datastream_id") not in visible:
                visible = await asyncio.to_thread(_visible_datastreams, city, role)  # maybe a new sensor
                if data.get("datastream_id") not in visible:
                    continue
            if kind == "alert" and visible is not None:  # positions as this role may see them
                rows = await asyncio.to_thread(list_alerts, city, ids=[data["id"]], role=role)
                data = jsonable(rows[0]) if rows else data
            yield f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"
    finally:
        bus.unsubscribe(queue)


def _visible_datastreams(city: Any, role: str) -> set[int] | None:
    """Datastream ids the role may see (None: all)."""
    from cim.iot.visibility import visible_datastreams

    return visible_datastreams(city, role)
