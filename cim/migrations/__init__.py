"""Numbered schema migrations: ``NNNN_name.sql`` files applied in order, once each.

A migration is written once for both backends. Where they must differ (PostgreSQL needs B-tree
indexes that DuckDB's zone maps make unnecessary and that would slow its bulk ingest),
``NNNN_name.<kind>.sql`` (``postgis`` or ``duckdb``) replaces ``NNNN_name.sql`` for that backend;
the version numbers stay the same on both, so a city keeps its schema version when it moves.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from importlib import resources

from cim.errors import SchemaTooNew
from cim.store.base import Store

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)(?:\.(duckdb|postgis))?\.sql$")


def available(kind: str = "duckdb") -> list[tuple[int, str, str]]:
    """(version, name, sql) of every migration shipped with this version of cim for a backend, in order."""
    found: dict[int, tuple[str, str, bool]] = {}
    for entry in resources.files(__package__).iterdir():
        match = _NAME.match(entry.name)
        if not match or match.group(3) not in (None, kind):
            continue
        version, specific = int(match.group(1)), match.group(3) is not None
        if version in found and found[version][2] and not specific:
            continue
        found[version] = (match.group(2), entry.read_text(encoding="utf-8"), specific)
    return [(v, name, sql) for v, (name, sql, _) in sorted(found.items())]


def latest_version() -> int:
    """The schema version this cim writes."""
    return available()[-1][0]


def current_version(store: Store) -> int:
    """The schema version of a city (0 for an empty database)."""
    if not store.has_table("schema_migrations"):
        return 0
    return int(store.scalar("SELECT coalesce(max(version), 0) FROM schema_migrations"))


def migrate(store: Store) -> list[int]:
    """Apply pending migrations in one transaction each; returns the versions applied.

    A city written by a newer cim is refused rather than half-understood.
    """
    current = current_version(store)
    newest = latest_version()
    if current > newest:
        raise SchemaTooNew(
            f"{store.location} has schema version {current}, this cim understands up to {newest}: "
            "upgrade cim (pip install -U cim)"
        )
    applied = []
    for version, name, sql in available(getattr(store, "kind", "duckdb")):
        if version <= current:
            continue
        with store.transaction():
            store.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
            )
            for statement in _statements(sql):
                store.execute(statement)
            store.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, ?)", [version, name, datetime.now(UTC)]
            )
        applied.append(version)
    return applied


def _statements(sql: str) -> list[str]:
    # migration files hold no string literals with "--", so comments can be cut at the marker
    text = "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
    return [s.strip() for s in text.split(";") if s.strip()]
