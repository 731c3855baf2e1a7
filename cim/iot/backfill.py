"""Evaluate rules over the stored history: a rule added or changed after the data was loaded opens and
closes the alerts it would have opened and closed had it been there while the data arrived.

The replay is set-wise, the same SQL state machine as on ingest (``cim.iot.evaluate``) run once over
every stored observation of the datastreams the rules watch, in time order: one transaction, no
Python per row. The rules' earlier alerts are replaced (their ids and who had acknowledged or closed
them by hand are kept in the history record). Stale rules open an alert ``minutes`` after a reading
whose next reading came later than that (or has not come yet) and close it at the next reading.

Example:
    >>> backfill_rules(city, ["pm25-alarm"])  # doctest: +SKIP
    BackfillReport(rules=['pm25-alarm'], observations=2160, replaced=0, opened=7, closed=7, ...)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pyarrow as pa

from cim.errors import ValidationError
from cim.iot.alerts import _epoch_us, _stale_message, open_alerts
from cim.iot.evaluate import _TARGETS, _temp_table, prepare, run_state_machine

if TYPE_CHECKING:
    from cim.city import City
    from cim.store.base import Store


@dataclass
class BackfillReport:
    """What a replay did: the rules, how many observations it read, alerts replaced/opened/closed."""

    rules: list[str] = field(default_factory=list)
    observations: int = 0
    replaced: int = 0
    opened: int = 0
    closed: int = 0
    seconds: float = 0.0


def backfill_rules(city: City, rules: list[str | int] | None = None, *, now: datetime | None = None,
                   actor: str | None = None) -> BackfillReport:
    """Replay the stored observations through ``rules`` (names or ids; default every enabled rule).

    Why: rules are evaluated on ingest, so a rule written after a historic load would otherwise never
    see that data. ``now`` bounds open-ended stale gaps (default: the wall clock).
    """
    started = time.perf_counter()
    store = city.store
    report = BackfillReport()
    with store.transaction():
        store.lock("iot:observations")  # no batch lands while the history is replayed
        store.lock("iot:alerts")
        chosen = _chosen(city, rules)
        report.rules = [name for _, name, _ in chosen]
        ids = [i for i, _, _ in chosen]
        report.replaced = _remove_alerts(city, ids)
        report.observations, report.opened, report.closed = _replay(store, ids)
        opened, closed = _replay_stale(store, [i for i, _, kind in chosen if kind == "stale"],
                                       now or datetime.now(UTC))
        report.opened += opened
        report.closed += closed
        _forget(store)  # on failure the rollback takes the working tables with it
        report.seconds = time.perf_counter() - started
        city.record("iot-backfill", details={**report.__dict__, "seconds": round(report.seconds, 3)}, actor=actor)
    return report


def _chosen(city: City, rules: list[str | int] | None) -> list[tuple[int, str, str]]:
    rows = city.store.rows("SELECT id, name, kind, enabled FROM iot_rules ORDER BY id")
    if rules is None:
        return [(i, n, k) for i, n, k, enabled in rows if enabled]
    by_name = {n: (i, n, k, e) for i, n, k, e in rows}
    by_id = {str(i): (i, n, k, e) for i, n, k, e in rows}
    out = []
    for ref in rules:
        found = by_name.get(str(ref)) or by_id.get(str(ref))
        if found is None:
            raise ValidationError(f"no rule {ref!r} to backfill: `cim iot rules CITY` lists them")
        if not found[3]:
            raise ValidationError(f"rule {found[1]!r} is disabled: enable it before replaying the history")
        out.append(found[:3])
    return out


def _remove_alerts(city: City, rule_ids: list[int]) -> int:
    """Drop the rules' alerts (they are made again); who had handled them goes to the history."""
    if not rule_ids:
        return 0
    marks = ", ".join("?" * len(rule_ids))
    handled = city.store.rows(
        f"SELECT id, state, acknowledged_by, closed_by FROM iot_alerts WHERE rule_id IN ({marks}) AND "
        "(acknowledged_by IS NOT NULL OR (closed_by IS NOT NULL AND closed_by NOT LIKE 'system:%')) ORDER BY id",
        rule_ids)
    count = int(city.store.scalar(f"SELECT count(*) FROM iot_alerts WHERE rule_id IN ({marks})", rule_ids))
    city.store.execute(f"DELETE FROM iot_alerts WHERE rule_id IN ({marks})", rule_ids)
    if count:
        city.record("iot-alerts-replaced", details={
            "rules": rule_ids, "alerts": count,
            "handled": [{"id": i, "state": s, "acknowledged_by": a, "closed_by": c} for i, s, a, c in handled]})
    return count


def _replay(store: Store, rule_ids: list[int]) -> tuple[int, int, int]:
    """Threshold and rate rules over the whole history: (observations read, opened, closed)."""

    if not rule_ids:
        return 0, 0, 0
    marks = ", ".join(str(int(i)) for i in rule_ids)
    _temp_table(store, "_iot_targets", f"SELECT * FROM ({_TARGETS}) AS x WHERE rule_id IN ({marks})")
    _temp_table(store, "_iot_eval", "SELECT o.datastream_id, o.phenomenon_time, o.result FROM iot_observations o "
                                    "WHERE o.datastream_id IN (SELECT DISTINCT ds FROM _iot_targets)")
    rows = int(store.scalar("SELECT count(*) FROM _iot_eval"))
    if not rows:
        return 0, 0, 0
    prepare(store)
    opened, cleared = run_state_machine(store, previous=False)
    return rows, len(opened), len(cleared)


_STALE_GAPS = """
WITH targets AS (
  SELECT r.id AS rule_id, d.id AS ds, r.minutes
  FROM iot_rules r, iot_datastreams d JOIN iot_properties p ON p.id = d.property_id
  JOIN iot_things t ON t.id = d.thing_id
  WHERE r.id IN ({ids}) AND (r.datastream_id = d.id OR (r.datastream_id IS NULL
    AND (r.property IS NULL OR r.property = p.key)
    AND (r.feature_class IS NULL OR r.feature_class = t.feature_class)))),
g AS (
  SELECT g.rule_id, g.ds, g.minutes, o.phenomenon_time AS since,
    lead(o.phenomenon_time) OVER (PARTITION BY g.rule_id, g.ds ORDER BY o.phenomenon_time) AS nxt
  FROM iot_observations o JOIN targets g ON g.ds = o.datastream_id)
SELECT g.rule_id, g.ds AS datastream_id, r.level, g.since, g.nxt AS cleared_at, g.minutes, r.message AS template,
  d.name
FROM g JOIN iot_rules r ON r.id = g.rule_id JOIN iot_datastreams d ON d.id = g.ds
WHERE coalesce(epoch_us(g.nxt), ?) - epoch_us(g.since) > g.minutes * 60e6
ORDER BY g.since, g.rule_id, g.ds
"""


def _replay_stale(store: Store, rule_ids: list[int], now: datetime) -> tuple[int, int]:
    """Stale rules over the history: an alert per silence longer than the rule allows."""

    if not rule_ids:
        return 0, 0
    gaps = store.arrow(_STALE_GAPS.format(ids=", ".join(str(int(i)) for i in rule_ids)), [_epoch_us(now)])
    if not gaps.num_rows:
        return 0, 0
    since = gaps["since"].to_pylist()
    opened_at = [s + timedelta(minutes=m) for s, m in zip(since, gaps["minutes"].to_pylist(), strict=True)]
    cleared = gaps["cleared_at"].to_pylist()
    messages = [_stale_message(t, n, s) for t, n, s in zip(
        gaps["template"].to_pylist(), gaps["name"].to_pylist(), since, strict=True)]
    stamp = pa.timestamp("us", tz="UTC")
    n = gaps.num_rows
    ids = open_alerts(store, pa.table({
        "rule_id": gaps["rule_id"], "datastream_id": gaps["datastream_id"], "level": gaps["level"],
        "active": pa.array([c is None for c in cleared]), "value": pa.nulls(n, pa.float64()),
        "opened_at": pa.array(opened_at, stamp), "cleared_at": pa.array(cleared, stamp),
        "message": pa.array(messages, pa.string())}))
    return len(ids), sum(1 for c in cleared if c is not None)


def _forget(store: Store) -> None:
    """Drop the replay's working tables: the next ingest rebuilds its own rule targets."""
    for name in ("_iot_eval", "_iot_targets_token"):
        store.execute(f"DROP TABLE IF EXISTS {name}")

