"""Live events: what changed in a batch (new latest values, alerts opened or cleared) and a small
thread-safe bus that hands them to subscribers (the server's Server-Sent Events stream).

Events are plain JSON-ready dicts:

``observation``  ``{"datastream_id", "value", "time", "status"}``
``alert``        the alert as ``list_alerts`` gives it (times as ISO 8601 text)
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cim.iot.alerts import list_alerts
from cim.iot.queries import latest

if TYPE_CHECKING:
    from cim.city import City
    from cim.iot.report import ObservationReport

#: at most this many observation events per batch (a bulk load does not flood the viewers)
MAX_OBSERVATION_EVENTS = 5_000


def jsonable(row: dict[str, Any]) -> dict[str, Any]:
    """Times as ISO 8601 text; everything else as it is."""
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}


def events_for(city: City, report: ObservationReport) -> Iterator[tuple[str, dict[str, Any]]]:
    """The events a written batch causes: one per datastream whose latest value moved, one per
    alert opened or cleared."""

    updated = report.updated[:MAX_OBSERVATION_EVENTS]
    if updated:
        for row in latest(city, datastreams=updated).to_pylist():
            yield "observation", jsonable({"datastream_id": row["datastream_id"], "value": row["value"],
                                           "time": row["time"], "status": row["status"]})
    changed = sorted(set(report.alerts_opened) | set(report.alerts_cleared))
    if changed:
        for alert in list_alerts(city, ids=changed):
            yield "alert", jsonable(alert)


class EventBus:
    """Fan-out of events from any thread to asyncio subscribers; slow subscribers lose the oldest.

    Example:
        >>> bus = EventBus()
        >>> queue = bus.subscribe(asyncio.get_event_loop())   # doctest: +SKIP
        >>> bus.publish("alert", {"id": 1})                    # doctest: +SKIP
    """

    def __init__(self, maxsize: int = 10_000) -> None:
        self.maxsize = maxsize
        self._lock = threading.Lock()
        self._subscribers: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue]] = []
        self.published = 0

    def subscribe(self, loop: asyncio.AbstractEventLoop) -> asyncio.Queue:
        """A queue on ``loop`` that receives ``(kind, data)`` for every event from now on."""
        queue: asyncio.Queue = asyncio.Queue(self.maxsize)
        with self._lock:
            self._subscribers.append((loop, queue))
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        """Stop delivering to ``queue``."""
        with self._lock:
            self._subscribers = [(lp, q) for lp, q in self._subscribers if q is not queue]

    @property
    def subscribers(self) -> int:
        """How many subscribers there are."""
        with self._lock:
            return len(self._subscribers)

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        """Deliver an event to every subscriber (callable from any thread)."""
        self.published += 1
        with self._lock:
            targets = list(self._subscribers)
        for loop, queue in targets:
            try:
                loop.call_soon_threadsafe(_put, queue, (kind, data))
            except RuntimeError:  # the subscriber's loop has closed
                self.unsubscribe(queue)


def _put(queue: asyncio.Queue, item: tuple[str, dict[str, Any]]) -> None:
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(item)
