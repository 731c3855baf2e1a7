"""MQTT topics and payloads of observations, parsed into one batch.

Topic layout (``<prefix>`` defaults to ``cim/<city name>``):

``<prefix>/obs/<datastream>``
    one datastream (id or key); payload ``{"t": <time>, "v": <number>}`` or an array of such
    objects; an optional ``"u"`` gives the unit when it differs from the datastream's.
``<prefix>/batch``
    many datastreams; payload ``[[<datastream>, <time>, <number>], ...]``.

``<time>`` is ISO 8601 with a zone (``2026-05-01T08:00:00+08:00``, ``…Z``) or epoch seconds or
milliseconds (UTC). A payload that cannot be read is one rejected, counted ``malformed`` message;
a bad item inside a readable payload is one rejected observation.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from cim.errors import ValidationError
from cim.iot.lookup import Datastreams
from cim.iot.times import as_number, parse_times
from cim.iot.units import conversion

if TYPE_CHECKING:
    from cim.city import City


@dataclass
class Message:
    """One received message: its topic, raw payload and its running number (for reports)."""

    topic: str
    payload: bytes
    number: int = 0

    @property
    def label(self) -> str:
        """How reports name the message."""
        return f"{self.topic} message {self.number}"


@dataclass
class Parsed:
    """Observations of a group of messages, ready for ``write_observations``."""

    batch: pa.Table
    rejects: list[tuple[str, str]]
    where: Any  # indices of batch rows → labels
    malformed: int


def parse_messages(city: City, messages: Sequence[Message], prefix: str, streams: Datastreams) -> Parsed:
    """Parse every message; nothing here raises for bad input, it is reported instead."""
    acc = _Accumulator(city, streams, messages)
    obs_topic, batch_topic = f"{prefix}/obs/", f"{prefix}/batch"
    for m, msg in enumerate(messages):
        try:
            body = json.loads(msg.payload)
        except (ValueError, UnicodeDecodeError):
            acc.malformed_message(msg, f"malformed payload, not JSON: {msg.payload[:60]!r}")
            continue
        if msg.topic.startswith(obs_topic):
            acc.single(m, msg.topic[len(obs_topic):], body)
        elif msg.topic == batch_topic:
            acc.many(m, body)
        else:
            acc.malformed_message(msg, f"unknown topic {msg.topic!r}: use {obs_topic}<datastream> or {batch_topic}")
    return acc.finish()


_NUMBER = (int, float)


class _Accumulator:
    """Rows from single messages and items go to lists; all-numeric batches go to arrays whole."""

    def __init__(self, city: City, streams: Datastreams, messages: Sequence[Message]) -> None:
        self.city, self.streams, self.messages = city, streams, messages
        self.msg: list[int] = []
        self.item: list[int] = []
        self.ds: list[int] = []
        self.times: list[Any] = []
        self.values: list[float] = []
        self.blocks: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []  # fast batches
        self.rejects: list[tuple[str, str]] = []
        self.malformed = 0
        self._factors: dict[tuple[int, str], tuple[float, float] | str] = {}

    def label(self, m: int, k: int) -> str:
        return self.messages[m].label + (f" item {k}" if k >= 0 else "")

    def malformed_message(self, msg: Message, why: str) -> None:
        self.malformed += 1
        self.rejects.append((msg.label, why))

    def single(self, m: int, ref: str, body: Any) -> None:
        ds = self.streams.resolve(ref)
        if ds is None:
            self.malformed_message(self.messages[m], f"unknown datastream {ref!r} in the topic")
            return
        many = isinstance(body, list)
        for k, item in enumerate(body if many else [body]):
            if not isinstance(item, dict) or "v" not in item or "t" not in item:
                why = 'malformed observation: expected {"t": <time>, "v": <number>}'
                if many:
                    self.rejects.append((self.label(m, k), why))
                else:
                    self.malformed_message(self.messages[m], why)
                continue
            self.add(m, k if many else -1, ds, item["t"], item["v"], item.get("u"))

    def many(self, m: int, body: Any) -> None:
        if not isinstance(body, list):
            self.malformed_message(self.messages[m], "malformed batch: expected [[datastream, time, value], ...]")
            return
        if self._fast(m, body):
            return
        for k, item in enumerate(body):
            if not isinstance(item, list) or len(item) != 3:
                self.rejects.append((self.label(m, k), "malformed item: expected [datastream, time, value]"))
                continue
            ds = self.streams.resolve(item[0])
            if ds is None:
                self.rejects.append((self.label(m, k), f"unknown datastream {item[0]!r}"))
                continue
            self.add(m, k, ds, item[1], item[2], None)

    def _fast(self, m: int, body: list[Any]) -> bool:
        """A batch of well-formed numeric triples of known datastreams, taken as arrays at once."""
        if not body or not all(type(i) is list and len(i) == 3 for i in body):
            return False
        refs, times, values = zip(*body, strict=True)
        if not (all(type(v) in _NUMBER for v in values) and all(type(t) in _NUMBER for t in times)):
            return False
        resolve = self.streams.resolve
        known = {r: resolve(r) for r in set(refs)}
        if None in known.values():
            return False
        ids = np.fromiter((known[r] for r in refs), dtype=np.int64, count=len(refs))
        self.blocks.append((m, ids, np.asarray(times, dtype=np.float64), np.asarray(values, dtype=np.float64)))
        return True

    def add(self, m: int, k: int, ds: int, time: Any, value: Any, unit: Any) -> None:
        number = as_number(value)
        if number is None:
            self.rejects.append((self.label(m, k), f"non-numeric result {value!r}"))
            return
        if unit is not None and unit != self.streams.unit[ds]:
            factor = self._factor(ds, str(unit))
            if isinstance(factor, str):
                self.rejects.append((self.label(m, k), factor))
                return
            number = number * factor[0] + factor[1]
        self.msg.append(m)
        self.item.append(k)
        self.ds.append(ds)
        self.times.append(time)
        self.values.append(number)

    def _factor(self, ds: int, unit: str) -> tuple[float, float] | str:
        key = (ds, unit)
        if key not in self._factors:
            try:
                self._factors[key] = conversion(unit, self.streams.unit[ds], self.city)
            except ValidationError as exc:
                self._factors[key] = f"wrong unit {unit!r} for datastream {ds} ({self.streams.unit[ds]}): {exc}"
        return self._factors[key]

    def finish(self) -> Parsed:
        micros, bad = parse_times(self.times)
        keep = np.ones(len(self.ds), dtype=bool)
        for i, why in bad.items():
            keep[i] = False
            self.rejects.append((self.label(self.msg[i], self.item[i]), why))
        msg = [np.asarray(self.msg, dtype=np.int64)[keep]]
        item = [np.asarray(self.item, dtype=np.int64)[keep]]
        ds = [np.asarray(self.ds, dtype=np.int64)[keep]]
        t = [micros[keep]]
        v = [np.asarray(self.values, dtype=np.float64)[keep]]
        for m, ids, times, values in self.blocks:
            ok = np.isfinite(times) & (np.abs(times) < 1e14)
            for k in np.flatnonzero(~ok):
                self.rejects.append((self.label(m, int(k)), f"unreadable time {times[k]!r}"))
            idx = np.flatnonzero(ok)
            msg.append(np.full(len(idx), m, dtype=np.int64))
            item.append(idx)
            ds.append(ids[idx])
            t.append(np.round(np.where(np.abs(times[idx]) > 1e11, times[idx] * 1e3, times[idx] * 1e6)).astype(np.int64))
            v.append(values[idx])
        msg_at, item_at = np.concatenate(msg), np.concatenate(item)
        batch = pa.table({"datastream_id": pa.array(np.concatenate(ds), pa.int64()),
                          "phenomenon_time": pa.array(np.concatenate(t), pa.timestamp("us", tz="UTC")),
                          "result": pa.array(np.concatenate(v), pa.float64())})
        return Parsed(batch, self.rejects,
                      lambda idx: [self.label(int(msg_at[i]), int(item_at[i])) for i in idx], self.malformed)
