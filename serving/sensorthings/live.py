"""Live sensor events of one city for a server: the event bus, and the MQTT listener or a stale sweep.

Why: the viewer's live stream and SensorThings posts share one bus of observation and alert
events. While the server runs, something must also notice what changes without a request: the
MQTT listener (``mqtt`` given: a DuckDB city has one writing process, so while the server runs the
listener runs inside it) stores messages and publishes their events; without it, a sweep opens
alerts for sensors gone silent every 30 s.

Example:
    >>> live = SensorEventService(city, mqtt="127.0.0.1:1883").open()   # doctest: +SKIP
    >>> live.publish_report(report)                                      # doctest: +SKIP
    >>> live.close()                                                     # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from cim.iot import check_stale, list_alerts
from cim.iot.events import EventBus, events_for, jsonable
from cim.iot.mqtt import MqttListener

if TYPE_CHECKING:
    from cim.city import City
    from cim.iot.mqtt import MqttListener

__all__ = ["SensorEventService"]

log = logging.getLogger("serving.sensorthings")

#: seconds between two sweeps for silent sensors (when no listener runs)
STALE_SWEEP_S = 30.0


class SensorEventService:
    """The event bus of a city's sensors, with the in-process listener or the stale sweep."""

    def __init__(self, city: City, *, mqtt: str | None = None, auth: Any = None,
                 sweep_s: float = STALE_SWEEP_S) -> None:
        self.city = city
        self.mqtt = mqtt
        self.auth = auth  # cim.iot.mqtt_auth.MqttAuth: credentials and TLS for the broker
        self.sweep_s = sweep_s
        self.bus = EventBus()
        self.listener: MqttListener | None = None
        self._stop = threading.Event()
        self._sweep: threading.Thread | None = None

    def open(self) -> SensorEventService:
        """Start the MQTT listener (``mqtt`` given) or the stale-sensor sweep."""
        if self.mqtt:

            self.listener = MqttListener(self.city, self.mqtt, on_event=self.bus.publish, auth=self.auth).start()
        else:
            self._sweep = threading.Thread(target=self._run_sweep, name="iot-stale-sweep", daemon=True)
            self._sweep.start()
        return self

    def close(self) -> None:
        """Stop the listener (it acknowledges what it stored) or the sweep."""
        if self.listener is not None:
            self.listener.stop()
            self.listener = None
        self._stop.set()
        if self._sweep is not None:
            self._sweep.join(5)
            self._sweep = None

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        """Send one event to every live subscriber."""
        self.bus.publish(kind, data)

    def publish_report(self, report: Any) -> None:
        """Send the events a written observation batch causes (new values, opened alerts)."""
        for kind, data in events_for(self.city, report):
            self.bus.publish(kind, data)

    def _run_sweep(self) -> None:
        while not self._stop.wait(self.sweep_s):
            try:
                for alert in list_alerts(self.city, ids=check_stale(self.city)):
                    self.bus.publish("alert", jsonable(alert))
            except Exception:
                log.exception("stale-sensor sweep failed")
