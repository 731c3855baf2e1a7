"""The alert lifecycle: list, acknowledge (who, when), close; and the stale-sensor sweep.

States: ``open`` → ``acknowledged`` → ``closed``. ``active`` says whether the condition still holds.
An alert closes by itself when its condition ends, at the observation time it ended
(``cleared_at`` = ``closed_at``, ``closed_by`` "system: …"); ``close_alert`` closes one by hand.

An alert is *current* at a time T when it was raised at or before T and had not ended by then
(ended = cleared, or closed by hand, whichever came first); without a time, current means not ended.
The operate screen, the KPIs and sensor statuses count current alerts, at the viewer's time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from cim.errors import QueryError, ValidationError
from cim.iot.errors import EntityNotFound
from cim.iot.visibility import apply_view, visible_predicate, xy_columns
from cim.model.reads import parse_time

if TYPE_CHECKING:
    from cim.city import City
    from cim.store.base import Store

STATES = ("open", "acknowledged", "closed")

ALERT_SELECT = """
SELECT a.id, r.name AS rule, a.level, a.state, a.active, a.datastream_id, t.feature_id, a.message,
  a.value, a.opened_at, a.cleared_at, a.acknowledged_at, a.acknowledged_by, a.closed_at, a.closed_by,
  l.lon, l.lat, d.name AS datastream, t.name AS thing, {xy}, t.classification
FROM iot_alerts a JOIN iot_rules r ON r.id = a.rule_id JOIN iot_datastreams d ON d.id = a.datastream_id
JOIN iot_things t ON t.id = d.thing_id LEFT JOIN iot_locations l ON l.thing_id = t.id
"""


def current_sql(at: datetime | None, alias: str = "a") -> tuple[str, list[Any]]:
    """SQL predicate (and params) keeping alerts current at ``at``: raised by then, not ended by then.
    Without ``at``: not ended (still holding, not closed by hand)."""
    ended = f"coalesce({alias}.cleared_at, {alias}.closed_at)"
    if at is None:
        return f"{ended} IS NULL", []
    return f"({alias}.opened_at <= ? AND ({ended} IS NULL OR {ended} > ?))", [at, at]


def list_alerts(city: City, *, state: str | None = None, level: str | None = None, active: bool | None = None,
                ids: list[int] | None = None, limit: int = 1000, role: str | None = None,
                at: Any = None, current: bool | None = None) -> list[dict[str, Any]]:
    """Alerts, newest first, filtered by state (``open`` = not closed yet), level, activity or ids;
    ``current=True`` keeps those current at ``at`` (default: now; giving ``at`` implies current).
    With a ``role``, only alerts of sensors that role may see (positions desensitised as needed).

    Example:
        >>> list_alerts(city, at="2017-02-14T12:00+08:00", level="alarm")  # doctest: +SKIP
    """

    visible, allowed = visible_predicate(role)
    where, params = [visible], list(allowed)
    at = parse_time(at) if at is not None else None
    if current or (current is None and at is not None):
        predicate, values = current_sql(at)
        where.append(predicate)
        params += values
    if state is not None:
        if state not in STATES:
            raise QueryError(f"unknown alert state {state!r}: use one of {', '.join(STATES)}")
        where.append("a.state = ?" if state != "open" else "a.state <> 'closed'")
        if state != "open":
            params.append(state)
    if level is not None:
        where.append("a.level = ?")
        params.append(level)
    if active is not None:
        where.append("a.active = ?")
        params.append(active)
    if ids is not None:
        if not ids:
            return []
        where.append(f"a.id IN ({', '.join('?' * len(ids))})")
        params += [int(i) for i in ids]
    sql = ALERT_SELECT.format(xy=xy_columns(role, "l.geom")) + " WHERE " + " AND ".join(where)
    sql += f" ORDER BY a.opened_at DESC, a.id DESC LIMIT {max(1, min(int(limit), 100_000))}"
    return apply_view(city.store.arrow(sql, params), role, city.crs).to_pylist()


def get_alert(city: City, alert_id: int, *, role: str | None = None) -> dict[str, Any]:
    """One alert; QueryError when there is none with that id (or the role may not see it)."""
    rows = list_alerts(city, ids=[alert_id], role=role)
    if not rows:
        raise EntityNotFound(f"no alert {alert_id}")
    return rows[0]


def acknowledge_alert(city: City, alert_id: int, *, by: str, note: str | None = None) -> dict[str, Any]:
    """An operator has seen the alert: record who and when. It stays acknowledged while its condition
    holds and closes by itself when it ends (an alert stored open after its condition ended, by an
    older version, is closed by the acknowledgement).

    Example:
        >>> acknowledge_alert(city, 12, by="operator:wang")  # doctest: +SKIP
    """
    if not by:
        raise ValidationError("say who acknowledges the alert (by=...)")
    now = datetime.now(UTC)
    with city.store.transaction():
        alert = get_alert(city, alert_id)
        if alert["state"] == "closed":
            raise ValidationError(f"alert {alert_id} is already closed (by {alert['closed_by']})")
        if alert["state"] == "acknowledged":
            return alert
        closes = not alert["active"]
        city.store.execute(
            "UPDATE iot_alerts SET state = ?, acknowledged_at = ?, acknowledged_by = ?, "
            "closed_at = CASE WHEN ? THEN ? ELSE closed_at END, closed_by = CASE WHEN ? THEN ? ELSE closed_by END "
            "WHERE id = ?", ["closed" if closes else "acknowledged", now, by, closes, now, closes, by, alert_id])
        city.record("alert-acknowledge", details={"alert": alert_id, "note": note}, actor=by)
    return get_alert(city, alert_id)


def close_alert(city: City, alert_id: int, *, by: str, note: str | None = None) -> dict[str, Any]:
    """Close an alert by hand (a false alarm, or dealt with); records who and when."""
    if not by:
        raise ValidationError("say who closes the alert (by=...)")
    now = datetime.now(UTC)
    with city.store.transaction():
        alert = get_alert(city, alert_id)
        if alert["state"] == "closed":
            return alert
        city.store.execute(
            "UPDATE iot_alerts SET state = 'closed', active = false, closed_at = ?, closed_by = ?, "
            "acknowledged_at = coalesce(acknowledged_at, ?), acknowledged_by = coalesce(acknowledged_by, ?) "
            "WHERE id = ?", [now, by, now, by, alert_id])
        city.record("alert-close", details={"alert": alert_id, "note": note}, actor=by)
    return get_alert(city, alert_id)


_STALE = """
WITH targets AS (
  SELECT r.id AS rule_id, d.id AS ds, r.minutes, r.level, d.created_at
  FROM iot_rules r, iot_datastreams d JOIN iot_properties p ON p.id = d.property_id
  JOIN iot_things t ON t.id = d.thing_id
  WHERE r.enabled AND r.kind = 'stale' AND (r.datastream_id = d.id OR (r.datastream_id IS NULL
    AND (r.property IS NULL OR r.property = p.key)
    AND (r.feature_class IS NULL OR r.feature_class = t.feature_class)))),
silent AS (
  SELECT g.rule_id, g.ds, g.level, coalesce(l.phenomenon_time, g.created_at) AS since, g.minutes
  FROM targets g LEFT JOIN iot_latest l ON l.datastream_id = g.ds)
SELECT s.rule_id, s.ds AS datastream_id, s.level, s.since, r.message AS template, d.name
FROM silent s JOIN iot_rules r ON r.id = s.rule_id JOIN iot_datastreams d ON d.id = s.ds
WHERE epoch_us(s.since) < ? - s.minutes * 60e6
  AND NOT EXISTS (SELECT 1 FROM iot_alerts a WHERE a.active AND a.rule_id = s.rule_id AND a.datastream_id = s.ds)
ORDER BY s.ds, s.rule_id
"""


def check_stale(city: City, *, now: datetime | None = None) -> list[int]:
    """Open a stale alert for each datastream silent longer than its stale rule allows; returns ids.

    Run it periodically (the MQTT listener and the server do, every 30 s; ``cim iot stale`` once).
    Data arriving later clears the alert on ingest.
    """
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise ValidationError("check_stale needs an aware time (with a zone)")
    store = city.store
    with store.transaction():
        if not store.scalar("SELECT count(*) FROM iot_rules WHERE enabled AND kind = 'stale'"):
            return []
        store.lock("iot:alerts")  # before looking for active alerts: a concurrent sweep waits, then sees ours
        silent = store.arrow(_STALE, [_epoch_us(now)])
        if not silent.num_rows:
            return []
        messages = [_stale_message(t, n, s) for t, n, s in zip(
            silent["template"].to_pylist(), silent["name"].to_pylist(), silent["since"].to_pylist(), strict=True)]
        n = silent.num_rows
        return open_alerts(store, pa.table({
            "rule_id": silent["rule_id"], "datastream_id": silent["datastream_id"], "level": silent["level"],
            "active": pa.array([True] * n), "value": pa.nulls(n, pa.float64()),
            "opened_at": pa.array([now] * n, pa.timestamp("us", tz="UTC")),
            "cleared_at": pa.nulls(n, pa.timestamp("us", tz="UTC")), "message": pa.array(messages, pa.string())}))


#: who closed an alert whose condition ended (``closed_by``)
CLEARED_BY = "system: condition cleared"


def open_alerts(store: Store, alerts: pa.Table) -> list[int]:
    """Add ``alerts`` (``iot_alerts`` columns but ``id``, ``state`` and the acknowledge/close ones),
    numbered in their order after the newest alert; returns their ids. An alert whose condition
    already ended (``active`` false) is added closed at its ``cleared_at``. Call inside the caller's
    transaction."""
    if not alerts.num_rows:
        return []
    store.lock("iot:alerts")  # numbers are max(id) + n: one writer at a time hands them out
    first = int(store.scalar("SELECT coalesce(max(id), 0) FROM iot_alerts")) + 1
    n = alerts.num_rows
    ids = list(range(first, first + n))
    ended = [not a for a in alerts.column("active").to_pylist()]
    stamp = pa.timestamp("us", tz="UTC")
    table = alerts.add_column(0, "id", pa.array(ids, pa.int64())).append_column(
        "state", pa.array(["closed" if e else "open" for e in ended], pa.string()))
    table = table.append_column("acknowledged_at", pa.nulls(n, stamp)).append_column(
        "acknowledged_by", pa.nulls(n, pa.string()))
    table = table.append_column("closed_at", alerts.column("cleared_at").cast(stamp)).append_column(
        "closed_by", pa.array([CLEARED_BY if e else None for e in ended], pa.string()))
    store.insert_arrow("iot_alerts", table)
    return ids


def _stale_message(template: str | None, name: str, since: datetime) -> str:
    text = template if template is not None else "{name}: no data since {since}"
    return text.replace("{name}", name).replace("{since}", since.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"))


def _epoch_us(when: datetime) -> int:
    return (when - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
