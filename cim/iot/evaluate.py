"""Evaluate alert rules on a batch of new observations, set-wise in SQL (no Python per row).

Thresholds (``above``/``below``) and rates of change (``rate``: |Δvalue| per minute) run a
two-level state machine with hysteresis: a rule raises when the value passes ``threshold`` and
ends only when it returns past ``clear``; in between the state holds. ``last_value(... IGNORE
NULLS)`` over each (rule, datastream) carries the state through the batch, starting from whether
an alert is active. Only pairs with a raising row or an active alert are windowed, so a normal
batch costs one scan and one join.

Lifecycle: a raised alert is ``open`` and ``active``; when the condition ends it becomes inactive
(``cleared_at``) and, if an operator had acknowledged it, ``closed``. An alert that cleared before
anyone acknowledged it stays open so it is seen; acknowledging it then closes it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

if TYPE_CHECKING:
    from cim.city import City

# which enabled rule watches which datastream; kept as a temporary table while the datastreams and
# the rules' scopes stay the same (the token says when they change)
_TARGETS_TOKEN = """
SELECT (SELECT count(*) || ':' || coalesce(max(id), 0) FROM iot_datastreams) || '|' ||
       (SELECT coalesce(string_agg(concat_ws(',', id, kind, enabled, datastream_id, feature_class, property), ';'
                                   ORDER BY id), '') FROM iot_rules)
"""

_TARGETS = """
CREATE OR REPLACE TEMP TABLE _iot_targets AS
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
CREATE OR REPLACE TEMP TABLE _iot_sig AS
WITH span AS (SELECT datastream_id AS ds, lo, hi FROM _iot_agg),
hot AS (
  SELECT g.rule_id, g.ds FROM span JOIN _iot_targets g ON g.ds = span.ds JOIN iot_rules r ON r.id = g.rule_id
  WHERE (r.kind = 'above' AND span.hi > r.threshold) OR (r.kind = 'below' AND span.lo < r.threshold)
  UNION
  SELECT a.rule_id, a.datastream_id FROM iot_alerts a JOIN iot_rules r ON r.id = a.rule_id
  JOIN _iot_targets g ON g.rule_id = a.rule_id AND g.ds = a.datastream_id
  WHERE a.active AND r.kind IN ('above', 'below'))
SELECT h.rule_id, e.datastream_id AS ds, e.phenomenon_time AS t, e.result AS v, e.result AS metric,
  CASE WHEN r.kind = 'below'
       THEN CASE WHEN e.result < r.threshold THEN 1 WHEN e.result >= coalesce(r.clear, r.threshold) THEN 0 END
       ELSE CASE WHEN e.result > r.threshold THEN 1 WHEN e.result <= coalesce(r.clear, r.threshold) THEN 0 END
  END::TINYINT AS s
FROM _iot_eval e JOIN hot h ON h.ds = e.datastream_id JOIN iot_rules r ON r.id = h.rule_id
"""

# rate rules: |change| per minute against the previous value (for the first row of the batch, the
# stored latest one), windowed per (rule, datastream)
_RATES = """
INSERT INTO _iot_sig
WITH rows AS (
  SELECT g.rule_id, e.datastream_id AS ds, e.phenomenon_time AS t, e.result AS v, false AS prev
  FROM _iot_eval e JOIN _iot_targets g ON g.ds = e.datastream_id JOIN iot_rules r ON r.id = g.rule_id
  WHERE r.kind = 'rate'
  UNION ALL
  SELECT g.rule_id, l.datastream_id, l.phenomenon_time, l.result, true
  FROM iot_latest l JOIN _iot_targets g ON g.ds = l.datastream_id
  JOIN iot_rules r ON r.id = g.rule_id AND r.kind = 'rate'
  WHERE l.datastream_id IN (SELECT datastream_id FROM _iot_eval)),
m AS (
  SELECT rows.*, r.threshold, coalesce(r.clear, r.threshold) AS clear,
    abs(v - lag(v) OVER w) / nullif(epoch(t - lag(t) OVER w) / 60.0, 0) AS metric
  FROM rows JOIN iot_rules r ON r.id = rows.rule_id
  WINDOW w AS (PARTITION BY rows.rule_id, ds ORDER BY t))
SELECT rule_id, ds, t, v, metric,
  CASE WHEN metric IS NULL THEN NULL WHEN metric > threshold THEN 1 WHEN metric <= clear THEN 0 END::TINYINT
FROM m WHERE NOT prev
"""

_TRANSITIONS = """
CREATE OR REPLACE TEMP TABLE _iot_tr AS
WITH init AS (
  SELECT DISTINCT a.rule_id, a.datastream_id AS ds FROM iot_alerts a
  JOIN _iot_targets g ON g.rule_id = a.rule_id AND g.ds = a.datastream_id WHERE a.active),
hot AS (SELECT DISTINCT rule_id, ds FROM _iot_sig WHERE s = 1 UNION SELECT rule_id, ds FROM init),
st AS (
  SELECT s.*, (i.ds IS NOT NULL)::TINYINT AS s0,
    coalesce(last_value(s.s IGNORE NULLS) OVER w, (i.ds IS NOT NULL)::TINYINT) AS state
  FROM _iot_sig s SEMI JOIN hot h ON h.rule_id = s.rule_id AND h.ds = s.ds
  LEFT JOIN init i ON i.rule_id = s.rule_id AND i.ds = s.ds
  WINDOW w AS (PARTITION BY s.rule_id, s.ds ORDER BY s.t ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)),
ch AS (
  SELECT *, coalesce(lag(state) OVER (PARTITION BY rule_id, ds ORDER BY t), s0) AS before FROM st)
SELECT rule_id, ds, t, v, metric, state = 1 AS opens,
  sum((state = 1)::INTEGER) OVER (PARTITION BY rule_id, ds ORDER BY t
                                  ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS seq
FROM ch WHERE state <> before
"""

_MESSAGE = """
replace(replace(replace(replace(replace(coalesce(r.message, CASE r.kind
    WHEN 'above' THEN '{name}: {value} {unit} above {threshold} {unit}'
    WHEN 'below' THEN '{name}: {value} {unit} below {threshold} {unit}'
    WHEN 'rate' THEN '{name}: changing {value} {unit}/min, limit {threshold}'
    ELSE '{name}: no data for {threshold} min' END),
  '{name}', d.name), '{unit}', d.unit), '{value}', coalesce(format('{:.4g}', VALUE), '-')),
  '{threshold}', format('{:.4g}', coalesce(r.threshold, r.minutes))), '{rule}', r.name)
"""

_OPEN = f"""
INSERT INTO iot_alerts
SELECT (SELECT coalesce(max(id), 0) FROM iot_alerts) + row_number() OVER (ORDER BY o.t, o.rule_id, o.ds),
  o.rule_id, o.ds, r.level, 'open', c.t IS NULL, o.metric,
  {_MESSAGE.replace('VALUE', 'o.metric')}, o.t, c.t, NULL, NULL, NULL, NULL
FROM _iot_tr o JOIN iot_rules r ON r.id = o.rule_id JOIN iot_datastreams d ON d.id = o.ds
LEFT JOIN _iot_tr c ON c.rule_id = o.rule_id AND c.ds = o.ds AND NOT c.opens AND c.seq = o.seq
WHERE o.opens
"""

_CLEAR_ACTIVE = """
UPDATE iot_alerts a SET active = false, cleared_at = c.t,
  state = CASE WHEN a.state = 'acknowledged' THEN 'closed' ELSE a.state END,
  closed_at = CASE WHEN a.state = 'acknowledged' THEN c.t ELSE a.closed_at END,
  closed_by = CASE WHEN a.state = 'acknowledged' THEN 'system: condition cleared' ELSE a.closed_by END
FROM _iot_tr c WHERE a.active AND a.rule_id = c.rule_id AND a.datastream_id = c.ds AND NOT c.opens AND c.seq = 0
"""

_STALE_SEEN = """
CREATE OR REPLACE TEMP TABLE _iot_fresh AS
SELECT a.id, min(e.phenomenon_time) AS t FROM iot_alerts a JOIN iot_rules r ON r.id = a.rule_id
JOIN _iot_eval e ON e.datastream_id = a.datastream_id WHERE a.active AND r.kind = 'stale' GROUP BY a.id
"""


_AGGREGATE = """
CREATE OR REPLACE TEMP TABLE _iot_agg AS
SELECT datastream_id, max(phenomenon_time) AS t, arg_max(result, phenomenon_time) AS v,
       min(result) AS lo, max(result) AS hi
FROM _iot_eval GROUP BY 1
"""


def evaluate_batch(city: City, batch: pa.Table) -> tuple[list[int], list[int]]:
    """Run the enabled rules over ``batch`` (new, in-order observations); returns the ids of the
    alerts opened and of the alerts whose condition cleared. One transaction (or the caller's)."""
    store = city.store
    if not batch.num_rows:
        return [], []
    with store.transaction():
        con = store.connection
        con.register("_iot_eval", batch)
        try:
            con.execute(_AGGREGATE)
            return evaluate_prepared(con)
        finally:
            con.unregister("_iot_eval")


def prepare(con: object) -> None:
    """Per-datastream newest value and range of the batch registered as ``_iot_eval`` (``_iot_agg``)."""
    con.execute(_AGGREGATE)


def evaluate_prepared(con: object) -> tuple[list[int], list[int]]:
    """``evaluate_batch`` on a connection where ``_iot_eval`` is registered and ``prepare`` has run."""
    if not con.execute("SELECT count(*) FROM iot_rules WHERE enabled").fetchone()[0]:
        return [], []
    cleared = _clear_stale(con)
    if not _targets(con):
        return [], cleared
    con.execute(_SIGNALS)
    if con.execute("SELECT count(*) FROM iot_rules WHERE enabled AND kind = 'rate'").fetchone()[0]:
        con.execute(_RATES)
    con.execute(_TRANSITIONS)
    if not con.execute("SELECT count(*) FROM _iot_tr").fetchone()[0]:
        return [], cleared
    cleared += [r[0] for r in con.execute(
        "SELECT a.id FROM iot_alerts a JOIN _iot_tr c ON a.rule_id = c.rule_id AND a.datastream_id = c.ds "
        "WHERE a.active AND NOT c.opens AND c.seq = 0").fetchall()]
    con.execute(_CLEAR_ACTIVE)
    first = con.execute("SELECT coalesce(max(id), 0) FROM iot_alerts").fetchone()[0]
    con.execute(_OPEN)
    opened = [r[0] for r in con.execute("SELECT id FROM iot_alerts WHERE id > ? ORDER BY id", [first]).fetchall()]
    cleared += [r[0] for r in con.execute(
        "SELECT id FROM iot_alerts WHERE id > ? AND NOT active ORDER BY id", [first]).fetchall()]
    return opened, cleared


def _targets(con: object) -> int:
    """How many (rule, datastream) pairs there are; rebuilds ``_iot_targets`` when out of date."""
    token = con.execute(_TARGETS_TOKEN).fetchone()[0]
    have = con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = '_iot_targets_token'"
                       ).fetchone()[0]
    if not have or con.execute("SELECT token FROM _iot_targets_token").fetchone()[0] != token:
        con.execute(_TARGETS)
        con.execute("CREATE OR REPLACE TEMP TABLE _iot_targets_token AS SELECT ?::VARCHAR AS token", [token])
    return con.execute("SELECT count(*) FROM _iot_targets").fetchone()[0]


def _clear_stale(con: object) -> list[int]:
    """Data arrived for a datastream with an active stale alert: that alert's condition ended."""
    con.execute(_STALE_SEEN)
    ids = [r[0] for r in con.execute("SELECT id FROM _iot_fresh").fetchall()]
    if ids:
        con.execute(
            "UPDATE iot_alerts a SET active = false, cleared_at = f.t, "
            "state = CASE WHEN a.state = 'acknowledged' THEN 'closed' ELSE a.state END, "
            "closed_at = CASE WHEN a.state = 'acknowledged' THEN f.t ELSE a.closed_at END, "
            "closed_by = CASE WHEN a.state = 'acknowledged' THEN 'system: data arrived' ELSE a.closed_by END "
            "FROM _iot_fresh f WHERE a.id = f.id")
    return ids
