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

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.json as pajson

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
    done = _singles_at_once(acc, messages, obs_topic)
    for m, msg in enumerate(messages):
        if done is not None and done[m]:
            continue
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
_OPEN, _CLOSE = ord("{"), ord("}")


def _singles_at_once(acc: _Accumulator, messages: Sequence[Message], obs_topic: str) -> np.ndarray | None:
    """Take the plain ``{"t": <number>, "v": <number>}`` messages of known datastreams in one pass.

    Their payloads, one a line, go to Arrow's JSON reader together. That reads every line on its
    own, so row i is message i when no payload holds a line break, each starts with ``{`` and ends
    with ``}`` (none is skipped as blank) and the rows come out as many as the messages (none held
    two objects). Anything else (text times, units, arrays, nulls, a bad payload) is left to the
    message-by-message path; returns which messages were taken, or None when none were.
    """
    resolve, cut = acc.streams.resolve, len(obs_topic)
    ds_of = {t: resolve(t[cut:]) for t in {m.topic for m in messages} if t.startswith(obs_topic)}
    take = [m for m, msg in enumerate(messages)
            if ds_of.get(msg.topic) is not None and msg.payload[:1] == b"{" and msg.payload[-1:] == b"}"]
    if len(take) < 2:
        return None
    lines = b"\n".join([messages[m].payload for m in take])
    if lines.count(b"\n") != len(take) - 1 or b"\r" in lines:
        return None
    try:
        table = pajson.read_json(io.BytesIO(lines))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if table.num_rows != len(take) or set(table.column_names) != {"t", "v"}:
        return None
    t, v = table["t"], table["v"]
    numeric = (pa.types.is_integer(t.type) or pa.types.is_floating(t.type)) and (
        pa.types.is_integer(v.type) or pa.types.is_floating(v.type))
    if not numeric or t.null_count or v.null_count:
        return None
    at = np.asarray(take, dtype=np.int64)
    ids = np.fromiter((ds_of[messages[m].topic] for m in take), dtype=np.int64, count=len(take))
    acc.blocks.append((at, np.full(len(take), -1, dtype=np.int64), ids,
                       t.to_numpy().astype(np.float64), v.to_numpy().astype(np.float64)))
    done = np.zeros(len(messages), dtype=bool)
    done[at] = True
    return done


class _Accumulator:
    """Rows from single messages and items go to lists; all-numeric batches go to arrays whole."""

    def __init__(self, city: City, streams: Datastreams, messages: Sequence[Message]) -> None:
        self.city, self.streams, self.messages = city, streams, messages
        self.msg: list[int] = []
        self.item: list[int] = []
        self.ds: list[int] = []
        self.times: list[Any] = []
        self.values: list[float] = []
        # rows taken as arrays: message, item (-1: the message is the observation), datastream, time, value
        self.blocks: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
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
        self.blocks.append((np.full(len(refs), m, dtype=np.int64), np.arange(len(refs), dtype=np.int64), ids,
                            np.asarray(times, dtype=np.float64), np.asarray(values, dtype=np.float64)))
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
        for ms, items, ids, times, values in self.blocks:
            ok = np.isfinite(times) & (np.abs(times) < 1e14)
            for k in np.flatnonzero(~ok):
                self.rejects.append((self.label(int(ms[k]), int(items[k])), f"unreadable time {times[k]!r}"))
            idx = np.flatnonzero(ok)
            msg.append(ms[idx])
            item.append(items[idx])
            ds.append(ids[idx])
            t.append(np.round(np.where(np.abs(times[idx]) > 1e11, times[idx] * 1e3, times[idx] * 1e6)).astype(np.int64))
            v.append(values[idx])
        msg_at, item_at = np.concatenate(msg), np.concatenate(item)
        batch = pa.table({"datastream_id": pa.array(np.concatenate(ds), pa.int64()),
                          "phenomenon_time": pa.array(np.concatenate(t), pa.timestamp("us", tz="UTC")),
                          "result": pa.array(np.concatenate(v), pa.float64())})
        return Parsed(batch, self.rejects,
                      lambda idx: [self.label(int(msg_at[i]), int(item_at[i])) for i in idx], self.malformed)
