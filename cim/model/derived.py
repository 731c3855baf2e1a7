"""Derived side tables kept in the city's own store: prepared vector-tile layers and rendered tiles.

Why: some reads need the model reshaped first — a layer reprojected to Web Mercator and ordered
for tile lookups, its tiles rendered once. That derived data lives beside the model, in the same
store (tables inside the DuckDB city file, or inside the PostGIS database of a ``postgresql://``
city), so every process serving the city shares it and nothing else needs a place on disk. It
is a cache of the model, never part of it:

* **Not a model change.** Derived writes go through ``Store.unwrapped`` (under the server's
  counting wrapper), so they never bump the model version, the catalogue or an ETag; each thread
  writes on its own DuckDB cursor or PostgreSQL connection, never queueing behind the model's
  writer or blocking the server's readers.
* **Always writable.** A city opened read-only (or not migrated yet) keeps its derived tables in
  an in-memory DuckDB database attached for the purpose; they go when the city closes.
* **Never copied.** ``cim copy`` and ``cim export`` skip it (``DERIVED_TABLES``, tables named
  ``derived_*``); it is rebuilt on demand.
* **Catalogued.** ``derived_tables`` (migration 0006) has one row per derived dataset: what it was
  made from (layer, version, view) and the tables it made; dropping the row drops them, and
  ``drop_superseded`` keeps only the newest superseded versions.

The SQL is the city's one dialect (the PostGIS store translates it); where the backends differ —
staging Arrow data, ordering and indexing rows for box lookups, keeping tiles — each has its
variant below.

Example:
    >>> derived = open_derived(city.store)                          # doctest: +SKIP
    >>> derived.entry("3f2a…") is None                               # doctest: +SKIP
    True
"""

from __future__ import annotations

import json
import re
from abc import abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from cim import migrations
from cim.store.base import SQLRunner
from cim.store.duckdb import ThreadCursors, connect, spatial_extension_path

if TYPE_CHECKING:
    import duckdb

    from cim.store.base import Store

#: the catalogue of derived datasets and the kept rendered tiles (migration 0006)
CATALOG = "derived_tables"
TILES = "derived_tiles"
DERIVED_TABLES = (CATALOG, TILES)
#: every derived table's name starts with this
PREFIX = "derived_"
#: kept-tile batches up to this many rows are inserted with bound parameters, larger ones as one
#: registered Arrow table: DuckDB runs ``executemany`` statement by statement (measured ~5 ms a
#: 15 KB tile row, 1.1 s for 200 — a background keeper took half a core under cold load), while
#: registering costs a few ms once (44 ms for the 200)
_BOUND_ROWS_MAX = 2
#: superseded versions of a (layer, view) whose tables are kept: a request that read the catalogue
#: just before a new version landed may still be reading them
KEEP_SUPERSEDED = 2
#: the in-memory database a read-only city's derived tables go to
MEMORY_DATABASE = "cim_derived"
_NAME = re.compile(r"^derived_[a-z0-9_]{1,60}$")
_INCOMING = "derived_incoming"


@dataclass(frozen=True)
class DerivedEntry:
    """One derived dataset: what it was made from and the tables it made."""

    key: str
    kind: str
    layer: str
    version: int
    view: str
    tables: tuple[str, ...]
    meta: dict[str, Any] = field(default_factory=dict, compare=False)


def table_name(kind: str, key: str) -> str:
    """The name of a derived table (``derived_<kind>_<key>``), checked to be a plain identifier."""
    name = f"{PREFIX}{kind}_{key}"
    if not _NAME.match(name):
        raise ValueError(f"not a derived table name: {name!r}")
    return name


def open_derived(store: Store) -> DerivedTables:
    """The derived tables of the city behind ``store`` (close them before the city).

    In the city's own store when it can be written and has the catalogue (migration 0006);
    otherwise in an in-memory DuckDB database attached for the purpose.
    """
    root = store.unwrapped
    writable = not root.read_only and root.has_table(CATALOG)
    if root.kind == "duckdb":
        return _DuckDBDerived(root.connection, attach=not writable)
    if writable:
        return _PostGISDerived(root)

    return _DuckDBDerived(connect(":memory:"), attach=True, owned=True)


class DerivedTables(SQLRunner):
    """Derived tables of one city: catalogue, building, box lookups, kept tiles.

    Safe to use from many threads at once; each thread reads and writes on its own connection.
    """

    #: where the tables are: "city" (the city's store) or "memory" (read-only city)
    where: str

    # -- the backend's own: execute / rows / arrow (SQLRunner) run on this thread's connection ---
    @abstractmethod
    @contextmanager
    def building(self, key: str) -> Iterator[None]:
        """One transaction that makes a derived dataset; builders of the same key queue (other
        processes too, on PostGIS)."""

    @abstractmethod
    def write_table(self, name: str, data: pa.Table, *, order_by: str, boxes: bool = False) -> None:
        """``data`` as derived table ``name``, rows in ``order_by`` order. ``boxes``: the rows have
        ``minx, miny, maxx, maxy`` and are looked up with ``overlapping``."""

    @abstractmethod
    def create_table_as(self, name: str, select: str, *, order_by: str, index: Sequence[str] = ()) -> None:
        """Derived table ``name`` from a SELECT over derived tables, rows in ``order_by`` order;
        ``index``: columns it is looked up by with equality and ranges."""

    @abstractmethod
    def overlapping(self, table: str, columns: str, bounds: Sequence[float], where: str = "",
                    params: Sequence[Any] = ()) -> pa.Table:
        """Rows of a ``boxes`` table whose box overlaps ``bounds`` (minx, miny, maxx, maxy, edges
        included), and ``where`` holds, in the order they were written; pruned by the row order
        (DuckDB zone maps) or a GiST index (PostGIS)."""

    @abstractmethod
    def keep_tiles(self, rows: pa.Table) -> int:
        """Keep rendered tiles (columns tile, key, z, x, y, gz); a tile kept already stays as it is."""

    @abstractmethod
    def size_bytes(self) -> int:
        """About how much storage the derived tables take."""

    @abstractmethod
    def close(self) -> None:
        """Release this object's connections (the city's store stays open)."""

    # -- the catalogue ---------------------------------------------------------------------------
    def entry(self, key: str) -> DerivedEntry | None:
        """The derived dataset ``key``, or None when it was never made (or was dropped)."""
        found = self.rows(f"SELECT key, kind, layer, version, view, tables, meta FROM {CATALOG} WHERE key = ?",
                          [key])
        return _entry(found[0]) if found else None

    def entries(self, *, layer: str | None = None, view: str | None = None) -> list[DerivedEntry]:
        """Derived datasets, oldest version first (of one layer and view when given)."""
        sql = f"SELECT key, kind, layer, version, view, tables, meta FROM {CATALOG}"
        return sorted((e for e in map(_entry, self.rows(sql))
                       if (layer is None or e.layer == layer) and (view is None or e.view == view)),
                      key=lambda e: (e.version, e.key))

    def record(self, entry: DerivedEntry) -> None:
        """Catalogue a dataset made inside ``building(entry.key)``."""
        for name in entry.tables:
            if not _NAME.match(name):
                raise ValueError(f"not a derived table name: {name!r}")
        self.execute(f"DELETE FROM {CATALOG} WHERE key = ?", [entry.key])
        self.execute(f"INSERT INTO {CATALOG} VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     [entry.key, entry.kind, entry.layer, entry.version, entry.view, ",".join(entry.tables),
                      json.dumps(entry.meta), datetime.now(UTC)])

    def drop(self, key: str) -> None:
        """Drop a dataset: its tables, its kept tiles and its catalogue row."""
        found = self.entry(key)
        for name in found.tables if found else ():
            self.execute(f'DROP TABLE IF EXISTS "{name}"')
        self.execute(f"DELETE FROM {TILES} WHERE key = ?", [key])
        self.execute(f"DELETE FROM {CATALOG} WHERE key = ?", [key])

    def drop_superseded(self, layer: str, view: str, version: int, *, keep: int = KEEP_SUPERSEDED) -> list[str]:
        """Drop the datasets of older versions of ``layer`` in ``view`` but the ``keep`` newest; their keys.
        Newer versions are never dropped (preparing a past version, ``datetime=``, keeps the current)."""
        older = [e for e in self.entries(layer=layer, view=view) if e.version < version]
        gone = [e.key for e in older[:max(len(older) - keep, 0)]]
        for key in gone:
            self.drop(key)
        return gone

    # -- kept tiles ------------------------------------------------------------------------------
    def tile(self, key: str, z: int, x: int, y: int) -> bytes | None:
        """The kept gzipped bytes of a tile of dataset ``key``, or None."""
        found = self.rows(f"SELECT gz FROM {TILES} WHERE tile = ?", [tile_id(key, z, x, y)])
        return bytes(found[0][0]) if found else None

    def kept(self, key: str, z: int) -> set[tuple[int, int]]:
        """(x, y) of the kept tiles of dataset ``key`` at zoom ``z``."""
        return {(int(x), int(y)) for x, y in self.rows(f"SELECT x, y FROM {TILES} WHERE key = ? AND z = ?", [key, z])}

    def count_tiles(self, key: str | None = None) -> int:
        """How many tiles are kept (of dataset ``key`` when given)."""
        if key is None:
            return int(self.rows(f"SELECT count(*) FROM {TILES}")[0][0])
        return int(self.rows(f"SELECT count(*) FROM {TILES} WHERE key = ?", [key])[0][0])


def tile_id(key: str, z: int, x: int, y: int) -> str:
    """The primary key of a kept tile (one indexed column, so a lookup is an index probe)."""
    return f"{key}/{z}/{x}/{y}"


def drop_all(store: Store) -> None:
    """Drop every derived table of a city (its catalogue included): before a city is replaced."""
    root = store.unwrapped
    if root.kind == "duckdb":
        names = root.rows("SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
                          "AND starts_with(table_name, ?)", [PREFIX])
    else:
        names = root.rows("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                          "AND starts_with(tablename, ?)", [PREFIX])
    for (name,) in names:
        root.execute(f'DROP TABLE IF EXISTS "{name}"')


def _entry(row: tuple) -> DerivedEntry:
    key, kind, layer, version, view, tables, meta = row
    return DerivedEntry(key, kind, layer, int(version), view, tuple(t for t in str(tables).split(",") if t),
                        json.loads(meta) if meta else {})


# -- DuckDB: the city file (or an attached in-memory database), a cursor per thread ------------------
class _DuckDBDerived(DerivedTables):
    def __init__(self, con: duckdb.DuckDBPyConnection, *, attach: bool, owned: bool = False) -> None:
        self._con = con
        self._owned = owned
        self._database = MEMORY_DATABASE if attach else None
        self.where = "memory" if attach else "city"
        self._cursors = ThreadCursors(self._new_cursor)
        if attach:
            cur = self._con.cursor()
            cur.execute(f"ATTACH IF NOT EXISTS ':memory:' AS {MEMORY_DATABASE} (READ_WRITE)")
            cur.execute(f"USE {MEMORY_DATABASE}")
            for statement in _migration_statements():
                cur.execute(statement)
            cur.close()

    def _new_cursor(self) -> duckdb.DuckDBPyConnection:
        cur = self._con.cursor()
        cur.execute(f"LOAD '{spatial_extension_path()}'")
        if self._database:
            cur.execute(f"USE {self._database}")
        return cur

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        return self._cursors.get()

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        self._cursor().execute(sql, params or [])

    def rows(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        return self._cursor().execute(sql, params or []).fetchall()

    def arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        return self._cursor().execute(sql, params or []).to_arrow_table()

    @contextmanager
    def building(self, key: str) -> Iterator[None]:
        cur = self._cursor()
        cur.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        cur.execute("COMMIT")

    def write_table(self, name: str, data: pa.Table, *, order_by: str, boxes: bool = False) -> None:
        cur = self._cursor()
        cur.register(_INCOMING, data)
        try:
            cur.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM {_INCOMING} ORDER BY {order_by}')
        finally:
            cur.unregister(_INCOMING)

    def create_table_as(self, name: str, select: str, *, order_by: str, index: Sequence[str] = ()) -> None:
        # zone maps over the ordered rows prune as well as an index would, without slowing the write
        self.execute(f'CREATE OR REPLACE TABLE "{name}" AS {select} ORDER BY {order_by}')

    def overlapping(self, table: str, columns: str, bounds: Sequence[float], where: str = "",
                    params: Sequence[Any] = ()) -> pa.Table:
        # plain ranges on the bbox columns: DuckDB prunes row groups by their min/max, and a scan
        # keeps the rows in their written order
        sql = (f'SELECT {columns} FROM "{table}" WHERE maxx >= ? AND minx <= ? AND maxy >= ? AND miny <= ?'
               + (f" AND ({where})" if where else ""))
        return self.arrow(sql, [bounds[0], bounds[2], bounds[1], bounds[3], *params])

    def keep_tiles(self, rows: pa.Table) -> int:
        import duckdb

        cur = self._cursor()
        cur.execute("BEGIN TRANSACTION")  # one commit for the batch
        try:
            if rows.num_rows <= _BOUND_ROWS_MAX:
                values = list(zip(*(rows.column(c).to_pylist() for c in rows.column_names), strict=True))
                cur.executemany(f"INSERT INTO {TILES} VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", values)
            else:
                cur.register(_INCOMING, rows)
                try:
                    cur.execute(f"INSERT INTO {TILES} SELECT * FROM {_INCOMING} ON CONFLICT DO NOTHING")
                finally:
                    cur.unregister(_INCOMING)
            cur.execute("COMMIT")
        except duckdb.Error:  # a concurrent writer of the same tiles won; the bytes are the same
            try:
                cur.execute("ROLLBACK")
            except duckdb.Error:  # the failed commit ended the transaction already
                pass
            return 0
        return rows.num_rows

    def size_bytes(self) -> int:
        """Blocks the derived tables occupy in the city file (0 in memory: nothing on disk)."""
        names = self.rows("SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
                          "AND starts_with(table_name, ?)", [PREFIX])
        block = int(self.rows("SELECT block_size FROM pragma_database_size() "
                              "WHERE database_name = current_database()")[0][0] or 0)
        blocks = sum(int(self.rows("SELECT count(DISTINCT block_id) FROM pragma_storage_info(?) WHERE persistent",
                                   [name])[0][0]) for (name,) in names)
        return blocks * block

    def close(self) -> None:
        self._cursors.close()
        if self._owned:
            self._con.close()


# -- PostGIS: the city's schema, the store's connection per thread ------------------------------------
class _PostGISDerived(DerivedTables):
    where = "city"

    def __init__(self, store: Store) -> None:
        self._store = store

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        self._store.execute(sql, params)

    def rows(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        return self._store.rows(sql, params)

    def arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        return self._store.arrow(sql, params)

    @contextmanager
    def building(self, key: str) -> Iterator[None]:
        with self._store.transaction():
            self._store.lock(f"derived:{key}")  # a second process building the same key waits, then finds it
            yield

    def write_table(self, name: str, data: pa.Table, *, order_by: str, boxes: bool = False) -> None:
        # staged through COPY; ``n`` keeps the written order (an index scan returns rows in its own),
        # ``box`` (GiST-indexed) prunes box lookups
        extra = (f", ST_MakeEnvelope(minx, miny, maxx, maxy) AS box, row_number() OVER (ORDER BY {order_by}) AS n"
                 if boxes else "")
        with self._store.temporary(_INCOMING, data):
            self.execute(f'DROP TABLE IF EXISTS "{name}"')
            self.execute(f'CREATE TABLE "{name}" AS SELECT *{extra} FROM {_INCOMING} ORDER BY {order_by}')
        if boxes:
            self.execute(f'CREATE INDEX "{name}_box" ON "{name}" USING GIST (box)')
        self.execute(f'ANALYZE "{name}"')

    def create_table_as(self, name: str, select: str, *, order_by: str, index: Sequence[str] = ()) -> None:
        self.execute(f'DROP TABLE IF EXISTS "{name}"')
        self.execute(f'CREATE TABLE "{name}" AS {select} ORDER BY {order_by}')
        if index:
            self.execute(f'CREATE INDEX "{name}_idx" ON "{name}" ({", ".join(index)})')
        self.execute(f'ANALYZE "{name}"')

    def overlapping(self, table: str, columns: str, bounds: Sequence[float], where: str = "",
                    params: Sequence[Any] = ()) -> pa.Table:
        # the GiST index finds the candidates (float4 boxes, rounded outwards); the ranges decide
        sql = (f'SELECT {columns} FROM "{table}" WHERE box && ST_MakeEnvelope(?, ?, ?, ?) '
               "AND maxx >= ? AND minx <= ? AND maxy >= ? AND miny <= ?"
               + (f" AND ({where})" if where else "") + " ORDER BY n")
        return self.arrow(sql, [*bounds, bounds[0], bounds[2], bounds[1], bounds[3], *params])

    def keep_tiles(self, rows: pa.Table) -> int:
        # one statement of one text whatever the batch (translated once), no staging table: one round trip
        self.execute(f"INSERT INTO {TILES} SELECT * FROM unnest(?::VARCHAR[], ?::VARCHAR[], ?::INTEGER[], "
                     "?::INTEGER[], ?::INTEGER[], ?::BLOB[]) ON CONFLICT DO NOTHING",
                     [rows.column(c).to_pylist() for c in ("tile", "key", "z", "x", "y", "gz")])
        return rows.num_rows

    def size_bytes(self) -> int:
        return int(self.rows("SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                             "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() "
                             "AND c.relkind = 'r' AND starts_with(c.relname, ?)", [PREFIX])[0][0])

    def close(self) -> None:
        """The connections are the store's."""


def _migration_statements() -> list[str]:
    """The catalogue's own migration (0006), for an in-memory database that has no schema."""

    sql = next(text for _, name, text in migrations.available("duckdb") if name == CATALOG)
    text = "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
    return [s.strip() for s in text.split(";") if s.strip()]


__all__ = ["CATALOG", "DERIVED_TABLES", "DerivedEntry", "DerivedTables", "KEEP_SUPERSEDED", "MEMORY_DATABASE",
           "PREFIX", "TILES", "drop_all", "open_derived", "table_name", "tile_id"]
