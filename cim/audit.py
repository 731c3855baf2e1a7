"""The audit trail: who read person-level fields, who wrote, and who was refused — append-only, in the store.

Every read of rows about people (``cim.people``), every write of a people table and every change
of a named user is one entry: when, who (user id and role), what (the path it came through, the
layer, the filter asked, the person-level fields returned, the row count). A read that was refused
is recorded too. Nothing in cim updates or deletes an entry; on PostGIS the database itself
ignores updates and deletes of the table.

Example:
    >>> record_audit(city, role="operator", actor="wang.li", action="read", path="python",
    ...              layer="residents", filter={"building": "buildings.7"}, rows=12)  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from cim.access import check_role
from cim.errors import ValidationError

if TYPE_CHECKING:
    from cim.city import City

ACTIONS = ("read", "write", "refused")
COLUMNS = ("at_time", "actor", "role", "action", "path", "layer", "filter", "fields", "row_count")


def record_audit(city: City, *, role: str, action: str, path: str, actor: str | None = None,
                 layer: str | None = None, filter: dict[str, Any] | None = None,  # noqa: A002 - what was asked
                 fields: Iterable[str] = (), rows: int = 0) -> None:
    """Append one entry (in its own transaction, or the caller's)."""
    if action not in ACTIONS:
        raise ValidationError(f"unknown audit action {action!r}: use one of {', '.join(ACTIONS)}")
    check_role(role)
    with city.store.transaction():
        city.store.execute(
            "INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [datetime.now(UTC), actor, role, action, path, layer,
             json.dumps(filter or {}, ensure_ascii=False, sort_keys=True, default=str),
             ",".join(sorted(set(fields))), int(rows)])


def audit_entries(city: City, *, user: str | None = None, since: datetime | None = None,
                  action: str | None = None, layer: str | None = None, limit: int | None = None) -> pa.Table:
    """Entries, oldest first, narrowed by user (actor), time, action and layer."""
    where, params = [], []
    for column, value in (("actor", user), ("action", action), ("layer", layer)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if since is not None:
        if since.tzinfo is None:
            raise ValidationError(f"--since {since.isoformat()} has no time zone: add one, e.g. +08:00 or Z")
        where.append("at_time >= ?")
        params.append(since)
    sql = f"SELECT {', '.join(COLUMNS)} FROM audit"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY at_time"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return city.store.arrow(sql, params)


def export_audit(entries: pa.Table, fmt: str = "csv") -> str:
    """Entries as CSV (header row) or JSON (a list of objects), times in ISO 8601 UTC."""
    rows = [{k: (v.astimezone(UTC).isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}
            for row in entries.to_pylist()]
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False, indent=1)
    if fmt != "csv":
        raise ValidationError(f"unknown export format {fmt!r}: use csv or json")
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


__all__ = ["ACTIONS", "record_audit", "audit_entries", "export_audit"]
