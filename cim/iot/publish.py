"""Publish observations to MQTT at QoS 1 from a single-threaded client loop with a bounded number
of unacknowledged messages (paho's background thread can stall a QoS 1 publisher under load).

Used by ``cim demo --live``, the benchmarks and the tests; any MQTT client that follows the
topic layout in ``cim.iot.mqtt_payload`` works as well.
"""

from __future__ import annotations

import json
import time
from typing import Any

from cim.errors import CIMError
from cim.iot.mqtt import parse_broker
from cim.iot.mqtt_auth import MqttAuth


class Publisher:
    """A QoS 1 publisher; ``publish`` blocks while ``max_inflight`` messages await their PUBACK.

    Example:
        >>> with Publisher("127.0.0.1:1883") as pub:                       # doctest: +SKIP
        ...     pub.observation("cim/demo", "ws.dust.1", "2026-05-01T08:00:00+08:00", 41.5)
    """

    def __init__(self, broker: str, *, client_id: str = "", max_inflight: int = 1000, qos: int = 1,
                 auth: MqttAuth | None = None) -> None:
        import paho.mqtt.client as mqtt

        self.host, self.port = parse_broker(broker)
        self.qos, self.max_inflight = qos, max_inflight
        self.sent = self.acked = 0
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                   protocol=mqtt.MQTTv311)
        (auth or MqttAuth()).apply(self._client)
        self._client.max_inflight_messages_set(max_inflight)
        self._client.on_publish = self._on_publish
        try:
            self._client.connect(self.host, self.port, keepalive=30)
        except OSError as exc:
            raise CIMError(f"cannot reach the MQTT broker at {broker}: {exc}") from exc
        deadline = time.monotonic() + 5
        while not self._client.is_connected() and time.monotonic() < deadline:
            self._client.loop(0.05)
        if not self._client.is_connected():
            raise CIMError(f"the MQTT broker at {broker} did not accept the connection")

    def _on_publish(self, *_args: Any) -> None:
        self.acked += 1

    def publish(self, topic: str, payload: bytes | str) -> None:
        """Send one message; waits while too many are unacknowledged."""
        while self.sent - self.acked >= self.max_inflight:
            if self._client.loop(0.05):
                self._reconnect()
        info = self._client.publish(topic, payload, qos=self.qos)
        if info.rc:
            self._reconnect()
            info = self._client.publish(topic, payload, qos=self.qos)
        self.sent += 1
        self._client.loop(0)

    def observation(self, prefix: str, datastream: str | int, time_: Any, value: float) -> None:
        """``{"t", "v"}`` on ``<prefix>/obs/<datastream>``."""
        self.publish(f"{prefix}/obs/{datastream}", json.dumps({"t": time_, "v": value}))

    def batch(self, prefix: str, rows: list[list[Any]]) -> None:
        """``[[datastream, time, value], …]`` on ``<prefix>/batch``."""
        self.publish(f"{prefix}/batch", json.dumps(rows))

    def flush(self, timeout: float = 60.0) -> bool:
        """Wait until every message sent has been acknowledged by the broker; True when so."""
        deadline = time.monotonic() + timeout
        while self.acked < self.sent and time.monotonic() < deadline:
            if self._client.loop(0.05):
                self._reconnect()
        return self.acked >= self.sent

    def _reconnect(self) -> None:
        time.sleep(0.2)
        try:
            self._client.reconnect()
        except OSError:
            pass

    def close(self) -> None:
        """Flush and disconnect."""
        self.flush()
        self._client.disconnect()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
