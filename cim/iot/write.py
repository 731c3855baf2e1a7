"""Write a batch of observations: validate, drop duplicates, store, keep ``iot_latest``, run the rules.

Every ingest path (bulk file, HTTP, MQTT, Python) ends here, in one transaction per batch.

Idempotence without a primary key (a key check per row is ~20x slower in DuckDB): each datastream's
newest stored time (its row in ``iot_latest``) is a high-water mark. A row newer than its mark
cannot be stored yet, so only the rest — out-of-order or re-delivered rows, few in practice — are
looked up, with one anti-join against the stored rows inside their own time window. Duplicates
inside a batch are found by hashing (datastream, time). The marks hold only while no other batch
commits, so on a database many processes write to (PostGIS) a batch first takes a lock that makes
batches queue one behind another; readers never wait for it.

A time outside the plausibility window (``cim.iot.settings.TimeWindow``: not after now + the allowed
skew, not before the floor) is refused per row with its reason, before anything else looks at it: a
sender with a wrong clock must not move a datastream's latest value to 9999 and silence it for good.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cim.errors import ValidationError
from cim.iot.evaluate import evaluate_prepared, prepare
from cim.iot.report import ObservationReport
from cim.iot.settings import TimeWindow, read_settings

if TYPE_CHECKING:
    from cim.city import City
    from cim.store.base import Store

#: ``where(indices) -> labels``: how a batch names its rows in reject reports
Where = Callable[[np.ndarray], list[str]]

_NO_TIME = np.iinfo(np.int64).min
_REASONS = {
    1: "unknown datastream",
    2: "missing time",
    3: "missing value",
    4: "not a finite number",
}


def rows_named(prefix: str = "row", *, offset: int = 1) -> Where:
    """Reject labels ``row 1``, ``row 2`` … (1-based by default)."""
    return lambda idx: [f"{prefix} {int(i) + offset}" for i in idx]


def write_observations(city: City, data: pa.Table, *, source: str = "python", kind: str = "python",
                       actor: str | None = None, where: Where | None = None,
                       rejected: Sequence[tuple[str, str]] = (), evaluate: bool = True,
                       window: TimeWindow | None = None) -> ObservationReport:
    """Store observations (``datastream_id``, ``phenomenon_time`` aware, ``result``) as one batch.

    ``rejected`` are refusals the caller already made while parsing (malformed messages, times
    without a zone); they count as read and appear in the report and in ``iot_rejects``.
    ``window`` bounds plausible times (default: the city's, see ``cim.iot.settings``).

    Example:
        >>> t = pa.table({"datastream_id": [1, 1], "result": [41.0, 43.5], "phenomenon_time":
        ...     pa.array([datetime(2026, 5, 1, 8, tzinfo=UTC), datetime(2026, 5, 1, 9, tzinfo=UTC)])})
        >>> write_observations(city, t).stored  # doctest: +SKIP
        2
    """
    where = where or rows_named()
    report = ObservationReport(source, kind)
    for label, why in rejected:
        report.reject(label, why)
    ds, t, v = _columns(data)
    report.read = len(ds) + len(rejected)
    store = city.store
    with store.transaction():
        # the high-water marks below hold only while no other batch commits: batches queue here
        store.lock("iot:observations")
        known, mark = _marks(city)
        code = _validate(ds, t, v, known)
        limits = (window or read_settings(store).window).limits_us()
        code = _in_window(t, code, limits)
        fresh = (code == 0) & (t > mark[np.where(code == 0, ds, 0)])
        code, dup = _dedupe_batch(ds, t, v, code)
        late = np.flatnonzero((code == 0) & ~dup & ~fresh)
        dup_late, (conflict_late, stored_values) = _against_stored(city, ds, t, v, late)
        dup[late[dup_late]] = True
        conflict = (late[conflict_late], stored_values)
        code[conflict[0]] = 6
        keep = (code == 0) & ~dup
        report.duplicates = int(dup.sum())
        _reject_codes(report, code, where, conflict, t, limits)
        report.stored = _insert(store, ds[keep], t[keep], v[keep])
        new = keep & fresh
        batch = pa.table({"datastream_id": pa.array(ds[new], pa.int32()),
                          "phenomenon_time": pa.array(t[new], pa.timestamp("us", tz="UTC")),
                          "result": pa.array(v[new], pa.float64())})
        _evaluate_and_keep_latest(store, batch, report, evaluate)
        _record_batch(city, report, actor)
    return report


def _columns(data: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    missing = {"datastream_id", "phenomenon_time", "result"} - set(data.column_names)
    if missing:
        raise ValidationError(f"observation batch lacks columns {sorted(missing)}: give datastream_id, "
                              "phenomenon_time and result")
    time = data.column("phenomenon_time")
    if not pa.types.is_timestamp(time.type) or time.type.tz is None:
        raise ValidationError(
            f"phenomenon_time is {time.type}, not a time with a zone: attach the source's zone "
            "(e.g. Asia/Shanghai) before writing")
    ds = pc.fill_null(pc.cast(data.column("datastream_id"), pa.int64(), safe=False), -1).to_numpy()
    t = pc.cast(time, pa.timestamp("us", tz="UTC")).cast(pa.int64())
    t = pc.fill_null(t, _NO_TIME).to_numpy()
    v = pc.cast(data.column("result"), pa.float64()).to_numpy(zero_copy_only=False)
    return np.ascontiguousarray(ds), np.ascontiguousarray(t), np.ascontiguousarray(v, dtype=np.float64)


def _marks(city: City) -> tuple[np.ndarray, np.ndarray]:
    """Which datastream ids exist, and each one's newest stored time (µs; -inf when none)."""
    ids = city.store.arrow("SELECT id FROM iot_datastreams")["id"].to_numpy()
    size = int(ids.max()) + 1 if len(ids) else 1
    known = np.zeros(size, dtype=bool)
    known[ids] = True
    mark = np.full(size, _NO_TIME, dtype=np.int64)
    latest = city.store.arrow("SELECT datastream_id AS id, epoch_us(phenomenon_time) AS t FROM iot_latest")
    if latest.num_rows:
        mark[latest["id"].to_numpy()] = latest["t"].to_numpy()
    return known, mark


def _validate(ds: np.ndarray, t: np.ndarray, v: np.ndarray, known: np.ndarray) -> np.ndarray:
    code = np.zeros(len(ds), dtype=np.int8)
    in_range = (ds >= 0) & (ds < len(known))
    code[~in_range] = 1
    code[in_range & ~known[np.where(in_range, ds, 0)]] = 1
    code[(code == 0) & (t == _NO_TIME)] = 2
    code[(code == 0) & np.isnan(v)] = 3
    code[(code == 0) & np.isinf(v)] = 4
    return code


def _in_window(t: np.ndarray, code: np.ndarray, limits: tuple[int, int]) -> np.ndarray:
    """Code 7 for times after the latest plausible one, 8 for times before the floor."""
    floor, ceiling = limits
    ok = code == 0
    code[ok & (t > ceiling)] = 7
    code[ok & (t < floor)] = 8
    return code


def _time_text(micros: int) -> str:
    try:
        return _as_datetime(micros).isoformat().replace("+00:00", "Z")
    except OverflowError:
        return f"{micros} µs since 1970"


def _window_reason(c: int, micros: int, limits: tuple[int, int]) -> str:
    if c == 7:
        return (f"time in the future: {_time_text(micros)} is after now + the allowed clock skew "
                f"({_time_text(limits[1])}); check the sender's clock")
    return (f"time before the floor: {_time_text(micros)} is before {_time_text(limits[0])}; "
            "load historic data with a lower floor (--time-floor)")


def _dedupe_batch(ds: np.ndarray, t: np.ndarray, v: np.ndarray,
                  code: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Later rows repeating an earlier (datastream, time) of the same batch: duplicates when the
    value is the same, rejects (code 5) when it differs. The first occurrence wins."""
    dup = np.zeros(len(ds), dtype=bool)
    ok = np.flatnonzero(code == 0)
    with np.errstate(over="ignore"):
        h = t[ok] * np.int64(1_000_003) + ds[ok]
    maybe = pd.Series(h).duplicated(keep=False).to_numpy()
    if not maybe.any():
        return code, dup
    idx = ok[maybe]  # exact check on the few hash collisions
    frame = pd.DataFrame({"ds": ds[idx], "t": t[idx], "i": idx})
    first = frame.groupby(["ds", "t"], sort=False)["i"].transform("min").to_numpy()
    later = idx != first
    same = v[idx] == v[first]
    dup[idx[later & same]] = True
    code[idx[later & ~same]] = 5
    return code, dup


def _against_stored(city: City, ds: np.ndarray, t: np.ndarray, v: np.ndarray,
                    late: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Which late rows are already stored: (positions equal, (positions conflicting, stored values))."""
    empty = np.zeros(0, dtype=np.int64)
    if not len(late):
        return empty, (empty, np.zeros(0))
    probe = pa.table({"i": np.arange(len(late)), "ds": ds[late].astype(np.int32),
                      "t": pa.array(t[late], pa.timestamp("us", tz="UTC")), "v": v[late]})
    lo, hi = int(t[late].min()), int(t[late].max())
    with city.store.temporary("_iot_probe", probe):
        hits = city.store.arrow(
            "SELECT p.i, o.result, p.v FROM _iot_probe p JOIN iot_observations o "
            "ON o.datastream_id = p.ds AND o.phenomenon_time = p.t "
            "WHERE o.phenomenon_time BETWEEN ? AND ?", [_as_datetime(lo), _as_datetime(hi)])
    pos = hits["i"].to_numpy().astype(np.int64)
    stored, given = hits["result"].to_numpy(), hits["v"].to_numpy()
    same = stored == given
    return pos[same], (pos[~same], stored[~same])


def _as_datetime(micros: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


def _reject_codes(report: ObservationReport, code: np.ndarray, where: Where,
                  conflict: tuple[np.ndarray, np.ndarray], t: np.ndarray, limits: tuple[int, int]) -> None:
    bad = np.flatnonzero(code)
    if not len(bad):
        return
    stored_value = dict(zip(conflict[0].tolist(), conflict[1].tolist(), strict=True))
    for label, i in zip(where(bad), bad.tolist(), strict=True):
        c = int(code[i])
        if c in (7, 8):
            why = _window_reason(c, int(t[i]), limits)
        elif c == 5:
            why = "duplicate time with a different value: an earlier row of the batch has this time"
        elif c == 6:
            why = (f"conflicts with the stored value {stored_value[i]:g}: the first value written for "
                   "this time is kept")
        else:
            why = _REASONS[c]
        report.reject(label, why)


def _insert(store: Store, ds: np.ndarray, t: np.ndarray, v: np.ndarray) -> int:
    if not len(ds):
        return 0
    rows = pa.table({"datastream_id": pa.array(ds, pa.int32()),
                     "phenomenon_time": pa.array(t, pa.timestamp("us", tz="UTC")), "result": v})
    return store.insert_arrow("iot_observations", rows)


def _evaluate_and_keep_latest(store: Store, batch: pa.Table, report: ObservationReport, evaluate: bool) -> None:
    """Rules over the new in-order rows, then each datastream's newest value into ``iot_latest``."""
    if not batch.num_rows:
        return

    with store.temporary("_iot_eval", batch):
        prepare(store)
        report.updated = store.arrow("SELECT datastream_id FROM _iot_agg ORDER BY 1").column(0).to_pylist()
        if evaluate:
            report.alerts_opened, report.alerts_cleared = evaluate_prepared(store)
        # every row here is newer than its datastream's mark: replace, or add the first value
        store.execute("UPDATE iot_latest SET phenomenon_time = a.t, result = a.v FROM _iot_agg a "
                      "WHERE iot_latest.datastream_id = a.datastream_id")
        store.execute("INSERT INTO iot_latest SELECT a.datastream_id, a.t, a.v FROM _iot_agg a "
                      "WHERE NOT EXISTS (SELECT 1 FROM iot_latest l WHERE l.datastream_id = a.datastream_id)")


def _record_batch(city: City, report: ObservationReport, actor: str | None) -> None:
    store = city.store
    store.lock("iot:batches")  # numbers are max(id) + 1: one writer at a time hands them out
    report.batch_id = int(store.scalar("SELECT coalesce(max(id), 0) + 1 FROM iot_batches"))
    store.execute("INSERT INTO iot_batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [
        report.batch_id, report.kind, report.source, actor, report.read, report.stored, report.duplicates,
        report.rejected, datetime.now(UTC)])
    if report.rejects:
        store.insert_arrow("iot_rejects", pa.table({
            "batch_id": pa.array([report.batch_id] * len(report.rejects), pa.int64()),
            "ref": [w for w, _ in report.rejects], "reason": [y for _, y in report.rejects]}))
