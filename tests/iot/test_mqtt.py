"""The MQTT listener against a real mosquitto: nothing lost when killed, reconnects, bad payloads."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import cim
from cim.iot import datastream_id
from cim.iot.broker import LocalBroker
from cim.iot.mqtt import MqttListener
from cim.iot.publish import Publisher
from tests.iot.conftest import wait_for

PREFIX = "cim/test"
T0_MS = 1_777_593_600_000  # 2026-05-01T00:00:00Z


@pytest.fixture
def listen(iot_city, broker):
    """Start in-process listeners on ``iot_city``; all are stopped at the end of the test."""
    started = []

    def start(client_id: str, **options) -> MqttListener:
        listener = MqttListener(iot_city, broker.address, prefix=PREFIX, client_id=client_id,
                                flush_interval=0.05, **options).start()
        started.append(listener)
        return listener

    yield start
    for listener in started:
        listener.stop()


def stored(city) -> int:
    return city.store.scalar("SELECT count(*) FROM iot_observations")


def test_listener_stores_single_and_batch_messages_exactly_once(iot_city, broker, listen):
    listener = listen("t1")
    assert listener.connected.wait(10)
    dust, noise = datastream_id(iot_city, "ws.dust"), datastream_id(iot_city, "ws.noise")
    with Publisher(broker.address) as pub:
        for i in range(500):
            pub.observation(PREFIX, "ws.dust", T0_MS + i * 1000, float(i))
        for k in range(50):
            pub.batch(PREFIX, [[noise, T0_MS + (k * 10 + j) * 1000, 50.0 + j] for j in range(10)])
        pub.observation(PREFIX, dust, "2026-05-01T08:00:00+08:00", 7.0)  # a repeat of the first one's time
    assert wait_for(lambda: listener.stats.observations >= 1001)
    listener.stop()
    assert stored(iot_city) == 1000
    assert listener.stats.duplicates == 0 and listener.stats.rejected == 1  # same time, different value
    assert iot_city.store.scalar("SELECT result FROM iot_latest WHERE datastream_id = ?", [dust]) == 499.0


def test_malformed_payloads_are_counted_reported_and_do_not_stop_the_listener(iot_city, broker, listen):
    listener = listen("t2")
    assert listener.connected.wait(10)
    with Publisher(broker.address) as pub:
        pub.publish(f"{PREFIX}/obs/ws.dust", b"\xff\xfe not json")
        pub.publish(f"{PREFIX}/obs/ws.dust", "{\"t\": 1")
        pub.publish(f"{PREFIX}/obs/no.such.sensor", json.dumps({"t": T0_MS, "v": 1}))
        pub.publish(f"{PREFIX}/obs/ws.dust", json.dumps({"t": T0_MS, "v": "high"}))
        pub.publish(f"{PREFIX}/obs/ws.dust", json.dumps({"t": "2026-05-01 08:00:00", "v": 1}))
        pub.publish(f"{PREFIX}/obs/ws.dust", json.dumps({"time": T0_MS, "value": 1}))
        pub.publish(f"{PREFIX}/batch", json.dumps({"not": "a list"}))
        pub.publish(f"{PREFIX}/batch", json.dumps([["ws.dust", T0_MS + 1, 2.0], ["ws.dust", T0_MS + 2], 5]))
        pub.observation(PREFIX, "ws.dust", T0_MS + 3, 3.0)
    assert wait_for(lambda: listener.stats.observations >= 11)
    listener.stop()
    s = listener.stats
    assert (s.messages, s.stored, s.malformed) == (9, 2, 5)
    assert s.observations == s.stored + s.duplicates + s.rejected == 11
    reasons = [r for (r,) in iot_city.store.rows("SELECT reason FROM iot_rejects ORDER BY reason")]
    assert any(r.startswith("malformed payload, not JSON") for r in reasons)
    assert any(r.startswith("unknown datastream 'no.such.sensor'") for r in reasons)
    assert any(r.startswith("non-numeric result 'high'") for r in reasons)
    assert any(r.startswith("time without a zone") for r in reasons)


def test_listener_reconnects_after_a_broker_restart_and_loses_nothing(iot_city, broker, listen):
    listener = listen("t3")
    assert listener.connected.wait(10)
    with Publisher(broker.address) as pub:
        for i in range(300):
            pub.observation(PREFIX, "ws.dust", T0_MS + i * 1000, float(i))
    assert wait_for(lambda: listener.stats.stored >= 300)
    broker.restart()
    assert wait_for(lambda: listener.stats.connects >= 2, timeout=30)
    with Publisher(broker.address) as pub:
        for i in range(300, 600):
            pub.observation(PREFIX, "ws.dust", T0_MS + i * 1000, float(i))
    assert wait_for(lambda: listener.stats.stored >= 600)
    listener.stop()
    assert stored(iot_city) == 600 and listener.stats.disconnects >= 1


def test_messages_queued_while_the_listener_is_down_arrive_when_it_returns(iot_city, broker, listen):
    first = listen("t4")
    assert first.connected.wait(10)
    first.stop()  # the persistent session stays on the broker
    with Publisher(broker.address) as pub:
        for i in range(2000):  # more than mosquitto's default queue of 1000
            pub.observation(PREFIX, "ws.dust", T0_MS + i * 1000, float(i))
    broker.restart()  # and the queue survives a broker restart
    second = listen("t4")
    assert wait_for(lambda: second.stats.stored >= 2000)
    second.stop()
    assert stored(iot_city) == 2000


def _listen(city_path: Path, broker: LocalBroker, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "cim", "iot", "listen", str(city_path), "--broker", broker.address,
         "--prefix", PREFIX, "--client-id", "killme", "--flush-interval", "0.05", "--batch-size", "500"],
        stdout=log.open("ab"), stderr=subprocess.STDOUT)


def _wait_for_lines(log: Path, text: str, count: int, timeout: float = 120.0) -> None:
    """Wait until ``text`` stands ``count`` times in the log (a started process says it once)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.read_text(errors="replace").count(text) >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"{text!r} did not appear {count} times in {log}: {log.read_text()[-2000:]}")


def _missing(city, n: int, rest: MqttListener, log: Path) -> str:
    values = {int(v) for (v,) in city.store.rows("SELECT result FROM iot_observations")}
    gone = sorted(set(range(n)) - values)
    return f"{len(gone)} missing, e.g. {gone[:3]}…{gone[-3:]}; {rest.stats}; {log.read_text()[-800:]}"


def test_a_listener_killed_mid_stream_loses_nothing_and_stores_nothing_twice(iot_template, broker, tmp_path):
    city_path = tmp_path / "city.duckdb"
    shutil.copy(iot_template, city_path)
    n, log = 20_000, tmp_path / "listener.log"
    city = cim.open(city_path)  # the session and its subscription exist before anything is published
    first = MqttListener(city, broker.address, prefix=PREFIX, client_id="killme").start()
    assert first.connected.wait(10)
    first.stop()
    city.close()
    listener = _listen(city_path, broker, log)
    assert wait_for(lambda: log.read_text().count("INFO listening on") >= 1, timeout=60), log.read_text()
    pub = Publisher(broker.address)
    progress = threading.Event()

    def publish() -> None:
        for i in range(n):
            pub.observation(PREFIX, "ws.dust" if i % 2 else "ws.noise", T0_MS + i * 100, float(i))
            if i == n // 3:
                progress.set()
        pub.flush(300)

    sender = threading.Thread(target=publish)
    sender.start()
    assert progress.wait(120)
    time.sleep(0.5)
    listener.send_signal(signal.SIGKILL)  # mid-stream: no chance to flush or acknowledge
    listener.wait()
    city = cim.open(city_path, read_only=True)
    at_kill = stored(city)
    city.close()
    assert 0 < at_kill < n  # it was killed mid-stream
    listener = _listen(city_path, broker, log)  # a new process takes the session over
    sender.join(300)
    pub.close()
    assert pub.acked == n  # the broker holds every message
    _wait_for_lines(log, "Ctrl-C to stop", 2)  # the new process is up, its SIGTERM handler installed
    time.sleep(1.0)
    listener.send_signal(signal.SIGTERM)  # graceful: writes and acknowledges what it holds
    assert listener.wait(60) == 0, log.read_text()[-3000:]
    city = cim.open(city_path)
    rest = MqttListener(city, broker.address, prefix=PREFIX, client_id="killme", flush_interval=0.05).start()
    try:  # whatever the broker still queues for the session arrives here
        assert wait_for(lambda: stored(city) >= n, timeout=120), _missing(city, n, rest, log)
        time.sleep(0.5)
    finally:
        rest.stop()
    try:
        assert stored(city) == n
        distinct = city.store.scalar("SELECT count(*) FROM (SELECT DISTINCT datastream_id, phenomenon_time "
                                     "FROM iot_observations)")
        assert distinct == n
    finally:
        city.close()


def test_batch_payloads_parse_the_same_whole_or_item_by_item(iot_city):
    from cim.iot.lookup import load_datastreams
    from cim.iot.mqtt_payload import Message, parse_messages

    dust = datastream_id(iot_city, "ws.dust")
    good = json.dumps([[dust, T0_MS + i, float(i)] for i in range(5)] + [["ws.noise", T0_MS / 1000, 61]])
    mixed = json.dumps([[dust, T0_MS + 10, 1.0], ["ws.dust", "2026-05-01T08:00:00+08:00", 2], [dust, T0_MS, "x"],
                        [dust, T0_MS], ["nope", T0_MS, 1]])
    parsed = parse_messages(iot_city, [Message(f"{PREFIX}/batch", good.encode(), 1),
                                       Message(f"{PREFIX}/batch", mixed.encode(), 2)],
                            PREFIX, load_datastreams(iot_city))
    rows = parsed.batch.to_pylist()
    assert sorted(r["result"] for r in rows) == [0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 4.0, 61.0]
    by_value = {r["result"]: r for r in rows}
    assert by_value[61.0]["phenomenon_time"] == by_value[0.0]["phenomenon_time"]  # seconds and ms agree
    assert dict(parsed.rejects) == {
        f"{PREFIX}/batch message 2 item 2": "non-numeric result 'x'",
        f"{PREFIX}/batch message 2 item 3": "malformed item: expected [datastream, time, value]",
        f"{PREFIX}/batch message 2 item 4": "unknown datastream 'nope'"}
    labels = parsed.where(list(range(len(rows))))
    assert labels[rows.index(by_value[61.0])] == f"{PREFIX}/batch message 1 item 5"
    assert sorted(labels)[-1] == f"{PREFIX}/batch message 2 item 1"


def test_single_messages_parse_the_same_together_or_one_by_one(iot_city):
    from cim.iot.lookup import load_datastreams
    from cim.iot.mqtt_payload import Message, parse_messages

    streams, dust = load_datastreams(iot_city), datastream_id(iot_city, "ws.dust")
    plain = [json.dumps({"t": T0_MS + i * 1000, "v": i}) for i in range(20)]
    tricky = ['{"t": @1, "v": 1}{"t": @2, "v": 2}', '{"t": @1, "v": 1} {"t": @2, "v": 2}',  # two readings
              " ", "", '{"t": @3, "v": null}', '{"t": @4, "v": true}', '{"t": "2026-05-01T07:59:00+08:00", "v": 3}',
              '{"t": @5, "v": 80, "u": "mg/m3"}', '{"t": @6,\n "v": 4}', '{"t": 1, "t": @7, "v": 5}',
              '{"t": @8, "v": 6, "note": "x"}', '{"t": @9}', "[1, 2]", "{not json}"]
    topics = [f"{PREFIX}/obs/ws.dust", f"{PREFIX}/obs/{dust}", f"{PREFIX}/obs/nope"]

    def rows(parsed) -> list:
        labels = parsed.where(list(range(parsed.batch.num_rows)))
        return sorted(zip(labels, parsed.batch.to_pylist(), strict=True))

    for k, odd in enumerate(tricky):  # each odd payload among plain ones, so the plain ones could go at once
        payloads = [*plain[:10], odd.replace("@", str(T0_MS - 1000 * k)), *plain[10:]]
        messages = [Message(topics[i % 3], p.encode(), i + 1) for i, p in enumerate(payloads)]
        together = parse_messages(iot_city, messages, PREFIX, streams)
        alone = [parse_messages(iot_city, [m], PREFIX, streams) for m in messages]
        assert rows(together) == sorted(r for p in alone for r in rows(p)), odd
        assert sorted(together.rejects) == sorted(r for p in alone for r in p.rejects), odd
        assert together.malformed == sum(p.malformed for p in alone), odd
    plain_only = parse_messages(iot_city, [Message(topics[i % 3], p.encode(), i + 1) for i, p in enumerate(plain)],
                                PREFIX, streams)
    assert plain_only.batch.num_rows == 14 and len(plain_only.rejects) == 6  # every third topic is unknown
