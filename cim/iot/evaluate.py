"""Evaluate alert rules on a batch of new observations, set-wise in SQL (no Python per row).

Thresholds (``above``/``below``) and rates of change (``rate``: |Δvalue| per minute) run a
two-level state machine with hysteresis: a rule raises when the value passes ``threshold`` and
ends only when it returns past ``clear``; in between the state holds. Over each (rule,
datastream) the newest raise or end signal so far carries the state through the batch (a running
count of signals groups each one with the rows that hold it), starting from whether an alert is
active. Only pairs with a raising row or an active alert are windowed, so a normal batch costs one
scan and one join.

The SQL is the city's one dialect (DuckDB's, translated for PostGIS); intermediate results are
temporary tables of the store's connection, replaced batch by batch.

Lifecycle: a raised alert is ``open`` and ``active``; when the condition ends it becomes inactive
and ``closed`` at the observation time it ended (``cleared_at`` = ``closed_at``), acknowledged or
not: "current" is what holds at the time asked, and a condition that ended is not current.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

from cim.iot.alerts import CLEARED_BY, open_alerts

if TYPE_CHECKING:
    from cim.city import City
    from cim.store.base import Store

# which enabled rule watches which datastream; kept as a temporary table while the datastreams and
# the rules' scopes stay the same (the token says when they change)
_TARGETS_TOKEN = """
SELECT (SELECT count(*) || ':' || coalesce(max(id), 0) FROM iot_datastreams) || '|' ||
       (SELECT coalesce(string_agg(concat_ws(',', id, kind, enabled, datastream_id, feature_class, property), ';'
                                   ORDER BY id), '') FROM iot_rules)
"""

_TARGETS = """
WITH d AS (
  SELECT d.id AS ds, p.key AS prop, t.feature_class AS cls
  FROM iot_datastreams d JOIN iot_properties p ON p.id = d.property_id JOIN iot_things t ON t.id = d.thing_id),
r AS (SELECT * FROM iot_rules WHERE enabled AND kind <> 'stale')
SELECT r.id AS rule_id, d.ds FROM r JOIN d ON r.datastream_id = d.ds
UNION ALL SELECT r.id, d.ds FROM r JOIN d ON r.property = d.prop
  WHERE r.datastream_id IS NULL AND r.feature_class IS NULL
UNION ALL SELECT r.id, d.ds FROM r JOIN d ON r.feature_class = d.cls
  WHERE r.datastream_id IS NULL AND r.property IS NULL
UNION ALL SELECT r.id, d.ds FROM r JOIN d ON r.feature_class = d.cls AND r.property = d.prop
  WHERE r.datastream_id IS NULL
"""

# s = 1 raise, 0 end, NULL hold. Thresholds need no window: only (rule, datastream) pairs with a
# raising row or an active alert ("hot") are kept for the state machine.
_SIGNALS = """
WITH span AS (SELECT datastream_id AS ds, lo, hi FROM _iot_agg),
hot AS (
  SELECT g.rule_id, g.ds FROM span JOIN _iot_targets g ON g.ds = span.ds JOIN iot_rules r ON r.id = g.rule_id
  WHERE (r.kind = 'above' AND span.hi > r.threshold) OR (r.kind = 'below' AND span.lo < r.threshold)
  UNION
  SELECT a.rule_id, a.datastream_id FROM iot_alerts a JOIN iot_rules r ON r.id = a.rule_id
  JOIN _iot_targets g ON g.rule_id = a.rule_id AND g.ds = a.datastream_id
  WHERE a.active AND r.kind IN ('above', 'below'))
SELECT h.rule_id, e.datastream_id AS ds, e.phenomenon_time AS t, e.result AS v, e.result AS metric,
  CAST(CASE WHEN r.kind = 'below'
       THEN CASE WHEN e.result < r.threshold THEN 1 WHEN e.result >= coalesce(r.clear, r.threshold) THEN 0 END
       ELSE CASE WHEN e.result > r.threshold THEN 1 WHEN e.result <= coalesce(r.clear, r.threshold) THEN 0 END
  END AS SMALLINT) AS s
FROM _iot_eval e JOIN hot h ON h.ds = e.datastream_id JOIN iot_rules r ON r.id = h.rule_id
"""

# rate rules: |change| per minute against the previous value (for the first row of the batch, the
# stored latest one), windowed per (rule, datastream)
_RATE_ROWS = """
  SELECT g.rule_id, e.datastream_id AS ds, e.phenomenon_time AS t, e.result AS v, false AS prev
  FROM _iot_eval e JOIN _iot_targets g ON g.ds = e.datastream_id JOIN iot_rules r ON r.id = g.rule_id
  WHERE r.kind = 'rate'"""
_RATE_PREVIOUS = """
  UNION ALL
  SELECT g.rule_id, l.datastream_id, l.phenomenon_time, l.result, true
  FROM iot_latest l JOIN _iot_targets g ON g.ds = l.datastream_id
  JOIN iot_rules r ON r.id = g.rule_id AND r.kind = 'rate'
  WHERE l.datastream_id IN (SELECT datastream_id FROM _iot_eval)"""
_RATES = """
INSERT INTO _iot_sig
WITH seen AS ({rows}),
m AS (
  SELECT seen.*, r.threshold, coalesce(r.clear, r.threshold) AS clear,
    abs(v - lag(v) OVER w) / nullif(epoch(t - lag(t) OVER w) / 60.0, 0) AS metric
  FROM seen JOIN iot_rules r ON r.id = seen.rule_id
  WINDOW w AS (PARTITION BY seen.rule_id, ds ORDER BY t))
SELECT rule_id, ds, t, v, metric,
  CAST(CASE WHEN metric IS NULL THEN NULL WHEN metric > threshold THEN 1 WHEN metric <= clear THEN 0 END
       AS SMALLINT)
FROM m WHERE NOT prev
"""

# state = the newest non-NULL signal so far (``n`` counts them, so each signal heads a group of the
# rows that hold it), or whether an alert was active before the batch
_TRANSITIONS = """
WITH init AS (
  SELECT DISTINCT a.rule_id, a.datastream_id AS ds FROM iot_alerts a
  JOIN _iot_targets g ON g.rule_id = a.rule_id AND g.ds = a.datastream_id WHERE a.active),
hot AS (SELECT DISTINCT rule_id, ds FROM _iot_sig WHERE s = 1 UNION SELECT rule_id, ds FROM init),
run AS (
  SELECT s.rule_id, s.ds, s.t, s.v, s.metric, s.s, CASE WHEN i.ds IS NULL THEN 0 ELSE 1 END AS s0,
    count(s.s) OVER (PARTITION BY s.rule_id, s.ds ORDER BY s.t ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS n
  FROM _iot_sig s JOIN hot h ON h.rule_id = s.rule_id AND h.ds = s.ds
  LEFT JOIN init i ON i.rule_id = s.rule_id AND i.ds = s.ds),
st AS (SELECT run.*, coalesce(max(s) OVER (PARTITION BY rule_id, ds, n), s0) AS state FROM run),
ch AS (SELECT st.*, coalesce(lag(state) OVER (PARTITION BY rule_id, ds ORDER BY t), s0) AS before FROM st)
SELECT rule_id, ds, t, v, metric, state = 1 AS opens,
  sum(CASE WHEN state = 1 THEN 1 ELSE 0 END) OVER (PARTITION BY rule_id, ds ORDER BY t
                                                    ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS seq
FROM ch WHERE state <> before
"""

# what each opening row needs for its alert; the message is written in Python (``_alert_message``)
_OPENING = """
SELECT o.rule_id, o.ds AS datastream_id, r.level, c.t IS NULL AS active, o.metric AS value,
  o.t AS opened_at, c.t AS cleared_at, r.kind, r.name AS rule, r.message AS template,
  coalesce(r.threshold, r.minutes) AS threshold, d.name, d.unit
FROM _iot_tr o JOIN iot_rules r ON r.id = o.rule_id JOIN iot_datastreams d ON d.id = o.ds
LEFT JOIN _iot_tr c ON c.rule_id = o.rule_id AND c.ds = o.ds AND NOT c.opens AND c.seq = o.seq
WHERE o.opens ORDER BY o.t, o.rule_id, o.ds
"""

_CLEAR_ACTIVE = f"""
UPDATE iot_alerts a SET active = false, cleared_at = c.t, state = 'closed', closed_at = c.t,
  closed_by = '{CLEARED_BY}'
FROM _iot_tr c WHERE a.active AND a.rule_id = c.rule_id AND a.datastream_id = c.ds AND NOT c.opens AND c.seq = 0
"""

_STALE_SEEN = """
SELECT a.id, min(e.phenomenon_time) AS t FROM iot_alerts a JOIN iot_rules r ON r.id = a.rule_id
JOIN _iot_eval e ON e.datastream_id = a.datastream_id WHERE a.active AND r.kind = 'stale' GROUP BY a.id
"""

_AGGREGATE = """
SELECT datastream_id, max(phenomenon_time) AS t, arg_max(result, phenomenon_time) AS v,
       min(result) AS lo, max(result) AS hi
FROM _iot_eval GROUP BY 1
"""

_DEFAULT_MESSAGES = {
    "above": "{name}: {value} {unit} above {threshold} {unit}",
    "below": "{name}: {value} {unit} below {threshold} {unit}",
    "rate": "{name}: changing {value} {unit}/min, limit {threshold}",
}


def evaluate_batch(city: City, batch: pa.Table) -> tuple[list[int], list[int]]:
    """Run the enabled rules over ``batch`` (new, in-order observations); returns the ids of the
    alerts opened and of the alerts whose condition cleared. One transaction (or the caller's)."""
    store = city.store
    if not batch.num_rows:
        return [], []
    with store.transaction(), store.temporary("_iot_eval", batch):
        prepare(store)
        return evaluate_prepared(store)


def prepare(store: Store) -> None:
    """Per-datastream newest value and range (``_iot_agg``) of the batch visible as ``_iot_eval``."""
    _temp_table(store, "_iot_agg", _AGGREGATE)


def evaluate_prepared(store: Store) -> tuple[list[int], list[int]]:
    """``evaluate_batch`` inside a transaction where ``_iot_eval`` is visible and ``prepare`` has run."""
    if not store.scalar("SELECT count(*) FROM iot_rules WHERE enabled"):
        return [], []
    store.lock("iot:alerts")
    cleared = _clear_stale(store)
    if not _targets(store):
        return [], cleared
    return run_state_machine(store, previous=True, cleared=cleared)


def run_state_machine(store: Store, *, previous: bool, cleared: list[int] | None = None) -> tuple[list[int], list[int]]:
    """Signals, transitions, cleared and opened alerts for ``_iot_eval`` and ``_iot_targets``.

    ``previous``: rate rules compare a batch's first row with the stored latest value (on ingest);
    a replay of the whole history (``cim.iot.backfill``) has no earlier value to compare with.
    """
    cleared = list(cleared or [])
    _temp_table(store, "_iot_sig", _SIGNALS)
    if store.scalar("SELECT count(*) FROM _iot_targets g JOIN iot_rules r ON r.id = g.rule_id WHERE r.kind = 'rate'"):
        store.execute(_RATES.format(rows=_RATE_ROWS + (_RATE_PREVIOUS if previous else "")))
    _temp_table(store, "_iot_tr", _TRANSITIONS)
    if not store.scalar("SELECT count(*) FROM _iot_tr"):
        return [], cleared
    cleared += [r[0] for r in store.rows(
        "SELECT a.id FROM iot_alerts a JOIN _iot_tr c ON a.rule_id = c.rule_id AND a.datastream_id = c.ds "
        "WHERE a.active AND NOT c.opens AND c.seq = 0 ORDER BY a.id")]
    store.execute(_CLEAR_ACTIVE)
    opening = store.arrow(_OPENING)
    opened = open_alerts(store, _alerts(opening))
    cleared += [i for i, active in zip(opened, opening["active"].to_pylist(), strict=True) if not active]
    return opened, cleared


def _temp_table(store: Store, name: str, select: str) -> None:
    """(Re)make the temporary table ``name`` from a query, in SQL every backend speaks."""
    store.execute(f"DROP TABLE IF EXISTS {name}")
    store.execute(f"CREATE TEMP TABLE {name} AS {select}")


def _alert_message(template: str | None, kind: str, *, name: str, unit: str, value: float | None,
                  threshold: float | None, rule: str) -> str:
    """An alert's text: the rule's ``message`` (or the default of its kind) with ``{name}``,
    ``{unit}``, ``{value}``, ``{threshold}`` and ``{rule}`` filled in, numbers to 4 significant digits."""
    text = template if template is not None else _DEFAULT_MESSAGES.get(kind, "{name}: no data for {threshold} min")
    for key, filling in (("{name}", name), ("{unit}", unit), ("{value}", _g4(value)),
                         ("{threshold}", _g4(threshold)), ("{rule}", rule)):
        text = text.replace(key, filling)
    return text


def _g4(value: float | None) -> str:
    return "-" if value is None else format(value, ".4g")


def _alerts(opening: pa.Table) -> pa.Table:
    """The opening rows as ``iot_alerts`` columns, each with its message."""
    rows = opening.select(["kind", "rule", "template", "threshold", "name", "unit", "value"]).to_pylist()
    messages = [_alert_message(r["template"], r["kind"], name=r["name"], unit=r["unit"], value=r["value"],
                              threshold=r["threshold"], rule=r["rule"]) for r in rows]
    table = opening.select(["rule_id", "datastream_id", "level", "active", "value", "opened_at", "cleared_at"])
    return table.append_column("message", pa.array(messages, pa.string()))


def _targets(store: Store) -> int:
    """How many (rule, datastream) pairs there are; rebuilds ``_iot_targets`` when out of date."""
    token = store.scalar(_TARGETS_TOKEN)
    store.execute("CREATE TEMP TABLE IF NOT EXISTS _iot_targets_token (token VARCHAR)")
    if store.scalar("SELECT token FROM _iot_targets_token") != token:
        _temp_table(store, "_iot_targets", _TARGETS)
        store.execute("DELETE FROM _iot_targets_token")
        store.execute("INSERT INTO _iot_targets_token VALUES (?)", [token])
    return int(store.scalar("SELECT count(*) FROM _iot_targets"))


def _clear_stale(store: Store) -> list[int]:
    """Data arrived for a datastream with an active stale alert: that alert's condition ended."""
    ids = [r[0] for r in store.rows(f"SELECT id FROM ({_STALE_SEEN}) AS seen ORDER BY id")]
    if ids:  # rare: only then the table the update joins is made (one query less per batch otherwise)
        _temp_table(store, "_iot_fresh", _STALE_SEEN)
        store.execute(
            "UPDATE iot_alerts a SET active = false, cleared_at = f.t, state = 'closed', closed_at = f.t, "
            "closed_by = 'system: data arrived' FROM _iot_fresh f WHERE a.id = f.id")
    return ids
