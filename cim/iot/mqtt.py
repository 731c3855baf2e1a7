"""The MQTT listener: subscribes to a broker at QoS 1 and writes what arrives, losing nothing.

* A persistent session (fixed client id, ``clean_start=False``, session kept by the broker) so
  the broker queues messages while the listener is down.
* Manual acknowledgements: a message is acknowledged only after the transaction holding its rows
  has committed. A listener killed at any point loses nothing: unacknowledged messages come again,
  and rows already committed are recognised as duplicates (ingest is idempotent).
* Batching: messages gather until the line has been quiet for ``quiet`` seconds (a burst is over),
  ``flush_interval`` seconds have passed since the first of them, or ``batch_size`` messages are
  held; then they go in one transaction and their PUBACKs leave together. When storing a batch
  takes long (a loaded machine), the window grows to twice that time (at most 4 × flush_interval)
  and the quiet gap to a quarter of it, so batches grow rather than the share of time spent on
  each transaction's fixed cost. MQTT 5
  ``Receive Maximum`` lets the broker keep that many unacknowledged messages in flight.
* The wire is ``cim.iot.mqtt_wire``: one ``recv`` takes every packet the socket holds; the
  datastream list is cached and reloaded only when a topic names an unknown datastream.
* Reconnects with back-off after the broker goes away; a bad payload is counted, logged and
  reported, never fatal.
* Credentials and TLS (``MqttAuth``) for brokers that refuse anonymous clients; observation times
  outside the city's plausibility window (or the listener's own ``window``) are refused per row.

Embeddable: ``MqttListener(city, "127.0.0.1:1883").start()`` runs it in a thread (the server
does this, since a DuckDB file has one writing process); ``run()`` blocks (``cim iot listen``).
"""

from __future__ import annotations

import logging
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
from cim.iot.mqtt_wire import ConnectionLost, Publish, Refused, WireClient
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
                 quiet: float = 0.005, on_event: EventSink | None = None, stale_every: float = 30.0,
                 receive_maximum: int = 65_535, exit_when_idle: float | None = None,
                 auth: MqttAuth | None = None, window: TimeWindow | None = None) -> None:
        self.city = city
        self.host, self.port = parse_broker(broker)
        self.auth = (auth or MqttAuth()).check()
        self.window = window
        self.prefix = (prefix or topic_prefix(city)).rstrip("/")
        self.client_id = client_id or ("cim-listener-" + self.prefix.replace("/", "-"))
        self.batch_size, self.flush_interval, self.quiet = batch_size, flush_interval, min(quiet, flush_interval)
        self.on_event, self.stale_every, self.receive_maximum = on_event, stale_every, receive_maximum
        self.exit_when_idle = exit_when_idle
        self.stats = ListenerStats()
        self._last_message = time.monotonic()
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._buffer: list[Publish] = []
        self._first_number = 1  # running number of the first buffered message (for reports)
        self._first_at = 0.0
        self._write_seconds = 0.0  # how long the last batch took to store
        self._streams = load_datastreams(city)
        self._streams_at = time.monotonic()
        self._wire = WireClient(self.host, self.port, self.client_id, self.auth, keepalive=30,
                                session_expiry=SESSION_EXPIRY, receive_maximum=receive_maximum)

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
        wire = self._wire
        while not self._stop.is_set():
            held = bool(self._buffer)
            # a write's fixed cost is paid per batch: when writes get slow (a loaded machine), the
            # window and the quiet gap grow with them, up to 4 × flush_interval, so that batches grow
            # instead of the time spent writing
            window = min(max(self.flush_interval, 2.0 * self._write_seconds), 4.0 * self.flush_interval)
            quiet = min(window, max(self.quiet, self._write_seconds / 4.0))
            wait = min(quiet, max(0.0, self._first_at + window - time.monotonic())) if held else self.flush_interval
            try:
                got = wire.read(wait)
                if got:
                    self._take(got)
                if self._buffer and (len(self._buffer) >= self.batch_size or (held and not got)
                                     or time.monotonic() - self._first_at >= window):
                    self._flush(ack=True)
                wire.keep_alive()
            except ConnectionLost as exc:
                self._lost(str(exc))
                break
            if (self.exit_when_idle is not None and not self._buffer
                    and time.monotonic() - self._last_message >= self.exit_when_idle):
                log.info("no messages for %.1f s: stopping", self.exit_when_idle)
                self._stop.set()
            if self.stale_every and time.monotonic() - last_stale >= self.stale_every:
                last_stale = time.monotonic()
                self._check_stale()
        return last_stale

    def _take(self, got: list[Publish]) -> None:
        now = time.monotonic()
        if not self._buffer:
            self._first_at, self._first_number = now, self.stats.messages + 1
        self._buffer += got
        self.stats.messages += len(got)
        self._last_message = now

    def _flush(self, *, ack: bool) -> None:
        """Write the buffer in one transaction; only then acknowledge its messages."""
        if not self._buffer:
            return
        buffer, first, self._buffer = self._buffer, self._first_number, []
        started = time.monotonic()
        try:
            report = self._write([Message(topic, payload, first + i) for i, (_, topic, payload) in enumerate(buffer)])
        except Exception as exc:
            self.stats.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("could not store %d messages, they stay unacknowledged", len(buffer))
            self._buffer, self._first_number = buffer + self._buffer, first
            self._stop.wait(1.0)
            return
        self._write_seconds = time.monotonic() - started
        if ack:
            self._wire.ack([mid for mid, _, _ in buffer])
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
        topics = {m.topic for m in messages}
        unknown = any(t.startswith(prefix) and self._streams.resolve(t[len(prefix):]) is None for t in topics)
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
    def _connect(self) -> bool:
        try:
            self._wire.open([f"{self.prefix}/obs/+", f"{self.prefix}/batch"], timeout=5.0)
        except Refused as exc:
            self.stats.last_error = str(exc)
            log.error(self.stats.last_error)
            return False
        except ConnectionLost as exc:
            self.stats.last_error = f"{exc} (does the broker expect TLS, or other credentials?)"
            log.warning("%s; retrying", self.stats.last_error)
            return False
        except OSError as exc:  # ssl.SSLError too: a bad certificate or a plain-text broker
            self.stats.last_error = f"cannot reach {self.host}:{self.port}: {exc}"
            log.warning("%s; retrying", self.stats.last_error)
            return False
        self.stats.connects += 1
        self.connected.set()
        log.info("listening on %s:%d to %s/obs/+ and %s/batch", self.host, self.port, self.prefix, self.prefix)
        return True

    def _lost(self, why: str) -> None:
        """Connection gone: store what is buffered (their acks are void now — the broker sends those
        messages again and they are then duplicates), then let ``run`` reconnect."""
        self.stats.disconnects += 1
        self.stats.last_error = why
        log.warning("%s; reconnecting", why)
        self.connected.clear()
        self._flush(ack=False)
        self._wire.close()

    def _disconnect(self) -> None:
        self._wire.close(polite=True)
        self.connected.clear()
