"""The city's record of what happened: city-wide settings, the history of ingests and edits, rejects.

Why here: these tables are part of the schema the model layer owns; ``City`` only hands its calls on.

Example:
    >>> record(city.store, "edit", layer="parcels", details={"ids": 3})   # doctest: +SKIP
"""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from cim.store.base import Store


def meta(store: Store, key: str) -> str | None:
    """A city-wide setting (crs, name, created_at, …)."""
    return store.scalar("SELECT value FROM cim_meta WHERE key = ?", [key])


def set_meta(store: Store, key: str, value: str) -> None:
    """Write a city-wide setting (inside the caller's transaction)."""
    store.execute("DELETE FROM cim_meta WHERE key = ?", [key])
    store.execute("INSERT INTO cim_meta VALUES (?, ?)", [key, value])


def record(store: Store, action: str, *, layer: str | None = None, version: int | None = None,
           details: dict[str, Any] | None = None, actor: str | None = None) -> None:
    """Append to the history (inside the caller's transaction)."""
    store.execute(
        "INSERT INTO history VALUES (?, ?, ?, ?, ?, ?)",
        [datetime.now(UTC), actor or current_actor(), action, layer, version,
         json.dumps(details or {}, ensure_ascii=False, default=str)],
    )


def history(store: Store, layer: str | None = None) -> pa.Table:
    """Every ingest and edit, newest first (who, when, what, counts)."""
    sql, params = "SELECT * FROM history", []
    if layer:
        sql += " WHERE layer = ?"
        params.append(layer)
    return store.arrow(sql + " ORDER BY at_time DESC", params)


def rejects(store: Store, layer: str, version: int) -> pa.Table:
    """Rows refused by one ingest of ``layer``, with their reasons."""
    return store.arrow("SELECT source, row_ref, reason FROM rejects WHERE layer = ? AND version = ?",
                       [layer, version])


def current_actor() -> str:
    """Who is acting: the operating-system user (``unknown`` in containers without a user database)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


__all__ = ["meta", "set_meta", "record", "history", "rejects", "current_actor"]
