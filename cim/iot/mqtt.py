"""The MQTT listener: subscribes to a broker at QoS 1 and writes what arrives, losing nothing.

* A persistent session (fixed client id, ``clean_start=False``, session kept by the broker) so
  the broker queues messages while the listener is down.
* Manual acknowledgements: a message is acknowledged only after the transaction holding its rows
  has committed. A listener killed at any point loses nothing: unacknowledged messages come again,
  and rows already committed are recognised as duplicates (ingest is idempotent).
* Batching: messages gather for ``flush_interval`` seconds or ``batch_size`` messages, then go in
  one transaction. MQTT 5 ``Receive Maximum`` lets the broker keep that many unacknowledged
  messages in flight.
* Reconnects with back-off after the broker goes away; a bad payload is counted, logged and
  reported, never fatal.
* Credentials and TLS (``MqttAuth``) for brokers that refuse anonymous clients; observation times
  outside the city's plausibility window (or the listener's own ``window``) are refused per row.

Embeddable: ``MqttListener(city, "127.0.0.1:1883").start()`` runs it in a thread (the server
does this, since a DuckDB file has one writing process); ``run()`` blocks (``cim iot listen``).
"""

from __future__ import annotations

import logging
import select
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cim.errors import CIMError, ValidationError
from cim.iot.alerts import check_stale, list_alerts
from cim.iot.events import events_for
from cim.iot.lookup import load_datastreams
from cim.iot.mqtt_auth import MqttAuth
from cim.iot.mqtt_payload import Message, parse_messages
from cim.iot.write import write_observations

if TYPE_CHECKING:
    from cim.city import City
    from cim.iot.settings import TimeWindow

log = logging.getLogger("cim.iot.mqtt")

#: ``on_event(kind, data)``: kind is "observation" or "alert"
EventSink = Callable[[str, dict[str, Any]], None]

SESSION_EXPIRY = 0xFFFFFFFF  # the broker keeps the session (and its queue) for ever


@dataclass
class ListenerStats:
    """Counters since the listener started."""

    messages: int = 0
    observations: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    malformed: int = 0
    batches: int = 0
    connects: int = 0
    disconnects: int = 0
    last_error: str | None = None
    reasons: dict[str, int] = field(default_factory=dict)


def parse_broker(broker: str) -> tuple[str, int]:
    """``host:port`` (port 1883 when omitted) as a tuple."""
    host, _, port = str(broker).rpartition(":") if ":" in str(broker) else (broker, "", "1883")
    try:
        number = int(port)
    except ValueError as exc:
        raise ValidationError(f"bad broker {broker!r}: use host:port, e.g. 127.0.0.1:1883") from exc
    if not host or not 0 < number < 65536:
        raise ValidationError(f"bad broker {broker!r}: use host:port, e.g. 127.0.0.1:1883")
    return host, number


def _readable(sock: Any, want_write: bool, timeout: float) -> bool:
    """Wait for the socket; True when there is something to read. A TLS socket may hold decrypted
    bytes that select() cannot see: those count as readable at once."""
    pending = getattr(sock, "pending", None)
    if pending is not None and pending():
        return True
    readable, _, _ = select.select([sock], [sock] if want_write else [], [], timeout)
    return bool(readable)


def topic_prefix(city: City) -> str:
    """The default topic prefix of a city: ``cim/<city name>``."""
    name = city.meta("name") or "city"
    return "cim/" + "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)


class MqttListener:
    """Subscribe to ``<prefix>/obs/+`` and ``<prefix>/batch`` and write observations into ``city``.

    Example:
        >>> listener = MqttListener(city, "127.0.0.1:1883")  # doctest: +SKIP
        >>> listener.start(); ...; listener.stop()            # doctest: +SKIP
    """

    def __init__(self, city: City, broker: str = "127.0.0.1:1883", *, prefix: str | None = None,
                 client_id: str | None = None, batch_size: int = 20_000, flush_interval: float = 0.25,
                 on_event: EventSink | None = None, stale_every: float = 30.0,
                 receive_maximum: int = 65_535, exit_when_idle: float | None = None,
                 auth: MqttAuth | None = None, window: TimeWindow | None = None) -> None:
        self.city = city
        self.host, self.port = parse_broker(broker)
        self.auth = (auth or MqttAuth()).check()
        self.window = window
        self.prefix = (prefix or topic_prefix(city)).rstrip("/")
        self.client_id = client_id or ("cim-listener-" + self.prefix.replace("/", "-"))
        self.batch_size, self.flush_interval = batch_size, flush_interval
        self.on_event, self.stale_every, self.receive_maximum = on_event, stale_every, receive_maximum
        self.exit_when_idle = exit_when_idle
        self.stats = ListenerStats()
        self._last_message = time.monotonic()
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._buffer: list[tuple[int, Message]] = []
        self._first_at = 0.0
        self._streams = load_datastreams(city)
        self._streams_at = time.monotonic()
        self._client = self._make_client()

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> MqttListener:
        """Run in a background thread; returns at once."""
        if self._thread and self._thread.is_alive():
            return self
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="cim-mqtt-listener", daemon=True)
        self._thread.start()
        return self

    def request_stop(self) -> None:
        """Ask ``run`` to finish (safe from a signal handler); it writes and acknowledges first."""
        self._stop.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Write and acknowledge what is buffered, then disconnect (the session stays on the broker)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run(self) -> None:
        """Listen until ``stop()``; reconnects after a lost connection."""
        backoff, last_stale = 0.2, time.monotonic()
        while not self._stop.is_set():
            if not self._connect():
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.2
            last_stale = self._serve(last_stale)
        self._flush(ack=self.connected.is_set())
        self._disconnect()

    # -- the loop ----------------------------------------------------------------------------
    def _serve(self, last_stale: float) -> float:
        client = self._client
        while not self._stop.is_set():
            sock = client.socket()
            if sock is None:
                break
            wait = self.flush_interval if not self._buffer else max(
                0.0, self._first_at + self.flush_interval - time.monotonic())
            rc = self._read_available() if _readable(sock, client.want_write(), wait) else 0
            rc = rc or client.loop_write() or client.loop_misc()
            if rc:
                self._lost(f"connection lost ({rc})")
                break
            if self._buffer and (len(self._buffer) >= self.batch_size
                                 or time.monotonic() - self._first_at >= self.flush_interval):
                self._flush(ack=True)
            if (self.exit_when_idle is not None and not self._buffer
                    and time.monotonic() - self._last_message >= self.exit_when_idle):
                log.info("no messages for %.1f s: stopping", self.exit_when_idle)
                self._stop.set()
            if self.stale_every and time.monotonic() - last_stale >= self.stale_every:
                last_stale = time.monotonic()
                self._check_stale()
        return last_stale

    def _read_available(self) -> int:
        client = self._client
        for _ in range(10_000):
            before = self.stats.messages
            rc = client.loop_read()
            if rc or self.stats.messages == before or len(self._buffer) >= self.batch_size:
                return int(rc)
        return 0

    def _on_message(self, _client: Any, _userdata: Any, msg: Any) -> None:
        self.stats.messages += 1
        self._last_message = time.monotonic()
        if not self._buffer:
            self._first_at = time.monotonic()
        self._buffer.append((msg.mid if msg.qos else 0, Message(msg.topic, msg.payload, self.stats.messages)))

    def _flush(self, *, ack: bool) -> None:
        """Write the buffer in one transaction; only then acknowledge its messages."""
        if not self._buffer:
            return
        buffer, self._buffer = self._buffer, []
        try:
            report = self._write([m for _, m in buffer])
        except Exception as exc:
            self.stats.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("could not store %d messages, they stay unacknowledged", len(buffer))
            self._buffer = buffer + self._buffer
            self._stop.wait(1.0)
            return
        if ack:
            for mid, _ in buffer:
                if mid:
                    self._client.ack(mid, 1)
        self._publish_events(report)

    def _write(self, messages: list[Message]) -> Any:

        parsed = parse_messages(self.city, messages, self.prefix, self._refresh_streams(messages))
        scheme = "mqtts" if self.auth.uses_tls else "mqtt"
        report = write_observations(self.city, parsed.batch, source=f"{scheme}://{self.host}:{self.port}",
                                    kind="mqtt", where=parsed.where, rejected=parsed.rejects, window=self.window)
        s = self.stats
        s.batches += 1
        s.observations += report.read
        s.stored += report.stored
        s.duplicates += report.duplicates
        s.rejected += report.rejected
        s.malformed += parsed.malformed
        for reason, n in report.reasons().items():
            s.reasons[reason] = s.reasons.get(reason, 0) + n
        for where, why in report.rejects[:5]:
            log.warning("rejected %s: %s", where, why)
        if report.rejected > 5:
            log.warning("… and %d more rejected in batch %d", report.rejected - 5, report.batch_id)
        return report

    def _refresh_streams(self, messages: list[Message]) -> Any:
        """Reload the datastream list when a topic names one we do not know (at most once a second)."""
        prefix = self.prefix + "/obs/"
        unknown = any(m.topic.startswith(prefix) and self._streams.resolve(m.topic[len(prefix):]) is None
                      for m in messages)
        if unknown and time.monotonic() - self._streams_at > 1.0:
            self._streams, self._streams_at = load_datastreams(self.city), time.monotonic()
        return self._streams

    # -- events ------------------------------------------------------------------------------
    def _publish_events(self, report: Any) -> None:
        if self.on_event is None:
            return

        try:
            for kind, data in events_for(self.city, report):
                self.on_event(kind, data)
        except Exception as exc:  # noqa: BLE001 - a subscriber's trouble must not stop ingest
            log.warning("event delivery failed: %s", exc)

    def _check_stale(self) -> None:

        try:
            opened = check_stale(self.city)
        except CIMError as exc:  # pragma: no cover
            log.warning("stale check failed: %s", exc)
            return
        if opened and self.on_event is not None:
            for alert in list_alerts(self.city, ids=opened):
                self.on_event("alert", alert)

    # -- connection --------------------------------------------------------------------------
    def _make_client(self) -> Any:
        try:
            import paho.mqtt.client as mqtt
        except ImportError as exc:  # pragma: no cover
            raise CIMError("MQTT needs paho-mqtt: pip install 'cim[iot]'") from exc
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id,
                             protocol=mqtt.MQTTv5, manual_ack=True)
        self.auth.apply(client)
        client.on_message = self._on_message
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        return client

    def _connect(self) -> bool:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY
        props.ReceiveMaximum = self.receive_maximum
        try:
            self._client.connect(self.host, self.port, keepalive=30, clean_start=False, properties=props)
        except OSError as exc:  # ssl.SSLError too: a bad certificate or a plain-text broker
            self.stats.last_error = f"cannot reach {self.host}:{self.port}: {exc}"
            log.warning("%s; retrying", self.stats.last_error)
            return False
        deadline = time.monotonic() + 5.0
        while not self.connected.is_set() and time.monotonic() < deadline and not self._stop.is_set():
            if self._pump(0.1):  # not client.loop(): it adds a wake-up socket every acknowledgement writes to
                if self.stats.last_error is None or "refused" not in self.stats.last_error:
                    self.stats.last_error = (f"{self.host}:{self.port} closed the connection before accepting it "
                                             "(does the broker expect TLS, or other credentials?)")
                    log.warning("%s; retrying", self.stats.last_error)
                return False
        return self.connected.is_set()

    def _pump(self, timeout: float) -> int:
        """One round of network work with paho's public pieces; non-zero when the connection broke."""
        client = self._client
        sock = client.socket()
        if sock is None:
            return 1
        readable = _readable(sock, client.want_write(), timeout)
        return int((client.loop_read() if readable else 0) or client.loop_write() or client.loop_misc())

    def _on_connect(self, client: Any, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            self.stats.last_error = f"broker refused the connection: {reason}"
            log.error(self.stats.last_error)
            return
        from paho.mqtt.subscribeoptions import SubscribeOptions

        options = SubscribeOptions(qos=1)
        client.subscribe([(f"{self.prefix}/obs/+", options), (f"{self.prefix}/batch", options)])

    def _on_subscribe(self, _client: Any, _userdata: Any, _mid: Any, reasons: Any, _props: Any) -> None:
        """Subscribed: from now on the broker keeps what is published for this session."""
        if any(r.is_failure for r in reasons):
            self.stats.last_error = f"broker refused the subscription: {[str(r) for r in reasons]}"
            log.error(self.stats.last_error)
            return
        self.stats.connects += 1
        self.connected.set()
        log.info("listening on %s:%d to %s/obs/+ and %s/batch", self.host, self.port, self.prefix, self.prefix)

    def _on_disconnect(self, *_args: Any) -> None:
        self.connected.clear()

    def _lost(self, why: str) -> None:
        """Connection gone: store what is buffered (their acks are void now — the broker sends those
        messages again and they are then duplicates), then let ``run`` reconnect."""
        self.stats.disconnects += 1
        self.stats.last_error = why
        log.warning("%s; reconnecting", why)
        self.connected.clear()
        self._flush(ack=False)
        try:
            self._client.disconnect()
        except Exception:  # noqa: BLE001 - the socket is already gone
            pass

    def _disconnect(self) -> None:
        try:
            self._client.loop_write()
            self._client.disconnect()
        except Exception:  # noqa: BLE001
            pass
        self.connected.clear()
