"""The listener's MQTT reader on a real socket pair: packets cut anywhere arrive whole and in order."""

from __future__ import annotations

import random
import socket

import pytest

from cim.iot.mqtt_auth import MqttAuth
from cim.iot.mqtt_wire import PUBLISH, ConnectionLost, WireClient, _packet, _string, _varint, puback_packets


def _publish(topic: str, mid: int, payload: bytes, *, qos: int = 1, props: bytes = b"") -> bytes:
    head = _string(topic) + (mid.to_bytes(2, "big") if qos else b"") + _varint(len(props)) + props
    return _packet(PUBLISH, qos << 1, head + payload)


@pytest.fixture
def pair():
    ours, broker = socket.socketpair()
    wire = WireClient("127.0.0.1", 1883, "t", MqttAuth())
    wire.sock = ours
    yield wire, broker
    wire.close()
    broker.close()


def _read_all(wire: WireClient, want: int) -> list:
    got = []
    for _ in range(10_000):
        got += wire.read(0.2)
        if len(got) >= want:
            break
    return got


def test_publish_packets_split_at_any_byte_arrive_whole_and_in_order(pair):
    wire, broker = pair
    rng = random.Random(7)
    sent = []
    for i in range(300):
        size = rng.choice([0, 5, 120, 127, 128, 300, 20_000])  # one- to three-byte remaining lengths
        payload = bytes(rng.randrange(256) for _ in range(min(size, 50))) * (size // 50 + 1)
        payload = payload[:size]
        props = b"\x01\x01" if i % 7 == 0 else b""  # payload format indicator: a property to skip
        qos = 0 if i % 11 == 0 else 1
        sent.append((i + 1 if qos else 0, f"cim/t/obs/s{i % 3}", payload, qos, props))
    sent.append((301, "cim/t/batch", b"[" * 2_100_000, 1, b""))  # a four-byte remaining length, over many reads
    stream = b"".join(_publish(t, m, p, qos=q, props=pr) for m, t, p, q, pr in sent)
    cuts = sorted(rng.sample(range(1, len(stream)), 400))
    got = []
    for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        broker.sendall(stream[a:b])  # pieces of a few KB: the socket pair's buffer holds them
        got += wire.read(0.0)
    got += _read_all(wire, len(sent) - len(got))
    assert got == [(m, t, p) for m, t, p, _, _ in sent]


def test_acknowledgements_leave_as_pubacks_of_the_given_ids_only(pair):
    wire, broker = pair
    wire.ack([1, 0, 65535, 300])  # id 0 is a QoS 0 message: nothing to acknowledge
    assert broker.recv(100) == b"\x40\x02\x00\x01" + b"\x40\x02\xff\xff" + b"\x40\x02\x01\x2c"
    assert puback_packets([]) == b""


def test_a_qos2_delivery_or_a_closed_line_is_a_lost_connection(pair):
    wire, broker = pair
    broker.sendall(_publish("cim/t/obs/a", 1, b"{}", qos=2))
    with pytest.raises(ConnectionLost, match="QoS 2"):
        wire.read(1.0)
    assert wire.sock is None


def test_the_broker_closing_the_line_is_reported(pair):
    wire, broker = pair
    broker.sendall(b"\xe0\x01\x8e")  # DISCONNECT: session taken over
    with pytest.raises(ConnectionLost, match="session taken over"):
        wire.read(1.0)
