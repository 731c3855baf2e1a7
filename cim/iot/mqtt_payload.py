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
    """One received message: its topic, raw payload and a label for reports."""

    topic: str
    payload: bytes
    label: str


@dataclass
class Parsed:
    """Observations of a group of messages, ready for ``write_observations``."""

    batch: pa.Table
    rejects: list[tuple[str, str]]
    labels: list[str]
    malformed: int

    def where(self, idx: np.ndarray) -> list[str]:
        """Labels of batch rows (for the rows ``write_observations`` refuses)."""
        return [self.labels[i] for i in idx]


def parse_messages(city: City, messages: Sequence[Message], prefix: str, streams: Datastreams) -> Parsed:
    """Parse every message; nothing here raises for bad input, it is reported instead."""
    acc = _Accumulator(city, streams)
    obs_topic, batch_topic = f"{prefix}/obs/", f"{prefix}/batch"
    for msg in messages:
        try:
            body = json.loads(msg.payload)
        except (ValueError, UnicodeDecodeError):
            acc.malformed_message(msg, f"malformed payload, not JSON: {msg.payload[:60]!r}")
            continue
        if msg.topic.startswith(obs_topic):
            acc.single(msg, msg.topic[len(obs_topic):], body)
        elif msg.topic == batch_topic:
            acc.many(msg, body)
        else:
            acc.malformed_message(msg, f"unknown topic {msg.topic!r}: use {obs_topic}<datastream> or {batch_topic}")
    return acc.finish()


class _Accumulator:
    def __init__(self, city: City, streams: Datastreams) -> None:
        self.city, self.streams = city, streams
        self.labels: list[str] = []
        self.ds: list[int] = []
        self.times: list[Any] = []
        self.values: list[float] = []
        self.rejects: list[tuple[str, str]] = []
        self.malformed = 0
        self._factors: dict[tuple[int, str], tuple[float, float] | str] = {}

    def malformed_message(self, msg: Message, why: str) -> None:
        self.malformed += 1
        self.rejects.append((msg.label, why))

    def single(self, msg: Message, ref: str, body: Any) -> None:
        ds = self.streams.resolve(ref)
        if ds is None:
            self.malformed_message(msg, f"unknown datastream {ref!r} in the topic")
            return
        items = body if isinstance(body, list) else [body]
        for k, item in enumerate(items):
            label = msg.label if not isinstance(body, list) else f"{msg.label} item {k}"
            if not isinstance(item, dict) or "v" not in item or "t" not in item:
                why = 'malformed observation: expected {"t": <time>, "v": <number>}'
                if isinstance(body, list):
                    self.rejects.append((label, why))
                else:
                    self.malformed_message(msg, why)
                continue
            self.add(label, ds, item["t"], item["v"], item.get("u"))

    def many(self, msg: Message, body: Any) -> None:
        if not isinstance(body, list):
            self.malformed_message(msg, "malformed batch: expected [[datastream, time, value], ...]")
            return
        for k, item in enumerate(body):
            label = f"{msg.label} item {k}"
            if not isinstance(item, list) or len(item) != 3:
                self.rejects.append((label, "malformed item: expected [datastream, time, value]"))
                continue
            ds = self.streams.resolve(item[0])
            if ds is None:
                self.rejects.append((label, f"unknown datastream {item[0]!r}"))
                continue
            self.add(label, ds, item[1], item[2], None)

    def add(self, label: str, ds: int, time: Any, value: Any, unit: Any) -> None:
        number = as_number(value)
        if number is None:
            self.rejects.append((label, f"non-numeric result {value!r}"))
            return
        if unit is not None and unit != self.streams.unit[ds]:
            factor = self._factor(ds, str(unit))
            if isinstance(factor, str):
                self.rejects.append((label, factor))
                return
            number = number * factor[0] + factor[1]
        self.labels.append(label)
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
        keep = np.ones(len(self.labels), dtype=bool)
        for i, why in bad.items():
            keep[i] = False
            self.rejects.append((self.labels[i], why))
        rows = np.flatnonzero(keep)
        batch = pa.table({
            "datastream_id": pa.array(np.asarray(self.ds, dtype=np.int64)[keep], pa.int64()),
            "phenomenon_time": pa.array(micros[keep], pa.timestamp("us", tz="UTC")),
            "result": pa.array(np.asarray(self.values, dtype=np.float64)[keep], pa.float64())})
        return Parsed(batch, self.rejects, [self.labels[i] for i in rows], self.malformed)
