"""The listener's side of MQTT 5 on the wire: connect, subscribe at QoS 1, receive, acknowledge.

Only what a QoS 1 subscriber with manual acknowledgements needs, written for throughput: one
``recv`` takes whatever the socket holds (often thousands of PUBLISH packets), they are cut out of
the bytes in one pass, and the PUBACKs of a stored batch leave in one ``sendall``. A general client
(paho) reads each packet with three ``recv`` calls, builds a message and a properties object per
packet and writes each acknowledgement on its own; at one observation a message that, not storage,
bounded the listener.

Not supported, because the listener never asks for them: QoS 2 delivery (subscriptions ask for at
most QoS 1, so the broker downgrades), topic aliases (the CONNECT allows none), enhanced AUTH.
A broker that sends one of those anyway is a protocol error and the connection is dropped.
"""

from __future__ import annotations

import select
import socket
import ssl
import time
from collections.abc import Callable

from cim.errors import CIMError
from cim.iot.mqtt_auth import MqttAuth

CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK = 1, 2, 3, 4, 8, 9
PINGREQ, PINGRESP, DISCONNECT, AUTH = 12, 13, 14, 15
PROP_SESSION_EXPIRY, PROP_RECEIVE_MAXIMUM = 0x11, 0x21

#: CONNACK, SUBACK and DISCONNECT reason codes a broker commonly sends (MQTT 5, 2.4)
REASONS = {
    0x04: "disconnect with will message", 0x80: "unspecified error", 0x81: "malformed packet",
    0x82: "protocol error", 0x83: "implementation specific error", 0x84: "unsupported protocol version",
    0x85: "client identifier not valid", 0x86: "bad user name or password", 0x87: "not authorized",
    0x88: "server unavailable", 0x89: "server busy", 0x8A: "banned", 0x8B: "server shutting down",
    0x8C: "bad authentication method", 0x8D: "keep alive timeout", 0x8E: "session taken over",
    0x8F: "topic filter invalid", 0x91: "packet identifier in use", 0x93: "receive maximum exceeded",
    0x95: "packet too large", 0x97: "quota exceeded", 0x98: "administrative action",
    0x99: "payload format invalid", 0x9C: "use another server", 0x9D: "server moved",
    0x9F: "connection rate exceeded",
}


class ConnectionLost(CIMError):
    """The connection broke, the broker closed it, or it spoke outside the protocol."""


class Refused(CIMError):
    """The broker answered CONNECT or SUBSCRIBE with a failure reason."""


#: one PUBLISH as received: packet id (0 at QoS 0), topic and payload
Publish = tuple[int, str, bytes]


def reason_text(code: int) -> str:
    """``"not authorized (0x87)"`` for a reason code."""
    return f"{REASONS.get(code, 'reason')} (0x{code:02X})"


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = n >> 7, n & 0x7F
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(text: str | bytes) -> bytes:
    data = text.encode("utf-8") if isinstance(text, str) else text
    if len(data) > 0xFFFF:
        raise CIMError("an MQTT string is at most 65 535 bytes")
    return len(data).to_bytes(2, "big") + data


def _packet(kind: int, flags: int, body: bytes) -> bytes:
    return bytes([(kind << 4) | flags]) + _varint(len(body)) + body


def connect_packet(client_id: str, *, keepalive: int, session_expiry: int, receive_maximum: int,
                   username: str | None = None, password: str | None = None) -> bytes:
    """CONNECT without clean start (the session and its queue stay on the broker)."""
    flags = (0x80 if username else 0) | (0x40 if password is not None else 0)
    props = (bytes([PROP_SESSION_EXPIRY]) + session_expiry.to_bytes(4, "big")
             + bytes([PROP_RECEIVE_MAXIMUM]) + receive_maximum.to_bytes(2, "big"))
    body = (_string("MQTT") + bytes([5, flags]) + keepalive.to_bytes(2, "big") + _varint(len(props)) + props
            + _string(client_id))
    if username:
        body += _string(username)
    if password is not None:
        body += _string(password)
    return _packet(CONNECT, 0, body)


def subscribe_packet(mid: int, filters: list[str], qos: int = 1) -> bytes:
    """SUBSCRIBE to ``filters`` at ``qos``, no properties."""
    body = mid.to_bytes(2, "big") + b"\x00" + b"".join(_string(f) + bytes([qos]) for f in filters)
    return _packet(SUBSCRIBE, 2, body)


def puback_packets(mids: list[int]) -> bytes:
    """The PUBACKs (success, so no reason code) of ``mids``, as one run of bytes."""
    return b"".join(b"\x40\x02" + m.to_bytes(2, "big") for m in mids)


class WireClient:
    """One connection to a broker; ``read()`` returns the PUBLISH packets the socket held.

    Example:
        >>> wire = WireClient("127.0.0.1", 1883, "me", MqttAuth())          # doctest: +SKIP
        >>> wire.open(["cim/x/obs/+"]); wire.read(0.1); wire.ack([1, 2])     # doctest: +SKIP
    """

    def __init__(self, host: str, port: int, client_id: str, auth: MqttAuth, *, keepalive: int = 30,
                 session_expiry: int = 0xFFFFFFFF, receive_maximum: int = 65_535) -> None:
        self.host, self.port, self.client_id, self.auth = host, port, client_id, auth
        self.keepalive, self.session_expiry, self.receive_maximum = keepalive, session_expiry, receive_maximum
        self.sock: socket.socket | None = None
        self.subscribed = False
        self.session_present = False
        self._buf = b""
        self._topics: dict[bytes, str] = {}
        self._sent_at = self._heard_at = 0.0
        self._ping_at: float | None = None
        self._pending: list[Publish] = []
        self._connack: int | None = None
        self._suback: list[int] | None = None

    # -- connection --------------------------------------------------------------------------
    def open(self, filters: list[str], timeout: float = 5.0) -> None:
        """Connect and subscribe; returns once the broker has granted the subscription.

        Raises OSError (and ssl.SSLError) when the broker cannot be reached, Refused when it says
        no, ConnectionLost when it closes the line before answering. PUBLISH packets that arrive
        before the SUBACK (a kept session's queue) wait for the first ``read()``.
        """
        self.close()
        raw = socket.create_connection((self.host, self.port), timeout=timeout)
        try:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            self.sock = self._tls(raw) if self.auth.uses_tls else raw
            self.sock.settimeout(max(timeout, 30.0))
        except BaseException:
            raw.close()
            raise
        self._buf, self.subscribed, self._ping_at = b"", False, None
        self._pending, self._connack, self._suback = [], None, None
        self._send(connect_packet(self.client_id, keepalive=self.keepalive, session_expiry=self.session_expiry,
                                  receive_maximum=self.receive_maximum, username=self.auth.username,
                                  password=self.auth.password))
        deadline = time.monotonic() + timeout
        self._await(lambda: self._connack is not None, deadline, "accepting it")
        if self._connack:
            code, self._connack = self._connack, None
            self.close()
            raise Refused(f"broker refused the connection: {reason_text(code)}")
        self._send(subscribe_packet(1, filters))
        self._await(lambda: self._suback is not None, deadline, "granting the subscription")
        failed = [c for c in self._suback or [] if c >= 0x80]
        if failed:
            self.close()
            raise Refused(f"broker refused the subscription: {', '.join(reason_text(c) for c in failed)}")
        self.subscribed = True

    def _tls(self, raw: socket.socket) -> ssl.SSLSocket:
        context = ssl.create_default_context(cafile=self.auth.ca_file)
        if self.auth.cert_file:
            context.load_cert_chain(self.auth.cert_file, self.auth.key_file)
        if self.auth.tls_insecure:
            context.check_hostname = False
        return context.wrap_socket(raw, server_hostname=self.host)

    def _await(self, done: Callable[[], bool], deadline: float, what: str) -> None:
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                self.close()
                raise ConnectionLost(f"{self.host}:{self.port} did not answer in time before {what}")
            try:
                got = self.read(min(left, 0.1))  # read() hands back (and empties) the pending list
            except ConnectionLost as exc:
                raise ConnectionLost(f"{self.host}:{self.port} closed the connection before {what} "
                                     f"({exc})") from exc
            self._pending += got

    def close(self, *, polite: bool = False) -> None:
        """Close the line; ``polite`` sends DISCONNECT first (the session stays: it has an expiry)."""
        sock, self.sock, self.subscribed = self.sock, None, False
        if sock is None:
            return
        try:
            if polite:
                sock.sendall(b"\xe0\x00")
        except OSError:
            pass
        finally:
            sock.close()

    # -- traffic -----------------------------------------------------------------------------
    def fileno_ready(self, timeout: float) -> bool:
        """True when something can be read now or within ``timeout`` seconds."""
        sock = self.sock
        if sock is None:
            return False
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            return True
        return bool(select.select([sock], [], [], max(0.0, timeout))[0])

    def read(self, timeout: float = 0.0) -> list[Publish]:
        """The PUBLISH packets complete in what the socket holds (waiting up to ``timeout``)."""
        out, self._pending = self._pending, []
        if self.sock is None:
            raise ConnectionLost("not connected")
        if out and not self.fileno_ready(0.0):
            return out
        if not out and not self.fileno_ready(timeout):
            return out
        try:
            data = self.sock.recv(1 << 20)
        except (TimeoutError, ssl.SSLWantReadError, BlockingIOError):
            return out
        except OSError as exc:
            self.close()
            raise ConnectionLost(f"connection lost: {exc}") from exc
        if not data:
            self.close()
            raise ConnectionLost("connection closed by the broker")
        self._heard_at, self._ping_at = time.monotonic(), None
        self._buf = self._buf + data if self._buf else data
        self._cut(out)
        return out

    def _cut(self, out: list[Publish]) -> None:
        """Take every complete packet off the front of the buffer; PUBLISH ones go to ``out``."""
        buf, pos, end, topics = self._buf, 0, len(self._buf), self._topics
        append = out.append
        while end - pos >= 2:
            first, b = buf[pos], buf[pos + 1]
            if b < 0x80:  # remaining length in one byte: the common case
                length, at = b, pos + 2
            else:
                length, shift, at = 0, 0, pos + 1
                while True:
                    if at >= end:
                        self._buf = buf[pos:]
                        return
                    b = buf[at]
                    length |= (b & 0x7F) << shift
                    at += 1
                    if b < 0x80:
                        break
                    shift += 7
                    if shift > 21:
                        self._protocol("a remaining length longer than 4 bytes")
            stop = at + length
            if stop > end:
                break
            kind = first >> 4
            if kind == PUBLISH:
                tlen = (buf[at] << 8) | buf[at + 1]
                key = buf[at + 2:at + 2 + tlen]
                topic = topics.get(key)
                if topic is None:
                    topic = topics[key] = key.decode("utf-8", "replace")
                    if len(topics) > 100_000:
                        topics.clear()
                j = at + 2 + tlen
                qos = (first >> 1) & 3
                if qos == 1:
                    mid = (buf[j] << 8) | buf[j + 1]
                    j += 2
                elif qos == 0:
                    mid = 0
                else:
                    self._protocol("a QoS 2 message on a QoS 1 subscription")
                p = buf[j]
                if p < 0x80:
                    j += 1 + p
                else:
                    plen, j = self._long_varint(buf, j)
                    j += plen
                append((mid, topic, buf[j:stop]))
            else:
                self._control(kind, buf[at:stop])
            pos = stop
        self._buf = buf[pos:] if pos < end else b""

    @staticmethod
    def _long_varint(buf: bytes, j: int) -> tuple[int, int]:
        value, shift = 0, 0
        while True:
            b = buf[j]
            value |= (b & 0x7F) << shift
            j += 1
            if b < 0x80:
                return value, j
            shift += 7

    def _control(self, kind: int, body: bytes) -> None:
        if kind == CONNACK:
            self.session_present = bool(body[0] & 1) if body else False
            self._connack = body[1] if len(body) > 1 else 0x81
        elif kind == SUBACK:
            plen, j = self._long_varint(body, 2)
            self._suback = list(body[j + plen:])
        elif kind == PINGRESP:
            pass
        elif kind == DISCONNECT:
            code = body[0] if body else 0
            self.close()
            raise ConnectionLost(f"the broker disconnected: {reason_text(code)}")
        else:
            self._protocol(f"an unexpected packet of type {kind}")

    def _protocol(self, what: str) -> None:
        self.close()
        raise ConnectionLost(f"protocol error: the broker sent {what}")

    def ack(self, mids: list[int]) -> None:
        """Acknowledge the messages ``mids`` (QoS 0 ones, id 0, are skipped) in one write."""
        data = puback_packets([m for m in mids if m])
        if data:
            self._send(data)

    def keep_alive(self) -> None:
        """PINGREQ when nothing was sent for half the keep-alive; lost when no answer comes in time."""
        now = time.monotonic()
        if self._ping_at is not None and now - self._ping_at > self.keepalive:
            self.close()
            raise ConnectionLost(f"no answer from the broker for {self.keepalive} s")
        if self._ping_at is None and now - self._sent_at >= self.keepalive / 2:
            self._send(b"\xc0\x00")
            self._ping_at = now

    def _send(self, data: bytes) -> None:
        if self.sock is None:
            raise ConnectionLost("not connected")
        try:
            self.sock.sendall(data)
        except OSError as exc:
            self.close()
            raise ConnectionLost(f"connection lost: {exc}") from exc
        self._sent_at = time.monotonic()
